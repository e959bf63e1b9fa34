"""Executor, checkpoints, resume and the claim runner."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from diffapprox import Cell, Claim, ClaimOutput, DiffapproxError, Verdict, register
from diffapprox import stats as S
from diffapprox._run.execute import CellStore, Executor, LocalExecutor, Progress, execute, run_cell_safe
from diffapprox._run.runner import SCHEMA, run_claims

CALLS: list[str] = []


@register
class ToyClaim(Claim):
    """Mean of seeded normals, judged against 0 with a wide band."""

    id = "test-execute-toy"
    paper_ref = "test"
    statement = "toy"

    def parameters(self, profile):
        return {"cells": 6, "n": 50}

    def cells(self, profile, seed):
        return [self.make_cell(f"i={i}", {"n": 50}, seed, cost=1.0 + i) for i in range(6)]

    def run_cell(self, cell):
        CALLS.append(cell.key)
        return {"x": np.random.default_rng(cell.seed).normal(size=cell.params["n"])}

    def finish(self, profile, seed, results, figdir):
        x = np.concatenate([r["x"] for r in results.values()])
        return ClaimOutput(measurements=[S.measurement("mean", S.mean_ci(x), prediction=0.0, band=(-1.0, 1.0))])


@register
class BrokenClaim(Claim):
    id = "test-execute-broken"
    paper_ref = "test"
    statement = "raises in a cell"

    def parameters(self, profile):
        return {}

    def cells(self, profile, seed):
        return [self.make_cell("only", {}, seed)]

    def run_cell(self, cell):
        raise RuntimeError("boom")


@register
class NeedsExtra(Claim):
    id = "test-execute-extra"
    paper_ref = "test"
    statement = "needs a missing module"
    requires = ("no_such_module_diffapprox_test",)
    extra = "dnn"


class InterruptAfter:
    """Executor that raises KeyboardInterrupt after ``k`` cells (like Ctrl-C)."""

    def __init__(self, k):
        self.k = k

    def map(self, fn, cells):
        for i, c in enumerate(cells):
            if i == self.k:
                raise KeyboardInterrupt
            yield c, fn(c)

    def close(self):
        pass


def _results(outcomes):
    return {k: o["result"]["x"].tolist() for k, o in outcomes.items()}


def test_local_executor_is_an_executor():
    assert isinstance(LocalExecutor(), Executor)


def test_resume_after_interrupt_equals_uninterrupted_run(tmp_path):
    cells = ToyClaim().cells("quick", 11)
    full = execute(cells, LocalExecutor())
    store = CellStore(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        execute(cells, InterruptAfter(3), store=store)
    assert store.count() == 3
    assert not list((tmp_path / "cells").rglob(".tmp-*"))
    CALLS.clear()
    resumed = execute(cells, LocalExecutor(), store=store, resume=True)
    assert CALLS == [c.key for c in cells[3:]]  # nothing finished is recomputed
    assert _results(resumed) == _results(full)
    assert list(resumed) == [(c.claim, c.key) for c in cells]


def test_checkpoint_mismatch_and_corruption_are_recomputed(tmp_path):
    claim = ToyClaim()
    store = CellStore(tmp_path)
    execute(claim.cells("quick", 1), LocalExecutor(), store=store)
    # another master seed: different cell seeds, nothing reused
    CALLS.clear()
    execute(claim.cells("quick", 2), LocalExecutor(), store=store, resume=True)
    assert len(CALLS) == 6
    c0 = claim.cells("quick", 2)[0]
    store.path(c0).write_bytes(b"not a checkpoint")
    CALLS.clear()
    execute(claim.cells("quick", 2), LocalExecutor(), store=store, resume=True)
    assert CALLS == [c0.key]
    assert json.loads(store.path(c0).read_text())["key"] == c0.key


def test_run_cell_safe_reports_errors():
    out = run_cell_safe(BrokenClaim().cells("quick", 0)[0])
    assert out["result"] is None and out["error"].startswith("RuntimeError: boom")


def test_plain_progress_lines():
    cells = ToyClaim().cells("quick", 0)
    buf = io.StringIO()
    p = Progress(cells, stream=buf)
    execute(cells, LocalExecutor(), progress=p)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 7 and lines[0].startswith("[0/6] 1 claim, 6 cells") and "ETA" in lines[0]
    assert lines[1].startswith("[1/6] test-execute-toy i=0") and "ETA" in lines[1]


def test_run_claims_writes_results_and_isolates_errors(tmp_path):
    claims = [ToyClaim(), BrokenClaim(), NeedsExtra()]
    doc = run_claims(claims, profile="quick", seed=5, out=tmp_path, progress=False)
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(doc))
    for k in ("schema", "profile", "seed", "environment", "elapsed_s", "claims"):
        assert k in on_disk
    assert on_disk["schema"] == SCHEMA
    env = on_disk["environment"]
    assert env["numpy"] == np.__version__ and "machine" in env and "git_commit" in env
    by_id = {c["id"]: c for c in on_disk["claims"]}
    assert [c["id"] for c in on_disk["claims"]] == [c.id for c in claims]
    assert by_id["test-execute-toy"]["verdict"] == Verdict.PASS.value
    assert by_id["test-execute-toy"]["parameters"]["seed"] == 5
    assert by_id["test-execute-broken"]["verdict"] == "ERROR"
    assert "boom" in by_id["test-execute-broken"]["error"]
    assert by_id["test-execute-extra"]["verdict"] == "ERROR"
    assert "pip install -e '.[dnn]'" in by_id["test-execute-extra"]["error"]
    assert (tmp_path / "figures" / "test-execute-toy").is_dir()


def test_run_claims_resume_gives_identical_results(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    full = run_claims([ToyClaim()], profile="quick", seed=9, out=a, progress=False)
    with pytest.raises(KeyboardInterrupt):
        run_claims([ToyClaim()], profile="quick", seed=9, out=b, executor=InterruptAfter(2), progress=False)
    resumed = run_claims([ToyClaim()], profile="quick", seed=9, out=b, resume=True, progress=False)

    def strip(doc):
        return [{k: v for k, v in c.items() if k != "elapsed_s"} for c in doc["claims"]]

    assert strip(resumed) == strip(full)


def test_cell_uses_is_checked_and_history_entries_state_the_old_verdict():
    from diffapprox import HistoryEntry

    assert Cell(claim="c", key="k", params={}, seed=1).uses == "cores"
    with pytest.raises(DiffapproxError, match="uses"):
        Cell(claim="c", key="k", params={}, seed=1, uses="gpu")
    HistoryEntry(date="2026-11-29", version=2, change="c", reason="r", old_rows=("ks/",))
    HistoryEntry(date="2026-11-29", version=2, change="c", reason="r", old_verdict="FAIL", old_source="earlier run")
    with pytest.raises(ValueError, match="old_rows"):
        HistoryEntry(date="2026-11-29", version=2, change="c", reason="r")
    with pytest.raises(ValueError, match="date"):
        HistoryEntry(date="29.11.2026", version=2, change="c", reason="r", old_rows=("x",))


def test_derive_seed_is_the_cell_seed_and_depends_on_every_label():
    from diffapprox import derive_seed
    from diffapprox._run.claims import cell_seed

    assert cell_seed(7, "claim", "k=1") == derive_seed(7, "claim", "k=1")
    assert len({derive_seed(7, "a"), derive_seed(7, "b"), derive_seed(8, "a"), derive_seed(7, "a", 0)}) == 4
    assert 0 <= derive_seed(2**70, "x") < 2**63


def test_controls_run_measure_on_synthetic_summaries():
    """A toy claim whose measure is a proportion against 0.5: its null rarely FAILs, its alternative does."""
    from diffapprox._run.calibrate import Rates, run_controls

    class Coin(Claim):
        id, paper_ref, statement = "coin", "toy", "a fair coin"
        N = 400

        def predict(self, profile):
            return {"p": 0.5}

        def measure(self, profile, seed, results, prediction):
            k = results["c"]["heads"]
            return [S.measurement("p", S.proportion_ci(k, self.N), None, prediction["p"], (0.45, 0.55))]

        def synthetic(self, profile, kind, rng):
            if kind == "limit":
                return None
            return {"c": {"heads": int(rng.binomial(self.N, 0.5 if kind == "null" else 0.65))}}

    c = Coin()
    null = Rates.of(run_controls(c, "quick", "null", 100, 3).claim)
    alt = Rates.of(run_controls(c, "quick", "alternative", 100, 3).claim)
    assert null.fail == 0 and alt.fail >= 90 and alt.reps == 100
    assert run_controls(c, "quick", "limit", 5, 3) is None
    assert null.to_json()["fail_ci"][1] < 0.05
