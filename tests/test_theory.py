"""The paper's formulas, each against a value worked out by hand in this file.

Parameter set (all formulas defined): Sigma = diag(4, 3, 2, 1), Rademacher data
(Y_i^2 = lambda_i exactly, so alpha_ij^2 = lambda_i lambda_j for all i, j), hence
alpha_12^2 = 12, phi = sum_j alpha_1j^2 = 4 (4+3+2+1) = 40, C_d = sqrt(sum lambda) = sqrt(10),
g = lambda1 - lambda2 = 1; mu = 0.5, eta = 1e-4, delta = 0.1, nu = 0.1, eps = 0.05, gamma = 1/4.
"""

import math

import pytest
from scipy.special import ndtri

import diffapprox as da
from diffapprox.limits import Constants
from diffapprox import DiffapproxError
from diffapprox.engine import StreamingPCA

P = StreamingPCA(spectrum=(4, 3, 2, 1), data="rademacher")
MU, ETA, DELTA, NU, EPS, GAMMA = 0.5, 1e-4, 0.1, 0.1, 0.05, 0.25
C = dict(mu=MU, eta=ETA, delta=DELTA)
SQ10 = math.sqrt(10.0)
REL = 1e-12


def close(a, b):
    return math.isclose(a, b, rel_tol=REL)


def test_constants():
    c = Constants.of(P)
    assert close(c.alpha12**2, 12.0) and close(c.phi, 40.0) and close(c.C_d, SQ10) and c.gap == 1.0
    assert math.isinf(Constants.of(StreamingPCA(spectrum=(4, 3, 2, 1))).C_d)


def test_T1_both_versions():
    # T1 = (1-mu)/(2g) log(2(1-mu) delta^2 g/(eta z^2 alpha12^2) + 1) = 0.25 log(1 + 0.01/(1.2e-3 z^2))
    for version, z in (("main", ndtri((1 + NU / 2) / 2)), ("appendix", ndtri((1 + NU) / 2))):
        expected = 0.25 * math.log(1 + (0.01 / 1.2e-3) / z**2)
        assert close(da.limits.T1(P, nu=NU, version=version, **C), expected)
    # and the EscapeTime object gives the same numbers
    esc = da.limits.escape_time(P, **C)
    assert close(esc.T1(NU, "main"), da.limits.T1(P, nu=NU, **C))


def test_T2():
    # 0.25 log(0.99/0.01)
    assert close(da.limits.T2(P, mu=MU, delta=DELTA), 0.25 * math.log(99.0))


def test_T3_both_versions():
    # main: num 8*0.5*1*0.01 = 0.04, den 0.5*1*0.05 - 4*1e-4*40 = 0.009
    assert close(da.limits.T3(P, epsilon=EPS, version="main", **C), 0.25 * math.log(0.04 / 0.009))
    # appendix: num 0.5*0.01 = 0.005, den 0.025 - 2*1e-4*40 = 0.017 (argument < 1: a negative time)
    assert close(da.limits.T3(P, epsilon=EPS, version="appendix", **C), 0.25 * math.log(0.005 / 0.017))


def test_N1_N2_N3():
    # N1 = (l1 + C_d) phi^(3/4) / (2 (1-mu) g^(7/4) eps^(3/4)) log(T1 main arg) = (4+sqrt10) 800^(3/4) log(...)
    z = ndtri((1 + NU / 2) / 2)
    assert close(
        da.limits.N1(P, nu=NU, epsilon=EPS, gamma=GAMMA, **C),
        (4 + SQ10) * 800**0.75 * math.log(1 + (0.01 / 1.2e-3) / z**2),
    )
    # N2 = l1 phi^(1/4)/(2 (1-mu) g^(5/4) eps^(1/4)) log 99 = 4 * 800^(1/4) log 99
    assert close(da.limits.N2(P, mu=MU, delta=DELTA, epsilon=EPS, gamma=GAMMA), 4 * 800**0.25 * math.log(99.0))
    # N3 = (l1 + C_d) phi^(3/4)/([(1-mu) g]^(7/4) eps^(3/4)) log(0.04/0.009)
    assert close(
        da.limits.N3(P, epsilon=EPS, gamma=GAMMA, **C),
        (4 + SQ10) * 40**0.75 / (0.5**1.75 * 0.05**0.75) * math.log(0.04 / 0.009),
    )


def test_N3_hat_tilde():
    # eta0 = 1e-4: den = 0.05 - 4e-4*40 = 0.034, arg = 8*1*0.01/0.034
    arg = 0.08 / 0.034
    assert close(
        da.limits.N3_hat(P, eta0=ETA, delta=DELTA, epsilon=EPS, gamma=GAMMA), (4 + SQ10) * 800**0.75 * math.log(arg)
    )
    assert close(da.limits.N3_tilde(P, eta0=ETA, delta=DELTA, epsilon=EPS), 40 / 0.05 * math.log(arg))


def test_lemma31_and_thresholds():
    # 1 + 10*1e-4/0.25 + 1e-4/0.125 = 1.0048 ; 2 sqrt10 1e-4/0.5
    assert close(da.limits.lemma31_norm_bound(mu=MU, eta=ETA, tau_max=10), 1.0048)
    assert close(da.limits.lemma31_step_bound(P, mu=MU, eta=ETA), 4e-4 * SQ10)
    # ODE: 0.25/(4 * (1e-4)^(3/4)) = 62.5 ; SDE: 0.25/((4 + sqrt10) (1e-4)^(1/4)) = 2.5/(4 + sqrt10)
    assert close(da.limits.tau_threshold_ode(P, mu=MU, eta=ETA, gamma=GAMMA), 62.5)
    assert close(da.limits.tau_threshold_sde(P, mu=MU, eta=ETA, gamma=GAMMA), 2.5 / (4 + SQ10))


def test_N_are_T_over_eta_tau():
    # N1 = T1_main/(eta tau_sde) and N2 = T2/(eta tau_ode) at eta = eps g/phi (the paper's choice)
    eta = EPS * 1.0 / 40.0
    t1 = da.limits.T1(P, mu=MU, eta=eta, delta=DELTA, nu=NU)
    tau = da.limits.tau_threshold_sde(P, mu=MU, eta=eta, gamma=GAMMA)
    assert close(da.limits.N1(P, mu=MU, eta=eta, delta=DELTA, nu=NU, epsilon=EPS, gamma=GAMMA), t1 / (eta * tau))
    t2 = da.limits.T2(P, mu=MU, delta=DELTA)
    tau = da.limits.tau_threshold_ode(P, mu=MU, eta=eta, gamma=GAMMA)
    assert close(da.limits.N2(P, mu=MU, delta=DELTA, epsilon=EPS, gamma=GAMMA), t2 / (eta * tau))


def test_undefined_is_nan_with_a_reason():
    # Prop 3.6's own step size eta = (1-mu) eps g/phi makes T3's log argument negative (both versions)
    eta = (1 - MU) * EPS * 1.0 / 40.0
    for v in ("main", "appendix"):
        assert math.isnan(da.limits.T3(P, mu=MU, eta=eta, delta=DELTA, epsilon=EPS, version=v))
        why = da.limits.why_undefined("T3", P, mu=MU, eta=eta, delta=DELTA, epsilon=EPS, version=v)
        assert why.startswith("log argument <= 0")
    assert da.limits.why_undefined("T3", P, epsilon=EPS, **C) is None
    g = StreamingPCA(spectrum=(4, 3, 2, 1))  # gaussian: C_d infinite
    assert math.isnan(da.limits.tau_threshold_sde(g, mu=MU, eta=ETA, gamma=GAMMA))
    assert "Assumption 2" in da.limits.why_undefined("N1", g, nu=NU, epsilon=EPS, gamma=GAMMA, **C)


def test_plain_constants_and_validation():
    c = Constants(lambda1=4, lambda2=3, alpha12=math.sqrt(12), phi=40, C_d=SQ10)
    assert close(da.limits.T3(c, epsilon=EPS, **C), da.limits.T3(P, epsilon=EPS, **C))
    for bad in (dict(version="paper"), dict(nu=1.0), dict(mu=1.0), dict(eta=0.0)):
        with pytest.raises(DiffapproxError):
            da.limits.T1(P, **({"nu": NU} | C | bad))
    with pytest.raises(DiffapproxError):
        da.limits.N1(P, nu=NU, epsilon=EPS, gamma=0.75, **C)  # gamma in (0, 1/2] for the SDE regime
    with pytest.raises(DiffapproxError):
        Constants(lambda1=3, lambda2=4, alpha12=1, phi=1)
