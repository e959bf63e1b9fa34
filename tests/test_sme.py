"""SMEs, exact linear recursions, the weak-order-2 scheme, the planner and first-passage times."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg

import diffapprox as da
from diffapprox import limits
from diffapprox._engine import rng as _rng
from diffapprox.stats import box_slope, max_abs_ci

from naive import heun

SEED = 20261130
SDEINT_SEED = 77


def test_linear_recursion_moments_and_cos_against_explicit_sums():
    pr = da.engine.li_tai_e_quadratic(3, "rademacher")
    eta, K = 2**-4, 32
    lr = limits.linear_recursion(pr, da.sgd(eta), [5.0, 5.0, 5.0])
    j = np.arange(K)
    c = eta * (1 - eta) ** (K - 1 - j)
    m = 5 * (1 - eta) ** K
    assert lr.expect(pr.test_function("cos1"), K)[-1] == pytest.approx(np.cos(m) * np.prod(np.cos(c)), rel=1e-13)
    V = eta**2 * (1 - (1 - eta) ** (2 * K)) / (1 - (1 - eta) ** 2)
    assert lr.expect(pr.test_function("f"), K)[-1] == pytest.approx(1.5 * (m * m + V), rel=1e-13)


def test_svag_recursion_has_the_base_noise_per_unit_time():
    pr = da.engine.li_tai_e_quadratic(1, "gaussian")
    for ell in (1, 4, 16):
        lr = limits.linear_recursion(pr, da.svag(da.sgd(0.1), ell), [0.0])
        # stationary variance h l/(2 - h), h = eta/l: -> eta/2 as l grows
        h = 0.1 / ell
        assert lr.stationary_cov()[0, 0] == pytest.approx(h * ell / (2 - h), rel=1e-10)


def test_discrete_lyapunov_of_heavy_ball_is_the_ar2_variance():
    mu, eta, h, s = 0.9, 0.05, 2.0, 0.7
    lr = limits.linear_recursion(da.engine.linear_problem([[h]], [0.0], [[s]]), da.heavy_ball(eta, mu), [0.0])
    a1, a2, v = 1 + mu - eta * h, -mu, (eta * s) ** 2
    ar2 = v * (1 - a2) / ((1 + a2) * ((1 - a2) ** 2 - a1 * a1))
    assert lr.stationary_cov()[0, 0] == pytest.approx(ar2, rel=1e-12)
    with pytest.raises(da.DiffapproxError, match="spectral radius"):
        limits.linear_recursion(da.engine.linear_problem([[h]], [0.0], [[s]]), da.sgd(1.5), [0.0]).stationary_cov()


def test_constant_delay_recursion_matches_the_simulated_mean():
    pr = da.engine.linear_problem([[1.0, 0.2], [0.2, 0.5]], [0.0, 0.0], np.eye(2) * 0.3)
    alg = da.async_msgd(0.1, 0.5, "const:3")
    lr = limits.linear_recursion(pr, alg, [1.0, -1.0])
    mean, cov = lr.moments(60)
    r = da.simulate_algorithm(pr, alg, steps=60, paths=20000, x0=[1.0, -1.0], seed=SEED)
    se = r.x.std(axis=0, ddof=1) / math.sqrt(20000)
    assert np.all(np.abs(r.x.mean(axis=0) - mean) <= 5 * se + 1e-12)


def test_ou_moments_match_numerical_integration():
    pr = da.engine.linear_problem([[2.0, 0.6], [0.6, 1.0]], [0.5, -0.2], [[1.0, 0.0], [0.3, 0.5]])
    model = limits.sme(pr, da.heavy_ball(0.1, 0.5), 1)
    A, c, D = model.ou()
    t = 0.7
    mean, cov = model.moments([1.0, 2.0], [t])
    ref = scipy.integrate.quad_vec(lambda s: scipy.linalg.expm(-A * s) @ D @ scipy.linalg.expm(-A.T * s), 0, t)[0]
    np.testing.assert_allclose(cov[0], ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(mean[0], c + scipy.linalg.expm(-A * t) @ (np.array([1.0, 2.0]) - c), rtol=1e-12)
    np.testing.assert_allclose(model.stationary_cov(), scipy.linalg.solve_continuous_lyapunov(A, D), rtol=1e-12)


def test_order_two_of_momentum_is_refused():
    with pytest.raises(da.DiffapproxError, match="order"):
        limits.sme(da.engine.li_tai_e_quadratic(), da.heavy_ball(0.1, 0.5), 2)


def test_heun_kernel_equals_naive_twin():
    """The scheme's kernel against a NumPy loop fed the path's own normals."""
    D, dt, n = 0.1, 0.01, 200
    model = limits.sme(da.engine.double_well(math.sqrt(2 * D / 0.01)), da.sgd(0.01), 1)
    r = limits.sme_paths(model, [-0.5], time=n * dt, dt=dt, paths=3, seed=SEED)
    for p in range(3):
        dW = _rng.normals(SEED, p, n)[:, None] * math.sqrt(dt)
        ref = heun(lambda x: -(x**3 - x), [-0.5], dW, dt, model.diffusion())
        np.testing.assert_allclose(r.x[p], ref, rtol=0, atol=1e-12)


def test_heun_is_weak_order_two_on_the_ou_sme():
    """E f at T by the scheme at dt/2 agrees with the closed form within its own halving bound."""
    pr = da.engine.li_tai_e_quadratic(2, "gaussian")
    model = limits.sme(pr, da.sgd(0.1), 2)
    phi = pr.test_function("f")
    chk = limits.sme_expectation(model, phi, [2.0, -1.0], time=1.0, dt=0.2, paths=20000, seed=SEED)
    exact = model.expect(phi, [2.0, -1.0], chk.times)
    err = np.abs(chk.value - exact)
    assert np.all(err <= chk.bias_bound + 4 * chk.se + 1e-12)
    # shared increments make the halving difference precise: it resolves the O(dt^2) bias
    assert abs(chk.halving[-1]) > 4 * chk.halving_se[-1]


@pytest.mark.slow
def test_sdeint_cross_check_on_the_double_well():
    """A short cross-check against sdeint's Ito-Euler (independent code): E X_T within Monte-Carlo error."""
    import sdeint

    D, T, n, P = 0.1, 0.5, 200, 200
    model = limits.sme(da.engine.double_well(math.sqrt(2 * D / 0.01)), da.sgd(0.01), 1)
    tspan = np.linspace(0.0, T, n + 1)
    sq = math.sqrt(2 * D)
    y = sdeint.itoEuler(
        lambda x, t: -(x**3 - x), lambda x, t: sq * np.eye(P), np.full(P, -0.5), tspan,
        generator=np.random.default_rng(SDEINT_SEED),
    )[-1]  # fmt: skip
    ours = limits.sme_paths(model, [-0.5], time=T, dt=T / 50, paths=20000, seed=SEED).x[:, -1, 0]
    se = math.sqrt(y.var(ddof=1) / P + ours.var(ddof=1) / ours.size)
    assert abs(y.mean() - ours.mean()) < 4 * se + 0.01  # + Euler's O(dt) bias at dt = 2.5e-3


def test_planner_decides_before_the_run():
    plans = limits.plan_weak_errors([0.1, 0.05], [0.2, 0.005], [0.3, 0.3], [1000, 1000], z=3.0, rel=0.25)
    assert plans[0].resolvable and not plans[1].resolvable
    need = plans[1].paths_needed
    again = limits.plan_weak_errors([0.05], [0.005], [0.3], [need], z=3.0, rel=0.25)[0]
    assert again.resolvable and again.halfwidth <= 0.25 * 0.005
    assert not limits.plan_weak_errors([0.05], [0.005], [0.3], [need - 5], z=3.0, rel=0.25)[0].resolvable


def test_max_abs_ci_and_box_slope_cover_their_truth():
    rng = np.random.default_rng(SEED)
    t = np.linspace(0, 1, 30)
    truth = 0.3 * t * np.exp(-t)
    se = np.full(30, 0.01)
    covered = 0
    for _ in range(200):
        e = max_abs_ci(truth + se * rng.standard_normal(30), se, 0.9)
        covered += e.ci[0] <= truth.max() <= e.ci[1]
    assert covered >= 180  # coverage >= 0.9 (Bonferroni is conservative)
    x = np.array([0.1, 0.05, 0.025])
    y = 2.0 * x**2
    fit = box_slope(x, y, 0.9 * y, 1.1 * y, 0.95)
    assert fit.slope == pytest.approx(2.0) and fit.ci[0] < 2.0 < fit.ci[1]
    assert box_slope(x, y, np.array([0.0, 0.9, 0.9]) * y, 1.1 * y, 0.95).ci[0] == -math.inf


def test_mfpt_quadrature_and_kramers():
    U = lambda x: (x * x - 1) ** 2 / 4  # noqa: E731 - a one-line potential
    D = 0.1
    inner = lambda y: scipy.integrate.quad(lambda z: np.exp(-U(z) / D), -3, y, limit=200)[0]  # noqa: E731 - as above
    ref = scipy.integrate.quad(lambda y: np.exp(U(y) / D) * inner(y) / D, -1, 1, limit=200)[0]
    assert limits.mfpt_quadrature(U, D, -1.0, 1.0, lower=-3.0) == pytest.approx(ref, rel=1e-8)
    ratios = [
        limits.kramers_time(0.25, 2.0, 1.0, d) / limits.mfpt_quadrature(U, d, -1.0, 1.0, lower=-3.0)
        for d in (0.1, 0.03)
    ]
    assert ratios[0] < ratios[1] < 1.0  # Kramers' law is the small-D limit
