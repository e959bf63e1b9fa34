"""``diffapprox calibrate``: seconds per claim, one process against a pool, and the projected full run.

    python benchmarks/calibrate.py [--profile standard] [--reps 10] [--jobs 2] [--claims ID,...] [--target-reps 100]

Runs the controls of every calibrated claim (or ``--claims``) at ``--reps`` replicates, first in this
process, then on ``--jobs`` worker processes; prints the wall time of each, every claim's worker
seconds, the speed-up, whether both runs gave identical rates (they must: replicate r of a control
depends only on its seed), and the wall time projected for ``--target-reps`` replicates on
``--jobs`` processes (worker seconds x target/reps / jobs, plus the pool's start-up).

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diffapprox._run.calibrate import calibrate, controls_of
from diffapprox._run.runner import resolve_claims


def _rates(doc: dict) -> list[dict]:
    return [{k: v for k, v in c.items() if k != "elapsed_s"} for c in doc["claims"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="standard", choices=("quick", "standard", "paper"))
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--claims", default=None)
    ap.add_argument("--target-reps", type=int, default=100)
    args = ap.parse_args()
    claims = resolve_claims(args.claims.split(",") if args.claims else None)
    claims = [c for c in claims if controls_of(c) is None]
    if not claims:
        print("no claim with synthetic controls")
        return
    print(f"{len(claims)} calibrated claim(s), profile {args.profile}, {args.reps} replicates; {os.cpu_count()} CPUs")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    runs = {}
    for jobs in (1, args.jobs):
        t0 = time.perf_counter()
        runs[jobs] = calibrate(claims, profile=args.profile, reps=args.reps, seed=1, jobs=jobs, progress=False)
        runs[jobs]["wall"] = time.perf_counter() - t0
        print(f"jobs={jobs}: {runs[jobs]['wall']:.1f} s wall")
    one, many = runs[1], runs[args.jobs]
    print(f"\n{'claim':24s} {'worker s (1 proc)':>18s} {'worker s (pool)':>16s}")
    for a, b in zip(one["claims"], many["claims"]):
        print(f"{a['id']:24s} {a['elapsed_s']:18.1f} {b['elapsed_s']:16.1f}")
    work = sum(c["elapsed_s"] for c in one["claims"])
    print(
        f"\nspeed-up {one['wall'] / many['wall']:.2f}x on {args.jobs} processes; identical rates: {_rates(one) == _rates(many)}"
    )
    start = max(0.0, many["wall"] - sum(c["elapsed_s"] for c in many["claims"]) / args.jobs)
    proj = work * args.target_reps / args.reps / args.jobs + start
    print(f"projected: {args.target_reps} replicates on {args.jobs} processes ~ {proj / 60:.1f} min")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
