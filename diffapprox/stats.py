"""Statistics behind every verdict: confidence intervals, equivalence
tests, goodness of fit with Holm's correction, and scaling-exponent fits.

Every interval function returns an :class:`Estimate` (value, two-sided CI, level,
sample size, method).  Verdicts come from two rules, stated here once:

Equivalence (:func:`equivalence`)
    A tolerance band ``[lo, hi]`` around the prediction is fixed before measuring.
    PASS when the whole CI lies inside the closed band; FAIL when the CI lies
    entirely outside it (``ci_hi < lo`` or ``ci_lo > hi``); INCONCLUSIVE otherwise,
    and also when the estimate or CI is not finite (no usable data).

Goodness of fit by distance (:func:`ks_distance`, :func:`gof_distance`)
    A law that holds only in a limit is always rejected by enough paths, so a point-null
    test would turn path counts into verdicts.  Instead the Kolmogorov sup-distance
    between the sample's law and the prediction is estimated with a CI (the DKW band,
    Massart's constant) and judged against ``[0, effect]`` by the equivalence rule: more
    paths sharpen the verdict and never flip it.  KS / Anderson–Darling / Cramér–von
    Mises p-values (:func:`gof`, Holm across the tests) are context.

Diverged paths (:func:`measurement` ``diverged=``)
    A path that diverges (non-finite, or frozen by the kernel's divergence bound) is never
    dropped silently.  An event probability counts it as the event *not* happening when the
    event is the paper's good outcome (escape, arrival, error below epsilon), i.e. against the
    paper, with the path kept in the denominator.  A moment, quantile, slope or distance is
    computed on the finite paths, and the row states how many diverged; if any did, the row
    cannot PASS (a PASS becomes INCONCLUSIVE): the law that was measured is then not the
    whole law.

One decision rule (:data:`DECISION_RULE`, :func:`decide`)
    PASS by intersection-union: every judged row's two-sided 95% interval lies inside its band
    (each row a TOST at 2.5%; the claim's false PASS is at most 2.5% with no multiplicity
    correction, Berger and Hsu 1996, Statist. Sci. 11(4)).  FAIL when some row's FAIL interval,
    a Bonferroni interval at family level :data:`FAIL_FAMILY_ALPHA` over the claim's judged rows
    (:func:`fail_level`), lies entirely outside its band.  INCONCLUSIVE otherwise, naming each
    undecided row with the sample size that would decide it (:func:`needed_n`).

Band and effect (:func:`detectable_effect`)
    Each judged measurement states its band and, separately, the effect beyond the band's
    edge it is built to detect at the profile's sample size: ``(z_{1-a/2} + z_power) SE``.

All randomness (bootstrap) comes from an explicit ``seed``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from ._core.errors import DiffapproxError, check_int, check_range
from ._core.results import Measurement, Verdict

__all__ = [
    "Estimate",
    "mean_ci",
    "proportion_ci",
    "quantile_ci",
    "bootstrap_ci",
    "second_moment_ci",
    "variance_ci",
    "path_means_ci",
    "batch_means_ci",
    "relative_band",
    "absolute_band",
    "equivalence",
    "measurement",
    "detectable_effect",
    "row_level",
    "DECISION_RULE",
    "PASS_LEVEL",
    "FAIL_FAMILY_ALPHA",
    "fail_level",
    "decide",
    "needed_n",
    "NULL_FAIL_TARGET",
    "POWER_TARGET",
    "dkw_halfwidth",
    "ks_distance",
    "gof_distance",
    "GofTest",
    "GofResult",
    "ks_test",
    "ad_test",
    "cvm_test",
    "ad_pvalue",
    "holm",
    "gof",
    "gof_measurements",
    "ks_detectable_distance",
    "SlopeFit",
    "loglog_slope",
    "loglog_slope_bootstrap",
    "PowerLawFit",
    "power_law_fit",
    "bootstrap_mean_weights",
    "replicate_ci",
    "loglog_slope_replicates",
    "proportion_effect",
    "scaled_effect",
    "distance_alternative",
    "gof_holm_pooled",
    "detectable_effect_t",
    "resample_indices",
    "percentile_ci",
    "grid_argmax",
    "spearman_rows",
    "tv_distances",
    "block_bootstrap_tv",
    "excess_tv",
    "one_draw_ci",
    "contrast_ci",
    "max_abs_ci",
    "box_slope",
    "band_verdict",
    "THRESHOLD_CRITERIA",
    "threshold_point",
    "threshold_replicates_all",
    "THRESHOLD_RESAMPLING",
    "threshold_cis",
    "threshold_cis_levels",
    "Threshold",
    "threshold_ci",
    "ratio_ci",
    "loglog_slope_boot",
    "power_law_boot",
    "power_law_boot_levels",
    "interval_censored",
]


# ---------------------------------------------------------------------------
# Confidence intervals
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """A point estimate with a two-sided confidence interval.

    Attributes
    ----------
    estimate : float
    ci : (float, float)
        ``(lo, hi)``; NaN when it cannot be formed (e.g. fewer than 2 values).
    level : float
        Confidence level, e.g. 0.95.
    n : int
        Number of independent units the CI rests on (values, paths, batches).
    method : str
        How the CI was formed, shown in reports.
    """

    estimate: float
    ci: tuple[float, float]
    level: float
    n: int
    method: str

    @property
    def half_width(self) -> float:
        return 0.5 * (self.ci[1] - self.ci[0])


def _level(level: float) -> float:
    return check_range("level", level, 0.0, 1.0, lo_open=True, hi_open=True)


def _finite_1d(name: str, x) -> np.ndarray:
    a = np.asarray(x, dtype=float).ravel()
    return a[np.isfinite(a)]


_NAN2 = (math.nan, math.nan)


@functools.lru_cache(maxsize=4096)
def _z(level: float) -> float:
    """The normal quantile ``z_{(1+level)/2}`` of a two-sided ``level`` interval."""
    return _st.norm.ppf(0.5 + level / 2)


@functools.lru_cache(maxsize=4096)
def _t(level: float, dof: int) -> float:
    """The Student-t quantile ``t_{(1+level)/2, dof}`` of a two-sided ``level`` interval (cached: claims ask for
    the same few levels and sizes thousands of times in a calibration)."""
    return _st.t.ppf(0.5 + level / 2, dof)


def _tails(values, level: float) -> tuple[float, float]:
    """The ``(1-level)/2`` and ``(1+level)/2`` quantiles of ``values``: a percentile interval."""
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def mean_ci(x, level: float = 0.95, method: str = "t") -> Estimate:
    """Mean of independent values with a Student-t (``"t"``) or normal (``"normal"``) CI.

    Non-finite values are dropped (``n`` counts what was used).
    """
    level = _level(level)
    a = _finite_1d("x", x)
    n = a.size
    if method not in ("t", "normal"):
        raise DiffapproxError("method", "'t' or 'normal'", method)
    if n == 0:
        return Estimate(estimate=math.nan, ci=_NAN2, level=level, n=0, method=f"mean, {method} CI")
    m = float(a.mean())
    if n < 2:
        return Estimate(estimate=m, ci=_NAN2, level=level, n=n, method=f"mean, {method} CI")
    se = float(a.std(ddof=1)) / math.sqrt(n)
    q = _t(level, n - 1) if method == "t" else _z(level)
    return Estimate(
        estimate=m, ci=(float(m - q * se), float(m + q * se)), level=level, n=n, method=f"mean, {method} CI"
    )


def proportion_ci(k: int, n: int, level: float = 0.95) -> Estimate:
    """Proportion ``k/n`` with the Wilson score interval."""
    level = _level(level)
    n = check_int("n", n, 0)
    k = check_int("k", k, 0, max(n, 0))
    if n == 0:
        return Estimate(estimate=math.nan, ci=(0.0, 1.0), level=level, n=0, method="Wilson")
    lo, hi = _wilson_bounds(k, n, level)
    return Estimate(estimate=k / n, ci=(float(max(0.0, lo)), float(min(1.0, hi))), level=level, n=n, method="Wilson")


def _wilson_bounds(k, n: int, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson interval ends for a count ``k`` of ``n`` (or an array of counts); exactly 0 at ``k = 0``, 1 at ``k = n``."""
    z = _z(level)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return np.where(k == 0, 0.0, centre - half), np.where(k == n, 1.0, centre + half)


def quantile_ci(x, q: float, level: float = 0.95) -> Estimate:
    """Sample ``q``-quantile with a distribution-free order-statistic CI.

    The CI is ``[x_(l), x_(u)]`` with ``l, u`` the binomial(n, q) quantiles at
    ``(1-level)/2`` and ``(1+level)/2``; coverage is at least ``level`` up to the
    discreteness of the binomial.  An end is ``-inf``/``inf`` when ``n`` is too small
    (the data cannot bound it).
    """
    level = _level(level)
    q = check_range("q", q, 0.0, 1.0, lo_open=True, hi_open=True)
    a = np.sort(_finite_1d("x", x))
    n = a.size
    if n == 0:
        return Estimate(estimate=math.nan, ci=_NAN2, level=level, n=0, method="order statistics")
    est = float(np.quantile(a, q))
    b = _st.binom(n, q)
    lo_i = int(b.ppf((1 - level) / 2))  # number of values below the lower end, 0-based index
    hi_i = int(b.ppf((1 + level) / 2))
    lo = float(a[lo_i - 1]) if lo_i >= 1 else -math.inf
    hi = float(a[hi_i]) if hi_i < n else math.inf
    return Estimate(estimate=est, ci=(lo, hi), level=level, n=n, method="order statistics (binomial)")


def bootstrap_ci(
    data,
    statistic: Callable[[np.ndarray], float] = np.mean,
    *,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int,
) -> Estimate:
    """Percentile bootstrap CI of ``statistic(data)``, resampling along axis 0.

    Parameters
    ----------
    data : array, shape (n, ...)
        Independent units along axis 0 (e.g. paths).
    statistic : callable
        ``array (n, ...) -> float``.
    seed : int
        Seed of the resampling stream (results depend on nothing else).
    """
    level = _level(level)
    n_boot = check_int("n_boot", n_boot, 10)
    a = np.asarray(data, dtype=float)
    n = a.shape[0] if a.ndim else 0
    if n < 2:
        est = float(statistic(a)) if n else math.nan
        return Estimate(estimate=est, ci=_NAN2, level=level, n=n, method="percentile bootstrap")
    est = float(statistic(a))
    reps = np.array([statistic(a[i]) for i in resample_indices(n, n_boot, seed)], dtype=float)
    return Estimate(
        estimate=est,
        ci=_tails(reps[np.isfinite(reps)], level),
        level=level,
        n=n,
        method=f"percentile bootstrap ({n_boot} resamples)",
    )


def second_moment_ci(x, level: float = 0.95) -> Estimate:
    """E[X^2] of independent values: mean of ``x**2`` with a t CI (CLT on the squares)."""
    a = _finite_1d("x", x)
    e = mean_ci(a * a, level)
    return Estimate(estimate=e.estimate, ci=e.ci, level=e.level, n=e.n, method="mean of squares, t CI")


def variance_ci(x, level: float = 0.95) -> Estimate:
    """Variance of independent values with an asymptotic (distribution-free) CI.

    ``s^2 +- z * sqrt((m4 - s^4 (n-3)/(n-1)) / n)`` with ``m4`` the fourth central
    sample moment: the CLT for the sample variance, valid for any law with a finite
    fourth moment (unlike the chi-square interval, which assumes normality).
    """
    level = _level(level)
    a = _finite_1d("x", x)
    n = a.size
    if n < 4:
        v = float(a.var(ddof=1)) if n >= 2 else math.nan
        return Estimate(estimate=v, ci=_NAN2, level=level, n=n, method="variance, CLT CI")
    c = a - a.mean()
    s2 = float((c * c).sum() / (n - 1))
    m4 = float((c**4).mean())
    var_s2 = max(m4 - s2 * s2 * (n - 3) / (n - 1), 0.0) / n
    h = float(_z(level) * math.sqrt(var_s2))
    return Estimate(estimate=s2, ci=(s2 - h, s2 + h), level=level, n=n, method="variance, CLT CI")


def path_means_ci(values, level: float = 0.95) -> Estimate:
    """Time average over a window, CI from the spread across independent paths.

    For a stationary window of autocorrelated records (e.g. ``h_i^2 / eta``),
    average each path over time, then form a t CI from the independent path means.
    Autocorrelation within a path only changes the variance of each path mean,
    which the across-path spread measures directly: no correlation time needs to
    be estimated.  Paths containing a non-finite record are dropped (count them
    upstream and report them).

    Parameters
    ----------
    values : array, shape (paths, times)
    """
    a = np.asarray(values, dtype=float)
    if a.ndim != 2:
        raise DiffapproxError("values", "an array of shape (paths, times)", f"shape {a.shape}")
    ok = np.all(np.isfinite(a), axis=1)
    means = a[ok].mean(axis=1) if a.shape[1] else np.empty(0)
    e = mean_ci(means, level)
    return Estimate(
        estimate=e.estimate,
        ci=e.ci,
        level=e.level,
        n=e.n,
        method=f"path means over {a.shape[1]} records, t CI across {e.n} paths",
    )


def batch_means_ci(series, n_batches: int = 20, level: float = 0.95) -> Estimate:
    """Mean of one long stationary series with a batch-means t CI.

    The series is cut into ``n_batches`` contiguous batches (the remainder at the
    start is dropped); the CI is a t interval on the batch means.  Valid when each
    batch is much longer than the correlation time.  With several independent
    paths prefer :func:`path_means_ci`.
    """
    n_batches = check_int("n_batches", n_batches, 2)
    a = np.asarray(series, dtype=float).ravel()
    m = a.size // n_batches
    if m == 0:
        raise DiffapproxError("series", f"at least n_batches={n_batches} values", a.size)
    b = a[a.size - m * n_batches :].reshape(n_batches, m).mean(axis=1)
    e = mean_ci(b, level)
    return Estimate(
        estimate=e.estimate, ci=e.ci, level=e.level, n=e.n, method=f"batch means ({n_batches} batches of {m}), t CI"
    )


# ---------------------------------------------------------------------------
# Equivalence verdicts
# ---------------------------------------------------------------------------
def relative_band(prediction: float, r: float) -> tuple[float, float]:
    """``prediction * (1 - r), prediction * (1 + r)`` ordered (works for negative predictions)."""
    p = float(prediction)
    r = check_range("r", r, 0.0)
    a, b = p * (1 - r), p * (1 + r)
    return (min(a, b), max(a, b))


def absolute_band(prediction: float, a: float) -> tuple[float, float]:
    """``prediction - a, prediction + a``."""
    a = check_range("a", a, 0.0)
    return (float(prediction) - a, float(prediction) + a)


def equivalence(estimate: float, ci: Sequence[float], band: Sequence[float]) -> Verdict:
    """Equivalence verdict of a CI against a tolerance band stated before measuring.

    PASS if ``band[0] <= ci[0]`` and ``ci[1] <= band[1]`` (CI inside the closed band);
    FAIL if ``ci[1] < band[0]`` or ``ci[0] > band[1]`` (CI entirely outside);
    INCONCLUSIVE otherwise, or when estimate/CI are not finite (an infinite band
    end is allowed: one-sided bands).  :func:`band_verdict` is the same rule for a CI
    with an infinite end.
    """
    v = band_verdict(estimate, ci, band)
    finite = math.isfinite(float(estimate)) and math.isfinite(float(ci[0])) and math.isfinite(float(ci[1]))
    return v if finite else Verdict.INCONCLUSIVE


def band_verdict(estimate: float, ci: Sequence[float], band: Sequence[float]) -> Verdict:
    """The equivalence rule of :func:`equivalence` for a CI that may be unbounded on one side.

    A censored estimate (e.g. a threshold found at the last point of its grid) has a CI such as
    ``(lo, inf)``: the data bound it on one side only.  PASS when the whole CI lies inside the
    closed band, FAIL when it lies entirely outside, INCONCLUSIVE otherwise or when the estimate or
    a CI end is NaN.  Band ends may be infinite (one-sided bands).
    """
    lo, hi = float(band[0]), float(band[1])
    if not lo <= hi:
        raise DiffapproxError("band", "lo <= hi", tuple(band))
    c0, c1 = float(ci[0]), float(ci[1])
    if math.isnan(float(estimate)) or math.isnan(c0) or math.isnan(c1):
        return Verdict.INCONCLUSIVE
    if lo <= c0 and c1 <= hi:
        return Verdict.PASS
    if c1 < lo or c0 > hi:
        return Verdict.FAIL
    return Verdict.INCONCLUSIVE


def measurement(
    name: str,
    estimate: float | Estimate,
    ci: Sequence[float] | None = None,
    prediction: float | None = None,
    band: Sequence[float] | None = None,
    *,
    note: str = "",
    level: float | None = None,
    verdict: Verdict | None = None,
    judged: bool = True,
    effect: float | None = None,
    diverged: int = 0,
    ci_fail: Sequence[float] | Estimate | None = None,
    n: int | None = None,
) -> Measurement:
    """Build a :class:`~diffapprox.Measurement`, judging it by :func:`equivalence`.

    ``estimate`` may be an :class:`Estimate` (then ``ci``, ``level`` and ``n`` come from it
    and its method is appended to ``note``).  With ``ci_fail`` (the row's FAIL interval, a pair
    or an :class:`Estimate`, from :func:`fail_level`) the verdict is :func:`decide`: PASS when
    ``ci`` lies inside the band, FAIL when ``ci_fail`` lies entirely outside it.  Without it the
    verdict is ``verdict`` if given, else ``equivalence(estimate, ci, band)`` (one interval both
    ways); without a band and verdict it is INCONCLUSIVE (nothing to judge against).  An
    INCONCLUSIVE row with a known sample size ``n`` states the size that would decide it
    (:func:`needed_n`).  ``effect`` is the stated detectable effect
    (:func:`detectable_effect`); ``diverged`` the number of paths left out because they
    diverged, which withholds a PASS (the diverged-path rule in this module's docstring).
    """
    if isinstance(estimate, Estimate):
        ci = estimate.ci if ci is None else ci
        level = estimate.level if level is None else level
        note = f"{note}; {estimate.method}, n={estimate.n}" if note else f"{estimate.method}, n={estimate.n}"
        n = estimate.n if n is None else n
        estimate = estimate.estimate
    ci = _NAN2 if ci is None else (float(ci[0]), float(ci[1]))
    if isinstance(ci_fail, Estimate):
        ci_fail = ci_fail.ci
    ci_fail = None if ci_fail is None else (float(ci_fail[0]), float(ci_fail[1]))
    level = 0.95 if level is None else float(level)
    if verdict is None and ci_fail is not None and band is not None:
        verdict = decide(estimate, ci, ci_fail, band)
    if verdict is None:
        verdict = Verdict.INCONCLUSIVE if band is None else equivalence(estimate, ci, band)
    diverged = check_int("diverged", diverged, 0)
    if diverged:
        note = f"{note}; {diverged} diverged path(s) left out" if note else f"{diverged} diverged path(s) left out"
        if Verdict(verdict) is Verdict.PASS:
            verdict = Verdict.INCONCLUSIVE
            note += " (PASS withheld: the measured law is not the whole law)"
    return Measurement(
        name=name,
        estimate=None if estimate is None else float(estimate),
        ci=ci,
        prediction=None if prediction is None else float(prediction),
        tolerance=None if band is None else (float(band[0]), float(band[1])),
        verdict=Verdict(verdict),
        ci_level=level,
        judged=judged,
        note=note,
        effect=None if effect is None else float(effect),
        ci_fail=ci_fail,
        needed_paths=needed_n(estimate, ci, ci_fail, band, n)
        if judged and Verdict(verdict) is Verdict.INCONCLUSIVE
        else None,
    )


# ---------------------------------------------------------------------------
# Goodness of fit
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class GofTest:
    """One goodness-of-fit test: statistic, raw p-value and Holm-adjusted p-value."""

    name: str
    statistic: float
    pvalue: float
    pvalue_holm: float = math.nan


@dataclass(frozen=True, slots=True, kw_only=True)
class GofResult:
    """Several GOF tests of one sample against one CDF, with the verdict of :func:`gof`."""

    tests: tuple[GofTest, ...]
    n: int
    alpha: float
    verdict: Verdict
    note: str


def _cdf_values(x, cdf: Callable) -> tuple[np.ndarray, int]:
    a = np.sort(_finite_1d("x", x))
    u = np.asarray(cdf(a), dtype=float)
    return u, a.size


def ks_test(x, cdf: Callable) -> GofTest:
    """Kolmogorov–Smirnov test against a fully specified continuous CDF (scipy, exact p for small n)."""
    r = _st.kstest(_finite_1d("x", x), cdf)
    return GofTest(name="KS", statistic=float(r.statistic), pvalue=float(r.pvalue))


def cvm_test(x, cdf: Callable) -> GofTest:
    """Cramér–von Mises test against a fully specified CDF (scipy; Csörgő–Faraway p-value)."""
    r = _st.cramervonmises(_finite_1d("x", x), cdf)
    return GofTest(name="CvM", statistic=float(r.statistic), pvalue=float(min(max(r.pvalue, 0.0), 1.0)))


def ad_pvalue(a2: float, n: int) -> float:
    """P(A_n^2 >= a2) for a fully specified continuous CDF.

    Marsaglia & Marsaglia (2004), "Evaluating the Anderson-Darling distribution",
    J. Stat. Softw. 9(2): the asymptotic ADinf approximation plus their finite-n
    correction ``errfix``; accurate to about 5 digits for n >= 5.  (scipy's
    ``anderson`` estimates the parameters, and ``anderson_ksamp`` is k-sample, so
    neither applies to a known CDF.)
    """
    z = float(a2)
    if not z > 0:
        return 1.0
    if z < 2:
        x = (
            math.exp(-1.2337141 / z)
            / math.sqrt(z)
            * (2.00012 + (0.247105 - (0.0649821 - (0.0347962 - (0.011672 - 0.00168691 * z) * z) * z) * z) * z)
        )
    else:
        x = math.exp(
            -math.exp(1.0776 - (2.30695 - (0.43424 - (0.082433 - (0.008056 - 0.0003146 * z) * z) * z) * z) * z)
        )
    c = 0.01265 + 0.1757 / n
    if x > 0.8:
        fix = (-130.2137 + (745.2337 - (1705.091 - (1950.646 - (1116.360 - 255.7844 * x) * x) * x) * x) * x) / n
    elif x < c:
        t = x / c
        fix = math.sqrt(t) * (1 - t) * (49 * t - 102) * (0.0037 / n**3 + 0.00078 / n**2 + 0.00006 / n)
    else:
        t = (x - c) / (0.8 - c)
        fix = (-0.00022633 + (6.54034 - (14.6538 - (14.458 - (8.259 - 1.91864 * t) * t) * t) * t) * t) * (
            0.04213 / n + 0.01365 / n**2
        )
    return float(min(max(1.0 - (x + fix), 0.0), 1.0))


def ad_test(x, cdf: Callable) -> GofTest:
    """Anderson–Darling test against a fully specified continuous CDF (p-value: :func:`ad_pvalue`)."""
    u, n = _cdf_values(x, cdf)
    if n == 0:
        return GofTest(name="AD", statistic=math.nan, pvalue=math.nan)
    eps = np.finfo(float).tiny
    u = np.clip(u, eps, 1 - 1e-16)
    i = np.arange(1, n + 1)
    a2 = float(-n - np.sum((2 * i - 1) * (np.log(u) + np.log1p(-u[::-1]))) / n)
    return GofTest(name="AD", statistic=a2, pvalue=ad_pvalue(a2, n))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values, in the input order.

    With ``p_(1) <= ... <= p_(m)``: ``adj_(k) = max_{j<=k} min(1, (m - j + 1) p_(j))``.
    Rejecting where ``adj < alpha`` controls the family-wise error rate at alpha.
    NaN p-values are treated as 1.
    """
    p = np.asarray(pvalues, dtype=float)
    p = np.where(np.isfinite(p), p, 1.0)
    m = p.size
    order = np.argsort(p, kind="stable")
    adj_sorted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj_sorted
    return out


def ks_detectable_distance(n: int, alpha: float = 0.05) -> float:
    """The smallest sup-distance between CDFs that the KS test at level alpha rejects
    for sure at sample size ``n`` (the KS critical value, exact distribution)."""
    return _ks_crit(check_int("n", n, 1), float(alpha))


@functools.lru_cache(maxsize=256)
def _ks_crit(n: int, alpha: float) -> float:
    return float(_st.kstwo.ppf(1 - alpha, n))


_TESTS = {"ks": ks_test, "ad": ad_test, "cvm": cvm_test}


def gof(
    x,
    cdf: Callable,
    *,
    tests: Sequence[str] = ("ks", "ad", "cvm"),
    alpha: float = 0.05,
    detect: float | None = None,
) -> GofResult:
    """Goodness of fit of a sample to a predicted continuous CDF, Holm across the tests.

    Verdict rule: FAIL if any Holm-adjusted p-value < ``alpha``.  Otherwise PASS,
    except INCONCLUSIVE when ``detect`` is given and the sample is too small for the
    KS test to see a deviation of sup-distance ``detect`` (``ks_detectable_distance(n,
    alpha) > detect``), or when fewer than 5 finite values are available.  The note
    states the distance the sample could detect.
    """
    alpha = check_range("alpha", alpha, 0.0, 1.0, lo_open=True, hi_open=True)
    for t in tests:
        if t not in _TESTS:
            raise DiffapproxError("tests", f"names among {', '.join(_TESTS)}", t)
    a = _finite_1d("x", x)
    n = a.size
    if n < 5:
        return GofResult(
            tests=(), n=n, alpha=alpha, verdict=Verdict.INCONCLUSIVE, note=f"only {n} finite values: no test"
        )
    raw = [_TESTS[t](a, cdf) for t in tests]
    adj = holm([r.pvalue for r in raw])
    res = tuple(
        GofTest(name=r.name, statistic=r.statistic, pvalue=r.pvalue, pvalue_holm=float(q)) for r, q in zip(raw, adj)
    )
    dmin = ks_detectable_distance(n, alpha)
    if np.any(adj < alpha):
        v = Verdict.FAIL
    elif detect is not None and dmin > detect:
        v = Verdict.INCONCLUSIVE
    else:
        v = Verdict.PASS
    note = f"n={n}, Holm across {len(res)} tests at alpha={alpha:g}; KS detects sup-distance >= {dmin:.3g}" + (
        "" if detect is None else f" (stated effect {detect:g})"
    )
    return GofResult(tests=res, n=n, alpha=alpha, verdict=v, note=note)


def gof_measurements(name: str, result: GofResult) -> list[Measurement]:
    """One :class:`~diffapprox.Measurement` per sub-test, named ``{name}/{test}``.

    ``estimate`` is the Holm-adjusted p-value, ``tolerance`` is ``[alpha, 1]``, and the
    verdict of each is the overall :func:`gof` verdict (so they combine to it);
    the raw statistic and p-value are in the note.
    """
    out = []
    if not result.tests:
        return [
            measurement(
                f"{name}/gof", math.nan, None, None, (result.alpha, 1.0), verdict=result.verdict, note=result.note
            )
        ]
    for t in result.tests:
        out.append(
            measurement(
                f"{name}/{t.name}",
                t.pvalue_holm,
                None,
                None,
                (result.alpha, 1.0),
                verdict=result.verdict,
                note=f"{t.name} statistic {t.statistic:.4g}, p={t.pvalue:.3g}, Holm p={t.pvalue_holm:.3g}; {result.note}",
            )
        )
    return out


def detectable_effect(se: float, *, level: float = 0.95, power: float = 0.8) -> float:
    """The departure beyond a band's edge that a two-sided ``level`` CI detects with ``power``.

    ``(z_{(1+level)/2} + z_power) * se``: with the truth that far outside the band, the whole CI
    lies outside it with probability ``power`` (normal approximation).  State it before running,
    from the standard error the profile's sample sizes give.
    """
    se = check_range("se", se, 0.0)
    level = _level(level)
    power = check_range("power", power, 0.0, 1.0, lo_open=True, hi_open=True)
    return float((_z(level) + _st.norm.ppf(power)) * se)


#: Claim-level targets of the synthetic controls (``diffapprox calibrate``): the FAIL rate of a claim
#: under its null at most NULL_FAIL_TARGET, under its alternative at least POWER_TARGET, each judged
#: by the CI rule on the Wilson CI of the rate over the replicates.
NULL_FAIL_TARGET = 0.05
POWER_TARGET = 0.8


def row_level(m: int, alpha: float = NULL_FAIL_TARGET) -> float:
    """CI level of each of ``m`` judged rows so that a claim FAILs its null with probability <= ``alpha``.

    Bonferroni: ``1 - alpha/m``.  A claim FAILs when any judged row FAILs, and a row whose truth
    is inside (or on the edge of) its band FAILs only when its CI misses the truth, so ``m`` rows
    at this level FAIL together with probability at most ``alpha``.
    """
    m = check_int("m", m, 1)
    alpha = check_range("alpha", alpha, 0.0, 1.0, lo_open=True, hi_open=True)
    return 1.0 - alpha / m


#: Level of every judged row's PASS interval (two-sided; each row a TOST at (1 - PASS_LEVEL)/2).
PASS_LEVEL = 0.95
#: Family level of the FAIL intervals: a claim whose every judged truth lies inside (or on the edge
#: of) its band FAILs with probability at most this, by Bonferroni over its judged rows.
FAIL_FAMILY_ALPHA = 0.01

#: The decision rule of every claim, stated once (reports and results quote it).
DECISION_RULE = (
    f"PASS by intersection-union: every judged row's two-sided {PASS_LEVEL:.0%} interval lies inside its band "
    f"(each row a TOST at {(1 - PASS_LEVEL) / 2:.1%}; the claim's false PASS <= {(1 - PASS_LEVEL) / 2:.1%} with "
    f"no multiplicity correction, Berger and Hsu 1996). FAIL when some row's FAIL interval, Bonferroni at family "
    f"level {FAIL_FAMILY_ALPHA:g} over the claim's m judged rows (level 1 - {FAIL_FAMILY_ALPHA:g}/m), lies entirely "
    f"outside its band. INCONCLUSIVE otherwise, naming the undecided rows and the sample size each would need."
)


def fail_level(m: int, alpha: float = FAIL_FAMILY_ALPHA) -> float:
    """Level of each of ``m`` judged rows' FAIL interval: ``1 - alpha/m`` (Bonferroni, :data:`DECISION_RULE`)."""
    return row_level(m, alpha)


def decide(estimate: float, ci: Sequence[float], ci_fail: Sequence[float], band: Sequence[float]) -> Verdict:
    """The verdict of one judged row under :data:`DECISION_RULE`.

    PASS when the PASS interval ``ci`` (95%) lies inside the closed ``band``; FAIL when the FAIL
    interval ``ci_fail`` (wider: Bonferroni at family level 0.01) lies entirely outside it;
    INCONCLUSIVE otherwise, or when the estimate or an interval end is NaN.  Band ends may be
    infinite (one-sided bands), interval ends too (censored estimates).
    """
    v_pass = band_verdict(estimate, ci, band)
    if v_pass is Verdict.PASS:
        return Verdict.PASS
    v_fail = band_verdict(estimate, ci_fail, band)
    return Verdict.FAIL if v_fail is Verdict.FAIL else Verdict.INCONCLUSIVE


def needed_n(
    estimate: float,
    ci: Sequence[float],
    ci_fail: Sequence[float] | None,
    band: Sequence[float] | None,
    n: int | None,
) -> int | None:
    """The sample size at which the same estimate would be decided, its intervals shrinking like ``1/sqrt(n)``.

    Inside the band: the size at which the PASS interval's half-width (on the side of the nearest
    edge) equals the distance to that edge.  Outside: the size at which the FAIL interval's
    half-width (``ci`` when there is no ``ci_fail``) on the band's side equals the distance to the
    band.  ``None`` without a sample size or band, for non-finite numbers, or with the estimate on an
    edge (no sample size decides it).
    """
    if n is None or band is None or n < 1:
        return None
    est, lo, hi = float(estimate), float(band[0]), float(band[1])
    if not math.isfinite(est):
        return None
    inside = lo <= est <= hi
    c = ci if (inside or ci_fail is None) else ci_fail
    if inside:
        gaps = [(est - lo, est - float(c[0])), (hi - est, float(c[1]) - est)]
    elif est > hi:
        gaps = [(est - hi, est - float(c[0]))]
    else:
        gaps = [(lo - est, float(c[1]) - est)]
    d, w = min((g for g in gaps if math.isfinite(g[0])), default=(math.nan, math.nan))
    if not (math.isfinite(d) and math.isfinite(w)) or d <= 0 or w <= 0:
        return None
    return int(math.ceil(n * (w / d) ** 2))


def dkw_halfwidth(n: int, level: float = 0.95) -> float:
    """Half-width ``eps = sqrt(log(2/(1-level)) / (2n))`` of the DKW band (Massart 1990's constant).

    ``P(sup_x |F_n(x) - F(x)| > eps) <= 2 exp(-2 n eps^2) = 1 - level`` for every continuous F.
    """
    n = check_int("n", n, 1)
    return math.sqrt(math.log(2.0 / (1.0 - _level(level))) / (2.0 * n))


def _ks_statistic(a: np.ndarray, cdf: Callable) -> float:
    """``sup |F_n - F|`` of finite values ``a``: scipy's one-sample KS statistic, the same formula without its p-value.

    ``max(max_i (i/n - F(x_(i))), max_i (F(x_(i)) - (i-1)/n))`` over the sorted sample, as in
    ``scipy.stats.kstest``, whose exact p-value (context here, never a verdict) costs most of its time.
    """
    u = np.asarray(cdf(np.sort(a)), dtype=float)
    n = u.size
    i = np.arange(1.0, n + 1)
    return float(max((i / n - u).max(), (u - (i - 1) / n).max()))


def ks_distance(x, cdf: Callable, level: float = 0.95) -> Estimate:
    """The Kolmogorov sup-distance between the law of ``x`` and ``cdf``, with a DKW confidence interval.

    The true distance ``D = sup |F - G|`` satisfies ``|D_n - D| <= sup |F_n - F|``, so the DKW
    band gives ``D in [max(0, D_n - eps), min(1, D_n + eps)]`` with probability >= ``level``,
    whatever F (:func:`dkw_halfwidth`).  The interval is conservative (it holds uniformly), and
    its width shrinks like ``1/sqrt(n)``: a distance judged against ``[0, effect]`` can only
    sharpen with more paths.
    """
    a = _finite_1d("x", x)
    n = a.size
    if n == 0:
        return Estimate(estimate=math.nan, ci=(math.nan, math.nan), level=level, n=0, method="KS distance (no data)")
    d = _ks_statistic(a, cdf)
    eps = dkw_halfwidth(n, level)
    return Estimate(
        estimate=d, ci=(max(0.0, d - eps), min(1.0, d + eps)), level=level, n=n, method="KS sup-distance, DKW band"
    )


def gof_distance(
    name: str,
    x,
    cdf: Callable,
    effect: float,
    *,
    level: float = 0.95,
    judged: bool = True,
    note: str = "",
    tests: Sequence[str] = ("ks", "ad", "cvm"),
    diverged: int = 0,
) -> Measurement:
    """Goodness of fit judged by distance: the KS sup-distance with its DKW CI against ``[0, effect]``.

    PASS when the whole CI lies within ``effect`` of the prediction, FAIL when even its lower end
    is beyond it, INCONCLUSIVE otherwise.  The p-values of :func:`gof` (Holm across ``tests``) go
    into the note as context; they decide nothing.  ``diverged``: paths left out of ``x`` because
    they diverged (the diverged-path rule of :func:`measurement`).
    """
    effect = check_range("effect", effect, 0.0, 1.0, lo_open=True)
    est = ks_distance(x, cdf, level)
    ctx = ""
    if est.n >= 5 and tests:
        g = gof(x, cdf, tests=tests)
        ctx = "; context p-values (Holm): " + ", ".join(f"{t.name} {t.pvalue_holm:.3g}" for t in g.tests)
    return measurement(
        name,
        est,
        prediction=0.0,
        band=(0.0, effect),
        level=level,
        judged=judged,
        effect=effect,
        diverged=diverged,
        note=(f"{note}; " if note else "") + f"sup-distance to the predicted law, band [0, {effect:g}]{ctx}",
    )


# ---------------------------------------------------------------------------
# Scaling fits
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class SlopeFit:
    """``log y = intercept + slope * log x`` with a CI on the slope."""

    slope: float
    intercept: float
    ci: tuple[float, float]
    level: float
    n: int
    method: str

    def as_estimate(self) -> Estimate:
        return Estimate(estimate=self.slope, ci=self.ci, level=self.level, n=self.n, method=self.method)


def _ols(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Coefficients, their standard errors, and the residual degrees of freedom."""
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    dof = X.shape[0] - X.shape[1]
    if dof <= 0:
        return beta, np.full(X.shape[1], math.nan), dof
    r = y - X @ beta
    s2 = float(r @ r) / dof
    cov = s2 * np.linalg.inv(X.T @ X)
    return beta, np.sqrt(np.diag(cov)), dof


def _t_cis(beta: np.ndarray, se: np.ndarray, dof: int, level: float) -> list[tuple[float, float]]:
    """Student-t CI of every OLS coefficient (:func:`_ols`); NaN when no degree of freedom is left."""
    if dof <= 0:
        return [_NAN2] * len(beta)
    q = _t(level, dof)
    return [(float(b - q * s), float(b + q * s)) for b, s in zip(beta, se)]


def _loglog_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise DiffapproxError("y", f"{x.size} values (one per x)", y.size)
    if np.any(~(x > 0)) or np.any(~(y > 0)):
        raise DiffapproxError("x, y", "positive finite values for a log-log fit", "a value <= 0 or NaN")
    return np.log(x), np.log(y)


def loglog_slope(x, y, level: float = 0.95) -> SlopeFit:
    """OLS slope of ``log y`` on ``log x`` with a Student-t CI (n - 2 degrees of freedom).

    The t CI treats the points' scatter around the line as the noise; use
    :func:`loglog_slope_bootstrap` when each point is itself an average over paths.
    """
    level = _level(level)
    lx, ly = _loglog_xy(x, y)
    n = lx.size
    if n < 2:
        raise DiffapproxError("x", "at least 2 points", n)
    beta, se, dof = _ols(np.column_stack([np.ones(n), lx]), ly)
    ci = _t_cis(beta, se, dof, level)[1]
    return SlopeFit(
        slope=float(beta[1]), intercept=float(beta[0]), ci=ci, level=level, n=n, method=f"OLS log-log, t CI ({dof} dof)"
    )


def loglog_slope_bootstrap(
    x,
    samples: Sequence,
    statistic: Callable[[np.ndarray], float] = np.mean,
    *,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int,
) -> SlopeFit:
    """Log-log slope of ``statistic(samples[j])`` against ``x[j]``, bootstrap over paths.

    Parameters
    ----------
    x : array, shape (m,)
    samples : sequence of m arrays, each shape (paths_j, ...)
        Independent paths at each point (axis 0).  Each bootstrap replicate
        resamples the paths of every point independently, recomputes the
        statistic (e.g. a sup-over-time error of the path mean), and refits.
    statistic : callable
        ``array (paths, ...) -> float`` (must be positive).
    seed : int

    Returns
    -------
    SlopeFit
        Slope of the point estimates, percentile-bootstrap CI.
    """
    level = _level(level)
    n_boot = check_int("n_boot", n_boot, 10)
    if len(samples) != len(np.asarray(x).ravel()):
        raise DiffapproxError("samples", f"{len(np.asarray(x).ravel())} arrays (one per x)", len(samples))
    arrs = [np.asarray(s, dtype=float) for s in samples]
    y = np.array([statistic(a) for a in arrs], dtype=float)
    lx, ly = _loglog_xy(x, y)
    X = np.column_stack([np.ones(lx.size), lx])
    beta, *_ = np.linalg.lstsq(X, ly, rcond=None)
    rng = np.random.default_rng(seed)
    slopes = np.empty(n_boot)
    for b in range(n_boot):
        yb = np.array([statistic(a[rng.integers(0, a.shape[0], a.shape[0])]) for a in arrs])
        if np.all(yb > 0):
            slopes[b] = np.linalg.lstsq(X, np.log(yb), rcond=None)[0][1]
        else:
            slopes[b] = math.nan
    ok = slopes[np.isfinite(slopes)]
    return SlopeFit(
        slope=float(beta[1]),
        intercept=float(beta[0]),
        ci=_tails(ok, level) if ok.size else _NAN2,
        level=level,
        n=lx.size,
        method=f"log-log OLS, percentile bootstrap over paths ({ok.size}/{n_boot} resamples)",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerLawFit:
    """``tau* = C (1-mu)^p eta^(-q)`` fitted by OLS in logs.

    ``p_ci``/``q_ci`` are bootstrap percentile CIs; ``p_ci_ols``/``q_ci_ols`` t CIs.
    """

    C: float
    p: float
    q: float
    p_ci: tuple[float, float]
    q_ci: tuple[float, float]
    p_ci_ols: tuple[float, float]
    q_ci_ols: tuple[float, float]
    level: float
    n: int
    method: str


def power_law_fit(
    one_minus_mu,
    eta,
    tau,
    *,
    replicates: Sequence | None = None,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int,
) -> PowerLawFit:
    """Fit ``log tau = log C + p log(1-mu) - q log eta`` over a grid of points.

    Parameters
    ----------
    one_minus_mu, eta, tau : arrays, shape (m,)
        Grid points and the measured thresholds (positive).
    replicates : sequence of m arrays, optional
        Independent replicate measurements of tau at each point.  If given, the
        bootstrap resamples replicates within each point (tau_j = mean of the
        resample); otherwise it resamples the fit's residuals on the fixed grid
        (residual bootstrap; a percentile CI from it slightly undercovers with few
        points, about 0.93 for 16 points at level 0.95: ``p_ci_ols``/``q_ci_ols``, exact
        for Gaussian log-noise, are reported beside it).
    seed : int
    """
    level = _level(level)
    n_boot = check_int("n_boot", n_boot, 10)
    a = np.asarray(one_minus_mu, dtype=float).ravel()
    e = np.asarray(eta, dtype=float).ravel()
    t = np.asarray(tau, dtype=float).ravel()
    if not (a.size == e.size == t.size):
        raise DiffapproxError("one_minus_mu, eta, tau", "arrays of equal length", (a.size, e.size, t.size))
    if np.any(~(a > 0)) or np.any(~(e > 0)) or np.any(~(t > 0)):
        raise DiffapproxError("one_minus_mu, eta, tau", "positive values", "a value <= 0 or NaN")
    m = a.size
    X = np.column_stack([np.ones(m), np.log(a), -np.log(e)])
    if m < 3 or np.linalg.matrix_rank(X) < 3:
        raise DiffapproxError("grid", "at least 3 points varying both 1-mu and eta", m)
    beta, se, dof = _ols(X, np.log(t))
    _, p_ols, q_ols = _t_cis(beta, se, dof, level)
    rng = np.random.default_rng(seed)
    reps = np.full((n_boot, 2), math.nan)
    if replicates is not None:
        if len(replicates) != m:
            raise DiffapproxError("replicates", f"{m} arrays (one per point)", len(replicates))
        rs = [np.asarray(r, dtype=float).ravel() for r in replicates]
        for b in range(n_boot):
            tb = np.array([r[rng.integers(0, r.size, r.size)].mean() for r in rs])
            if np.all(tb > 0):
                reps[b] = np.linalg.lstsq(X, np.log(tb), rcond=None)[0][1:]
        how = "bootstrap over replicates within points"
    else:
        # Fixed-design residual bootstrap: the grid is chosen, not sampled, so resample the
        # residuals (inflated by sqrt(m / dof) for the fitted degrees of freedom) around the fit.
        ly = np.log(t)
        fit = X @ beta
        res = (ly - fit) * math.sqrt(m / dof) if dof > 0 else np.zeros(m)
        for b in range(n_boot):
            reps[b] = np.linalg.lstsq(X, fit + res[rng.integers(0, m, m)], rcond=None)[0][1:]
        how = "residual bootstrap (fixed grid)"
    ok = reps[np.all(np.isfinite(reps), axis=1)]
    p_ci, q_ci = (_tails(ok[:, 0], level), _tails(ok[:, 1], level)) if ok.shape[0] else (_NAN2, _NAN2)
    return PowerLawFit(
        C=float(math.exp(beta[0])),
        p=float(beta[1]),
        q=float(beta[2]),
        p_ci=p_ci,
        q_ci=q_ci,
        p_ci_ols=p_ols,
        q_ci_ols=q_ols,
        level=level,
        n=m,
        method=f"OLS in logs; {how} ({ok.shape[0]}/{n_boot} usable resamples)",
    )


# ---------------------------------------------------------------------------
# Weak-convergence claims (ODE and OU limits, phase times): replicate intervals,
# planned effects of fractions and distances, and the version-1 goodness-of-fit rule
# kept to recompute old verdicts
# ---------------------------------------------------------------------------
def bootstrap_mean_weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Multinomial resampling weights, shape ``(n_boot, n)``, each row summing to 1.

    ``W @ X`` gives the bootstrap means of the rows of ``X`` (paths) in one product, so a
    bootstrap of a path mean over many records costs one matrix product.
    """
    n = check_int("n", n, 1)
    n_boot = check_int("n_boot", n_boot, 1)
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float) / n


def replicate_ci(
    estimate: float, replicates, level: float = 0.95, interval: str = "normal", lower: float = -math.inf
) -> Estimate:
    """A statistic with an interval from its bootstrap replicates.

    ``interval="normal"``: ``estimate +- z sd(replicates)``, the normal bootstrap interval, stable at
    the extreme levels of Bonferroni rows (:func:`row_level`), where a percentile interval would
    need tens of thousands of resamples to place its ends.  ``interval="percentile"``: the
    replicates' ``(1-level)/2`` and ``(1+level)/2`` quantiles.  Non-finite replicates are dropped.
    ``lower``: the smallest value the estimated quantity can take (e.g. 0 for a distance); the
    interval is cut there, which keeps its coverage.

    Parameters
    ----------
    estimate : float
        The statistic on the data.
    replicates : array, shape (n_boot,)
        The statistic on each resample.
    """
    level = _level(level)
    if interval not in ("normal", "percentile"):
        raise DiffapproxError("interval", "'normal' or 'percentile'", interval)
    r = _finite_1d("replicates", replicates)
    method = f"{interval} bootstrap interval ({r.size} resamples)"
    if r.size < 2 or not math.isfinite(float(estimate)):
        return Estimate(estimate=float(estimate), ci=_NAN2, level=level, n=r.size, method=method)
    if interval == "percentile":
        ci = _tails(r, level)
    else:
        h = float(_z(level) * r.std(ddof=1))
        ci = (float(estimate) - h, float(estimate) + h)
    ci = (max(ci[0], lower), max(ci[1], lower))
    return Estimate(estimate=float(estimate), ci=ci, level=level, n=r.size, method=method)


def loglog_slope_replicates(x, y, replicates, level: float = 0.95, interval: str = "normal") -> SlopeFit:
    """Log-log OLS slope of ``y`` on ``x`` with an interval of the slopes refitted on replicates.

    Parameters
    ----------
    x, y : arrays, shape (m,)
        Positive; ``y[j]`` is a statistic of independent paths at ``x[j]``.
    replicates : array, shape (m, n_boot)
        ``replicates[j]`` are bootstrap replicates of ``y[j]`` (each point resampled on its own
        paths); replicate ``b`` refits the line through ``replicates[:, b]``.  Replicates with a
        value <= 0 are dropped.  The interval is :func:`replicate_ci` of the refitted slopes
        (``interval``: ``"normal"`` or ``"percentile"``).

    Returns
    -------
    SlopeFit
        NaN slope and CI when some ``y`` is not positive and finite.
    """
    level = _level(level)
    lx = np.log(np.asarray(x, dtype=float).ravel())
    yv = np.asarray(y, dtype=float).ravel()
    reps = np.asarray(replicates, dtype=float)
    if reps.ndim != 2 or reps.shape[0] != lx.size or yv.size != lx.size:
        raise DiffapproxError("replicates", f"an array of shape ({lx.size}, n_boot)", f"shape {reps.shape}")
    pinv = np.linalg.pinv(np.column_stack([np.ones(lx.size), lx]))
    if not np.all((yv > 0) & np.isfinite(yv)):
        nan = math.nan
        return SlopeFit(slope=nan, intercept=nan, ci=_NAN2, level=level, n=lx.size, method="log-log OLS (no fit)")
    beta = pinv @ np.log(yv)
    ok = np.all((reps > 0) & np.isfinite(reps), axis=0)
    e = replicate_ci(float(beta[1]), (pinv @ np.log(reps[:, ok]))[1] if ok.any() else [], level, interval)
    return SlopeFit(
        slope=float(beta[1]),
        intercept=float(beta[0]),
        ci=e.ci,
        level=level,
        n=lx.size,
        method=f"log-log OLS, {e.method}",
    )


def proportion_effect(
    edge: float, n: int, *, level: float = 0.95, power: float = POWER_TARGET, direction: float = -1.0
) -> float:
    """The departure beyond a band edge that the Wilson CI of a fraction of ``n`` paths detects with ``power``.

    Exact for the binomial: the smallest ``e`` such that, with the truth at ``edge + direction * e``,
    the whole Wilson CI at ``level`` (:func:`proportion_ci`) lies beyond ``edge`` with probability
    ``power`` (the binomial CDF at the last count whose CI clears the edge, solved by bisection).
    This is :func:`detectable_effect` with the standard error taken where the truth is moved to, and
    the interval's asymmetry near 0 and 1 included.  ``inf`` when no count clears the edge.
    """
    edge = check_range("edge", edge, 0.0, 1.0)
    n = check_int("n", n, 1)
    level, power = _level(level), check_range("power", power, 0.0, 1.0, lo_open=True, hi_open=True)
    k = np.arange(n + 1)
    lo, hi = _wilson_bounds(k, n, level)
    clear = k[hi < edge] if direction < 0 else k[lo > edge]
    if clear.size == 0:
        return math.inf
    if direction < 0:
        a = float(_optimize_bisect(lambda t: _st.binom.cdf(clear.max(), n, t) - power, 0.0, edge))
    else:
        a = float(_optimize_bisect(lambda t: power - _st.binom.sf(clear.min() - 1, n, t), edge, 1.0))
    return abs(edge - a)


def _optimize_bisect(f: Callable[[float], float], lo: float, hi: float) -> float:
    """Root of a monotone ``f`` on ``[lo, hi]`` (an end when ``f`` does not change sign)."""
    from scipy.optimize import brentq

    flo, fhi = f(lo), f(hi)
    if flo * fhi > 0:
        return lo if abs(flo) < abs(fhi) else hi
    return brentq(f, lo, hi, xtol=1e-10)


def scaled_effect(
    se: float, edge: float, *, level: float = 0.95, power: float = POWER_TARGET, direction: float = 1.0
) -> float:
    """:func:`detectable_effect` for an estimate whose standard error is proportional to its value.

    ``se`` is the relative standard error (a second moment or variance from a fixed number of
    paths); with the truth moved to ``edge + direction * e`` the standard error is ``se`` times
    that, so ``e = k se (edge + direction e)``, ``k = z_{(1+level)/2} + z_power``:
    ``e = k se edge / (1 - direction k se)``.  ``inf`` when ``k se >= 1`` upwards.
    """
    se = check_range("se", se, 0.0)
    k = detectable_effect(1.0, level=level, power=power)
    den = 1.0 - math.copysign(1.0, direction) * k * se
    return math.inf if den <= 0 else float(k * se * abs(edge) / den)


def distance_alternative(effect: float, n: int, level: float = 0.95) -> float:
    """The sup-distance an alternative control puts in for a distance row judged against ``[0, effect]``.

    ``effect + 2 eps`` with ``eps`` the DKW half-width (:func:`dkw_halfwidth`): the CI
    ``[D_n - eps, D_n + eps]`` then lies above ``effect`` unless ``D_n`` falls more than ``eps``
    below the truth, which the DKW inequality makes rarer than ``1 - level``.
    """
    effect = check_range("effect", effect, 0.0, 1.0, lo_open=True)
    return float(effect + 2.0 * dkw_halfwidth(n, level))


def gof_holm_pooled(
    samples: Sequence,
    cdf: Callable,
    *,
    alpha: float = 0.05,
    detect: float | None = None,
    tests: Sequence[str] = ("ks", "ad", "cvm"),
) -> GofResult:
    """The version-1 goodness-of-fit rule over several samples, kept to recompute old verdicts.

    Every test of every sample enters one Holm correction; FAIL when any adjusted p-value is
    below ``alpha``, else INCONCLUSIVE when some sample is too small for :func:`gof` (fewer than
    5 values, or a KS detectable distance above ``detect``), else PASS.  This is the point-null
    rule the distance rule (:func:`gof_distance`) replaced: with enough paths it rejects any
    deviation, however small.  Sub-test names are prefixed with the sample's index.
    """
    results = [gof(x, cdf, tests=tests, alpha=alpha, detect=detect) for x in samples]
    raw = [(k, t) for k, g in enumerate(results) for t in g.tests]
    adj = holm([t.pvalue for _, t in raw]) if raw else np.empty(0)
    pooled = tuple(
        GofTest(name=f"{k}:{t.name}", statistic=t.statistic, pvalue=t.pvalue, pvalue_holm=float(q))
        for (k, t), q in zip(raw, adj)
    )
    if np.any(adj < alpha):
        v = Verdict.FAIL
    elif any(g.verdict is Verdict.INCONCLUSIVE for g in results) or not raw:
        v = Verdict.INCONCLUSIVE
    else:
        v = Verdict.PASS
    note = f"Holm across {len(raw)} sub-tests of {len(results)} sample(s) at alpha={alpha:g}; " + "; ".join(
        g.note for g in results
    )
    return GofResult(tests=pooled, n=int(sum(g.n for g in results)), alpha=alpha, verdict=v, note=note)


# ---------------------------------------------------------------------------
# Experiments: trends over seeds, staleness laws, one live run against its replay
# ---------------------------------------------------------------------------
def detectable_effect_t(se: float, dof: int, *, level: float = 0.95, power: float = 0.8) -> float:
    """:func:`detectable_effect` for a Student-t CI with ``dof`` degrees of freedom.

    ``(t_{(1+level)/2, dof} + z_power) * se``: with few independent units (e.g. 10 seeds) the t
    quantile, not the normal one, sets how far beyond a band's edge the truth must lie for the
    whole CI to fall outside it with probability about ``power``.
    """
    se = check_range("se", se, 0.0)
    dof = check_int("dof", dof, 1)
    level = _level(level)
    power = check_range("power", power, 0.0, 1.0, lo_open=True, hi_open=True)
    return float((_t(level, dof) + _st.norm.ppf(power)) * se)


def resample_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap resampling indices, shape ``(n_boot, n)``: row b draws ``n`` units with replacement.

    The same draws as :func:`bootstrap_ci` makes for ``(n, n_boot, seed)``, for statistics that
    are cheaper to compute on all replicates at once (e.g. an argmax over a grid).
    """
    n = check_int("n", n, 1)
    n_boot = check_int("n_boot", n_boot, 10)
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def percentile_ci(replicates, estimate: float, *, level: float = 0.95, n: int, method: str) -> Estimate:
    """Percentile CI from bootstrap ``replicates`` (non-finite ones dropped) around ``estimate``.

    Parameters
    ----------
    replicates : array, shape (n_boot,)
    estimate : float
        The statistic on the original data.
    n : int
        Number of independent units resampled (seeds, paths, blocks).
    method : str
        How the replicates were formed, shown in reports.
    """
    level = _level(level)
    r = _finite_1d("replicates", replicates)
    if r.size == 0:
        return Estimate(estimate=float(estimate), ci=_NAN2, level=level, n=n, method=method)
    return Estimate(estimate=float(estimate), ci=_tails(r, level), level=level, n=n, method=method)


def grid_argmax(values, grid) -> np.ndarray:
    """The grid point where ``values`` is largest, along the last axis; ties -> mean of the tied points.

    Parameters
    ----------
    values : array, shape (..., n_grid)
    grid : array, shape (n_grid,)

    Returns
    -------
    array, shape (...)
    """
    a = np.asarray(values, dtype=float)
    g = np.asarray(grid, dtype=float)
    if a.shape[-1] != g.size:
        raise DiffapproxError("grid", f"{a.shape[-1]} points (the last axis of values)", g.size)
    tied = np.isclose(a, a.max(axis=-1, keepdims=True), rtol=0.0, atol=1e-12)
    return (tied * g).sum(axis=-1) / tied.sum(axis=-1)


def spearman_rows(x, y) -> np.ndarray:
    """Spearman's rho between fixed ``x`` (shape (n,)) and each row of ``y`` (shape (B, n) or (n,)).

    Average ranks for ties; rho := 0 for a constant row (no trend to rank).

    Returns
    -------
    array, shape (B,)
    """
    rx = _st.rankdata(np.asarray(x, dtype=float))
    ry = _st.rankdata(np.atleast_2d(np.asarray(y, dtype=float)), axis=-1)
    rx = rx - rx.mean()
    ry = ry - ry.mean(axis=-1, keepdims=True)
    den = np.sqrt((rx**2).sum() * (ry**2).sum(axis=-1))
    num = (ry * rx).sum(axis=-1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def _tv_counts(counts: np.ndarray, pmf: np.ndarray) -> np.ndarray:
    """TV distance between the empirical pmf of histogram(s) ``counts`` (..., K) and ``pmf`` (K,)."""
    emp = counts / counts.sum(axis=-1, keepdims=True)
    return 0.5 * (np.abs(emp - pmf).sum(axis=-1) + max(0.0, 1.0 - float(pmf.sum())))


def _histograms(traces: list[np.ndarray], k: int) -> np.ndarray:
    return np.stack([np.bincount(np.minimum(t, k - 1), minlength=k) for t in traces]).astype(float)


def _padded(pmf, k: int) -> np.ndarray:
    p = np.asarray(pmf, dtype=float).ravel()
    out = np.zeros(max(k, p.size))
    out[: p.size] = p
    return out


def tv_distances(traces, pmf) -> np.ndarray:
    """Total-variation distance between the empirical law of each trace and ``pmf``.

    Parameters
    ----------
    traces : sequence of arrays of non-negative int
    pmf : array, shape (K,)
        ``P(tau = j)`` for j = 0..K-1; mass the pmf leaves out (``1 - sum``) counts as a mismatch.

    Returns
    -------
    array, shape (len(traces),)
    """
    ts = [np.asarray(t, dtype=np.int64).ravel() for t in traces]
    p = _padded(pmf, max(int(t.max()) for t in ts) + 1)
    return _tv_counts(_histograms(ts, p.size), p)


def _blocks(trace: np.ndarray, n_blocks: int) -> np.ndarray:
    """The last ``n_blocks * b`` values of ``trace`` as ``n_blocks`` contiguous blocks, shape (n_blocks, b)."""
    b = trace.size // n_blocks
    return trace[trace.size - b * n_blocks :].reshape(n_blocks, b)


def block_bootstrap_tv(
    trace, pmf, *, n_blocks: int = 20, n_boot: int = 1000, level: float = 0.95, seed: int
) -> Estimate:
    """TV distance between a trace's empirical law and ``pmf``, with a block-bootstrap percentile CI.

    The trace is autocorrelated (a queue's staleness), so the bootstrap resamples ``n_blocks``
    contiguous blocks of it, not single values.  Note the TV of a finite trace is biased upwards
    (its floor: see :func:`excess_tv`).

    Parameters
    ----------
    trace : array of non-negative int, shape (n,)
    pmf : array, shape (K,)
    seed : int
        Seed of the block resampling.
    """
    level = _level(level)
    n_blocks = check_int("n_blocks", n_blocks, 2)
    t = np.asarray(trace, dtype=np.int64).ravel()
    if t.size // n_blocks < 2:
        return Estimate(estimate=math.nan, ci=_NAN2, level=level, n=t.size, method="TV (trace too short to block)")
    p = _padded(pmf, int(t.max()) + 1)
    blocks = _histograms(list(_blocks(t, n_blocks)), p.size)
    idx = np.random.default_rng(seed).integers(0, n_blocks, size=(n_boot, n_blocks))
    reps = _tv_counts(blocks[idx].sum(axis=1), p)
    tv = float(_tv_counts(_histograms([t], p.size), p)[0])
    return percentile_ci(
        reps, tv, level=level, n=n_blocks, method=f"TV, block bootstrap ({n_blocks} blocks, {n_boot} resamples)"
    )


def excess_tv(
    trace, pmf, null_traces, *, n_blocks: int = 20, n_boot: int = 1000, level: float = 0.95, seed: int
) -> Estimate:
    """Total-variation distance between a trace's empirical law and ``pmf``, beyond its finite-sample floor.

    The empirical pmf of a finite trace is never exactly the law, so its TV distance to the law
    has a positive floor that shrinks with the trace's length.  The estimate is the TV of
    ``trace`` minus the median TV of ``null_traces`` (equally long traces drawn from the law
    itself); the CI is the block-bootstrap percentile interval of the TV
    (:func:`block_bootstrap_tv`) minus the median TV of one block resample of each null trace
    (the floor of the bootstrap replicates).  0 when the trace follows the law.

    Parameters
    ----------
    trace : array of int, shape (n,)
    pmf : array, shape (K,)
        The law, ``P(tau = j)`` for j = 0..K-1 (mass beyond K counts as a mismatch).
    null_traces : sequence of arrays of int, each shape (n,)
    seed : int
        Seed of the block resampling.
    """
    raw = block_bootstrap_tv(trace, pmf, n_blocks=n_blocks, n_boot=n_boot, level=level, seed=seed)
    if not math.isfinite(raw.estimate):
        return raw
    rng = np.random.default_rng([seed, 1])
    null = [_blocks(np.asarray(x, dtype=np.int64).ravel(), n_blocks) for x in null_traces]
    floor = float(np.median(tv_distances(null_traces, pmf)))
    floor_b = float(np.median(tv_distances([x[rng.integers(0, n_blocks, n_blocks)].ravel() for x in null], pmf)))
    method = (
        f"TV {raw.estimate:.4g} minus the floor {floor:.4g} (median over {len(null_traces)} traces of the law); "
        f"{raw.method} minus its floor {floor_b:.4g}"
    )
    ci = (raw.ci[0] - floor_b, raw.ci[1] - floor_b)
    return Estimate(estimate=raw.estimate - floor, ci=ci, level=raw.level, n=raw.n, method=method)


def one_draw_ci(x: float, reference, level: float = 0.95) -> Estimate:
    """CI for the centre of the law one value ``x`` was drawn from, given that law's shape.

    ``reference`` are samples of the statistic under the model (e.g. simulated paths); if ``x``
    is the model's law shifted by theta (``x = theta + Z - median(Z)``), then
    ``[x - (q_hi - m), x + (m - q_lo)]`` covers the shifted median theta with probability
    ``level`` (``q_lo, m, q_hi`` the reference's (1-level)/2, 1/2, (1+level)/2 quantiles).
    Its width is the reference's predictive range: one draw decides nothing the model's own
    spread does not allow.

    Parameters
    ----------
    x : float
    reference : array, shape (n,)
    """
    level = _level(level)
    r = _finite_1d("reference", reference)
    if r.size < 2 or not math.isfinite(float(x)):
        return Estimate(estimate=float(x), ci=_NAN2, level=level, n=r.size, method="one draw (no reference)")
    q_lo, m, q_hi = np.quantile(r, [(1 - level) / 2, 0.5, (1 + level) / 2])
    ci = (float(x - (q_hi - m)), float(x + (m - q_lo)))
    return Estimate(
        estimate=float(x),
        ci=ci,
        level=level,
        n=r.size,
        method=f"one draw; predictive spread of {r.size} reference samples",
    )


def contrast_ci(values, ses, coef, level: float = 0.95) -> Estimate:
    """``sum_k coef_k values_k`` of independent estimates with standard errors ``ses``, normal CI.

    Parameters
    ----------
    values, ses, coef : arrays, shape (m,)
    """
    level = _level(level)
    v = np.asarray(values, dtype=float)
    s = np.asarray(ses, dtype=float)
    c = np.asarray(coef, dtype=float)
    if not (v.shape == s.shape == c.shape):
        raise DiffapproxError("values, ses, coef", "arrays of equal length", (v.size, s.size, c.size))
    est = float(c @ v)
    se = float(math.sqrt(float((c * c) @ (s * s))))
    z = float(_z(level))
    return Estimate(
        estimate=est,
        ci=(est - z * se, est + z * se),
        level=level,
        n=v.size,
        method=f"linear contrast, SE {se:.3g}, normal CI",
    )


# ---------------------------------------------------------------------------
# Weak errors: a maximum over times, and a slope over step sizes
# ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _bonferroni_z(level: float, k: int) -> float:
    """``z_{1 - (1-level)/(2k)}``: the two-sided normal quantile of ``level`` Bonferroni over ``k`` intervals (cached:
    :func:`max_abs_ci` runs for every row of every control replicate)."""
    return float(_st.norm.ppf(1.0 - (1.0 - level) / (2 * k)))


def max_abs_ci(diff, se, level: float = 0.95) -> Estimate:
    """``max_k |Delta_k|`` from per-time estimates ``diff_k`` with standard errors ``se_k``, simultaneous CI.

    Each ``Delta_k`` gets the interval ``diff_k +- z se_k`` with ``z`` Bonferroni over the ``K`` times
    (``z = z_{1 - (1-level)/(2K)}``); when all hold, ``max_k |Delta_k|`` lies in
    ``[max_k (|diff_k| - z se_k)^+, max_k (|diff_k| + z se_k)]``, so the CI has coverage >= ``level``
    whatever the correlation across times.  ``n`` is ``K``.
    """
    level = _level(level)
    d = np.abs(np.asarray(diff, dtype=float).ravel())
    e = np.asarray(se, dtype=float).ravel()
    if d.size == 0 or d.shape != e.shape:
        raise DiffapproxError("se", f"{d.size} standard errors (one per time, at least one)", e.size)
    z = _bonferroni_z(level, int(d.size))
    lo = float(max(0.0, np.max(d - z * e)))
    hi = float(np.max(d + z * e))
    return Estimate(
        estimate=float(d.max()),
        ci=(lo, hi),
        level=level,
        n=int(d.size),
        method=f"max over {d.size} times, Bonferroni z={z:.2f}",
    )


def box_slope(x, y, lo, hi, level: float) -> SlopeFit:
    """OLS slope of ``log y`` on ``log x``, with the range of slopes over the box ``prod_j [lo_j, hi_j]``.

    The OLS slope is linear in ``log y``, so over the box it ranges from ``sum_j a_j log(lo_j or hi_j)``
    to the opposite choice (``a_j`` the OLS weights).  When every ``y_j``'s true value lies in its
    interval (simultaneous intervals, e.g. Bonferroni over the points at ``level``), the slope of the
    true values lies in that range: a CI of coverage >= ``level`` that needs no model of the noise.
    A lower end of 0 gives an infinite end.
    """
    level = _level(level)
    lx, ly = _loglog_xy(x, y)
    if lx.size < 2:
        raise DiffapproxError("x", "at least 2 points", lx.size)
    lo = np.asarray(lo, dtype=float).ravel()
    hi = np.asarray(hi, dtype=float).ravel()
    a = (lx - lx.mean()) / float(((lx - lx.mean()) ** 2).sum())
    with np.errstate(divide="ignore", invalid="ignore"):  # log 0 = -inf; 0 * -inf is never selected
        llo, lhi = np.log(lo), np.log(hi)
        b_lo = float(np.sum(np.where(a > 0, a * llo, a * lhi)))
        b_hi = float(np.sum(np.where(a < 0, a * llo, a * lhi)))
    b = float(a @ ly)
    return SlopeFit(
        slope=b,
        intercept=float(ly.mean() - b * lx.mean()),
        ci=(b_lo, b_hi),
        level=level,
        n=int(lx.size),
        method=f"OLS log-log; slopes over the box of {lx.size} simultaneous intervals",
    )


# ---------------------------------------------------------------------------
# Thresholds of curves, ratios of means, slopes of path statistics
# (the delay-threshold, ratio and order statistics of the momentum-asynchrony claims)
# ---------------------------------------------------------------------------
#: Criteria of :func:`threshold_point`: name -> (kind, parameter).  ``ratio-c``: the largest grid
#: value whose mean is <= c x the mean at the grid's first value; ``band``: the largest grid value
#: whose ``level`` t-interval of the mean overlaps the first value's interval.
THRESHOLD_CRITERIA = {"ratio-1.1": ("ratio", 1.1), "ratio-1.5": ("ratio", 1.5), "band": ("band", 0.95)}
#: ``ratio-2``: a second relative margin (mean <= 2 x the first value's).  The ratio criteria are consistent:
#: their target is a property of the mean curve and does not move with the number of paths; ``band`` is a
#: significance test whose target grows with the noise (fewer paths, wider intervals, larger threshold).
THRESHOLD_CRITERIA["ratio-2"] = ("ratio", 2.0)


def _criterion_ok(mean: np.ndarray, sd: np.ndarray, n: int, criterion: str) -> np.ndarray:
    """Boolean (..., n_grid): is each grid value's mean still similar to the first one's?"""
    kind, c = THRESHOLD_CRITERIA[criterion]
    if kind == "ratio":
        return mean <= c * mean[..., :1]
    q = _t(c, max(n - 1, 1))
    hw = q * sd / math.sqrt(n)
    lo, hi = mean - hw, mean + hw
    return (lo <= hi[..., :1]) & (hi >= lo[..., :1])


def _largest_ok(grid: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Largest grid value with ``ok`` True (the first value is always similar to itself)."""
    idx = np.where(ok, np.arange(ok.shape[-1]), 0).max(axis=-1)
    return grid[idx]


def _threshold_args(grid, samples, criterion: str) -> tuple[np.ndarray, np.ndarray]:
    if criterion not in THRESHOLD_CRITERIA:
        raise DiffapproxError("criterion", f"one of {', '.join(THRESHOLD_CRITERIA)}", criterion)
    g = np.asarray(grid, dtype=float).ravel()
    e = np.asarray(samples, dtype=float)
    if e.ndim != 2 or e.shape[0] != g.size or e.shape[1] < 2:
        raise DiffapproxError("samples", f"an array of shape ({g.size}, paths >= 2)", f"shape {e.shape}")
    if not np.all(np.diff(g) > 0):
        raise DiffapproxError("grid", "increasing values", g.tolist())
    return g, e


def threshold_point(grid, samples, criterion: str) -> float:
    """The largest grid value at which a path mean is still similar to its value at the first grid point.

    Parameters
    ----------
    grid : array, shape (m,)
        Increasing values (e.g. delays, the first one 0).
    samples : array, shape (m, paths)
        One value per path at each grid point (e.g. final errors; independent paths at each point).
    criterion : str
        A key of :data:`THRESHOLD_CRITERIA`.
    """
    g, e = _threshold_args(grid, samples, criterion)
    ok = _criterion_ok(e.mean(axis=1), e.std(axis=1, ddof=1), e.shape[1], criterion)
    return float(_largest_ok(g, ok))


#: How :func:`threshold_replicates_all` redraws the curve: ``paths`` resamples the paths at every grid point
#: (the nonparametric bootstrap); ``normal`` draws each grid point's mean from its normal approximation
#: ``N(mean, sd^2/n)`` and keeps its sd (the parametric bootstrap of the means: the CLT the path
#: bootstrap itself relies on, at a cost that does not grow with the number of paths).
THRESHOLD_RESAMPLING = ("paths", "normal")


def _resampled_moments(e: np.ndarray, n_boot: int, seed: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Means and sds, shape (n_boot, m), of ``n_boot`` redraws of the curve ``e`` (m, paths)."""
    if method not in THRESHOLD_RESAMPLING:
        raise DiffapproxError("method", f"one of {', '.join(THRESHOLD_RESAMPLING)}", method)
    m, n = e.shape
    rng = np.random.default_rng(seed)
    sd = e.std(axis=1, ddof=1)
    if method == "normal":
        means = e.mean(axis=1) + sd / math.sqrt(n) * rng.standard_normal((n_boot, m))
        return means, np.broadcast_to(sd, (n_boot, m))
    means, sds = np.empty((n_boot, m)), np.empty((n_boot, m))
    chunk = max(1, int(2_000_000 // max(m * n, 1)))  # bounds the index array's memory
    for b0 in range(0, n_boot, chunk):
        b1 = min(n_boot, b0 + chunk)
        x = np.take_along_axis(e[None, :, :], rng.integers(0, n, size=(b1 - b0, m, n)), axis=2)
        means[b0:b1], sds[b0:b1] = x.mean(axis=2), x.std(axis=2, ddof=1)
    return means, sds


def threshold_replicates_all(
    grid, samples, criteria: Sequence[str], *, n_boot: int, seed: int, method: str = "paths"
) -> dict[str, np.ndarray]:
    """Bootstrap replicates of :func:`threshold_point`, shape (n_boot,), for each of ``criteria``.

    Every criterion is read off the same ``n_boot`` redraws of the curve (``method``: see
    :data:`THRESHOLD_RESAMPLING`).
    """
    g, e = _threshold_args(grid, samples, criteria[0])
    for c in criteria:
        _threshold_args(g, e, c)
    n_boot = check_int("n_boot", n_boot, 10)
    mean, sd = _resampled_moments(e, n_boot, seed, method)
    return {c: _largest_ok(g, _criterion_ok(mean, sd, e.shape[1], c)) for c in criteria}


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """A threshold of a curve (:func:`threshold_ci`) with its CI and bootstrap replicates.

    Attributes
    ----------
    estimate : float
    ci : (float, float)
        Percentile-bootstrap interval with the upper end moved up one grid step (the crossing lies
        before the next grid value); ``inf`` when the threshold sits at or next to the grid's end.
    level : float
    n : int
        Paths per grid point.
    method : str
    replicates : array, shape (n_boot,)
    censored : bool
        True when the estimate is the grid's last value (the data give only a lower bound).
    """

    estimate: float
    ci: tuple[float, float]
    level: float
    n: int
    method: str
    replicates: np.ndarray
    censored: bool

    def as_estimate(self) -> Estimate:
        return Estimate(estimate=self.estimate, ci=self.ci, level=self.level, n=self.n, method=self.method)


def threshold_ci(
    grid, samples, criterion: str, *, n_boot: int, seed: int, level: float = 0.95, method: str = "paths"
) -> Threshold:
    """:func:`threshold_point` with a percentile-bootstrap CI widened by the grid step.

    The true crossing lies between the threshold and the next grid value, so the CI's upper end is
    the grid value after the bootstrap's upper quantile; a threshold at the grid's last value is
    censored (upper end infinite).  ``method``: see :data:`THRESHOLD_RESAMPLING`.
    """
    return threshold_cis(grid, samples, (criterion,), n_boot=n_boot, seed=seed, level=level, method=method)[criterion]


def threshold_cis(
    grid, samples, criteria: Sequence[str], *, n_boot: int, seed: int, level: float = 0.95, method: str = "paths"
) -> dict[str, Threshold]:
    """:func:`threshold_ci` of several criteria from the same redraws of the curve."""
    return threshold_cis_levels(grid, samples, criteria, n_boot=n_boot, seed=seed, levels=(level,), method=method)[0]


def ratio_ci(num, den, *, level: float = 0.95, n_boot: int | None = None, seed: int | None = None) -> Estimate:
    """``mean(num) / mean(den)`` of two independent samples with a CI.

    By default the delta method on the log scale: ``log r +- z sqrt(s_a^2/(n_a a^2) + s_b^2/(n_b b^2))``,
    exponentiated (the ratio of two means is close to log-normal at the path counts the claims use, and
    the interval's ends do not carry the Monte-Carlo noise of a bootstrap's far tails).  With
    ``n_boot`` (and ``seed``), a percentile bootstrap resampling each sample instead.  Non-finite values
    are dropped (count them upstream: the diverged-path rule).  ``den`` may be a number (an exact
    constant, e.g. a predicted time): then only ``num`` varies.
    """
    level = _level(level)
    a = _finite_1d("num", num)
    exact = np.ndim(den) == 0
    b = np.array([float(den)]) if exact else _finite_1d("den", den)
    n = int(a.size) if exact else int(min(a.size, b.size))
    how = "delta method on log scale" if n_boot is None else f"percentile bootstrap ({n_boot} resamples)"
    if a.size < 2 or (not exact and b.size < 2) or not (a.mean() > 0 and b.mean() > 0):
        return Estimate(estimate=math.nan, ci=_NAN2, level=level, n=n, method=f"ratio of means, {how}")
    r = float(a.mean() / b.mean())
    if n_boot is None:
        v = a.var(ddof=1) / (a.size * a.mean() ** 2) + (0.0 if exact else b.var(ddof=1) / (b.size * b.mean() ** 2))
        h = float(_z(level) * math.sqrt(v))
        return Estimate(
            estimate=r, ci=(r * math.exp(-h), r * math.exp(h)), level=level, n=n, method=f"ratio of means, {how}"
        )
    n_boot = check_int("n_boot", n_boot, 10)
    rng = np.random.default_rng(seed)
    ra = a[rng.integers(0, a.size, (n_boot, a.size))].mean(axis=1)
    rb = b.mean() if exact else b[rng.integers(0, b.size, (n_boot, b.size))].mean(axis=1)
    return Estimate(estimate=r, ci=_tails(ra / rb, level), level=level, n=n, method=f"ratio of means, {how}")


def loglog_slope_boot(
    x, samples: Sequence, stat: Callable[[list], Sequence], *, n_boot: int, seed: int, level: float = 0.95
) -> SlopeFit:
    """Log-log OLS slope of ``stat(samples)`` on ``x``, percentile bootstrap over paths.

    Unlike :func:`loglog_slope_bootstrap`, ``stat`` maps the whole list of samples to one value per
    ``x``, so a point may combine samples (e.g. a difference of two means, or a mean over a
    predicted bound).  Every replicate resamples each sample's paths independently.  ``stat`` is
    called once on the samples and once on all replicates at once, with arrays whose *last* axis
    holds the paths (shape (n_boot, paths_j)): write it with ``axis=-1`` reductions.  A replicate
    with a non-positive value is skipped and counted in ``method``; fewer than 10 usable replicates
    give a NaN CI.

    Parameters
    ----------
    x : array, shape (m,)
    samples : sequence of arrays, each shape (paths_j,)
    stat : callable
        ``list of arrays (..., paths_j) -> m values, each of shape (...)`` (positive).
    """
    level = _level(level)
    n_boot = check_int("n_boot", n_boot, 10)
    lx = np.log(np.asarray(x, float))
    X = np.column_stack([np.ones(lx.size), lx])
    arrs = [np.asarray(s, float).ravel() for s in samples]
    y = np.asarray(stat(arrs), float)
    beta = np.linalg.lstsq(X, np.log(y), rcond=None)[0] if np.all(y > 0) else np.full(2, math.nan)
    rng = np.random.default_rng(seed)
    reps = np.asarray(stat([a[rng.integers(0, a.size, (n_boot, a.size))] for a in arrs]), float)  # (m, n_boot)
    good = np.all(reps > 0, axis=0)
    slopes = np.linalg.lstsq(X, np.log(reps[:, good]), rcond=None)[0][1] if good.any() else np.empty(0)
    ci = _tails(slopes, level) if slopes.size >= 10 else _NAN2
    return SlopeFit(
        slope=float(beta[1]),
        intercept=float(beta[0]),
        ci=ci,
        level=level,
        n=int(lx.size),
        method=f"log-log OLS, percentile bootstrap over paths ({int(good.sum())}/{n_boot} usable resamples)",
    )


def _next_on_grid(grid, v: np.ndarray) -> np.ndarray:
    """The grid value after each ``v`` (a grid value); one grid ratio beyond the last value."""
    g = np.asarray(grid, dtype=float)
    i = np.searchsorted(g, v, side="right")
    beyond = v * (g[-1] / g[-2] if g.size > 1 and g[-2] > 0 else 2.0)
    return np.where(i < g.size, g[np.minimum(i, g.size - 1)], beyond)


def interval_censored(grids, tau_point, tau_reps, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds read off grids as the intervals they stand for: ``[tau, next grid value)``.

    A threshold found on a grid (:func:`threshold_point`) is the grid value below the crossing; the
    crossing lies anywhere up to the next grid value.  Returns the geometric midpoints of the point
    estimates' intervals, shape (m,), and the replicates drawn log-uniformly within theirs, shape
    (n_boot, m), so that a fit's CI carries the grid's resolution as well as the paths' noise.  A
    threshold of 0 has no log-midpoint and stays 0 (a fit in logs skips it).
    """
    t = np.asarray(tau_point, dtype=float)
    R = np.asarray(tau_reps, dtype=float)
    rng = np.random.default_rng(seed)
    u = rng.random(R.shape)
    mid, out = np.zeros(t.size), np.zeros(R.shape)
    for j, g in enumerate(grids):
        if t[j] > 0:
            mid[j] = math.sqrt(t[j] * float(_next_on_grid(g, np.array([t[j]]))[0]))
        r = R[:, j]
        pos = r > 0
        hi = _next_on_grid(g, r[pos])
        out[pos, j] = np.exp(np.log(r[pos]) + u[pos, j] * np.log(hi / r[pos]))
    return mid, out


def power_law_boot(
    one_minus_mu, eta, tau_point, tau_reps, *, level: float = 0.95, drop_zero: bool = False
) -> PowerLawFit:
    """Fit ``log tau = log C + p log(1-mu) - q log eta`` to point estimates and to each bootstrap replicate.

    Parameters
    ----------
    one_minus_mu, eta, tau_point : arrays, shape (m,)
    tau_reps : array, shape (n_boot, m)
        Bootstrap replicates of tau at every grid point (e.g. :attr:`Threshold.replicates`).
        Replicates with a non-positive tau are skipped and counted in ``method``.
    drop_zero : bool
        Leave out of the fit (and count in ``method``) the points whose estimate is <= 0, e.g. a
        threshold below a grid's first positive value; otherwise such a point makes the fit NaN.

    Returns
    -------
    PowerLawFit
        Point fit (NaN when a point is <= 0), percentile CIs of p and q over the replicates, and the
        OLS t CIs of the point fit beside them.
    """
    return power_law_boot_levels(one_minus_mu, eta, tau_point, tau_reps, levels=(level,), drop_zero=drop_zero)[0]


def threshold_cis_levels(
    grid, samples, criteria: Sequence[str], *, n_boot: int, seed: int, levels: Sequence[float], method: str = "paths"
) -> list[dict[str, Threshold]]:
    """:func:`threshold_cis` at each of ``levels`` from one set of redraws of the curve.

    Equal to calling :func:`threshold_cis` once per level with the same ``seed`` (the replicates are the
    same), at the cost of one bootstrap: a row's PASS interval (95%) and its FAIL interval
    (:func:`fail_level`) come from the same replicates.
    """
    lv = [_level(x) for x in levels]
    g, e = _threshold_args(grid, samples, criteria[0])
    reps = threshold_replicates_all(g, e, criteria, n_boot=n_boot, seed=seed, method=method)
    est = {c: threshold_point(g, e, c) for c in criteria}
    how = "over paths" if method == "paths" else "of the means (normal)"
    out = []
    for level in lv:
        d = {}
        for c in criteria:
            lo, hi = _tails(reps[c], level)
            i_hi = int(np.searchsorted(g, hi))
            censored = bool(est[c] >= g[-1])
            hi_w = math.inf if (censored or i_hi >= g.size - 1) else float(g[i_hi + 1])
            d[c] = Threshold(
                estimate=est[c],
                ci=(float(lo), hi_w),
                level=level,
                n=e.shape[1],
                method=f"{c}; percentile bootstrap {how} ({n_boot} redraws), upper end + one grid step",
                replicates=reps[c],
                censored=censored,
            )
        out.append(d)
    return out


def power_law_boot_levels(
    one_minus_mu, eta, tau_point, tau_reps, *, levels: Sequence[float], drop_zero: bool = False
) -> list[PowerLawFit]:
    """:func:`power_law_boot` at each of ``levels`` from one fit of the replicates (same numbers, one fit)."""
    lv = [_level(x) for x in levels]
    a = np.asarray(one_minus_mu, float)
    e = np.asarray(eta, float)
    t = np.asarray(tau_point, float)
    keep = t > 0 if drop_zero else np.ones(t.size, dtype=bool)
    a, e, t = a[keep], e[keep], t[keep]
    X = np.column_stack([np.ones(a.size), np.log(a), -np.log(e)])
    ok = not (np.any(~(t > 0)) or t.size < 3)
    beta, se, dof = _ols(X, np.log(t)) if ok else (np.full(3, math.nan), None, 0)
    R = np.asarray(tau_reps, float)[:, keep]
    good = np.all(R > 0, axis=1)
    B = np.linalg.lstsq(X, np.log(R[good]).T, rcond=None)[0].T if good.any() else None
    out = []
    for level in lv:
        _, p_ols, q_ols = _t_cis(beta, se, dof, level) if ok else (None, _NAN2, _NAN2)
        p_ci, q_ci = (_tails(B[:, 1], level), _tails(B[:, 2], level)) if B is not None else (_NAN2, _NAN2)
        out.append(
            PowerLawFit(
                C=float(math.exp(beta[0])) if np.isfinite(beta[0]) else math.nan,
                p=float(beta[1]),
                q=float(beta[2]),
                p_ci=p_ci,
                q_ci=q_ci,
                p_ci_ols=p_ols,
                q_ci_ols=q_ols,
                level=level,
                n=int(a.size),
                method=f"OLS in logs; percentile CI over {int(good.sum())}/{R.shape[0]} usable bootstrap replicates"
                + (f"; {int((~keep).sum())} point(s) with a zero estimate left out" if (~keep).any() else ""),
            )
        )
    return out
