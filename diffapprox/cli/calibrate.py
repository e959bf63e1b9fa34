"""``diffapprox calibrate``: the synthetic controls of every judged measurement.

Each claim with controls draws ``--reps`` replicates of cell summaries whose truth is known (null,
alternative and, where a sampler exists, the limit itself) at the profile's own sizes, and its
``measure`` step judges them.  The output (schema ``diffapprox.calibrate/1``) gives, per claim and
per judged row, the FAIL / INCONCLUSIVE / PASS / ERROR rates with the Wilson CI of the FAIL rate,
and the claim-level targets (null FAIL rate <= 5%, power >= 0.8) judged by the CI rule.  A claim
without controls is listed with ``calibrated: false`` and the reason; ``verdict-calibration``
calibrates the statistics themselves and is one of them.  Commit the JSON as
``reports/calibration-<profile>.json``: ``diffapprox validate`` reads it into every result.

Input is checked before anything runs; bad input is one line on stderr and exit code 2, and the
JSON file is written atomically at the end (nothing half-written).
"""

from __future__ import annotations

import os
import sys
import textwrap

from .._core.errors import check_int
from .._run.claims import PROFILES
from ._common import emit_json, parse_claim_ids, text_table


def add_parser(sub) -> None:
    p = sub.add_parser(
        "calibrate",
        help="null and alternative controls of every judged measurement (rates with Wilson CIs)",
        description="Push synthetic cell summaries with known truth through each claim's measure step and "
        "report FAIL / INCONCLUSIVE / PASS / ERROR rates per claim and per judged row, with the targets "
        "(null FAIL rate <= 5%, power >= 0.8) judged by the CI rule on the Wilson CI. Exit 0 ran, 2 bad input.",
    )
    p.add_argument("--claims", metavar="ID,...", default=None, help="comma-separated claim ids (default: all)")
    p.add_argument("--profile", choices=PROFILES, default="standard", help="sizes of the controls (default: standard)")
    p.add_argument(
        "--reps",
        type=int,
        default=200,
        help="replicates per kind of control (default: %(default)s; < 200 is a smoke run)",
    )
    p.add_argument("--seed", type=int, default=20180330, help="master seed (default: %(default)s)")
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="worker processes (default: the number of CPUs); the rates do not depend on it",
    )
    p.add_argument("--json", metavar="FILE", default=None, help="write the calibrate JSON to FILE (- for stdout)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run_calibrate)


def table(doc: dict) -> str:
    """The calibrate document as readable text: claim-level rates, targets and seconds, then the claims without controls."""
    from ..report._format import DASH, fmt_rate

    def _rate(r: dict | None) -> str:
        """``2.5% [0.9%, 6.1%]``: a control's FAIL rate and its Wilson CI."""
        if r is None:
            return DASH
        lo, hi = r["fail_ci"]
        return f"{fmt_rate(r['fail'])} [{fmt_rate(lo)}, {fmt_rate(hi)}]"

    head = ("claim", "null FAIL [95% CI]", "power: alt. FAIL [95% CI]", "limit FAIL", "targets", "time")
    rows, skipped, errors = [], [], []
    for c in doc["claims"]:
        if not c["calibrated"]:
            skipped.append(f"  {c['id']}: {c['reason']}")
            continue
        t = c["targets"]
        errs = ", ERROR in some replicates (see below)" if c["errors"] else ""
        errors += [f"  {c['id']}: {e}" for e in c["errors"]]
        limit = fmt_rate(c["limit"]["fail"]) if c["limit"] else DASH
        targets = f"null {t['null_fail']}, power {t['power']}{errs}"
        rows.append((c["id"], _rate(c["null"]), _rate(c["alternative"]), limit, targets, f"{c['elapsed_s']:.1f}s"))
    smoke = f" \u00b7 smoke run (fewer than {doc['min_reps']} replicates: target states indicative only)"
    lines = [
        f"profile {doc['profile']} \u00b7 {doc['reps']} replicates per control \u00b7 seed {doc['seed']}"
        + (smoke if doc["smoke_run"] else ""),
        "",
    ]
    if rows:
        lines += text_table(head, rows)
    else:
        lines.append("no claim with synthetic controls")
    if errors:
        lines += ["", "controls that raised (counted as ERROR):", *errors]
    if skipped:
        lines += ["", "not calibrated:", *skipped]
    lines += ["", *textwrap.wrap(f"targets: {doc['targets']['rule']}", 110)]
    lines.append(f"{doc['elapsed_s']:.1f}s on {doc['jobs']} process(es); per judged row: --json FILE")
    return "\n".join(lines)


def run_calibrate(args) -> int:
    check_int("--reps", args.reps, 1)
    check_int("--seed", args.seed, 0)
    if args.jobs is not None:
        check_int("--jobs", args.jobs, 1)
    ids = parse_claim_ids(args.claims)  # unknown id: one-line error, exit 2, before anything runs

    from .._run.calibrate import calibrate
    from .._run.runner import environment, resolve_claims

    claims = resolve_claims(ids)
    jobs = args.jobs or (os.cpu_count() or 1)
    if not args.no_progress:
        sys.stderr.write(
            f"calibrate: {len(claims)} claim(s), profile {args.profile}, {args.reps} replicates, {jobs} process(es)\n"
        )
    doc = calibrate(
        claims, profile=args.profile, reps=args.reps, seed=args.seed, jobs=jobs, progress=not args.no_progress
    )
    env = environment()
    doc["environment"] = {k: env[k] for k in ("diffapprox", "python", "numpy", "scipy", "git_commit", "git_dirty")}
    if args.json is not None:
        emit_json(doc, args.json)
    if args.json != "-":
        print(table(doc))
        if args.json is not None:
            print(f"written: {args.json}")
    return 0
