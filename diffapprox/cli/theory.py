"""``diffapprox theory``: the paper's constants and predictions for one problem, as JSON."""

from __future__ import annotations

import argparse

from ._common import add_problem_arguments, emit_json, parse_floats, problem_from_args


def add_parser(sub) -> None:
    p = sub.add_parser(
        "theory",
        help="the paper's constants and predictions for a problem, as JSON",
        description="Print, as JSON (schema diffapprox.theory/1), the constants (alpha, phi, C_d), the "
        "stationary variances of (3.3), T1/T2/T3 and N1/N2/N3 (both printed versions where the paper has two), "
        "the delay thresholds of Thm 3.3 and Thm 3.5, the exact linear-stability delay limit per mode, the "
        "closed-form ODE (3.2) solution, and the stationary E[h_i^2]/eta of the linear and finite-step models of "
        "eq. (2.1) at the delay law --delay (beyond the paper).  Every asymp constant is taken as 1; undefined formulas are null "
        "with the reason under 'notes'.",
    )
    add_problem_arguments(p)
    p.add_argument("--mu", type=float, required=True, help="momentum in [0, 1)")
    p.add_argument("--eta", type=float, required=True, help="step size > 0")
    p.add_argument("--delta", type=float, default=0.1, help="neighbourhood radius delta in (0, 1)")
    p.add_argument("--nu", type=float, default=0.1, help="escape failure probability nu in (0, 1) (T1, N1)")
    p.add_argument("--epsilon", type=float, default=0.05, help="target error epsilon > 0 (T3, N1-N3)")
    p.add_argument("--gamma", type=float, default=0.25, help="gamma of the delay conditions, in (0, 1]")
    p.add_argument("--tau", type=int, default=0, help="max delay for the Lemma 3.1 bound (default 0)")
    p.add_argument(
        "--delay",
        default="const:0",
        help="delay law of the linear and finite-step stationary variances: const:T, uniform:A,B, geometric:M or "
        "workers:M (default const:0); --tau keeps its meaning for Lemma 3.1",
    )
    p.add_argument("--h0", default=None, help="ODE start in the eigenbasis, comma-separated (default all ones)")
    p.add_argument("--times", default="0,0.5,1,2", help="ODE times t = k eta, comma-separated")
    p.add_argument("--json", default="-", metavar="FILE", help="where to write the JSON (- = stdout)")
    p.set_defaults(func=run_theory)


def run_theory(args: argparse.Namespace) -> int:
    from .._theory.summary import theory_summary

    problem = problem_from_args(args)
    h0 = None if args.h0 is None else parse_floats("h0", args.h0)
    out = theory_summary(
        problem,
        mu=args.mu,
        eta=args.eta,
        delta=args.delta,
        nu=args.nu,
        epsilon=args.epsilon,
        gamma=args.gamma,
        h0=h0,
        times=parse_floats("times", args.times),
        tau=args.tau,
        delay=args.delay,
    )
    emit_json(out, args.json)
    return 0
