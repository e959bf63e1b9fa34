"""Running cells: executors, checkpoints, progress and the ETA.

Work is a list of independent :class:`~diffapprox.Cell` objects.  An *executor*
maps a picklable module-level function over them and yields ``(cell, result)``
pairs as they finish; :func:`execute` adds checkpointing (each finished cell is
written atomically as data to ``OUT/cells/<claim>/<sha1(key)>.json`` and ``.npz``), resuming (finished
cells are loaded, not recomputed) and progress.

Two local executors:

* :class:`PackingExecutor` (the default of ``diffapprox validate``) packs cells onto the
  machine by what they declare in :attr:`Cell.uses`: ``cores`` cells (numba kernels spreading
  paths over the cores with ``prange``) in worker processes whose numba thread count is set
  per cell (one thread each while other cells wait for a core), ``core`` cells (single-threaded
  work) in a pool of one-thread worker processes beside them, ``waiting`` cells (mostly
  sleeping) in a worker of their own; the threads in use never exceed the cores given.
* :class:`LocalExecutor` (``--executor sequential``) runs every cell in this process, one
  after another.

Results never depend on the executor: each cell carries its own seed, and the
simulator's random streams depend only on (seed, path), not on thread count.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import os
import pickle
import signal
import sys
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .._core.errors import DiffapproxError, check_int
from .checkpoint import CheckpointFiles, OutputNotWritten, UnencodableOutcome
from .claims import CELL_USES, Cell, get_claim
from .costs import PROBE_KIND, CostModel, load_costs, speed_probe

__all__ = [
    "Executor",
    "LocalExecutor",
    "PackingExecutor",
    "EXECUTORS",
    "make_local_executor",
    "machine_cores",
    "pin_blas",
    "predict_wall",
    "CellStore",
    "Progress",
    "run_cell",
    "run_cell_safe",
    "describe_exception",
    "cell_core_seconds",
    "execute",
]

#: Names of the local executors (``validate --executor``); the first is the default.
EXECUTORS = ("packing", "sequential")


def run_cell(cell: Cell) -> dict:
    """Run one cell: look its claim up by id and call ``claim.run_cell(cell)`` (picklable)."""
    return get_claim(cell.claim).run_cell(cell)


def describe_exception(exc: BaseException) -> str:
    """``"TypeName: message (at file.py:line)"``, the line where ``exc`` was raised: how a failed cell or step is reported."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"


def run_cell_safe(cell: Cell) -> dict:
    """Run one cell and wrap the outcome: ``{"result", "elapsed_s", "cpu_s", "error"}``.

    An exception inside the claim becomes ``error`` (``"TypeName: message"``) and
    ``result`` is ``None``, so one broken claim does not stop the others.
    ``KeyboardInterrupt`` is not caught.  ``cpu_s`` is the CPU time of the process
    meanwhile (every thread: a cell's core-seconds, whatever else runs on the machine).
    BLAS runs on one thread (:func:`pin_blas`), so the result is the same in any process.
    """
    pin_blas()
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        res = run_cell(cell)
        err = None
    except Exception as exc:  # noqa: BLE001 - reported as the claim's ERROR verdict
        res = None
        err = describe_exception(exc)
    return {"result": res, "elapsed_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "error": err}


@runtime_checkable
class Executor(Protocol):
    """Anything that maps ``fn`` over cells and yields ``(cell, fn(cell))`` as they finish."""

    def map(self, fn: Callable[[Cell], dict], cells: list[Cell]) -> Iterator[tuple[Cell, dict]]: ...

    def close(self) -> None: ...


def machine_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system tells it, else the CPU count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _uses(item: Any) -> str:
    """What an item keeps busy; an item that does not say is treated as ``cores``."""
    u = getattr(item, "uses", "cores")
    return u if u in CELL_USES else "cores"


def _numba_max_threads() -> int:
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


#: Environment variables that set the thread count of BLAS libraries loaded from now on.
_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")

#: threadpoolctl's controller of the BLAS libraries this process had loaded when first pinned.
_BLAS_PIN: list = []


def pin_blas() -> None:
    """Run BLAS on one thread in this process (re-applied at every call: 10 microseconds).

    A matrix product's last bits depend on how many threads BLAS splits it over (OpenBLAS cuts
    the sums differently), so every process that runs cells or finish steps runs BLAS on one
    thread, whatever the executor, the cores and any limit set around the call: results stay
    bit-identical (the numba kernels are so by design).  Libraries loaded at the first call are
    limited through threadpoolctl; the environment variables cover those loaded later (and the
    processes started from here).
    """
    if not _BLAS_PIN:
        for name in _BLAS_ENV:
            os.environ[name] = "1"
        from threadpoolctl import ThreadpoolController

        _BLAS_PIN.append(ThreadpoolController().select(user_api="blas"))
    _BLAS_PIN[0].limit(limits=1)


def _limit_threads(k: int) -> None:
    """Run this thread's numba kernels on ``k`` threads (BLAS stays on one: :func:`pin_blas`).

    Speed only: every kernel gives the same bits whatever the thread count.
    """
    import numba

    numba.set_num_threads(max(1, min(int(k), _numba_max_threads())))


def _sequential_wall(tasks: list[tuple[str, float]], k: int) -> float:
    """Wall seconds of ``tasks`` (``(uses, core_seconds)``) run one after another, ``cores`` ones on ``k`` threads."""
    return sum(s / k if u == "cores" else s for u, s in tasks)


def cell_core_seconds(uses: str, elapsed_s: float, threads: int | None) -> float:
    """Core-seconds of a cell that ran ``elapsed_s`` wall seconds: times its threads for a ``cores`` cell."""
    return float(elapsed_s) * (int(threads or 1) if uses == "cores" else 1)


def _with_threads(out: Any, threads: int) -> Any:
    """Record the threads a cell ran on beside its outcome (the ETA turns wall time into core time)."""
    return {**out, "threads": int(threads)} if isinstance(out, dict) else out


class LocalExecutor:
    """Run cells in this process, one after another, in the given order (``--executor sequential``).

    The simulator's numba kernels spread paths over the cores with ``prange``, so
    the numba claims keep the cores busy; single-threaded and waiting cells do not
    (see :class:`PackingExecutor`).  ``threads`` sets numba's thread count and
    changes speed only, never results.

    Parameters
    ----------
    threads : int, optional
        Threads for numba kernels; default: numba's default (all cores).
    """

    def __init__(self, threads: int | None = None):
        self.threads = threads
        if threads is not None:
            _limit_threads(threads)

    def _threads_now(self) -> int:
        import numba

        return int(numba.get_num_threads())

    def map(self, fn: Callable[[Cell], dict], cells: list[Cell]) -> Iterator[tuple[Cell, dict]]:
        for c in cells:
            yield c, _with_threads(fn(c), self._threads_now() if _uses(c) == "cores" else 1)

    def predict_wall(self, tasks: list[tuple[str, float]]) -> float:
        """Wall seconds of ``tasks`` (``(uses, core_seconds)``) run one after another."""
        return _sequential_wall(tasks, self.threads or _numba_max_threads())

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"LocalExecutor(threads={self.threads})"


class _Packer:
    """The packing rule as pure bookkeeping, shared by :class:`PackingExecutor` and its ETA.

    ``slots`` cores are shared out: a ``core`` item takes one, a ``cores`` item takes the threads
    it is given, a ``waiting`` item none (it sleeps).  A ``cores`` item gets one thread while
    other queued items can fill the other free slots, and the free slots they cannot fill
    otherwise: items side by side on one thread each do the same work in less CPU time than one
    after another on every thread (a parallel kernel waits for its slowest thread; measured on 2
    cores: three claims' cells took 22% more CPU seconds on two threads than on one).  With work
    of both kinds queued, ``cores`` and ``core`` items take turns, so neither queue waits for the
    other; the last ``cores`` item gets every core left.  Items of a kind start in the order they
    were added.
    """

    def __init__(self, slots: int, *, core_workers: int | None = None, waiting_workers: int = 1):
        self.free = self.slots = int(slots)
        self.core_workers = int(slots if core_workers is None else core_workers)
        self.waiting_workers = int(waiting_workers)
        self.queues: dict[str, deque] = {u: deque() for u in CELL_USES}
        self.running = dict.fromkeys(CELL_USES, 0)

    def add(self, item: Any, uses: str) -> None:
        self.queues[uses].append(item)

    def next(self) -> list[tuple[Any, str, int]]:
        """Items to start now, as ``(item, uses, threads)``."""
        q, out = self.queues, []
        while q["waiting"] and self.running["waiting"] < self.waiting_workers:
            out.append((q["waiting"].popleft(), "waiting", 1))
            self.running["waiting"] += 1
        while self.free > 0:
            demand = min(len(q["core"]), self.core_workers - self.running["core"])
            if q["cores"] and (demand == 0 or self.running["cores"] <= self.running["core"]):
                k = max(1, self.free - demand - (len(q["cores"]) - 1))
                out.append((q["cores"].popleft(), "cores", k))
                self.running["cores"] += 1
                self.free -= k
            elif demand > 0:
                out.append((q["core"].popleft(), "core", 1))
                self.running["core"] += 1
                self.free -= 1
            else:
                break
        return out

    def done(self, uses: str, threads: int) -> None:
        self.running[uses] -= 1
        self.free += 0 if uses == "waiting" else (threads if uses == "cores" else 1)


def _simulate_packing(tasks: list[tuple[str, float]], slots: int) -> float:
    """Wall seconds the packing rule takes over ``tasks`` (``(uses, core_seconds)``, in start order).

    A ``cores`` task given k threads takes ``core_seconds / k``; ``core`` and ``waiting`` tasks
    take their seconds.
    """
    pk = _Packer(slots)
    for u, s in tasks:
        pk.add(s, u)
    t, seq, heap = 0.0, 0, []
    while True:
        for s, u, k in pk.next():
            heapq.heappush(heap, (t + (s / k if u == "cores" else s), seq, u, k))
            seq += 1
        if not heap:
            return t
        t, _, u, k = heapq.heappop(heap)
        pk.done(u, k)


#: What the fork server imports once, for every worker it forks: diffapprox's heavy dependencies.
#: Not diffapprox itself: importing it loads a parallel numba kernel, which starts OpenMP threads,
#: and numba's OpenMP layer ends any process that forks once it has them.
FORKSERVER_PRELOAD = ("numpy", "scipy.stats", "numba", "matplotlib", "jinja2")


def _worker_context():
    """How worker processes start: forked from a fork server (Linux, macOS), else spawned.

    Never a plain fork of this process: it may already run OpenMP (numba) or torch thread pools,
    which a forked child inherits broken (numba's OpenMP layer refuses the fork outright).  The
    fork server is a fresh interpreter that imports :data:`FORKSERVER_PRELOAD` once (no kernel
    has run, no thread pool exists) and forks each worker from that state, so a worker starts
    with about a second less of imports.
    """
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(FORKSERVER_PRELOAD))
    return ctx


#: Seconds to wait for a stopped worker process before killing it.
_REAP_S = 10.0

#: Niceness the packing executor gives its simulation workers (``cores`` and ``core`` lanes) from the
#: moment a ``waiting`` cell starts: a live server measures its own latency (the time its threads
#: wait for a core), and simulations at the same priority double it on a busy machine (measured on
#: 2 cores: a live server's compute/latency ratio 7.5-8.0 beside two busy processes at nice 0,
#: 14-17 at nice 10 or 19, 17-23 alone).  Unprivileged processes cannot lower a niceness again,
#: so the workers keep it for the rest of the run.
YIELD_NICE = 10


#: Packing executors of this process with worker processes running (they share the fork server).
_WITH_WORKERS: "weakref.WeakSet[PackingExecutor]" = weakref.WeakSet()


def stop_fork_server(timeout: float = _REAP_S) -> bool:
    """Stop multiprocessing's fork server, if this process started one, and wait for it; True if stopped.

    The fork server forks the workers and waits for each as it ends, so their CPU time adds up in
    it; once this process waits for the fork server in turn, every worker's CPU is counted in this
    process's children (``/usr/bin/time``, ``getrusage(RUSAGE_CHILDREN)``).  Left running, it
    would end only when this process exits, unwaited.  It ends when every process holding its
    "alive" pipe has closed it, the workers it forked included: call this once they have ended.
    If it has not ended after ``timeout`` seconds it is killed (a worker still running is then
    left to finish on its own).  The next worker starts a fresh fork server.
    """
    try:
        from multiprocessing import forkserver, util
    except ImportError:  # pragma: no cover - no fork server on this platform
        return False
    server = getattr(forkserver, "_forkserver", None)
    if server is None or getattr(server, "_forkserver_pid", None) is None:
        return False
    with server._lock:
        pid = server._forkserver_pid
        if pid is None:
            return False
        try:
            os.close(server._forkserver_alive_fd)  # end of the pipe: the server's signal to stop
        except OSError:
            pass
        server._forkserver_alive_fd = None
        deadline = time.monotonic() + timeout
        try:
            while os.waitpid(pid, os.WNOHANG)[0] == 0:
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.01)
        except ChildProcessError:  # already waited for
            pass
        server._forkserver_pid = None
        address, server._forkserver_address = server._forkserver_address, None
        if address is not None and not util.is_abstract_socket_namespace(address):
            with contextlib.suppress(OSError):
                os.unlink(address)
    return True


def _worker_stop(signum, frame) -> None:  # pragma: no cover - runs in a worker process being stopped
    """SIGTERM in a worker (the run was interrupted): drop the cell, release what the process holds
    (multiprocessing's exit steps: semaphores it registered are unlinked, not reported leaked), exit."""
    from multiprocessing import util

    try:
        util._exit_function()
    finally:
        os._exit(128 + signum)


def _worker_init(threads: int) -> None:
    """Worker process start: Ctrl-C is the parent's to handle, SIGTERM ends it cleanly; ``threads`` threads per kernel."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_stop)
    pin_blas()
    _limit_threads(threads)


def _worker_call(fn: Callable, item: Any, claim: Any, threads: int) -> Any:
    """Run ``fn(item)`` in a worker process on ``threads`` threads.

    ``claim`` is the item's claim when it was added at run time (:func:`~diffapprox.register`)
    and so is unknown to a fresh process; entry-point claims are found by id.
    """
    if claim is not None:
        from . import claims as _claims

        if claim.id not in _claims.all_claims():
            _claims._REGISTRY[claim.id] = claim
    _limit_threads(threads)
    return _with_threads(fn(item), threads)


class PackingExecutor:
    """Pack cells onto the machine by what they keep busy (the default local executor).

    ``cores`` cells run in worker processes whose numba thread count is set per cell (one thread
    each while other cells wait for a core, every core left for the last), ``core`` cells in a
    pool of one-thread worker processes, ``waiting`` cells in a worker of their own; the rule
    (:class:`_Packer`) never runs more threads than ``threads`` cores, a waiting cell counting for
    none.  Worker processes are started (:func:`_worker_context`) the first time a lane has work
    and reused until :meth:`close`.  Once a waiting cell has started, the other workers run at
    niceness :data:`YIELD_NICE`, so that the waiting cell's threads get a core as soon as they wake
    (the numbers are the same; only who waits for a core changes).  When every cell is ``cores``
    there is nothing to pack and they run in this process, as with :class:`LocalExecutor`.  A cell
    whose claim cannot be sent to another process (a class defined inside a function) runs in this
    process.

    Results are those of :class:`LocalExecutor`, bit for bit: a cell is a pure function of its
    parameters and seed, and the kernels give the same bits whatever the thread count.

    Parameters
    ----------
    threads : int, optional
        Cores to use (default: the cores this process may run on).
    waiting : int
        How many ``waiting`` cells may run at the same time (default 1: a live parameter server
        measures its own latency, which other live servers would disturb).
    """

    #: Run claims' finish steps in the one-thread pool (see :func:`diffapprox._run.runner.run_claims`).
    parallel_finish = True

    def __init__(self, threads: int | None = None, *, waiting: int = 1):
        self.threads = None if threads is None else check_int("threads", threads, 1)
        self.slots = self.threads or machine_cores()
        self.waiting = check_int("waiting", waiting, 1)
        self._pools: dict[tuple[str, int], Any] = {}
        self._busy: dict[str, set[int]] = {}
        self._inflight: set = set()
        self._ship: dict[str, tuple[bool, Any]] = {}

    # ---------------------------------------------------------------- workers
    def _here_threads(self) -> int:
        """Threads of a ``cores`` cell run in this process (every slot numba allows)."""
        return max(1, min(self.slots, _numba_max_threads()))

    def _lane_size(self, lane: str) -> int:
        return {"cores": self.slots, "core": self.slots, "waiting": self.waiting}[lane]

    def _worker(self, lane: str):
        """An idle worker of ``lane``: ``(slot, pool)``, started on first use.

        Each worker is a one-process pool of its own, so a worker that dies (a crash, the
        out-of-memory killer) fails only the cell it was running.
        """
        from concurrent.futures import ProcessPoolExecutor

        busy = self._busy.setdefault(lane, set())
        i = next(j for j in range(self._lane_size(lane)) if j not in busy)
        pool = self._pools.get((lane, i))
        if pool is None:
            # one thread per kernel until a cores cell asks for more
            pool = ProcessPoolExecutor(
                max_workers=1, mp_context=_worker_context(), initializer=_worker_init, initargs=(1,)
            )
            self._pools[(lane, i)] = pool
            _WITH_WORKERS.add(self)
        busy.add(i)
        return i, pool

    def _shipping(self, claim_id: str) -> tuple[bool, Any]:
        """(can run in a worker, claim object to send along or None), cached per claim."""
        got = self._ship.get(claim_id)
        if got is None:
            from . import claims as _claims

            if claim_id in _claims._entry_point_claims():
                got = (True, None)
            else:
                claim = _claims.all_claims().get(claim_id)
                try:
                    pickle.dumps(claim)
                    got = (True, claim)
                except Exception:  # noqa: BLE001 - any pickling failure means: run it here
                    got = (False, None)
            self._ship[claim_id] = got
        return got

    # ---------------------------------------------------------------- protocol
    def map(self, fn: Callable[[Cell], dict], cells: list[Cell]) -> Iterator[tuple[Cell, dict]]:
        """Yield ``(cell, fn(cell))`` as cells finish, packed as the class docstring says.

        ``fn`` must be a module-level function (it is sent to worker processes).  A worker
        process that dies takes only its own cell down: that cell's outcome is an error and
        the lane starts a fresh worker for the rest.
        """
        cells = list(cells)
        here = [c for c in cells if not self._shipping(getattr(c, "claim", ""))[0]]
        away = [c for c in cells if self._shipping(getattr(c, "claim", ""))[0]]
        if all(_uses(c) == "cores" for c in away) and not self._pools:
            here, away = cells, []  # nothing to pack: no worker processes
        if here:
            yield from self._map_here(fn, here)
        if away:
            yield from self._map_away(fn, away)

    def _map_here(self, fn, cells):
        import numba

        old = numba.get_num_threads()
        k = self._here_threads()
        try:
            for c in cells:
                numba.set_num_threads(k if _uses(c) == "cores" else 1)
                yield c, _with_threads(fn(c), k if _uses(c) == "cores" else 1)
        finally:
            numba.set_num_threads(old)

    def _map_away(self, fn, cells):
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        pk = _Packer(self.slots, waiting_workers=self.waiting)
        for c in cells:
            pk.add(c, _uses(c))
        running: dict = {}

        def start():
            for c, lane, k in pk.next():
                i, pool = self._worker(lane)
                fut = pool.submit(_worker_call, fn, c, self._shipping(c.claim)[1], k)
                running[fut] = (c, lane, k, i)
                self._inflight.add(fut)
            if any(key[0] == "waiting" for key in self._pools):  # a waiting cell has started
                self._yield_to_waiting()

        try:
            while True:
                start()
                if not running:
                    return
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                ready = []
                for fut in done:
                    c, lane, k, i = running.pop(fut)
                    self._inflight.discard(fut)
                    self._busy[lane].discard(i)
                    pk.done(lane, k)
                    try:
                        ready.append((c, fut.result()))
                    except BrokenProcessPool as exc:
                        self._drop((lane, i))
                        msg = f"worker process died ({exc})"
                        ready.append((c, {"result": None, "elapsed_s": 0.0, "error": msg, "threads": k}))
                start()  # the next cells start before these are handed over (checkpointing takes time)
                yield from ready
        finally:
            for fut in running:
                fut.cancel()

    def _yield_to_waiting(self) -> None:
        """Raise every simulation worker's niceness to :data:`YIELD_NICE` (never lower it)."""
        if not hasattr(os, "setpriority"):
            return
        for (lane, _), pool in list(self._pools.items()):
            if lane == "waiting":
                continue
            for pid in list((getattr(pool, "_processes", None) or {}).keys()):
                with contextlib.suppress(OSError):  # a worker that has just ended, or no permission
                    if os.getpriority(os.PRIO_PROCESS, pid) < YIELD_NICE:
                        os.setpriority(os.PRIO_PROCESS, pid, YIELD_NICE)

    def _drop(self, key: tuple[str, int], kill: bool = False) -> None:
        """Stop one worker: let it finish (``kill=False``) or end it at once; either way wait until it is gone."""
        pool = self._pools.pop(key, None)
        if pool is None:
            return
        procs = list((getattr(pool, "_processes", None) or {}).values())
        if kill:
            for p in procs:
                p.terminate()
            for p in procs:  # reaped by the fork server, which stops only once they are gone
                p.join(_REAP_S)
                if p.exitcode is None:
                    p.kill()
                    p.join(_REAP_S)
        # the pool's own thread then sees its workers gone and releases its queues and semaphores
        pool.shutdown(wait=True, cancel_futures=True)

    def predict_wall(self, tasks: list[tuple[str, float]]) -> float:
        """Wall seconds the packing rule takes over ``tasks`` (``(uses, core_seconds)``, in start order)."""
        if all(u == "cores" for u, _ in tasks) and not self._pools:
            return _sequential_wall(tasks, self._here_threads())
        return _simulate_packing(tasks, self.slots)

    def close(self) -> None:
        """Stop the worker processes (at once when cells are still running, e.g. after Ctrl-C or SIGTERM)
        and the fork server they were forked from, waiting for each: no process outlives the run,
        and the CPU time of every worker reaches this process (what ``/usr/bin/time`` reports)."""
        kill = any(not f.done() for f in self._inflight)
        self._inflight.clear()
        self._busy.clear()
        for key in list(self._pools):
            self._drop(key, kill=kill)
        _WITH_WORKERS.discard(self)
        if not any(ex._pools for ex in list(_WITH_WORKERS)):  # no other executor here has workers left
            stop_fork_server()

    def __enter__(self) -> "PackingExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PackingExecutor(threads={self.slots})"


def make_local_executor(name: str, threads: int | None = None):
    """The local executor called ``name`` (one of :data:`EXECUTORS`)."""
    if name == "packing":
        return PackingExecutor(threads=threads)
    if name == "sequential":
        return LocalExecutor(threads=threads)
    raise DiffapproxError("executor", f"one of {', '.join(EXECUTORS)}", name)


def predict_wall(executor: Any, tasks: list[tuple[str, float]]) -> float:
    """Wall seconds ``executor`` takes over ``tasks`` (``(uses, core_seconds)``): its own rule when it
    has one, else one after another on every core."""
    f = getattr(executor, "predict_wall", None)
    if f is not None:
        return float(f(tasks))
    return _sequential_wall(tasks, machine_cores())


class CellStore:
    """Checkpoints of finished cells under ``root/cells/<claim>/<sha1(key)>.json`` (and ``.npz``).

    Data, never code (:mod:`diffapprox._run.checkpoint`): the outcome as JSON plus numpy arrays
    read with ``allow_pickle=False``, beside the cell's key, seed, params, the package version and
    a SHA-256 of the payload.  A stored cell is reused only if all of them match (a different
    master seed or profile gives different cells, which are then recomputed); anything else in
    the directory (old pickled checkpoints included) is never opened as code and its cell is
    recomputed.  Writes are atomic (a temporary file and :func:`os.replace`), so a checkpoint is
    complete or absent.  Failed cells are not stored (resume retries them), nor cells whose
    outcome holds something that is not data (:class:`~diffapprox._run.checkpoint.UnencodableOutcome`:
    said once per claim on ``stream``).
    """

    def __init__(self, root: Path | str, *, stream=None):
        self.root = Path(root)
        self.stream = stream
        self._unencodable: set[str] = set()

    def files(self, cell: Cell) -> CheckpointFiles:
        stem = self.root / "cells" / cell.claim / hashlib.sha1(cell.key.encode()).hexdigest()
        return CheckpointFiles(stem, {"key": cell.key, "seed": cell.seed, "params": repr(cell.params)})

    def path(self, cell: Cell) -> Path:
        """The checkpoint's JSON file (its arrays, if any, are beside it with suffix ``.npz``)."""
        return self.files(cell).json_path

    def load(self, cell: Cell) -> dict | None:
        got = self.files(cell).load()
        return got if isinstance(got, dict) else None

    def save(self, cell: Cell, outcome: dict) -> None:
        try:
            self.files(cell).save(outcome)
        except UnencodableOutcome as exc:
            if cell.claim not in self._unencodable:
                self._unencodable.add(cell.claim)
                (self.stream or sys.stderr).write(
                    f"diffapprox: {cell.claim}: cells not checkpointed (--resume recomputes them): {exc}\n"
                )

    def count(self) -> int:
        d = self.root / "cells"
        return sum(1 for _ in d.glob("*/*.json")) if d.exists() else 0

    def legacy_count(self) -> int:
        """Pickled checkpoints of older versions under ``root/cells`` (ignored, never loaded)."""
        d = self.root / "cells"
        return sum(1 for _ in d.glob("*/*.pkl")) if d.exists() else 0


def _interactive(stream) -> bool:
    ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
    return (not ci) and hasattr(stream, "isatty") and stream.isatty()


def _fmt_s(s: float) -> str:
    s = max(0.0, s)
    if s < 60:
        return f"{s:.1f}s"
    m, s = divmod(int(round(s)), 60)
    return f"{m}m{s:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


class Progress:
    """Progress over cells and an ETA for the whole run.

    A tqdm bar on a terminal; plain lines (``[k/n] claim key  2.1s  ETA 40s``) when the stream
    is not a terminal or ``CI=true``; nothing when ``enabled=False``.  The first line, printed
    before any cell runs, already carries an ETA.

    The ETA is the wall time left: the executor's own rule (:func:`predict_wall`) applied to the
    cells not yet finished, plus the claims' finish steps and the reports.  A cell's core-seconds
    are predicted from the cost model (:mod:`diffapprox._run.costs`), scaled by this machine's
    speed, learnt from every finished cell, and refined per claim as its own cells finish::

        speed  = (measured + S0 g0) / (predicted + S0)              over finished cells, S0 = PRIOR_SECONDS
        rate_c = (measured_c + K speed prior_c) / (cost_c + K mean_cost_c)    K = PRIOR_CELLS

    (``g0``: the speed before any cell finished, the wall seconds of :func:`~diffapprox._run.costs.speed_probe`
    now over its CPU seconds on the reference machine (the clock of the model's seconds), or 1; ``measured_c``, ``cost_c``: core-seconds and
    cost of claim c's finished cells; ``prior_c``: the model's core-seconds of a cell of mean cost,
    times the reference's ``packing_cpu_factor`` under the packing executor, where cells run side
    by side and each takes more CPU.)
    The ETA is recomputed at most every ``REFRESH_S`` seconds (a packing run's rule is simulated
    over every cell left) and counts down in between.

    Parameters
    ----------
    cells : list of Cell
        Every cell of the run.
    model : CostModel, optional
        Default: the model shipped with the package.
    executor : optional
        The executor running the cells (its ``predict_wall``; one after another when it has none).
    finishes : list of str, optional
        Claims whose finish step follows the cells (default: the claims of ``cells``).
    clock : callable
        Seconds (monotonic); tests pass a fake one.
    probe : callable or None
        ``(wall, cpu)`` seconds of the speed probe now (default :func:`~diffapprox._run.costs.speed_probe`),
        run by :meth:`start` when the model holds a reference taken by the same probe
        (``reference["probe"]["kind"] == PROBE_KIND``) and the run is predicted to take at least
        ``PROBE_MIN_S``; ``None``: no probe (``g0 = 1``).
    """

    PRIOR_CELLS = 2.0
    PRIOR_SECONDS = 5.0
    REFRESH_S = 1.0
    PROBE_MIN_S = 10.0
    #: Speed-probe readings a first ETA takes the least of (as many as the reference's in costs.json).
    PROBE_READINGS = 3

    def __init__(
        self,
        cells: list[Cell],
        *,
        stream=None,
        enabled: bool = True,
        plain: bool | None = None,
        model: CostModel | None = None,
        executor: Any = None,
        finishes: list[str] | None = None,
        clock: Callable[[], float] = time.perf_counter,
        probe: Callable[[], float] | None = speed_probe,
    ):
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.clock = clock
        self.model = load_costs() if model is None else model
        self.executor = executor
        # cells running side by side take more CPU than one after another (shared caches and memory
        # bandwidth): the reference run measured by how much, for the packing executor
        packing = getattr(executor, "parallel_finish", False)
        self.side_by_side = float(self.model.reference.get("packing_cpu_factor", 1.0)) if packing else 1.0
        self.n = len(cells)
        self.k = 0
        self.pending: dict[tuple[str, str], Cell] = {(c.claim, c.key): c for c in cells}
        claims = list(dict.fromkeys(c.claim for c in cells))
        self.to_finish: dict[str, None] = dict.fromkeys(claims if finishes is None else finishes)
        # per claim: mean cost and the model's mean core-seconds of its cells (the prior)
        self._mean: dict[str, tuple[float, float]] = {}
        for cid in claims:
            cs = [c for c in cells if c.claim == cid]
            self._mean[cid] = (
                sum(float(c.cost) for c in cs) / len(cs),
                sum(self._prior(c) for c in cs) / len(cs),
            )
        self.measured: dict[str, list[float]] = {}  # claim -> [core-seconds, cost] of finished cells
        self._speed = [0.0, 0.0]  # measured, predicted core-seconds of finished non-waiting cells
        self.g0 = 1.0
        self._probe = probe
        self.probe_reading: dict | None = None
        self._eta: tuple[float, float] | None = None  # (clock, seconds left) at the last refresh
        self.first_eta_s: float | None = None
        self.t0 = clock()
        self.plain = (not _interactive(self.stream)) if plain is None else plain
        self._bar = None
        if enabled and not self.plain and self.n:
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.n,
                file=self.stream,
                unit="cell",
                dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]",
            )

    # ------------------------------------------------------------------ the model
    def _prior(self, cell: Cell) -> float:
        """The cost model's core-seconds of ``cell`` under this executor (before any cell finished)."""
        s = self.model.core_seconds(cell)
        return s if _uses(cell) == "waiting" else s * self.side_by_side

    def speed(self) -> float:
        """This machine's seconds per reference second, from the finished cells (``g0`` before any)."""
        m, p = self._speed
        return (m + self.PRIOR_SECONDS * self.g0) / (p + self.PRIOR_SECONDS)

    def core_seconds(self, cell: Cell) -> float:
        """Predicted core-seconds of ``cell`` (wall seconds for a ``waiting`` cell)."""
        g = self.speed()
        mean_cost, mean_prior = self._mean.get(cell.claim, (float(cell.cost), self._prior(cell)))
        got = self.measured.get(cell.claim)
        if got is None or mean_cost <= 0:
            return g * self._prior(cell)
        rate = (got[0] + self.PRIOR_CELLS * g * mean_prior) / (got[1] + self.PRIOR_CELLS * mean_cost)
        return rate * float(cell.cost)

    def eta_s(self) -> float:
        """Wall seconds left (cells, finish steps, reports), counting down between refreshes."""
        now = self.clock()
        if self._eta is not None and now - self._eta[0] < self.REFRESH_S:
            return max(0.0, self._eta[1] - (now - self._eta[0]))
        g = self.speed()
        cells = [(_uses(c), self.core_seconds(c)) for c in self.pending.values()]
        fins = [("core", g * self.side_by_side * self.model.finish_seconds(cid)) for cid in self.to_finish]
        if getattr(self.executor, "parallel_finish", False):
            fin_s = predict_wall(self.executor, fins) if fins else 0.0
        else:
            fin_s = sum(s for _, s in fins)
        left = (predict_wall(self.executor, cells) if cells else 0.0) + fin_s + g * self.model.report_s
        self._eta = (now, left)
        return left

    # ------------------------------------------------------------------ events
    def start(self) -> None:
        """Say what is planned and the first ETA (before any cell runs)."""
        ref = self.model.reference.get("probe")
        usable = isinstance(ref, dict) and ref.get("kind") == PROBE_KIND and float(ref.get("cpu_s") or 0) > 0
        if self._probe is not None and usable and self.eta_s() >= self.PROBE_MIN_S:
            # the least of PROBE_READINGS readings, as the reference in costs.json is taken: a reading
            # is a fraction of a second, so a burst on the other cores (a process starting) can double one
            wall, cpu = min((self._probe() for _ in range(self.PROBE_READINGS)), key=lambda r: r[0])
            self.probe_reading = {"wall_s": float(wall), "cpu_s": float(cpu), "reference_cpu_s": float(ref["cpu_s"])}
            self.g0 = float(wall) / float(ref["cpu_s"])
            self._eta = None
        eta = self.eta_s()
        self.first_eta_s = eta
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(f"ETA {_fmt_s(eta)}")
            return
        nc = len(self.to_finish)
        on = "" if self.executor is None else f" on {self.executor!r}"
        self.stream.write(
            f"[0/{self.n}] {nc} claim{'' if nc == 1 else 's'}, {self.n} cell{'' if self.n == 1 else 's'}{on}"
            f"  ETA {_fmt_s(eta)}\n"
        )
        self.stream.flush()

    def loaded(self, cell: Cell) -> None:
        """A cell restored from its checkpoint (counts as done, not toward the rates)."""
        self.k += 1
        self.pending.pop((cell.claim, cell.key), None)
        if self._bar is not None:
            self._bar.update(1)

    def finished(self, cell: Cell, elapsed_s: float, error: str | None, threads: int | None = None) -> None:
        """A cell ran for ``elapsed_s`` wall seconds on ``threads`` threads."""
        self.k += 1
        predicted = self._prior(cell)
        self.pending.pop((cell.claim, cell.key), None)
        uses = _uses(cell)
        core_s = cell_core_seconds(uses, elapsed_s, threads)
        if error is None:
            acc = self.measured.setdefault(cell.claim, [0.0, 0.0])
            acc[0] += core_s
            acc[1] += float(cell.cost)
            if uses != "waiting":  # a sleeping cell says nothing about the machine's speed
                self._speed[0] += core_s
                self._speed[1] += predicted
        if not self.enabled:
            return
        eta = self.eta_s()
        if self._bar is not None:
            self._bar.set_postfix_str(f"ETA {_fmt_s(eta)}, {cell.claim} {cell.key}"[:60], refresh=False)
            self._bar.update(1)
            return
        tail = f"  ERROR {error}" if error else ""
        self.stream.write(
            f"[{self.k}/{self.n}] {cell.claim} {cell.key}  {_fmt_s(elapsed_s)}  ETA {_fmt_s(eta)}{tail}\n"
        )
        self.stream.flush()

    def finished_claim(self, claim_id: str, elapsed_s: float) -> None:
        """A claim's finish step ran for ``elapsed_s`` seconds."""
        self.to_finish.pop(claim_id, None)
        if not self.enabled:
            return
        eta = self.eta_s()
        if self._bar is not None:
            self._bar.set_postfix_str(f"ETA {_fmt_s(eta)}, finished {claim_id}"[:60])
            return
        self.stream.write(f"[finish] {claim_id}  {_fmt_s(elapsed_s)}  ETA {_fmt_s(eta)}\n")
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def execute(
    cells: Iterable[Cell],
    executor: Executor,
    *,
    store: CellStore | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    fn: Callable[[Cell], dict] = run_cell_safe,
) -> dict[tuple[str, str], dict]:
    """Run ``cells`` through ``executor``; return ``{(claim, key): outcome}``.

    ``outcome`` is the dict of :func:`run_cell_safe` (``result``, ``elapsed_s``,
    ``error``).  With ``store``, each successful cell is checkpointed as it
    finishes; with ``resume`` too, stored cells are loaded instead of run.  On
    ``KeyboardInterrupt`` every cell finished so far is already on disk; the
    exception propagates (the executor is left for the caller to close).
    """
    cells = list(cells)
    keys = [(c.claim, c.key) for c in cells]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ValueError(f"duplicate cell key {dup}")
    out: dict[tuple[str, str], dict] = {}
    todo = []
    if store is not None and resume and store.legacy_count():
        n = store.legacy_count()
        (progress.stream if progress is not None else sys.stderr).write(
            f"diffapprox: {n} pickled checkpoint{'' if n == 1 else 's'} of an older version under "
            f"{store.root / 'cells'} ignored (never loaded): their cells are recomputed\n"
        )
    for c in cells:
        got = store.load(c) if (store is not None and resume) else None
        if got is not None:
            out[(c.claim, c.key)] = got
            if progress is not None:
                progress.loaded(c)
        else:
            todo.append(c)
    if progress is not None:
        progress.start()
    if todo:
        for c, outcome in executor.map(fn, todo):
            out[(c.claim, c.key)] = outcome
            if store is not None and outcome.get("error") is None:
                try:
                    store.save(c, outcome)
                except OSError as exc:  # e.g. a full disk: said with the path, checkpoints so far intact
                    raise OutputNotWritten(store.path(c), exc) from exc
            if progress is not None:
                progress.finished(
                    c, float(outcome.get("elapsed_s", 0.0)), outcome.get("error"), threads=outcome.get("threads")
                )
    # return in the cells' order, whatever order the executor finished them in
    return {k: out[k] for k in keys}
