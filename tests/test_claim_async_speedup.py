"""Claim async-speedup (Prop. 3.6, Remarks 3.7 and 3.11 (2), extrapolated beyond the paper's threshold):
controls through the claim's own cell code, the asynchrony-as-momentum mutant on the real simulator, rows,
history and the stated scope.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom

from diffapprox import Verdict, get_claim, stats
from diffapprox._run.calibrate import run_controls
from diffapprox._run.claims import Control

from _claim_runs import run_profile

CLAIM = "async-speedup"
SEED = 20261206
REPS = 20
POWER_MIN = 0.8
FALSE_FAIL = 0.01
TEST_ALPHA = 0.001


def _count(run, verdict) -> int:
    assert not run.errors, run.errors
    return sum(v is verdict for v in run.claim)


def test_exact_control_does_not_fail():
    run = run_controls(get_claim(CLAIM), "quick", "exact", REPS, SEED)
    assert _count(run, Verdict.FAIL) <= binom.ppf(1 - TEST_ALPHA, REPS, FALSE_FAIL)


def test_moved_family_fails():
    run = run_controls(get_claim(CLAIM), "quick", "family:workers=8", REPS, SEED)
    assert _count(run, Verdict.FAIL) >= binom.ppf(TEST_ALPHA, REPS, POWER_MIN)
    assert set(run.rows) >= {"iteration_ratio/workers=8"}


def test_asynchrony_as_momentum_mutant_fails():
    run = run_controls(get_claim(CLAIM), "quick", "mutant:asynchrony=momentum", 2, SEED)
    assert _count(run, Verdict.FAIL) == 2, run.rows


def test_rows_families_and_scope():
    c = get_claim(CLAIM)
    assert "extrapolat" in c.statement.lower() and "threshold" in c.paper_ref
    rng = np.random.default_rng(5)
    res = {x.key: c.summarize(x, c.control_data(x, Control(kind="exact"), rng)) for x in c.cells("quick", 1)}
    judged = [m for m in c.measure("quick", 1, res, c.predict("quick")) if m.judged]
    assert [m.name for m in judged] == [f"iteration_ratio/workers={m}" for m in (2, 4, 8, 16, 32)]
    fams = c.families("quick")
    for m in judged:
        assert m.tolerance == pytest.approx((0.8, 1.25)) and m.effect > 0 and m.ci_fail is not None
        assert m.ci_level == pytest.approx(stats.PASS_LEVEL)
        assert sum(m.name.startswith(p) for ps in fams.values() for p in ps) == 1
    assert [h.version for h in c.history] == list(range(2, len(c.history) + 2))


@pytest.mark.slow
def test_quick_profile(tmp_path: Path):
    c, out = run_profile(CLAIM, "quick", SEED, tmp_path, ("iteration_ratio/workers=8", "momentum_ratio/mu=0.9"))
    assert any("extrapolation" in f for f in out.findings)
