"""Claim ode-limit (Theorem 3.3, ODE (3.2)): controls through the claim's own cell code, the time-scale mutant
on the real simulator, the stated rows and history.

Counts are judged with binomial tolerances: a replicate FAILs its exact control with probability at most
FALSE_FAIL (the decision rule's family level, 0.01) and FAILs a moved family with probability at least
POWER_MIN (each moved row is beyond its edge by the effect stated at power 0.9, several rows move); with
REPS replicates the tests allow the counts that those rates reach with probability above 1 - TEST_ALPHA.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom

from diffapprox import Verdict, get_claim, stats
from diffapprox._run.calibrate import run_controls
from diffapprox._run.claims import Control
from diffapprox.limits import ode_closed_form
from diffapprox_claims._common import problem
from diffapprox_claims.paper.ode_limit import H0, LAW, _times

from _claim_runs import run_profile

CLAIM = "ode-limit"
SEED = 20261206
REPS = 5
MUTANT_REPS = 4
FALSE_FAIL = 0.01
POWER_MIN = 0.9
TEST_ALPHA = 0.001


def _fails(run) -> int:
    assert not run.errors, run.errors
    return sum(v is Verdict.FAIL for v in run.claim)


def test_exact_control_rarely_fails():
    run = run_controls(get_claim(CLAIM), "quick", "exact", REPS, SEED)
    assert _fails(run) <= binom.ppf(1 - TEST_ALPHA, REPS, FALSE_FAIL)


@pytest.mark.parametrize("family", ["delay=0", "delay=thm"])
def test_moved_family_fails(family):
    run = run_controls(get_claim(CLAIM), "quick", f"family:{family}", REPS, SEED)
    assert _fails(run) >= binom.ppf(TEST_ALPHA, REPS, POWER_MIN)


def test_time_scale_mutant_fails_on_real_paths():
    """The ODE prediction evaluated at 1.1 t: the tau = 0 limit rows see a gap of 0.01-0.03 beyond 0.005."""
    run = run_controls(get_claim(CLAIM), "quick", "mutant:time-scale=1.1", MUTANT_REPS, SEED)
    assert _fails(run) == MUTANT_REPS, run.rows


def test_control_data_has_the_simulators_shapes_and_truth():
    c = get_claim(CLAIM)
    cell = next(x for x in c.cells("quick", 1) if x.key == "mu=0.5/delay=0/eta=0.00025")
    real = c.simulate_cell(cell)
    ctrl = c.control_data(cell, Control(kind="exact"), np.random.default_rng(1))
    assert ctrl["x"].shape == real["x"].shape and np.allclose(ctrl["times"], real["times"])
    # exact: the path mean is H^2 of (3.2) up to the Monte-Carlo error of 256 paths (5 SE over 104 entries)
    s = c.summarize(cell, ctrl)
    ode = ode_closed_form(problem(LAW), np.array(H0), 0.5, _times(0.5, 2.5e-4)) ** 2
    assert np.all(np.abs(s["mean_h2"] - ode) <= 5 * s["se"])


def test_judged_rows_state_band_effect_and_both_intervals():
    c = get_claim(CLAIM)
    ms = c.measure("quick", 1, _control_results(c, "exact"), c.predict("quick"))
    judged = [m for m in ms if m.judged]
    assert len(judged) == 24
    fams = c.families("quick")
    for m in judged:
        assert m.effect > 0 and m.tolerance is not None and m.ci_fail is not None, m.name
        assert m.ci_level == pytest.approx(stats.PASS_LEVEL)
        assert sum(m.name.startswith(p) for ps in fams.values() for p in ps) == 1, m.name
    assert all(m.effect is None for m in ms if not m.judged)


def test_history_is_dated_and_the_old_verdicts_are_stated():
    c = get_claim(CLAIM)
    assert [h.version for h in c.history] == list(range(2, len(c.history) + 2))
    assert c.history[-1].date == "2026-12-06" and c.history[-1].old_verdict == "INCONCLUSIVE"


def _control_results(c, kind):
    rng = np.random.default_rng(2)
    return {x.key: c.summarize(x, c.control_data(x, Control(kind=kind), rng)) for x in c.cells("quick", 1)}


@pytest.mark.slow
def test_quick_profile(tmp_path: Path):
    rows = ("ode_limit/mu=0/delay=0/i=1", "ode_error/mu=0.5/delay=thm/i=4/eta=0.00025")
    c, out = run_profile(CLAIM, "quick", SEED, tmp_path, rows)
    assert out.figures and out.findings
