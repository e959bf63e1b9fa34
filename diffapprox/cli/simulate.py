"""``diffapprox simulate``: one simulation of Async-MSGD, summary as JSON."""

from __future__ import annotations

import argparse
import json

from .._core.errors import DiffapproxError
from ._common import emit_json, parse_floats


def add_parser(sub) -> None:
    p = sub.add_parser(
        "simulate",
        help="one simulation of Async-MSGD (paper eq. 2.1), summary as JSON",
        description="Simulate independent paths of Async-MSGD for streaming PCA (paper eq. 2.1) in the "
        "eigenbasis and print a JSON summary (schema diffapprox.simulate/1).",
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--spectrum", default=None, help="eigenvalues, comma-separated (default 4,3,2,1)")
    g.add_argument(
        "--sigma", default=None, help="full covariance: rows separated by ';' and entries by ',', or a .npy/.txt file"
    )
    p.add_argument("--data", default="gaussian", help="gaussian, rademacher, sphere or cube")
    p.add_argument("--mu", type=float, required=True, help="momentum in [0, 1)")
    p.add_argument("--eta", type=float, required=True, help="step size > 0")
    p.add_argument("--delay", default="const:0", help="const:T, uniform:A,B, geometric:M, workers:M[@r1,...]")
    p.add_argument("--batch", type=int, default=1, help="minibatch size B >= 1")
    p.add_argument("--paths", type=int, required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--record-every", type=int, default=100, help="record every R steps (R divides steps)")
    p.add_argument("--start", default="e2", help="e1..ed, random, or a comma-separated vector")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--path-offset", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--bound", type=float, default=1e6, help="divergence bound on ||h||")
    p.add_argument(
        "--passage",
        action="append",
        default=[],
        metavar="C,L,S",
        help="first step with h_C^2/||h||^2 >= L (S=1) or <= L (S=-1); C 0-based; repeatable",
    )
    p.add_argument("--json", default="-", metavar="FILE", help="where to write the JSON summary (- = stdout)")
    p.add_argument("--npz", default=None, metavar="FILE", help="also save the full records")
    p.set_defaults(func=run)


def _sigma(text: str):
    import os

    import numpy as np

    if os.path.exists(text):
        try:
            return np.load(text) if text.endswith(".npy") else np.loadtxt(text, ndmin=2)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is bad input
            raise DiffapproxError("sigma", "a readable .npy or text matrix", f"{text} ({exc})") from None
    rows = [parse_floats("sigma", r) for r in text.split(";") if r.strip()]
    if not rows or len({len(r) for r in rows}) != 1:
        raise DiffapproxError("sigma", "rows of equal length separated by ';'", text)
    return np.array(rows)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from .._engine.problem import StreamingPCA
    from .._core.jsonio import jsonable
    from .._engine.simulate import simulate

    if args.sigma is not None:
        problem = StreamingPCA(sigma=_sigma(args.sigma), data=args.data)
    else:
        problem = StreamingPCA(spectrum=parse_floats("spectrum", args.spectrum or "4,3,2,1"), data=args.data)
    start = args.start
    if "," in start:
        start = parse_floats("start", start)
    passages = []
    for text in args.passage:
        v = parse_floats("passage", text)
        if len(v) != 3:
            raise DiffapproxError("passage", "C,L,S (coordinate, level, direction)", text)
        passages.append((v[0], v[1], v[2]))
    traj = simulate(
        problem,
        mu=args.mu,
        eta=args.eta,
        steps=args.steps,
        paths=args.paths,
        delay=args.delay,
        batch=args.batch,
        record_every=args.record_every,
        start=start,
        seed=args.seed,
        path_offset=args.path_offset,
        threads=args.threads,
        bound=args.bound,
        passages=passages,
    )
    doc = traj.summary()
    emit_json(doc, args.json, indent=1)
    if args.npz:
        np.savez_compressed(
            args.npz,
            times=traj.times,
            steps_at=traj.steps_at,
            error=traj.error,
            norm2=traj.norm2,
            h=traj.h,
            diverged=traj.diverged,
            diverged_step=traj.diverged_step,
            passage=traj.passage,
            parameters=json.dumps(jsonable(traj.parameters)),
        )
    return 0
