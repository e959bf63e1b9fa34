"""Claim ``finite-step-variance``: its controls (null does not FAIL, alternative FAILs), its names, quick run."""

from __future__ import annotations

from pathlib import Path

import pytest

from diffapprox import Verdict, get_claim
from diffapprox._run.calibrate import run_controls

CONTROL_SEED = 20260310
CLAIM = "finite-step-variance"


@pytest.mark.parametrize("kind,expected", [("null", Verdict.PASS), ("alternative", Verdict.FAIL)])
def test_controls(kind, expected):
    run = run_controls(get_claim(CLAIM), "standard", kind, 3, CONTROL_SEED)
    assert not run.errors
    if kind == "null":
        assert Verdict.FAIL not in run.claim
    else:
        assert run.claim == [Verdict.FAIL] * 3
    assert len(run.rows) == 78


def test_limit_control_samples_the_ou_law():
    """Exact OU paths: the row where the finite-step model is furthest from (3.3) FAILs (a finding, not a target)."""
    run = run_controls(get_claim(CLAIM), "quick", "limit", 1, CONTROL_SEED)
    assert not run.errors
    assert run.rows["variance_ratio_finite_step/data=gaussian/mu=0.9/eta=0.002/delay=const:0/i=2"] == [Verdict.FAIL]


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
