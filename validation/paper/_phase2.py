"""The limit of Phase II (traverse-time): the ODE (3.2) with its exact Gaussian fluctuation (linear noise).

In the eigenbasis, with time ``t = k eta``, Async-MSGD's iterate is ``h(t) ~ H(t) + sqrt(eta) xi(t)``
where ``H`` solves the ODE (3.2) (closed form, :func:`diffapprox.limits.ode_closed_form`) and ``xi`` is
the linear (Gaussian) fluctuation around it -- the same rescaling by ``sqrt(eta)`` that gives the OU
limits (3.3) near e_1 and (A.2) near a saddle, here along the whole ODE path:

    d xi = J(H(t)) xi dt + Q(H(t))^(1/2) / (1-mu) dB,   xi(0) = 0,

``J(h) = (Lambda - (h' Lambda h) I - 2 h h' Lambda)/(1-mu)`` the Jacobian of the drift of (3.2) and
``Q(h) = Cov(Y Y' h - (h' Y Y' h) h)`` the covariance of one sample's gradient at ``h`` (``Y = Q' X``
with independent symmetric coordinates, ``E[Y_i^2 Y_j^2] = alpha_ij^2`` as in (3.3)); the momentum
scales the noise by ``1/(1-mu)`` as in (3.3).  Near e_1 this is (3.3), near e_2 it is (A.2).  The
covariance ``C(t)`` solves ``C' = J C + C J' + Q/(1-mu)^2``; between two times the fluctuation moves
by the exact transition ``xi(t_b) = Phi xi(t_a) + N(0, S)`` of the linear SDE, integrated here by
RK4 on a fine step (``DT``).  Delays do not enter: the limit is the same for the delays Prop. 3.8
allows (Theorem 3.3).
"""

from __future__ import annotations

import functools
import math

import numpy as np


from .._common import problem

__all__ = ["noise_cov", "transitions", "sample", "covariances", "fixed_time_probability", "time_at"]

#: RK4 step of the fluctuation's propagator and covariance (time units t = k eta).
DT = 5e-3
#: Standard normal draws (fixed seed) behind the fixed-time probabilities of the limit.
N_QUAD = 200_000
QUAD_SEED = 20180330


def noise_cov(law: str, h: np.ndarray) -> np.ndarray:
    """``Q(h) = Cov(Y Y' h - (h' Y Y' h) h)`` for independent symmetric coordinates, exact from ``alpha_ij^2``.

    With ``w = Y'h``: ``E[w^2 Y_a Y_b]``, ``E[w^3 Y_a]`` and ``E[w^4]`` need only ``E[Y_i^2 Y_j^2] = alpha_ij^2``
    (``alpha_ii^2 = E[Y_i^4]``).  Shape (d, d).
    """
    p = problem(law)
    a2 = np.asarray(p.alpha, dtype=float) ** 2
    lam = np.asarray(p.sigma_matrix.diagonal(), dtype=float)
    h2 = h * h
    s = a2 @ h2  # s_a = sum_i h_i^2 alpha_ia^2
    m2 = 2.0 * np.outer(h, h) * a2
    np.fill_diagonal(m2, s)
    m3 = 3.0 * h * s - 2.0 * h**3 * np.diag(a2)
    m4 = 3.0 * h2 @ a2 @ h2 - 2.0 * np.sum(h2 * h2 * np.diag(a2))
    second = m2 - np.outer(m3, h) - np.outer(h, m3) + m4 * np.outer(h, h)
    mean = lam * h - float(h @ (lam * h)) * h
    return second - np.outer(mean, mean)


def _path(law: str, mu: float, h0: np.ndarray, t: float) -> np.ndarray:
    """``H(t)``: the closed form of the ODE (3.2) in the eigenbasis, ``h0_i exp(lambda_i t/(1-mu))`` normalised."""
    x = h0 * np.exp(_lam(law) * (t / (1.0 - mu)))
    return x / math.sqrt(float(x @ x))


@functools.cache
def _lam(law: str) -> np.ndarray:
    return np.diag(problem(law).sigma_matrix).astype(float)


def _jac(law: str, mu: float, h: np.ndarray) -> np.ndarray:
    """Jacobian of the drift of (3.2), ``(Lambda - (h' Lambda h) I - 2 h h' Lambda)/(1-mu)``."""
    lam = _lam(law)
    return (np.diag(lam) - float(h @ (lam * h)) * np.eye(h.size) - 2.0 * np.outer(h, lam * h)) / (1.0 - mu)


def _rhs(law: str, mu: float, h0: np.ndarray, t: float, phi: np.ndarray, c: np.ndarray):
    """Derivatives of the propagator ``Phi`` and covariance ``C`` at time ``t`` along the ODE (3.2) path."""
    h = _path(law, mu, h0, t)
    jac = _jac(law, mu, h)
    return jac @ phi, jac @ c + c @ jac.T + noise_cov(law, h) / (1.0 - mu) ** 2


def _step(law, mu, h0, t, phi, c, dt):
    """One RK4 step of ``(Phi, C)``."""
    k1 = _rhs(law, mu, h0, t, phi, c)
    k2 = _rhs(law, mu, h0, t + dt / 2, phi + dt / 2 * k1[0], c + dt / 2 * k1[1])
    k3 = _rhs(law, mu, h0, t + dt / 2, phi + dt / 2 * k2[0], c + dt / 2 * k2[1])
    k4 = _rhs(law, mu, h0, t + dt, phi + dt * k3[0], c + dt * k3[1])
    return (
        phi + dt / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]),
        c + dt / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1]),
    )


def _transition(law, mu, h0, ta: float, tb: float):
    """``(Phi, S)``: ``xi(tb) = Phi xi(ta) + N(0, S)``, by RK4 from ``(I, 0)`` at ``ta``."""
    d = h0.size
    n = max(1, int(math.ceil((tb - ta) / DT - 1e-9)))
    dt, phi, c = (tb - ta) / n, np.eye(d), np.zeros((d, d))
    for i in range(n):
        phi, c = _step(law, mu, h0, ta + i * dt, phi, c, dt)
    return phi, 0.5 * (c + c.T)


def _factor(s: np.ndarray) -> np.ndarray:
    """A square root ``L`` of a covariance (``L L' = s``), by its eigen-decomposition (``s`` may be singular)."""
    w, v = np.linalg.eigh(0.5 * (s + s.T))
    return v * np.sqrt(np.clip(w, 0.0, None))


@functools.lru_cache(maxsize=64)
def transitions(law: str, mu: float, h0: tuple, times: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means ``H(t_j)`` (n, d), propagators (n, d, d) and covariance factors (n, d, d) of the exact
    transitions from ``t_{j-1}`` (``t_{-1} = 0``) to ``t_j``, for increasing ``times``."""
    h0a = np.asarray(h0, dtype=float)
    prev, phis, facs = 0.0, [], []
    for t in times:
        phi, s = _transition(law, mu, h0a, prev, float(t))
        phis.append(phi)
        facs.append(_factor(s))
        prev = float(t)
    means = np.array([_path(law, mu, h0a, float(t)) for t in times])
    return means, np.array(phis), np.array(facs)


def sample(law: str, mu: float, eta: float, h0, times, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` paths of ``H(t) + sqrt(eta) xi(t)`` at increasing ``times``: shape (n, len(times), d)."""
    mean, phis, facs = transitions(law, mu, tuple(float(x) for x in h0), tuple(float(t) for t in times))
    d = mean.shape[1]
    xi, out = np.zeros((n, d)), np.empty((n, len(times), d))
    for j in range(len(times)):
        xi = xi @ phis[j].T + rng.standard_normal((n, d)) @ facs[j].T
        out[:, j] = mean[j] + math.sqrt(eta) * xi
    return out


@functools.lru_cache(maxsize=16)
def covariances(law: str, mu: float, h0: tuple, t_end: float) -> np.ndarray:
    """``C(t)`` at ``t = 0, DT, 2 DT, ...`` up to ``t_end`` (one RK4 pass): shape (n, d, d)."""
    h0a = np.asarray(h0, dtype=float)
    d, n = h0a.size, int(math.ceil(t_end / DT)) + 1
    out, phi, c = np.zeros((n, d, d)), np.eye(d), np.zeros((d, d))
    for i in range(1, n):
        phi, c = _step(law, mu, h0a, (i - 1) * DT, phi, c, DT)
        out[i] = c
    return out


@functools.cache
def _normals(d: int) -> np.ndarray:
    return np.random.default_rng(QUAD_SEED).standard_normal((N_QUAD, d))


def fixed_time_probability(law: str, mu: float, eta: float, h0: tuple, t: float, level: float, t_end: float) -> float:
    """``P(h_1^2/||h||^2 >= level)`` at time ``t`` under the limit: ``N_QUAD`` fixed normal draws of
    ``N(H(t), eta C(t))``, ``C`` interpolated linearly on the ``DT`` grid of :func:`covariances` (to ``t_end``)."""
    cs = covariances(law, mu, h0, t_end)
    i = min(int(t // DT), cs.shape[0] - 2)
    w = t / DT - i
    c = (1 - w) * cs[i] + w * cs[i + 1]
    x = _path(law, mu, np.asarray(h0, dtype=float), t) + math.sqrt(eta) * _normals(len(h0)) @ _factor(c).T
    return float(np.mean(x[:, 0] ** 2 >= level * np.sum(x * x, axis=1)))


def time_at(law: str, mu: float, eta: float, h0: tuple, p: float, level: float, t_end: float) -> float:
    """The time at which :func:`fixed_time_probability` first reaches ``p`` (bisection on [0, t_end], to 1e-4)."""
    lo, hi = 0.0, t_end
    while hi - lo > 1e-4:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if fixed_time_probability(law, mu, eta, h0, mid, level, t_end) >= p else (mid, hi)
    return hi
