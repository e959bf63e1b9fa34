"""Synthetic controls: a claim's ``measure`` step run on cell summaries whose truth is known.

For each replicate ``r`` and kind (``null``, ``alternative``, ``limit``), the claim draws cell
summaries at its own sizes (:meth:`~diffapprox.Claim.synthetic`) from a generator seeded by
``derive_seed(seed, claim id, kind, r)``, and :meth:`~diffapprox.Claim.measure` judges them (its
own seed is ``derive_seed(seed, claim id, kind, r, "measure")``).  The rates of FAIL /
INCONCLUSIVE / PASS / ERROR over the replicates, for the claim's verdict and for each judged row,
say whether the verdicts can be trusted: under the null a claim should rarely FAIL, under the
alternative it should FAIL (:data:`TARGET_RULE`).  Samples of the limit itself are a finding about
the paper, not a target.  Replicate ``r`` depends on nothing but ``(seed, claim, kind, r)``, so
the rates are identical whatever the number of worker processes or the blocks they run.

:func:`calibrate` is ``diffapprox calibrate``; its output (schema :data:`CALIBRATE_SCHEMA`) is
committed as ``reports/calibration-<profile>.json`` and read back by ``diffapprox validate``
(:func:`find_calibration`, :func:`claim_calibration`), which flags a claim whose code changed
since (:func:`claim_source_hash`).
"""

from __future__ import annotations

import ast
import copy
import hashlib
import importlib.util
import inspect
import json
import pickle
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from .._core.errors import DiffapproxError, check_int
from .._core.results import Verdict, combine_verdicts
from .._core.seeds import derive_seed
from .. import stats
from .claims import CONTROL_KINDS, PROFILES, Claim

__all__ = [
    "CALIBRATE_SCHEMA",
    "MIN_REPS",
    "TARGET_RULE",
    "Rates",
    "ControlRun",
    "run_controls",
    "controls_of",
    "target_state",
    "claim_source_hash",
    "source_modules",
    "calibrate",
    "load_calibration",
    "find_calibration",
    "default_calibration_paths",
    "claim_calibration",
]

#: Schema id of ``diffapprox calibrate``'s JSON.
CALIBRATE_SCHEMA = "diffapprox.calibrate/1"

#: Replicates from which the targets are stated; fewer is a smoke run (the target states are then
#: printed, but a 95% Wilson CI over fewer replicates is too wide to settle a 5% rate).
MIN_REPS = 200

#: Level of the Wilson CI of every rate.
RATE_LEVEL = 0.95

#: How the claim-level targets are judged (stated before any control is run).
TARGET_RULE = (
    f"By the CI rule on the {RATE_LEVEL:.0%} Wilson CI of a claim-level rate over the replicates: "
    f"null target met when the whole CI of the null FAIL rate (ERROR replicates counted as FAIL) lies "
    f"in [0, {stats.NULL_FAIL_TARGET:g}], missed when it lies entirely above, undecided otherwise; "
    f"power target met when the whole CI of the FAIL rate under the alternative lies in "
    f"[{stats.POWER_TARGET:g}, 1], missed when it lies entirely below, undecided otherwise. "
    f"Targets are stated from {MIN_REPS} replicates; fewer is a smoke run."
)

_STATE = {Verdict.PASS: "met", Verdict.FAIL: "missed", Verdict.INCONCLUSIVE: "undecided"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Rates:
    """Verdict counts over replicates, with the Wilson CI of the FAIL rate."""

    fail: int
    inconclusive: int
    passed: int
    error: int
    reps: int
    fail_ci: tuple[float, float]

    @classmethod
    def of(cls, verdicts: list[Verdict], level: float = RATE_LEVEL) -> Rates:
        c = Counter(Verdict(v) for v in verdicts)
        n = len(verdicts)
        ci = stats.proportion_ci(c[Verdict.FAIL], n, level).ci if n else (float("nan"), float("nan"))
        return cls(
            fail=c[Verdict.FAIL],
            inconclusive=c[Verdict.INCONCLUSIVE],
            passed=c[Verdict.PASS],
            error=c[Verdict.ERROR],
            reps=n,
            fail_ci=(float(ci[0]), float(ci[1])),
        )

    def to_json(self) -> dict:
        """The ``RATES`` object of the calibrate schema: rates (fractions of ``reps``) and the FAIL rate's CI."""
        n = max(self.reps, 1)
        return {
            "fail": self.fail / n,
            "inconclusive": self.inconclusive / n,
            "pass": self.passed / n,
            "error": self.error / n,
            "reps": self.reps,
            "fail_ci": list(self.fail_ci),
        }


def target_state(k: int, n: int, target: str) -> str:
    """``"met"``, ``"missed"`` or ``"undecided"``: a count ``k`` of ``n`` replicates against a target.

    ``target`` is ``"null"`` (the FAIL rate must stay <= :data:`~diffapprox.stats.NULL_FAIL_TARGET`)
    or ``"power"`` (the FAIL rate must reach >= :data:`~diffapprox.stats.POWER_TARGET`); judged by
    :func:`~diffapprox.stats.equivalence` of the Wilson CI of ``k/n`` against the target's band
    (:data:`TARGET_RULE`).
    """
    band = {"null": (0.0, stats.NULL_FAIL_TARGET), "power": (stats.POWER_TARGET, 1.0)}[target]
    e = stats.proportion_ci(k, n, RATE_LEVEL)
    return _STATE[stats.equivalence(e.estimate, e.ci, band)]


@dataclass(slots=True, kw_only=True)
class ControlRun:
    """Claim-level and per-row verdicts of one kind of control over ``reps`` replicates.

    ``rows`` maps each judged row's name to its verdicts, in replicate order, over the replicates
    that produced it (a replicate that raised counts as ERROR for every row).
    """

    kind: str
    claim: list[Verdict] = field(default_factory=list)
    rows: dict[str, list[Verdict]] = field(default_factory=dict)
    #: ``(replicate, message)`` of every replicate that raised.
    errors: list[tuple[int, str]] = field(default_factory=list)


#: One replicate's outcome: claim verdict (None: the claim has no control of that kind),
#: judged row verdicts by name, error message.
_Outcome = tuple[str | None, dict[str, str], str | None]


def _one(claim: Claim, profile: str, kind: str, seed: int, r: int, prediction: dict) -> _Outcome:
    rng = np.random.default_rng(derive_seed(seed, claim.id, kind, r))
    try:
        results = claim.synthetic(profile, kind, rng)
        if results is None:
            return None, {}, None
        ms = claim.measure(profile, derive_seed(seed, claim.id, kind, r, "measure"), results, copy.deepcopy(prediction))
    except Exception as exc:  # noqa: BLE001 - a control that breaks is counted as ERROR, with its message
        return Verdict.ERROR.value, {}, f"{type(exc).__name__}: {exc}"
    judged = [m for m in ms if m.judged]
    return combine_verdicts([m.verdict for m in judged]).value, {m.name: m.verdict.value for m in judged}, None


def _run_block(claim: Claim, profile: str, kind: str, seed: int, r0: int, r1: int) -> tuple[list[_Outcome], float]:
    """Replicates ``r0 .. r1-1`` of one kind (run in a worker process or in this one), and their seconds."""
    t0 = time.perf_counter()
    try:
        prediction = claim.predict(profile)
    except Exception as exc:  # noqa: BLE001 - a prediction that breaks makes every replicate an ERROR
        msg = f"predict: {type(exc).__name__}: {exc}"
        return [(Verdict.ERROR.value, {}, msg)] * (r1 - r0), time.perf_counter() - t0
    out = [_one(claim, profile, kind, seed, r, prediction) for r in range(r0, r1)]
    return out, time.perf_counter() - t0


def _assemble(kind: str, outcomes: list[_Outcome]) -> ControlRun | None:
    """A :class:`ControlRun` from replicate outcomes in order; ``None`` when the claim has no such control."""
    if not outcomes or all(v is None and err is None for v, _, err in outcomes):
        return None
    run = ControlRun(kind=kind)
    names = list(dict.fromkeys(name for _, rows, _ in outcomes for name in rows))
    for r, (v, rows, err) in enumerate(outcomes):
        if v is None:  # a control that exists for some replicates only: this one is broken
            v, err = Verdict.ERROR.value, "synthetic() returned None for this replicate only"
        run.claim.append(Verdict(v))
        for name in names:
            if name in rows or err is not None:
                run.rows.setdefault(name, []).append(Verdict(rows.get(name, Verdict.ERROR.value)))
        if err is not None:
            run.errors.append((r, err))
    return run


def run_controls(claim: Claim, profile: str, kind: str, reps: int, seed: int) -> ControlRun | None:
    """Push ``reps`` replicates of the ``kind`` control through ``claim.measure``; ``None`` if it has none."""
    if kind not in CONTROL_KINDS:
        raise DiffapproxError("kind", f"one of {', '.join(CONTROL_KINDS)}", kind)
    reps = check_int("reps", reps, 1)
    return _assemble(kind, _run_block(claim, profile, kind, seed, 0, reps)[0])


def controls_of(claim: Claim) -> str | None:
    """Why ``claim`` has no synthetic controls (its ``uncalibrated``), or ``None`` when it has them."""
    if claim.uncalibrated is not None:
        return str(claim.uncalibrated)
    if type(claim).synthetic is Claim.synthetic:
        return "no synthetic controls: the claim does not implement synthetic() and does not say why"
    return None


# ---------------------------------------------------------------------------
# What a calibration covers: the claim's source
# ---------------------------------------------------------------------------
def _imported_modules(name: str, path: Path, is_package: bool) -> set[str]:
    """Modules of ``name``'s own top-level package that its source imports (inside functions too)."""
    top = name.split(".")[0]
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            try:
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), package or None)
            except (ImportError, ValueError):
                continue
            if base.split(".")[0] != top:
                continue
            subs = {f"{base}.{a.name}" for a in node.names if _source_file(f"{base}.{a.name}") is not None}
            # `from pkg import module` imports the module; `from pkg import name` the package's own code
            found |= subs if len(subs) == len(node.names) else subs | {base}
    return {m for m in found if m.split(".")[0] == top and m != name}


def _source_file(name: str) -> tuple[Path, bool] | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin), spec.submodule_search_locations is not None


def source_modules(claim: Claim) -> dict[str, Path]:
    """The modules a claim's calibration covers: its own module and the helpers it imports, by name.

    Starting from the module defining the claim's class, every module of the same top-level
    package (e.g. ``diffapprox_claims``) imported by it is added, recursively (``diffapprox_claims._common``
    imported by ``diffapprox_claims.paper._lemmas`` imported by ``diffapprox_claims.paper.norm_bound``).  The diffapprox
    library itself (statistics, engine, limits) is not covered: a change there is a change of
    every claim and calls for a new calibration run of all of them.
    """
    name = type(claim).__module__
    todo, out = [name], {}
    while todo:
        mod = todo.pop()
        src = _source_file(mod)
        if mod in out or src is None:
            continue
        out[mod] = src[0]
        todo += sorted(_imported_modules(mod, *src) - set(out))
    return dict(sorted(out.items()))


def claim_source_hash(claim: Claim) -> str | None:
    """A content hash of the claim's source: ``sha256:`` + 16 hex digits, or ``None`` without source.

    Covers the text of :func:`source_modules` (the claim's module and the helper modules of its own
    package it imports, recursively), each with its module name, line endings normalised; not the
    diffapprox library.  ``diffapprox validate`` marks a claim's calibration *stale* when this hash
    differs from the one stored by ``diffapprox calibrate``.
    """
    mods = source_modules(claim)
    if not mods:
        try:
            text = inspect.getsource(type(claim))
        except (OSError, TypeError):
            return None
        mods_text = [(type(claim).__qualname__, text)]
    else:
        mods_text = [(m, p.read_text(encoding="utf-8")) for m, p in mods.items()]
    h = hashlib.sha256()
    for m, text in mods_text:
        h.update(m.encode() + b"\0" + text.replace("\r\n", "\n").encode() + b"\0")
    return "sha256:" + h.hexdigest()[:16]


# ---------------------------------------------------------------------------
# diffapprox calibrate
# ---------------------------------------------------------------------------
def _blocks(reps: int, jobs: int) -> list[tuple[int, int]]:
    """Replicate ranges: about four per worker and kind, at most 25 replicates each, so that the last block
    to finish keeps one worker busy only briefly (the rates do not depend on the blocks)."""
    size = max(1, min(25, -(-reps // (4 * jobs))))
    return [(r0, min(reps, r0 + size)) for r0 in range(0, reps, size)]


def _picklable(claim: Claim) -> bool:
    try:
        pickle.dumps(claim)
    except Exception:  # noqa: BLE001 - any failure means: run this claim in this process
        return False
    return True


def _claim_entry(claim: Claim, runs: dict[str, ControlRun | None], seconds: float) -> dict:
    """One claim of the calibrate schema from its control runs."""
    null, alt, lim = (runs.get(k) for k in CONTROL_KINDS)
    entry = {"id": claim.id, "calibrated": True, "reason": None, "source_hash": claim_source_hash(claim)}
    if null is None:
        return _uncalibrated(claim, "synthetic() gives no null control") | {"elapsed_s": seconds}
    rates = {k: (None if r is None else Rates.of(r.claim)) for k, r in zip(CONTROL_KINDS, (null, alt, lim))}
    n_null = rates["null"]
    targets = {"null_fail": target_state(n_null.fail + n_null.error, n_null.reps, "null")}
    targets["power"] = (
        "missed" if alt is None else target_state(rates["alternative"].fail, rates["alternative"].reps, "power")
    )
    names = list(dict.fromkeys([*null.rows, *(alt.rows if alt else {})]))
    rows = [
        {
            "name": n,
            "null": Rates.of(null.rows[n]).to_json() if n in null.rows else None,
            "alternative": Rates.of(alt.rows[n]).to_json() if alt and n in alt.rows else None,
        }
        for n in names
    ]
    errors = _error_lines([r for r in (null, alt, lim) if r])
    return entry | {
        "elapsed_s": seconds,
        **{k: (None if v is None else v.to_json()) for k, v in rates.items()},
        "targets": targets,
        "errors": errors,
        "measurements": rows,
    }


def _error_lines(runs: list[ControlRun]) -> list[str]:
    """``"kind: message (replicates 0, 3, 7 and 12 more)"``, one line per distinct message."""
    groups: dict[str, list[int]] = {}
    for run in runs:
        for r, msg in run.errors:
            groups.setdefault(f"{run.kind}: {msg}", []).append(r)
    out = []
    for key, rs in groups.items():
        shown = ", ".join(map(str, rs[:5])) + (f" and {len(rs) - 5} more" if len(rs) > 5 else "")
        out.append(f"{key} (replicate{'s' if len(rs) > 1 else ''} {shown})")
    return out


def _uncalibrated(claim: Claim, reason: str) -> dict:
    return {
        "id": claim.id,
        "calibrated": False,
        "reason": reason,
        "source_hash": claim_source_hash(claim),
        "elapsed_s": 0.0,
        "null": None,
        "alternative": None,
        "limit": None,
        "targets": None,
        "errors": [],
        "measurements": [],
    }


def _progress_line(entry: dict) -> str:
    if not entry["calibrated"]:
        return f"calibrate: {entry['id']}: not calibrated ({entry['reason']})"
    n, a = entry["null"], entry["alternative"]
    power = "no alternative" if a is None else f"power {a['fail']:.1%}"
    return (
        f"calibrate: {entry['id']}: {entry['elapsed_s']:.1f} s, null FAIL {n['fail']:.1%}, {power} "
        f"(targets: null {entry['targets']['null_fail']}, power {entry['targets']['power']})"
    )


def calibrate(
    claims: list[Claim],
    *,
    profile: str,
    reps: int,
    seed: int,
    jobs: int = 1,
    progress: bool = True,
    stream=None,
) -> dict:
    """Run the synthetic controls of ``claims``; return the ``diffapprox.calibrate/1`` document.

    Parameters
    ----------
    claims : list of Claim
    profile : {"quick", "standard", "paper"}
        The sizes (paths, records) at which the controls are drawn.
    reps : int
        Replicates per kind of control (>= 1; targets are stated from :data:`MIN_REPS`).
    seed : int
        Master seed; replicate ``r`` of ``kind`` draws from ``derive_seed(seed, claim id, kind, r)``.
    jobs : int
        Worker processes (1: run everything in this process).  The result does not depend on it.
    progress : bool
        One line per finished claim on ``stream`` (stderr), with its seconds.

    Returns
    -------
    dict
        ``{"schema", "profile", "reps", "seed", "date", "smoke_run", "targets", "claims": [...]}``;
        each claim ``{"id", "calibrated", "reason", "source_hash", "elapsed_s", "null", "alternative",
        "limit", "targets", "errors", "measurements": [{"name", "null", "alternative"}]}`` with
        ``RATES = {"fail", "inconclusive", "pass", "error", "reps", "fail_ci"}``.
    """
    if profile not in PROFILES:
        raise DiffapproxError("profile", f"one of {', '.join(PROFILES)}", profile)
    reps, seed, jobs = check_int("reps", reps, 1), check_int("seed", seed, 0), check_int("jobs", jobs, 1)
    stream = sys.stderr if stream is None else stream
    t_start = time.perf_counter()
    started = datetime.now(timezone.utc)
    tasks = [
        (c, kind, r0, r1)
        for c in claims
        if controls_of(c) is None
        for kind in CONTROL_KINDS
        for r0, r1 in _blocks(reps, jobs)
    ]
    outcomes, seconds = _run_tasks(tasks, profile, seed, jobs, progress, stream)
    entries = []
    for c in claims:
        why = controls_of(c)
        if why is not None:
            entries.append(_uncalibrated(c, why))
            continue
        runs = {k: _assemble(k, outcomes[(c.id, k)]) for k in CONTROL_KINDS}
        entries.append(_claim_entry(c, runs, round(seconds[c.id], 3)))
    return {
        "schema": CALIBRATE_SCHEMA,
        "profile": profile,
        "reps": reps,
        "seed": seed,
        "date": started.strftime("%Y-%m-%d"),
        "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "smoke_run": reps < MIN_REPS,
        "min_reps": MIN_REPS,
        "targets": {
            "null_fail_max": stats.NULL_FAIL_TARGET,
            "power_min": stats.POWER_TARGET,
            "rule": TARGET_RULE,
        },
        "jobs": jobs,
        "elapsed_s": round(time.perf_counter() - t_start, 3),
        "claims": entries,
    }


def _run_tasks(tasks: list, profile: str, seed: int, jobs: int, progress: bool, stream):
    """Run the replicate blocks, in a pool of ``jobs`` processes when ``jobs > 1``; outcomes in replicate order."""
    left = Counter(c.id for c, *_ in tasks)
    parts: dict[tuple[str, str], dict[int, list[_Outcome]]] = {}
    seconds: Counter = Counter()

    def done(c: Claim, kind: str, r0: int, res: list[_Outcome], secs: float) -> None:
        parts.setdefault((c.id, kind), {})[r0] = res
        seconds[c.id] += secs
        left[c.id] -= 1
        if progress and left[c.id] == 0:
            runs = {k: _assemble(k, _ordered(parts.get((c.id, k), {}))) for k in CONTROL_KINDS}
            stream.write(_progress_line(_claim_entry(c, runs, seconds[c.id])) + "\n")
            stream.flush()

    sendable = {c.id: jobs > 1 and _picklable(c) for c, *_ in tasks}
    remote = [t for t in tasks if sendable[t[0].id]]
    local = [t for t in tasks if not sendable[t[0].id]]
    with ExitStack() as stack:
        futs = {}
        if remote:
            # spawn, not fork: a forked numba or BLAS thread pool can deadlock the child
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")))
            futs = {
                pool.submit(_run_block, c, profile, kind, seed, r0, r1): (c, kind, r0) for c, kind, r0, r1 in remote
            }
        for c, kind, r0, r1 in local:  # while the workers run the others
            done(c, kind, r0, *_run_block(c, profile, kind, seed, r0, r1))
        for f in as_completed(futs):
            done(*futs[f], *f.result())
    return {key: _ordered(p) for key, p in parts.items()}, seconds


def _ordered(blocks: dict[int, list[_Outcome]]) -> list[_Outcome]:
    return [o for r0 in sorted(blocks) for o in blocks[r0]]


# ---------------------------------------------------------------------------
# The committed calibration, read by diffapprox validate
# ---------------------------------------------------------------------------
def default_calibration_paths(profile: str) -> list[Path]:
    """Where ``validate`` looks for ``calibration-<profile>.json`` when no file is given, in order.

    ``reports/`` under the current directory (where ``validate`` writes by default), then the
    ``reports/`` folder of the source checkout this package runs from (an editable install).  An
    installed wheel has no checkout: pass ``--calibration FILE`` (a missing file is not an error:
    the results then say ``calibration: null`` and why).
    """
    name = f"calibration-{profile}.json"
    paths = [Path("reports") / name, Path(__file__).resolve().parents[2] / "reports" / name]
    return list(dict.fromkeys(paths))


def load_calibration(path: str | Path) -> dict:
    """Read a ``diffapprox calibrate`` JSON file; :class:`DiffapproxError` when it is not one."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DiffapproxError("--calibration", "a readable calibrate JSON file", f"{p} ({exc.strerror})") from None
    except (ValueError, UnicodeDecodeError):
        raise DiffapproxError("--calibration", "a calibrate JSON file (valid JSON)", str(p)) from None
    if not isinstance(doc, dict) or doc.get("schema") != CALIBRATE_SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise DiffapproxError("--calibration", f"a file with schema {CALIBRATE_SCHEMA!r}", found)
    claims = doc.get("claims")
    if not isinstance(claims, list) or not all(isinstance(c, dict) and isinstance(c.get("id"), str) for c in claims):
        raise DiffapproxError("--calibration", "a 'claims' list of objects with an 'id'", str(p))
    for key in ("profile", "reps", "seed", "date"):
        if key not in doc:
            raise DiffapproxError("--calibration", f"a file with a {key!r} entry", str(p))
    return doc


def find_calibration(profile: str, path: str | Path | None = None) -> tuple[dict | None, dict]:
    """The calibration ``validate`` uses, and what ``results.json`` says about it.

    Returns ``(document or None, info)``; ``info`` is ``{"path", "profile", "reps", "seed", "date",
    "smoke_run"}`` for a file found, else ``{"path": None, "note": ...}`` saying where it looked.
    A given ``path`` that does not exist is not an error either (the note says so); a file that
    exists but is not a calibrate output is (:func:`load_calibration`).
    """
    candidates = [Path(path)] if path is not None else default_calibration_paths(profile)
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        where = ", ".join(str(p) for p in candidates)
        note = (
            f"no calibration file ({where} not found): per-claim calibration is null; "
            f"run diffapprox calibrate --profile {profile} --json FILE and pass --calibration FILE"
        )
        return None, {"path": None, "note": note}
    doc = load_calibration(found)
    return doc, {"path": str(found), **_file_facts(doc)}


def _file_facts(doc: dict) -> dict:
    """``{profile, reps, seed, date, smoke_run}`` of a calibrate document (a smoke run: fewer than :data:`MIN_REPS`)."""
    facts = {k: doc.get(k) for k in ("profile", "reps", "seed", "date")}
    return facts | {"smoke_run": bool(doc.get("smoke_run", doc["reps"] < MIN_REPS))}


def _fail(rates: dict | None, target: str | None) -> dict | None:
    if rates is None:
        return None
    return {"rate": rates.get("fail"), "ci": rates.get("fail_ci"), "reps": rates.get("reps"), "target": target}


def claim_calibration(claim: Claim, doc: dict | None, profile: str | None = None) -> dict | None:
    """The per-claim ``calibration`` block of ``results.json`` from a calibrate document (``None`` without one).

    ``{profile, reps, seed, date, smoke_run, targets, calibrated, reason, null_fail, alternative_fail,
    limit_fail, stale, source_hash}``; each ``*_fail`` is ``{rate, ci, reps, target}`` (``target``:
    met / missed / undecided, none for the limit); ``stale`` is true when the claim's source hash
    (:func:`claim_source_hash`) differs from the one calibrated, ``None`` when either is unknown.
    """
    if doc is None:
        return None
    entry = next((c for c in doc["claims"] if c.get("id") == claim.id), None)
    block = _file_facts(doc)
    t = doc.get("targets") or {}
    block["targets"] = {"null_fail_max": t.get("null_fail_max"), "power_min": t.get("power_min")}
    if profile is not None and doc.get("profile") != profile:
        block["note"] = f"calibrated on profile {doc.get('profile')}, not on this run's profile {profile}"
    if entry is None:
        none = dict.fromkeys(("null_fail", "alternative_fail", "limit_fail", "stale", "source_hash"))
        return block | {"calibrated": False, "reason": "not in the calibration file"} | none
    now, then = claim_source_hash(claim), entry.get("source_hash")
    targets = entry.get("targets") or {}
    return block | {
        "calibrated": bool(entry.get("calibrated")),
        "reason": entry.get("reason"),
        "null_fail": _fail(entry.get("null"), targets.get("null_fail")),
        "alternative_fail": _fail(entry.get("alternative"), targets.get("power")),
        "limit_fail": _fail(entry.get("limit"), None),
        "stale": None if now is None or then is None else now != then,
        "source_hash": then,
    }
