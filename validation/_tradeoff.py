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
* :func:`stable_delay`: the exact linear-stability limit of the delayed heavy-ball recursion (the
  library's ``max_stable_delay``; a local boundary-crossing version cross-checks it in the tests);
* :func:`new_figure` and the shared figure writer.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from diffapprox import HistoryEntry, stats

from ._common import save_figure  # noqa: F401 - re-exported: the trade-off claims call tradeoff.save_figure

__all__ = [
    "CRITERIA",
    "BEFORE_SEEDS",
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

#: Where the verdicts before the one seed derivation come from.
BEFORE_SEEDS = "earlier run: commit 839d945, profile standard, seed 20180330"


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
        old_source=BEFORE_SEEDS,
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
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols if ncols > 1 else width, height), squeeze=False)
    return fig, axes[0]


# ----------------------------------------------------------------------------- linear stability


def _roots_stable(mu: float, a: float, tau: int) -> bool:
    """All roots of z^(tau+1) - (1+mu) z^tau + mu z^(tau-1) + a inside the unit circle."""
    if tau == 0:
        c = [1.0, -(1.0 + mu - a), mu]
    else:
        c = np.zeros(tau + 2)
        c[0], c[1], c[2] = 1.0, -(1.0 + mu), mu
        c[-1] += a
    return bool(np.max(np.abs(np.roots(c))) < 1.0)


@functools.lru_cache(maxsize=4096)
def _local_max_stable_delay(mu: float, a: float, confirm: bool = False) -> int:
    """Largest integer delay for which x_{k+1} = (1+mu) x_k - mu x_{k-1} - a x_{k-tau} is stable.

    The boundary is where a root crosses z = e^{i w}: |e^{iw}-1||e^{iw}-mu| = a fixes w,
    and the phase (tau-1) w + arg(e^{iw}-1) + arg(e^{iw}-mu) = pi fixes the real delay;
    the integer answer is then confirmed with the polynomial's roots.  -1 if even tau = 0
    is unstable.
    """
    from scipy.optimize import brentq

    if not _roots_stable(mu, a, 0):
        return -1

    def mod(w):
        z = complex(math.cos(w), math.sin(w))
        return abs(z - 1) * abs(z - mu) - a

    w = brentq(mod, 1e-15, math.pi) if mod(math.pi) > 0 else math.pi
    z = complex(math.cos(w), math.sin(w))
    ph = (math.pi - math.atan2((z - 1).imag, (z - 1).real) - math.atan2((z - mu).imag, (z - mu).real)) % (2 * math.pi)
    tc = 1.0 + ph / w
    t = max(0, int(math.ceil(tc)) - 1)
    if confirm:  # the exact root test (O(tau^3); tests use it on small delays)
        while t > 0 and not _roots_stable(mu, a, t):
            t -= 1
        while _roots_stable(mu, a, t + 1):
            t += 1
    return t


@functools.lru_cache(maxsize=4096)
def stable_delay(mu: float, eta: float, lambda1: float, spectrum=(4.0, 3.0, 2.0, 1.0)) -> int:
    """Largest constant delay keeping every mode linearly stable (library ``max_stable_delay``).

    For these problems the binding mode is the radial one (a = 2 eta lambda1);
    :func:`_local_max_stable_delay` is an independent cross-check used by the tests.
    """
    from diffapprox import StreamingPCA
    from diffapprox import max_stable_delay

    if float(spectrum[0]) != float(lambda1):
        raise ValueError("lambda1 must be the spectrum's largest eigenvalue")
    r = max_stable_delay(StreamingPCA(spectrum=tuple(spectrum)), mu=float(mu), eta=float(eta))
    return -1 if r.overall is None else int(r.overall)
