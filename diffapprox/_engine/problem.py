"""The streaming PCA problem of the paper (eq. 1.4) and its derived constants."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._core.errors import DiffapproxError
from .laws import DataLaw, data_law

__all__ = ["StreamingPCA"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamingPCA:
    """Streaming PCA, ``max_v v^T Sigma v`` on the unit sphere (paper eq. 1.4).

    Give either ``spectrum`` (the eigenvalues; Sigma = diag(spectrum) up to a
    rotation) or ``sigma`` (a full symmetric positive definite matrix, which is
    eigendecomposed once).  Simulation happens in the eigenbasis:
    ``h = Q^T v`` and ``Y = Q^T X`` are simulated directly.

    Parameters
    ----------
    spectrum : sequence of float, optional
        Eigenvalues; sorted decreasingly.  Must satisfy Assumption 1:
        ``lambda_1 > lambda_2 >= ... >= lambda_d > 0``.
    sigma : array_like, shape (d, d), optional
        Full covariance matrix (symmetric positive definite).
    data : str or DataLaw
        Law of Y: ``gaussian`` (default), ``rademacher``, ``sphere``, ``cube``.

    Attributes
    ----------
    eigenvalues : ndarray, shape (d,)
        ``lambda_1 > lambda_2 >= ... >= lambda_d``.
    Q : ndarray, shape (d, d)
        Orthogonal; column i is the eigenvector v^i.  Identity for ``spectrum``.
    alpha : ndarray, shape (d, d)
        ``alpha[i, j] = sqrt(E[Y_i^2 Y_j^2])`` (Theorem 3.5, eq. 3.3).
    phi : float
        ``sum_j alpha[0, j]^2`` (text after Theorem 3.5).
    C_d : float or None
        ``sup ||X||`` (Assumption 2); ``None`` when the law is unbounded.
    """

    spectrum: tuple[float, ...] | None = None
    sigma: np.ndarray | None = field(default=None, repr=False)
    data: str | DataLaw = "gaussian"
    eigenvalues: np.ndarray = field(init=False, repr=False)
    Q: np.ndarray = field(init=False, repr=False)
    law: DataLaw = field(init=False, repr=False)

    def __post_init__(self) -> None:
        law = data_law(self.data)
        object.__setattr__(self, "law", law)
        object.__setattr__(self, "data", law.name)
        if (self.spectrum is None) == (self.sigma is None):
            raise DiffapproxError(
                "spectrum", "exactly one of spectrum or sigma", "both" if self.spectrum is not None else "neither"
            )
        if self.sigma is not None:
            s = np.asarray(self.sigma, dtype=float)
            if s.ndim != 2 or s.shape[0] != s.shape[1] or s.shape[0] < 2:
                raise DiffapproxError("sigma", "a square matrix of size >= 2", f"shape {s.shape}")
            if not np.all(np.isfinite(s)):
                raise DiffapproxError("sigma", "finite entries", "NaN or inf")
            if not np.allclose(s, s.T, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(s).max())):
                raise DiffapproxError("sigma", "a symmetric matrix", "an asymmetric one")
            w, v = np.linalg.eigh(0.5 * (s + s.T))
            order = np.argsort(w)[::-1]
            lam, q = w[order], v[:, order]
            if lam[-1] <= 0:
                raise DiffapproxError("sigma", "a positive definite matrix", f"smallest eigenvalue {lam[-1]:.3g}")
            object.__setattr__(self, "sigma", s)
        else:
            try:
                lam = np.asarray([float(x) for x in np.ravel(self.spectrum)], dtype=float)
            except (TypeError, ValueError):
                raise DiffapproxError("spectrum", "a list of numbers", self.spectrum) from None
            if lam.size < 2:
                raise DiffapproxError("spectrum", "at least 2 eigenvalues", lam.tolist())
            if not np.all(np.isfinite(lam)):
                raise DiffapproxError("spectrum", "finite eigenvalues", lam.tolist())
            if np.any(lam <= 0):
                raise DiffapproxError("spectrum", "positive eigenvalues (Sigma positive definite)", lam.tolist())
            order = np.argsort(lam, kind="stable")[::-1]
            lam = lam[order]
            q = np.eye(lam.size)[:, order] if np.any(order != np.arange(lam.size)) else np.eye(lam.size)
            object.__setattr__(self, "spectrum", tuple(float(x) for x in lam))
        if not lam[0] > lam[1] * (1 + 1e-12):
            raise DiffapproxError(
                "spectrum", "an eigen-gap lambda1 > lambda2 (Assumption 1)", f"lambda1={lam[0]:g}, lambda2={lam[1]:g}"
            )
        lam.setflags(write=False)
        q.setflags(write=False)
        object.__setattr__(self, "eigenvalues", lam)
        object.__setattr__(self, "Q", q)

    # ------------------------------------------------------------------ derived constants
    @property
    def d(self) -> int:
        """Dimension."""
        return int(self.eigenvalues.size)

    @property
    def lambda1(self) -> float:
        return float(self.eigenvalues[0])

    @property
    def gap(self) -> float:
        """``lambda_1 - lambda_2``."""
        return float(self.eigenvalues[0] - self.eigenvalues[1])

    @property
    def alpha(self) -> np.ndarray:
        """``alpha[i, j] = sqrt(E[Y_i^2 Y_j^2])`` (Theorem 3.5), shape (d, d)."""
        return self.law.alpha(self.eigenvalues)

    @property
    def phi(self) -> float:
        """``phi = sum_j alpha_{1j}^2`` (after Theorem 3.5)."""
        return float(np.sum(self.alpha[0] ** 2))

    @property
    def C_d(self) -> float | None:
        """``C_d = sup ||X||`` (Assumption 2); ``None`` when unbounded (Gaussian)."""
        return self.law.bound(self.eigenvalues)

    @property
    def sigma_matrix(self) -> np.ndarray:
        """Sigma in the original coordinates, ``Q Lambda Q^T``."""
        return (self.Q * self.eigenvalues) @ self.Q.T

    def describe(self) -> dict:
        """JSON-ready summary."""
        return {
            "d": self.d,
            "eigenvalues": [float(x) for x in self.eigenvalues],
            "data": self.law.name,
            "data_law": self.law.description,
            "alpha": self.alpha.tolist(),
            "phi": self.phi,
            "C_d": self.C_d,
        }
