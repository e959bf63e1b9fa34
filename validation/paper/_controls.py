"""Samplers shared by the synthetic controls of the weak-convergence claims.

A control draws cell summaries whose truth is known at the claim's own sizes; these helpers
draw the pieces: binomial counts of a fraction, normal samples at a stated sup-distance from
their predicted law, and the standard deviation such a sample must have.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

__all__ = ["counts", "normal_shift_for_distance", "normal_sample", "distance_effect", "dkw_interval_at"]

#: The grid on which the sup-distance between two normal laws is evaluated (standard units).
_GRID = np.linspace(-12.0, 12.0, 24001)


def counts(rng: np.random.Generator, n: int, p: float) -> int:
    """Binomial(n, p) count with ``p`` clipped into [0, 1]."""
    return int(rng.binomial(int(n), min(max(float(p), 0.0), 1.0)))


def _sup_distance(shift: float, scale: float) -> float:
    """``sup_x |Phi((x - shift)/scale) - Phi(x)|`` on a fine grid."""
    return float(np.max(np.abs(ndtr((_GRID - shift) / scale) - ndtr(_GRID))))


def normal_shift_for_distance(distance: float, scale: float = 1.0) -> float:
    """The shift m >= 0 that puts N(m, scale^2) at sup-distance ``distance`` from N(0, 1).

    With ``scale = 1`` this is ``2 Phi^-1((1 + distance)/2)``; otherwise found by root search.
    A scale alone already at a larger distance returns 0.
    """
    if scale == 1.0:
        return float(2.0 * ndtri((1.0 + distance) / 2.0))
    if _sup_distance(0.0, scale) >= distance:
        return 0.0
    return float(brentq(lambda m: _sup_distance(m, scale) - distance, 0.0, 20.0, xtol=1e-8))


def normal_sample(rng: np.random.Generator, n: int, sd: float, *, ratio: float = 1.0, distance: float = 0.0):
    """``n`` draws whose variance is ``ratio sd^2`` and whose law, in units of ``sd``, is at sup-distance
    ``distance`` from N(0, 1) (a location shift; 0: centred).

    Returns
    -------
    ndarray, shape (n,)
    """
    scale = math.sqrt(ratio)
    shift = normal_shift_for_distance(distance, scale) if distance > 0 else 0.0
    return sd * (shift + scale * rng.standard_normal(int(n)))


def distance_effect(n: int, level: float, power: float = 0.8) -> float:
    """The departure beyond the edge of a sup-distance band that a DKW interval at ``level`` detects with ``power``.

    With the truth at distance ``D`` from the predicted law, ``D_n >= D - sup|F_n - F|`` and the DKW
    inequality bounds ``P(sup|F_n - F| > eps(n, power)) <= 1 - power``; the FAIL interval's lower end
    ``D_n - eps(n, level)`` then clears the edge when ``D - edge >= eps(n, level) + eps(n, power)``
    (``eps`` the DKW half-width, :func:`diffapprox.stats.dkw_halfwidth`).  Conservative: the DKW bound
    holds for every continuous law.
    """
    from diffapprox.stats import dkw_halfwidth

    return float(dkw_halfwidth(int(n), level) + dkw_halfwidth(int(n), power))


def dkw_interval_at(estimate, level: float) -> tuple[float, float]:
    """The DKW interval of a sup-distance :class:`~diffapprox.stats.Estimate` (from :func:`diffapprox.stats.ks_distance`)
    at another ``level``: ``[max(0, D_n - eps), min(1, D_n + eps)]`` with ``eps`` the DKW half-width at ``level``.

    The same interval :func:`~diffapprox.stats.ks_distance` would give at ``level``, without sorting the sample again.
    """
    from diffapprox.stats import dkw_halfwidth

    d, eps = float(estimate.estimate), dkw_halfwidth(int(estimate.n), level)
    return (max(0.0, d - eps), min(1.0, d + eps))
