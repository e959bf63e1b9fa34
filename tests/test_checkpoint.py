"""Checkpoints are data: exact round trips, nothing in --out is ever executed, bad files are recomputed."""

from __future__ import annotations

import errno
import io
import json
import os
import pickle

import numpy as np
import pytest

from diffapprox import Cell, Claim, ClaimOutput, register
from diffapprox import stats as S
from diffapprox._run import checkpoint as ck
from diffapprox._run.checkpoint import UnencodableOutcome, decode, encode
from diffapprox._run.execute import CellStore, LocalExecutor, execute
from diffapprox._run.runner import run_claims

CALLS: list[str] = []


def same(a, b) -> bool:
    """Equal, types included: arrays by dtype, shape and bits; numpy scalars by dtype; NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if isinstance(a, float):
        return a == b or (a != a and b != b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


#: What claims' cells return (found on a quick run of every claim) and more.
ZOO = {
    "none": None,
    "flags": [True, False],
    "ints": [0, -3, 2**70],
    "floats": [0.1, -0.0, 1e-310, float("nan"), float("inf"), -float("inf")],
    "text": "mu=0.5/τ=3",
    "tuple": (1, (2.5, "x"), None),
    "arrays": [np.arange(5), np.linspace(0, 1, 7).reshape(7, 1), np.zeros((0, 3)), np.array(3.5)],
    "dtypes": [np.array([1, 2], dtype=np.int32), np.array([True, False]), np.array([1 + 2j]), np.array(["ab"])],
    "scalars": [
        np.float64(0.1),
        np.int64(-7),
        np.bool_(True),
        np.float32(np.nan),
        np.uint8(255),
        np.datetime64(1, "D"),
    ],
    "keys": {1: "int key", (2, "b"): "tuple key", 0.5: "float key", "$tag": "dollar key"},
    "nested": {"a": {"b": [{"c": (np.arange(3), [np.float64(2.0)])}]}},
    "empty": [[], {}, ()],
}


def test_encoding_round_trips_exactly():
    tree, arrays = encode(ZOO)
    json.dumps(tree, allow_nan=False)  # the tree is strict JSON
    assert all(not a.dtype.hasobject for a in arrays.values())
    assert same(decode(tree, arrays), ZOO)
    assert not same(decode(*encode({"a": (1, 2)})), {"a": [1, 2]})  # the comparison sees types


@pytest.mark.parametrize("value", [np.array([{}, 1], dtype=object), object(), b"bytes", {1, 2}, range(3)])
def test_what_is_not_data_is_refused(value):
    with pytest.raises(UnencodableOutcome):
        encode({"result": [value]})


@register
class ShapesClaim(Claim):
    """Cells return arrays, tuples, numpy scalars and dicts with int keys."""

    id = "test-checkpoint-shapes"
    paper_ref = "test"
    statement = "shapes"

    def parameters(self, profile):
        return {}

    def cells(self, profile, seed):
        return [self.make_cell(f"i={i}", {"n": 20 + i}, seed) for i in range(4)]

    def run_cell(self, cell):
        CALLS.append(cell.key)
        x = np.random.default_rng(cell.seed).normal(size=cell.params["n"])
        return {"x": x, "m": (np.float64(x.mean()), int(x.size)), "by": {0: x[:2].tolist()}}

    def finish(self, profile, seed, results, figdir):
        x = np.concatenate([r["x"] for r in results.values()])
        assert all(type(r["m"]) is tuple and type(r["m"][0]) is np.float64 for r in results.values())
        return ClaimOutput(measurements=[S.measurement("mean", S.mean_ci(x), prediction=0.0, band=(-2.0, 2.0))])


def _marker_pickle(marker) -> bytes:
    """A pickle that creates directory ``marker`` when loaded: proof of execution."""

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    return pickle.dumps({"key": "x", "outcome": Evil()})


def _run(store, cells):
    CALLS.clear()
    return execute(cells, LocalExecutor(), store=store, resume=True)


def test_crafted_files_in_out_are_never_executed_and_recomputed(tmp_path):
    cells = ShapesClaim().cells("quick", 3)
    store = CellStore(tmp_path / "out")
    full = execute(cells, LocalExecutor(), store=store)
    marker = tmp_path / "executed"
    evil = _marker_pickle(marker)
    c0, c1, c2 = cells[:3]
    # an old-style pickled checkpoint beside, a pickle in place of the JSON, a pickle in place of the arrays
    f0 = store.files(c0)
    f0.json_path.unlink()
    f0.npz_path.unlink()
    f0.stem.with_suffix(".pkl").write_bytes(evil)
    store.path(c1).write_bytes(evil)
    store.files(c2).npz_path.write_bytes(evil)
    got = _run(store, cells)
    assert not marker.exists()
    assert CALLS == [c0.key, c1.key, c2.key]
    assert all(same(got[k]["result"], full[k]["result"]) for k in full)


def test_object_array_in_npz_is_refused_even_with_a_matching_hash(tmp_path):
    cells = ShapesClaim().cells("quick", 3)
    store = CellStore(tmp_path / "out")
    execute(cells, LocalExecutor(), store=store)
    marker = tmp_path / "executed"
    files = store.files(cells[0])

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    buf = io.BytesIO()
    np.savez(buf, a0=np.array([Evil()], dtype=object))  # a pickled object array
    npz = buf.getvalue()
    files.npz_path.write_bytes(npz)
    doc = json.loads(files.json_path.read_text())
    doc["sha256"] = ck._digest(ck._tree_text(doc["outcome"]), npz)  # an attacker can recompute the hash
    files.json_path.write_text(json.dumps(doc))
    _run(store, cells)
    assert not marker.exists()
    assert CALLS == [cells[0].key]


def test_hash_mismatch_is_recomputed(tmp_path):
    cells = ShapesClaim().cells("quick", 3)
    store = CellStore(tmp_path / "out")
    full = execute(cells, LocalExecutor(), store=store)
    p = store.path(cells[1])
    doc = json.loads(p.read_text())
    doc["outcome"]["result"]["by"]["$d"][0][1][0] = 0.0  # a tampered value, hash left as it was
    p.write_text(json.dumps(doc))
    got = _run(store, cells)
    assert CALLS == [cells[1].key]
    k = (cells[1].claim, cells[1].key)
    assert same(got[k]["result"], full[k]["result"])


def test_old_pickled_checkpoints_get_a_one_line_note(tmp_path):
    cells = ShapesClaim().cells("quick", 3)
    store = CellStore(tmp_path / "out")
    old = store.files(cells[0]).stem.with_suffix(".pkl")
    old.parent.mkdir(parents=True)
    old.write_bytes(_marker_pickle(tmp_path / "executed"))
    stream = io.StringIO()
    store.stream = stream
    from diffapprox._run.execute import Progress

    execute(cells, LocalExecutor(), store=store, resume=True, progress=Progress(cells, stream=stream, plain=True))
    notes = [line for line in stream.getvalue().splitlines() if "pickled" in line]
    assert len(notes) == 1 and "ignored" in notes[0]
    assert not (tmp_path / "executed").exists()


def test_unencodable_outcome_runs_but_is_not_checkpointed(tmp_path):
    cell = Cell(claim="x", key="k", params={}, seed=1)
    stream = io.StringIO()
    store = CellStore(tmp_path, stream=stream)
    store.save(cell, {"result": object(), "error": None})
    store.save(cell, {"result": object(), "error": None})
    assert store.load(cell) is None and stream.getvalue().count("not checkpointed") == 1


def test_resume_gives_identical_results_json(tmp_path):
    full = run_claims([ShapesClaim()], profile="quick", seed=8, out=tmp_path / "a", progress=False)
    cells = ShapesClaim().cells("quick", 8)
    execute(cells[:2], LocalExecutor(), store=CellStore(tmp_path / "b"))
    CALLS.clear()
    resumed = run_claims([ShapesClaim()], profile="quick", seed=8, out=tmp_path / "b", resume=True, progress=False)
    assert CALLS == [c.key for c in cells[2:]]

    def strip(doc):
        return [{k: v for k, v in c.items() if k != "elapsed_s"} for c in doc["claims"]]

    assert strip(resumed) == strip(full)


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_while_checkpointing_keeps_what_was_written(tmp_path, monkeypatch):
    """The disk fills after the data went to the temporary file: the error names the checkpoint,
    older checkpoints are intact, no temporary or half file is left."""
    cells = ShapesClaim().cells("quick", 3)
    store = CellStore(tmp_path)
    execute(cells[:1], LocalExecutor(), store=store)
    before = store.path(cells[0]).read_bytes()
    monkeypatch.setattr(ck.os, "fsync", _no_space)
    with pytest.raises(ck.OutputNotWritten) as exc:
        execute(cells, LocalExecutor(), store=store, resume=True)
    assert exc.value.path == store.path(cells[1]).with_suffix(".json") and "No space left" in str(exc.value)
    assert store.path(cells[0]).read_bytes() == before
    assert not store.path(cells[1]).exists()
    assert not list((tmp_path / "cells").rglob(".tmp-*"))


@pytest.mark.parametrize("stage", ["checkpoint", "results", "report"])
def test_disk_full_exit_code_names_the_path(tmp_path, monkeypatch, capsys, stage):
    """validate exits 3 with one line naming the file; what was written before (results, report) stays whole."""
    from diffapprox import cli
    from diffapprox._run import runner
    from diffapprox.report import _render

    monkeypatch.setenv("CI", "true")
    out = tmp_path / "run"
    base = ["validate", "--profile", "quick", "--claims", ShapesClaim.id, "--seed", "2", "--out", str(out)]
    assert cli.main(base) == 0
    kept = out / ("report.html" if stage == "report" else "results.json")  # written before, must stay whole
    before = kept.read_bytes()
    capsys.readouterr()
    if stage == "checkpoint":
        for f in (out / "cells").rglob("*.json"):
            f.unlink()
        monkeypatch.setattr(ck, "write_atomic", _no_space)
        where = str(out / "cells" / ShapesClaim.id)
    elif stage == "results":
        monkeypatch.setattr(runner, "write_json_atomic", _no_space)
        where = str(out / "results.json")
    else:
        monkeypatch.setattr(_render, "_atomic_write", _no_space)
        where = str(out / "report.")
    code = cli.main(base + ["--resume"])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("[")]
    assert code == 3 and len(lines) == 1 and where in lines[0] and "No space left" in lines[0], err
    assert kept.read_bytes() == before
