"""Unit and coverage tests of diffapprox.stats.

Coverage tests: REPS seeded replications; the empirical coverage must lie within
K_SE binomial standard errors of the nominal level (one-sided where the method is
conservative by construction).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from diffapprox import DiffapproxError, Verdict
from diffapprox import stats as S

REPS = 400
LEVEL = 0.95
K_SE = 4.0
SE = math.sqrt(LEVEL * (1 - LEVEL) / REPS)


def _covered(est: S.Estimate, truth: float) -> bool:
    return est.ci[0] <= truth <= est.ci[1]


def _coverage(make, truth, seed):
    rng = np.random.default_rng(seed)
    return np.mean([_covered(make(rng), truth) for _ in range(REPS)])


def _ar1(rng, paths, n, phi):
    e = rng.standard_normal((paths, n))
    e[:, 1:] *= math.sqrt(1 - phi * phi)
    x = np.empty_like(e)
    x[:, 0] = e[:, 0]
    for k in range(1, n):
        x[:, k] = phi * x[:, k - 1] + e[:, k]
    return x


@pytest.mark.parametrize(
    "name, make, truth",
    [
        ("mean t, normal n=20", lambda r: S.mean_ci(r.normal(2.0, 3.0, 20)), 2.0),
        ("mean normal, exp n=400", lambda r: S.mean_ci(r.exponential(1.0, 400), method="normal"), 1.0),
        ("Wilson p=0.3 n=50", lambda r: S.proportion_ci(int(r.binomial(50, 0.3)), 50), 0.3),
        ("second moment N(0,2) n=300", lambda r: S.second_moment_ci(r.normal(0, math.sqrt(2), 300)), 2.0),
        ("variance t10 n=500", lambda r: S.variance_ci(r.standard_t(10, 500)), 10 / 8),
        ("path means AR(1)", lambda r: S.path_means_ci(_ar1(r, 30, 60, 0.8) ** 2), 1.0),
        ("batch means AR(1)", lambda r: S.batch_means_ci(_ar1(r, 1, 4000, 0.5)[0], 20), 0.0),
        (
            "bootstrap mean n=60",
            lambda r: S.bootstrap_ci(r.normal(0, 1, 60), n_boot=300, seed=int(r.integers(2**32))),
            0.0,
        ),
    ],
)
@pytest.mark.slow
def test_ci_coverage(name, make, truth):
    cov = _coverage(make, truth, seed=12345)
    assert abs(cov - LEVEL) <= K_SE * SE, f"{name}: coverage {cov:.3f}"


def test_quantile_ci_coverage_is_at_least_nominal():
    from scipy.stats import binom

    n, q = 81, 0.25
    q_true = -math.log(1 - q)  # 0.25-quantile of Exp(1)
    cov = _coverage(lambda r: S.quantile_ci(r.exponential(1.0, n), q), q_true, seed=7)
    assert cov >= LEVEL - K_SE * SE
    # The order-statistic CI [x_(l), x_(u+1)] (l, u the binomial quantiles, 1-based) covers the true
    # quantile exactly when N = #{x < q_true} ~ Binomial(n, q) lies in [l, u]: its exact coverage is
    # known, >= LEVEL by construction, and the empirical coverage must match it (was `cov <= 1.0`,
    # which cannot fail).
    b = binom(n, q)
    lo_i, hi_i = int(b.ppf((1 - LEVEL) / 2)), int(b.ppf((1 + LEVEL) / 2))
    exact = float(b.cdf(hi_i) - b.cdf(lo_i - 1))
    assert exact >= LEVEL
    assert abs(cov - exact) <= K_SE * math.sqrt(exact * (1 - exact) / REPS), (cov, exact)


def test_quantile_ci_small_sample_is_unbounded():
    e = S.quantile_ci([1.0, 2.0, 3.0], 0.5)
    assert e.ci == (-math.inf, math.inf)


def test_path_means_ci_rejects_1d_and_drops_divergent_paths():
    with pytest.raises(DiffapproxError):
        S.path_means_ci(np.ones(5))
    x = np.ones((4, 3))
    x[1, 2] = np.nan
    assert S.path_means_ci(x).n == 3


# ----------------------------------------------------------------------------- equivalence
BAND = (0.9, 1.1)


@pytest.mark.parametrize(
    "ci, verdict",
    [
        ((0.9, 1.1), Verdict.PASS),  # touching both edges: inside the closed band
        ((0.95, 1.05), Verdict.PASS),
        ((0.89, 1.0), Verdict.INCONCLUSIVE),
        ((1.0, 1.1000001), Verdict.INCONCLUSIVE),
        ((1.1, 1.3), Verdict.INCONCLUSIVE),  # touches the edge: not entirely outside
        ((1.1000001, 1.3), Verdict.FAIL),
        ((0.5, 0.8999999), Verdict.FAIL),
        ((0.5, 1.5), Verdict.INCONCLUSIVE),  # CI wider than the band
        ((math.nan, 1.0), Verdict.INCONCLUSIVE),
    ],
)
def test_equivalence_at_band_edges(ci, verdict):
    assert S.equivalence(1.0, ci, BAND) is verdict


def test_equivalence_one_sided_band_and_bad_band():
    assert S.equivalence(0.5, (0.2, 0.8), (0.0, math.inf)) is Verdict.PASS
    with pytest.raises(DiffapproxError):
        S.equivalence(1.0, (0.9, 1.1), (2.0, 1.0))


def test_bands():
    assert S.relative_band(2.0, 0.1) == pytest.approx((1.8, 2.2))
    assert S.relative_band(-2.0, 0.1) == pytest.approx((-2.2, -1.8))
    assert S.absolute_band(1.0, 0.5) == (0.5, 1.5)


def test_measurement_from_estimate():
    e = S.Estimate(estimate=1.0, ci=(0.95, 1.04), level=0.9, n=10, method="mean, t CI")
    m = S.measurement("x/i=2", e, prediction=1.0, band=S.relative_band(1.0, 0.1), note="h^2/eta")
    assert m.verdict is Verdict.PASS and m.ci_level == 0.9 and m.tolerance == pytest.approx((0.9, 1.1))
    assert "h^2/eta" in m.note and "n=10" in m.note
    assert S.measurement("y", 3.0, (2.0, 4.0), 1.0, (0.9, 1.1)).verdict is Verdict.FAIL
    assert S.measurement("z", 3.0).verdict is Verdict.INCONCLUSIVE


# ----------------------------------------------------------------------------- Holm, GOF
def test_holm_hand_computed():
    # sorted p: 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.02, 0.03, 0.06, 0.06
    adj = S.holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adj, [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(S.holm([0.5, 0.9]), [1.0, 1.0])
    np.testing.assert_allclose(S.holm([np.nan, 0.01]), [1.0, 0.02])


def test_ad_pvalue_matches_known_critical_values():
    # Asymptotic A^2 critical values for a fully specified CDF (Anderson & Darling 1954).
    for a2, p in ((1.933, 0.10), (2.492, 0.05), (3.857, 0.01)):
        assert S.ad_pvalue(a2, 10_000) == pytest.approx(p, abs=0.001)
    assert S.ad_pvalue(0.0, 10) == 1.0


GOF_REPS = 300
GOF_ALPHA = 0.05
GOF_SE = math.sqrt(GOF_ALPHA * (1 - GOF_ALPHA) / GOF_REPS)


def test_gof_size_under_the_null():
    rng = np.random.default_rng(2024)
    rej = {"KS": 0, "AD": 0, "CvM": 0}
    fails = 0
    for _ in range(GOF_REPS):
        r = S.gof(rng.normal(size=60), norm.cdf, alpha=GOF_ALPHA)
        for t in r.tests:
            rej[t.name] += t.pvalue < GOF_ALPHA
        fails += r.verdict is Verdict.FAIL
    for name, k in rej.items():
        assert abs(k / GOF_REPS - GOF_ALPHA) <= K_SE * GOF_SE, (name, k)
    assert fails / GOF_REPS <= GOF_ALPHA + K_SE * GOF_SE


def test_gof_detects_a_shift_and_reports_holm():
    rng = np.random.default_rng(3)
    r = S.gof(rng.normal(0.5, 1.0, 200), norm.cdf)
    assert r.verdict is Verdict.FAIL
    assert [t.name for t in r.tests] == ["KS", "AD", "CvM"]
    np.testing.assert_allclose([t.pvalue_holm for t in r.tests], S.holm([t.pvalue for t in r.tests]))
    ms = S.gof_measurements("law/i=2", r)
    assert [m.name for m in ms] == ["law/i=2/KS", "law/i=2/AD", "law/i=2/CvM"]
    assert all(m.verdict is Verdict.FAIL for m in ms)


def test_gof_inconclusive_when_it_could_not_see_the_stated_effect():
    rng = np.random.default_rng(4)
    x = rng.normal(size=30)
    assert S.ks_detectable_distance(30) > 0.2
    assert S.gof(x, norm.cdf, detect=0.05).verdict is Verdict.INCONCLUSIVE
    assert S.gof(x[:3], norm.cdf).verdict is Verdict.INCONCLUSIVE
    with pytest.raises(DiffapproxError):
        S.gof(x, norm.cdf, tests=("chi2",))


# ----------------------------------------------------------------------------- fits
def test_loglog_slope_recovers_power_law():
    rng = np.random.default_rng(5)
    x = np.geomspace(1e-3, 1e-1, 8)
    y = 3.0 * x**1.5 * np.exp(rng.normal(0, 0.05, x.size))
    f = S.loglog_slope(x, y)
    assert f.ci[0] <= 1.5 <= f.ci[1]
    assert f.ci[1] - f.ci[0] < 0.3
    with pytest.raises(DiffapproxError):
        S.loglog_slope([1, 2], [1, -1])


def test_loglog_slope_bootstrap_over_paths_covers_truth():
    rng = np.random.default_rng(6)
    x = np.array([0.004, 0.002, 0.001, 0.0005])
    samples = [rng.exponential(2.0 * xi, 400) for xi in x]  # mean 2 x^1
    f = S.loglog_slope_bootstrap(x, samples, n_boot=500, seed=1)
    assert f.ci[0] <= 1.0 <= f.ci[1]
    assert f.ci[1] - f.ci[0] < 0.3
    g = S.loglog_slope_bootstrap(x, samples, n_boot=500, seed=1)
    assert g == f  # seeded: identical


def test_power_law_fit_recovers_exponents():
    rng = np.random.default_rng(8)
    om = np.repeat([0.05, 0.1, 0.2, 0.4], 4)
    eta = np.tile([1e-3, 2e-3, 4e-3, 8e-3], 4)
    tau = 0.7 * om**2.0 * eta**-0.5 * np.exp(rng.normal(0, 0.05, om.size))
    f = S.power_law_fit(om, eta, tau, n_boot=500, seed=2)
    # estimates within 4 standard errors (the OLS CI half-width is ~2.16 SE with 13 dof)
    se_p = (f.p_ci_ols[1] - f.p_ci_ols[0]) / (2 * 2.16)
    se_q = (f.q_ci_ols[1] - f.q_ci_ols[0]) / (2 * 2.16)
    assert abs(f.p - 2.0) <= K_SE * se_p and abs(f.q - 0.5) <= K_SE * se_q
    # the bootstrap CI has the width of the exact one (up to z vs t and resampling noise)
    ratio = (f.p_ci[1] - f.p_ci[0]) / (f.p_ci_ols[1] - f.p_ci_ols[0])
    assert 0.7 <= ratio <= 1.2
    assert f.C == pytest.approx(0.7, rel=0.2)
    reps = [t * np.exp(rng.normal(0, 0.1, 20)) for t in 0.7 * om**2.0 * eta**-0.5]
    g = S.power_law_fit(om, eta, [r.mean() for r in reps], replicates=reps, n_boot=300, seed=3)
    hw = max(g.p_ci[1] - g.p_ci[0], 1e-12) / 2  # ~1.96 SE
    assert abs(g.p - 2.0) <= K_SE * hw / 1.96 and g.p_ci[0] < g.p < g.p_ci[1]
    with pytest.raises(DiffapproxError):
        S.power_law_fit([0.1, 0.2, 0.3], [1e-3, 1e-3, 1e-3], [1, 2, 3], seed=0)


# ---------------------------------------------------------------------------
# goodness of fit by distance, band and effect
DIST_SEED = 20261129


def test_detectable_effect_is_z_sum_times_se():
    assert S.detectable_effect(1.0) == pytest.approx(1.959964 + 0.841621, abs=1e-5)
    assert S.detectable_effect(0.5, level=0.9, power=0.5) == pytest.approx(0.5 * 1.644854, abs=1e-5)


def test_ks_distance_ci_covers_the_true_distance():
    """N(delta, 1) against N(0, 1): true sup-distance 2 Phi(delta/2) - 1; the DKW CI covers it >= 95%."""
    from scipy.stats import norm

    rng = np.random.default_rng(DIST_SEED)
    delta, n, reps = 0.2, 500, 300
    truth = 2 * norm.cdf(delta / 2) - 1
    cover = 0
    for _ in range(reps):
        e = S.ks_distance(rng.normal(delta, 1.0, n), norm.cdf)
        cover += e.ci[0] <= truth <= e.ci[1]
    # DKW is conservative: coverage >= 0.95; 3 binomial SEs of slack below
    assert cover / reps >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / reps)


def test_gof_distance_passes_the_null_and_fails_a_distance_beyond_the_effect():
    from scipy.stats import norm

    rng = np.random.default_rng(DIST_SEED + 1)
    n, effect = 4096, 0.05
    null = [S.gof_distance("x", rng.standard_normal(n), norm.cdf, effect, tests=()).verdict for _ in range(50)]
    assert Verdict.FAIL not in null and null.count(Verdict.PASS) >= 45
    # true distance 2 Phi(0.25) - 1 = 0.197 >> effect + 2 eps
    alt = [S.gof_distance("x", rng.normal(0.5, 1.0, n), norm.cdf, effect, tests=()).verdict for _ in range(20)]
    assert alt == [Verdict.FAIL] * 20
    m = S.gof_distance("x", rng.standard_normal(n), norm.cdf, effect)
    assert m.tolerance == (0.0, effect) and m.effect == effect and "KS" in m.note


def test_more_paths_sharpen_a_distance_verdict_without_flipping_it():
    """The same small deviation (distance 0.02) judged against effect 0.05: INCONCLUSIVE at few paths, PASS at many."""
    from scipy.stats import norm

    rng = np.random.default_rng(DIST_SEED + 2)
    shift = 2 * norm.ppf(0.51)  # N(shift, 1) vs N(0, 1): sup-distance 0.02
    small = S.gof_distance("x", rng.normal(shift, 1.0, 500), norm.cdf, 0.05, tests=()).verdict
    large = S.gof_distance("x", rng.normal(shift, 1.0, 200_000), norm.cdf, 0.05, tests=()).verdict
    assert small is Verdict.INCONCLUSIVE and large is Verdict.PASS


def test_diverged_paths_withhold_a_pass_but_not_a_fail():
    ok = S.measurement("m", 1.0, (0.95, 1.05), 1.0, (0.9, 1.1))
    assert ok.verdict is Verdict.PASS
    held = S.measurement("m", 1.0, (0.95, 1.05), 1.0, (0.9, 1.1), diverged=3)
    assert held.verdict is Verdict.INCONCLUSIVE and "3 diverged" in held.note
    bad = S.measurement("m", 2.0, (1.9, 2.1), 1.0, (0.9, 1.1), diverged=3)
    assert bad.verdict is Verdict.FAIL


def test_row_level_is_bonferroni():
    assert S.row_level(1) == pytest.approx(0.95) and S.row_level(10) == pytest.approx(0.995)
    with pytest.raises(DiffapproxError, match="m"):
        S.row_level(0)
