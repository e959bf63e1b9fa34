"""Claims ``norm-bound`` (Lemma 3.1) and ``momentum-bias`` (Lemma 3.2): controls through their own cell code.

Each control draws per-path values from the claims' stated model (a constant ratio to the bound under
``exact``; the ratio growing as eta falls under ``edge``, ``family`` and ``outside``), and the claims'
own ``summarize`` and ``measure`` judge them.  A mutant plants the bound with a wrong power of eta and
``measure`` must read it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from diffapprox import Control, Verdict, get_claim, stats
from diffapprox._run.calibrate import run_controls

from diffapprox_claims.paper import _lemmas as lm

from _claim_runs import run_profile

SEED = 20261206
TEST_ALPHA = 0.001
CLAIMS = ("norm-bound", "momentum-bias")


@pytest.mark.parametrize("claim_id", CLAIMS)
def test_exact_control_passes(claim_id):
    """Standard profile: the confirm target is set there (8 quick paths cannot confirm every row)."""
    reps = 3
    run = run_controls(get_claim(claim_id), "standard", "exact", reps, SEED)
    assert not run.errors
    assert run.claim.count(Verdict.PASS) >= int(binom.ppf(TEST_ALPHA, reps, 0.9))


@pytest.mark.parametrize("claim_id", CLAIMS)
@pytest.mark.parametrize("family", ["eta_term", "delay_term"])
def test_a_moved_family_fails(claim_id, family):
    reps = 3
    claim = get_claim(claim_id)
    run = run_controls(claim, "standard", f"family:{family}", reps, SEED)
    assert not run.errors
    assert run.claim.count(Verdict.FAIL) >= max(int(binom.ppf(TEST_ALPHA, reps, 0.9)), 1)
    (prefix,) = claim.families("quick")[family]
    others = [v for name, vs in run.rows.items() if not name.startswith(prefix) for v in vs]
    assert Verdict.FAIL not in others


@pytest.mark.parametrize("claim_id", CLAIMS)
def test_judged_rows_follow_the_one_decision_rule(claim_id):
    claim = get_claim(claim_id)
    cells = claim.cells("quick", SEED)
    rng = np.random.default_rng(SEED)
    results = {c.key: claim.summarize(c, claim.control_data(c, Control(kind="exact"), rng)) for c in cells}
    ms = claim.measure("quick", SEED, results, claim.predict("quick"))
    judged = [m for m in ms if m.judged]
    assert len(judged) == lm.N_JUDGED
    fams = claim.families("quick")
    for m in judged:
        assert m.ci_level == stats.PASS_LEVEL and m.effect > 0 and m.ci_fail[0] < m.ci[0]
        assert sum(m.name.startswith(p) for ps in fams.values() for p in ps) == 1
    assert all(m.effect is None for m in ms if not m.judged)
    # the mutant's planted bound is read by measure: the same data FAIL against it
    (name,) = claim.mutants("quick")
    planted = claim.mutate("quick", name, claim.predict("quick"))
    cube = {k: v for k, v in results.items() if k.startswith("law=cube/")}
    out = claim.measure("quick", SEED, cube, planted)
    assert any(m.verdict is Verdict.FAIL for m in out if m.judged)
    assert {c.key for c in claim.mutant_cells("quick", SEED)} == set(cube)


def test_control_truths_set_the_ratio_slope():
    """The model's mean ratio to the bound grows like eta^-g with g = DELTA on the edge."""
    c = get_claim("norm-bound")
    cells = [x for x in c.cells("standard", SEED) if x.params["law"] == "cube" and x.params["tau"] == 0]
    cells = [x for x in cells if x.params["mu"] == 0.5]
    rng = np.random.default_rng(SEED)
    means = [c.control_data(x, Control(kind="edge"), rng)["max_norm_excess"].mean() for x in cells]
    ratio = np.array(means) / [lm.bound(0.5, x.params["eta"], 0) for x in cells]
    slope = np.polyfit(np.log([x.params["eta"] for x in cells]), np.log(ratio), 1)[0]
    assert abs(slope + lm.DELTA) < 4 * 0.35 / math.sqrt(64) / math.sqrt(5 * math.log(2) ** 2)


#: Rows each claim's quick run must produce (judged rows and the old rule's context rows).
CONTRACT = {
    "norm-bound": ["eta_order/law=cube/tau=0/mu=0.7", "ratio_slope/law=cube/mu=0.9/tau=0.5S", "slope/bound"],
    "momentum-bias": ["eta_term/law=cube/tau=0/mu=0.7", "delay_term/law=cube/mu=0.5/tau=0.25S", "slope/delay_term"],
}


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", CLAIMS)
def test_quick_profile(claim_id, tmp_path):
    c, out = run_profile(claim_id, "quick", SEED, tmp_path, CONTRACT[claim_id])
    assert out.figures and {f.rsplit(".", 1)[1] for f in out.figures} == {"png", "svg"}
    assert out.findings
    old = [m for m in out.measurements if m.name.startswith(c.history[-2].old_rows)]
    assert old and not any(m.judged for m in old) and all("Gaussian" in m.note for m in old)
