"""Shared helpers of the momentum-asynchrony claims.

* :func:`tau_star` / :func:`tau_star_boot`: the "optimal delay" of Section 5.1 under
  stated criteria, from per-path final errors on a grid of delays, with a bootstrap
  over paths.
* :func:`power_law_boot`: ``tau* = C (1-mu)^p eta^-q`` fitted to each bootstrap
  replicate of a grid of thresholds (percentile CIs for p and q).
* :func:`save_figure`: PNG + SVG with matplotlib's Agg backend.
* :func:`stable_delay`: exact linear-stability limit of the delayed heavy-ball
  recursion (the library's ``max_stable_delay``; a local boundary-crossing version
  cross-checks it in the tests).

Criteria for tau* (fixed before any run; "largest" is the paper's own wording:
"the largest delay at which Async-MSGD still reaches an error similar to tau = 0"):

``ratio-c``
    the largest grid delay whose mean final error is <= c x the mean at tau = 0;
``band``
    the largest grid delay whose 95% t-interval of the mean overlaps the tau = 0 interval.

A diverged path counts as error 1 (the worst value of 1 - h_1^2/||h||^2).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from diffapprox import HistoryEntry, stats

from ._common import save_figure  # noqa: F401 - re-exported: the trade-off claims call tradeoff.save_figure

__all__ = [
    "CRITERIA",
    "tau_star",
    "tau_star_summary",
    "power_law_boot",
    "save_figure",
    "stable_delay",
    "band_verdict",
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


def tau_star(taus, errors, criterion: str) -> float:
    """tau* of one error curve (:func:`diffapprox.stats.threshold_point`)."""
    return stats.threshold_point(taus, errors, criterion)


def tau_star_summary(taus, errors, criterion: str, *, n_boot: int, seed: int, level: float = 0.95) -> dict:
    """tau*, its bootstrap replicates and a CI widened by the grid step (:func:`diffapprox.stats.threshold_ci`)."""
    t = stats.threshold_ci(taus, errors, criterion, n_boot=n_boot, seed=seed, level=level)
    return {"estimate": t.estimate, "ci": t.ci, "reps": t.replicates, "censored": t.censored}


def band_verdict(ci, band) -> str:
    """PASS/FAIL/INCONCLUSIVE of a CI against a band (:func:`diffapprox.stats.band_verdict`)."""
    return stats.band_verdict(0.0, ci, band).value


def power_law_boot(one_minus_mu, eta, tau_point, tau_reps, level: float = 0.95) -> dict:
    """:func:`diffapprox.stats.power_law_boot` as a dict."""
    f = stats.power_law_boot(one_minus_mu, eta, tau_point, tau_reps, level=level)
    R = np.asarray(tau_reps, float)
    return {
        "C": f.C,
        "p": f.p,
        "q": f.q,
        "p_ci": f.p_ci,
        "q_ci": f.q_ci,
        "usable": int(np.all(R > 0, axis=1).sum()),
        "n_boot": int(R.shape[0]),
    }


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
