"""``diffapprox validate`` and ``diffapprox claims`` through the command-line entry point."""

from __future__ import annotations

import sys
import json

import numpy as np
import pytest

from diffapprox import Claim, ClaimOutput, cli, register
from diffapprox import stats as S

STATE = {"interrupt_at": None, "calls": 0}


@register
class CliToy(Claim):
    id = "test-cli-toy"
    paper_ref = "test ref"
    statement = "toy claim for the CLI tests"

    def parameters(self, profile):
        return {"cells": 4}

    def cells(self, profile, seed):
        return [self.make_cell(f"i={i}", {}, seed) for i in range(4)]

    def run_cell(self, cell):
        STATE["calls"] += 1
        if STATE["interrupt_at"] is not None and STATE["calls"] == STATE["interrupt_at"]:
            raise KeyboardInterrupt  # what Ctrl-C does inside a running cell
        return {"x": np.random.default_rng(cell.seed).normal(size=40)}

    def finish(self, profile, seed, results, figdir):
        x = np.concatenate([r["x"] for r in results.values()])
        return ClaimOutput(measurements=[S.measurement("mean", S.mean_ci(x), prediction=0.0, band=(-1.0, 1.0))])


def run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _reset(monkeypatch):
    STATE.update(interrupt_at=None, calls=0)
    monkeypatch.setenv("CI", "true")


def _one_line_error(code, err, what):
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "error" in lines[0] and what in lines[0], err


def test_help(capsys):
    for sub in ("validate", "claims"):
        with pytest.raises(SystemExit) as e:
            cli.main([sub, "--help"])
        assert e.value.code == 0
        assert sub in capsys.readouterr().out


def test_validate_help_says_what_each_profile_costs_and_names_the_executors(capsys):
    from diffapprox._run.costs import load_costs

    with pytest.raises(SystemExit):
        cli.main(["validate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    profiles = load_costs().profiles
    assert set(profiles) == {"quick", "standard", "paper"}
    for profile, est in profiles.items():
        assert f"{profile} (" in out and "about" in out, profile
        assert est["packing"] <= est["sequential"]
    assert "--executor {packing,sequential}" in out and "--pdf-appendix" in out


def test_claims_lists_ids(capsys):
    code, out, _ = run(["claims"], capsys)
    assert code == 0 and "verdict-calibration" in out and "test-cli-toy" in out
    code, out, _ = run(["claims", "--json"], capsys)
    rows = json.loads(out)
    assert {"id", "paper_ref", "statement"} <= set(rows[0])
    assert "verdict-calibration" in [r["id"] for r in rows]


def test_unknown_claim_is_one_line_exit_2_and_creates_nothing(tmp_path, capsys):
    out = tmp_path / "o"
    code, _, err = run(["validate", "--claims", "no-such-claim", "--out", str(out)], capsys)
    _one_line_error(code, err, "no-such-claim")
    assert not out.exists()


def test_bad_profile_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["validate", "--profile", "huge", "--out", str(tmp_path / "o")])
    assert e.value.code == 2
    _one_line_error(2, capsys.readouterr().err, "huge")


def test_unwritable_out_exit_2(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("keep me")
    code, _, err = run(["validate", "--claims", "test-cli-toy", "--out", str(f / "sub")], capsys)
    _one_line_error(code, err, "--out")
    code, _, err = run(["validate", "--claims", "test-cli-toy", "--out", str(f)], capsys)
    _one_line_error(code, err, "--out")
    assert f.read_text() == "keep me"


def test_existing_results_are_not_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, _ = run(["validate", "--profile", "quick", "--claims", "test-cli-toy", "--out", str(out)], capsys)
    assert code == 0
    before = (out / "results.json").read_bytes()
    code, _, err = run(["validate", "--profile", "quick", "--claims", "test-cli-toy", "--out", str(out)], capsys)
    _one_line_error(code, err, "--resume")
    assert (out / "results.json").read_bytes() == before
    code, _, err = run(
        ["validate", "--profile", "quick", "--claims", "test-cli-toy", "--out", str(out), "--seed", "3", "--resume"],
        capsys,
    )
    _one_line_error(code, err, "--seed")
    assert (out / "results.json").read_bytes() == before


def test_bad_baseline_exit_2(tmp_path, capsys):
    b = tmp_path / "b.json"
    b.write_text("{not json")
    code, _, err = run(
        ["validate", "--claims", "test-cli-toy", "--baseline", str(b), "--out", str(tmp_path / "o")], capsys
    )
    _one_line_error(code, err, "--baseline")
    assert not (tmp_path / "o").exists()


def test_scheduler_without_dask_names_the_extra(tmp_path, capsys, monkeypatch):
    # Hide dask.distributed (installed or not): a None entry in sys.modules makes its import fail.
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    monkeypatch.setitem(sys.modules, "distributed", None)
    code, _, err = run(
        ["validate", "--claims", "test-cli-toy", "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "o")],
        capsys,
    )
    _one_line_error(code, err, "distributed")


def test_interrupt_then_resume_equals_uninterrupted(tmp_path, capsys):
    base = ["validate", "--profile", "quick", "--claims", "test-cli-toy", "--seed", "4"]
    code, out, _ = run(base + ["--out", str(tmp_path / "full")], capsys)
    assert code == 0 and "test-cli-toy" in out and "PASS" in out
    STATE.update(interrupt_at=3, calls=0)
    code, _, err = run(base + ["--out", str(tmp_path / "cut")], capsys)
    assert code == 130
    assert "--resume" in err and str(tmp_path / "cut") in err
    assert not (tmp_path / "cut" / "results.json").exists()
    STATE.update(interrupt_at=None, calls=0)
    code, _, _ = run(base + ["--out", str(tmp_path / "cut"), "--resume"], capsys)
    assert code == 0 and STATE["calls"] == 2  # only the unfinished cells ran

    def claims(d):
        doc = json.loads((tmp_path / d / "results.json").read_text())
        return [{k: v for k, v in c.items() if k != "elapsed_s"} for c in doc["claims"]]

    assert claims("cut") == claims("full")


def test_results_state_steps_and_paths_from_cells():
    """A result states its paths and steps; the runner reads them from the cells when the
    claim's parameters do not (one number when uniform, else per cell key), and never overrides a claim."""
    from diffapprox._run.claims import Cell
    from diffapprox._run.runner import _with_run_size

    def cell(key, **p):
        return Cell(claim="x", key=key, params=p, seed=0)

    same = [cell("a", steps=10, paths=4), cell("b", steps=10, paths=4)]
    assert _with_run_size({}, same) == {"steps": 10, "paths": 4}
    mixed = [cell("a", steps=10, paths=4), cell("b", steps=20, paths=4)]
    assert _with_run_size({}, mixed) == {"steps": {"a": 10, "b": 20}, "paths": 4}
    assert _with_run_size({"steps": "T/eta", "paths_per_cell": 8}, mixed) == {"steps": "T/eta", "paths_per_cell": 8}
    assert _with_run_size({}, [cell("a")]) == {}


def test_every_registered_claim_states_paths_and_steps():
    from diffapprox._run.claims import all_claims
    from diffapprox._run.runner import _with_run_size

    not_iterations = {"verdict-calibration": "records", "dnn-tradeoff": "epochs", "live-staleness": "steps"}
    for cid, c in all_claims().items():
        if cid.startswith("test-"):
            continue
        p = _with_run_size(dict(c.parameters("quick")), c.cells("quick", 0))
        assert any("paths" in k or k in ("seeds", "runs") for k in p), (cid, sorted(p))
        assert any("steps" in k or k in ("budgets_K", not_iterations.get(cid)) for k in p), (cid, sorted(p))
