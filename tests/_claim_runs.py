"""Run a claim at a profile the way ``validate`` does (its cells, then its finish step), for claim tests."""

from __future__ import annotations

from pathlib import Path

from diffapprox import Verdict, get_claim


def run_profile(claim_id: str, profile: str, seed: int, figdir: Path, rows=()):
    """The claim's outcome at ``profile``: every cell run, then ``finish``.

    Checks what every claim owes at any profile: unique cell keys, no ERROR measurement, and each of
    ``rows`` (measurement names) present.  Returns ``(claim, outcome)`` for the caller's own checks.
    """
    claim = get_claim(claim_id)
    cells = claim.cells(profile, seed)
    assert len({x.key for x in cells}) == len(cells), "cell keys are not unique"
    out = claim.finish(profile, seed, {x.key: claim.run_cell(x) for x in cells}, figdir)
    names = {m.name for m in out.measurements}
    assert set(rows) <= names, sorted(set(rows) - names)
    errors = [m.name for m in out.measurements if m.verdict is Verdict.ERROR]
    assert not errors, errors
    return claim, out
