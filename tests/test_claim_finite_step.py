"""Claim ``finite-step-variance``: its controls through its own cell code, its families, names, quick run."""

from __future__ import annotations

from pathlib import Path

import pytest

from diffapprox import Verdict, get_claim
from diffapprox._run.calibrate import run_controls

CONTROL_SEED = 20260310
CLAIM = "finite-step-variance"


def test_exact_control_confirms_through_the_cell_code():
    """Per-path averages with the model's value as truth, through summarize and measure: never a FAIL, nearly
    always PASS (every row is 5% inside its band, the 95% intervals about 1% wide at standard)."""
    run = run_controls(get_claim(CLAIM), "standard", "exact", 3, CONTROL_SEED)
    assert not run.errors and run.claim == [Verdict.PASS] * 3
    assert len(run.rows) == 78


@pytest.mark.parametrize("family", ["step", "geometric"])
def test_a_moved_family_fails_and_the_others_do_not(family):
    run = run_controls(get_claim(CLAIM), "standard", f"family:{family}", 3, CONTROL_SEED)
    assert not run.errors and run.claim == [Verdict.FAIL] * 3
    moved = get_claim(CLAIM).families("standard")[family]
    for name, verdicts in run.rows.items():
        if not name.startswith(moved):
            assert Verdict.FAIL not in verdicts, name


def test_families_cover_every_judged_row_once():
    fams = get_claim(CLAIM).families("quick")
    assert set(fams) == {"step", "const", "uniform", "geometric", "workers"}
    prefixes = [p for ps in fams.values() for p in ps]
    assert len(prefixes) == len(set(prefixes)) == 26


@pytest.mark.slow
def test_quick_profile(tmp_path: Path):
    claim = get_claim(CLAIM)
    cells = claim.cells("quick", 0)
    assert len({c.key for c in cells}) == len(cells) == 26
    out = claim.finish("quick", 0, {c.key: claim.run_cell(c) for c in cells}, tmp_path)
    names = {m.name for m in out.measurements}
    for model in ("finite_step", "linear", "ou"):
        assert f"variance_ratio_{model}/data=gaussian/mu=0.9/eta=0.0005/delay=workers:11/i=3" in names
    assert sum(m.judged for m in out.measurements) == 78 == len(out.measurements) // 3
    assert all(m.effect > 0 for m in out.measurements if m.judged)
    assert len(out.figures) == 10 and all(Path(f).exists() for f in out.figures)
