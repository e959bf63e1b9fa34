"""``diffapprox advise``: the largest momentum for M asynchronous workers (exact stability and the paper's thresholds)."""

from __future__ import annotations

import argparse
import sys

from ._common import add_problem_arguments, emit_json, problem_from_args


def add_parser(sub) -> None:
    a = sub.add_parser(
        "advise",
        help="largest momentum for M asynchronous workers (stability and paper thresholds)",
        description="For M asynchronous workers (delay about M-1), the largest momentum that keeps (a) the "
        "linearised delayed-momentum recursion x_{k+1} = (1+mu) x_k - mu x_{k-1} - a x_{k-tau} stable for every "
        "mode, exactly, and (b) the paper's delay thresholds (Thm 3.5 / Remark 3.11, and Thm 3.3); then (c) the "
        "stationary error near the optimum of the OU limit (3.3) and of the linear and finite-step models of "
        "eq. (2.1), at those momenta and on a grid below the largest stable one.",
    )
    add_problem_arguments(a)
    a.add_argument("--eta", type=float, required=True, help="step size > 0")
    a.add_argument("--workers", type=int, required=True, help="number of asynchronous workers M >= 1")
    a.add_argument(
        "--gamma",
        type=float,
        default=0.0,
        help="gamma of the paper's thresholds in [0, 0.5]; 0 (default) = the supremum, most permissive",
    )
    a.add_argument(
        "--delay", default=None, help="delay law instead of tau = M-1 (uses its max, or --quantile of an unbounded law)"
    )
    a.add_argument("--quantile", type=float, default=0.9, help="quantile of an unbounded --delay law (default 0.9)")
    a.add_argument("--json", default=None, metavar="FILE", help="write JSON instead of text (- = stdout)")
    a.set_defaults(func=run_advise)


def _fmt(x) -> str:
    return "none" if x is None else f"{x:.4f}"


def _err(x) -> str:
    return "  none " if x is None else f"{x:.4g}"


def _error_lines(se: dict) -> list[str]:
    """(c): the stationary error of the OU limit, the linear and the finite-step models, one momentum a line."""
    rows = [(f"mu = {v['mu']:.4f} ({k.replace('_', ' ')})", v) for k, v in se["at"].items() if v is not None]
    rows += [(f"mu = {v['mu']:.4f}", v) for v in se["grid"]]
    out = [
        f"(c) stationary error E[1 - h_1^2/||h||^2] at delay {se['delay']} (beyond the paper):",
        "    momentum                     OU (3.3)   linear   finite-step",
    ]
    for label, v in rows:
        out.append(f"    {label:<28} {_err(v['ou']):>8}  {_err(v['linear']):>8}  {_err(v['finite_step']):>8}")
    if not se["grid"]:
        out.append("    no momentum of the grid is stable at this delay")
    return out


def run_advise(args: argparse.Namespace) -> int:
    from .._theory.stability import advise

    problem = problem_from_args(args)
    res = advise(
        problem, eta=args.eta, workers=args.workers, gamma=args.gamma, delay=args.delay, quantile=args.quantile
    )
    if args.json is not None:
        emit_json({"schema": "diffapprox.advise/1", **res}, args.json)
        return 0
    s, ps, po = res["stability"], res["paper"]["sde"], res["paper"]["ode"]
    lines = [
        f"{args.workers} worker(s), eta = {args.eta:g}, spectrum {problem.spectrum}, data {problem.data}",
        f"delay: {res['delay_rule']}",
        "",
        f"(a) linear stability (exact):  mu < {_fmt(s['mu_max'])}"
        + ("" if s["interval"] or s["mu_max"] is None else "  (stable set is not an interval below it)"),
        f"    {s['formula']}; binding gain a = {s['binding_gain']:g}",
        f"(b) paper, SDE regime:         mu <= {_fmt(ps['mu_max'])}" + (f"  ({ps['note']})" if ps["note"] else ""),
        f"    {ps['formula']}, gamma = {res['gamma']:g}",
        f"    paper, ODE regime:         mu <= {_fmt(po['mu_max'])}",
        f"    {po['formula']}",
        "",
        "mu_max = 1.0000 means every mu in [0, 1); 'none' means no mu in [0, 1) qualifies.",
        "",
        *_error_lines(res["stationary_error"]),
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
