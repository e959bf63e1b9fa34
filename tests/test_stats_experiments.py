"""Statistics of the experiment claims (``diffapprox.stats``, last block): trends over seeds,
staleness laws, one live run against its replay.

Coverage and power checks use fixed seeds and tolerances of k Monte Carlo standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sst

from diffapprox.engine import delay_law, staleness_pmf
from diffapprox import stats

SEED = 20240612  # master seed of this module's Monte Carlo checks
K_SE = 4.0  # tolerance of a Monte Carlo rate, in its binomial standard errors


def _rate_ok(hits: int, n: int, p: float) -> bool:
    return abs(hits / n - p) <= K_SE * np.sqrt(p * (1 - p) / n)


def test_grid_argmax_ties_and_spearman_edge_cases():
    acc = np.array([[0.1, 0.9, 0.9, 0.2, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]])
    grid = (0.1, 0.3, 0.5, 0.7, 0.9)
    np.testing.assert_allclose(stats.grid_argmax(acc, grid), [0.4, 0.9])  # tie 0.3/0.5 -> 0.4
    rho = stats.spearman_rows([1, 2, 4, 8], np.array([[0.9, 0.7, 0.5, 0.3], [0.5] * 4, [0.1, 0.3, 0.3, 0.9]]))
    assert rho[0] == pytest.approx(-1.0) and rho[1] == 0.0
    assert rho[2] == pytest.approx(sst.spearmanr([1, 2, 4, 8], [0.1, 0.3, 0.3, 0.9]).statistic)


def test_resample_indices_are_the_bootstrap_ci_draws():
    x = np.random.default_rng(SEED).normal(size=25)
    idx = stats.resample_indices(25, 300, seed=7)
    est = stats.percentile_ci(x[idx].mean(axis=1), float(x.mean()), level=0.9, n=25, method="mean")
    ref = stats.bootstrap_ci(x, np.mean, level=0.9, n_boot=300, seed=7)
    assert est.ci == pytest.approx(ref.ci, rel=0, abs=1e-12) and est.estimate == pytest.approx(ref.estimate)


def test_detectable_effect_t_gives_its_power():
    """Truth beyond the band's edge by the t-based effect: the whole t CI misses the band with about power 0.8."""
    n, level, reps = 10, 0.99, 4000
    effect = stats.detectable_effect_t(1.0 / np.sqrt(n), n - 1, level=level)
    tq = sst.t.ppf(0.5 + level / 2, n - 1)
    exact = float(sst.nct.sf(tq, n - 1, effect * np.sqrt(n)))  # the sd is estimated: noncentral t
    assert 0.75 < exact < 0.85
    x = np.random.default_rng(SEED).normal(effect, 1.0, size=(reps, n))  # band (-inf, 0]
    lower = x.mean(axis=1) - tq * x.std(axis=1, ddof=1) / np.sqrt(n)
    assert _rate_ok(int(np.sum(lower > 0)), reps, exact)


def test_excess_tv_of_the_law_itself_is_near_zero_and_of_a_constant_delay_is_not():
    pmf = staleness_pmf(4)
    law = delay_law("workers:4")
    rng = np.random.default_rng(SEED)
    null = [law.sample(3000, rng)[1000:] for _ in range(100)]
    trace = law.sample(3000, rng)[1000:]
    e = stats.excess_tv(trace, pmf, null, n_boot=400, level=0.99, seed=1)
    assert e.ci[0] <= 0.0 <= e.ci[1] and e.ci[1] - e.ci[0] < 0.1
    raw = stats.block_bootstrap_tv(trace, pmf, n_boot=400, seed=1)
    assert raw.estimate - e.estimate == pytest.approx(float(np.median(stats.tv_distances(null, pmf))))
    const = stats.excess_tv(np.full(2000, 3), pmf, null, n_boot=400, seed=1)
    assert const.ci[0] > 1.0 - pmf[3] - 0.1  # TV(const:3, workers:4) = 1 - P(tau = 3), less a floor < 0.1


def test_tv_distances_counts_mass_outside_the_pmf():
    assert stats.tv_distances([np.array([0, 1, 2, 3])], np.array([0.5, 0.5]))[0] == pytest.approx(0.5)
    assert stats.tv_distances([np.array([0, 1])], np.array([0.5, 0.3]))[0] == pytest.approx(0.5 * (0.0 + 0.2 + 0.2))


def test_one_draw_ci_covers_the_shifted_median():
    """x = theta + Z - median(Z): the CI covers theta at its level (Monte Carlo over draws)."""
    rng = np.random.default_rng(SEED)
    ref = rng.gamma(4.0, 0.02, size=2000)  # skewed, like a window-mean error
    med, theta, level, reps = float(np.median(ref)), 0.3, 0.9, 2000
    xs = theta + rng.gamma(4.0, 0.02, size=reps) - med
    hits = sum(lo <= theta <= hi for lo, hi in (stats.one_draw_ci(x, ref, level).ci for x in xs))
    assert _rate_ok(hits, reps, level)
    e = stats.one_draw_ci(0.1, ref, level)
    q = np.quantile(ref, [0.05, 0.95])
    assert e.ci[1] - e.ci[0] == pytest.approx(q[1] - q[0])


def test_contrast_ci_is_the_normal_interval_of_the_combination():
    e = stats.contrast_ci([1.0, 2.0, 4.0], [0.3, 0.4, 0.0], [1.0, -1.0, 0.5], level=0.95)
    assert e.estimate == pytest.approx(1.0)
    assert e.ci == pytest.approx((1.0 - 1.959964 * 0.5, 1.0 + 1.959964 * 0.5), rel=1e-6)
