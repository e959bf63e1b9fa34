"""Local executor vs a 2-worker Dask LocalCluster: wall time and overhead per cell.

    python benchmarks/dask_overhead.py [--profile quick|standard|paper] [--max-cells N] [--workers 2]

1. Overhead: N empty cells (``fn`` returns at once) through each executor; the per-cell time
   is pure scheduling/serialisation cost.
2. The ``figure1`` claim's cells of the chosen profile (the first ``--max-cells``): wall time
   on the local executor (numba threads = workers) and on the Dask cluster (one thread per
   worker process), after a warm-up cell on each (numba compiles once per process), and a
   check that both gave bit-identical results.

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diffapprox import Cell, get_claim
from diffapprox._run.dask import DaskExecutor
from diffapprox._run.execute import LocalExecutor, run_cell


def null_cell(cell: Cell) -> dict:
    return {"seed": cell.seed}


def warm(cell: Cell) -> int:
    run_cell(cell)
    return os.getpid()


def timed(ex, fn, cells) -> tuple[float, dict]:
    t0 = time.perf_counter()
    out = {c.key: r for c, r in ex.map(fn, cells)}
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--max-cells", type=int, default=12)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--null-cells", type=int, default=200)
    a = ap.parse_args()

    nulls = [Cell(claim="null", key=f"{i}", params={}, seed=i) for i in range(a.null_cells)]
    cells = get_claim("figure1").cells(a.profile, 0)[: a.max_cells]
    print(
        f"{os.cpu_count()} CPUs; figure1 profile {a.profile}: {len(cells)} cells of "
        f"{cells[0].cost:.3g} path-steps each; {a.workers} workers"
    )

    local = LocalExecutor(threads=a.workers)
    t_null_local, _ = timed(local, null_cell, nulls)
    warm(cells[0])
    t_local, res_local = timed(local, run_cell, cells)

    t0 = time.perf_counter()
    dask = DaskExecutor(n_workers=a.workers, threads_per_worker=1)
    t_start = time.perf_counter() - t0
    try:
        timed(dask, null_cell, nulls[:10])  # warm the connection
        t_null_dask, _ = timed(dask, null_cell, nulls)
        # Warm-up: one cell per worker so each process compiles the kernel before timing.
        pids = set()
        for _ in range(4):
            futs = [dask.client.submit(warm, cells[0], pure=False) for _ in range(a.workers)]
            pids |= set(dask.client.gather(futs))
            if len(pids) >= a.workers:
                break
        t_dask, res_dask = timed(dask, run_cell, cells)
    finally:
        dask.close()

    same = all(pickle.dumps(res_local[k]) == pickle.dumps(res_dask[k]) for k in res_local)
    n = len(cells)
    print(
        f"overhead per empty cell: local {1e3 * t_null_local / len(nulls):.3f} ms, "
        f"Dask {1e3 * t_null_dask / len(nulls):.2f} ms  (cluster start {t_start:.1f} s)"
    )
    print(
        f"figure1 {n} cells: local {t_local:.2f} s ({t_local / n:.3f} s/cell), "
        f"Dask {t_dask:.2f} s ({t_dask / n:.3f} s/cell); Dask/local = {t_dask / t_local:.2f}"
    )
    print(f"bit-identical results: {same}")


if __name__ == "__main__":
    main()
