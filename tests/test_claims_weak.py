"""The weak-convergence claims (ode-limit, ou-optimum, saddle-escape); traverse-time and phase3-time have
their own files (tests/test_claim_traverse_time.py, tests/test_claim_phase3_time.py).

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
#: Replicates per control in the fast tests (by cost: a replicate of ou-optimum or saddle-escape
#: takes about a second, of the others a few hundredths).
REPS = {"ode-limit": 30, "ou-optimum": 3, "saddle-escape": 3}
#: Probability that a correct claim fails one of the count checks below.
TEST_ALPHA = 0.001

CLAIMS = {
    "ode-limit": [
        "ode_order/mu=0/delay=0/i=1",
        "ode_error/mu=0/delay=0/i=1/eta=0.00025",
        "v2/ode_order/mu=0/delay=0/i=1",
    ],
    "ou-optimum": [
        "stationary_variance/law=gaussian/mu=0.5/tau=0/i=2",
        "stationary_variance/law=cube/mu=0/tau=0/i=4",
        "second_moment/law=gaussian/mu=0/tau=0/i=2/s=0.5",
        "gof/law=gaussian/mu=0/tau=0/i=2",
        "v3/gof/law=gaussian/mu=0/tau=0",
        "v1/second_moment/law=gaussian/mu=0/tau=0",
    ],
    "saddle-escape": [
        "escape_fraction/q=0.1",
        "escape_fraction/q=0.9/law=cube/mu=0.5/tau=0",
        "escape_probability/nu=0.1/T1=appendix",
        "escape_probability/nu=0.1/T1=main",
        "escape_quantile/nu=0.25/T1=appendix",
        "escape_time_ks/event=h2",
        "v2/escape_time_ks/event=h2",
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


@pytest.mark.slow
def test_saddle_escape_limit_matches_the_fixed_time_law_not_the_first_passage():
    # Exact samples of (A.2): the fixed-time fractions are the A.9 law itself (never FAIL); the first
    # passage of the same event lies more than 0.03 from it (A.9's law is not a first-passage law).
    claim = get_claim("saddle-escape")
    results = claim.synthetic("standard", "limit", np.random.default_rng(CONTROL_SEED))
    ms = {m.name: m for m in claim.measure("standard", CONTROL_SEED, results, claim.predict("standard"))}
    fractions = [m for n, m in ms.items() if n.startswith("escape_fraction/")]
    assert fractions and all(m.verdict is not Verdict.FAIL for m in fractions)
    assert ms["escape_time_ks/event=h2"].estimate > 0.03


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
