"""The tolerable-delay claims (figure1, delay-sufficiency, delay-scaling and its alias delay-threshold) and
random-delay: quick profile end to end, controls through the claims' own cell code (exact does not FAIL,
a moved family does), mutants that plant a prediction, the one decision rule, and the split's alias."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffapprox import Control, Verdict, get_claim, stats
from diffapprox._run.calibrate import run_controls

from diffapprox_claims.paper import _delay, figure1

from _claim_runs import run_profile

SEED = 20240605
CONTROL_SEED = 20261206
CLAIMS = ("figure1", "delay-sufficiency", "delay-scaling", "random-delay")
#: A family control FAILs with probability >= 0.8 at the standard profile; at quick, with 4 replicates, we ask
#: for at least 2 FAILs (the chance of fewer is below 3% at power 0.8: P(Bin(4, 0.8) <= 1) = 0.027).
FAMILY = {
    "figure1": "mu=0.90",
    "delay-sufficiency": "mu=0.8",
    "delay-scaling": "q",
    "random-delay": "traverse_ode_ratio",
}
REPS, MIN_FAIL = 4, 2

CONTRACT = {
    "figure1": [
        f"tau_star/{c}/mu={m}" for c in ("ratio-1.5", "ratio-2") for m in ("0.70", "0.80", "0.85", "0.90", "0.95")
    ]
    + ["tau_star/band/mu=0.90", "tau_star_trend/ratio-1.5"],
    "delay-sufficiency": [f"tau_star_vs_sufficient/mu={m}/eta=0.0005" for m in ("0.5", "0.7", "0.8", "0.9")],
    "delay-scaling": ["exponent_p", "exponent_q", "fixed_grid_fit/exponent_p", "exponent_p/paper_figure1"]
    + [f"stability_ratio/mu={m}" for m in ("0.5", "0.7", "0.8", "0.9")],
    "random-delay": ["stationary_error_ratio/law=geometric/mean=10", "escape_ratio/law=uniform/mean=40"],
}


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", CLAIMS)
def test_quick_profile(claim_id, tmp_path):
    _, out = run_profile(claim_id, "quick", SEED, tmp_path, CONTRACT[claim_id])
    assert out.figures and out.findings


@pytest.mark.parametrize("claim_id", CLAIMS)
def test_exact_control_does_not_fail_and_a_moved_family_does(claim_id):
    """A few fixed-seed replicates through the claim's own cell code (calibrate runs 200 at standard)."""
    c = get_claim(claim_id)
    exact = run_controls(c, "quick", "exact", 2, CONTROL_SEED)
    fam = run_controls(c, "quick", f"family:{FAMILY[claim_id]}", REPS, CONTROL_SEED)
    assert not exact.errors and not fam.errors
    assert Verdict.FAIL not in exact.claim, exact.rows
    assert sum(v is Verdict.FAIL for v in fam.claim) >= MIN_FAIL, fam.rows


@pytest.mark.parametrize("claim_id", CLAIMS)
def test_one_decision_rule_and_families_cover_the_judged_rows(claim_id):
    c = get_claim(claim_id)
    rng = np.random.default_rng(2)
    res = {x.key: c.summarize(x, c.control_data(x, Control(kind="exact"), rng)) for x in c.cells("quick", 1)}
    ms = c.measure("quick", 1, res, c.predict("quick"))
    judged = [m for m in ms if m.judged]
    fams = c.families("quick")
    for m in judged:
        assert m.effect is not None and m.effect > 0, m.name
        assert m.ci_level == pytest.approx(stats.PASS_LEVEL), m.name
        assert m.ci_fail is not None and m.ci_fail[0] <= m.ci[0] and m.ci[1] <= m.ci_fail[1], m.name
        assert sum(any(m.name.startswith(p) for p in pre) for pre in fams.values()) == 1, m.name
    assert all(m.effect is None for m in ms if not m.judged)
    assert c.about == "paper"
    # measure is a pure function of its inputs
    assert [m.to_json() for m in ms] == [m.to_json() for m in c.measure("quick", 1, res, c.predict("quick"))]


@pytest.mark.parametrize("claim_id", CLAIMS + ("delay-threshold",))
def test_history_is_dated_and_every_old_rule_has_its_rows(claim_id):
    c = get_claim(claim_id)
    assert [h.version for h in c.history] == list(range(2, len(c.history) + 2))
    assert c.history[-1].date == "2026-12-06"
    rng = np.random.default_rng(4)
    res = {x.key: c.summarize(x, c.control_data(x, Control(kind="exact"), rng)) for x in c.cells("quick", 1)}
    names = [m.name for m in c.measure("quick", 1, res, c.predict("quick"))]
    for h in c.history:
        for prefix in h.old_rows:
            assert any(n.startswith(prefix) for n in names), (h.version, prefix)


@pytest.mark.parametrize("claim_id", CLAIMS)
def test_mutants_plant_their_prediction(claim_id):
    c = get_claim(claim_id)
    pred = c.predict("quick")
    assert c.mutants("quick")
    for name in c.mutants("quick"):
        assert c.mutate("quick", name, dict(pred)) != pred
    keys = {x.key for x in c.cells("quick", 1)}
    assert {x.key for x in c.mutant_cells("quick", 1)} < keys


def test_delay_threshold_is_an_alias_running_as_delay_scaling():
    alias, scaling = get_claim("delay-threshold"), get_claim("delay-scaling")
    assert "alias" in alias.statement.lower() and alias.history == scaling.history
    assert [x.seed for x in alias.cells("quick", 1)] == [x.seed for x in scaling.cells("quick", 1)]
    rng = np.random.default_rng(6)
    cells = scaling.cells("quick", 1)
    res = {x.key: scaling.summarize(x, scaling.control_data(x, Control(kind="exact"), rng)) for x in cells}
    a = alias.measure("quick", 1, res, alias.predict("quick"))
    b = scaling.measure("quick", 1, res, scaling.predict("quick"))
    assert [m.to_json() for m in a] == [m.to_json() for m in b]


def test_delay_claims_share_the_paths_of_the_claim_they_were_split_from():
    suff, scaling = get_claim("delay-sufficiency"), get_claim("delay-scaling")
    a, b = suff.cells("quick", 3), scaling.cells("quick", 3)
    assert [(x.key, x.seed) for x in a] == [(x.key, x.seed) for x in b]
    assert a[0].seed == stats_cell_seed(3, a[0].key)


def stats_cell_seed(seed, key):
    from diffapprox.engine import cell_seed

    return cell_seed(seed, _delay.DATA_ID, key)


def test_ramp_model_is_read_at_its_crossing():
    """The delay claims' control model: the ratio-1.5 criterion reads the grid delay just below theta."""
    cell = next(x for x in get_claim("delay-scaling").cells("standard", 1) if x.params["tau"] == 0)
    mu, eta = cell.params["mu"], cell.params["eta"]
    taus = _delay.taus(mu, eta)
    theta = 0.5 * (taus[8] + taus[9])
    rng = np.random.default_rng(SEED)
    errs = []
    for t in taus:
        x = type(cell)(claim=cell.claim, key=cell.key, params={**cell.params, "tau": t, "paths": 4000}, seed=1)
        errs.append(_delay.ramp_errors(rng, x, theta)["error_avg"])
    assert stats.threshold_point(taus, np.array(errs), "ratio-1.5") == taus[8]


def test_figure1_model_crossings():
    """figure1's error-curve model: ratio 1.5 at theta, ratio 2 at 1.063 theta, and the grid holds each band."""
    assert figure1._ratio(1.0) == pytest.approx(1.5)
    assert figure1._ratio(figure1._ratio2_factor()) == pytest.approx(2.0)
    assert 1.05 < figure1._ratio2_factor() < 1.08
    for mu, t in figure1.PAPER_TAU.items():
        g = figure1._taus(mu)
        lo, hi = figure1._band(t)
        assert g[0] == 0 and g[1] <= lo and g[-1] >= hi and t in g
        assert math.isclose(figure1._effect(t), figure1.REL_EFFECT * lo)
