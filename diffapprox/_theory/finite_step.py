"""Finite-step second moments of Async-MSGD near the optimum (beyond the paper).

The OU limit (3.3) gives ``E[h_i^2]/eta -> alpha_i1^2/(2(1-mu)(lambda_1-lambda_i))`` as eta -> 0,
with no trace of the delay or of the data law beyond ``alpha_i1``.  This module computes the
stationary second moments at a finite step, momentum and delay law from two models of eq. (2.1),
both by linear solves (no simulation).

**Eq. (2.1) near e_1.**  In the eigenbasis one step is ``h_{k+1} = h_k + mu (h_k - h_{k-1}) + eta g``,
``g = s Y - s^2 w``, ``s = Y.w``, ``w = h_{k-tau_k}``, with ``E[Y Y^T] = Lambda``.  For a transverse
coordinate i >= 2, writing ``W_a = w_a^2`` and ``m_ab = E[Y_a^2 Y_b^2]`` (the data law's fourth
moments), the data laws here are symmetric under each coordinate's sign flip, so only paired
indices survive and, exactly,

    E[g_i | w]   = -(w^T Lambda w - lambda_i) w_i,                                           (F.1)
    E[g_i^2 | w] = sum_a m_ia W_a - 2 (3 W_i sum_{a != i} m_ia W_a + m_ii W_i^2)
                   + W_i (sum_a m_aa W_a^2 + 3 sum_{a != b} m_ab W_a W_b).                 (F.2)

**The linear model** keeps (F.1) and (F.2) at ``w = e_1`` (``w^T Lambda w = lambda_1``,
``E[g_i^2 | e_1] = m_i1 = alpha_i1^2``): per mode

    x_{k+1} = (1+mu) x_k - mu x_{k-1} - a x_{k-tau_k} + eta xi_k,   a = eta (lambda_1 - lambda_i),
    Var xi_k = alpha_i1^2, xi_k independent of the past.                                        (L)

Its stationary second moments are exact linear algebra:

* i.i.d. delays (constant, uniform, geometric with the engine's cap): multiplying (L) by
  ``x_{k+1-m}`` and taking expectations (the Yule-Walker equations, Yule 1927 and Walker 1931, here
  of a random-coefficient recursion) gives, for the autocovariances ``c_m = E[x_k x_{k-m}]``
  and the delay law ``p_t = P(tau = t)``, t = 0..T,

      c_m = (1+mu) c_{m-1} - mu c_{|m-2|} - a sum_t p_t c_{|m-1-t|},      m = 1..T+1,
      c_0 = ((1+mu)^2 + mu^2 + a^2) c_0 - 2 mu (1+mu) c_1
            - 2 a (1+mu) sum_t p_t c_t + 2 a mu sum_t p_t c_{|t-1|} + eta^2 alpha_i1^2:      (YW)

  T + 2 unknowns.  This is the discrete Lyapunov equation ``P = E[A P A^T] + Q`` of the companion
  form with the state ``(x_k, ..., x_{k-T})``: the shift rows of A make every stationary P
  Toeplitz, ``P_ij = c_|i-j|``, so (YW) replaces the Kronecker system of (T+1)^2 unknowns.
* ``workers:M``: the delays are not i.i.d.; the writer of each update is worker m with
  probability ``w_m`` (independently), and worker m's gradient is taken at the iterate it read
  after its previous write.  The state ``(x_k, x_{k-1}, z_1, ..., z_M)`` (z_m the copy worker m
  holds, M + 2 per mode) makes (L) a Markov jump linear system: with writer m,
  ``x' = (1+mu) x - mu x_- - a z_m + eta xi``, ``x_-' = x``, ``z_m' = x'``.  Its stationary
  covariance solves a linear system in ``P_xx, P_xx-, P_x z_m, P_x- z_m, P_z_m z_m`` (3M + 2
  unknowns); the ``P_z_m z_l`` follow in closed form.

Mean-square stability: the second-moment map of (L) is a positive operator, so the system is
mean-square stable iff its stationary solution for a positive noise is positive definite
(Costa, Fragoso and Marques, *Discrete-Time Markov Jump Linear Systems*, Springer 2005, ch. 3).
The radial mode (gain ``2 eta lambda_1``, see :mod:`.stability`) binds first; predictions are
reported only when the radial and every transverse mode are stable (for a constant delay: up to
``max_stable_delay(...).overall``).

**The finite-step model** keeps (F.1) and (F.2) away from e_1, which needs the law of w; the
closure (what is *not* exact) is:

(C1) the norm is rigid: ``||w||^2 = N``, its fluctuations and their correlation with the W_j
     neglected (in simulations at eta/(1-mu) = 0.01 the correlation of ||h||^2 with h_i^2 was
     0.03 to 0.1), so
     ``w_1^2 = N - sum_{j>=2} W_j`` and ``w^T Lambda w = lambda_1 N - sum_j g_j W_j``,
     ``g_j = lambda_1 - lambda_j``.  N follows from the exact stationarity of E[h_1]
     (``E[g_1] = 0``: ``E[w_1 (lambda_1 - w^T Lambda w)] = 0``), expanded to second order in W;
(C2) the transverse coordinates are independent, with second moments ``S_j = E[W_j]``;
(C3) their fourth and sixth moments have the shape (kurtosis) of the stationary density of each
     coordinate's one-dimensional diffusion approximation with drift ``-G(e) e`` and diffusion
     ``V(e)`` (F.1 and the conditional variance from F.2, the other coordinates averaged),
     ``p(e) ~ exp(-int_0^e G(x) x / (theta V(x)) dx) / V(e)`` (the zero-flux stationary solution
     of a one-variable Fokker-Planck equation; Gardiner, *Stochastic Methods*, ch. 5), at the
     temperature theta whose second moment is S_i;
(C4) a past value y enters only through its regression on w_i:
     ``E[(w^T Lambda w - lambda_i) w_i y] = E[(w^T Lambda w - lambda_i) W_i] E[w_i y] / S_i``.

Under (C1)-(C4), the exact second-moment equations of (2.1) are those of (L) with the effective
gain ``a_i = eta E[(w^T Lambda w - lambda_i) W_i]/S_i`` and noise
``sigma_i^2 = E[g_i^2] - (a_i/eta)^2 S_i``: the same solvers, iterated to a fixed point in S.
Every correction is of relative order ``S ~ eta/(1-mu)`` and vanishes as eta -> 0; it keeps the
state-dependent part of the noise (through the fourth moments ``m_ab``) and the normalisation
drift (through N and the ``sum_j g_j W_j`` term).  What it leaves out (correlations between
coordinates and with the norm, the delay's effect on the shape in C3) is the residual the claim
``finite-step-variance`` measures.
"""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass, field

import numpy as np

from .._core.errors import DiffapproxError, check_int, check_range
from .._engine.laws import DELAY_CONST, DELAY_GEOMETRIC, DELAY_UNIFORM, DELAY_WORKERS, DelayLaw, delay_law
from .._engine.problem import StreamingPCA
from .sde import stationary_variance

__all__ = [
    "MODELS",
    "ModeMoments",
    "FiniteStepPrediction",
    "delay_pmf",
    "mode_moments",
    "linear_prediction",
    "finite_step_prediction",
    "stationary_variance_linear",
    "stationary_variance_finite_step",
    "linear_variance_grid",
    "linear_second_moment",
    "stationary_error",
]

#: The two models, by the names used in JSON keys and claims.
MODELS = ("linear", "finite_step")

#: Fixed-point tolerance (relative change of every S_i) and iteration cap of the finite-step model.
_TOL, _MAX_ITER = 1e-10, 200
#: Points of the grid on which (C3)'s one-dimensional density is integrated, and its extent in sd.
_GRID, _SPAN = 2001, 10.0
#: Inverse of the Vandermonde matrix at 0, 1, 2, 3 (highest power first): cubic coefficients from four values.
_VANDERMONDE_INV = np.linalg.inv(np.vander(np.arange(4.0), 4))


@functools.cache
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - a dependency; without it the solves are only slower
        return None
    return ThreadpoolController()


def _one_blas_thread():
    """Context: BLAS on one thread.  The systems here are small; threaded OpenBLAS on a busy machine
    spins its threads against the other processes and ran these solves 25-90x slower (measured)."""
    c = _blas_controller()
    return contextlib.nullcontext() if c is None else c.limit(limits=1, user_api="blas")


# ----------------------------------------------------------------------------- delay laws


def delay_pmf(law: str | int | DelayLaw) -> np.ndarray | None:
    """``P(tau = t)``, t = 0..cap, of an i.i.d. delay law as the kernel draws it; ``None`` for ``workers``.

    Constant: a point mass.  Uniform on {A..B}: 1/(B-A+1).  Geometric with ``p = 1/(M+1)``:
    ``p (1-p)^t`` for t < cap and the clipped tail ``(1-p)^cap`` at the cap (the kernel clips at
    its cap, where the mass beyond is below :data:`~diffapprox.CAP_MASS`).

    Returns
    -------
    ndarray, shape (cap + 1,), or None
    """
    law = delay_law(law)
    if law.code == DELAY_WORKERS:
        return None
    if law.code == DELAY_CONST:
        p = np.zeros(law.cap + 1)
        p[law.cap] = 1.0
        return p
    if law.code == DELAY_UNIFORM:
        a, b = int(law.params[0]), int(law.params[1])
        p = np.zeros(b + 1)
        p[a:] = 1.0 / (b - a + 1)
        return p
    if law.code == DELAY_GEOMETRIC:
        q = 1.0 - float(law.params[0])
        t = np.arange(law.cap + 1, dtype=float)
        p = (1.0 - q) * q**t
        p[-1] = q**law.cap
        return p
    raise DiffapproxError("delay", "a const, uniform, geometric or workers law", law.spec)


def _worker_weights(law: DelayLaw) -> np.ndarray:
    r = np.asarray(law.params, dtype=float)
    return r / r.sum()


# ----------------------------------------------------------------------------- one mode of (L)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModeMoments:
    """Stationary second moments of one mode of (L).

    Attributes
    ----------
    variance : float
        ``E[x^2]`` (``nan`` when not mean-square stable).
    stable : bool
        Mean-square stability (the stationary covariance is positive definite).
    covariance : ndarray, shape (n, n)
        Stationary covariance of the state: ``(x_k, ..., x_{k-T})`` (Toeplitz) for i.i.d. delays,
        ``(x_k, x_{k-1}, z_1, ..., z_M)`` for ``workers:M``.
    """

    variance: float
    stable: bool
    covariance: np.ndarray = field(repr=False)


def _iid_system(mu: float, a: float, pmf: np.ndarray) -> np.ndarray:
    """The matrix of (YW) for unknowns c_0..c_{T+1}, right-hand side ``noise * e_0``."""
    T = pmf.size - 1
    n = T + 2
    pp = np.concatenate([pmf, np.zeros(2 * n)])  # p_t, zero beyond T
    m = np.arange(1, n)[:, None]
    j = np.arange(n)[None, :]
    # sum_t p_t c_{|m-1-t|}: t = m-1-j (Toeplitz part) and t = m-1+j for j > 0 (the reflection)
    lag = m - 1 - j
    A = np.zeros((n, n))
    A[1:] = a * (np.where(lag >= 0, pp[np.maximum(lag, 0)], 0.0) + np.where(j > 0, pp[m - 1 + j], 0.0))
    r = np.arange(1, n)
    A[r, r] += 1.0
    A[r, r - 1] -= 1.0 + mu
    np.add.at(A, (r, np.abs(r - 2)), mu)
    t = np.arange(T + 1)
    A[0, 0] = 1.0 - (1.0 + mu) ** 2 - mu * mu - a * a
    A[0, 1] += 2.0 * mu * (1.0 + mu)
    np.add.at(A[0], t, 2.0 * a * (1.0 + mu) * pmf)
    np.add.at(A[0], np.abs(t - 1), -2.0 * a * mu * pmf)
    return A


def _toeplitz_pd(c: np.ndarray) -> bool:
    from scipy.linalg import cholesky, toeplitz

    if not (np.all(np.isfinite(c)) and c[0] > 0):
        return False
    try:
        cholesky(toeplitz(c / c[0]), lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return False
    return True


def _iid_moments(mu: float, a: float, pmf: np.ndarray, noise: float) -> ModeMoments:
    from scipy.linalg import toeplitz

    rhs = np.zeros(pmf.size + 1)
    rhs[0] = noise
    try:
        c = np.linalg.solve(_iid_system(mu, a, pmf), rhs)
    except np.linalg.LinAlgError:
        c = np.full(rhs.size, np.nan)
    # the state (x_k..x_{k-T}) needs c_0..c_T; c_{T+1} closes the m = T+1 row
    cs = c[: max(pmf.size, 2)]
    ok = _toeplitz_pd(cs)
    return ModeMoments(variance=float(c[0]) if ok else math.nan, stable=ok, covariance=toeplitz(cs))


def _workers_system(mu: float, a: float, w: np.ndarray) -> np.ndarray:
    """Matrix of the stationary equations of (L) under ``workers`` (module docstring), noise on row 0.

    Unknowns ``[P_xx, P_xp, P_xz (M), P_pz (M), P_zz (M)]``; ``P_z_m z_l`` (m != l) is eliminated:
    ``(w_m + w_l)(1 + a) P_ml = w_m R_l + w_l R_m``, ``R_l = (1+mu) P_x z_l - mu P_p z_l``.
    Row 0 is ``P_xx = sum_m w_m P_z_m z_m``; rows ``2 + 2M + m`` are
    ``P_zz_m = E[u_m^2] + noise`` with ``u_m = (1+mu) x - mu x_- - a z_m``.
    """
    M = w.size
    n = 2 + 3 * M
    ix, ip = 0, 1
    xz, pz, zz = 2 + np.arange(M), 2 + M + np.arange(M), 2 + 2 * M + np.arange(M)
    A = np.zeros((n, n))
    c0 = (1.0 + mu) ** 2 + mu * mu
    # P_xx = sum_m w_m P_zz_m
    A[ix, ix] = 1.0
    A[ix, zz] -= w
    # P_xp = (1+mu) P_xx - mu P_xp - a sum_m w_m P_xz_m
    A[ip, ip] = 1.0 + mu
    A[ip, ix] = -(1.0 + mu)
    A[ip, xz] += a * w
    # sum_{m != l} w_m P_ml = (D_l R_l + sum_{m != l} H_lm R_m)/(1 + a)
    ws = w[:, None] + w[None, :]
    H = np.outer(w, w) / ws
    np.fill_diagonal(H, 0.0)
    D = (w[None, :] ** 2 / ws).sum(axis=1) - w / 2.0  # the m = l term of the sum is w_l^2/(2 w_l)
    C = (np.diag(D) + H) / (1.0 + a)  # sum_{m != l} w_m P_ml = (C R)_l
    for j in range(M):
        # P_xl = w_l P_zz_l + (1 - w_l) R_l - a (C R)_l
        r = 2 + j
        A[r, xz[j]] += 1.0
        A[r, zz[j]] -= w[j]
        A[r, xz[j]] -= (1.0 - w[j]) * (1.0 + mu)
        A[r, pz[j]] += (1.0 - w[j]) * mu
        A[r, xz] += a * C[j] * (1.0 + mu)
        A[r, pz] -= a * C[j] * mu
        # P_pl = w_l ((1+mu) P_xx - mu P_xp - a P_xl) + (1 - w_l) P_xl
        r = 2 + M + j
        A[r, pz[j]] += 1.0
        A[r, ix] -= w[j] * (1.0 + mu)
        A[r, ip] += w[j] * mu
        A[r, xz[j]] += w[j] * a - (1.0 - w[j])
        # P_zz_l = c0 P_xx - 2 mu (1+mu) P_xp + a^2 P_zz_l - 2 a R_l + noise   (P_x-x- = P_xx)
        r = 2 + 2 * M + j
        A[r, zz[j]] += 1.0 - a * a
        A[r, ix] -= c0
        A[r, ip] += 2.0 * mu * (1.0 + mu)
        A[r, xz[j]] += 2.0 * a * (1.0 + mu)
        A[r, pz[j]] -= 2.0 * a * mu
    return A


def _workers_moments(mu: float, a: float, w: np.ndarray, noise: float) -> ModeMoments:
    M = w.size
    rhs = np.zeros(2 + 3 * M)
    rhs[2 + 2 * M :] = noise
    try:
        u = np.linalg.solve(_workers_system(mu, a, w), rhs)
    except np.linalg.LinAlgError:
        u = np.full(rhs.size, np.nan)
    pxx, pxp, pxz, ppz, pzz = u[0], u[1], u[2 : 2 + M], u[2 + M : 2 + 2 * M], u[2 + 2 * M :]
    R = (1.0 + mu) * pxz - mu * ppz
    ws = w[:, None] + w[None, :]
    Pz = (w[:, None] * R[None, :] + w[None, :] * R[:, None]) / (ws * (1.0 + a))
    np.fill_diagonal(Pz, pzz)
    P = np.empty((M + 2, M + 2))
    P[0, 0], P[0, 1], P[1, 0], P[1, 1] = pxx, pxp, pxp, pxx
    P[0, 2:], P[2:, 0], P[1, 2:], P[2:, 1] = pxz, pxz, ppz, ppz
    P[2:, 2:] = Pz
    ok = bool(np.all(np.isfinite(P)) and pxx > 0 and np.linalg.eigvalsh(P / pxx).min() > 1e-13)
    return ModeMoments(variance=float(pxx) if ok else math.nan, stable=ok, covariance=P)


def _const_basis(T: int) -> np.ndarray:
    """Basis matrices of (YW) for a constant delay T: the matrix is ``sum_k coef_k B_k`` (see :func:`_const_coefs`)."""
    n = T + 2
    B = np.zeros((7, n, n))
    m = np.arange(1, n)
    B[0, 0, 0] = 1.0  # 1
    B[0, m, m] = 1.0
    B[1, 0, 0] = -1.0  # (1+mu)^2 + mu^2 + a^2
    B[2, 0, 1] = 2.0  # mu (1+mu)
    B[3, 0, T] += 2.0  # a (1+mu)
    B[4, 0, abs(T - 1)] -= 2.0  # a mu
    B[5, m, m - 1] = -1.0  # 1 + mu
    np.add.at(B[6], (m, np.abs(m - 2)), 1.0)  # mu
    B_a = np.zeros((n, n))
    np.add.at(B_a, (m, np.abs(m - 1 - T)), 1.0)  # a
    return np.concatenate([B, B_a[None]])


def _const_coefs(mu: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Coefficients of :func:`_const_basis`'s matrices, shape (len(mu), 8)."""
    one = np.ones_like(mu)
    return np.stack([one, (1 + mu) ** 2 + mu * mu + a * a, mu * (1 + mu), a * (1 + mu), a * mu, 1 + mu, mu, a], axis=1)


def _const_acov(mu: np.ndarray, a: np.ndarray, T: int, noise: np.ndarray) -> np.ndarray:
    """``c_0..c_{T+1}`` of (L) with constant delay T for many (mu, a, noise) at once, shape (len(mu), T + 2)."""
    A = np.einsum("bk,kij->bij", _const_coefs(mu, a), _const_basis(T))
    rhs = np.zeros((mu.size, T + 2, 1))
    rhs[:, 0, 0] = noise
    return np.linalg.solve(A, rhs)[:, :, 0]


def mode_moments(mu: float, a: float, delay: str | int | DelayLaw = "const:0", noise: float = 1.0) -> ModeMoments:
    """Stationary second moments of ``x_{k+1} = (1+mu) x_k - mu x_{k-1} - a x_{k-tau_k} + xi_k``, Var xi = noise.

    Exact (module docstring, (YW) and the ``workers`` system); ``variance`` is ``nan`` and ``stable``
    False when the recursion is not mean-square stable.  For a constant delay and ``noise = 1``
    at tau = 0 the variance is ``(1+mu)/((1-mu) a (2(1+mu) - a))``.
    """
    mu = check_range("mu", mu, 0.0, 1.0, hi_open=True)
    a = check_range("a", a, 0.0, lo_open=True)
    noise = check_range("noise", noise, 0.0, lo_open=True)
    law = delay_law(delay)
    with _one_blas_thread():
        return _mode_moments(mu, a, law, noise)


def _iid_pmf(law: DelayLaw) -> np.ndarray | None:
    """:func:`delay_pmf` of the law as (L) sees it; ``None`` for ``workers:M``, M > 1 (not i.i.d.)."""
    if law.code == DELAY_WORKERS:
        # one worker always writes on the iterate it just read: no delay
        return None if law.params.size > 1 else np.ones(1)
    return delay_pmf(law)


def _mode_moments(mu: float, a: float, law: DelayLaw, noise: float) -> ModeMoments:
    pmf = _iid_pmf(law)
    if pmf is None:
        return _workers_moments(mu, a, _worker_weights(law), noise)
    return _iid_moments(mu, a, pmf, noise)


# ----------------------------------------------------------------------------- the closure


class _Closure:
    """Expectations of polynomials in ``W_a = w_a^2`` under (C1)-(C3) for one problem.

    ``W = n0 + Tm w'`` with ``w' = (W_2..W_d)``, ``n0 = N e_1`` and ``Tm`` mapping w' to
    ``(N - sum w', w')``; the w'_j are independent with moments ``S`` (E W_j), ``q`` (E W_j^2),
    ``c`` (E W_j^3).
    """

    def __init__(self, problem: StreamingPCA):
        lam = np.asarray(problem.eigenvalues, dtype=float)
        self.lam, self.d = lam, lam.size
        self.m = problem.law.fourth_moments(lam)
        self.g = lam[0] - lam[1:]
        self.m4 = 3.0 * self.m
        np.fill_diagonal(self.m4, np.diag(self.m))  # E[s^4 | w] = W^T m4 W
        self.Tm = np.vstack([-np.ones(self.d - 1), np.eye(self.d - 1)])

    @staticmethod
    def _e2(S, q):
        E = np.outer(S, S)
        np.fill_diagonal(E, q)
        return E

    @staticmethod
    def _e3(i, S, q, c):
        """``E[w_i w_a w_b]`` for independent w'."""
        E = S[i] * np.outer(S, S)
        np.fill_diagonal(E, S[i] * q)
        E[i, :] = q[i] * S
        E[:, i] = q[i] * S
        E[i, i] = c[i]
        return E

    def _expect(self, i, alpha, beta, K, S, q, c, times_wi):
        """``E[W_i^p (alpha + beta.w' + w'^T K w')]``, p = 1 if ``times_wi`` else 0."""
        if not times_wi:
            return alpha + beta @ S + np.sum(K * self._e2(S, q))
        return alpha * S[i] + beta @ self._e2(S, q)[i] + np.sum(K * self._e3(i, S, q, c))

    def eg2(self, i, N, S, q, c):
        """``E[g_i^2]`` from (F.2); ``i`` 0-based among the transverse coordinates."""
        Ii, Tm, m = i + 1, self.Tm, self.m
        n0 = np.zeros(self.d)
        n0[0] = N
        mi = m[Ii]
        A = self._expect(i, mi @ n0, Tm.T @ mi, 0.0, S, q, c, False)
        B = 3.0 * self._expect(i, mi @ n0, Tm.T @ mi, 0.0, S, q, c, True) - 2.0 * m[Ii, Ii] * q[i]
        K = Tm.T @ self.m4 @ Tm
        C = self._expect(i, n0 @ self.m4 @ n0, 2.0 * Tm.T @ self.m4 @ n0, K, S, q, c, True)
        return A - 2.0 * B + C

    def drift(self, i, N, S, q, c, square: bool):
        """``E[(w^T Lambda w - lambda_i)^p W_i]``, p = 2 if ``square`` else 1 (F.1, under C1)."""
        G0 = self.lam[0] * N - self.lam[i + 1]
        if square:
            return self._expect(i, G0 * G0, -2.0 * G0 * self.g, np.outer(self.g, self.g), S, q, c, True)
        return self._expect(i, G0, -self.g, 0.0, S, q, c, True)

    def norm(self, S, q) -> float:
        """N of (C1): ``E[(1 - U/(2N)) (sum_j g_j W_j - lambda_1 (N-1))] = 0``, U = sum_j W_j."""
        ex, eu = float(self.g @ S), float(S.sum())
        eux = float(self._e2(S, q).sum(axis=0) @ self.g)
        N = 1.0
        for _ in range(50):
            nu = (ex - eux / (2.0 * N)) / (self.lam[0] * (1.0 - eu / (2.0 * N)))
            if abs(1.0 + nu - N) < 1e-15:
                break
            N = 1.0 + nu
        return 1.0 + nu

    def conditional(self, i, N, S, q, c) -> tuple[float, np.ndarray]:
        """(C3)'s coefficients for coordinate i: ``G(e) = G0 - g_i e^2`` (F.1) and the conditional noise
        variance ``V(e)`` as polynomial coefficients in ``y = e^2`` (highest first; V is cubic in y)."""
        G0 = self.lam[0] * N - self.lam[i + 1] - (self.g @ S - self.g[i] * S[i])
        scale = max(S[i], 1e-300)
        vals = np.empty(4)
        for t in range(4):  # evaluate at y = 0, 1, 2, 3 (x scale) and interpolate: exact for a cubic
            Sx, qx, cx = S.copy(), q.copy(), c.copy()
            yy = t * scale
            Sx[i], qx[i], cx[i] = yy, yy * yy, yy**3
            vals[t] = self.eg2(i, N, Sx, qx, cx) - self.drift(i, N, Sx, qx, cx, True)
        coef = (_VANDERMONDE_INV @ vals) / scale ** np.arange(3, -1, -1)
        return float(G0), coef

    def shape(self, i, N, S, q, c) -> tuple[float, float, str]:
        """(C3): ``E W^2/(3 S^2)`` and ``E W^3/(15 S^3)`` of the 1-d density whose second moment is S_i.

        The density lives where its drift gain and noise are positive: up to the first root in
        ``e^2`` of ``G`` (beyond it the saddle e_i takes over) or of ``V``, at most ``_SPAN`` sd.
        """
        G0, coef = self.conditional(i, N, S, q, c)
        roots = [G0 / self.g[i]] + [r.real for r in np.roots(coef) if abs(r.imag) < 1e-12 and r.real > 0]
        ymax = min([(_SPAN * _SPAN) * S[i]] + roots)
        x = np.linspace(0.0, math.sqrt(ymax), _GRID)
        G, V = G0 - self.g[i] * x * x, np.polyval(coef, x * x)
        if not (G0 > 0 and V[0] > 0):
            return math.nan, math.nan, f"coordinate {i + 2}: no drift or no noise at the optimum"
        x, G, V = x[:-1], G[:-1], V[:-1]  # the end point may be a root
        f = G * x / V
        phi = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(x))])
        wts = np.full(x.size, x[1] - x[0])  # trapezoid weights on the uniform grid
        wts[[0, -1]] *= 0.5
        powers = np.vstack([np.ones_like(x), x**2, x**4, x**6]) * wts
        logv = np.log(V)

        def density(log_theta):
            lp = -phi * math.exp(-log_theta) - logv
            return np.exp(lp - lp.max())

        def second(log_theta):
            z, e2 = powers[:2] @ density(log_theta)
            return math.log(e2 / z) - math.log(S[i])

        from scipy.optimize import brentq

        t0 = math.log(S[i] * G0 / V[0])  # the Gaussian temperature
        lo, hi = t0 - 1.0, t0 + 1.0
        while second(lo) > 0:
            lo -= 1.0
        while second(hi) < 0 and hi < t0 + 20:
            hi += 1.0
        if second(hi) < 0:
            return math.nan, math.nan, f"coordinate {i + 2}: no density of (C3) has its second moment"
        p = density(brentq(second, lo, hi, xtol=1e-13))
        z, e2, e4, e6 = powers @ p
        p_end = p[-1]
        e2, e4, e6 = e2 / z, e4 / z, e6 / z
        note = ""
        if ymax < (_SPAN * _SPAN) * S[i] and p_end > 1e-3:
            note = (
                f"coordinate {i + 2}: the density of (C3) is cut at {math.sqrt(ymax / S[i]):.2g} sd "
                f"(its drift or noise vanishes there) with {p_end:.1g} of its peak left"
            )
        return e4 / (3.0 * e2 * e2), e6 / (15.0 * e2**3), note


# ----------------------------------------------------------------------------- predictions


@dataclass(frozen=True, slots=True, kw_only=True)
class FiniteStepPrediction:
    """Stationary ``E[h_i^2]/eta`` of the linear or finite-step model (module docstring).

    Attributes
    ----------
    model : {"linear", "finite_step"}
    mu, eta : float
    delay : str
        The delay law's spec.
    variance : ndarray, shape (d,)
        ``E[h_i^2]/eta`` per coordinate (same scaling as :func:`~diffapprox.stationary_variance`);
        ``nan`` at index 0 and everywhere when ``stable`` is False or the model broke down.
    ou : ndarray, shape (d,)
        The OU limit (3.3) for comparison (``nan`` at index 0).
    stable : bool
        Every mode of (L), the radial one included, is mean-square stable at this delay law.
    gain : ndarray, shape (d,)
        Effective ``a_i/eta`` (``lambda_1 - lambda_i`` for the linear model); ``nan`` at 0.
    noise : ndarray, shape (d,)
        Effective noise variance ``sigma_i^2`` (``alpha_i1^2`` for the linear model); ``nan`` at 0.
    kurtosis : ndarray, shape (d,)
        (C3)'s ``E[h_i^4]/(3 E[h_i^2]^2)`` (1 for the linear model's Gaussian law); ``nan`` at 0.
    norm2 : float
        ``E ||h||^2`` (C1's N; 1 for the linear model).
    iterations : int
        Fixed-point iterations (0 for the linear model).
    note : str
        Why a value is missing, or what the closure had to cut.
    """

    model: str
    mu: float
    eta: float
    delay: str
    variance: np.ndarray
    ou: np.ndarray
    stable: bool
    gain: np.ndarray
    noise: np.ndarray
    kurtosis: np.ndarray
    norm2: float
    iterations: int = 0
    note: str = ""

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise DiffapproxError("model", f"one of {', '.join(MODELS)}", self.model)
        for name in ("variance", "ou", "gain", "noise", "kurtosis"):
            a = np.asarray(getattr(self, name), dtype=float).copy()
            a.setflags(write=False)
            object.__setattr__(self, name, a)

    @property
    def ratio_to_ou(self) -> np.ndarray:
        """``variance / ou`` per coordinate (``nan`` at 0)."""
        return self.variance / self.ou

    def as_dict(self) -> dict:
        """JSON-ready (NaN becomes None through :func:`~diffapprox._core.jsonio.jsonable`)."""
        return {
            "model": self.model,
            "mu": self.mu,
            "eta": self.eta,
            "delay": self.delay,
            "variance": self.variance.tolist(),
            "stable": self.stable,
            "gain": self.gain.tolist(),
            "noise": self.noise.tolist(),
            "kurtosis": self.kurtosis.tolist(),
            "norm2": self.norm2,
            "iterations": self.iterations,
            "note": self.note,
        }


def _check(problem, mu, eta, delay):
    if not isinstance(problem, StreamingPCA):
        raise DiffapproxError("problem", "a StreamingPCA", type(problem).__name__)
    mu = check_range("mu", mu, 0.0, 1.0, hi_open=True)
    eta = check_range("eta", eta, 0.0, lo_open=True)
    law = delay_law(delay)
    if law.code not in (DELAY_CONST, DELAY_UNIFORM, DELAY_GEOMETRIC, DELAY_WORKERS):
        raise DiffapproxError("delay", "a const, uniform, geometric or workers law", law.spec)
    return problem, mu, eta, law


def _radial_stable(problem: StreamingPCA, mu: float, eta: float, law: DelayLaw) -> bool:
    """Mean-square stability of the radial mode (gain ``2 eta lambda_1``, the largest: it binds first).

    For a constant delay this is the exact boundary of :func:`~diffapprox.max_stable_delay` by
    another route (the tests check that both agree)."""
    return _mode_moments(mu, 2.0 * eta * problem.lambda1, law, 1.0).stable


def _unstable_note(law: DelayLaw) -> str:
    if law.code == DELAY_CONST:
        return (
            f"delay {law.cap} beyond the largest stable constant delay (max_stable_delay; the radial mode "
            "2 eta lambda1 binds first): the linearised recursion diverges, no stationary variance"
        )
    return f"{law.spec}: the linearised recursion is not mean-square stable (radial mode first): no stationary variance"


def _nan_d(d: int) -> np.ndarray:
    return np.full(d, np.nan)


def linear_prediction(
    problem: StreamingPCA, *, mu: float, eta: float, delay: str | int | DelayLaw = "const:0"
) -> FiniteStepPrediction:
    """Stationary ``E[h_i^2]/eta`` of the linear model (L) (exact for (L); module docstring)."""
    problem, mu, eta, law = _check(problem, mu, eta, delay)
    with _one_blas_thread():
        return _linear(problem, mu, eta, law)


def _linear(problem: StreamingPCA, mu: float, eta: float, law: DelayLaw) -> FiniteStepPrediction:
    d, lam = problem.d, problem.eigenvalues
    ou = stationary_variance(problem, mu)
    gain, noise = _nan_d(d), _nan_d(d)
    gain[1:] = lam[0] - lam[1:]
    noise[1:] = problem.alpha[0, 1:] ** 2
    var, kurt = _nan_d(d), _nan_d(d)
    kurt[1:] = 1.0
    stable = _radial_stable(problem, mu, eta, law)
    note = "" if stable else _unstable_note(law)
    if stable:
        for i in range(1, d):
            mm = _mode_moments(mu, eta * gain[i], law, eta * eta * noise[i])
            stable &= mm.stable
            var[i] = mm.variance / eta
    if not stable:
        var[:] = np.nan
        note = note or "a transverse mode is not mean-square stable: no stationary variance"
    return FiniteStepPrediction(
        model="linear", mu=mu, eta=eta, delay=law.spec, variance=var, ou=ou, stable=stable,
        gain=gain, noise=noise, kurtosis=kurt, norm2=1.0, note=note,
    )  # fmt: skip


def finite_step_prediction(
    problem: StreamingPCA, *, mu: float, eta: float, delay: str | int | DelayLaw = "const:0"
) -> FiniteStepPrediction:
    """Stationary ``E[h_i^2]/eta`` of the finite-step model: (L) with the closure (C1)-(C4) of (F.1)-(F.2).

    A fixed-point iteration from the linear model's values: N, effective gains and noises and
    (C3)'s kurtosis from S, then S from the solvers of (L).  ``variance`` is ``nan`` (with a
    ``note``) when (L) is not mean-square stable at this delay law, when an effective gain or
    noise turns non-positive, or when the iteration does not settle.
    """
    problem, mu, eta, law = _check(problem, mu, eta, delay)
    with _one_blas_thread():
        return _finite_step(problem, mu, eta, law, _linear(problem, mu, eta, law))


def predictions(
    problem: StreamingPCA, *, mu: float, eta: float, delay: str | int | DelayLaw = "const:0"
) -> tuple[FiniteStepPrediction, FiniteStepPrediction]:
    """:func:`linear_prediction` and :func:`finite_step_prediction`, the linear model solved once for both."""
    problem, mu, eta, law = _check(problem, mu, eta, delay)
    with _one_blas_thread():
        lin = _linear(problem, mu, eta, law)
        return lin, _finite_step(problem, mu, eta, law, lin)


def _finite_step(
    problem: StreamingPCA, mu: float, eta: float, law: DelayLaw, lin: FiniteStepPrediction
) -> FiniteStepPrediction:
    """The finite-step model from the linear model's prediction ``lin`` (its starting point)."""
    d = problem.d
    nan = dict(variance=_nan_d(d), gain=_nan_d(d), noise=_nan_d(d), kurtosis=_nan_d(d), norm2=math.nan)
    base = dict(model="finite_step", mu=lin.mu, eta=lin.eta, delay=lin.delay, ou=lin.ou)
    if not lin.stable:
        return FiniteStepPrediction(**base, **nan, stable=False, note=lin.note)
    cl = _Closure(problem)
    S = eta * lin.variance[1:].copy()
    k4, k6 = np.ones(d - 1), np.ones(d - 1)
    notes: set[str] = set()
    for it in range(1, _MAX_ITER + 1):
        q, c = 3.0 * k4 * S * S, 15.0 * k6 * S**3
        N = cl.norm(S, q)
        gain = np.array([cl.drift(i, N, S, q, c, False) / S[i] for i in range(d - 1)])
        noise = np.array([cl.eg2(i, N, S, q, c) for i in range(d - 1)]) - gain**2 * S
        if not (np.all(gain > 0) and np.all(noise > 0)):
            return FiniteStepPrediction(
                **base, **nan, stable=True, iterations=it,
                note="the closure breaks down: an effective gain or noise is not positive (step too large)",
            )  # fmt: skip
        new = np.empty(d - 1)
        for i in range(d - 1):
            mm = _mode_moments(mu, eta * gain[i], law, eta * eta * noise[i])
            if not mm.stable:
                return FiniteStepPrediction(
                    **base, **nan, stable=True, iterations=it,
                    note=f"coordinate {i + 2} is not mean-square stable with its effective gain",
                )  # fmt: skip
            new[i] = mm.variance
        shapes = [cl.shape(i, N, new, 3.0 * k4 * new**2, 15.0 * k6 * new**3) for i in range(d - 1)]
        k4 = np.array([s[0] for s in shapes])
        k6 = np.array([s[1] for s in shapes])
        notes = {s[2] for s in shapes if s[2]}
        if not np.all(np.isfinite(k4)):
            return FiniteStepPrediction(**base, **nan, stable=True, iterations=it, note="; ".join(sorted(notes)))
        done = np.max(np.abs(new / S - 1.0)) < _TOL
        S = new
        if done:
            break
    else:
        notes.add(f"the fixed point did not settle in {_MAX_ITER} iterations")
        return FiniteStepPrediction(**base, **nan, stable=True, iterations=_MAX_ITER, note="; ".join(sorted(notes)))
    pad = lambda v: np.concatenate([[np.nan], v])  # noqa: E731 - index 0 (the optimum's own coordinate) is nan
    return FiniteStepPrediction(
        **base, variance=pad(S / eta), stable=True, gain=pad(gain), noise=pad(noise), kurtosis=pad(k4),
        norm2=float(N), iterations=it, note="; ".join(sorted(notes)),
    )  # fmt: skip


def linear_variance_grid(problem: StreamingPCA, *, mus, eta: float, taus) -> np.ndarray:
    """``E[h_i^2]/eta`` of the linear model on a grid of momenta and constant delays, all modes at once.

    The (YW) systems of every momentum and mode at one delay are solved as one batch.

    Returns
    -------
    ndarray, shape (len(mus), len(taus), d)
        ``nan`` at i = 1 and where the delay exceeds the largest stable one at that momentum
        (``max_stable_delay(...).overall``: the radial mode, solved in the same batch, binds first;
        the transverse gains are smaller, so they are stable whenever it is).
    """
    if not isinstance(problem, StreamingPCA):
        raise DiffapproxError("problem", "a StreamingPCA", type(problem).__name__)
    eta = check_range("eta", eta, 0.0, lo_open=True)
    mus = np.array([check_range("mus", m, 0.0, 1.0, hi_open=True) for m in np.atleast_1d(mus)])
    taus = [check_int("taus", t, 0) for t in np.atleast_1d(taus)]
    d = problem.d
    # the radial mode (unit noise) first: its stability decides, the transverse gains are smaller
    gains = eta * np.concatenate([[2.0 * problem.lambda1], problem.eigenvalues[0] - problem.eigenvalues[1:]])
    noise = np.concatenate([[1.0], eta * eta * problem.alpha[0, 1:] ** 2])
    out = np.full((mus.size, len(taus), d), np.nan)
    mu_b, a_b, n_b = np.repeat(mus, d), np.tile(gains, mus.size), np.tile(noise, mus.size)
    with _one_blas_thread():
        for j, T in enumerate(taus):
            c = _const_acov(mu_b, a_b, T, n_b)  # (mus * d, T + 2)
            ok = np.array([_toeplitz_pd(c[k * d, : max(T + 1, 2)]) for k in range(mus.size)])
            out[ok, j, 1:] = c[:, 0].reshape(mus.size, d)[ok, 1:] / eta
    return out


def stationary_error(problem: StreamingPCA, *, mu: float, eta: float, delay="const:0") -> dict:
    """Stationary error ``E[1 - h_1^2/||h||^2] = E[sum_{i>=2} h_i^2/||h||^2]`` of the OU limit and both models.

    ``eta sum_i v_i / N`` with ``v_i`` the ``E[h_i^2]/eta`` of each model and N its ``E||h||^2``
    (1 for (3.3) and the linear model; the rigid norm of (C1) for the finite-step model, which makes
    the ratio exact under the closure).  JSON-ready: ``ou``, ``linear``, ``finite_step`` (None when
    unavailable) and ``note``.
    """
    lin, fin = predictions(problem, mu=mu, eta=eta, delay=delay)

    def err(p, n2):
        v = eta * float(np.sum(p[1:])) / n2
        return v if math.isfinite(v) else None

    return {
        "ou": err(fin.ou, 1.0),
        "linear": err(lin.variance, 1.0),
        "finite_step": err(fin.variance, fin.norm2),
        "note": fin.note,
    }


def stationary_variance_linear(problem: StreamingPCA, mu: float, eta: float, delay="const:0") -> np.ndarray:
    """``E[h_i^2]/eta`` of the linear model, length d, ``nan`` at index 0 and when unstable."""
    return linear_prediction(problem, mu=mu, eta=eta, delay=delay).variance.copy()


def stationary_variance_finite_step(problem: StreamingPCA, mu: float, eta: float, delay="const:0") -> np.ndarray:
    """``E[h_i^2]/eta`` of the finite-step model, length d, ``nan`` at index 0 and when unavailable."""
    return finite_step_prediction(problem, mu=mu, eta=eta, delay=delay).variance.copy()


# ----------------------------------------------------------------------------- transient


def _iid_transient(mu, a, pmf, noise, x0, steps, rec):
    """``E[x_k^2]`` at k = 0, rec, 2 rec, ..., of (L) with i.i.d. delays from ``x_j = x0`` (j <= 0).

    The lag covariance ``E[x_{k-i} x_{k-j}]`` (i, j < W) is kept in a circular buffer: slot
    ``k mod W`` holds x_k, so a step writes one row and column (the shift is free).
    """
    W = max(pmf.size, 2)
    nz = np.flatnonzero(pmf)  # the delays the law can draw: a step costs O(W x their number)
    pn = pmf[nz]
    P = np.full((W, W), x0 * x0)
    out = np.empty(steps // rec + 1)
    out[0] = x0 * x0
    for k in range(steps):
        lag = (k - np.arange(W)) % W  # slot of x_{k-i}
        r0, r1 = P[lag[0]], P[lag[1]]
        ld = lag[nz]
        rd = pn @ P[ld]  # sum_t p_t E[x_{k-t} x_.]
        row = (1.0 + mu) * r0 - mu * r1 - a * rd  # E[x_{k+1} x_.] without the noise
        vv = (1.0 + mu) ** 2 * r0[lag[0]] - 2.0 * mu * (1.0 + mu) * r0[lag[1]] + mu * mu * r1[lag[1]]
        vx = (1.0 + mu) * rd[lag[0]] - mu * rd[lag[1]]  # sum_t p_t E[v x_{k-t}]
        xx = pn @ P[ld, ld]  # sum_t p_t E[x_{k-t}^2]
        diag = vv - 2.0 * a * vx + a * a * xx + noise
        s = (k + 1) % W
        P[s, :] = row
        P[:, s] = row
        P[s, s] = diag
        if (k + 1) % rec == 0:
            out[(k + 1) // rec] = diag
    return out


def _workers_transient(mu, a, w, noise, x0, steps, rec):
    """``E[x_k^2]`` of (L) under ``workers`` from every copy at x0: the covariance of
    ``(x_k, x_{k-1}, z_1..z_M)`` moved one step at a time (module docstring's update, O(M^2) a step)."""
    M = w.size
    P = np.full((M + 2, M + 2), x0 * x0)
    out = np.empty(steps // rec + 1)
    out[0] = x0 * x0
    z = 2 + np.arange(M)
    for k in range(steps):
        U = (1.0 + mu) * P[0] - mu * P[1] - a * P[z]  # E[u_m y], shape (M, M+2)
        uu = (1.0 + mu) * U[:, 0] - mu * U[:, 1] - a * U[np.arange(M), z] + noise  # E[x'^2 | writer m]
        Q = np.empty_like(P)
        Q[0, 0] = w @ uu
        Q[0, 1] = Q[1, 0] = w @ U[:, 0]
        Q[1, 1] = P[0, 0]
        Uz = U[:, z]  # E[u_m z_l]
        cross = w @ Uz - w * np.diag(Uz)  # sum_{m != l} w_m E[u_m z_l]
        Q[0, z] = Q[z, 0] = w * uu + cross
        Q[1, z] = Q[z, 1] = w * U[:, 0] + (1.0 - w) * P[0, z]
        Z = w[:, None] * Uz + (w[:, None] * Uz).T + (1.0 - w[:, None] - w[None, :]) * P[np.ix_(z, z)]
        np.fill_diagonal(Z, w * uu + (1.0 - w) * np.diag(P)[z])
        Q[np.ix_(z, z)] = Z
        P = Q
        if (k + 1) % rec == 0:
            out[(k + 1) // rec] = P[0, 0]
    return out


def linear_second_moment(
    problem: StreamingPCA,
    *,
    mu: float,
    eta: float,
    delay: str | int | DelayLaw = "const:0",
    steps: int,
    h0,
    record_every: int = 1,
) -> np.ndarray:
    """Transient ``E[h_i(k)^2]/eta`` of the linear model (L) from ``h_i(j) = h0_i`` for j <= 0.

    Exact for (L): the second-moment recursion of the random-coefficient system, one step at a
    time (O(cap x the number of possible delays) a step for i.i.d. delays, O(M^2) for ``workers:M``).

    Parameters
    ----------
    h0 : array_like, shape (d,)
        Start in the eigenbasis (coordinate 0, the optimum's, is not modelled).
    steps, record_every : int
        Records at ``k = 0, R, ..., steps`` (``steps`` a multiple of ``R``).

    Returns
    -------
    ndarray, shape (steps // record_every + 1, d)
        ``nan`` in column 0.
    """
    problem, mu, eta, law = _check(problem, mu, eta, delay)
    steps = check_int("steps", steps, 1)
    record_every = check_int("record_every", record_every, 1)
    if steps % record_every:
        raise DiffapproxError("steps", f"a multiple of record_every={record_every}", steps)
    h = np.asarray(h0, dtype=float)
    if h.shape != (problem.d,) or not np.all(np.isfinite(h)):
        raise DiffapproxError("h0", f"a finite vector of length {problem.d}", h0)
    lam = problem.eigenvalues
    out = np.full((steps // record_every + 1, problem.d), np.nan)
    pmf = _iid_pmf(law)
    with _one_blas_thread():
        for i in range(1, problem.d):
            a, noise = eta * (lam[0] - lam[i]), eta * eta * problem.alpha[0, i] ** 2
            if pmf is None:
                out[:, i] = _workers_transient(mu, a, _worker_weights(law), noise, h[i], steps, record_every)
            else:
                out[:, i] = _iid_transient(mu, a, pmf, noise, h[i], steps, record_every)
    return out / eta
