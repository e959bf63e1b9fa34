"""``diffapprox live``: Async-MSGD on a real parameter server with Dask workers.

Prints a JSON summary (schema ``diffapprox.live/1``): the run's parameters, throughput,
the measured staleness (pmf, mean, sd, the whole trace) beside the ``workers:M`` law its
compute-time model predicts, the error records, and, with ``--replay-paths P``, the
simulator replaying the measured trace over P paths (pointwise 2.5/50/97.5% band).
"""

from __future__ import annotations

import argparse

from .._core.errors import DiffapproxError
from ._common import add_problem_arguments, emit_json, problem_from_args

SCHEMA = "diffapprox.live/1"


def add_parser(sub) -> None:
    p = sub.add_parser(
        "live",
        help="Async-MSGD on a live Dask parameter server with M workers; measured staleness as JSON",
        description="Run Async-MSGD (paper eq. 2.1) on a parameter server whose M workers are Dask tasks "
        "with random compute times; record the staleness each update really had and print a JSON summary "
        f"(schema {SCHEMA}).  Runs are not reproducible; the trace they print is.",
    )
    add_problem_arguments(p)
    p.add_argument("--mu", type=float, required=True, help="momentum in [0, 1)")
    p.add_argument("--eta", type=float, required=True, help="step size > 0")
    p.add_argument("--workers", type=int, required=True, metavar="M", help="concurrent workers (1..64)")
    p.add_argument("--steps", type=int, required=True, metavar="K", help="server updates")
    p.add_argument(
        "--compute-ms",
        type=float,
        default=5.0,
        help="mean exponential compute time of a worker task, milliseconds (default 5)",
    )
    p.add_argument(
        "--slow-worker",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="worker 0 computes FACTOR times slower (default 1: all equal)",
    )
    p.add_argument("--batch", type=int, default=1, help="minibatch size per gradient")
    p.add_argument("--record-every", type=int, default=10, help="record the error every R updates")
    p.add_argument("--start", default="e2", help="e1..ed (default e2, the paper's saddle)")
    p.add_argument("--seed", type=int, default=0, help="seeds data and compute times (not the interleaving)")
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on this Dask scheduler (needs M free task slots); default a local cluster",
    )
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for --scheduler")
    p.add_argument(
        "--replay-paths",
        type=int,
        default=0,
        metavar="P",
        help="also simulate P paths replaying the measured staleness trace",
    )
    p.add_argument("--json", default="-", metavar="FILE", help="where to write the JSON (- = stdout)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from .._experiments.live import live

    problem = problem_from_args(args)
    if args.replay_paths < 0:
        raise DiffapproxError("replay-paths", "an integer >= 0", args.replay_paths)
    if not args.compute_ms >= 0:
        raise DiffapproxError("compute-ms", "a number >= 0", args.compute_ms)
    client = executor = None
    if args.scheduler is not None:
        from .._run.dask import DaskExecutor

        executor = DaskExecutor(address=args.scheduler, timeout=args.timeout)
        client = executor.client
    try:
        r = live(
            problem,
            mu=args.mu,
            eta=args.eta,
            workers=args.workers,
            steps=args.steps,
            compute_mean_s=args.compute_ms / 1e3,
            slow_factor=args.slow_worker,
            batch=args.batch,
            record_every=args.record_every,
            start=args.start,
            seed=args.seed,
            client=client,
        )
    finally:
        if executor is not None:
            executor.close()
    out = {
        "schema": SCHEMA,
        "problem": problem.describe(),
        **r.summary(),
        "records": {"steps_at": r.times, "error": r.error, "norm2": r.norm2},
        "trace": r.trace,
        "writer": r.writer,
    }
    if args.workers > 1:
        from .._experiments.live import staleness_pmf

        pmf = staleness_pmf(r.workers, r.rates)
        n = max(pmf.size, int(r.trace.max()) + 1 if r.trace.size else 1)
        emp = np.bincount(r.trace[r.workers :], minlength=n) / max(1, r.trace[r.workers :].size)
        pp = np.zeros(n)
        pp[: pmf.size] = pmf[:n]
        out["staleness"]["tv_to_predicted_law"] = 0.5 * float(np.abs(emp - pp).sum())
    if args.replay_paths and r.trace.size:
        from .._engine.laws import trace_delay
        from .._engine.simulate import simulate

        sim = simulate(
            problem,
            mu=r.mu,
            eta=r.eta,
            steps=args.steps,
            paths=args.replay_paths,
            delay=trace_delay(r.trace),
            batch=args.batch,
            record_every=args.record_every,
            start=args.start,
            seed=args.seed,
            record_h=False,
        )
        e = np.asarray(sim.error, dtype=float)
        out["replay"] = {
            "paths": args.replay_paths,
            "seed": args.seed,
            "diverged": int(sim.diverged.sum()),
            "q025": np.quantile(e, 0.025, axis=0),
            "q50": np.quantile(e, 0.5, axis=0),
            "q975": np.quantile(e, 0.975, axis=0),
        }
    emit_json(out, args.json, indent=1)
    return 0
