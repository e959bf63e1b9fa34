"""Run claim cells on a Dask cluster: the same cells, seeds and results as the local executor.

:class:`DaskExecutor` implements the executor protocol of ``diffapprox._run.execute``::

    map(fn, cells) -> iterator of (cell, result) as cells finish
    close()

It either connects to a running scheduler (``address="tcp://host:8786"``) or starts a
``distributed.LocalCluster`` of worker *processes* on the loopback interface with the
dashboard off.  Nothing here is home-made cluster code: submission, placement, and the
rescheduling of tasks whose worker died are Dask's.

Packing on Dask: a cell declares what it keeps busy (``Cell.uses``).  Where the workers declare
how many cores they offer as the resource ``cores`` (``dask worker ADDRESS --nthreads 2
--resources "cores=2"``), a ``cores`` cell asks for as many as the smallest such worker offers
(so it has a worker to itself), a ``core`` cell for one, a ``waiting`` cell for none: Dask then
runs single-threaded cells side by side and a multi-threaded one alone.  Where no connected
worker declares it, cells are submitted plainly (an annotation no worker can satisfy would wait
forever).  Every annotation asks for at most what each declaring worker offers, so each
annotated cell fits on any of them.

Why results are bit-identical whatever runs them: ``fn`` is a pure, module-level
function of the cell and every cell carries its own seed (:func:`diffapprox._run.claims.cell_seed`),
so a cell computed twice (e.g. after its worker was killed and Dask re-ran it elsewhere)
gives the same bytes.  Workers must be able to import ``diffapprox`` (install the
package on every machine of a remote cluster, with the same version).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

from .._core.errors import DiffapproxError, check_int, check_range

__all__ = ["DaskExecutor", "require_distributed", "DEFAULT_TIMEOUT", "CORES_RESOURCE", "cell_resources"]

#: Seconds to wait for a scheduler to answer (and for a local cluster to start).
DEFAULT_TIMEOUT = 30.0

#: The worker resource packing annotations use: how many cores a worker offers.
CORES_RESOURCE = "cores"


def cell_resources(uses: str, offered: list[float]) -> dict | None:
    """Dask resources a cell asks for, given the ``cores`` each connected worker declares.

    Parameters
    ----------
    uses : {"cores", "core", "waiting"}
        What the cell keeps busy.
    offered : list of float
        The ``cores`` resource of every connected worker that declares one (others left out).

    Returns
    -------
    dict or None
        ``None`` (plain submission) when no worker declares ``cores`` or the cell only waits;
        else ``{"cores": min(offered)}`` for a ``cores`` cell, ``{"cores": min(1, min(offered))}``
        for a ``core`` cell: never more than any declaring worker offers.
    """
    offered = [float(x) for x in offered if x and float(x) > 0]
    if not offered or uses == "waiting":
        return None
    least = min(offered)
    return {CORES_RESOURCE: least if uses == "cores" else min(1.0, least)}


def require_distributed():
    """Import ``distributed``, or raise a one-line :class:`DiffapproxError` naming the extra."""
    try:
        import distributed
    except ImportError:
        raise DiffapproxError(
            "scheduler",
            "dask.distributed installed (pip install 'diffapprox[distributed]')",
            "no module named distributed",
        ) from None
    return distributed


class DaskExecutor:
    """Executor that sends claim cells to a Dask cluster.

    Parameters
    ----------
    address : str or None
        Scheduler address such as ``tcp://10.0.0.5:8786``.  ``None`` starts a local
        cluster owned (and closed) by this executor.
    n_workers : int or None
        Worker processes of the local cluster (ignored with ``address``); ``None``
        means the number of CPUs, capped at 4.
    threads_per_worker : int
        Threads per local worker process.  1 keeps one cell per process, so numba's
        own threads inside a cell do not compete.
    timeout : float
        Seconds to wait for the scheduler (or the local cluster) to answer before
        raising :class:`DiffapproxError`.

    Raises
    ------
    DiffapproxError
        ``distributed`` not installed; bad ``n_workers``/``timeout``; the scheduler
        at ``address`` did not answer within ``timeout`` seconds.

    Examples
    --------
    >>> with DaskExecutor(n_workers=2) as ex:                    # doctest: +SKIP
    ...     for cell, summary in ex.map(run_cell, cells):
    ...         save(cell, summary)
    """

    def __init__(
        self,
        address: str | None = None,
        n_workers: int | None = None,
        threads_per_worker: int = 1,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        distributed = require_distributed()
        timeout = check_range("timeout", timeout, 0.0, lo_open=True)
        threads_per_worker = check_int("threads_per_worker", threads_per_worker, 1)
        self._cluster = None
        self.address: str
        if address is not None:
            if not isinstance(address, str) or not address.strip():
                raise DiffapproxError("scheduler", "an address such as tcp://10.0.0.5:8786", address)
            address = address.strip()
            try:
                self.client = distributed.Client(address, timeout=timeout, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:  # refused / unreachable / bad URL
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise DiffapproxError(
                    "scheduler", f"a Dask scheduler answering within {timeout:g} s", f"{address} ({reason})"
                ) from None
            self.address = address
        else:
            if n_workers is None:
                import os

                n_workers = max(1, min(4, os.cpu_count() or 1))
            n_workers = check_int("workers", n_workers, 1)
            # Loopback only, no dashboard, logs at CRITICAL: a killed worker is expected, not news.
            self._cluster = distributed.LocalCluster(
                **local_cluster_kwargs(n_workers, threads_per_worker, processes=True)
            )
            self.client = distributed.Client(self._cluster, timeout=timeout, set_as_default=False)
            self.address = self._cluster.scheduler_address
        self.timeout = timeout

    # ------------------------------------------------------------------ protocol
    def map(self, fn: Callable[[Any], dict], cells: list) -> Iterator[tuple[Any, dict]]:
        """Submit every cell and yield ``(cell, fn(cell))`` in the order cells finish.

        A cell whose worker dies is rerun by Dask on another worker (up to the
        scheduler's ``allowed-failures``, default 3); an exception raised by ``fn``
        itself is not retried (cells are deterministic: it would fail again) and
        propagates from the iterator.  Closing the iterator early cancels the
        cells not yet yielded.
        """
        from distributed import as_completed

        cells = list(cells)
        if not cells:
            return
        offered = self.offered_cores()
        futures = {}
        for cell in cells:
            res = cell_resources(getattr(cell, "uses", "cores"), offered)
            kw = {} if res is None else {"resources": res}
            fut = self.client.submit(fn, cell, pure=False, key=_task_key(cell), **kw)
            futures[fut.key] = (fut, cell)
        pending = set(futures)
        try:
            for fut in as_completed([f for f, _ in futures.values()], loop=self.client.loop):
                _, cell = futures[fut.key]
                result = fut.result()
                pending.discard(fut.key)
                fut.release()
                yield cell, result
        finally:
            left = [futures[k][0] for k in pending]
            if left:
                self.client.cancel(left)

    def close(self) -> None:
        """Close the client and, when this executor started it, the local cluster."""
        with quiet_logs():
            try:
                self.client.close()
            finally:
                if self._cluster is not None:
                    self._cluster.close()
                    self._cluster = None

    # ------------------------------------------------------------------ conveniences
    def offered_cores(self) -> list[float]:
        """The ``cores`` resource of each connected worker that declares one (empty: plain submission)."""
        workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
        return [float(w["resources"][CORES_RESOURCE]) for w in workers if CORES_RESOURCE in (w.get("resources") or {})]

    def predict_wall(self, tasks: list[tuple[str, float]]) -> float:
        """Rough wall seconds of ``tasks`` (``(uses, core_seconds)``): their sum shared by the workers."""
        return sum(s for _, s in tasks) / max(1, self.n_workers)

    @property
    def n_workers(self) -> int:
        """Workers currently connected to the scheduler."""
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def __enter__(self) -> "DaskExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = "local" if self._cluster is not None else "remote"
        return f"DaskExecutor({kind}, address={self.address!r})"


def _task_key(cell: Any) -> str:
    """A readable, unique Dask key: ``claim/key-<nonce>`` (the nonce makes reruns distinct tasks)."""
    claim = getattr(cell, "claim", "cell")
    key = getattr(cell, "key", "")
    return f"{claim}/{key}-{time.monotonic_ns():x}"


def wait_for_workers(client, n: int, timeout: float) -> None:
    """Block until ``n`` workers are connected (used by tests and ``live``)."""
    deadline = time.monotonic() + timeout
    while len(client.scheduler_info(n_workers=-1)["workers"]) < n:
        if time.monotonic() > deadline:
            raise DiffapproxError(
                "workers", f"{n} Dask workers within {timeout:g} s", len(client.scheduler_info(n_workers=-1)["workers"])
            )
        time.sleep(0.05)


class quiet_logs:
    """Silence ``distributed``'s INFO chatter while a cluster shuts down (it is expected)."""

    def __enter__(self):
        import logging

        self._lg = logging.getLogger("distributed")
        self._lvl = self._lg.level
        self._lg.setLevel(logging.CRITICAL)

    def __exit__(self, *exc):
        self._lg.setLevel(self._lvl)


def local_cluster_kwargs(n_workers: int, threads: int, processes: bool = True) -> dict:
    """Keyword arguments of a loopback-only ``LocalCluster`` with no dashboard.

    The scheduler always serves a small HTTP app (health, metrics); without an
    explicit address it tries port 8787 and warns when that is taken, so it gets a
    free loopback port instead.
    """
    import logging

    kw = dict(
        n_workers=n_workers,
        threads_per_worker=threads,
        processes=processes,
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    )
    if processes:  # TCP on loopback; without processes Dask talks in-process (no network at all)
        kw["host"] = "127.0.0.1"
    return kw
