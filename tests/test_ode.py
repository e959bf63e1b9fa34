"""ODE (3.2): closed form (Theorem 3.3) vs solve_ivp, invariants, overflow safety."""

import numpy as np
import pytest

from diffapprox import DiffapproxError
from diffapprox.engine import StreamingPCA
from diffapprox.limits import ODELimit, ode_closed_form, ode_drift, ode_solve_ivp

ATOL = 1e-8  # closed form vs solve_ivp, max abs difference
PROBLEM = StreamingPCA(spectrum=(4, 3, 2, 1))  # Section 5.1's Sigma = diag(4, 3, 2, 1)
TIMES = np.array([0.0, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0])
STARTS = {
    "uniform": [0.5, 0.5, 0.5, 0.5],
    "near_saddle_e2": [1e-6, 1.0, 0.0, 0.0],  # Section 5.1 starts at the saddle e2
    "near_saddle_e3": [1e-4, 1e-4, 1.0, 1e-3],
    "negative": [-0.3, 0.2, -0.9, 0.1],
    "unnormalised": [3.0, 0.0, 1.0, 2.0],
}


@pytest.mark.parametrize("mu", [0.0, 0.8])
@pytest.mark.parametrize("name", sorted(STARTS))
def test_closed_form_matches_solve_ivp(name, mu):
    h0 = STARTS[name]
    exact = ode_closed_form(PROBLEM, h0, mu, TIMES)
    numeric = ode_solve_ivp(PROBLEM, h0, mu, TIMES)
    assert np.max(np.abs(exact - numeric)) <= ATOL


def test_closed_form_solves_the_ode():
    # d/dt of the closed form (central difference) equals the drift (3.2)
    h0, mu, t, dt = STARTS["negative"], 0.5, np.array([0.7]), 1e-5
    dh = (ode_closed_form(PROBLEM, h0, mu, t + dt) - ode_closed_form(PROBLEM, h0, mu, t - dt)) / (2 * dt)
    rhs = ode_drift(PROBLEM, mu, ode_closed_form(PROBLEM, h0, mu, t))
    assert np.max(np.abs(dh - rhs)) < 1e-8


def test_unit_sphere_and_limits():
    h = ode_closed_form(PROBLEM, STARTS["uniform"], 0.9, [0.0, 1.0, 1e3, 1e6])
    assert np.all(np.isfinite(h))  # no overflow for exp(lambda t/(1-mu)) ~ exp(4e7)
    assert np.allclose(np.linalg.norm(h, axis=1), 1.0, atol=1e-14)
    assert np.allclose(h[-1], [1, 0, 0, 0])
    # h0_1 = 0: stays on the invariant face, converges to the next eigenvector e2
    h = ode_closed_form(PROBLEM, [0.0, 1.0, 1e-3, 0.0], 0.0, [1e3])
    assert h[0, 0] == 0.0 and np.isclose(h[0, 1], 1.0)


def test_momentum_is_a_time_rescaling():
    # (3.2): mu enters only through t/(1-mu)
    a = ode_closed_form(PROBLEM, STARTS["uniform"], 0.75, [0.5])
    b = ode_closed_form(PROBLEM, STARTS["uniform"], 0.0, [2.0])
    assert np.allclose(a, b, atol=1e-15)


def test_limit_object_declares_its_theory():
    lim = ODELimit(problem=PROBLEM, mu=0.8)
    assert lim.equation == "3.2" and "Theorem 3.3" in lim.reference
    assert lim.h(TIMES, STARTS["uniform"]).shape == (TIMES.size, 4)
    assert np.all(np.diff(lim.error(TIMES, STARTS["uniform"])) <= 0)


@pytest.mark.parametrize("bad", [dict(h0=[0, 0, 0, 0]), dict(h0=[1, 0]), dict(times=[-1.0]), dict(mu=1.0)])
def test_bad_input(bad):
    kw = dict(h0=STARTS["uniform"], mu=0.5, times=[0.0, 1.0]) | bad
    with pytest.raises(DiffapproxError):
        ode_closed_form(PROBLEM, kw["h0"], kw["mu"], kw["times"])
