"""``diffapprox theory`` (the paper's predictions as JSON) and ``diffapprox advise`` (momentum advisor).

Both registered here (issue 3); ``cli.COMMANDS`` lists ``theory`` once.
"""

from __future__ import annotations

import argparse
import sys

from ._io import emit_json, parse_floats


def add_parser(sub) -> None:
    p = sub.add_parser(
        "theory",
        help="the paper's constants and predictions for a problem, as JSON",
        description="Print, as JSON (schema diffapprox.theory/1), the constants (alpha, phi, C_d), the "
        "stationary variances of (3.3), T1/T2/T3 and N1/N2/N3 (both printed versions where the paper has two), "
        "the delay thresholds of Thm 3.3 and Thm 3.5, the exact linear-stability delay limit per mode, and the "
        "closed-form ODE (3.2) solution.  Every asymp constant is taken as 1; undefined formulas are null "
        "with the reason under 'notes'.",
    )
    p.add_argument("--spectrum", default="4,3,2,1", help="eigenvalues, comma-separated (default 4,3,2,1)")
    p.add_argument("--data", default="gaussian", help="gaussian, rademacher, sphere or cube")
    p.add_argument("--mu", type=float, required=True, help="momentum in [0, 1)")
    p.add_argument("--eta", type=float, required=True, help="step size > 0")
    p.add_argument("--delta", type=float, default=0.1, help="neighbourhood radius delta in (0, 1)")
    p.add_argument("--nu", type=float, default=0.1, help="escape failure probability nu in (0, 1) (T1, N1)")
    p.add_argument("--epsilon", type=float, default=0.05, help="target error epsilon > 0 (T3, N1-N3)")
    p.add_argument("--gamma", type=float, default=0.25, help="gamma of the delay conditions, in (0, 1]")
    p.add_argument("--tau", type=int, default=0, help="max delay for the Lemma 3.1 bound (default 0)")
    p.add_argument("--h0", default=None, help="ODE start in the eigenbasis, comma-separated (default all ones)")
    p.add_argument("--times", default="0,0.5,1,2", help="ODE times t = k eta, comma-separated")
    p.add_argument("--json", default="-", metavar="FILE", help="where to write the JSON (- = stdout)")
    p.set_defaults(func=run_theory)

    a = sub.add_parser(
        "advise",
        help="largest momentum for M asynchronous workers (stability and paper thresholds)",
        description="For M asynchronous workers (delay about M-1), the largest momentum that keeps (a) the "
        "linearised delayed-momentum recursion x_{k+1} = (1+mu) x_k - mu x_{k-1} - a x_{k-tau} stable for every "
        "mode, exactly, and (b) the paper's delay thresholds (Thm 3.5 / Remark 3.11, and Thm 3.3).",
    )
    a.add_argument("--spectrum", default="4,3,2,1", help="eigenvalues, comma-separated (default 4,3,2,1)")
    a.add_argument("--data", default="gaussian", help="gaussian, rademacher, sphere or cube")
    a.add_argument("--eta", type=float, required=True, help="step size > 0")
    a.add_argument("--workers", type=int, required=True, help="number of asynchronous workers M >= 1")
    a.add_argument("--gamma", type=float, default=0.0,
                   help="gamma of the paper's thresholds in [0, 0.5]; 0 (default) = the supremum, most permissive")
    a.add_argument("--delay", default=None,
                   help="delay law instead of tau = M-1 (uses its max, or --quantile of an unbounded law)")
    a.add_argument("--quantile", type=float, default=0.9, help="quantile of an unbounded --delay law (default 0.9)")
    a.add_argument("--json", default=None, metavar="FILE", help="write JSON instead of text (- = stdout)")
    a.set_defaults(func=run_advise)


def run_theory(args: argparse.Namespace) -> int:
    from ._problem import StreamingPCA
    from ._theory import theory_summary

    problem = StreamingPCA(spectrum=parse_floats("spectrum", args.spectrum), data=args.data)
    h0 = None if args.h0 is None else parse_floats("h0", args.h0)
    out = theory_summary(problem, mu=args.mu, eta=args.eta, delta=args.delta, nu=args.nu, epsilon=args.epsilon,
                         gamma=args.gamma, h0=h0, times=parse_floats("times", args.times), tau=args.tau)
    emit_json(out, args.json)
    return 0


def _fmt(x) -> str:
    return "none" if x is None else f"{x:.4f}"


def run_advise(args: argparse.Namespace) -> int:
    from ._problem import StreamingPCA
    from ._stability import advise

    problem = StreamingPCA(spectrum=parse_floats("spectrum", args.spectrum), data=args.data)
    res = advise(problem, eta=args.eta, workers=args.workers, gamma=args.gamma, delay=args.delay,
                 quantile=args.quantile)
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
        f"(b) paper, SDE regime:         mu <= {_fmt(ps['mu_max'])}"
        + (f"  ({ps['note']})" if ps["note"] else ""),
        f"    {ps['formula']}, gamma = {res['gamma']:g}",
        f"    paper, ODE regime:         mu <= {_fmt(po['mu_max'])}",
        f"    {po['formula']}",
        "",
        "mu_max = 1.0000 means every mu in [0, 1); 'none' means no mu in [0, 1) qualifies.",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
