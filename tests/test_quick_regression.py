"""The quick profile against the committed baseline.

``reports/baseline-quick.json`` is a real ``diffapprox validate --profile quick`` run
at the default seed.  Every bit-reproducible claim must keep its verdicts and its
numbers within the CI-derived tolerance of :mod:`diffapprox._run.regression`; claims
that are not reproducible (real scheduling) or could not run (missing extra) are
only checked for presence.  To refresh the baseline after an intended change, run
``diffapprox validate --profile quick --out DIR`` and copy ``DIR/results.json``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from diffapprox.cli import main

BASELINE = Path(__file__).resolve().parents[1] / "reports" / "baseline-quick.json"


@pytest.fixture(scope="module")
def baseline() -> dict:
    return json.loads(BASELINE.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_quick_profile_keeps_the_baseline(tmp_path, capsys, baseline):
    out = tmp_path / "quick"
    # Name the claims: other test modules register toy claims in the same process.
    ids = ",".join(c["id"] for c in baseline["claims"])
    code = main(
        [
            "validate",
            "--profile",
            "quick",
            "--claims",
            ids,
            "--out",
            str(out),
            "--no-progress",
            "--baseline",
            str(BASELINE),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert f"no regression against {BASELINE}" in text
    run = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in run["claims"]] == [c["id"] for c in baseline["claims"]]


def _subset(doc: dict, claim_id: str) -> dict:
    sub = copy.deepcopy(doc)
    sub["claims"] = [c for c in sub["claims"] if c["id"] == claim_id]
    return sub


def test_a_perturbed_baseline_exits_1_and_says_what_moved(tmp_path, capsys, baseline):
    cid = "async-error"  # cheap and bit-reproducible
    claim = _subset(baseline, cid)["claims"][0]
    assert claim["reproducible"] and claim["verdict"] != "ERROR"
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_subset(baseline, cid)))
    code = main(
        [
            "validate",
            "--profile",
            "quick",
            "--claims",
            cid,
            "--out",
            str(tmp_path / "a"),
            "--no-progress",
            "--baseline",
            str(good),
        ]
    )
    assert code == 0, capsys.readouterr().out

    bad = _subset(baseline, cid)
    c = bad["claims"][0]
    flipped = "FAIL" if c["verdict"] != "FAIL" else "PASS"
    c["verdict"] = flipped
    m = next(m for m in c["measurements"] if m["estimate"] is not None and m["ci"][0] is not None)
    m["estimate"] = m["estimate"] + 100.0 * (abs(m["ci"][1] - m["ci"][0]) + 1.0)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    capsys.readouterr()
    code = main(
        [
            "validate",
            "--profile",
            "quick",
            "--claims",
            cid,
            "--out",
            str(tmp_path / "b"),
            "--no-progress",
            "--baseline",
            str(path),
        ]
    )
    text = capsys.readouterr().out
    assert code == 1
    assert f"claim {cid}: verdict {flipped} -> {claim['verdict']}" in text
    assert f"measurement {m['name']!r}" in text


def test_the_baseline_covers_every_claim(baseline):
    from diffapprox._run.claims import all_claims

    real = [cid for cid, c in all_claims().items() if type(c).__module__.startswith("diffapprox_claims.")]
    assert sorted(real) == sorted(c["id"] for c in baseline["claims"])
