"""Statistics of the momentum-asynchrony claims (diffapprox.stats): thresholds of curves, ratios of
means, slopes of path statistics, power-law fits and the censored band verdict, on inputs whose
answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffapprox import DiffapproxError, Verdict
from diffapprox import stats as S

CURVE_SEED = 20240605
RATIO_SEED = 20261129
SLOPE_SEED = 20261130
FIT_SEED = 5


def _curves(threshold, taus, n=400, seed=CURVE_SEED, base=0.02):
    """Errors flat at ``base`` up to ``threshold``, then rising fast; n paths of gamma noise (CV 0.2).

    With n = 400 the mean's relative SE is 1%, so even the 1.1 criterion is decided far from chance."""
    rng = np.random.default_rng(seed)
    taus = np.asarray(taus, float)
    mean = base * np.where(taus <= threshold, 1.0, np.exp((taus - threshold) / 5.0) * 3.0)
    return rng.gamma(25.0, 1.0 / 25.0, size=(taus.size, n)) * mean[:, None]


def test_threshold_finds_a_known_threshold_under_every_criterion():
    taus = np.arange(0, 201, 10)
    e = _curves(120, taus)
    for crit in S.THRESHOLD_CRITERIA:
        assert S.threshold_point(taus, e, crit) == 120
    t = S.threshold_ci(taus, e, "ratio-1.5", n_boot=200, seed=3)
    assert t.ci[0] <= 120 <= t.ci[1] and not t.censored
    assert t.ci[1] == 130  # the bootstrap's upper quantile (120) moved up one grid step
    assert t.replicates.shape == (200,)


def test_threshold_censored_at_the_grid_end_and_zero_when_nothing_is_similar():
    taus = np.arange(0, 101, 10)
    t = S.threshold_ci(taus, _curves(1e9, taus), "ratio-1.5", n_boot=100, seed=3)
    assert t.censored and math.isinf(t.ci[1])
    bad = np.vstack([np.full((1, 50), 0.01), np.ones((taus.size - 1, 50))])
    assert S.threshold_point(taus, bad, "band") == 0


def test_threshold_rejects_bad_input():
    with pytest.raises(DiffapproxError, match="criterion"):
        S.threshold_point([0, 1], np.ones((2, 5)), "ratio-3")
    with pytest.raises(DiffapproxError, match="samples"):
        S.threshold_point([0, 1, 2], np.ones((2, 5)), "band")
    with pytest.raises(DiffapproxError, match="grid"):
        S.threshold_point([0, 2, 1], np.ones((3, 5)), "band")


@pytest.mark.parametrize(
    "ci,band,verdict",
    [
        ((1.0, 2.0), (0.5, 3.0), Verdict.PASS),
        ((4.0, math.inf), (0.5, 3.0), Verdict.FAIL),  # censored above the band
        ((2.0, math.inf), (0.5, 3.0), Verdict.INCONCLUSIVE),
        ((2.0, math.inf), (0.5, math.inf), Verdict.PASS),  # censored, one-sided band
        ((0.1, 0.2), (0.3, math.inf), Verdict.FAIL),
        ((math.nan, 1.0), (0.0, 2.0), Verdict.INCONCLUSIVE),
    ],
)
def test_band_verdict_allows_censored_intervals(ci, band, verdict):
    assert S.band_verdict(1.0, ci, band) is verdict


def test_ratio_ci_covers_the_true_ratio_and_an_exact_denominator_scales_the_numerator():
    rng = np.random.default_rng(RATIO_SEED)
    a = rng.gamma(4.0, 0.5, 600)  # mean 2
    b = rng.gamma(4.0, 0.25, 600)  # mean 1
    for e in (S.ratio_ci(a, b, level=0.99), S.ratio_ci(a, b, n_boot=1000, seed=1, level=0.99)):
        assert e.ci[0] < 2.0 < e.ci[1] and e.ci[1] - e.ci[0] < 0.4
    d, bt = S.ratio_ci(a, b), S.ratio_ci(a, b, n_boot=4000, seed=1)
    # delta method and bootstrap agree to a few percent of the width at 600 paths per sample
    w = d.ci[1] - d.ci[0]
    assert abs(d.ci[0] - bt.ci[0]) < 0.05 * w and abs(d.ci[1] - bt.ci[1]) < 0.05 * w
    e2 = S.ratio_ci(np.append(a, np.nan), 4.0)
    assert e2.n == 600 and e2.estimate == pytest.approx(a.mean() / 4.0)
    m = S.mean_ci(a, method="normal")
    # the ratio of a mean to a constant: the CI of the mean (on the log scale), divided by 4
    assert e2.ci[0] == pytest.approx(m.ci[0] / 4.0, rel=0.01) and e2.ci[1] == pytest.approx(m.ci[1] / 4.0, rel=0.01)
    assert math.isnan(S.ratio_ci([1.0], b).estimate) and math.isnan(S.ratio_ci(a, -b).estimate)


def test_ratio_ci_delta_method_covers_at_its_level():
    """Coverage of the log-delta interval at a Bonferroni level, skewed paths (CV 0.5), 300 per sample."""
    rng = np.random.default_rng(RATIO_SEED + 1)
    reps, level = 2000, 0.99
    a = rng.gamma(4.0, 0.5, size=(reps, 300))
    b = rng.gamma(4.0, 0.5, size=(reps, 300))
    miss = sum(not (e.ci[0] <= 1.0 <= e.ci[1]) for e in (S.ratio_ci(x, y, level=level) for x, y in zip(a, b)))
    # expected misses 20; binomial sd 4.5: accept up to 4 sd above, and a conservative interval below
    assert miss <= 38


def test_loglog_slope_boot_recovers_a_slope_and_combines_samples():
    rng = np.random.default_rng(SLOPE_SEED)
    x = np.array([1.0, 2.0, 4.0, 8.0])
    # a difference of two means growing like x^1.5, and a mean over a bound growing like x^0.5
    hi = [rng.gamma(9.0, (1.0 + xi**1.5) / 9.0, 400) for xi in x]
    lo = [rng.gamma(9.0, 1.0 / 9.0, 400) for _ in x]

    def diff(ss):
        return [ss[i].mean(axis=-1) - ss[4 + i].mean(axis=-1) for i in range(4)]

    f = S.loglog_slope_boot(x, hi + lo, diff, n_boot=400, seed=2)
    assert f.ci[0] < 1.5 < f.ci[1] and f.ci[1] - f.ci[0] < 0.3
    assert "400/400" in f.method
    g = S.loglog_slope_boot(x, lo, lambda ss: [s.mean(axis=-1) / xi for s, xi in zip(ss, x)], n_boot=400, seed=2)
    assert g.ci[0] < -1.0 < g.ci[1]


def test_loglog_slope_boot_skips_non_positive_replicates():
    x = np.array([1.0, 2.0])
    s = [np.array([-1.0, 3.0]), np.array([1.0, 1.0])]  # the first mean is <= 0 in about a quarter of the resamples
    f = S.loglog_slope_boot(x, s, lambda ss: [a.mean(axis=-1) for a in ss], n_boot=200, seed=1)
    used = int(f.method.split("(")[1].split("/")[0])
    assert 100 < used < 200


def test_power_law_boot_recovers_exponents():
    rng = np.random.default_rng(FIT_SEED)
    a = np.repeat([0.5, 0.3, 0.2, 0.1], 4)
    e = np.tile([2.5e-4, 5e-4, 1e-3, 2e-3], 4)
    true = 0.09 * a**1.3 * e**-0.8
    reps = true[None, :] * np.exp(rng.normal(0, 0.03, size=(300, a.size)))
    fit = S.power_law_boot(a, e, true, reps)
    assert fit.p == pytest.approx(1.3, abs=1e-9) and fit.q == pytest.approx(0.8, abs=1e-9)
    assert fit.p_ci[0] < 1.3 < fit.p_ci[1] and fit.q_ci[0] < 0.8 < fit.q_ci[1]
    reps[0, 3] = 0.0  # a replicate with a zero threshold cannot be fitted in logs: skipped, counted
    assert "299/300" in S.power_law_boot(a, e, true, reps).method
    zero = np.where((a == 0.5) & (e == 2e-3), 0.0, true)
    assert math.isnan(S.power_law_boot(a, e, zero, reps).p)
    f = S.power_law_boot(a, e, zero, reps, drop_zero=True)
    assert f.p == pytest.approx(1.3, abs=1e-9) and f.n == 15 and "1 point(s) with a zero estimate left out" in f.method


def test_interval_censored_midpoints_and_draws_stay_inside_their_grid_step():
    grids = [np.array([0.0, 10, 12, 14, 17, 20]), np.array([0.0, 1, 2, 3])]
    reps = np.array([[12.0, 1.0], [20.0, 0.0], [10.0, 3.0]] * 200)
    mid, r = S.interval_censored(grids, [12.0, 0.0], reps, seed=FIT_SEED)
    assert mid[0] == pytest.approx(math.sqrt(12 * 14)) and mid[1] == 0.0
    assert np.all((r[0::3, 0] >= 12) & (r[0::3, 0] < 14)) and np.all((r[2::3, 1] >= 3) & (r[2::3, 1] < 4.5))
    assert np.all((r[1::3, 0] >= 20) & (r[1::3, 0] < 20 * 20 / 17)) and np.all(r[1::3, 1] == 0)
    # log-uniform within [12, 14): the mean log sits at the log-midpoint
    assert np.log(r[0::3, 0]).mean() == pytest.approx(np.log(mid[0]), abs=0.01)


def test_threshold_and_power_law_levels_equal_one_call_per_level():
    taus = np.arange(0, 201, 10)
    e = _curves(120, taus, n=60)
    both = S.threshold_cis_levels(taus, e, ("ratio-1.5", "ratio-2"), n_boot=300, seed=5, levels=(0.95, 0.999))
    for d, lv in zip(both, (0.95, 0.999)):
        one = S.threshold_cis(taus, e, ("ratio-1.5", "ratio-2"), n_boot=300, seed=5, level=lv)
        assert all(d[c].ci == one[c].ci and d[c].estimate == one[c].estimate for c in one)
    rng = np.random.default_rng(7)
    a, eta = np.tile([0.5, 0.3, 0.1], 2), np.repeat([1e-3, 2e-3], 3)
    t = 3.0 * a**2 * eta**-0.5
    reps = t * np.exp(0.05 * rng.standard_normal((200, t.size)))
    fits = S.power_law_boot_levels(a, eta, t, reps, levels=(0.95, 0.99))
    for f, lv in zip(fits, (0.95, 0.99)):
        g = S.power_law_boot(a, eta, t, reps, level=lv)
        assert (f.p, f.q, f.p_ci, f.q_ci, f.p_ci_ols) == (g.p, g.q, g.p_ci, g.q_ci, g.p_ci_ols)
