"""Claim ``saddle-escape`` (Theorem 3.9, Prop. 3.10, (A.2), A.9): controls through its own cell code.

The fast tests push ``exact`` and ``family`` controls (exact paths of (A.2) at the fixed times, per-row
truths set by the control) through the claim's ``summarize`` and ``measure`` at the quick profile, check
that control data have the simulator's shapes, that the thresholds that set a fixed-time probability
are right, that the judged rows state both intervals, band and effect, and that the mutant's planted
prediction FAILs on the real simulator's primary cell.

Counts are judged by binomial rules: under ``exact`` every judged truth lies inside its band, so a
replicate FAILs with probability at most the family level 0.01; under a ``family`` control each of the
family's rows (>= 6, across independent cells) is detected with probability >= 0.8.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from diffapprox import Control, Verdict, get_claim, stats
from diffapprox._run.calibrate import run_controls

from _control_counts import control_fails, least_fails, most_false_fails
from diffapprox.limits import ou_saddle
from diffapprox_claims._common import problem
from diffapprox_claims.paper import saddle_escape as se

CLAIM_ID = "saddle-escape"
#: Master seed of the control replicates.
CONTROL_SEED = 20261206
#: Replicates per control (a quick replicate takes about 0.1 s).
REPS = 6


@pytest.fixture(scope="module")
def claim():
    return get_claim(CLAIM_ID)


def test_exact_control_rarely_fails(claim):
    fails, failed_rows = control_fails(claim, "quick", "exact", REPS, CONTROL_SEED)
    assert fails <= most_false_fails(REPS), failed_rows


@pytest.mark.parametrize("family", ["escape-fraction", "u1-variance"])
def test_family_control_fails(claim, family):
    run = run_controls(claim, "quick", f"family:{family}", REPS, CONTROL_SEED)
    assert not run.errors, run.errors
    least = least_fails(REPS, power=1 - 0.2**3)  # at least three independent rows, each at power 0.8
    assert run.claim.count(Verdict.FAIL) >= max(least, 1), run.claim
    assert Verdict.PASS not in run.claim


def test_event_probability_and_threshold_invert_each_other():
    # Prop. 3.10's event under (A.2): the Gauss-Hermite probability against a Monte Carlo of the same event.
    cfg, t = se.PRIMARY, 0.2
    d2 = se.KAPPA * se.ETA
    r0 = d2 / (1 - d2)
    p = se._event_probability(cfg, t, r0)
    U = ou_saddle(problem(cfg[0]), cfg[1], saddle=1).sample([t], 200_000, np.random.default_rng(3))[:, 0, :]
    mc = float(np.mean(se.ETA * np.sum(U * U, axis=1) >= r0))
    assert abs(mc - p) <= 4.0 * math.sqrt(p * (1 - p) / U.shape[0])
    assert se._event_threshold(cfg, t, p) == pytest.approx(r0, rel=1e-6)


def test_control_data_have_the_simulators_shapes(claim):
    cell = next(c for c in claim.cells("quick", CONTROL_SEED) if c.key == se._key(se.PRIMARY))
    sim = claim.simulate_cell(cell)
    ctl = claim.control_data(cell, Control(kind="edge"), np.random.default_rng(CONTROL_SEED))
    assert sim.keys() == ctl.keys()
    for k in ("early", "h1", "h2"):
        assert sim[k].keys() == ctl[k].keys(), k
        for lab in sim[k]:
            assert np.shape(sim[k][lab]) == np.shape(ctl[k][lab]) and ctl[k][lab].dtype == sim[k][lab].dtype
    assert np.shape(sim["finite"]) == np.shape(ctl["finite"])


def test_judged_rows_state_both_intervals_band_effect_and_family(claim):
    res = {c.key: claim.summarize(c, claim.control_data(c, Control(kind="exact"), np.random.default_rng(1)))
           for c in claim.cells("quick", CONTROL_SEED)}  # fmt: skip
    ms = claim.measure("quick", CONTROL_SEED, res, claim.predict("quick"))
    judged = [m for m in ms if m.judged]
    assert len(judged) == claim.parameters("quick")["judged_rows"]
    fams = claim.families("quick")
    for m in judged:
        assert m.tolerance is not None and m.effect is not None and m.effect > 0, m.name
        assert m.ci_level == pytest.approx(stats.PASS_LEVEL) and m.ci_fail is not None, m.name
        assert m.ci_fail[0] <= m.ci[0] + 1e-12 and m.ci[1] <= m.ci_fail[1] + 1e-12, m.name
        assert sum(m.name.startswith(p) for ps in fams.values() for p in ps) == 1, m.name
    assert len({m.name for m in ms}) == len(ms)
    assert [h.version for h in claim.history] == list(range(2, len(claim.history) + 2))
    assert claim.about == "paper" and claim.confirm_note is None


def test_mutant_plants_the_squared_momentum_factor_and_fails(claim):
    (name,) = claim.mutants("quick")
    pr = claim.predict("quick")
    planted = claim.mutate("quick", name, pr)
    key = se._key(se.PRIMARY)
    for lab, (_t, v) in pr[key]["var"].items():
        assert planted[key]["var"][lab][1] == pytest.approx(v / (1 - se.PRIMARY[1]))
    run = run_controls(claim, "quick", f"mutant:{name}", 1, CONTROL_SEED)
    assert not run.errors and run.claim == [Verdict.FAIL]


@pytest.mark.slow
def test_quick_profile_end_to_end(claim, tmp_path: Path):
    cells = claim.cells("quick", 0)
    out = claim.finish("quick", 0, {c.key: claim.run_cell(c) for c in cells}, tmp_path)
    names = [m.name for m in out.measurements]
    assert len(set(names)) == len(names)
    for n in ("escape_fraction/q=0.1", "escape_probability/nu=0.1/T1=main", "escape_time_ks/event=h2"):
        assert n in names, n
    assert out.findings and out.figures and all(Path(f).exists() for f in out.figures)
