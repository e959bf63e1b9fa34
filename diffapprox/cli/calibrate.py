"""``diffapprox calibrate``: every claim's controls, run through the claim's own cell code.

Each claim with controls runs, per replicate, its own ``summarize`` and ``measure`` on per-path data of
known truth: ``edge`` (every judged truth on its band's edge), ``exact`` (the limit judged against),
``family:<name>`` (one row family beyond its band by its effect), ``outside`` (every judged truth beyond
its edge by half its effect), and the real simulator against planted predictions (``mutant:<name>``).
The output (schema ``diffapprox.calibrate/2``) gives, per claim, per row family and per judged row, the
PASS / FAIL / INCONCLUSIVE / ERROR rates with Wilson CIs and the operating characteristics: false FAIL,
confirm, worst family power, false PASS and each mutant's rate.  Commit the JSON as
``reports/calibration-<profile>.json``: ``diffapprox validate`` reads it into every result.

Input is checked before anything runs; bad input is one line on stderr and exit code 2.  With ``--out
DIR`` each finished block of replicates is kept as JSON and a rerun resumes from it; the JSON file is
written atomically at the end.
"""

from __future__ import annotations

import os
import sys
import textwrap

from .._core.errors import DiffapproxError, check_int
from .._run.claims import PROFILES
from ._common import emit_json, parse_claim_ids, text_table

KINDS = ("edge", "exact", "family", "outside", "mutant")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "calibrate",
        help="controls of every claim through its own cell code (operating characteristics with Wilson CIs)",
        description="Run each claim's controls (edge, exact, family:<name>, outside, mutant:<name>) through its own "
        "cell code and measure step and report PASS / FAIL / INCONCLUSIVE / ERROR rates per claim, row family and "
        "judged row: false FAIL <= 5% and false PASS <= 5% and every family's power >= 0.8 by the CI rule on the "
        "Wilson CI, confirm >= 0.8 and mutants >= 0.8 by the point estimate. Exit 0 ran, 2 bad input.",
    )
    p.add_argument("--claims", metavar="ID,...", default=None, help="comma-separated claim ids (default: all)")
    p.add_argument("--profile", choices=PROFILES, default="standard", help="sizes of the controls (default: standard)")
    p.add_argument(
        "--reps",
        type=int,
        default=200,
        help="replicates of each edge, exact, family and outside control (default: %(default)s; < 200 is a smoke run)",
    )
    p.add_argument(
        "--mutant-reps",
        type=int,
        default=None,
        metavar="N",
        help="replicates of the mutants, each one run of the real simulator (default: min(--reps, 50))",
    )
    p.add_argument(
        "--kinds", metavar="KIND,...", default=None, help=f"controls to run, of {','.join(KINDS)} (default: all)"
    )
    p.add_argument("--seed", type=int, default=20180330, help="master seed (default: %(default)s)")
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="worker processes (default: the number of CPUs); the rates do not depend on it",
    )
    p.add_argument("--scheduler", metavar="ADDRESS", default=None, help="run the replicates on this Dask scheduler")
    p.add_argument(
        "--workers", type=int, default=None, metavar="N", help="run them on a local Dask cluster of N workers"
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="keep each finished block of replicates in DIR (JSON) and resume from the blocks already there",
    )
    p.add_argument("--json", metavar="FILE", default=None, help="write the calibrate JSON to FILE (- for stdout)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run_calibrate)


def _oc(x: dict | None, key: str = "rate") -> str:
    """``2.5% [0.9, 6.1] met``: one operating characteristic with its Wilson CI and target state."""
    from ..report._format import DASH, fmt_rate

    if x is None:
        return DASH
    lo, hi = x["ci"]
    return f"{fmt_rate(x[key])} [{fmt_rate(lo)}, {fmt_rate(hi)}] {x['state']}"


def table(doc: dict) -> str:
    """The calibrate document as readable text: operating characteristics per claim, then what did not run."""
    head = (
        "claim",
        "about",
        "false FAIL (edge)",
        "confirm (exact)",
        "worst family power",
        "false PASS",
        "mutants",
        "time",
    )
    rows, skipped, errors, notes = [], [], [], []
    for c in doc["claims"]:
        if not c["calibrated"]:
            skipped.append(f"  {c['id']}: {c['reason']}")
            continue
        s = c["summary"]
        errors += [f"  {c['id']}: {e}" for e in c["errors"]]
        wf = s["worst_family_power"]
        fam = "" if wf is None else f" ({wf['family']})"
        muts = ", ".join(f"{m}: {v['rate']:.0%} {v['expect']} {v['state']}" for m, v in s["mutants"].items()) or "-"
        rows.append(
            (
                c["id"] + (" (legacy)" if c.get("legacy") else ""),
                c.get("about", ""),
                _oc(s["false_fail"]),
                _oc(s["confirm"]),
                _oc(wf) + fam,
                _oc(s["false_pass"]),
                muts,
                f"{c['elapsed_s']:.1f}s",
            )
        )
        if c.get("confirm_note"):
            notes.append(f"  {c['id']}: no confirm target: {c['confirm_note']}")
    smoke = " \u00b7 smoke run (fewer replicates than the targets are stated from: states indicative only)"
    lines = [
        f"profile {doc['profile']} \u00b7 {doc['reps']} replicates per control, {doc['mutant_reps']} per mutant "
        f"\u00b7 seed {doc['seed']}" + (smoke if doc["smoke_run"] else ""),
        "",
    ]
    lines += text_table(head, rows) if rows else ["no claim with controls"]
    if notes:
        lines += ["", "claims whose own limit puts a judged row on its band's edge:", *notes]
    if errors:
        lines += ["", "controls that raised (counted as ERROR):", *errors]
    if skipped:
        lines += ["", "not calibrated:", *skipped]
    lines += ["", *textwrap.wrap(f"targets: {doc['targets']['rule']}", 110)]
    lines.append(f"{doc['elapsed_s']:.1f}s on {doc['jobs']} worker(s); per family and judged row: --json FILE")
    return "\n".join(lines)


def _kinds(text: str | None) -> list[str] | None:
    if text is None:
        return None
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if not kinds or bad:
        raise DiffapproxError("--kinds", f"a comma-separated list of {', '.join(KINDS)}", text)
    return kinds


def _executor(args):
    if args.scheduler is None and args.workers is None:
        return None
    if args.jobs is not None:
        raise DiffapproxError("--jobs", "no --jobs with --scheduler/--workers (the replicates run on Dask)", args.jobs)
    from .validate import _make_executor

    args.executor, args.threads = None, None
    return _make_executor(args)


def run_calibrate(args) -> int:
    check_int("--reps", args.reps, 1)
    check_int("--seed", args.seed, 0)
    if args.mutant_reps is not None:
        check_int("--mutant-reps", args.mutant_reps, 1)
    if args.jobs is not None:
        check_int("--jobs", args.jobs, 1)
    if args.workers is not None:
        check_int("--workers", args.workers, 1)
    kinds = _kinds(args.kinds)
    ids = parse_claim_ids(args.claims)  # unknown id: one-line error, exit 2, before anything runs

    from .._run.runner import environment, resolve_claims
    from .validate import EXIT_SIGINT, EXIT_SIGTERM, Terminated, _sigterm_as_interrupt

    claims = resolve_claims(ids)
    executor = _executor(args)
    jobs = args.jobs or (os.cpu_count() or 1)
    env = environment()  # the commit the controls ran on (taken before they run: the tree may change meanwhile)
    try:
        with _sigterm_as_interrupt():
            doc = _calibrate(args, claims, kinds, executor, jobs)
    except KeyboardInterrupt as exc:  # the workers are stopped by now (no process outlives the run)
        how = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
        tail = (
            f"finished replicate blocks are kept under {args.out}; rerun the same command to resume"
            if args.out is not None
            else "nothing was kept (rerun with --out DIR to keep finished replicate blocks)"
        )
        sys.stderr.write(f"diffapprox calibrate: interrupted ({how}); {tail}\n")
        return EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT
    doc["environment"] = {k: env[k] for k in ("diffapprox", "python", "numpy", "scipy", "git_commit", "git_dirty")}
    if args.json is not None:
        emit_json(doc, args.json)
    if args.json != "-":
        print(table(doc))
        if args.json is not None:
            print(f"written: {args.json}")
    return 0


def _calibrate(args, claims, kinds, executor, jobs) -> dict:
    """Run the controls (the Dask executor, if any, is closed however this ends)."""
    from .._run.calibrate import calibrate

    try:
        if not args.no_progress:
            where = f"{executor!r}" if executor is not None else f"{jobs} process(es)"
            sys.stderr.write(
                f"calibrate: {len(claims)} claim(s), profile {args.profile}, {args.reps} replicates, {where}\n"
            )
        return calibrate(
            claims,
            profile=args.profile,
            reps=args.reps,
            mutant_reps=args.mutant_reps,
            kinds=kinds,
            seed=args.seed,
            jobs=jobs,
            executor=executor,
            checkpoint_dir=args.out,
            progress=not args.no_progress,
        )
    finally:
        if executor is not None:
            executor.close()
