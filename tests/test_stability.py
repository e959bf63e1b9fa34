"""Exact linear stability of delayed momentum: boundary vs roots vs direct iteration."""

import math

import numpy as np
import pytest

from diffapprox import DiffapproxError
from diffapprox.engine import StreamingPCA
from diffapprox._theory.stability import (
    characteristic_polynomial,
    critical_gain,
    design_delay,
    is_stable,
    iterate_mode,
    largest_stable_delay,
    max_stable_delay,
    max_stable_momentum,
    mean_field_jacobian,
    modes,
    spectral_radius,
)

PROBLEM = StreamingPCA(spectrum=(4, 3, 2, 1))


def test_polynomial_coefficients():
    # tau = 0: z^2 - (1+mu-a) z + mu; tau = 1: z^2 - (1+mu) z + (mu + a); tau = 3: z^4 - (1+mu) z^3 + mu z^2 + a
    assert np.allclose(characteristic_polynomial(0.5, 0.1, 0), [1, -1.4, 0.5])
    assert np.allclose(characteristic_polynomial(0.5, 0.1, 1), [1, -1.5, 0.6])
    assert np.allclose(characteristic_polynomial(0.5, 0.1, 3), [1, -1.5, 0.5, 0, 0.1])


@pytest.mark.parametrize("mu", [0.0, 0.4, 0.9])
def test_heavy_ball_tau0(mu):
    # tau = 0: stable iff 0 < a < 2(1+mu)
    assert critical_gain(mu, 0) == 2 * (1 + mu)
    for a in (0.01, 1.0, 2 * (1 + mu) * 0.999):
        assert spectral_radius(mu, a, 0) < 1
    assert spectral_radius(mu, 2 * (1 + mu) * 1.001, 0) > 1


@pytest.mark.parametrize("tau", [1, 2, 5, 20])
def test_levin_may_mu0(tau):
    # mu = 0: x_{k+1} = x_k - a x_{k-tau} is stable iff a < 2 sin(pi/(2(2 tau + 1))) (Levin & May 1976)
    assert math.isclose(critical_gain(0.0, tau), 2 * math.sin(math.pi / (2 * (2 * tau + 1))), rel_tol=1e-12)


@pytest.mark.parametrize("mu", [0.0, 0.5, 0.8, 0.95])
@pytest.mark.parametrize("tau", [1, 3, 10, 40])
def test_boundary_matches_roots_and_iteration(mu, tau):
    ac = critical_gain(mu, tau)
    for f in (0.9, 0.99, 1.01, 1.1):
        a = f * ac
        rho = spectral_radius(mu, a, tau)
        assert (rho < 1) == (f < 1) == is_stable(mu, a, tau)
        # direct iteration decays (or grows) at the rate rho^k: over the second half of 12 time
        # constants the envelope (max over a window longer than the oscillation) shrinks/grows by ~e^6
        steps = int(12 / abs(math.log(rho)))
        x = np.abs(iterate_mode(mu, a, tau, steps))
        w = 8 * (tau + 2)
        ratio = x[-w:].max() / x[steps // 2 - w : steps // 2].max()
        assert (ratio < math.exp(-3)) if rho < 1 else (ratio > math.exp(3))
    # at the boundary a root sits on the unit circle
    assert abs(spectral_radius(mu, ac, tau) - 1) < 1e-7


def test_stability_is_monotone_in_tau():
    # a_c decreases strictly in tau (so the stable delays are 0..tau*), checked against roots
    for mu in (0.0, 0.7, 0.95):
        ac = [critical_gain(mu, t) for t in range(0, 60)]
        assert np.all(np.diff(ac) < 0)
        a = 0.02
        stable = [spectral_radius(mu, a, t) < 1 for t in range(0, 60)]
        n = largest_stable_delay(mu, a)
        assert stable == [t <= n for t in range(0, 60)]


def test_largest_stable_delay_small_gain_continuum_limit():
    # small a: x' = -(a/(1-mu)) x(t - tau) in step units, stable iff a tau/(1-mu) < pi/2
    mu, a = 0.8, 1e-4
    n = largest_stable_delay(mu, a)
    assert abs(n - math.pi / 2 * (1 - mu) / a) / n < 0.02
    assert largest_stable_delay(0.5, 3.5) is None  # a > 2(1+mu)


def test_modes_match_mean_field_linearisation():
    eta = 5e-4
    jac = mean_field_jacobian(PROBLEM, eta)
    gains = [m.a for m in modes(PROBLEM, eta)]
    assert np.allclose(jac, -np.diag(gains), atol=1e-9 * eta)
    assert gains == [2 * eta * 4, eta * 1, eta * 2, eta * 3]


def test_modes_match_delayed_mean_field_map():
    # iterate the full nonlinear mean-field map of (2.1) (noise averaged out) with delay tau from a small
    # radial perturbation of e1: it decays below and grows above the radial mode's delay limit, at the
    # rate the spectral radius predicts (envelope over the second half of 12 time constants: ~e^-+6)
    eta, lam, mu = 5e-4, PROBLEM.eigenvalues, 0.8
    n = max_stable_delay(PROBLEM, mu=mu, eta=eta).per_mode["radial"]
    for tau in (n - 5, n + 3):
        rho = spectral_radius(mu, 2 * eta * lam[0], tau)
        steps = int(12 / abs(math.log(rho)))
        hist = [np.array([1 + 1e-7, 0, 0, 0])] * (tau + 2)
        dev = np.empty(steps)
        for k in range(steps):
            w = hist[-1 - tau]
            g = lam * w - np.dot(lam * w, w) * w
            hist.append(hist[-1] + mu * (hist[-1] - hist[-2]) + eta * g)
            hist.pop(0)
            dev[k] = abs(hist[-1][0] - 1)
        win = 8 * (tau + 2)
        ratio = dev[-win:].max() / dev[steps // 2 - win : steps // 2].max()
        assert (ratio < math.exp(-3)) if tau <= n else (ratio > math.exp(3))


def test_max_stable_delay_report():
    rep = max_stable_delay(PROBLEM, mu=0.8, eta=5e-3)  # delays 7..62: roots stay cheap
    assert set(rep.per_mode) == {"radial", "transverse_2", "transverse_3", "transverse_4"}
    assert rep.overall == min(rep.per_mode.values()) == rep.per_mode["radial"]
    for name, a in rep.gains.items():
        t = rep.per_mode[name]
        assert spectral_radius(0.8, a, t) < 1 < spectral_radius(0.8, a, t + 1)


def test_max_stable_momentum():
    res = max_stable_momentum(PROBLEM, eta=5e-4, tau=30)
    m = res["mu_max"]
    assert res["interval"]
    assert spectral_radius(m - 1e-6, 2e-3 * 2, 30) < 1 < spectral_radius(m + 1e-6, 2e-3 * 2, 30)


def test_design_delay():
    assert design_delay("const:7") == 7
    assert design_delay("uniform:2,9") == 9
    # geometric mean 7: P(tau > c) = (7/8)^(c+1) <= 0.1 first at c = 17
    assert design_delay("geometric:7", 0.9) == 17
    with pytest.raises(DiffapproxError):
        design_delay("const:3", 1.0)
