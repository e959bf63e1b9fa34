"""The weak-convergence claims traverse-time and phase3-time (ode-limit, ou-optimum, saddle-escape: their own files).

Fast tests push synthetic cell summaries with known truth through each claim's ``measure`` step
(``diffapprox._run.calibrate.run_controls``): the null control must rarely FAIL and the alternative
must FAIL; the judged rows state band, effect and the claim's Bonferroni level; every history
entry's old rows exist and are context.  The slow test runs the quick profile end to end.

The null is judged by a count, not by "no FAIL at all": a one-sided row whose truth sits on its
band's edge FAILs at (1 - level)/2 by design, so a claim's null FAILs at up to NULL_FAIL_TARGET / 2
per replicate; with REPS replicates the test allows the FAIL count that a 5% rate exceeds with
probability below TEST_ALPHA, and asks the alternative for the count a 90% power reaches with
probability above 1 - TEST_ALPHA.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom

from diffapprox import Verdict, get_claim, stats
from diffapprox._run.calibrate import run_controls
from diffapprox_claims._common import FAMILY_ALPHA

#: Master seed of the control replicates (each replicate derives its own generator from it).
CONTROL_SEED = 20261129
#: Replicates per control in the fast tests (a replicate takes a few hundredths of a second; ode-limit,
#: ou-optimum and saddle-escape have their own test files).
REPS = {"traverse-time": 30, "phase3-time": 30}
#: Probability that a correct claim fails one of the count checks below.
TEST_ALPHA = 0.001

CLAIMS = {
    "traverse-time": [
        "traverse_probability/law=gaussian/mu=0/tau=0",
        "v2/traverse_probability/law=gaussian/mu=0/tau=0",
    ],
    "phase3-time": [
        "phase3_probability/T3=main/law=gaussian/mu=0/tau=0",
        "phase3_probability/T3=appendix/law=gaussian/mu=0/tau=0",
        "v2/phase3_probability/T3=appendix/law=gaussian/mu=0/tau=0",
    ],
}


def _null_measurements(claim_id: str, profile: str = "standard"):
    claim = get_claim(claim_id)
    results = claim.synthetic(profile, "null", np.random.default_rng(CONTROL_SEED))
    return claim, claim.measure(profile, CONTROL_SEED, results, claim.predict(profile))


@pytest.mark.parametrize("claim_id", sorted(CLAIMS))
def test_null_rarely_fails_and_alternative_fails(claim_id):
    claim, reps = get_claim(claim_id), REPS[claim_id]
    null = run_controls(claim, "standard", "null", reps, CONTROL_SEED)
    alt = run_controls(claim, "standard", "alternative", reps, CONTROL_SEED)
    assert not null.errors and not alt.errors, null.errors + alt.errors
    most = int(binom.isf(TEST_ALPHA, reps, stats.NULL_FAIL_TARGET))  # P(count > most) < TEST_ALPHA at 5%
    least = int(binom.ppf(TEST_ALPHA, reps, 0.9))  # P(count < least) <= TEST_ALPHA at power 0.9
    assert null.claim.count(Verdict.FAIL) <= most, {k: v for k, v in null.rows.items() if Verdict.FAIL in v}
    assert alt.claim.count(Verdict.FAIL) >= max(least, 1), alt.claim
    assert Verdict.PASS not in alt.claim


@pytest.mark.parametrize("claim_id", sorted(CLAIMS))
def test_judged_rows_state_band_effect_and_level(claim_id):
    claim, ms = _null_measurements(claim_id)
    judged = [m for m in ms if m.judged]
    params = claim.parameters("standard")
    assert len(judged) == params["judged_rows"]
    level = stats.row_level(len(judged), FAMILY_ALPHA)
    for m in judged:
        assert m.tolerance is not None and m.effect is not None and m.effect > 0, m.name
        assert m.ci_level == pytest.approx(level), m.name
    assert len({m.name for m in ms}) == len(ms), "measurement names must be unique"


@pytest.mark.parametrize("claim_id", sorted(CLAIMS))
def test_history_old_rows_are_context_rows(claim_id):
    claim, ms = _null_measurements(claim_id)
    versions = [h.version for h in claim.history]
    assert versions == list(range(2, len(versions) + 2)), "versions count up from 2"
    for h in claim.history:
        for prefix in h.old_rows:
            rows = [m for m in ms if m.name.startswith(prefix)]
            assert rows, f"no row under {prefix}"
            assert not any(m.judged for m in rows), f"old rows under {prefix} must be context"


def test_traverse_time_limit_fails_the_papers_T2():
    # Every path on the ODE (3.2) closed form needs 2 T2 to arrive: the limit itself misses Prop. 3.8.
    run = run_controls(get_claim("traverse-time"), "standard", "limit", 1, CONTROL_SEED)
    assert run.claim == [Verdict.FAIL]


def test_phase3_limit_meets_the_appendix_T3():
    # Exact samples of (3.3) at A.6's T3: the Markov bound holds with room (the claim's own limit PASSes).
    run = run_controls(get_claim("phase3-time"), "standard", "limit", 1, CONTROL_SEED)
    assert run.claim == [Verdict.PASS]


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", sorted(CLAIMS))
def test_quick_profile(claim_id, tmp_path: Path):
    claim = get_claim(claim_id)
    params = claim.parameters("quick")
    assert isinstance(params, dict) and params
    cells = claim.cells("quick", 0)
    assert len({c.key for c in cells}) == len(cells)
    results = {c.key: claim.run_cell(c) for c in cells}
    out = claim.finish("quick", 0, results, tmp_path)
    names = [m.name for m in out.measurements]
    assert len(set(names)) == len(names), "measurement names must be unique"
    for n in CLAIMS[claim_id]:
        assert n in names, n
    for m in out.measurements:
        m.to_json()
    assert any(m.judged for m in out.measurements)
    assert out.findings
    assert out.figures and all(Path(f).exists() for f in out.figures)
    assert {Path(f).suffix for f in out.figures} == {".png", ".svg"}
