"""Claim ``ou-optimum`` (Theorem 3.5, eq. (3.3); Prop. 3.6, A.6): controls through its own cell code.

The fast tests push ``exact`` and ``family`` controls (exact paths of the OU limit (3.3), per-row truths
set by the control) through the claim's ``summarize`` and ``measure`` at the quick profile, check that
control data have the simulator's shapes, that the judged rows state both intervals, band and effect,
and that the mutant's planted prediction FAILs on the real simulator's cell.

Counts are judged by binomial rules: under ``exact`` every judged truth lies inside its band, so a
replicate FAILs with probability at most the family level 0.01 (Bonferroni over the judged rows);
under a ``family`` control every row of the family sits beyond its band by its effect, each detected
with probability >= 0.8 and the rows of different coordinates and cells independent, so a replicate
misses all of them with probability at most 0.2^R (R >= 24 rows here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from diffapprox import Control, Verdict, get_claim, stats
from diffapprox._run.calibrate import run_controls

from _control_counts import control_fails, most_false_fails

CLAIM_ID = "ou-optimum"
#: Master seed of the control replicates.
CONTROL_SEED = 20261206
#: Replicates per control (a quick replicate takes about 0.2 s).
REPS = 4


@pytest.fixture(scope="module")
def claim():
    return get_claim(CLAIM_ID)


def test_exact_control_rarely_fails(claim):
    fails, failed_rows = control_fails(claim, "quick", "exact", REPS, CONTROL_SEED)
    assert fails <= most_false_fails(REPS), failed_rows


@pytest.mark.parametrize("family", ["stationary-variance", "second-moment"])
def test_family_control_fails_and_moves_only_its_rows(claim, family):
    run = run_controls(claim, "quick", f"family:{family}", REPS, CONTROL_SEED)
    assert not run.errors, run.errors
    assert run.claim == [Verdict.FAIL] * REPS  # a miss has probability <= 0.2^24 per replicate
    prefixes = claim.families("quick")[family]
    others = {n: v for n, v in run.rows.items() if not n.startswith(prefixes)}
    assert Verdict.FAIL not in {x for v in others.values() for x in v}, "rows of other families stay exact"


def test_control_data_have_the_simulators_shapes(claim):
    cells = {c.key: c for c in claim.cells("quick", CONTROL_SEED)}
    rng = np.random.default_rng(CONTROL_SEED)
    for key in ("law=cube/mu=0.5/tau=0/start=e1", "law=cube/mu=0.5/tau=0/start=u0"):
        cell = cells[key]
        sim, ctl = claim.simulate_cell(cell), claim.control_data(cell, Control(kind="exact"), rng)
        assert sim.keys() == ctl.keys(), key
        for k in sim:
            assert np.shape(sim[k]) == np.shape(ctl[k]), (key, k)
        assert claim.summarize(cell, ctl).keys() == claim.summarize(cell, sim).keys()


def test_judged_rows_state_both_intervals_band_effect_and_family(claim):
    run = {c.key: claim.summarize(c, claim.control_data(c, Control(kind="exact"), np.random.default_rng(1)))
           for c in claim.cells("quick", CONTROL_SEED)}  # fmt: skip
    ms = claim.measure("quick", CONTROL_SEED, run, claim.predict("quick"))
    judged = [m for m in ms if m.judged]
    assert len(judged) == claim.parameters("quick")["judged_rows"]
    fams = claim.families("quick")
    for m in judged:
        assert m.tolerance is not None and m.effect is not None and m.effect > 0, m.name
        assert m.ci_level == pytest.approx(stats.PASS_LEVEL) and m.ci_fail is not None, m.name
        assert m.ci_fail[0] <= m.ci[0] and m.ci[1] <= m.ci_fail[1], m.name
        assert sum(m.name.startswith(p) for ps in fams.values() for p in ps) == 1, m.name
    assert len({m.name for m in ms}) == len(ms), "measurement names must be unique"
    assert [h.version for h in claim.history] == list(range(2, len(claim.history) + 2))
    assert claim.about == "paper" and claim.confirm_note is None


def test_mutant_plants_the_squared_momentum_factor_and_fails(claim):
    (name,) = claim.mutants("quick")
    planted = claim.mutate("quick", name, claim.predict("quick"))
    for (law, mu), pr in claim.predict("quick").items():
        np.testing.assert_allclose(planted[(law, mu)]["S"], pr["S"] / (1 - mu))
    run = run_controls(claim, "quick", f"mutant:{name}", 1, CONTROL_SEED)
    assert not run.errors and run.claim == [Verdict.FAIL]


@pytest.mark.slow
def test_quick_profile_end_to_end(claim, tmp_path: Path):
    cells = claim.cells("quick", 0)
    assert len({c.key for c in cells}) == len(cells)
    out = claim.finish("quick", 0, {c.key: claim.run_cell(c) for c in cells}, tmp_path)
    names = [m.name for m in out.measurements]
    assert len(set(names)) == len(names)
    for n in ("stationary_variance/law=gaussian/mu=0.5/tau=0/i=2", "second_moment/law=gaussian/mu=0/tau=0/i=2/s=0.5",
              "gof/law=gaussian/mu=0/tau=0/i=2", "stationary_variance_finite_step/law=gaussian/mu=0/tau=0/i=2"):  # fmt: skip
        assert n in names, n
    assert out.findings and out.figures and all(Path(f).exists() for f in out.figures)
