"""Streaming least squares in the diffapprox protocol: ``b = a.x* + eps``, ``a ~ N(0, I_d)``, ``eps ~ N(0, s^2)``.

``g(x, (a, eps)) = a (a.x - b) = a (a.(x - x*) - eps)``, so ``grad f(x) = x - x*`` and the noise is
state dependent: ``Sigma(x) = |x - x*|^2 I + (x - x*)(x - x*)^T + s^2 I`` (Isserlis' theorem).
The noise draws (a, eps) come from the engine's per-path stream (``diffapprox.stream_normal``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

import diffapprox as da

__all__ = ["least_squares", "exact_moments"]


@njit
def _grad(x, xi, par, out):
    d = x.shape[0]
    r = -xi[d]
    for j in range(d):
        r += xi[j] * (x[j] - par[1 + j])
    for j in range(d):
        out[j] = xi[j] * r


@njit
def _noise(state, par, xi):
    d = xi.shape[0] - 1
    for j in range(d):
        xi[j] = da.stream_normal(state)
    xi[d] = par[0] * da.stream_normal(state)


@njit
def _mean_grad(x, par, out):
    for j in range(x.shape[0]):
        out[j] = x[j] - par[1 + j]


def least_squares(x_star=(1.0, -0.5), noise_sd: float = 0.5) -> da.Problem:
    """The problem, in dimension ``len(x_star)``."""
    xs = np.asarray(x_star, dtype=float)

    def sigma(x):
        dl = np.asarray(x, dtype=float) - xs
        return (dl @ dl + noise_sd**2) * np.eye(xs.size) + np.outer(dl, dl)

    return da.Problem(
        name="streaming-least-squares",
        dim=xs.size,
        noise_dim=xs.size + 1,
        grad=_grad,
        noise=_noise,
        par=np.concatenate([[noise_sd], xs]),
        mean_grad=_mean_grad,
        noise_cov=sigma,
        reference="streaming least squares, b = a.x* + eps, a ~ N(0, I), eps ~ N(0, s^2)",
    )


def exact_moments(x0, x_star, noise_sd, eta, steps):
    """Exact mean (steps+1, d) and covariance of SGD's iterates.

    With ``y = x - x*``: ``E y_{k+1} = (1 - eta) E y_k`` and
    ``M_{k+1} = M - 2 eta M + eta^2 (2 M + tr(M) I) + eta^2 s^2 I`` for ``M = E y y^T``
    (``E[a a^T M a a^T] = 2M + tr(M) I`` for Gaussian a).
    """
    y = np.asarray(x0, dtype=float) - np.asarray(x_star, dtype=float)
    d = y.size
    M = np.outer(y, y)
    mean, cov = [], []
    for _ in range(steps + 1):
        mean.append(np.asarray(x_star) + y)
        cov.append(M - np.outer(y, y))
        y = (1 - eta) * y
        M = M - 2 * eta * M + eta**2 * (2 * M + np.trace(M) * np.eye(d)) + eta**2 * noise_sd**2 * np.eye(d)
    return np.array(mean), np.array(cov)
