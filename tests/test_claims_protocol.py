"""The literature claims (sme-weak-order, svag-sweep, exit-time, stationary-covariance): controls through their own cell code.

Each claim's per-path control data run through its ``summarize`` and ``measure``: the ``exact`` control must
rarely FAIL and a ``family`` control must FAIL (counts from binomial tails at TEST_ALPHA, as in
test_claims_weak); every mutant, on the real simulator at the quick profile, gives its expected verdict.
The samplers behind the controls are checked against their exact moments (tolerances of K_SIGMA Monte-Carlo
standard errors), and the control data have the shape of the simulator's.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from diffapprox import Control, Verdict, get_claim, stats
from diffapprox._run.calibrate import run_controls

from _control_counts import least_fails, most_false_fails
from diffapprox_claims.literature import _weak
from diffapprox_claims.literature import exit_time as et
from diffapprox_claims.literature import sme_weak_order as swo
from diffapprox_claims.literature import stationary_covariance as sc

#: Master seed of the control replicates.
CONTROL_SEED = 14
#: Seed of the sampler checks.
SAMPLER_SEED = 15
CLAIMS = ("sme-weak-order", "svag-sweep", "exit-time", "stationary-covariance")
#: One family each claim's fast test moves.
FAMILY = {
    "sme-weak-order": "gamma=rademacher/phi=cos1/order=2",
    "svag-sweep": "order",
    "exit-time": "sgd",
    "stationary-covariance": "case=heavy-ball-2d",
}
#: Replicates per control in the fast tests (a replicate costs a few hundredths of a second).
REPS = 8
#: Monte-Carlo tolerances: K_SIGMA standard errors.
K_SIGMA = 4.0


@pytest.mark.parametrize("cid", CLAIMS)
def test_exact_rarely_fails_and_a_family_fails(cid):
    claim = get_claim(cid)
    exact = run_controls(claim, "quick", "exact", REPS, CONTROL_SEED)
    fam = run_controls(claim, "quick", f"family:{FAMILY[cid]}", REPS, CONTROL_SEED)
    assert not exact.errors and not fam.errors, exact.errors + fam.errors
    assert exact.claim.count(Verdict.FAIL) <= most_false_fails(REPS), exact.rows
    assert fam.claim.count(Verdict.FAIL) >= least_fails(REPS), fam.rows
    assert Verdict.PASS not in fam.claim


@pytest.mark.parametrize("cid", CLAIMS)
def test_mutants_on_the_real_simulator(cid):
    claim = get_claim(cid)
    for name, mutant in claim.mutants("quick").items():
        run = run_controls(claim, "quick", f"mutant:{name}", 2, CONTROL_SEED)
        assert not run.errors, run.errors
        assert all(mutant.met(v) for v in run.claim), (name, run.rows)
        assert "effect" in mutant.note


@pytest.mark.parametrize("cid", CLAIMS)
def test_rows_families_and_history(cid):
    claim = get_claim(cid)
    assert claim.about == "literature"
    rng = np.random.default_rng(CONTROL_SEED)
    cells = claim.cells("standard", 0)
    results = {c.key: claim.summarize(c, claim.control_data(c, Control(kind="exact"), rng)) for c in cells}
    ms = claim.measure("standard", 0, results, claim.predict("standard"))
    judged = [m for m in ms if m.judged]
    assert judged and len({m.name for m in ms}) == len(ms)
    fams = claim.families("standard")
    for m in judged:
        assert m.tolerance is not None and m.effect > 0 and m.ci_fail is not None, m.name
        assert m.ci_level == pytest.approx(stats.PASS_LEVEL), m.name
        assert m.ci_fail[0] <= m.ci[0] and m.ci[1] <= m.ci_fail[1], m.name  # the FAIL interval is the wider
        assert sum(any(m.name.startswith(p) for p in ps) for ps in fams.values()) == 1, m.name
    versions = [h.version for h in claim.history]
    assert versions == list(range(2, len(versions) + 2))
    assert any(h.date == "2026-12-06" and "one decision rule" in h.change for h in claim.history)


@pytest.mark.parametrize("cid", ["svag-sweep", "exit-time", "stationary-covariance"])
def test_control_data_have_the_simulators_shape(cid):
    claim = get_claim(cid)
    cell = min(claim.cells("quick", 0), key=lambda c: c.cost)
    sim = claim.simulate_cell(cell)
    ctl = claim.control_data(cell, Control(kind="edge"), np.random.default_rng(SAMPLER_SEED))
    assert set(sim) == set(ctl)
    for k in sim:
        assert np.shape(sim[k]) == np.shape(ctl[k]), k
    assert claim.summarize(cell, ctl).keys() == claim.summarize(cell, sim).keys()


def test_contract_names():
    rng = np.random.default_rng(CONTROL_SEED)
    names = {}
    for cid in CLAIMS:
        c = get_claim(cid)
        res = {x.key: c.summarize(x, c.control_data(x, Control(kind="exact"), rng)) for x in c.cells("quick", 0)}
        names[cid] = {m.name for m in c.measure("quick", 0, res, c.predict("quick"))}
    assert "weak_order/gamma=rademacher/phi=cos1/order=2" in names["sme-weak-order"]
    assert "weak_error_exact/gamma=gaussian/phi=f/order=1/eta=0.125" in names["sme-weak-order"]
    assert "weak_error/gamma=gaussian/phi=f/order=1/eta=0.00390625" in names["sme-weak-order"]
    assert {"svag_order/problem=quadratic", "svag_error_exact/l=64", "svag_error/l=1"} <= names["svag-sweep"]
    assert {"mfpt_quadrature/D=0.1", "exit_time_ratio/alg=sgd/D=0.07", "kramers_ratio/D=0.07"} <= names["exit-time"]
    sc_names = names["stationary-covariance"]
    assert {"variance_discrete/mu=0/eta=0.3/h=1.5/sigma=1", "variance_ou/mu=0.9/eta=0.05/h=2/sigma=0.7"} <= sc_names


def test_grid_steps_and_moved_truth():
    np.testing.assert_array_equal(_weak.grid_steps(4), [1, 2, 3, 4])
    np.testing.assert_array_equal(_weak.grid_steps(512), np.arange(1, 17) * 32)
    assert _weak.grid_steps(8, None).tolist() == list(range(1, 9))
    # the error to the target scales by (x/x0)^s at every time: its log-log slope moves by exactly s
    target, exact = np.array([1.0, 2.0]), np.array([1.5, 1.0])
    xs = np.array([0.5, 0.25, 0.125])
    errs = [np.max(np.abs(_weak.moved_truth(target, exact, x, 0.5, 0.3) - target)) for x in xs]
    assert np.polyfit(np.log(xs), np.log(errs), 1)[0] == pytest.approx(0.3)


def test_model_values_have_the_stated_moments():
    n = 20000
    d = _weak.model_values([1.0, -2.0], [0.5, 2.0], n, np.random.default_rng(SAMPLER_SEED))
    y = d["y"]
    assert y.shape == (n, 2) and d["diverged"] == 0
    np.testing.assert_allclose(y.mean(axis=0), [1.0, -2.0], atol=K_SIGMA * 2.0 / math.sqrt(n))
    np.testing.assert_allclose(y.std(axis=0), [0.5, 2.0], rtol=K_SIGMA * math.sqrt(0.5 / n))


def test_sme_moving_the_order2_slope_keeps_the_order1_row_inside():
    # the model realizes the order-2 row's truth; the order-1 row then stays within 0.01 of its exact slope
    p = swo._plan("quick")
    for g, f in swo.CASES:
        fp2, fp1 = p["fits"][(g, f, 2)], p["fits"][(g, f, 1)]
        shift = 2 - swo.BAND - fp2["effect"] - fp2["exact_slope"]
        xs = [e for e, i in zip(swo.ETAS, fp1["included"]) if i]
        errs = []
        for e in xs:
            th = p["cells"][swo._key(g, f, e)]
            mean = _weak.moved_truth(th["sme"][2], th["exact"], e, swo.ETAS[0], shift)
            errs.append(np.max(np.abs(mean - th["sme"][1])))
        assert np.polyfit(np.log(xs), np.log(errs), 1)[0] == pytest.approx(fp1["exact_slope"], abs=0.01)


def test_stationary_exact_recursion_matches_the_window_covariance():
    # the limit control: its per-path window averages have the discrete Lyapunov mean and the Isserlis covariance
    rng = np.random.default_rng(SAMPLER_SEED)
    n, W = 4000, 300
    for case in sc.CASES:
        th = sc._theory(case, "quick")
        cov = sc._window_cov(*_companion(case), th["P"].shape[0], W)
        a = sc._exact_recursion(case, n, W, th["burn"], rng)
        P = np.array([th["P"][e] for e in sc._entries(th["P"].shape[0])])
        sd = np.sqrt(np.diag(cov))
        np.testing.assert_allclose(a.mean(axis=0), P, atol=K_SIGMA * float(sd.max()) / math.sqrt(n))
        # the sd of a sample sd of n near-Gaussian values is about sd / sqrt(2n)
        np.testing.assert_allclose(a.std(axis=0), sd, rtol=K_SIGMA / math.sqrt(2 * n))


def _companion(case):
    from diffapprox.limits import discrete_lyapunov, linear_recursion

    pr, alg = sc._setup(case)
    lr = linear_recursion(pr, alg, np.zeros(pr.dim))
    return lr.A, discrete_lyapunov(lr.A, lr.B @ lr.B.T)


def test_exit_time_model_and_mutant_planted_beyond_the_band():
    q = et.quadrature(0.1) / et.quadrature(0.2)
    assert q > et.BAND[1] + et._effect(
        "quick"
    )  # the planted MFPT at 2D: the truth above the band by more than the effect
    claim = get_claim("exit-time")
    cell = next(c for c in claim.cells("quick", 0) if c.key == "alg=sgd/D=0.1")
    n = 20000
    cell = dataclasses.replace(cell, params={**cell.params, "paths": n})
    t = claim.control_data(cell, Control(kind="exact"), np.random.default_rng(SAMPLER_SEED))["t"]
    assert t.mean() == pytest.approx(et.quadrature(0.1), rel=K_SIGMA / math.sqrt(n))  # exponential: sd = mean


@pytest.mark.slow
@pytest.mark.parametrize("cid", CLAIMS)
def test_quick_profile(cid, tmp_path: Path):
    claim = get_claim(cid)
    cells = claim.cells("quick", 0)
    results = {c.key: claim.run_cell(c) for c in cells}
    out = claim.finish("quick", 0, results, tmp_path)
    names = [m.name for m in out.measurements]
    assert len(set(names)) == len(names) and any(m.judged for m in out.measurements)
    for m in out.measurements:
        m.to_json()
    assert out.findings and out.figures and all(Path(f).exists() for f in out.figures)
