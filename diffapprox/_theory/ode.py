"""The ODE limit (3.2) of Async-MSGD (Theorem 3.3): closed form and a solve_ivp cross-check.

In the eigenbasis (``h = Q^T v``) the ODE

    dH/dt = (Lambda H - (H^T Lambda H) H) / (1 - mu),        H(0) = h0 on the unit sphere,   (3.2)

has the closed form of Theorem 3.3

    H_i(t) = h0_i exp(lambda_i t/(1-mu)) / sqrt(sum_j h0_j^2 exp(2 lambda_j t/(1-mu))).

Time is the interpolation time ``t = k eta`` of Section 3.1 (``V^eta(t) = v_k`` on
``[k eta, (k+1) eta)``).  The closed form is evaluated in log space, since
``exp(lambda t/(1-mu))`` overflows for long ``t``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .._core.errors import DiffapproxError, check_range
from .._engine.problem import StreamingPCA

__all__ = ["ODELimit", "ode_closed_form", "ode_solve_ivp"]


def _as_eigenvalues(problem_or_eigs) -> np.ndarray:
    if isinstance(problem_or_eigs, StreamingPCA):
        return np.asarray(problem_or_eigs.eigenvalues, dtype=float)
    lam = np.asarray(problem_or_eigs, dtype=float)
    if lam.ndim != 1 or lam.size < 2 or not np.all(np.isfinite(lam)):
        raise DiffapproxError("eigenvalues", "a 1-d array of >= 2 finite numbers", problem_or_eigs)
    return lam


def _check_start(h0, d: int) -> np.ndarray:
    h = np.asarray(h0, dtype=float)
    if h.shape != (d,):
        raise DiffapproxError("h0", f"a vector of length {d}", f"shape {h.shape}")
    if not np.all(np.isfinite(h)):
        raise DiffapproxError("h0", "finite entries", h0)
    n = float(np.linalg.norm(h))
    if n == 0.0:
        raise DiffapproxError("h0", "a non-zero vector", h0)
    return h / n


def _check_times(times) -> np.ndarray:
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise DiffapproxError("times", "finite times >= 0", times)
    return t


def ode_closed_form(problem, h0, mu: float, times) -> np.ndarray:
    """Closed-form solution of ODE (3.2), Theorem 3.3, in the eigenbasis.

    Parameters
    ----------
    problem : StreamingPCA or array_like, shape (d,)
        The problem, or its eigenvalues ``lambda_1 > lambda_2 >= ...``.
    h0 : array_like, shape (d,)
        Start ``H(0)`` in the eigenbasis; it is normalised to the unit sphere (the
        ODE is stated for ``v_0`` in S, and the sphere is invariant under (3.2)).
    mu : float
        Momentum in [0, 1).
    times : array_like, shape (n,)
        Times ``t >= 0`` (``t = k eta``).

    Returns
    -------
    ndarray, shape (n, d)
        ``H(t)`` at each time.  Coordinates with ``h0_i = 0`` stay exactly 0.

    Notes
    -----
    With ``s = t/(1-mu)`` and ``g_j = log|h0_j| + lambda_j s``, ``H_i = sign(h0_i)
    exp(g_i - m) / sqrt(sum_j exp(2 (g_j - m)))`` with ``m = max_j g_j``: every
    exponent is <= 0, so nothing overflows for any ``t``.
    """
    lam = _as_eigenvalues(problem)
    mu = check_range("mu", mu, 0.0, 1.0, hi_open=True)
    h = _check_start(h0, lam.size)
    t = _check_times(times)
    s = t[:, None] / (1.0 - mu)
    nz = h != 0.0
    with np.errstate(divide="ignore"):
        logabs = np.where(nz, np.log(np.abs(h)), -np.inf)
    g = logabs[None, :] + lam[None, :] * s  # (n, d); -inf where h0_i = 0
    m = np.max(g, axis=1, keepdims=True)
    e = np.exp(g - m)  # exp(-inf) = 0
    norm = np.sqrt(np.sum(e * e, axis=1, keepdims=True))
    return np.sign(h)[None, :] * e / norm


def ode_drift(problem, mu: float, h: np.ndarray) -> np.ndarray:
    """Right-hand side of (3.2) in the eigenbasis, ``(Lambda h - (h^T Lambda h) h)/(1-mu)``.

    ``h`` may be shape (d,) or (..., d).
    """
    lam = _as_eigenvalues(problem)
    h = np.asarray(h, dtype=float)
    q = np.sum(lam * h * h, axis=-1, keepdims=True)
    return (lam * h - q * h) / (1.0 - mu)


def ode_solve_ivp(
    problem, h0, mu: float, times, *, rtol: float = 1e-12, atol: float = 1e-14, method: str = "DOP853"
) -> np.ndarray:
    """Numerical solution of ODE (3.2) with :func:`scipy.integrate.solve_ivp` (the cross-check).

    Same parameters and return as :func:`ode_closed_form`; ``rtol``, ``atol`` and
    ``method`` go to ``solve_ivp``.  Raises :class:`RuntimeError` if the solver fails.
    """
    from scipy.integrate import solve_ivp

    lam = _as_eigenvalues(problem)
    mu = check_range("mu", mu, 0.0, 1.0, hi_open=True)
    h = _check_start(h0, lam.size)
    t = _check_times(times)
    order = np.argsort(t, kind="stable")
    ts = t[order]
    t_end = float(ts[-1])
    if t_end == 0.0:
        return np.tile(h, (t.size, 1))
    sol = solve_ivp(
        lambda _t, y: ode_drift(lam, mu, y), (0.0, t_end), h, method=method, t_eval=ts, rtol=rtol, atol=atol
    )
    if not sol.success:  # pragma: no cover - DOP853 on this smooth ODE does not fail
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    out = np.empty((t.size, lam.size))
    out[order] = sol.y.T
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ODELimit:
    """The ODE limit of Theorem 3.3 for one problem and momentum.

    Attributes
    ----------
    problem : StreamingPCA
    mu : float
        Momentum in [0, 1).
    equation, reference, scaling : str
        The theory this limit declares (class constants).

    Examples
    --------
    >>> lim = ODELimit(problem=StreamingPCA(spectrum=(4, 3, 2, 1)), mu=0.8)
    >>> lim.h([0.0, 1.0], [0.5, 0.5, 0.5, 0.5]).shape
    (2, 4)
    """

    equation: ClassVar[str] = "3.2"
    reference: ClassVar[str] = "Theorem 3.3, eq. (3.2)"
    scaling: ClassVar[str] = "t = k*eta (V^eta(t) = v_k on [k eta, (k+1) eta)); no rescaling of space"
    drift_text: ClassVar[str] = "dH/dt = (Lambda H - (H^T Lambda H) H)/(1-mu)"
    delay_condition: ClassVar[str] = "tau_k <= (1-mu)^2/(lambda1 eta^(1-gamma)), gamma in (0,1]"

    problem: StreamingPCA
    mu: float
    _lam: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.problem, StreamingPCA):
            raise DiffapproxError("problem", "a StreamingPCA", type(self.problem).__name__)
        object.__setattr__(self, "mu", check_range("mu", self.mu, 0.0, 1.0, hi_open=True))
        object.__setattr__(self, "_lam", np.asarray(self.problem.eigenvalues, dtype=float))

    def drift(self, h: np.ndarray) -> np.ndarray:
        """Right-hand side of (3.2) at ``h`` (shape (..., d))."""
        return ode_drift(self._lam, self.mu, h)

    def h(self, times, h0) -> np.ndarray:
        """Closed form ``H(t)``, shape (len(times), d) (see :func:`ode_closed_form`)."""
        return ode_closed_form(self._lam, h0, self.mu, times)

    def h_numeric(self, times, h0, **kw) -> np.ndarray:
        """``solve_ivp`` solution, same shape (see :func:`ode_solve_ivp`)."""
        return ode_solve_ivp(self._lam, h0, self.mu, times, **kw)

    def error(self, times, h0) -> np.ndarray:
        """Optimisation error ``1 - H_1(t)^2`` along the closed form, shape (len(times),)."""
        hh = self.h(times, h0)
        return 1.0 - hh[:, 0] ** 2
