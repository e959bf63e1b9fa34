"""Claim ``phase3-time`` (Prop. 3.6 / A.6): controls through its own cell code, its mutant.

The exact control draws paths of the OU limit (3.3), whose probability at A.6's T3 (0.92-0.99) lies
inside the band by more than the effect: it PASSes.  A family (one mu, three rows) moved below 3/4 by its
effect FAILs.
The mutant's shortened T3 is recomputed from the limit.
"""

from __future__ import annotations

import pytest
from scipy.stats import binom

from diffapprox import Verdict, get_claim
from diffapprox._run.calibrate import run_controls

from diffapprox_claims.paper import phase3_time as p3

SEED = 20261206
TEST_ALPHA = 0.001


def test_the_limit_meets_the_appendix_T3():
    reps = 4
    run = run_controls(get_claim("phase3-time"), "quick", "exact", reps, SEED)
    assert not run.errors
    # each row's 95% Wilson interval clears 0.75 with probability > 0.99 at 256 paths (truth >= 0.93)
    assert run.claim.count(Verdict.PASS) >= int(binom.ppf(TEST_ALPHA, reps, 0.95))


def test_a_moved_family_fails():
    reps = 4
    run = run_controls(get_claim("phase3-time"), "quick", "family:mu=0", reps, SEED)
    assert not run.errors
    assert run.claim.count(Verdict.FAIL) >= max(int(binom.ppf(TEST_ALPHA, reps, 0.9)), 1)
    others = [v for name, vs in run.rows.items() if "/mu=0/" not in name for v in vs]
    assert Verdict.FAIL not in others


@pytest.mark.parametrize("profile", ["quick", "standard", "paper"])
def test_mutant_factor_is_computed_from_the_limit(profile):
    assert p3.limit_shortened_factor(profile) == p3.MUTANT_FACTOR[profile]
    law, mu, _ = p3.MUTANT_CELL
    eta = p3.ETA[profile]
    t3 = p3._t3(law, mu, eta, "appendix")
    assert p3.limit_probability(law, mu, eta, p3.MUTANT_FACTOR[profile] * t3) <= 0.75 - 2 * p3._effect(profile)


def test_measure_reads_the_planted_T3():
    claim = get_claim("phase3-time")
    pred = claim.predict("quick")
    name = next(iter(claim.mutants("quick")))
    planted = claim.mutate("quick", name, pred)
    for k, v in pred.items():
        assert planted[k]["appendix"] == p3.MUTANT_FACTOR["quick"] * v["appendix"]
        assert planted[k]["main"] == v["main"]
    (cell,) = claim.mutant_cells("quick", SEED)
    assert (cell.params["law"], cell.params["mu"], cell.params["tau"]) == p3.MUTANT_CELL


@pytest.mark.slow
def test_quick_profile(tmp_path):
    claim = get_claim("phase3-time")
    results = {c.key: claim.run_cell(c) for c in claim.cells("quick", 0)}
    out = claim.finish("quick", 0, results, tmp_path)
    judged = [m for m in out.measurements if m.judged]
    assert len(judged) == len(claim.cells("quick", 0)) and all(m.ci_fail is not None for m in judged)
    assert out.findings and {p.rsplit(".", 1)[1] for p in out.figures} == {"png", "svg"}
