"""Exact laws of the algorithms on a linear gradient ``g(x, xi) = H (x - c) + S xi``.

With ``y = x - c`` every algorithm of the registry with a constant delay tau is a linear recursion
(see :mod:`diffapprox._engine.protocol`)::

    y_{k+1} = (1 + mu) y_k - mu y_{k-1} - s H y_{k-tau} - s S zeta_k,    s = eta / l,

``zeta_k = xi_k`` (plain) or ``c1 xi_k + c2 xi'_k`` (SVAG(l), ``Cov zeta = l I``).  In companion form
``Z_{k+1} = A Z_k + B zeta_k``, ``Z_k = (y_k, y_{k-1}, ..., y_{k-q})``, ``q = max(1, tau)``, so:

* mean ``E Z_k = A^k Z_0`` and covariance ``P_{k+1} = A P_k A^T + l B B^T`` (exact, any noise law);
* the stationary covariance solves the discrete Lyapunov equation ``P = A P A^T + l B B^T``
  (``scipy.linalg.solve_discrete_lyapunov``), when the spectral radius of A is below 1;
* ``E cos(u.x_k) = cos(u.m_k) prod_{j<k} prod_i phi(c1 a_ji) phi(c2 a_ji)``,
  ``a_j = B^T (A^T)^(k-1-j) E u``, with ``phi`` the characteristic function of one noise
  coordinate (exact for iid coordinates: Gaussian ``exp(-s^2/2)``, Rademacher ``cos s``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg

from .._core.errors import DiffapproxError
from .._engine.laws import DELAY_CONST
from .._engine.protocol import Algorithm, LinearModel, Problem, TestFunction

__all__ = ["LinearRecursion", "linear_recursion", "discrete_lyapunov"]


def discrete_lyapunov(A, Q) -> np.ndarray:
    """``P`` with ``P = A P A^T + Q`` (the stationary covariance of ``Z_{k+1} = A Z_k + noise of Cov Q``).

    Raises
    ------
    DiffapproxError
        When the spectral radius of ``A`` is not below 1 (no stationary law).
    """
    A = np.asarray(A, dtype=float)
    rho = float(np.max(np.abs(np.linalg.eigvals(A))))
    if not rho < 1.0:
        raise DiffapproxError("algorithm", "a stable recursion (spectral radius < 1)", f"spectral radius {rho:.6g}")
    P = scipy.linalg.solve_discrete_lyapunov(A, np.asarray(Q, dtype=float))
    return 0.5 * (P + P.T)


@dataclass(frozen=True, slots=True, kw_only=True)
class LinearRecursion:
    """``Z_{k+1} = A Z_k + B zeta_k`` with ``x_k = c + Z_k[:d]`` and ``Cov zeta_k = l I`` (see the module docstring).

    Attributes
    ----------
    A : ndarray, shape (n, n)
    B : ndarray, shape (n, m)
    model : LinearModel
    algorithm : Algorithm
    x0 : ndarray, shape (d,)
    """

    A: np.ndarray
    B: np.ndarray
    model: LinearModel
    algorithm: Algorithm
    x0: np.ndarray
    spectral_radius: float = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "spectral_radius", float(np.max(np.abs(np.linalg.eigvals(self.A)))))

    @property
    def d(self) -> int:
        return self.model.d

    def _z0(self) -> np.ndarray:
        q = self.A.shape[0] // self.d
        return np.tile(self.x0 - self.model.center, q)

    def moments(self, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact mean (steps+1, d) and covariance (steps+1, d, d) of ``x_0 .. x_steps``."""
        d = self.d
        z = self._z0()
        P = np.zeros_like(self.A)
        Q = self.algorithm.ell * self.B @ self.B.T
        mean = np.empty((steps + 1, d))
        cov = np.empty((steps + 1, d, d))
        for k in range(steps + 1):
            mean[k] = self.model.center + z[:d]
            cov[k] = P[:d, :d]
            z = self.A @ z
            P = self.A @ P @ self.A.T + Q
        return mean, cov

    def stationary_cov(self) -> np.ndarray:
        """The stationary covariance of x (d, d), from the discrete Lyapunov equation."""
        return discrete_lyapunov(self.A, self.algorithm.ell * self.B @ self.B.T)[: self.d, : self.d]

    def _cos_factors(self, u: np.ndarray, steps: int) -> np.ndarray:
        """``prod_{j<k} prod_i phi(c1 a_ji) phi(c2 a_ji)`` for k = 0..steps (the noise's share of E e^{i u.x_k})."""
        c1, c2 = self.algorithm.coefficients
        v = np.zeros(self.A.shape[0])
        v[: self.d] = u
        out = np.ones(steps + 1)
        acc = 1.0
        # a_j for x_k depends on k - 1 - j = r only: factor r multiplies every k > r
        factors = np.empty(steps)
        for r in range(steps):
            a = self.B.T @ v
            f = np.prod(self.model.characteristic(c1 * a))
            if c2 != 0.0:
                f *= np.prod(self.model.characteristic(c2 * a))
            factors[r] = f
            v = self.A.T @ v
        for k in range(1, steps + 1):
            acc *= factors[k - 1]
            out[k] = acc
        return out

    def expect(self, phi: TestFunction, steps: int) -> np.ndarray:
        """Exact ``E phi(x_k)``, k = 0..steps, for a quadratic or cosine test function."""
        if phi.form is None:
            raise DiffapproxError("phi", "a quadratic or cosine test function (exact law)", phi.name)
        mean, cov = self.moments(steps)
        if phi.form[0] == "quadratic":
            return phi.gaussian_mean(mean, cov)  # E of a quadratic needs only two moments
        u = np.asarray(phi.form[1], dtype=float)
        return np.cos(mean @ u) * self._cos_factors(u, steps)


def linear_recursion(problem: Problem, algorithm: Algorithm, x0) -> LinearRecursion:
    """The exact linear recursion of ``algorithm`` on a problem with a :class:`~diffapprox.LinearModel`.

    Raises
    ------
    DiffapproxError
        When the problem's gradient is not linear, or the delay law is not constant.
    """
    if not isinstance(problem, Problem) or problem.linear is None:
        raise DiffapproxError("problem", "a problem with a linear gradient (LinearModel)", getattr(problem, "name", ""))
    if algorithm.delay.code != DELAY_CONST:
        raise DiffapproxError(
            "delay", "a constant delay (a random one is not a linear recursion)", algorithm.delay.spec
        )
    lin = problem.linear
    d, tau, s, mu = lin.d, int(algorithm.delay.params[0]), algorithm.step, algorithm.mu
    q = max(1, tau)
    n = (q + 1) * d
    A = np.zeros((n, n))
    A[:d, :d] = (1.0 + mu) * np.eye(d)
    A[:d, d : 2 * d] -= mu * np.eye(d)
    A[:d, tau * d : (tau + 1) * d] -= s * lin.H
    for i in range(1, q + 1):
        A[i * d : (i + 1) * d, (i - 1) * d : i * d] = np.eye(d)
    B = np.zeros((n, lin.m))
    B[:d] = -s * lin.S
    x0 = np.asarray(x0, dtype=float).reshape(d)
    return LinearRecursion(A=A, B=B, model=lin, algorithm=algorithm, x0=x0)
