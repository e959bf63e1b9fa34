"""The finite-step theory: exact solvers against brute force and against a simulation of their own
recursion, limits as eta -> 0, stability, the closure's exact pieces, the command line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import diffapprox as da
from diffapprox._theory.finite_step import _Closure

from naive_finite_step import delays, linear_mode_paths, lyapunov_iid, lyapunov_workers

TWIN_SEED = 20260301
CLOSURE_SEED = 20260302
#: Width of the Monte Carlo bands, in standard errors (fixed before the runs).
K_SIGMA = 4.0
LAWS = ("const:3", "uniform:0,6", "geometric:1", "workers:4", "workers:3@1,2,0.5")
PROBLEM = da.engine.StreamingPCA(spectrum=(4, 3, 2, 1), data="gaussian")


@pytest.mark.parametrize("law", [*LAWS, "const:0", "uniform:2,5"])
@pytest.mark.parametrize("mu,a", [(0.5, 0.05), (0.9, 0.004), (0.0, 0.2)])
def test_solver_matches_brute_force_lyapunov(law, mu, a):
    mm = da.limits.mode_moments(mu, a, law, noise=2.0)
    d = da.engine.delay_law(law)
    if d.kind == "workers" and d.params.size > 1:
        P = lyapunov_workers(mu, a, d.params / d.params.sum(), 2.0)
    else:
        P = lyapunov_iid(mu, a, da.limits.delay_pmf(law), 2.0)
    assert mm.stable
    assert mm.variance == pytest.approx(P[0, 0], rel=1e-9)
    assert np.allclose(mm.covariance, P, rtol=1e-8, atol=1e-9 * P[0, 0])


def test_heavy_ball_closed_form_and_workers_one():
    mu, a = 0.9, 0.01
    exact = (1 + mu) / ((1 - mu) * a * (2 * (1 + mu) - a))
    assert da.limits.mode_moments(mu, a, "const:0").variance == pytest.approx(exact, rel=1e-12)
    assert da.limits.mode_moments(mu, a, "workers:1").variance == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("law", LAWS)
def test_stationary_variance_against_the_twin_simulation(law):
    """Stationary E[x^2] of (L) against a simulation of (L) itself: path time-averages, k sigma/sqrt(n) band."""
    mu, a, paths, steps, burn = 0.5, 0.1, 2000, 1200, 200
    rng = np.random.default_rng([TWIN_SEED, LAWS.index(law)])
    d = da.engine.delay_law(law)
    x = linear_mode_paths(mu, a, delays(d, paths, steps, rng), rng.standard_normal((paths, steps)), 0.0)
    means = (x[:, burn:] ** 2).mean(axis=1)
    se = means.std(ddof=1) / math.sqrt(paths)
    v = da.limits.mode_moments(mu, a, law).variance
    assert abs(means.mean() - v) < K_SIGMA * se, (means.mean(), v, se)


@pytest.mark.parametrize("law", ["const:2", "uniform:0,4", "workers:3"])
def test_transient_against_the_twin_simulation(law):
    mu, eta, paths, steps = 0.5, 0.02, 4000, 200
    rng = np.random.default_rng([TWIN_SEED, 99, len(law)])
    lam, alpha = PROBLEM.eigenvalues, PROBLEM.alpha
    a, s = eta * (lam[0] - lam[1]), eta * alpha[0, 1]
    x = linear_mode_paths(
        mu, a, delays(da.engine.delay_law(law), paths, steps, rng), s * rng.standard_normal((paths, steps)), 0.3
    )
    model = da.limits.linear_second_moment(
        PROBLEM, mu=mu, eta=eta, delay=law, steps=steps, h0=[1, 0.3, 0.3, 0.3], record_every=20
    )
    assert np.isnan(model[:, 0]).all() and model[0, 1] == pytest.approx(0.09 / eta)
    sim = (x[:, ::20] ** 2).mean(axis=0)
    se = (x[:, ::20] ** 2).std(axis=0, ddof=1) / math.sqrt(paths)
    assert np.all(np.abs(sim[1:] - eta * model[1:, 1]) < K_SIGMA * se[1:])
    # and it settles on the stationary solution
    assert eta * model[-1, 1] == pytest.approx(da.limits.mode_moments(mu, a, law, s * s).variance, rel=1e-6)


@pytest.mark.parametrize("law", ["uniform:0,6", "geometric:2", "workers:4"])
def test_mean_square_stability_boundary_agrees_with_the_transient(law):
    """Positive definiteness of the stationary solution marks the boundary where the second moment stops converging."""
    mu = 0.5
    lo, hi = 1e-3, 3.0
    for _ in range(40):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if da.limits.mode_moments(mu, mid, law).stable else (lo, mid)
    prob = da.engine.StreamingPCA(spectrum=(2, 1), data="rademacher")  # one transverse mode: a = eta
    grow = [da.limits.linear_second_moment(prob, mu=mu, eta=f * lo, delay=law, steps=4000, h0=[1, 1], record_every=1000)[:, 1]
            for f in (0.95, 1.05)]  # fmt: skip
    assert grow[0][-1] < 10 * grow[0][1]  # settles below the boundary
    assert grow[1][-1] > 1e3 * grow[1][1]  # grows above it


def test_constant_delay_stability_is_max_stable_delay():
    mu, eta = 0.9, 5e-4
    top = da.limits.max_stable_delay(PROBLEM, mu=mu, eta=eta).overall  # the characteristic roots' boundary
    assert top == 32  # positive definiteness of the radial mode's stationary solution agrees on both sides
    assert np.isfinite(da.limits.stationary_variance_linear(PROBLEM, mu, eta, f"const:{top}")[1:]).all()
    for f in (da.limits.linear_prediction, da.limits.finite_step_prediction):
        p = f(PROBLEM, mu=mu, eta=eta, delay=f"const:{top + 1}")
        assert not p.stable and np.isnan(p.variance).all() and "max_stable_delay" in p.note


def test_grid_matches_single_predictions():
    mus, taus = [0.0, 0.7, 0.9], [0, 7, 20, 40]
    g = da.limits.linear_variance_grid(PROBLEM, mus=mus, eta=5e-4, taus=taus)
    assert g.shape == (3, 4, 4)
    for i, mu in enumerate(mus):
        for j, tau in enumerate(taus):
            v = da.limits.stationary_variance_linear(PROBLEM, mu, 5e-4, f"const:{tau}")
            assert np.allclose(g[i, j], v, rtol=1e-10, equal_nan=True)
    assert np.isnan(g[2, 3]).all() and np.isfinite(g[2, 2, 1:]).all()


@pytest.mark.parametrize("data", ["gaussian", "cube"])
@pytest.mark.parametrize("law", ["const:0", "const:10", "uniform:0,10", "geometric:5", "workers:6"])
def test_ratios_to_the_ou_limit_tend_to_one(data, law):
    """Both models' corrections to (3.3) vanish like eta: |ratio - 1| shrinks about tenfold per decade of eta."""
    prob = da.engine.StreamingPCA(spectrum=(4, 3, 2, 1), data=data)
    for f in (da.limits.linear_prediction, da.limits.finite_step_prediction):
        dev = [np.abs(f(prob, mu=0.7, eta=eta, delay=law).ratio_to_ou[1:] - 1) for eta in (1e-3, 1e-4, 1e-5)]
        assert np.all(dev[2] < 2e-3) and np.all(dev[1] < 0.2 * dev[0] + 1e-12) and np.all(dev[2] < 0.2 * dev[1] + 1e-12)


@pytest.mark.parametrize("data", ["gaussian", "rademacher", "sphere", "cube"])
def test_closure_fourth_moment_formula_against_sampling(data):
    """(F.1)-(F.2) are exact for a fixed w: E[g_i | w] and E[g_i^2 | w] against Monte Carlo over the data law."""
    prob = da.engine.StreamingPCA(spectrum=(4, 3, 2, 1), data=data)
    cl = _Closure(prob)
    rng = np.random.default_rng([CLOSURE_SEED, len(data)])
    w = np.array([0.93, 0.25, -0.2, 0.15])
    W = w * w
    Y = prob.law.sample(prob.eigenvalues, 400_000, rng)
    s = Y @ w
    g = s[:, None] * Y - (s * s)[:, None] * w
    for i in range(3):
        S, q, c = W[1:].copy(), W[1:] ** 2, W[1:] ** 3  # a point mass: every moment is exact
        N = float(W.sum())
        e2 = cl.eg2(i, N, S, q, c)
        m1 = -cl.drift(i, N, S, q, c, False) / w[i + 1]  # E[g_i | w] = -(w^T L w - lambda_i) w_i
        gi = g[:, i + 1]
        assert abs(gi.mean() - m1) < K_SIGMA * gi.std() / math.sqrt(gi.size)
        assert abs((gi * gi).mean() - e2) < K_SIGMA * (gi * gi).std() / math.sqrt(gi.size)


def test_norm_of_the_closure_is_first_order_sum():
    cl = _Closure(PROBLEM)
    S = np.array([3e-5, 1e-5, 3e-6])
    N = cl.norm(S, 3 * S * S)
    assert N - 1 == pytest.approx(float(cl.g @ S) / 4.0, rel=1e-3)


def test_finite_step_prediction_fields_and_bad_input():
    p = da.limits.finite_step_prediction(PROBLEM, mu=0.9, eta=5e-4, delay="const:10")
    assert p.model == "finite_step" and p.stable and p.iterations > 1 and p.norm2 > 1
    assert np.isnan(p.variance[0]) and np.all(p.variance[1:] > p.ou[1:])
    assert json.dumps(da._core.jsonio.jsonable(p.as_dict()))
    with pytest.raises(da.DiffapproxError, match="delay"):
        da.limits.linear_prediction(PROBLEM, mu=0.5, eta=1e-3, delay=da.engine.trace_delay(np.array([1, 2])))
    with pytest.raises(da.DiffapproxError, match="mu"):
        da.limits.finite_step_prediction(PROBLEM, mu=1.0, eta=1e-3)
    with pytest.raises(da.DiffapproxError, match="problem"):
        da.limits.linear_prediction("4,3,2,1", mu=0.5, eta=1e-3)
    with pytest.raises(da.DiffapproxError, match="model"):
        da.limits.FiniteStepPrediction(**{**{f: getattr(p, f) for f in p.__slots__}, "model": "ou"})


def test_theory_cli_delay_keys(capsys):
    from diffapprox.cli import main

    assert main(["theory", "--mu", "0.9", "--eta", "5e-4", "--delay", "uniform:0,20", "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["parameters"]["delay"] == "uniform:0,20" and doc["parameters"]["tau"] == 0
    for key in ("stationary_variance_linear", "stationary_variance_finite_step"):
        assert (
            doc[key][0] is None
            and len(doc[key]) == 4
            and all(v > s for v, s in zip(doc[key][1:], doc["stationary_variance"][1:]))
        )
    assert main(["theory", "--mu", "0.9", "--eta", "5e-4", "--delay", "const:40", "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (
        doc["stationary_variance_finite_step"] == [None] * 4
        and "max_stable_delay" in doc["notes"]["stationary_variance_linear"]
    )
    assert main(["theory", "--mu", "0.9", "--eta", "5e-4", "--delay", "poisson:3"]) == 2


def test_grid_stability_mask_is_max_stable_delay():
    """The batched grid's own stability test (the radial mode's solution positive definite) against the roots' boundary."""
    mus, taus = [0.0, 0.5, 0.8, 0.9], list(range(0, 160, 4))
    g = da.limits.linear_variance_grid(PROBLEM, mus=mus, eta=5e-4, taus=taus)
    for i, mu in enumerate(mus):
        top = da.limits.max_stable_delay(PROBLEM, mu=mu, eta=5e-4).overall
        assert np.array_equal(np.isfinite(g[i, :, 1]), np.array(taus) <= top)


def test_advise_reports_the_stationary_errors():
    res = da.advise(PROBLEM, eta=5e-4, workers=8)
    se = res["stationary_error"]
    assert se["delay"] == "const:7" and se["at"]["paper_sde"] is None  # Gaussian: no SDE momentum
    ode = se["at"]["paper_ode"]
    assert ode["mu"] == res["paper"]["ode"]["mu_max"] and ode["ou"] < ode["linear"] < ode["finite_step"]
    assert [r["mu"] for r in se["grid"]] == [m for m in (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99) if m < 0.9728]


@pytest.mark.parametrize("tau", [0, 1, 7])
def test_constant_delay_against_the_generic_discrete_lyapunov(tau):
    """The shift-structured (YW) solve against scipy's dense Lyapunov solver on the companion matrix."""
    from diffapprox.limits import discrete_lyapunov

    mu, a = 0.8, 0.02
    n = max(tau, 1) + 1
    A = np.zeros((n, n))
    A[0, 0], A[0, 1] = 1 + mu, -mu
    A[0, tau] -= a
    A[np.arange(1, n), np.arange(n - 1)] = 1.0
    Q = np.zeros((n, n))
    Q[0, 0] = 1.0
    assert da.limits.mode_moments(mu, a, f"const:{tau}").variance == pytest.approx(
        discrete_lyapunov(A, Q)[0, 0], rel=1e-9
    )
