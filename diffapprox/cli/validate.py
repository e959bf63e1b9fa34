"""``diffapprox validate``: run the claims of a profile.

``validate`` runs the claims of a profile, checkpointing each finished cell under
``--out``; it writes ``results.json`` and ``figures/`` (then ``report.html`` and
``report.pdf`` when the report module is available) and prints a summary table.
Input is checked before anything is created: an unknown claim id, a bad profile,
an unwritable or already used ``--out``, an unreadable ``--baseline`` all give one
line on stderr and exit code 2, and leave existing files untouched.

Exit codes: 0 ran (whatever the verdicts), 1 a ``--baseline`` regression,
2 bad input, 3 an output could not be written (e.g. a full disk: one line names the file;
everything written before is intact), 130 interrupted by SIGINT (Ctrl-C) and 143 by SIGTERM
(finished cells kept, cells in flight dropped, no worker process left; the directory is
resumable with ``--resume``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path

from .._core.errors import DiffapproxError, check_int
from .._run.claims import PROFILES
from .._run.execute import EXECUTORS
from ._common import parse_claim_ids, text_table

#: Exit code when an output (a checkpoint, results.json, a report) could not be written, e.g. a full disk.
EXIT_NOT_WRITTEN = 3

#: Exit codes of an interrupted run: 128 + the signal's number, as a shell reports it.
EXIT_SIGINT = 128 + signal.SIGINT
EXIT_SIGTERM = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is: the run stops cleanly (finished cells kept, workers stopped)."""


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """While inside, SIGTERM raises :class:`Terminated` in the main thread (as SIGINT raises KeyboardInterrupt)."""

    def handler(signum, frame):
        raise Terminated

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave SIGTERM alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


#: What ``--profile`` says about each profile besides its cost.
_PROFILE_NOTES = {
    "quick": "structure checks, used by the regression test",
    "standard": "the default",
    "paper": "paper-scale path counts and epochs",
}


def _fmt_minutes(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    return f"{s / 60:.1f} min" if s < 600 else f"{s / 60:.0f} min"


def profile_help() -> str:
    """``--profile``'s help: each profile's wall time on the reference machine, from the shipped cost model."""
    from .._run.costs import load_costs

    model = load_costs()
    cores = model.reference.get("cores")
    parts = []
    for name in PROFILES:
        est = model.profiles.get(name, {})
        cost = ""
        if "packing" in est:
            cost = f"about {_fmt_minutes(est['packing'])}"
            if "sequential" in est:
                cost += f"; {_fmt_minutes(est['sequential'])} with --executor sequential"
        parts.append(f"{name} ({_PROFILE_NOTES[name]}{', ' + cost if cost else ''})")
    shown = cores and any("packing" in model.profiles.get(n, {}) for n in PROFILES)
    where = f" Times on {cores} cores, predicted by the cost model shipped with the package." if shown else ""
    return "; ".join(parts) + "." + where


def add_parser(sub) -> None:
    p = sub.add_parser(
        "validate",
        help="run the claims and write results.json, figures and the report",
        description="Run the claims of a profile; write results.json, figures/, report.html and report.pdf "
        "under --out, and print a summary table. Exit 0 ran (whatever the verdicts), 1 a --baseline "
        "regression, 2 bad input, 3 an output could not be written (e.g. disk full; the file is named, "
        "nothing written before is lost), 130 interrupted by Ctrl-C, 143 by SIGTERM (finished cells kept: "
        "continue with --resume).",
    )
    p.add_argument("--profile", choices=PROFILES, default="standard", help=profile_help())
    p.add_argument("--claims", metavar="ID,...", default=None, help="comma-separated claim ids (default: all)")
    p.add_argument("--seed", type=int, default=20180330, help="master seed (default: %(default)s)")
    p.add_argument(
        "--out", metavar="DIR", default=None, help="output directory (default: reports/<profile>-<UTC timestamp>/)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="cores to use (default: all); with --executor sequential, threads for the simulation kernels",
    )
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=None,
        help="packing (default): single-threaded and waiting cells run in worker processes beside the "
        "multi-threaded simulations, never more threads than cores; sequential: every cell in this process, "
        "one after another. Results are identical either way.",
    )
    p.add_argument("--scheduler", metavar="ADDRESS", default=None, help="run cells on this Dask scheduler")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="Dask workers (a local Dask cluster when no --scheduler is given)",
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument(
        "--baseline", metavar="FILE", default=None, help="compare with this results.json; exit 1 on a regression"
    )
    p.add_argument(
        "--calibration",
        metavar="FILE",
        default=None,
        help="a diffapprox calibrate JSON whose rates go into every result (default: reports/calibration-<profile>.json "
        "here, else in the source checkout; none found: calibration null, with a note)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    p.add_argument(
        "--pdf-appendix",
        action="store_true",
        help="append every claim's parameters and full measurement table to report.pdf "
        "(they are always in report.html and results.json)",
    )
    p.set_defaults(func=run_validate)


# ---------------------------------------------------------------------------
def _check_out(out: Path, resume: bool) -> None:
    """Refuse an --out that would overwrite or lose anything; create it otherwise."""
    if out.exists() and not out.is_dir():
        raise DiffapproxError("--out", "a directory", f"{out} (an existing file)")
    if resume:
        if not (out / "run.json").is_file():
            raise DiffapproxError("--out", "a run directory to --resume (with run.json)", str(out))
        if not os.access(out, os.W_OK):
            raise DiffapproxError("--out", "a writable directory", str(out))
        return
    if out.exists() and any(out.iterdir()):
        raise DiffapproxError("--out", "a new or empty directory (or pass --resume)", str(out))
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise DiffapproxError("--out", "a writable directory", f"{out} ({exc.strerror})") from None


def _load_baseline(path: str):
    from ..report import load_results

    if not Path(path).is_file():
        raise DiffapproxError("--baseline", "a readable results.json", f"{path} (no such file)")
    try:
        return load_results(path)
    except DiffapproxError as exc:
        raise DiffapproxError("--baseline", "a valid results.json", f"{path}: {exc}") from None


def _make_executor(args):
    from .._run.execute import make_local_executor

    if args.scheduler is None and args.workers is None:
        return make_local_executor(args.executor or EXECUTORS[0], threads=args.threads)
    try:
        import dask.distributed  # noqa: F401 - imported only to learn whether the extra is installed
    except ImportError:
        raise DiffapproxError(
            "--scheduler/--workers",
            "the `distributed` extra: pip install -e '.[distributed]'",
            "dask.distributed not installed",
        ) from None
    try:
        from .._run.dask import DaskExecutor
    except ImportError as exc:
        raise DiffapproxError(
            "--scheduler/--workers", "the Dask executor (diffapprox._run.dask)", f"not importable ({exc})"
        ) from None
    return DaskExecutor(address=args.scheduler, n_workers=args.workers)


def _record_process_cpu(out: Path) -> None:
    """Add ``process_cpu_s`` to ``timings.json``: user + sys seconds of this process and every process
    it waited for (workers and their fork server included), what ``/usr/bin/time`` reports; and
    ``children_cpu_s``, those processes' share."""
    import resource

    from .._core.jsonio import write_json_atomic
    from .._run.runner import TIMINGS_NAME

    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    children = kids.ru_utime + kids.ru_stime
    cpu = me.ru_utime + me.ru_stime + children
    path = out / TIMINGS_NAME
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        write_json_atomic(path, {**doc, "process_cpu_s": cpu, "children_cpu_s": children})
    except (OSError, ValueError):  # timings are a convenience: never a reason to fail a finished run
        pass


def _key_number(claim) -> str:
    """The measurement that decided the verdict (the worst one sharing it), as one line."""
    from ..report._format import fmt_key_number, key_measurement

    if claim.error:
        return claim.error.splitlines()[0][:60] if claim.error.strip() else "error"
    m = key_measurement(claim)
    return "" if m is None else fmt_key_number(m)


def summary_table(results) -> str:
    """The verdict counts of the paper's claims on their own, then of the other scopes; one line per claim.

    The claims are grouped under what they are about (the paper, other papers' approximations, the
    toolkit's own checks), each row: id, verdict, judged rows (context rows apart), key number, run time.
    """
    from ..report._format import SCOPE_TITLES, fmt_judged_context, group_claims, scope_count_lines

    groups = group_claims(results.claims)
    rows = [
        (c.id, c.verdict.value, fmt_judged_context(c.measurements), _key_number(c), f"{c.elapsed_s or 0.0:.1f}s")
        for _, cs in groups
        for c in cs
    ]
    head, rule, *lines = text_table(("claim", "verdict", "measurements", "key number", "time"), rows, right=(4,))
    out = [*scope_count_lines(results.claims), "", "  " + head, "  " + rule]
    for scope, cs in groups:
        out.append(f"{SCOPE_TITLES[scope]}:")
        out += ["  " + line for line in lines[: len(cs)]]
        lines = lines[len(cs) :]
    return "\n".join(out)


def run_validate(args) -> int:
    # --- validate everything before creating anything ---------------------
    check_int("--seed", args.seed, 0)
    if args.threads is not None:
        check_int("--threads", args.threads, 1)
    if args.workers is not None:
        check_int("--workers", args.workers, 1)
    if args.executor is not None and (args.scheduler is not None or args.workers is not None):
        raise DiffapproxError(
            "--executor", "no --executor with --scheduler/--workers (they run on Dask)", args.executor
        )
    ids = parse_claim_ids(args.claims)  # unknown id: one-line error, exit 2, before anything is created
    baseline = _load_baseline(args.baseline) if args.baseline else None
    from .._run.calibrate import find_calibration

    calibration, calibration_file = find_calibration(args.profile, args.calibration)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else Path("reports") / f"{args.profile}-{stamp}"
    _check_out(out, args.resume)

    from .._core.jsonio import write_json_atomic
    from .._run.runner import resolve_claims

    claims = resolve_claims(ids)
    run_info = {"profile": args.profile, "seed": args.seed, "claims": [c.id for c in claims]}
    if args.resume:
        try:
            prev = json.loads((out / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise DiffapproxError("--out", "a run directory with a readable run.json", str(out)) from None
        for k in ("profile", "seed"):
            if prev.get(k) != run_info[k]:
                raise DiffapproxError(f"--{k}", f"{prev.get(k)!r} (as in the run being resumed)", run_info[k])
    else:
        write_json_atomic(out / "run.json", run_info)

    stage = {"results": False}
    with _sigterm_as_interrupt():
        try:
            return _run(args, claims, out, ids, baseline, calibration, calibration_file, stage)
        except KeyboardInterrupt as exc:  # outside the cells: before them, or after results.json
            how = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
            if stage["results"]:
                tail = f"{out / 'results.json'} is complete; render the report with: diffapprox report {shlex.quote(str(out))}"
            else:
                tail = f"continue with --resume --out {shlex.quote(str(out))}"
            sys.stderr.write(f"diffapprox validate: interrupted ({how}); {tail}\n")
            return EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT


@contextlib.contextmanager
def _signals_held():
    """While inside, SIGINT and SIGTERM are ignored (stopping the workers must not be cut short by a second one)."""
    try:
        old = [(s, signal.signal(s, signal.SIG_IGN)) for s in (signal.SIGINT, signal.SIGTERM)]
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for s, h in old:
            signal.signal(s, h)


def _run(args, claims, out: Path, ids, baseline, calibration, calibration_file, stage: dict) -> int:
    from .._run.checkpoint import OutputNotWritten
    from .._run.runner import run_claims

    executor = _make_executor(args)
    command = (
        ["diffapprox", "validate", f"--profile={args.profile}", f"--seed={args.seed}"]
        + ([f"--claims={','.join(c.id for c in claims)}"] if ids is not None else [])
        + [f"--out={out}"]
    )
    resume_cmd = " ".join(shlex.quote(a) for a in command + ["--resume"])
    try:
        doc = run_claims(
            claims,
            profile=args.profile,
            seed=args.seed,
            out=out,
            executor=executor,
            resume=args.resume,
            progress=not args.no_progress,
            command=command,
            calibration=calibration,
            calibration_file=calibration_file,
        )
    except KeyboardInterrupt as exc:
        with _signals_held():
            executor.close()  # before saying so: no worker process is left once the line is printed
        how = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
        sys.stderr.write(
            f"diffapprox validate: interrupted ({how}); finished cells are kept under {out / 'cells'}; "
            f"resume with: {resume_cmd}\n"
        )
        return EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT
    except OutputNotWritten as exc:
        with _signals_held():
            executor.close()
        sys.stderr.write(
            f"diffapprox validate: {exc}; nothing written before is lost; free space and resume with: {resume_cmd}\n"
        )
        return EXIT_NOT_WRITTEN
    finally:
        with _signals_held():
            executor.close()
    stage["results"] = True

    # --- report ---------------------------------------------------------------
    from ..report import render_report

    try:
        render_report(out, pdf_appendix=args.pdf_appendix)
    except Exception as exc:  # noqa: BLE001 - results.json is safe; say why the report is missing
        # the renderer reports a failed write as a DiffapproxError raised from the OSError
        oserr = exc if isinstance(exc, OSError) else exc.__context__
        if isinstance(oserr, OSError):  # e.g. a full disk: the previous report (if any) is intact
            where = oserr.filename or f"{out / 'report.html'} or {out / 'report.pdf'}"
            sys.stderr.write(f"diffapprox validate: could not write {where}: {oserr.strerror or oserr}\n")
            return EXIT_NOT_WRITTEN
        sys.stderr.write(f"diffapprox validate: report not rendered: {type(exc).__name__}: {exc}\n")
    _record_process_cpu(out)

    from .._core.results_file import Results

    typed = Results.from_json(doc)
    print(summary_table(typed))
    print(f"\nresults: {out / 'results.json'}  ({doc['elapsed_s']:.1f}s)")

    if baseline is not None:
        from .._run.regression import compare_to_baseline, not_compared

        for line in not_compared(typed, baseline):
            print(f"  {line}")
        moved = compare_to_baseline(typed, baseline)
        if moved:
            print(f"\nregression against {args.baseline}:")
            for line in moved:
                print(f"  {line}")
            return 1
        print(f"\nno regression against {args.baseline}")
    return 0
