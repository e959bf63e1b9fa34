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
from scipy import stats as _st

from ._common import save_figure  # noqa: F401 - re-exported: the trade-off claims call tradeoff.save_figure

__all__ = [
    "CRITERIA",
    "tau_star",
    "tau_star_boot",
    "power_law_boot",
    "save_figure",
    "stable_delay",
    "band_verdict",
]

#: name -> (kind, parameter)
CRITERIA = {"ratio-1.1": ("ratio", 1.1), "ratio-1.5": ("ratio", 1.5), "band": ("band", 0.95)}


def _criterion_ok(mean: np.ndarray, sd: np.ndarray, n: int, criterion: str) -> np.ndarray:
    """Boolean (..., n_tau): does each delay still 'reach an error similar to tau = 0'?"""
    kind, c = CRITERIA[criterion]
    if kind == "ratio":
        return mean <= c * mean[..., :1]
    q = _st.t.ppf(0.5 + c / 2, max(n - 1, 1))
    hw = q * sd / math.sqrt(n)
    lo, hi = mean - hw, mean + hw
    return (lo <= hi[..., :1]) & (hi >= lo[..., :1])


def _largest(taus: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Largest tau with ok True (tau = 0 is always ok)."""
    idx = np.where(ok, np.arange(ok.shape[-1]), 0).max(axis=-1)
    return taus[idx]


def tau_star(taus, errors, criterion: str) -> float:
    """tau* of one error curve.

    Parameters
    ----------
    taus : array, shape (n_tau,)
        Increasing delays, ``taus[0] == 0``.
    errors : array, shape (n_tau, paths)
        Final errors per delay and path (diverged paths already set to 1).
    criterion : str
        A key of :data:`CRITERIA`.
    """
    taus = np.asarray(taus, dtype=float)
    e = np.asarray(errors, dtype=float)
    if taus[0] != 0 or e.shape[0] != taus.size:
        raise ValueError("expected taus starting at 0 and one error row per tau")
    ok = _criterion_ok(e.mean(axis=1), e.std(axis=1, ddof=1), e.shape[1], criterion)
    return float(_largest(taus, ok))


def tau_star_boot(taus, errors, criterion: str, *, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap replicates of :func:`tau_star`: paths resampled within each delay."""
    taus = np.asarray(taus, dtype=float)
    e = np.asarray(errors, dtype=float)
    n_tau, n = e.shape
    rng = np.random.default_rng(seed)
    out = np.empty(n_boot)
    chunk = max(1, int(2_000_000 // max(n_tau * n, 1)))
    for b0 in range(0, n_boot, chunk):
        b1 = min(n_boot, b0 + chunk)
        idx = rng.integers(0, n, size=(b1 - b0, n_tau, n))
        x = np.take_along_axis(e[None, :, :], idx, axis=2)
        ok = _criterion_ok(x.mean(axis=2), x.std(axis=2, ddof=1), n, criterion)
        out[b0:b1] = _largest(taus, ok)
    return out


def tau_star_summary(taus, errors, criterion: str, *, n_boot: int, seed: int, level: float = 0.95) -> dict:
    """tau*, its bootstrap replicates and a CI widened by the grid step.

    The true crossing lies between tau* and the next grid delay, so the upper CI end
    is moved up by one grid step; a tau* at the last grid delay is censored (only a
    lower bound; upper end infinite).
    """
    taus = np.asarray(taus, dtype=float)
    est = tau_star(taus, errors, criterion)
    reps = tau_star_boot(taus, errors, criterion, n_boot=n_boot, seed=seed)
    lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])
    i_hi = int(np.searchsorted(taus, hi))
    censored = bool(est >= taus[-1])
    hi_w = math.inf if (censored or i_hi >= taus.size - 1) else float(taus[i_hi + 1])
    return {"estimate": est, "ci": (float(lo), hi_w), "reps": reps, "censored": censored}


def band_verdict(ci, band) -> str:
    """PASS/FAIL/INCONCLUSIVE of a CI (upper end may be inf) against a closed band (ends may be inf)."""
    lo, hi = float(ci[0]), float(ci[1])
    blo, bhi = float(band[0]), float(band[1])
    if math.isnan(lo) or math.isnan(hi):
        return "INCONCLUSIVE"
    if blo <= lo and hi <= bhi:
        return "PASS"
    if hi < blo or lo > bhi:
        return "FAIL"
    return "INCONCLUSIVE"


def power_law_boot(one_minus_mu, eta, tau_point, tau_reps, level: float = 0.95) -> dict:
    """Fit ``log tau = log C + p log(1-mu) - q log eta`` to the point estimates and to each replicate.

    Parameters
    ----------
    one_minus_mu, eta, tau_point : arrays, shape (m,)
    tau_reps : array, shape (n_boot, m)
        Bootstrap replicates of tau at each grid point (paths resampled).
        Replicates with a non-positive tau are skipped and counted.
    """
    a = np.asarray(one_minus_mu, float)
    e = np.asarray(eta, float)
    X = np.column_stack([np.ones(a.size), np.log(a), -np.log(e)])
    t = np.asarray(tau_point, float)
    if np.any(t <= 0):
        beta = np.full(3, math.nan)
    else:
        beta = np.linalg.lstsq(X, np.log(t), rcond=None)[0]
    R = np.asarray(tau_reps, float)
    good = np.all(R > 0, axis=1)
    if good.any():
        B = np.linalg.lstsq(X, np.log(R[good]).T, rcond=None)[0].T
        qs = [(1 - level) / 2, (1 + level) / 2]
        p_ci = tuple(float(v) for v in np.quantile(B[:, 1], qs))
        q_ci = tuple(float(v) for v in np.quantile(B[:, 2], qs))
    else:
        p_ci = q_ci = (math.nan, math.nan)
    return {
        "C": float(math.exp(beta[0])) if np.isfinite(beta[0]) else math.nan,
        "p": float(beta[1]),
        "q": float(beta[2]),
        "p_ci": p_ci,
        "q_ci": q_ci,
        "usable": int(good.sum()),
        "n_boot": int(R.shape[0]),
    }


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


def ratio_ci(num, den, *, n_boot: int, seed: int, level: float = 0.95) -> tuple[float, tuple[float, float]]:
    """mean(num)/mean(den) of two independent samples, percentile bootstrap CI (each resampled)."""
    a = np.asarray(num, float)
    b = np.asarray(den, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 2 or b.size < 2 or b.mean() == 0:
        return math.nan, (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    ra = a[rng.integers(0, a.size, (n_boot, a.size))].mean(axis=1)
    rb = b[rng.integers(0, b.size, (n_boot, b.size))].mean(axis=1)
    r = ra / rb
    lo, hi = np.quantile(r, [(1 - level) / 2, (1 + level) / 2])
    return float(a.mean() / b.mean()), (float(lo), float(hi))


def boot_slope(x, samples, stat, *, n_boot: int, seed: int, level: float = 0.95) -> tuple[float, tuple]:
    """Log-log OLS slope of ``stat(samples)`` (a vector, one value per x) on x, bootstrap over paths.

    ``samples`` is a list of arrays (paths,); ``stat`` maps the list to a vector of
    positive values (so it may combine samples, e.g. differences of means).
    Resamples with a non-positive value are skipped.
    """
    lx = np.log(np.asarray(x, float))
    X = np.column_stack([np.ones(lx.size), lx])
    y = np.asarray(stat(samples), float)
    est = float(np.linalg.lstsq(X, np.log(y), rcond=None)[0][1]) if np.all(y > 0) else math.nan
    rng = np.random.default_rng(seed)
    out = []
    arrs = [np.asarray(s, float) for s in samples]
    for _ in range(n_boot):
        yb = np.asarray(stat([a[rng.integers(0, a.size, a.size)] for a in arrs]), float)
        if np.all(yb > 0):
            out.append(np.linalg.lstsq(X, np.log(yb), rcond=None)[0][1])
    if len(out) < 10:
        return est, (math.nan, math.nan)
    lo, hi = np.quantile(out, [(1 - level) / 2, (1 + level) / 2])
    return est, (float(lo), float(hi))
