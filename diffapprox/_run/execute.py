"""Running cells: executors, checkpoints, progress.

Work is a list of independent :class:`~diffapprox.Cell` objects.  An *executor*
maps a picklable module-level function over them and yields ``(cell, result)``
pairs as they finish; :func:`execute` adds checkpointing (each finished cell is
written atomically to ``OUT/cells/<claim>/<sha1(key)>.pkl``), resuming (finished
cells are loaded, not recomputed) and progress.

Results never depend on the executor: each cell carries its own seed, and the
simulator's random streams depend only on (seed, path), not on thread count.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from .claims import Cell, get_claim

__all__ = [
    "Executor",
    "LocalExecutor",
    "CellStore",
    "Progress",
    "run_cell",
    "run_cell_safe",
    "execute",
]


def run_cell(cell: Cell) -> dict:
    """Run one cell: look its claim up by id and call ``claim.run_cell(cell)`` (picklable)."""
    return get_claim(cell.claim).run_cell(cell)


def run_cell_safe(cell: Cell) -> dict:
    """Run one cell and wrap the outcome: ``{"result", "elapsed_s", "error"}``.

    An exception inside the claim becomes ``error`` (``"TypeName: message"``) and
    ``result`` is ``None``, so one broken claim does not stop the others.
    ``KeyboardInterrupt`` is not caught.
    """
    t0 = time.perf_counter()
    try:
        res = run_cell(cell)
        err = None
    except Exception as exc:  # noqa: BLE001 - reported as the claim's ERROR verdict
        res = None
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
        err = f"{type(exc).__name__}: {exc}{where}"
    return {"result": res, "elapsed_s": time.perf_counter() - t0, "error": err}


@runtime_checkable
class Executor(Protocol):
    """Anything that maps ``fn`` over cells and yields ``(cell, fn(cell))`` as they finish."""

    def map(self, fn: Callable[[Cell], dict], cells: list[Cell]) -> Iterator[tuple[Cell, dict]]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Run cells in this process, one after another, in the given order.

    The simulator's numba kernels already spread paths over the cores with
    ``prange``, so running cells concurrently would only oversubscribe them;
    ``threads`` sets numba's thread count (when numba is installed) and changes
    speed only, never results.

    Parameters
    ----------
    threads : int, optional
        Threads for numba kernels; default: numba's default (all cores).
    """

    def __init__(self, threads: int | None = None):
        self.threads = threads
        if threads is not None:
            try:
                import numba
            except ImportError:  # pragma: no cover - numba is a dependency
                return
            numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))

    def map(self, fn: Callable[[Cell], dict], cells: list[Cell]) -> Iterator[tuple[Cell, dict]]:
        for c in cells:
            yield c, fn(c)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"LocalExecutor(threads={self.threads})"


class CellStore:
    """Checkpoints of finished cells under ``root/cells/<claim>/<sha1(key)>.pkl``.

    Each file stores the cell's key, seed and params beside its wrapped result; a
    stored cell is reused only if all three match (a different master seed or
    profile gives different cells, which are then recomputed).  Writes go to a
    temporary file in the same directory followed by :func:`os.replace`, so a file
    is either complete or absent.  Failed cells are not stored (resume retries them).
    """

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def path(self, cell: Cell) -> Path:
        return self.root / "cells" / cell.claim / (hashlib.sha1(cell.key.encode()).hexdigest() + ".pkl")

    def load(self, cell: Cell) -> dict | None:
        p = self.path(cell)
        try:
            with open(p, "rb") as f:
                d = pickle.load(f)
        except FileNotFoundError:
            return None
        except Exception:  # noqa: BLE001 - a corrupt checkpoint is recomputed
            return None
        if not isinstance(d, dict) or (d.get("key"), d.get("seed"), d.get("params")) != (
            cell.key,
            cell.seed,
            repr(cell.params),
        ):
            return None
        return d.get("outcome")

    def save(self, cell: Cell, outcome: dict) -> None:
        p = self.path(cell)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pkl", dir=p.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(
                    {"key": cell.key, "seed": cell.seed, "params": repr(cell.params), "outcome": outcome},
                    f,
                    protocol=pickle.HIGHEST_PROTOCOL,
                )
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def count(self) -> int:
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
    """Progress over cells, weighted by their cost for the ETA.

    A tqdm bar on a terminal; plain lines (``[k/n] claim key  2.1s  ETA 40s``) when
    the stream is not a terminal or ``CI=true``; nothing when ``enabled=False``.
    """

    def __init__(self, cells: list[Cell], *, stream=None, enabled: bool = True, plain: bool | None = None):
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.n = len(cells)
        self.k = 0
        # Costs are comparable only within a claim (each claim picks its own unit), so the ETA
        # keeps, per claim, the cost left and the seconds per unit of cost measured so far.
        self.left: dict[str, list[float]] = {}  # claim -> [cost left, cells left]
        for c in cells:
            acc = self.left.setdefault(c.claim, [0.0, 0])
            acc[0] += c.cost
            acc[1] += 1
        self.spent: dict[str, list[float]] = {}  # claim -> [cost run, cells run, seconds]
        self.t0 = time.perf_counter()
        self.plain = (not _interactive(self.stream)) if plain is None else plain
        self._bar = None
        if enabled and not self.plain and self.n:
            from tqdm import tqdm

            self._bar = tqdm(total=self.n, file=self.stream, unit="cell", dynamic_ncols=True)

    def loaded(self, cell: Cell) -> None:
        """A cell restored from its checkpoint (counts as done, not toward the rate)."""
        self.k += 1
        self._consume(cell)
        if self._bar is not None:
            self._bar.update(1)

    def _consume(self, cell: Cell) -> None:
        acc = self.left[cell.claim]
        acc[0] -= cell.cost
        acc[1] -= 1

    def eta_s(self) -> float:
        """Seconds left: per claim, cost left x its measured seconds per cost; claims not yet
        started use the mean seconds per cell over everything run so far (nan before any)."""
        cells = sum(v[1] for v in self.spent.values())
        secs = sum(v[2] for v in self.spent.values())
        if cells == 0:
            return float("nan")
        per_cell = secs / cells
        total = 0.0
        for claim, (cost_left, cells_left) in self.left.items():
            done = self.spent.get(claim)
            if done is not None and done[0] > 0:
                total += max(cost_left, 0.0) * done[2] / done[0]
            else:
                total += max(cells_left, 0) * per_cell
        return total

    def finished(self, cell: Cell, elapsed_s: float, error: str | None) -> None:
        self.k += 1
        self._consume(cell)
        acc = self.spent.setdefault(cell.claim, [0.0, 0, 0.0])  # cost run, cells run, seconds
        acc[0] += cell.cost
        acc[1] += 1
        acc[2] += float(elapsed_s)
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(f"{cell.claim} {cell.key}"[:40], refresh=False)
            self._bar.update(1)
            return
        eta = self.eta_s()
        tail = f"  ERROR {error}" if error else ""
        self.stream.write(
            f"[{self.k}/{self.n}] {cell.claim} {cell.key}  {_fmt_s(elapsed_s)}"
            f"  ETA {_fmt_s(eta) if eta == eta else '?'}{tail}\n"
        )
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
    for c in cells:
        got = store.load(c) if (store is not None and resume) else None
        if got is not None:
            out[(c.claim, c.key)] = got
            if progress is not None:
                progress.loaded(c)
        else:
            todo.append(c)
    if todo:
        for c, outcome in executor.map(fn, todo):
            out[(c.claim, c.key)] = outcome
            if store is not None and outcome.get("error") is None:
                store.save(c, outcome)
            if progress is not None:
                progress.finished(c, float(outcome.get("elapsed_s", 0.0)), outcome.get("error"))
    # return in the cells' order, whatever order the executor finished them in
    return {k: out[k] for k in keys}
