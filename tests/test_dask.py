"""The Dask executor: same results as local, a killed worker, an unreachable scheduler.

Starts one real ``distributed.LocalCluster`` (2 worker processes, loopback only) for the module.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time

import numpy as np
import pytest
from _requires import require_module

require_module("distributed", "the Dask executor needs the `distributed` extra (in dev): pip install -e '.[dev]'")

import cloudpickle

from diffapprox import Cell, DiffapproxError
from diffapprox._run.dask import DaskExecutor

# Workers cannot import this test module by name: ship its functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

N_CELLS = 8
CELL_SLEEP_S = 0.25  # long enough that a worker is surely mid-cell when we kill it


def _cell_fn(cell: Cell) -> dict:
    """A deterministic function of the cell's seed, slow enough to be interrupted."""
    rng = np.random.default_rng(cell.seed)
    x = rng.standard_normal(2000)
    time.sleep(cell.params.get("sleep", 0.0))
    return {"sum": float(x.sum()), "q": np.sort(x)[::200], "pid": os.getpid()}


def _cells(sleep: float = 0.0) -> list[Cell]:
    return [Cell(claim="test", key=f"k={i}", params={"sleep": sleep}, seed=1000 + 7 * i) for i in range(N_CELLS)]


def _strip(res: dict) -> dict:
    return {k: v for k, v in res.items() if k != "pid"}


def _assert_identical(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for key in want:
        a, b = got[key], want[key]
        assert _strip(a)["sum"] == _strip(b)["sum"], key  # bit-identical, not approximately equal
        np.testing.assert_array_equal(a["q"], b["q"])


@pytest.fixture(scope="module")
def executor():
    ex = DaskExecutor(n_workers=2, timeout=60)
    yield ex
    ex.close()


def test_same_results_as_local(executor):
    local = {c.key: _cell_fn(c) for c in _cells()}
    got = {c.key: r for c, r in executor.map(_cell_fn, _cells(sleep=0.02))}
    _assert_identical(got, local)
    assert os.getpid() not in {r["pid"] for r in got.values()}  # really ran on the workers


def test_killed_worker_costs_only_its_cells(executor):
    local = {c.key: _cell_fn(c) for c in _cells()}
    pids = executor.client.run(os.getpid)  # {worker address: pid}
    assert len(pids) == 2
    got, killed = {}, None
    for cell, res in executor.map(_cell_fn, _cells(sleep=CELL_SLEEP_S)):
        got[cell.key] = res
        if killed is None:
            # Both workers are busy (8 cells of 0.25 s on 2 workers): kill the one that did not just finish.
            killed = next(p for p in pids.values() if p != res["pid"])
            os.kill(killed, signal.SIGKILL)
    _assert_identical(got, local)
    assert killed not in {r["pid"] for k, r in got.items() if k != next(iter(got))}
    # The nanny restarts the dead worker; the cluster is whole again.
    deadline = time.monotonic() + 30
    while executor.n_workers < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert executor.n_workers == 2


def test_unreachable_scheduler_fails_fast_with_one_line():
    with socket.socket() as s:  # an unused loopback port: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(DiffapproxError, match=r"^scheduler: expected a Dask scheduler answering within 1 s") as ei:
        DaskExecutor(address=f"tcp://127.0.0.1:{port}", timeout=1.0)
    assert time.monotonic() - t0 < 15
    assert "\n" not in str(ei.value)


@pytest.mark.parametrize(
    "kw", [{"n_workers": 0}, {"timeout": 0}, {"timeout": float("nan")}, {"threads_per_worker": 0}, {"address": ""}]
)
def test_bad_arguments(kw):
    with pytest.raises(DiffapproxError):
        DaskExecutor(**kw)


def test_closing_the_iterator_cancels_the_rest(executor):
    it = executor.map(_cell_fn, _cells(sleep=0.2))
    next(it)
    it.close()
    deadline = time.monotonic() + 10
    while executor.client.processing() and any(executor.client.processing().values()):
        assert time.monotonic() < deadline, "cells kept running after the iterator was closed"
        time.sleep(0.05)


def test_calibrate_on_dask_gives_the_local_rates(executor):
    """Replicate r of a control depends only on (seed, claim, control, r): the same rates on the Dask
    cluster as in this process, for a built-in claim's controls through its own cell code."""
    from diffapprox import get_claim
    from diffapprox._run.calibrate import calibrate

    claims = [get_claim("finite-step-variance")]
    kw = {"profile": "quick", "reps": 6, "seed": 11, "kinds": ["edge", "exact", "family"], "progress": False}
    local = calibrate(claims, jobs=1, **kw)
    remote = calibrate(claims, executor=executor, **kw)
    strip = [{k: v for k, v in c.items() if k != "elapsed_s"} for c in local["claims"]]
    assert strip == [{k: v for k, v in c.items() if k != "elapsed_s"} for c in remote["claims"]]
    assert set(local["claims"][0]["controls"]) == {
        "edge",
        "exact",
        *(f"family:{f}" for f in claims[0].families("quick")),
    }
