"""Quick-profile runs of the weak-convergence claims: structure, contract names, verdicts, figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from diffapprox import get_claim

CLAIMS = {
    "ode-limit": ["ode_order/mu=0/delay=0/i=1", "ode_error/mu=0/delay=0/i=1/eta=0.00025"],
    "ou-optimum": [
        "stationary_variance/law=gaussian/mu=0.5/tau=0/i=2",
        "stationary_variance/law=cube/mu=0/tau=0/i=4",
        "second_moment/law=gaussian/mu=0/tau=0/i=2",
        "gof/law=gaussian/mu=0/tau=0/i=2/KS",
    ],
    "saddle-escape": [
        "escape_quantile/nu=0.1/T1=appendix",
        "escape_quantile/nu=0.1/T1=main",
        "escape_quantile/nu=0.25/T1=appendix",
        "escape_quantile/nu=0.5/T1=main",
        "escape_time_ks/event=h2/KS",
        "escape_probability/nu=0.1/T1=main",
    ],
    "traverse-time": ["traverse_probability/law=gaussian/mu=0/tau=0"],
    "phase3-time": [
        "phase3_probability/T3=main/law=gaussian/mu=0/tau=0",
        "phase3_probability/T3=appendix/law=gaussian/mu=0/tau=0",
    ],
}


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
    assert out.figures and all(Path(f).exists() for f in out.figures)
    assert {Path(f).suffix for f in out.figures} == {".png", ".svg"}
