"""OU limits (3.3), (A.2): exact law vs sdeint ensembles, exact sampling vs the law, escape-time law."""

import numpy as np
import pytest
from scipy import stats

from diffapprox import DiffapproxError
from diffapprox.engine import StreamingPCA
from diffapprox.limits import escape_time, ou_optimum, ou_saddle, stationary_variance

SEED = 20240603
K_SE = 4.0  # within 4 Monte Carlo standard errors
GOF_ALPHA = 1e-3  # goodness-of-fit level for exact sampling vs transition law
SDEINT_PATHS = 300
GOF_PATHS = 20000
PROBLEM = StreamingPCA(spectrum=(4, 3, 2, 1))  # gaussian: alpha_ij^2 = l_i l_j (i != j)


def test_declared_theory_and_coefficients():
    ou = ou_optimum(PROBLEM, 0.8)
    assert ou.equation == "3.3" and ou.coords.tolist() == [1, 2, 3]
    # rate (lambda_i - lambda_1)/(1-mu): (3-4)/0.2 = -5, -10, -15; sigma = alpha_i1/(1-mu) = sqrt(4 l_i)/0.2
    assert np.allclose(ou.rate, [-5, -10, -15])
    assert np.allclose(ou.sigma, np.sqrt([12, 8, 4]) / 0.2)
    sd = ou_saddle(PROBLEM, 0.8, saddle=1)
    assert sd.equation == "A.2" and sd.coords.tolist() == [0, 2, 3]
    assert sd.unstable.tolist() == [True, False, False]  # only lambda_1 > lambda_2


def test_stationary_variance_hand_computed():
    # alpha_i1^2/(2(1-mu)(lambda1-lambda_i)) with mu = 0.8: 12/(0.4*1) = 30, 8/(0.4*2) = 10, 4/(0.4*3) = 10/3
    v = stationary_variance(PROBLEM, 0.8)
    assert np.isnan(v[0])
    assert np.allclose(v[1:], [30.0, 10.0, 10.0 / 3.0], rtol=1e-14)
    # the second moment tends to it, and matches A.6's formula at finite t
    ou = ou_optimum(PROBLEM, 0.8)
    u0, t = np.array([2.0, -1.0, 0.5]), 0.13
    a6 = v[1:] + (u0**2 - v[1:]) * np.exp(-2 * (4 - np.array([3, 2, 1])) * t / 0.2)
    assert np.allclose(ou.second_moment(t, u0), a6, rtol=1e-13)
    assert np.allclose(ou.second_moment(50.0, u0), v[1:], rtol=1e-12)


def test_saddle_variance_formula():
    # A.2 at e2: U_1 has rate (4-3)/(1-mu); var = alpha_12^2/(2(1-mu)|l1-l2|) |exp(2 r t) - 1|
    mu, t = 0.5, 0.3
    ou = ou_saddle(PROBLEM, mu, 1)
    expected = 12.0 / (2 * 0.5 * 1.0) * (np.exp(2 * 2.0 * t) - 1)
    assert np.isclose(ou.variance(t)[0], expected, rtol=1e-14)
    assert np.isinf(ou.stationary_variance[0])


@pytest.mark.parametrize("method", ["itoEuler", "itoSRI2"])
@pytest.mark.parametrize("center", [0, 1])
def test_exact_moments_vs_sdeint(method, center):
    mu = 0.0  # rates O(1): Euler's O(r dt) variance bias (0.3 %) is far below the Monte Carlo error
    ou = ou_optimum(PROBLEM, mu) if center == 0 else ou_saddle(PROBLEM, mu, center)
    times = np.linspace(0.0, 0.5, 126)  # dt = 4e-3
    u0 = np.array([1.5, -1.0, 0.5])
    rng = np.random.default_rng([SEED, center, method == "itoSRI2"])
    paths = ou.sample_sdeint(times, SDEINT_PATHS, rng, u0=u0, method=method)
    for k in (25, 125):
        x = paths[:, k, :]
        mean, var = ou.mean(times[k], u0), ou.variance(times[k])
        n = x.shape[0]
        assert np.all(np.abs(x.mean(0) - mean) <= K_SE * np.sqrt(var / n))
        # sample variance of Gaussian data: standard error var * sqrt(2/(n-1))
        assert np.all(np.abs(x.var(0, ddof=1) - var) <= K_SE * var * np.sqrt(2.0 / (n - 1)))


@pytest.mark.parametrize("center", [0, 2])
def test_exact_sampling_matches_transition_law(center):
    ou = ou_optimum(PROBLEM, 0.8) if center == 0 else ou_saddle(PROBLEM, 0.8, center)
    times = np.array([0.01, 0.05, 0.2, 0.21, 1.0])  # uneven grid
    u0 = np.array([3.0, -2.0, 1.0])
    x = ou.sample(times, GOF_PATHS, np.random.default_rng(SEED), u0=u0)
    pvals = []
    # marginal law at each time from U(0) = u0
    z = (x - ou.mean(times, u0)[None]) / np.sqrt(ou.variance(times))[None]
    pvals += [stats.kstest(z[:, k, i], "norm").pvalue for k in range(times.size) for i in range(3)]
    # transition law between consecutive grid points (checks the Markov step, not just marginals)
    dt = np.diff(times)
    for k in range(1, times.size):
        resid = x[:, k] - np.exp(ou.rate * dt[k - 1]) * x[:, k - 1]
        pvals += [stats.kstest(resid[:, i] / np.sqrt(ou.variance(dt[k - 1])[i]), "norm").pvalue for i in range(3)]
    # Holm over the sub-tests
    p = np.sort(pvals)
    m = p.size
    assert np.all(p > GOF_ALPHA / (m - np.arange(m))), p[:3]


def test_exact_sampling_can_fail():
    # the same test must reject a law whose standard deviation is 10 % off: with n = 20000 the
    # expected KS distance max|Phi(x) - Phi(x/1.1)| ~ 0.023 is ~ 1.7x the 1e-3 critical value 0.0138
    ou = ou_optimum(PROBLEM, 0.8)
    x = ou.sample([1.0], GOF_PATHS, np.random.default_rng(SEED))[:, 0, 0]
    z = x / (1.1 * np.sqrt(ou.variance(1.0)[0]))
    assert stats.kstest(z, "norm").pvalue < GOF_ALPHA


def test_sampling_is_reproducible_and_validated():
    ou = ou_optimum(PROBLEM, 0.5)
    a = ou.sample([0.1, 0.2], 5, np.random.default_rng(1))
    b = ou.sample([0.1, 0.2], 5, np.random.default_rng(1))
    assert np.array_equal(a, b)
    with pytest.raises(DiffapproxError):
        ou.sample([0.2, 0.1], 5, np.random.default_rng(1))
    with pytest.raises(DiffapproxError):
        ou.sample([0.1], 5, 1)  # not a Generator
    with pytest.raises(DiffapproxError):
        ou.sample_sdeint([0.0, 0.1, 0.3], 2, np.random.default_rng(1))  # uneven tspan


# ----------------------------------------------------------------------------- escape time

MU, ETA, DELTA = 0.8, 5e-4, 0.1


def test_escape_cdf_is_a_cdf():
    esc = escape_time(PROBLEM, mu=MU, eta=ETA, delta=DELTA)
    t = np.linspace(0.0, 3.0, 3001)
    f = esc.cdf(t)
    assert f[0] == 0.0 and np.all((f >= 0) & (f <= 1)) and np.all(np.diff(f) >= 0)
    assert f[-1] > 0.999


@pytest.mark.parametrize("nu", [0.01, 0.1, 0.5])
def test_T1_is_the_matching_quantile(nu):
    esc = escape_time(PROBLEM, mu=MU, eta=ETA, delta=DELTA)
    # A.9: z = Phi^-1((1+nu)/2) -> the (1-nu)-quantile; Prop 3.10: z = Phi^-1((1+nu/2)/2) -> (1-nu/2)-quantile
    assert np.isclose(esc.cdf(esc.T1(nu, "appendix")), 1 - nu, rtol=1e-12)
    assert np.isclose(esc.cdf(esc.T1(nu, "main")), 1 - nu / 2, rtol=1e-12)
    p = np.array([0.05, 0.5, 0.95])
    assert np.allclose(esc.cdf(esc.quantile(p)), p, rtol=1e-12)


def test_escape_cdf_vs_exact_sampling_of_U1():
    # P(T <= t) is defined as P(|U_1(t)| >= delta/sqrt(eta)) for U_1 of (A.2) from 0
    esc = escape_time(PROBLEM, mu=MU, eta=ETA, delta=DELTA)
    ou = ou_saddle(PROBLEM, MU, 1)
    t = np.array([esc.quantile(0.2), esc.quantile(0.6)])
    n = 20000
    u1 = ou.sample(t, n, np.random.default_rng(SEED))[:, :, 0]
    frac = np.mean(np.abs(u1) >= esc.threshold, axis=0)
    p = esc.cdf(t)
    assert np.all(np.abs(frac - p) <= K_SE * np.sqrt(p * (1 - p) / n))
