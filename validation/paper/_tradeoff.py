"""Shared helpers of the momentum-asynchrony claims (figure1, delay-threshold, random-delay, async-speedup,
norm-bound, momentum-bias, async-error).

Every interval, fit and verdict rule they use lives in :mod:`diffapprox.stats` (thresholds of curves,
ratios of means, slopes of path statistics, power-law fits, the censored band verdict); this module
holds what is particular to these claims:

* :data:`CRITERIA`: the criteria of tau*, "the largest delay at which Async-MSGD still reaches an error
  similar to tau = 0" (Section 5.1's optimal delay), fixed before any run: ``ratio-c`` (mean error
  <= c x the tau = 0 mean) and ``band`` (95% t-intervals overlap);
* :func:`seeds_entry`: the dated history entry of the one seed derivation;
* planning and synthetic controls: :func:`gamma_paths`, :func:`threshold_curve`, :func:`slope_se`,
  :func:`effect`, and :func:`finite_paths` (the diverged-path rule: moments use the finite paths and
  count the others);
* :func:`stable_delay`: the exact linear-stability limit of the delayed heavy-ball recursion on the
  reference spectrum (the library's ``max_stable_delay``);
* :func:`new_figure` (one row of panels) and the shared figure writer.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from diffapprox import HistoryEntry, stats
from diffapprox.engine import StreamingPCA
from diffapprox.limits import max_stable_delay

from .. import _common
from .._common import save_figure  # noqa: F401 - re-exported: the trade-off claims call tradeoff.save_figure

__all__ = [
    "CRITERIA",
    "seeds_entry",
    "gamma_paths",
    "finite_paths",
    "slope_se",
    "threshold_curve",
    "effect",
    "new_figure",
    "save_figure",
    "stable_delay",
]

CRITERIA = stats.THRESHOLD_CRITERIA


def seeds_entry(version: int, old_verdict: str) -> HistoryEntry:
    """The dated change to the one seed derivation (bootstrap seeds from ``derive_seed``): numbers move."""
    return HistoryEntry(
        date="2026-11-29",
        version=version,
        change=(
            "bootstrap seeds derived as derive_seed(seed, claim id, label) instead of arithmetic on the "
            "master seed (seed * 7919 + ..., seed + 1, ...); bands, grids and path counts unchanged"
        ),
        reason=(
            "one seed derivation for the whole project: a seed depends only on the master seed and on "
            "what it is for, so seeds of different claims and rows cannot collide; the bootstrap CIs move"
        ),
        old_verdict=old_verdict,
        old_source=_common.SEED_CHANGE_SOURCE,
    )


# ----------------------------------------------------------------------------- controls and planning


def gamma_paths(rng: np.random.Generator, mean, cv: float, n: int) -> np.ndarray:
    """``n`` positive per-path values with mean ``mean`` and coefficient of variation ``cv`` (a gamma law).

    The synthetic controls draw path statistics (errors, norms, passage times) this way: right-skewed
    and positive like the real ones, with the spread of the claim's own Monte-Carlo noise.
    """
    k = 1.0 / (cv * cv)
    return rng.gamma(k, float(mean) / k, size=n)


def finite_paths(x) -> tuple[np.ndarray, int]:
    """The finite values of a per-path array and how many were left out (diverged or not observed)."""
    a = np.asarray(x, dtype=float).ravel()
    ok = np.isfinite(a)
    return a[ok], int(a.size - ok.sum())


def slope_se(x, se_points) -> float:
    """Planned SE of an OLS slope of ``log y`` on ``log x`` when ``log y_j`` has standard error ``se_points[j]``.

    ``sqrt(sum_j w_j^2 se_j^2)`` with the OLS weights ``w_j = (log x_j - mean) / S_xx``.
    """
    lx = np.log(np.asarray(x, dtype=float))
    w = (lx - lx.mean()) / float(((lx - lx.mean()) ** 2).sum())
    return float(math.sqrt(float((w * w * np.asarray(se_points, dtype=float) ** 2).sum())))


def threshold_curve(rng: np.random.Generator, taus, theta: float, base: float, cv: float, n: int, jump: float = 4.0):
    """Per-path errors, shape (len(taus), n), of a delay curve whose tolerable delay is ``theta``.

    The mean error is ``base`` up to ``theta`` and ``jump x base`` beyond (a sharp crossing, like the
    measured curves near the linear-stability limit), with gamma per-path noise of coefficient of
    variation ``cv``: every criterion of :data:`diffapprox.stats.THRESHOLD_CRITERIA` then reads the
    largest grid delay <= ``theta``.
    """
    t = np.asarray(taus, dtype=float)
    mean = np.where(t <= theta, base, base * jump)
    k = 1.0 / (cv * cv)
    return rng.gamma(k, 1.0 / k, size=(t.size, n)) * mean[:, None]


def effect(se: float, m: int) -> float:
    """The stated detectable effect of one of ``m`` judged rows whose planned standard error is ``se``."""
    return stats.detectable_effect(se, level=stats.row_level(m))


def new_figure(ncols: int = 1, width: float = 6.4, height: float = 4.4):
    """:func:`validation._common.new_figure` with one row of ``ncols`` panels of ``width x height``: (fig, axes)."""
    fig, axes = _common.new_figure(ncols, 1, size=(width, height))
    return fig, axes[0]


# ----------------------------------------------------------------------------- linear stability


@functools.lru_cache(maxsize=4096)
def stable_delay(mu: float, eta: float) -> int:
    """Largest constant delay keeping every mode of the reference spectrum linearly stable (-1: none).

    The library's ``max_stable_delay``; for these problems the binding mode is the radial one
    (``a = 2 eta lambda_1``).
    """
    r = max_stable_delay(StreamingPCA(spectrum=_common.SPECTRUM), mu=float(mu), eta=float(eta))
    return -1 if r.overall is None else int(r.overall)
