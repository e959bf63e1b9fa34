"""Run claims for a profile and write ``results.json``.

:func:`run_claims` is the engine behind ``diffapprox validate``: it lists every
claim's cells, runs them all through one executor (so a cluster sees all the work
at once), checkpoints them, then lets each claim ``finish`` into a
:class:`~diffapprox.ClaimResult`.  A claim that breaks (in ``cells``, a cell, or
``finish``) gets verdict ERROR with the message; the others go on.  A claim whose
``requires`` imports are missing gets verdict ERROR with the pip command that
installs its extra: it is reported, never silently dropped (ERROR rather than
INCONCLUSIVE because nothing was measured at all).

Every claim's result also carries its rule ``version`` and ``history`` (:func:`history_json`: the
old verdict of each dated rule change, recomputed on this run's data where the claim keeps the old
rule as context rows) and its ``calibration`` from a committed ``diffapprox calibrate`` file
(:func:`~diffapprox._run.calibrate.claim_calibration`).

With an executor that can (``parallel_finish``, the packing executor), the claims' ``finish``
steps (measurements, figures) run in its one-thread worker processes too, once every cell has
finished: they are pure functions of the cell summaries, so where they run changes nothing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .calibrate import claim_calibration
from .checkpoint import OutputNotWritten
from .claims import PROFILES, Claim, ClaimOutput, all_claims, get_claim
from .._core.errors import DiffapproxError
from .costs import CostModel, load_costs
from .execute import (
    CellStore,
    Executor,
    PackingExecutor,
    Progress,
    cell_core_seconds,
    describe_exception,
    execute,
    pin_blas,
)
from .._core.jsonio import write_json_atomic
from .._core.results import RESULTS_SCHEMA, ClaimResult, Measurement, Verdict, combine_verdicts

__all__ = ["SCHEMA", "run_claims", "environment", "resolve_claims", "missing_requirements", "history_json"]

#: ``results.json`` schema id (defined with the data model).
SCHEMA = RESULTS_SCHEMA


def resolve_claims(ids: list[str] | None) -> list[Claim]:
    """Claims by id in the given order (all registered claims when ``ids`` is None)."""
    if ids is None:
        return list(all_claims().values())
    seen, out = set(), []
    for i in ids:
        if i not in seen:
            out.append(get_claim(i))
            seen.add(i)
    return out


def missing_requirements(claim: Claim) -> str | None:
    """The message for a claim whose optional imports are missing, else None."""
    missing = [m for m in claim.requires if importlib.util.find_spec(m) is None]
    if not missing:
        return None
    extra = claim.extra or "all"
    return f"needs the `{extra}` extra (missing: {', '.join(missing)}): pip install -e '.[{extra}]'"


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> dict:
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": sha or None, "dirty": bool(dirty) if sha else None}


def environment() -> dict:
    """Versions, git commit and machine, for the reproducibility block of a report."""
    from .._version import __version__

    g = _git_commit()
    return {
        "diffapprox": __version__,
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "scipy": _version("scipy"),
        "numba": _version("numba"),
        "git_commit": g["commit"],
        "git_dirty": g["dirty"],
        "machine": {
            "system": platform.system(),
            "release": platform.release(),
            "arch": platform.machine(),
            "processor": platform.processor() or None,
            "cpus": os.cpu_count(),
        },
    }


#: How many row names an old_source lists before it says how many more there are.
_ROWS_LISTED = 3


def _rows_text(names: list[str]) -> str:
    if len(names) <= _ROWS_LISTED:
        return ", ".join(names)
    return ", ".join(names[: _ROWS_LISTED - 1]) + f" and {len(names) - _ROWS_LISTED + 1} more"


def history_json(claim: Claim, measurements: list[Measurement] | None) -> list[dict]:
    """The claim's ``history`` for ``results.json``, old verdicts recomputed where the entry allows.

    An entry with ``old_rows`` gets ``old_verdict`` = :func:`~diffapprox.combine_verdicts` of the
    verdicts of this run's measurements whose names start with one of those prefixes (the context
    rows that still implement the old rule, combined as if judged) and ``old_source`` "recomputed on
    the same data (rows ...)"; ``None`` with the reason when the claim did not run
    (``measurements is None``) or no row matches.  Any other entry keeps the verdict and source it
    states (an earlier run).

    Returns
    -------
    list of dict
        ``{date, version, change, reason, old_verdict, old_source, old_rows}``, oldest first.
    """
    out = []
    for e in claim.history:
        verdict, source = e.old_verdict, e.old_source
        if e.old_rows:
            prefixes = tuple(e.old_rows)
            rows = [m for m in measurements or () if m.name.startswith(prefixes)]
            if measurements is None:
                verdict, source = None, "not recomputed: the claim did not run"
            elif not rows:
                verdict, source = None, f"not recomputed: no measurement starts with {', '.join(prefixes)}"
            else:
                verdict = combine_verdicts([m.verdict for m in rows]).value
                source = f"recomputed on the same data (rows {_rows_text([m.name for m in rows])})"
        out.append(
            {
                "date": e.date,
                "version": e.version,
                "change": e.change,
                "reason": e.reason,
                "old_verdict": verdict,
                "old_source": source,
                "old_rows": list(e.old_rows),
            }
        )
    return out


def _claim_facts(claim: Claim, measurements: list[Measurement] | None, calibration: dict | None, profile: str) -> dict:
    """Rule version, history and calibration of a claim's result."""
    history = history_json(claim, measurements)
    return {
        "about": getattr(claim, "about", None),
        "version": len(history) + 1,
        "history": history,
        "calibration": claim_calibration(claim, calibration, profile),
    }


def _error_result(
    claim: Claim,
    profile: str,
    seed: int,
    msg: str,
    elapsed: float = 0.0,
    params: dict | None = None,
    missing_extra: str | None = None,
    calibration: dict | None = None,
) -> ClaimResult:
    return ClaimResult(
        id=claim.id,
        paper_ref=claim.paper_ref,
        statement=claim.statement,
        verdict=Verdict.ERROR,
        parameters={**(params or {}), "profile": profile, "seed": seed},
        measurements=[],
        elapsed_s=elapsed,
        error=msg,
        reproducible=claim.reproducible,
        missing_extra=missing_extra,
        **_claim_facts(claim, None, calibration, profile),
    )


def _rel_figures(figs: list, out: Path) -> list[str]:
    res = []
    for f in figs:
        p = Path(f)
        try:
            res.append(p.resolve().relative_to(out.resolve()).as_posix())
        except ValueError:
            res.append(str(p))
    return res


def _with_run_size(params: dict, cells: list) -> dict:
    """Add ``steps`` / ``paths`` from the cells when the claim's parameters do not state them.

    Every result states the paths, steps and seed it used.  A claim whose
    ``parameters`` give no key mentioning steps (or paths) gets them here, read from the cells
    it ran: one number when every cell used the same, else a mapping cell key -> number.
    """
    for name in ("steps", "paths"):
        if any(name in k for k in params):
            continue
        vals = {cell.key: cell.params[name] for cell in cells if name in cell.params}
        if not vals:
            continue
        distinct = set(vals.values())
        params[name] = next(iter(distinct)) if len(distinct) == 1 and len(vals) == len(cells) else vals
    return params


#: Where each run writes its timings (beside results.json, which holds no per-cell timing).
TIMINGS_NAME = "timings.json"


def _timings(plan: dict, outcomes: dict, finished: dict, prog: Progress, doc: dict) -> dict:
    """Per claim: cells, their wall, CPU and core seconds (wall x threads), the finish step's wall and CPU.

    What the cost model is rebuilt from (:func:`diffapprox._run.costs.build_costs`), with the run's
    first ETA to compare with its run time.
    """
    claims = {}
    for cid, cells in plan.items():
        oc = [outcomes[(cid, cell.key)] for cell in cells]
        fin = finished.get(cid, {})
        claims[cid] = {
            "uses": sorted({cell.uses for cell in cells}),
            "cells": len(cells),
            "cost": sum(float(cell.cost) for cell in cells),
            "cells_wall_s": sum(float(o.get("elapsed_s", 0.0)) for o in oc),
            "cells_cpu_s": sum(float(o.get("cpu_s", 0.0)) for o in oc),
            "cells_core_s": sum(
                cell_core_seconds(cell.uses, o.get("elapsed_s", 0.0), o.get("threads")) for cell, o in zip(cells, oc)
            ),
            "finish_wall_s": fin.get("elapsed_s"),
            "finish_cpu_s": fin.get("cpu_s"),
        }
    return {
        "executor": doc["executor"],
        "elapsed_s": doc["elapsed_s"],
        "first_eta_s": prog.first_eta_s,
        "speed_probe": prog.probe_reading,
        "claims": claims,
    }


#: Finish steps go to the executor's worker processes only when, by the cost model, they add up to
#: at least this many seconds (starting the workers costs a second or two).
FINISH_IN_WORKERS_MIN_S = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class _FinishJob:
    """A claim's finish step as a unit of work (single-threaded: ``uses="core"``)."""

    claim: str
    profile: str
    seed: int
    results: dict = field(hash=False)
    figdir: str
    key: str = "finish"
    uses: str = "core"
    cost: float = 1.0


def _finish_safe(job: _FinishJob) -> dict:
    """Run ``claim.finish``: ``{"output": ClaimOutput | None, "error": str | None, "elapsed_s", "cpu_s"}``.

    BLAS runs on one thread (:func:`~diffapprox._run.execute.pin_blas`): the same bits in any process.
    """
    pin_blas()
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        out = get_claim(job.claim).finish(job.profile, job.seed, job.results, Path(job.figdir))
        err = None
    except Exception as exc:  # noqa: BLE001 - a broken claim is reported as ERROR; the others go on
        out = None
        err = f"finish: {describe_exception(exc)}"
    return {"output": out, "error": err, "elapsed_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}


def _run_finishes(jobs: list[_FinishJob], executor, model: CostModel, prog: Progress) -> dict[str, dict]:
    """Every finish job's outcome by claim id: in the executor's workers when that pays, else here."""
    done: dict[str, dict] = {}
    away = (
        getattr(executor, "parallel_finish", False)
        and len(jobs) >= 2
        and sum(model.finish_seconds(j.claim) for j in jobs) >= FINISH_IN_WORKERS_MIN_S
    )
    it = executor.map(_finish_safe, jobs) if away else ((j, _finish_safe(j)) for j in jobs)
    for job, outcome in it:
        done[job.claim] = outcome
        prog.finished_claim(job.claim, float(outcome["elapsed_s"]))
    return done


def run_claims(
    claims: list[Claim],
    *,
    profile: str,
    seed: int,
    out: Path,
    executor: Executor | None = None,
    resume: bool = False,
    progress: bool = True,
    command: list[str] | None = None,
    stream=None,
    calibration: dict | None = None,
    calibration_file: dict | None = None,
) -> dict:
    """Run ``claims`` on ``profile`` with master ``seed``; write and return ``results.json``.

    Parameters
    ----------
    claims : list of Claim
    profile : {"quick", "standard", "paper"}
    seed : int
        Master seed; every cell's seed derives from it (:func:`~diffapprox.cell_seed`).
    out : Path
        Existing, writable output directory.  Receives ``cells/`` (checkpoints),
        ``figures/<claim>/`` and ``results.json``.
    executor : Executor, optional
        Not closed here.  Default: a :class:`PackingExecutor` on every core, closed at the end.
    resume : bool
        Reuse checkpointed cells under ``out/cells``.
    progress : bool
        Show progress (tqdm on a terminal, plain lines otherwise) on ``stream`` (stderr).
    calibration : dict, optional
        A ``diffapprox calibrate`` document (:func:`~diffapprox._run.calibrate.find_calibration`):
        each claim's ``calibration`` comes from it; ``None`` gives ``calibration: null``.
    calibration_file : dict, optional
        What ``results.json`` says about that file (its path, or why there is none).

    Returns
    -------
    dict
        The ``results.json`` content (JSON-able).
    """
    if profile not in PROFILES:
        raise DiffapproxError("profile", f"one of {', '.join(PROFILES)}", profile)
    out = Path(out)
    t_start = time.perf_counter()
    started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    own_executor = executor is None
    executor = PackingExecutor() if own_executor else executor
    store = CellStore(out, stream=stream)

    # 1. cells of every runnable claim
    results: dict[str, ClaimResult] = {}
    plan: dict[str, list] = {}
    for c in claims:
        msg = missing_requirements(c)
        if msg is not None:
            results[c.id] = _error_result(
                c, profile, seed, msg, missing_extra=c.extra or "all", calibration=calibration
            )
            continue
        try:
            plan[c.id] = c.cells(profile, seed)
        except Exception as exc:  # noqa: BLE001 - a broken claim is reported as ERROR; the others go on
            results[c.id] = _error_result(
                c, profile, seed, f"listing cells: {type(exc).__name__}: {exc}", calibration=calibration
            )
    all_cells = [cell for cs in plan.values() for cell in cs]

    # 2. run them all (checkpointed)
    model = load_costs()
    prog = Progress(all_cells, stream=stream, enabled=progress, model=model, executor=executor, finishes=list(plan))
    try:
        outcomes = execute(all_cells, executor, store=store, resume=resume, progress=prog)
        # 3. the finish steps of the claims whose cells all ran
        jobs = [
            _FinishJob(
                claim=cid,
                profile=profile,
                seed=seed,
                results={cell.key: outcomes[(cid, cell.key)]["result"] for cell in cells},
                figdir=str((out / "figures" / cid).resolve()),  # workers may run in another directory
            )
            for cid, cells in plan.items()
            if not any(outcomes[(cid, cell.key)].get("error") for cell in cells)
        ]
        for job in jobs:
            Path(job.figdir).mkdir(parents=True, exist_ok=True)
        finished = _run_finishes(jobs, executor, model, prog)
    finally:
        prog.close()
        if own_executor:
            executor.close()

    # 4. each claim's result
    for c in claims:
        if c.id in results:
            continue
        cells = plan[c.id]
        oc = [outcomes[(c.id, cell.key)] for cell in cells]
        cell_time = sum(float(o.get("elapsed_s", 0.0)) for o in oc)
        try:
            params = _with_run_size(dict(c.parameters(profile)), cells)
        except Exception as exc:  # noqa: BLE001 - a broken claim is reported as ERROR; the others go on
            msg = f"parameters: {type(exc).__name__}: {exc}"
            results[c.id] = _error_result(c, profile, seed, msg, cell_time, calibration=calibration)
            continue
        errors = [(cell.key, o["error"]) for cell, o in zip(cells, oc) if o.get("error")]
        if errors:
            k, e = errors[0]
            more = f" (and {len(errors) - 1} more failed cells)" if len(errors) > 1 else ""
            msg = f"cell {k}: {e}{more}"
            results[c.id] = _error_result(c, profile, seed, msg, cell_time, params, calibration=calibration)
            continue
        fin = finished[c.id]
        if fin["error"] is not None:
            spent = cell_time + fin["elapsed_s"]
            results[c.id] = _error_result(c, profile, seed, fin["error"], spent, params, calibration=calibration)
            continue
        fo: ClaimOutput = fin["output"]
        elapsed = cell_time + fin["elapsed_s"]
        verdict = combine_verdicts([m.verdict for m in fo.measurements if m.judged])
        results[c.id] = ClaimResult(
            id=c.id,
            paper_ref=c.paper_ref,
            statement=c.statement,
            verdict=verdict,
            parameters={**params, **fo.parameters, "profile": profile, "seed": seed, "cells": len(cells)},
            measurements=list(fo.measurements),
            figures=_rel_figures(fo.figures, out),
            elapsed_s=elapsed,
            findings=list(fo.findings),
            inconsistencies=list(fo.inconsistencies),
            reproducible=c.reproducible,
            **_claim_facts(c, list(fo.measurements), calibration, profile),
        )

    doc = {
        "schema": SCHEMA,
        "profile": profile,
        "seed": int(seed),
        "command": command,
        "started_utc": started,
        "environment": environment(),
        "executor": repr(executor),
        "elapsed_s": time.perf_counter() - t_start,
        "calibration_file": calibration_file
        if calibration_file is not None
        else {"path": None, "note": "no calibration file given: per-claim calibration is null"},
        "claims": [results[c.id].to_json() for c in claims],
    }
    for path, content in (
        (out / "results.json", doc),
        (out / TIMINGS_NAME, _timings(plan, outcomes, finished, prog, doc)),
    ):
        try:
            write_json_atomic(path, content)
        except OSError as exc:  # e.g. a full disk: the previous file, if any, is intact
            raise OutputNotWritten(path, exc) from exc
    return doc
