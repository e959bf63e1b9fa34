"""Throughput of the Async-MSGD kernel, alone or as a ratio to a reference C implementation.

Runs, in the same process run, a reference C implementation of the same kernel (``--reference
SCRIPT`` or the environment variable ``DIFFAPPROX_REFERENCE``: a script called as ``SCRIPT d P K -r
REPS`` whose last output line is its median path-steps/s) and ``diffapprox.simulate`` on the cases

    (d=4, P=1000), (d=100, P=100), (d=1000, P=10),  K=20000,
    tau=50, mu=0.9, eta=5e-4, lambda_j = 1/j, Gaussian data, start e2, R=100,

single-threaded and on two threads (the reference with ``OMP=1 OMP_NUM_THREADS=2``),
and prints path-steps/s of each and the ratio project / reference, of the medians and
of the bests (the best is the figure least disturbed by other work on the machine).
The project's kernel gets a warm-up call (compile or cache load) before timing; each
side does ``--reps`` timed runs.  Like the reference, the
project records the error every R steps and not h (``record_h=False``).

It asserts nothing about time: other work on the machine moves these numbers, so
read the ratios, which are measured side by side.

Usage::

    python benchmarks/throughput.py [--reps N] [--cases 4,100,1000] [--threads 1,2] [--steps K] [--reference SCRIPT]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CASES = {4: 1000, 100: 100, 1000: 10}
MU, ETA, TAU, R = 0.9, 5e-4, 50, 100


def reference(script: Path | None, d: int, P: int, K: int, threads: int, reps: int) -> tuple[float, float] | None:
    """(median, best) path-steps/s of the reference implementation, or None if there is none or it fails."""
    if script is None or not script.exists():
        return None
    env = dict(os.environ)
    if threads > 1:
        env["OMP"] = "1"
        env["OMP_NUM_THREADS"] = str(threads)
    else:
        env.pop("OMP", None)
    try:
        out = subprocess.run(
            ["bash", str(script), str(d), str(P), str(K), "-r", str(reps)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=900,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"  reference failed: {exc}", file=sys.stderr)
        return None
    lines = out.stdout.strip().splitlines()
    med = float(lines[-1])
    best = med
    m = re.search(r"\(min ([0-9.eE+-]+) ", out.stdout)  # "median T s (min T max T) ..."
    if m and float(m.group(1)) > 0:
        best = P * K / float(m.group(1))
    return med, best


def project(d: int, P: int, K: int, threads: int, reps: int) -> tuple[float, float, float]:
    """(median, best) path-steps/s of diffapprox.simulate, and the first call's compile_s."""
    import diffapprox as dx

    prob = dx.engine.StreamingPCA(spectrum=[1.0 / j for j in range(1, d + 1)])
    kw = dict(mu=MU, eta=ETA, delay=f"const:{TAU}", record_every=R, start="e2", threads=threads, record_h=False)
    warm = dx.simulate(prob, steps=2 * R, paths=2, seed=1, **kw)  # warm-up: compile or cache load
    rates = []
    for rep in range(reps):
        t = dx.simulate(prob, steps=K, paths=P, seed=1 + rep, **kw)
        rates.append(t.timing["path_steps_per_s"])
    return statistics.median(rates), max(rates), warm.timing["compile_s"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--cases", default="4,100,1000", help="dimensions d (P is fixed per case)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument(
        "--reference",
        type=Path,
        default=os.environ.get("DIFFAPPROX_REFERENCE") or None,
        help="script of a reference C implementation (default: $DIFFAPPROX_REFERENCE)",
    )
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    import diffapprox  # noqa: F401 - imported here so that import time is not part of any figure

    print(
        f"# diffapprox throughput; K={args.steps} tau={TAU} mu={MU} eta={ETA} R={R}, "
        f"lambda_j=1/j, gaussian, start e2; median of {args.reps} runs"
    )
    ref = Path(args.reference) if args.reference else None
    if ref is not None and ref.exists():
        print(f"# reference: {ref}")
    else:
        print(f"# no reference implementation{f' at {ref}' if ref else ''}: printing the project's figures only")
    print(
        f"{'d':>5} {'P':>5} {'thr':>3} {'project/s':>11} {'reference/s':>12} {'ratio':>6}"
        f" {'best/s':>11} {'ref best/s':>11} {'ratio':>6} {'ns/step':>8} {'compile_s':>9}"
    )
    for d in [int(x) for x in args.cases.split(",")]:
        P = CASES.get(d, max(1, 4000 // d))
        for thr in [int(x) for x in args.threads.split(",")]:
            med, best, comp = project(d, P, args.steps, thr, args.reps)
            ys = reference(ref, d, P, args.steps, thr, args.reps)
            if ys:
                cols = f"{ys[0]:12.4e} {med / ys[0]:6.2f} {best:11.4e} {ys[1]:11.4e} {best / ys[1]:6.2f}"
            else:
                cols = f"{'n/a':>12} {'n/a':>6} {best:11.4e} {'n/a':>11} {'n/a':>6}"
            print(f"{d:5d} {P:5d} {thr:3d} {med:11.4e} {cols} {1e9 / med:8.2f} {comp:9.2f}", flush=True)
    print(f"# total {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
