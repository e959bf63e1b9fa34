"""Statistics added for the weak-convergence claims (diffapprox.stats) and their control samplers.

Exact checks where the answer is known in closed form (binomial power, OLS slopes, a normal law's
sup-distance), Monte-Carlo checks with tolerances of k standard errors from fixed seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sst
from scipy.special import ndtr

from diffapprox import Verdict, stats
from diffapprox_claims.paper import _controls as ctl

WEIGHTS_SEED = 11
REPLICATE_SEED = 12
SLOPE_SEED = 13
GOF_SEED = 14
SAMPLER_SEED = 15
K_SIGMA = 4.0  # Monte-Carlo tolerances: K_SIGMA standard errors


def test_bootstrap_mean_weights_resample_the_paths():
    w = stats.bootstrap_mean_weights(50, 200, WEIGHTS_SEED)
    assert w.shape == (200, 50)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert np.all(np.isclose(w * 50, np.round(w * 50)))  # multinomial counts / n
    # the same seed gives the same weights; another seed other weights
    np.testing.assert_array_equal(w, stats.bootstrap_mean_weights(50, 200, WEIGHTS_SEED))
    assert not np.array_equal(w, stats.bootstrap_mean_weights(50, 200, WEIGHTS_SEED + 1))


def test_replicate_ci_normal_percentile_and_lower_bound():
    rng = np.random.default_rng(REPLICATE_SEED)
    reps = 3.0 + 0.5 * rng.standard_normal(4000)
    e = stats.replicate_ci(3.0, reps, 0.95)
    h = 1.959964 * reps.std(ddof=1)
    assert e.ci == pytest.approx((3.0 - h, 3.0 + h))
    p = stats.replicate_ci(3.0, reps, 0.95, "percentile")
    assert p.ci == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975])))
    cut = stats.replicate_ci(0.1, 0.1 + 0.5 * rng.standard_normal(100), 0.95, lower=0.0)
    assert cut.ci[0] == 0.0 and cut.ci[1] > 0.1
    assert math.isnan(stats.replicate_ci(1.0, [np.nan, 1.0]).ci[0])
    with pytest.raises(Exception, match="interval"):
        stats.replicate_ci(1.0, reps, 0.95, "basic")


def test_loglog_slope_replicates_recovers_a_power_law_and_its_noise():
    x = np.array([4e-3, 2e-3, 1e-3, 5e-4])
    y = 0.3 * x**0.75
    rng = np.random.default_rng(SLOPE_SEED)
    sigma = 0.05  # log-scale noise of every point
    reps = y[:, None] * np.exp(sigma * rng.standard_normal((x.size, 4000)))
    fit = stats.loglog_slope_replicates(x, y, reps, 0.95)
    assert fit.slope == pytest.approx(0.75)
    lx = np.log(x)
    se = sigma / math.sqrt(np.sum((lx - lx.mean()) ** 2))  # OLS slope SE with known noise
    half = 0.5 * (fit.ci[1] - fit.ci[0])
    assert half == pytest.approx(1.959964 * se, rel=K_SIGMA / math.sqrt(2 * 4000))
    bad = stats.loglog_slope_replicates(x, np.array([1.0, 0.0, 1.0, 1.0]), reps, 0.95)
    assert math.isnan(bad.slope) and math.isnan(bad.ci[0])


@pytest.mark.parametrize("edge, direction", [(0.75, -1.0), (0.05, -1.0), (0.9, 1.0), (0.5, 1.0)])
def test_proportion_effect_has_the_stated_power_exactly(edge, direction):
    n, level, power = 2048, stats.row_level(6), 0.8
    e = stats.proportion_effect(edge, n, level=level, power=power, direction=direction)
    truth = edge + direction * e
    k = np.arange(n + 1)
    ends = np.array([stats.proportion_ci(int(j), n, level).ci for j in k])
    clears = ends[:, 1] < edge if direction < 0 else ends[:, 0] > edge
    assert sst.binom.pmf(k, n, truth)[clears].sum() == pytest.approx(power, abs=1e-6)


def test_scaled_effect_solves_its_fixed_point():
    se, edge, level = 0.02, 1.1, stats.row_level(144)
    k = stats.detectable_effect(1.0, level=level)
    up = stats.scaled_effect(se, edge, level=level, direction=1.0)
    assert up == pytest.approx(k * se * (edge + up))
    down = stats.scaled_effect(se, 0.9, level=level, direction=-1.0)
    assert down == pytest.approx(k * se * (0.9 - down))
    assert stats.scaled_effect(1.0, edge, level=level) == math.inf


def test_distance_alternative_is_beyond_the_band_by_two_dkw_halfwidths():
    assert stats.distance_alternative(0.1, 1024, 0.99) == pytest.approx(0.1 + 2 * stats.dkw_halfwidth(1024, 0.99))


def test_gof_holm_pooled_is_the_point_null_rule():
    rng = np.random.default_rng(GOF_SEED)
    good = [rng.standard_normal(400), rng.standard_normal(400)]
    g = stats.gof_holm_pooled(good, sst.norm.cdf, detect=0.2)
    assert g.verdict is Verdict.PASS and len(g.tests) == 6 and g.n == 800
    assert stats.gof_holm_pooled(good, sst.norm.cdf, detect=0.01).verdict is Verdict.INCONCLUSIVE  # too few values
    shifted = [rng.standard_normal(400), 0.5 + rng.standard_normal(400)]
    assert stats.gof_holm_pooled(shifted, sst.norm.cdf).verdict is Verdict.FAIL
    one = stats.gof_holm_pooled([good[0]], sst.norm.cdf, tests=("ks",))
    assert one.tests[0].pvalue_holm == pytest.approx(stats.gof(good[0], sst.norm.cdf, tests=("ks",)).tests[0].pvalue)


def test_gof_distance_withholds_a_pass_for_diverged_paths():
    x = np.random.default_rng(GOF_SEED + 1).standard_normal(4000)
    assert stats.gof_distance("d", x, sst.norm.cdf, 0.1).verdict is Verdict.PASS
    m = stats.gof_distance("d", x, sst.norm.cdf, 0.1, diverged=3)
    assert m.verdict is Verdict.INCONCLUSIVE and "3 diverged" in m.note


@pytest.mark.parametrize("distance, scale", [(0.05, 1.0), (0.16, 1.0), (0.2, 0.9), (0.1, 1.1)])
def test_normal_shift_for_distance(distance, scale):
    m = ctl.normal_shift_for_distance(distance, scale)
    grid = np.linspace(-12, 12, 200001)
    assert np.max(np.abs(ndtr((grid - m) / scale) - ndtr(grid))) == pytest.approx(distance, abs=1e-4)


def test_normal_sample_has_the_stated_variance_and_distance():
    rng = np.random.default_rng(SAMPLER_SEED)
    n = 20000
    x = ctl.normal_sample(rng, n, 2.0, ratio=0.81, distance=0.16)
    assert x.var() == pytest.approx(4 * 0.81, rel=K_SIGMA * math.sqrt(2 / n))
    d = stats.ks_distance(x / 2.0, sst.norm.cdf).estimate
    assert d == pytest.approx(0.16, abs=K_SIGMA * 0.5 / math.sqrt(n))
    assert ctl.counts(rng, 10, 1.3) == 10 and ctl.counts(rng, 10, -0.1) == 0
