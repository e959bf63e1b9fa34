"""The OU limits near the optimum (3.3) and near a saddle (A.2), and the escape-time law.

Around a stationary point ``e_j`` the rescaled iterate ``U = (h - e_j)/sqrt(eta)``
(eigenbasis, time ``t = k eta``) converges, coordinate by coordinate ``i != j``, to

    dU_i = (lambda_i - lambda_j)/(1-mu) U_i dt + alpha_ij/(1-mu) dB_i,

eq. (3.3) for ``j = 1`` (Theorem 3.5, stable, Phase III) and eq. (A.2) for a saddle
``j != 1`` (Theorem 3.9; coordinates with ``lambda_i > lambda_j`` are unstable).
The coordinates are independent scalar OU processes, so their law is exact:

    mean(t) = U(0) exp(r t),   var(t) = s^2 (exp(2 r t) - 1)/(2 r),   r = (lambda_i-lambda_j)/(1-mu),
    s = alpha_ij/(1-mu),  i.e.  var(t) = alpha_ij^2 |exp(2 r t) - 1| / (2 (1-mu) |lambda_i - lambda_j|).

Indices in this API are 0-based: ``saddle=1`` is the paper's ``e_2``, coordinate 0 is
the paper's ``U^(1)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from numba import njit

from .._core.errors import DiffapproxError, check_int, check_range
from .._engine.problem import StreamingPCA
from .._engine.rng import N_STREAMS, STREAM_DATA, fill_normals, seed_streams

__all__ = ["OULimit", "ou_optimum", "ou_saddle", "stationary_variance", "EscapeTime", "escape_time"]


def _expm1_over(r: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``(exp(2 r t) - 1)/(2 r)`` with the limit ``t`` at ``r = 0``; broadcasts."""
    r = np.asarray(r, dtype=float)
    t = np.asarray(t, dtype=float)
    safe = np.where(r == 0.0, 1.0, r)
    return np.where(r == 0.0, t, np.expm1(2.0 * safe * t) / (2.0 * safe))


@njit(cache=True)
def _ou_paths(key, decay, sd, u0, out):
    """Exact OU chain ``u_k = decay[k] u_{k-1} + sd[k] z_k`` for every path (no checks).

    ``out`` (P, n, m) is written in place; path p's normals come from the per-path stream
    keyed ``(key, p)`` of :mod:`diffapprox._engine.rng` (xoshiro256+ / ziggurat).
    """
    n_paths, n, m = out.shape
    st = np.empty((N_STREAMS, 4), dtype=np.uint64)
    z = np.empty(n * m)
    u = np.empty(m)
    for p in range(n_paths):
        seed_streams(key, np.uint64(p), st)
        fill_normals(st, STREAM_DATA, z, 0, n * m)
        for i in range(m):
            u[i] = u0[i]
        for k in range(n):
            for i in range(m):
                u[i] = decay[k, i] * u[i] + sd[k, i] * z[k * m + i]
                out[p, k, i] = u[i]


@dataclass(frozen=True, slots=True, kw_only=True)
class OULimit:
    """The diagonal OU process of (3.3) (``center=0``) or (A.2) (``center=j``).

    Build it with :func:`ou_optimum` or :func:`ou_saddle`.

    Attributes
    ----------
    problem : StreamingPCA
    mu : float
        Momentum in [0, 1).
    center : int
        0-based index ``j`` of the stationary point ``e_j`` (0 = optimum).
    coords : ndarray of int, shape (m,)
        The eigen-coordinates ``i != j`` the SDE describes (m = d - 1).
    rate : ndarray, shape (m,)
        Drift coefficients ``(lambda_i - lambda_j)/(1-mu)``.
    sigma : ndarray, shape (m,)
        Diffusion coefficients ``alpha_ij/(1-mu)``.
    equation : str
        ``"3.3"`` or ``"A.2"``.
    """

    scaling: ClassVar[str] = "U = (h - e_j)/sqrt(eta) in the eigenbasis, t = k*eta"
    drift_text: ClassVar[str] = "dU_i = (lambda_i - lambda_j)/(1-mu) U_i dt + alpha_ij/(1-mu) dB_i"
    delay_condition: ClassVar[str] = "tau_k <= (1-mu)^2/((lambda1 + C_d) eta^(1/2-gamma)), gamma in (0,1/2]"

    problem: StreamingPCA
    mu: float
    center: int = 0
    coords: np.ndarray = field(init=False, repr=False)
    rate: np.ndarray = field(init=False, repr=False)
    sigma: np.ndarray = field(init=False, repr=False)
    equation: str = field(init=False)
    reference: str = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.problem, StreamingPCA):
            raise DiffapproxError("problem", "a StreamingPCA", type(self.problem).__name__)
        mu = check_range("mu", self.mu, 0.0, 1.0, hi_open=True)
        d = self.problem.d
        j = check_int("center", self.center, 0, d - 1)
        lam = np.asarray(self.problem.eigenvalues, dtype=float)
        coords = np.array([i for i in range(d) if i != j], dtype=np.int64)
        rate = (lam[coords] - lam[j]) / (1.0 - mu)
        sigma = self.problem.alpha[coords, j] / (1.0 - mu)
        for a in (coords, rate, sigma):
            a.setflags(write=False)
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "center", j)
        object.__setattr__(self, "coords", coords)
        object.__setattr__(self, "rate", rate)
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "equation", "3.3" if j == 0 else "A.2")
        object.__setattr__(self, "reference", "Theorem 3.5, eq. (3.3)" if j == 0 else "Theorem 3.9, eq. (A.2)")

    @property
    def dim(self) -> int:
        """Number of OU coordinates, ``d - 1``."""
        return int(self.coords.size)

    @property
    def unstable(self) -> np.ndarray:
        """Boolean mask of the coordinates with positive rate (``lambda_i > lambda_j``)."""
        return self.rate > 0

    def _u0(self, u0) -> np.ndarray:
        if u0 is None:
            return np.zeros(self.dim)
        u = np.asarray(u0, dtype=float)
        if u.ndim == 0:
            u = np.full(self.dim, float(u))
        if u.shape != (self.dim,) or not np.all(np.isfinite(u)):
            raise DiffapproxError(
                "u0", f"a finite vector of length {self.dim} (coordinates {self.coords.tolist()})", u0
            )
        return u

    def mean(self, t, u0=None) -> np.ndarray:
        """``E[U(t) | U(0) = u0] = u0 exp(rate t)``, shape (len(t), m) (``t`` scalar: (m,))."""
        t = np.asarray(t, dtype=float)
        u = self._u0(u0)
        return u * np.exp(np.multiply.outer(t, self.rate))

    def variance(self, t) -> np.ndarray:
        """``Var[U(t) | U(0)] = sigma^2 (exp(2 rate t) - 1)/(2 rate)``, shape (len(t), m)."""
        t = np.asarray(t, dtype=float)
        return self.sigma**2 * _expm1_over(self.rate, t[..., None])

    def second_moment(self, t, u0=None) -> np.ndarray:
        """``E[U_i(t)^2]`` (Prop. 3.6 / A.6): ``mean^2 + variance``.

        For a stable coordinate this is the formula of A.6,
        ``S + (U(0)^2 - S) exp(-2 (lambda_j - lambda_i) t/(1-mu))`` with ``S`` the
        stationary variance.
        """
        return self.mean(t, u0) ** 2 + self.variance(t)

    @property
    def stationary_variance(self) -> np.ndarray:
        """``alpha_ij^2 / (2 (1-mu) (lambda_j - lambda_i))`` per coordinate; ``inf`` where unstable.

        At the optimum (3.3) this is ``alpha_i1^2/(2(1-mu)(lambda_1 - lambda_i))`` (A.6).
        """
        with np.errstate(divide="ignore"):
            v = self.sigma**2 / (-2.0 * self.rate)
        return np.where(self.rate < 0, v, np.inf)

    def sample(self, times, n_paths: int, rng: np.random.Generator, u0=None) -> np.ndarray:
        """Exact paths on a time grid by the Gaussian transition law.

        Parameters
        ----------
        times : array_like, shape (n,)
            Increasing times, ``times[0] >= 0``; the path starts at ``u0`` at time 0.
        n_paths : int
        rng : numpy.random.Generator
        u0 : array_like, shape (m,), optional
            Start (default 0).

        Returns
        -------
        ndarray, shape (n_paths, n, m)
            ``U`` at each time; exact in law (no discretisation error).

        Notes
        -----
        A numba kernel runs the exact chain ``U(t_k) = e^{r dt_k} U(t_{k-1}) + sd(dt_k) Z_k``;
        one 63-bit key is drawn from ``rng`` and path p uses the per-path stream
        ``(key, p)`` of :mod:`diffapprox._engine.rng`.
        """
        if not isinstance(rng, np.random.Generator):
            raise DiffapproxError("rng", "a numpy.random.Generator", type(rng).__name__)
        n_paths = check_int("n_paths", n_paths, 1)
        t = np.atleast_1d(np.asarray(times, dtype=float))
        if t.ndim != 1 or not np.all(np.isfinite(t)) or t[0] < 0 or np.any(np.diff(t) < 0):
            raise DiffapproxError("times", "non-decreasing finite times >= 0", times)
        u0 = self._u0(u0)
        dt = np.diff(np.concatenate([[0.0], t]))
        decay = np.exp(np.multiply.outer(dt, self.rate))  # (n, m)
        sd = np.sqrt(self.sigma**2 * _expm1_over(self.rate, dt[:, None]))  # (n, m)
        out = np.empty((n_paths, t.size, self.dim))
        # one key from the caller's Generator; path p then draws from the stream keyed (key, p)
        _ou_paths(np.uint64(rng.integers(0, 2**63)), decay, sd, u0, out)
        return out

    def sample_sdeint(
        self, times, n_paths: int, rng: np.random.Generator, u0=None, method: str = "itoEuler"
    ) -> np.ndarray:
        """Paths by numerical integration with ``sdeint`` (independent cross-check).

        ``method`` is ``"itoEuler"`` or ``"itoSRI2"``; ``times`` must be an evenly
        spaced grid starting at 0 (sdeint's ``tspan``).  ``rng`` is passed to sdeint as
        its ``generator``; paths run one at a time (sdeint integrates one path).
        Returns shape (n_paths, n, m), like :meth:`sample`.
        """
        import sdeint

        if method not in ("itoEuler", "itoSRI2"):
            raise DiffapproxError("method", "itoEuler or itoSRI2", method)
        if not isinstance(rng, np.random.Generator):
            raise DiffapproxError("rng", "a numpy.random.Generator", type(rng).__name__)
        n_paths = check_int("n_paths", n_paths, 1)
        t = np.asarray(times, dtype=float)
        if t.ndim != 1 or t.size < 2 or t[0] != 0.0 or not np.allclose(np.diff(t), t[1] - t[0], rtol=1e-9):
            raise DiffapproxError("times", "an evenly spaced grid starting at 0 (sdeint tspan)", times)
        u = self._u0(u0)
        rate, gmat = self.rate.copy(), np.diag(self.sigma)
        solver = getattr(sdeint, method)
        out = np.empty((n_paths, t.size, self.dim))
        for p in range(n_paths):
            out[p] = solver(lambda x, _t: rate * x, lambda _x, _t: gmat, u, t, generator=rng)
        return out


def ou_optimum(problem: StreamingPCA, mu: float) -> OULimit:
    """OU limit (3.3) near the optimum ``e_1`` (Theorem 3.5)."""
    return OULimit(problem=problem, mu=mu, center=0)


def ou_saddle(problem: StreamingPCA, mu: float, saddle: int = 1) -> OULimit:
    """OU limit (A.2) near the saddle ``e_j``, ``j = saddle`` (0-based; 1 is the paper's e_2)."""
    if check_int("saddle", saddle, 1, problem.d - 1) == 0:  # pragma: no cover - guarded by lo=1
        raise DiffapproxError("saddle", "an index >= 1", saddle)
    return OULimit(problem=problem, mu=mu, center=saddle)


def stationary_variance(problem: StreamingPCA, mu: float) -> np.ndarray:
    """Stationary variance of (3.3) per eigen-coordinate, length d, ``nan`` at index 0.

    ``alpha_i1^2 / (2 (1-mu) (lambda_1 - lambda_i))`` for ``i >= 2`` (Prop. 3.6 / A.6).
    """
    lim = ou_optimum(problem, mu)
    out = np.full(problem.d, np.nan)
    out[lim.coords] = lim.stationary_variance
    return out


# ----------------------------------------------------------------------------- escape time

_PHI_INV_TEXT = {
    "main": "Phi^-1((1+nu/2)/2)  (Prop. 3.10)",
    "appendix": "Phi^-1((1+nu)/2)  (A.9)",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class EscapeTime:
    """Predicted law of the escape time from a saddle ``e_j`` (Thm 3.9, Prop 3.10, A.9).

    The paper (A.9) approximates ``U_1`` (the rescaled coordinate along the optimum)
    by the unstable OU coordinate of (A.2) started at ``U_1(0) = 0``, Gaussian with
    mean 0 and variance

        v(t) = alpha_1j^2 / (2 (1-mu) g) * (exp(2 g t/(1-mu)) - 1),   g = lambda_1 - lambda_j,

    and declares escape (``H_j(t)^2 <= 1 - delta^2``) at time t when
    ``|U_1(t)| >= delta/sqrt(eta)``.  This is A.9's reading: the law of ``T`` below is

        P(T <= t) = P(|U_1(t)| >= c) = 2 (1 - Phi(c / sqrt(v(t)))),   c = delta/sqrt(eta),

    a fixed-time probability (a lower bound on the first-passage probability, which the
    paper uses as the escape law).  It increases from 0 at t = 0 to 1, and its
    p-quantile is

        t_p = (1-mu)/(2 g) log(1 + 2 (1-mu) g delta^2 / (eta alpha_1j^2 z^2)),   z = Phi^-1(1 - p/2).

    **The paper's two T1.**  A.9 uses ``z = Phi^-1((1+nu)/2)``, so ``p = 1 - nu``:
    ``T1_appendix`` is the (1-nu)-quantile, ``P(T <= T1) = 1 - nu`` exactly under
    this law, as the proposition states.  Prop. 3.10 (main text) uses
    ``z = Phi^-1((1+nu/2)/2)``, so ``p = 1 - nu/2``: ``T1_main`` is the
    (1-nu/2)-quantile, later than needed; its guarantee ``>= 1 - nu`` holds with
    room (the probability is in fact 1 - nu/2).

    Attributes
    ----------
    problem, mu, eta, delta, saddle
        As given (saddle 0-based, default 1 = e_2).
    gap : float
        ``lambda_1 - lambda_j``.
    alpha_1j : float
    threshold : float
        ``c = delta/sqrt(eta)``.
    """

    reference: ClassVar[str] = "Theorem 3.9, Prop. 3.10, appendix A.9 (Gaussian approximation of U_1)"

    problem: StreamingPCA
    mu: float
    eta: float
    delta: float
    saddle: int = 1
    gap: float = field(init=False)
    alpha_1j: float = field(init=False)
    threshold: float = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.problem, StreamingPCA):
            raise DiffapproxError("problem", "a StreamingPCA", type(self.problem).__name__)
        object.__setattr__(self, "mu", check_range("mu", self.mu, 0.0, 1.0, hi_open=True))
        object.__setattr__(self, "eta", check_range("eta", self.eta, 0.0, lo_open=True))
        object.__setattr__(self, "delta", check_range("delta", self.delta, 0.0, 1.0, lo_open=True, hi_open=True))
        j = check_int("saddle", self.saddle, 1, self.problem.d - 1)
        object.__setattr__(self, "saddle", j)
        lam = self.problem.eigenvalues
        object.__setattr__(self, "gap", float(lam[0] - lam[j]))
        object.__setattr__(self, "alpha_1j", float(self.problem.alpha[0, j]))
        object.__setattr__(self, "threshold", float(self.delta / np.sqrt(self.eta)))

    @property
    def rate(self) -> float:
        """``(lambda_1 - lambda_j)/(1-mu)``, the unstable rate of U_1 in (A.2)."""
        return self.gap / (1.0 - self.mu)

    def sd(self, t) -> np.ndarray:
        """Standard deviation of ``U_1(t)`` from ``U_1(0) = 0``."""
        t = np.asarray(t, dtype=float)
        s2 = (self.alpha_1j / (1.0 - self.mu)) ** 2
        return np.sqrt(s2 * _expm1_over(self.rate, t))

    def cdf(self, t) -> np.ndarray:
        """``P(T <= t) = 2 (1 - Phi(c/sd(t)))`` (0 at t = 0)."""
        from scipy.special import ndtr

        t = np.asarray(t, dtype=float)
        sd = self.sd(np.maximum(t, 0.0))
        with np.errstate(divide="ignore"):
            x = np.where(sd > 0, self.threshold / np.where(sd > 0, sd, 1.0), np.inf)
        return np.where(t > 0, 2.0 * ndtr(-x), 0.0)

    def quantile(self, p) -> np.ndarray:
        """The p-quantile ``t_p`` (see class docstring); ``p`` in (0, 1)."""
        from scipy.special import ndtri

        p = np.asarray(p, dtype=float)
        if np.any(~(p > 0) | ~(p < 1)):
            raise DiffapproxError("p", "probabilities in (0, 1)", p.tolist())
        z = ndtri(1.0 - p / 2.0)
        arg = 2.0 * (1.0 - self.mu) * self.gap * self.delta**2 / (self.eta * self.alpha_1j**2 * z**2)
        return (1.0 - self.mu) / (2.0 * self.gap) * np.log1p(arg)

    def T1(self, nu: float, version: str = "main") -> float:
        """T1 of Prop. 3.10 (``"main"``: the (1-nu/2)-quantile) or A.9 (``"appendix"``: the (1-nu)-quantile)."""
        nu = check_range("nu", nu, 0.0, 1.0, lo_open=True, hi_open=True)
        if version == "main":
            return float(self.quantile(1.0 - nu / 2.0))
        if version == "appendix":
            return float(self.quantile(1.0 - nu))
        raise DiffapproxError("version", "main or appendix", version)


def escape_time(problem: StreamingPCA, *, mu: float, eta: float, delta: float, saddle: int = 1) -> EscapeTime:
    """The predicted escape-time law from the saddle ``e_{saddle}`` (see :class:`EscapeTime`)."""
    return EscapeTime(problem=problem, mu=mu, eta=eta, delta=delta, saddle=saddle)
