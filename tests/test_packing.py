"""The packing executor, the cost model and the ETA.

Results are identical under every executor and thread count; the packing rule never runs more
threads than cores and leaves no core idle while a cell could use it; the ETA follows its stated
formula on a fake clock.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time

import numpy as np
import pytest
from _requires import unavailable
from threadpoolctl import threadpool_limits

import diffapprox as da
from diffapprox import Cell, Claim, ClaimOutput, register
from diffapprox import stats as S
from diffapprox._run import runner
from diffapprox._run.claims import CELL_USES, all_claims
from diffapprox._run.costs import PROBE_KIND, ClaimCost, CostModel, build_costs, load_costs, speed_probe
from diffapprox._run.execute import (
    CellStore,
    LocalExecutor,
    YIELD_NICE,
    PackingExecutor,
    Progress,
    _Packer,
    _simulate_packing,
    execute,
    predict_wall,
    run_cell_safe,
)

#: Seed of the random arrival sequences the packing rule is checked on.
PACKER_SEED = 20240611
#: Master seed of the runs compared across executors.
RUN_SEED = 7


def _summary(cell) -> dict:
    return {"x": np.random.default_rng(cell.seed).normal(size=cell.params["n"]), "pid": os.getpid()}


def _finish_mean(results) -> ClaimOutput:
    x = np.concatenate([r["x"] for r in results.values()])
    return ClaimOutput(measurements=[S.measurement("mean", S.mean_ci(x), prediction=0.0, band=(-1.0, 1.0))])


@register
class PackCores(Claim):
    """Small simulations (numba kernels over paths) and a matrix product: their bits must not depend on threads."""

    id = "test-pack-cores"
    paper_ref = "test"
    statement = "a cores claim"

    def parameters(self, profile):
        return {"cells": 3}

    def cells(self, profile, seed):
        return [self.make_cell(f"i={i}", {"paths": 24}, seed, cost=24.0) for i in range(3)]

    def run_cell(self, cell):
        prob = da.engine.StreamingPCA(spectrum=[4, 3, 2, 1], data="gaussian")
        t = da.simulate(
            prob,
            mu=0.5,
            eta=2e-3,
            delay="const:3",
            steps=400,
            paths=cell.params["paths"],
            record_every=100,
            seed=cell.seed,
        )
        # a matrix product whose last bits depend on BLAS's thread count (OpenBLAS splits its sums)
        rng = np.random.default_rng(cell.seed)
        w, z = rng.standard_normal((400, 2000)), rng.standard_normal((2000, 50))
        return {"x": np.concatenate([t.error[:, -1], (w @ z)[:, 0] / 45.0]), "pid": os.getpid()}

    def finish(self, profile, seed, results, figdir):
        return _finish_mean(results)


@register
class PackCore(Claim):
    """Single-threaded cells; ``params['die']`` ends the worker process, ``params['nice']`` (after
    ``params['sleep']`` seconds) reports the niceness the cell ran at."""

    id = "test-pack-core"
    paper_ref = "test"
    statement = "a core claim"

    def parameters(self, profile):
        return {"cells": 5}

    def cells(self, profile, seed):
        return [self.make_cell(f"i={i}", {"n": 30}, seed, uses="core") for i in range(5)]

    def run_cell(self, cell):
        if cell.params.get("die"):
            os._exit(3)
        if cell.params.get("nice"):
            time.sleep(cell.params["sleep"])
            return _summary(cell) | {"nice": os.getpriority(os.PRIO_PROCESS, 0)}
        return _summary(cell)

    def finish(self, profile, seed, results, figdir):
        return _finish_mean(results)


@register
class PackWait(Claim):
    """Waiting cells: they sleep ``params['sleep']`` seconds."""

    id = "test-pack-wait"
    paper_ref = "test"
    statement = "a waiting claim"

    def parameters(self, profile):
        return {"cells": 2}

    def cells(self, profile, seed):
        return [self.make_cell(f"i={i}", {"n": 20, "sleep": 0.02}, seed, uses="waiting") for i in range(2)]

    def run_cell(self, cell):
        time.sleep(cell.params["sleep"])
        return _summary(cell)

    def finish(self, profile, seed, results, figdir):
        return _finish_mean(results)


# ----------------------------------------------------------------------------- the packing rule
def _busy(pk: _Packer, running: list) -> int:
    return sum(k if u == "cores" else (1 if u == "core" else 0) for u, k in running)


@pytest.mark.parametrize("slots", [1, 2, 3])
def test_packer_never_oversubscribes_and_leaves_no_usable_core_idle(slots):
    rng = np.random.default_rng(PACKER_SEED + slots)
    pk = _Packer(slots)
    running: list[tuple[str, int]] = []
    for step in range(400):
        if rng.random() < 0.5:
            pk.add(step, CELL_USES[rng.integers(3)])
        started = pk.next()
        running += [(u, k) for _, u, k in started]
        assert _busy(pk, running) <= slots
        assert sum(u == "waiting" for u, _ in running) <= pk.waiting_workers
        assert pk.free == slots - _busy(pk, running)
        # a cores item gets more than one thread only when no other queued item could use them
        if any(u == "cores" and k > 1 for _, u, k in started):
            assert not pk.queues["cores"]
            assert not pk.queues["core"] or pk.running["core"] >= pk.core_workers
        # work-conserving: a free core means nothing queued could start
        if pk.free > 0:
            assert not pk.queues["core"] or pk.running["core"] >= pk.core_workers
            assert not pk.queues["cores"]
        if running and rng.random() < 0.6:
            u, k = running.pop(int(rng.integers(len(running))))
            pk.done(u, k)


def test_packer_shares_two_cores_between_a_simulation_and_single_threaded_cells():
    pk = _Packer(2)
    for i in range(2):
        pk.add(f"sim{i}", "cores")
    for i in range(3):
        pk.add(f"mlp{i}", "core")
    pk.add("live", "waiting")
    first = pk.next()
    assert first == [("live", "waiting", 1), ("sim0", "cores", 1), ("mlp0", "core", 1)]
    pk.done("cores", 1)
    assert pk.next() == [("sim1", "cores", 1)]  # core cells still queued: the simulation keeps one thread
    pk.done("core", 1)
    pk.done("cores", 1)
    assert pk.next() == [("mlp1", "core", 1), ("mlp2", "core", 1)]
    only = _Packer(2)
    only.add("sim", "cores")
    assert only.next() == [("sim", "cores", 2)]  # nothing to share with: every core
    sims = _Packer(2)
    for i in range(3):
        sims.add(f"sim{i}", "cores")
    # side by side on one thread each (less CPU than one after another on both threads)
    assert sims.next() == [("sim0", "cores", 1), ("sim1", "cores", 1)]
    sims.done("cores", 1)
    assert sims.next() == [("sim2", "cores", 1)]  # the other core is busy
    sims.done("cores", 1)
    assert sims.next() == []
    sims.add("sim3", "cores")
    sims.done("cores", 1)
    assert sims.next() == [("sim3", "cores", 2)]  # the last one: every core


def test_simulated_wall_time_of_the_packing_rule():
    assert _simulate_packing([("core", 10.0), ("core", 10.0)], 2) == pytest.approx(10.0)
    assert _simulate_packing([("cores", 10.0)], 2) == pytest.approx(5.0)
    # cores (1 thread, 4 s) beside core (6 s); then the second core cell on the freed core: 4 + 6
    assert _simulate_packing([("cores", 4.0), ("core", 6.0), ("core", 6.0)], 2) == pytest.approx(10.0)
    # a waiting cell takes no core: it overlaps everything
    assert _simulate_packing([("waiting", 8.0), ("core", 5.0), ("core", 5.0)], 2) == pytest.approx(8.0)
    assert LocalExecutor(threads=None).predict_wall([("core", 3.0), ("waiting", 2.0)]) == pytest.approx(5.0)


# ----------------------------------------------------------------------------- identical results
@pytest.fixture(scope="module")
def packing2():
    """One packing executor on two cores for the module (its workers start once)."""
    with PackingExecutor(threads=2) as ex:
        yield ex


def _strip(doc: dict) -> dict:
    """results.json without timings (and without the executor's name)."""
    drop = {"elapsed_s", "started_utc", "executor"}
    out = {k: v for k, v in doc.items() if k not in drop}
    out["claims"] = [{k: v for k, v in c.items() if k not in drop} for c in doc["claims"]]
    return out


def test_identical_results_under_every_executor_and_thread_count(tmp_path, monkeypatch, packing2):
    import numba

    claims = [PackCores(), PackCore(), PackWait(), all_claims()["async-error"]]
    old = numba.get_num_threads()
    docs = {}
    try:
        for name, make in [
            ("sequential-1-blas-1", lambda: LocalExecutor(threads=1)),
            ("sequential-2", lambda: LocalExecutor(threads=2)),
            ("sequential-2-blas-2", lambda: LocalExecutor(threads=2)),
            ("packing-1", lambda: PackingExecutor(threads=1)),
            ("packing-2", lambda: packing2),
        ]:
            # packing: the finish steps run in its worker processes too
            monkeypatch.setattr(runner, "FINISH_IN_WORKERS_MIN_S", 0.0 if name.startswith("packing") else 1e9)
            out = tmp_path / name
            out.mkdir()
            ex = make()
            # BLAS on one or two threads around the run: a matrix product's bits would follow (they must not)
            k = int(name[-1]) if "blas" in name else None
            blas = contextlib.nullcontext() if k is None else threadpool_limits(limits=k, user_api="blas")
            try:
                with blas:
                    docs[name] = runner.run_claims(
                        claims, profile="quick", seed=RUN_SEED, out=out, executor=ex, progress=False
                    )
            finally:
                if ex is not packing2:
                    ex.close()
    finally:
        numba.set_num_threads(old)
    want = _strip(docs["sequential-2"])
    assert all(c["verdict"] != "ERROR" for c in want["claims"]), [c["error"] for c in want["claims"]]
    for name, doc in docs.items():
        assert _strip(doc) == want, name
        assert (tmp_path / name / "figures" / "async-error").is_dir()
    # and every cell's summary, bit for bit (the process id aside)
    cells = [c for claim in claims for c in claim.cells("quick", RUN_SEED)]
    first = {c.key + c.claim: CellStore(tmp_path / "sequential-2").load(c)["result"] for c in cells}
    for name in docs:
        store = CellStore(tmp_path / name)
        for c in cells:
            got, ref = store.load(c)["result"], first[c.key + c.claim]
            assert set(got) == set(ref), (name, c.key)
            for k in set(ref) - {"pid"}:
                assert np.array_equal(np.asarray(got[k]), np.asarray(ref[k])), (name, c.claim, c.key, k)


def test_packing_runs_single_threaded_and_waiting_cells_in_worker_processes(packing2):
    cells = PackCores().cells("quick", 1) + PackCore().cells("quick", 1) + PackWait().cells("quick", 1)
    got = execute(cells, packing2)
    for (claim, _), o in got.items():
        assert o["error"] is None
        assert o["result"]["pid"] != os.getpid(), claim
        assert o["threads"] <= 2
    # only cores cells, and no worker started yet: nothing to pack, they run here on every core given
    with PackingExecutor(threads=2) as ex:
        here = execute(PackCores().cells("quick", 1), ex)
    assert {o["result"]["pid"] for o in here.values()} == {os.getpid()}


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="the platform has no process niceness")
def test_simulation_workers_yield_the_cores_once_a_waiting_cell_runs():
    base = os.getpriority(os.PRIO_PROCESS, 0)
    sims = [
        Cell(claim=PackCore.id, key=f"nice{i}", params={"n": 10, "sleep": 0.3, "nice": True}, seed=1, uses="core")
        for i in range(3)
    ]
    with PackingExecutor(threads=2) as ex:
        alone = execute(sims, ex)
    assert {o["result"]["nice"] for o in alone.values()} == {base}
    live = Cell(claim=PackWait.id, key="live", params={"n": 5, "sleep": 2.0}, seed=1, uses="waiting")
    with PackingExecutor(threads=2) as ex:
        beside = execute([live] + sims, ex)
    assert beside[(PackWait.id, "live")]["error"] is None
    assert {o["result"]["nice"] for (claim, _), o in beside.items() if claim == PackCore.id} == {max(base, YIELD_NICE)}


def test_a_dying_worker_fails_only_its_own_cell(packing2):
    cells = PackCore().cells("quick", 2)
    bad = Cell(claim=cells[2].claim, key="die", params={"n": 30, "die": True}, seed=1, uses="core")
    got = execute(cells[:2] + [bad] + cells[2:], packing2)
    assert "worker process died" in got[(bad.claim, "die")]["error"]
    assert all(o["error"] is None for k, o in got.items() if k[1] != "die")


def test_close_stops_cells_still_running_at_once():
    slow = Cell(claim=PackWait.id, key="slow", params={"n": 5, "sleep": 60.0}, seed=1, uses="waiting")
    fast = PackCore().cells("quick", 3)[:1]
    ex = PackingExecutor(threads=2)
    it = ex.map(run_cell_safe, [slow] + fast)
    cell, _ = next(it)
    assert cell.key == fast[0].key
    t0 = time.perf_counter()
    ex.close()
    assert time.perf_counter() - t0 < 10.0


def test_a_claim_that_cannot_be_sent_to_a_worker_runs_here(packing2):
    @register
    class LocalOnly(Claim):  # defined in a function: a worker process cannot unpickle it
        id = "test-pack-local-only"
        paper_ref = statement = "test"

        def cells(self, profile, seed):
            return [self.make_cell("a", {"n": 3}, seed, uses="core")]

        def run_cell(self, cell):
            return _summary(cell)

    cells = LocalOnly().cells("quick", 1) + PackCore().cells("quick", 1)[:1]
    got = execute(cells, packing2)
    assert got[(LocalOnly.id, "a")]["result"]["pid"] == os.getpid()
    assert got[(PackCore.id, "i=0")]["result"]["pid"] != os.getpid()


# ----------------------------------------------------------------------------- the ETA
class _Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


class _OneByOne:
    """An executor's ETA rule: every task after the other on one core."""

    def predict_wall(self, tasks):
        return sum(s for _, s in tasks)


MODEL = CostModel(
    claims={
        "a": ClaimCost(uses="cores", s_per_cost=2e-6, cell_s=2.0, finish_s=1.0),
        "b": ClaimCost(uses="core", s_per_cost=0.5, cell_s=0.5, finish_s=3.0),
    },
    report_s=4.0,
)


def _eta_cells():
    cells = [Cell(claim="a", key=f"i={i}", params={}, seed=i, cost=1e6) for i in range(3)]
    cells += [Cell(claim="b", key=f"i={i}", params={}, seed=i, cost=1.0, uses="core") for i in range(4)]
    cells += [Cell(claim="c", key=f"i={i}", params={}, seed=i, cost=7.0, uses="core") for i in range(2)]
    return cells


def test_eta_follows_the_cost_model_then_the_measured_cells():
    clock = _Clock()
    cells = _eta_cells()
    p = Progress(cells, stream=io.StringIO(), model=MODEL, executor=_OneByOne(), clock=clock)
    # a: 3 x 2 s; b: 4 x 0.5 s; c (not in the model): 2 x the median core cell, 0.5 s;
    # finish steps 1 + 3 + median(1, 3); reports 4
    first = 6.0 + 2.0 + 1.0 + 6.0 + 4.0
    p.start()
    assert p.first_eta_s == pytest.approx(first)
    assert p.stream.getvalue().startswith("[0/9] 3 claims, 9 cells")
    # between refreshes the ETA counts down
    clock.t += 0.5
    assert p.eta_s() == pytest.approx(first - 0.5)
    # a cell of a ran 2 s on 2 threads: 4 core-seconds against 2 predicted (seen at the next refresh)
    p.finished(cells[0], 2.0, None, threads=2)
    assert p.eta_s() == pytest.approx(first - 0.5)
    clock.t += p.REFRESH_S
    g = (4.0 + p.PRIOR_SECONDS) / (2.0 + p.PRIOR_SECONDS)
    assert p.speed() == pytest.approx(g)
    per_a = (4.0 + p.PRIOR_CELLS * g * 2.0) / (1e6 + p.PRIOR_CELLS * 1e6) * 1e6
    want = 2 * per_a + g * (4 * 0.5 + 2 * 0.5) + g * (1.0 + 3.0 + 2.0) + g * 4.0
    assert p.eta_s() == pytest.approx(want)
    # a waiting cell, a failed cell and a checkpointed cell say nothing about the machine's speed
    p.loaded(cells[3])
    p.finished(cells[4], 50.0, "RuntimeError: boom")
    assert p.speed() == pytest.approx(g)
    # a finished claim's finish step leaves the ETA; left: a x 2, b x 2, c x 2, finish of a and c, reports
    clock.t += 2 * p.REFRESH_S
    p.finished_claim("b", 0.1)
    assert p.eta_s() == pytest.approx(2 * per_a + g * (2 * 0.5 + 2 * 0.5) + g * (1.0 + 2.0) + g * 4.0)


def test_eta_of_a_packing_run_is_the_packing_rule_on_the_predicted_cells():
    cells = _eta_cells()
    ex = PackingExecutor(threads=2)
    p = Progress(cells, enabled=False, model=MODEL, executor=ex, clock=_Clock())
    tasks = [("cores", 2.0)] * 3 + [("core", 0.5)] * 6
    fins = [("core", 1.0), ("core", 3.0), ("core", 2.0)]
    assert p.eta_s() == pytest.approx(predict_wall(ex, tasks) + predict_wall(ex, fins) + 4.0)
    assert predict_wall(ex, tasks) < sum(s for _, s in tasks)
    # cells side by side take more CPU: the reference states by how much; waiting cells are unaffected
    side = CostModel(claims=MODEL.claims, report_s=4.0, reference={"packing_cpu_factor": 1.2})
    q = Progress(cells, enabled=False, model=side, executor=ex, clock=_Clock())
    more = [(u, 1.2 * sec) for u, sec in tasks]
    assert q.eta_s() == pytest.approx(predict_wall(ex, more) + predict_wall(ex, [(u, 1.2 * x) for u, x in fins]) + 4.0)
    seq = Progress(cells, enabled=False, model=side, executor=LocalExecutor(), clock=_Clock())
    assert seq.side_by_side == 1.0


# ----------------------------------------------------------------------------- the cost model
def test_shipped_cost_model_loads_and_builds_from_a_run(tmp_path):
    shipped = load_costs()
    assert shipped.reference.get("cores", 0) >= 1
    assert CostModel.from_json(json.loads(json.dumps(shipped.to_json()))) == shipped
    claims = [PackCore(), PackWait()]
    runner.run_claims(claims, profile="quick", seed=3, out=tmp_path, executor=LocalExecutor(), progress=False)
    m = build_costs(tmp_path, claims, outcome=CellStore(tmp_path).load, report_s=1.5, reference={"cores": 2})
    assert set(m.claims) == {PackCore.id, PackWait.id}
    assert m.claims[PackWait.id].uses == "waiting" and m.claims[PackWait.id].cell_s >= 0.02
    assert m.claims[PackCore.id].s_per_cost == pytest.approx(m.claims[PackCore.id].cell_s)  # cost 1 per cell
    assert m.report_s == 1.5


def test_first_eta_scales_by_the_speed_probe():
    """The first ETA scales the model by the probe's wall seconds now over its reference CPU seconds."""
    ref = {"probe": {"kind": PROBE_KIND, "cpu_s": 0.05, "wall_s": 0.05}}
    model = CostModel(claims=MODEL.claims, report_s=40.0, reference=ref)
    cells = _eta_cells()
    plain = Progress(cells, enabled=False, model=model, executor=_OneByOne(), clock=_Clock(), probe=None)
    plain.start()
    probe = lambda: (0.1, 0.05)  # noqa: E731 - twice the wall time: a machine under load
    probed = Progress(cells, enabled=False, model=model, executor=_OneByOne(), clock=_Clock(), probe=probe)
    probed.start()
    assert plain.first_eta_s >= Progress.PROBE_MIN_S
    assert probed.g0 == pytest.approx(2.0) and probed.first_eta_s == pytest.approx(2.0 * plain.first_eta_s)
    # a reference taken by another probe (or the old one) is not compared with this one
    old = CostModel(claims=MODEL.claims, report_s=40.0, reference={"probe_s": 0.05})
    unprobed = Progress(cells, enabled=False, model=old, executor=_OneByOne(), clock=_Clock(), probe=probe)
    unprobed.start()
    assert unprobed.g0 == 1.0 and unprobed.first_eta_s == pytest.approx(plain.first_eta_s)


def test_speed_probe_reads_wall_and_cpu():
    """The probe and its reference are the same function: wall and CPU seconds of a numba kernel, after a warm-up."""
    wall, cpu = speed_probe(window_s=0.0)
    assert cpu > 0 and wall > 0


# ----------------------------------------------------------------------------- what cells declare
#: Claims whose cells are single-threaded or mostly waiting, and the kinds their cells declare.
DECLARED = {
    "dnn-tradeoff": {"core"},
    "verdict-calibration": {"core"},
    # compute regime: the workers sleep; latency regime and one worker: no pause, a core kept busy
    "live-staleness": {"core", "waiting"},
}
#: A ``core`` cell may keep at most this many cores busy on average (CPU / wall) with two numba threads
#: available: one, with slack for the interpreter's own threads.  Load on the machine only lowers the ratio.
CORE_MAX_BUSY = 1.25
#: A ``waiting`` cell (run, as the packing executor runs it, on one thread) keeps less than this busy.
WAITING_MAX_BUSY = 0.75


@pytest.mark.parametrize("claim_id", sorted(DECLARED))
def test_single_threaded_and_waiting_claims_declare_it_and_keep_to_it(claim_id):
    """What a cell declares is what it does: the cheapest quick cell of each kind a claim declares."""
    import numba

    from diffapprox._run.runner import missing_requirements

    claim = all_claims()[claim_id]
    if missing_requirements(claim):
        unavailable(f"{claim_id} needs an extra that is not installed: {missing_requirements(claim)}")
    cells = claim.cells("quick", RUN_SEED)
    assert {c.uses for c in cells} == DECLARED[claim_id]
    old = numba.get_num_threads()
    try:
        for uses in sorted(DECLARED[claim_id]):
            cell = min((c for c in cells if c.uses == uses), key=lambda c: c.cost)
            numba.set_num_threads(min(2 if uses == "core" else 1, numba.config.NUMBA_NUM_THREADS))
            run_cell_safe(cell)  # warm-up: imports and compilation are not the cell's steady work
            out = run_cell_safe(cell)
            assert out["error"] is None
            busy = out["cpu_s"] / out["elapsed_s"]
            assert busy <= (CORE_MAX_BUSY if uses == "core" else WAITING_MAX_BUSY), (cell.key, busy)
    finally:
        numba.set_num_threads(old)
