"""Real asynchrony: Async-MSGD (eq. 2.1) on a parameter server with Dask workers (beyond the paper).

The paper *models* asynchrony by a delay tau_k.  Here the delay is *produced*: a parameter
server -- a Dask actor -- holds ``h_k``, ``h_{k-1}`` (the momentum buffer) and a version
counter ``k``; M workers, each a long-running Dask task on the cluster, repeatedly

1. read ``(h, version)`` from the server (the answer to their previous push),
2. spend a random compute time (exponential, mean ``compute_mean_s``; worker 0 may be
   ``slow_factor`` times slower) and draw fresh data ``Y`` from the problem's law,
3. push the stochastic gradient at the stale read ``w = h_{version}``::

       g = s Y - s^2 w,   s = Y . w        (the Hebbian term of eq. 2.1, projected)

The server (an ``async`` actor method, so pushes are applied one at a time on the actor's
event loop) applies each gradient the moment it arrives,

    h_{k+1} = h_k + mu (h_k - h_{k-1}) + eta g,

records the staleness ``tau_k = k - version_read`` and returns the new ``(h, k)`` to that
worker as its next read.  Nothing is scheduled by us: which gradient arrives next is decided
by compute times, the push round trip and the operating system -- which is the point.

Why an actor and not one task per gradient: a task round trip (client -> scheduler -> worker
-> scheduler -> client) goes through Dask's batched streams (10 ms client, 5 ms scheduler
send intervals) and cost ~20 ms, so every run was latency-dominated; a push to the actor is a
direct worker-to-worker call (~0.3 ms in-process).  Each worker measures its own latency
(time per task outside the compute pause, :attr:`LiveRun.overhead_s`), so a run says which
regime it was in: the ``workers:M`` law assumes compute time >> latency.

Runs are not reproducible (the delays are); the recorded ``trace`` makes the rest so:
``simulate(..., delay=trace_delay(run.trace))`` replays the same staleness in the simulator.
Data and compute-time draws are seeded per (seed, worker, task number), so only the
interleaving is left to chance.
"""

from __future__ import annotations

import atexit
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .._core.errors import DiffapproxError, check_int, check_range
from .._engine.problem import StreamingPCA
from .._run.dask import local_cluster_kwargs, quiet_logs, require_distributed

__all__ = ["LiveRun", "live", "worker_gradient", "staleness_pmf", "live_cluster"]

#: Largest number of concurrent workers ``live`` accepts (each needs a Dask thread slot).
MAX_WORKERS = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveRun:
    """One live parameter-server run.

    Attributes
    ----------
    mu, eta : float
        Momentum and step size of eq. (2.1).
    workers : int
        M, the number of concurrent workers.
    steps : int
        K, server updates applied (fewer if the run diverged).
    compute_mean_s : float
        Mean compute time of a normal worker, seconds.
    slow_factor : float
        Worker 0's mean compute time is ``slow_factor * compute_mean_s``.
    seed : int
    times : ndarray of int, shape (n_rec,)
        Update indices k of the records: 0, R, 2R, ..., K.
    error : ndarray, shape (n_rec,)
        ``1 - h_1^2 / ||h||^2`` at the records (eigenbasis; NaN after divergence).
    norm2 : ndarray, shape (n_rec,)
        ``||h||^2`` at the records.
    trace : ndarray of int64, shape (steps,)
        Measured staleness ``tau_k = k - version read`` of update k.
    writer : ndarray of int64, shape (steps,)
        Which worker's gradient update k applied.
    wall_s : ndarray, shape (steps,)
        Seconds since the first read when update k was applied.
    elapsed_s : float
        Wall time of the run (excluding cluster start-up).
    diverged : bool
        ``||h||`` exceeded ``bound`` (or turned non-finite); the run stopped there.
    cluster : str
        How the workers ran (``threads``/``external``) and the slots.
    overhead_s : float
        Measured latency: mean time per worker task *not* spent in the compute pause
        (push round trip to the server, gradient arithmetic, sleep overshoot, thread
        scheduling).  The ``workers:M`` law assumes it is negligible against the compute time.
    """

    mu: float
    eta: float
    workers: int
    steps: int
    compute_mean_s: float
    slow_factor: float
    seed: int
    record_every: int
    times: np.ndarray = field(repr=False)
    error: np.ndarray = field(repr=False)
    norm2: np.ndarray = field(repr=False)
    trace: np.ndarray = field(repr=False)
    writer: np.ndarray = field(repr=False)
    wall_s: np.ndarray = field(repr=False)
    elapsed_s: float
    diverged: bool
    cluster: str = ""
    overhead_s: float = math.nan

    @property
    def updates_per_s(self) -> float:
        return self.trace.size / self.elapsed_s if self.elapsed_s > 0 else math.nan

    @property
    def rates(self) -> np.ndarray:
        """Relative compute rates (1 / mean time) of the workers, shape (M,)."""
        r = np.ones(self.workers)
        r[0] = 1.0 / self.slow_factor
        return r

    @property
    def compute_ratio(self) -> float:
        """Mean compute time over measured latency per task (>> 1: compute-dominated)."""
        return self.compute_mean_s / self.overhead_s if self.overhead_s > 0 else math.nan

    def delay_spec(self) -> str:
        """The ``workers:M`` delay law this run's compute-time model predicts (no overhead)."""
        if self.slow_factor == 1.0 or self.workers == 1:
            return f"workers:{self.workers}"
        return f"workers:{self.workers}@" + ",".join(f"{r:g}" for r in self.rates)

    def summary(self) -> dict:
        """JSON-ready summary: parameters, throughput, staleness moments, final error."""
        tr = self.trace
        return {
            "mu": self.mu,
            "eta": self.eta,
            "workers": self.workers,
            "steps": int(tr.size),
            "compute_mean_s": self.compute_mean_s,
            "slow_factor": self.slow_factor,
            "seed": self.seed,
            "cluster": self.cluster,
            "elapsed_s": self.elapsed_s,
            "updates_per_s": self.updates_per_s,
            "diverged": self.diverged,
            "predicted_delay_law": self.delay_spec(),
            "overhead_s": self.overhead_s,
            "compute_ratio": self.compute_ratio,
            "staleness": {
                "mean": float(tr.mean()) if tr.size else math.nan,
                "std": float(tr.std()) if tr.size else math.nan,
                "max": int(tr.max()) if tr.size else 0,
                "pmf": np.bincount(tr).tolist() if tr.size else [],
            },
            "final_error": float(self.error[-1]),
            "final_norm2": float(self.norm2[-1]),
        }

    def to_dict(self) -> dict:
        """Everything, arrays included (what a claim cell stores)."""
        d = self.summary()
        d.update(
            times=self.times,
            error=self.error,
            norm2=self.norm2,
            trace=self.trace,
            writer=self.writer,
            wall_s=self.wall_s,
            record_every=self.record_every,
        )
        return d


# ----------------------------------------------------------------------------- worker side
def _draw(
    seed: int, worker: int, task: int, lam: np.ndarray, data: str, batch: int, mean_s: float
) -> tuple[float, np.ndarray]:
    """The task's compute time and data: ``default_rng([seed, worker, task])``, pause first."""
    from .._engine.laws import data_law

    rng = np.random.default_rng([int(seed), int(worker), int(task)])
    pause = float(rng.exponential(mean_s)) if mean_s > 0 else 0.0
    return pause, data_law(data).sample(lam, batch, rng)


def _gradient(h: np.ndarray, y: np.ndarray) -> np.ndarray:
    s = y @ h
    return (s[:, None] * y).mean(axis=0) - np.mean(s * s) * h


def worker_gradient(
    h: np.ndarray,
    version: int,
    worker: int,
    task: int,
    seed: int,
    lam: np.ndarray,
    data: str,
    batch: int,
    mean_s: float,
) -> tuple:
    """One worker task: sleep a random compute time, then the stochastic gradient at ``h``.

    Parameters
    ----------
    h : ndarray, shape (d,)
        The (possibly stale) iterate read from the server, eigenbasis.
    version, worker, task : int
        Server version of ``h``; worker id; this worker's task number.
    seed : int
        Run seed; the task's stream is ``default_rng([seed, worker, task])``.
    lam : ndarray, shape (d,)
        Eigenvalues; ``data`` names the law of Y (see :mod:`diffapprox._engine.laws`).
    batch : int
        Minibatch size B (outer products averaged).
    mean_s : float
        Mean of the exponential compute time, seconds.

    Returns
    -------
    (g, version, worker, task) : (ndarray (d,), int, int, int)
        ``g = mean_b (s_b Y_b - s_b^2 h)``, ``s_b = Y_b . h`` (eq. 2.1 with w = h).
    """
    pause, y = _draw(seed, worker, task, lam, data, batch, mean_s)
    if pause > 0:
        time.sleep(pause)
    return _gradient(h, y), version, worker, task


class _Server:
    """The parameter server, a Dask actor: h_k, h_{k-1}, the version k, and the records.

    ``push`` is a coroutine, so it runs on the actor's worker event loop, one call at a
    time and without a thread hop: each push applies eq. (2.1) atomically and hands the
    pushing worker its next read.  ``join`` is a barrier: the clock and the version
    counter start when all M workers hold their first read (h_0, version 0).
    """

    def __init__(self, h0, mu, eta, workers, steps, record_every, bound):
        self.h = np.array(h0, dtype=float)
        self.h_prev = self.h.copy()
        self.mu, self.eta, self.m, self.steps, self.rec, self.bound = mu, eta, workers, steps, record_every, bound
        n_rec = steps // record_every + 1
        self.err = np.full(n_rec, np.nan)
        self.nrm = np.full(n_rec, np.nan)
        self.trace = np.zeros(steps, dtype=np.int64)
        self.writer = np.zeros(steps, dtype=np.int64)
        self.wall = np.zeros(steps)
        self.k = 0
        self.joined = 0
        self.diverged = False
        self.halted = False
        self.t0 = math.nan
        self._go = None
        self._record(0)

    def _record(self, i: int) -> None:
        n2 = float(self.h @ self.h)
        self.nrm[i] = n2
        self.err[i] = 1.0 - self.h[0] * self.h[0] / n2

    async def join(self):
        import asyncio

        if self._go is None:
            self._go = asyncio.Event()
        self.joined += 1
        if self.joined == self.m:
            self.t0 = time.perf_counter()
            self._go.set()
        await self._go.wait()
        return self.h, 0

    async def push(self, g, version: int, worker: int):
        """Apply worker ``worker``'s gradient computed at version ``version``; its next read, or None."""
        if self.halted or self.diverged or self.k >= self.steps:
            return None
        k = self.k
        self.trace[k] = k - version
        self.writer[k] = worker
        self.wall[k] = time.perf_counter() - self.t0
        # eq. (2.1): heavy ball on the server, gradient at the worker's stale read.
        self.h, self.h_prev = self.h + self.mu * (self.h - self.h_prev) + self.eta * g, self.h
        self.k = k = k + 1
        n2 = float(self.h @ self.h)
        if not (math.sqrt(n2) <= self.bound):  # also catches NaN; same rule as simulate()
            self.diverged = True
            return None
        if k % self.rec == 0:
            self._record(k // self.rec)
        if k >= self.steps:
            return None
        return self.h, k

    async def halt(self) -> None:
        self.halted = True

    async def state(self) -> dict:
        k = self.k
        return {
            "k": k,
            "diverged": self.diverged,
            "err": self.err,
            "nrm": self.nrm,
            "trace": self.trace[:k].copy(),
            "writer": self.writer[:k].copy(),
            "wall": self.wall[:k].copy(),
            "elapsed": float(self.wall[k - 1]) if k else 0.0,
        }


def _worker_loop(
    server, worker: int, seed: int, lam: np.ndarray, data: str, batch: int, mean_s: float
) -> tuple[int, float]:
    """One worker, a long-running Dask task: read, compute, push, ... until the server says stop.

    Returns (tasks, overhead_s): the number of gradients pushed and the summed per-task time
    *not* spent in the compute pause (the push round trip, the gradient arithmetic, sleep
    overshoot and thread scheduling): the measured latency of this worker's cycle.
    """
    h, version = server.join().result()
    task, overhead = 0, 0.0
    t_read = time.perf_counter()
    while True:
        pause, y = _draw(seed, worker, task, lam, data, batch, mean_s)
        if pause > 0:
            time.sleep(pause)
        g = _gradient(h, y)
        task += 1
        nxt = server.push(g, version, worker).result()
        now = time.perf_counter()
        overhead += (now - t_read) - pause
        t_read = now
        if nxt is None:
            return task, overhead
        h, version = nxt


# ----------------------------------------------------------------------------- clusters
_CLUSTER: dict[str, object] = {}
_CLUSTER_LOCK = threading.Lock()
#: Live runs measure timing: one at a time per process, whatever executor called them.
_RUN_LOCK = threading.Lock()
#: Task slots of the cached local cluster (enough for M in {1, 2, 4, 8}).
DEFAULT_SLOTS = 8


def _close_cluster() -> None:
    client, cluster = _CLUSTER.pop("client", None), _CLUSTER.pop("cluster", None)
    _CLUSTER.clear()
    if client is not None:
        with quiet_logs():
            client.close()
            cluster.close()


atexit.register(_close_cluster)


def live_cluster(slots: int = DEFAULT_SLOTS):
    """A cached local Dask client with at least ``slots`` concurrent task slots.

    One in-process worker with ``slots`` threads (``LocalCluster(processes=False)``, no
    network, dashboard off).  The live workers only sleep and do O(d) arithmetic, so
    threads cost nothing in parallelism; in exchange the cluster starts in ~0.1 s and a
    push round trip costs well under a millisecond (worker processes on loopback TCP:
    ~2 s to start, ~2 ms a round trip).  Cached per process (re-created larger when more
    slots are asked for) and closed at exit.

    Returns
    -------
    (client, description)
    """
    distributed = require_distributed()
    slots = max(DEFAULT_SLOTS, check_int("workers", slots, 1, MAX_WORKERS))
    with _CLUSTER_LOCK:
        if _CLUSTER.get("slots", 0) < slots:
            _close_cluster()
            cluster = distributed.LocalCluster(**local_cluster_kwargs(1, slots, processes=False))
            client = distributed.Client(cluster, set_as_default=False)
            desc = f"LocalCluster threads 1x{slots}"
            _CLUSTER.update(client=client, cluster=cluster, slots=slots, desc=desc)
        return _CLUSTER["client"], _CLUSTER["desc"]


def staleness_pmf(workers: int, rates=None, kmax: int | None = None) -> np.ndarray:
    """Stationary pmf of the ``workers:M`` law: ``P(tau = j) = sum_m w_m^2 (1 - w_m)^j``.

    ``w_m = r_m / sum(r)`` is the chance worker m writes a given update (exponential
    compute times); given the writer is m, its staleness is the number of other
    updates since its last write, geometric with parameter ``w_m``.  Equal rates give
    a geometric law with mean M - 1.  Returned for j = 0..kmax (default: mass beyond
    < 1e-12), shape (kmax + 1,).
    """
    m = check_int("workers", workers, 1)
    r = np.ones(m) if rates is None else np.asarray(rates, dtype=float)
    w = r / r.sum()
    if m == 1:
        return np.array([1.0])
    if kmax is None:
        kmax = int(math.ceil(math.log(1e-12) / math.log(1.0 - w.min())))
    j = np.arange(kmax + 1)
    return (w[:, None] ** 2 * (1.0 - w[:, None]) ** j[None, :]).sum(axis=0)


# ----------------------------------------------------------------------------- the server
def _start_vector(start, d: int) -> np.ndarray:
    if isinstance(start, str):
        t = start.strip().lower()
        if t.startswith("e") and t[1:].isdigit() and 1 <= int(t[1:]) <= d:
            h = np.zeros(d)
            h[int(t[1:]) - 1] = 1.0
            return h
        raise DiffapproxError("start", f"e1..e{d} or a vector of length {d}", start)
    h = np.asarray(start, dtype=float)
    if h.shape != (d,) or not np.all(np.isfinite(h)) or not np.any(h):
        raise DiffapproxError("start", f"a finite non-zero vector of length {d}", start)
    return h


def live(
    problem: StreamingPCA,
    *,
    mu: float,
    eta: float,
    workers: int,
    steps: int,
    compute_mean_s: float = 0.005,
    slow_factor: float = 1.0,
    batch: int = 1,
    record_every: int = 10,
    start="e2",
    seed: int = 0,
    bound: float = 1e6,
    client=None,
    timeout: float = 60.0,
) -> LiveRun:
    """Run Async-MSGD (eq. 2.1) on a live parameter server with ``workers`` Dask workers.

    Parameters
    ----------
    problem : StreamingPCA
        Spectrum and data law (simulated in the eigenbasis).
    mu : float in [0, 1)
    eta : float > 0
    workers : int
        M concurrent workers (1..64).
    steps : int
        K server updates.
    compute_mean_s : float
        Mean exponential compute time of a worker task, seconds (0: no pause).
    slow_factor : float >= 1
        Worker 0's compute times are this many times longer.
    batch : int
        Minibatch size per gradient.
    record_every : int
        Record the error every R updates (R must divide K).
    start : "e1".."ed" or vector
        h_0 (history h_{-i} = h_0); the paper starts at the saddle e2.
    seed : int
        Seeds data and compute-time draws (not the interleaving).
    bound : float
        Stop, flagged diverged, when ``||h|| > bound`` (as :func:`~diffapprox.simulate`).
    client : distributed.Client, optional
        Run on this cluster (it needs ``workers`` free task slots); default: a cached
        local cluster (:func:`live_cluster`).
    timeout : float
        Slack, seconds, added to the run's deadline (10x its expected compute time).

    Returns
    -------
    LiveRun
    """
    if not isinstance(problem, StreamingPCA):
        raise DiffapproxError("problem", "a StreamingPCA", type(problem).__name__)
    mu = check_range("mu", mu, 0.0, 1.0, hi_open=True)
    eta = check_range("eta", eta, 0.0, lo_open=True)
    m = check_int("workers", workers, 1, MAX_WORKERS)
    k_steps = check_int("steps", steps, 1)
    mean_s = check_range("compute_mean", compute_mean_s, 0.0, 60.0)
    slow = check_range("slow_worker", slow_factor, 1.0)
    batch = check_int("batch", batch, 1)
    rec = check_int("record_every", record_every, 1)
    if k_steps % rec:
        raise DiffapproxError("record_every", f"a divisor of steps={k_steps}", rec)
    seed = check_int("seed", seed, 0)
    bound = check_range("bound", bound, 0.0, lo_open=True)
    h0 = _start_vector(start, problem.d)

    if client is None:
        client, desc = live_cluster(m)
    else:
        desc = f"external {client.scheduler.address}"
        slots = sum(client.nthreads().values())
        if slots < m:
            raise DiffapproxError("workers", f"at most the cluster's {slots} task slots", m)
    lam = np.asarray(problem.eigenvalues, dtype=float)
    data = problem.law.name
    means = np.full(m, mean_s)
    means[0] *= slow

    with _RUN_LOCK, client.as_current():
        t0 = time.perf_counter()
        server_fut = client.submit(_Server, h0, mu, eta, m, k_steps, rec, bound, actor=True)
        server = server_fut.result(timeout=timeout)
        loops = [
            client.submit(_worker_loop, server, w, seed, lam, data, batch, float(means[w]), pure=False)
            for w in range(m)
        ]
        # A total deadline: generous (10x the compute time the run needs, plus `timeout`).
        budget = timeout + 10.0 * k_steps * float(means.mean()) / m
        try:
            done = _gather(client, loops, budget)
        except TimeoutError:
            server.halt().result()
            client.cancel(loops)
            raise DiffapproxError(
                "timeout",
                f"a live run finished within {budget:.3g} s (needs {m} free task slots)",
                f"{time.perf_counter() - t0:.3g} s",
            ) from None
        st = server.state().result()
        del server
        server_fut.release()
    k = int(st["k"])
    tasks = sum(t for t, _ in done)
    overhead = sum(o for _, o in done) / tasks if tasks else math.nan
    return LiveRun(
        mu=mu,
        eta=eta,
        workers=m,
        steps=k,
        compute_mean_s=mean_s,
        slow_factor=slow,
        seed=seed,
        record_every=rec,
        times=np.arange(k_steps // rec + 1, dtype=np.int64) * rec,
        error=st["err"],
        norm2=st["nrm"],
        trace=st["trace"],
        writer=st["writer"],
        wall_s=st["wall"],
        elapsed_s=st["elapsed"],
        diverged=bool(st["diverged"]),
        cluster=desc,
        overhead_s=overhead,
    )


def _gather(client, futures, timeout: float) -> list:
    from distributed import wait

    res = wait(futures, timeout=timeout)
    if res.not_done:
        raise TimeoutError
    return client.gather(futures)
