"""Controls through the real pipeline: a claim's own cell code and ``measure`` run on data of known truth.

For each claim and control (:class:`~diffapprox.Control`: ``edge``, ``exact``, ``family:<name>``,
``outside``, ``mutant:<name>``) and replicate ``r``, the claim lists its cells under the replicate's
seed ``derive_seed(seed, claim id, control, r)``; :meth:`~diffapprox.Claim.control_data` draws each
cell's per-path arrays from ``derive_seed(seed, claim id, control, r, cell key)``, and the claim's
own :meth:`~diffapprox.Claim.summarize` and :meth:`~diffapprox.Claim.measure` judge them.  Mutants
run the real simulator (:meth:`~diffapprox.Claim.run_cell`) once per replicate and judge the same
summaries against every planted prediction (:meth:`~diffapprox.Claim.mutate`).  No control writes an
estimate, a CI or a bootstrap replicate.

The rates of PASS / FAIL / INCONCLUSIVE / ERROR over the replicates, per claim, per row family and per
judged row, with Wilson CIs, give the claim's operating characteristics (:data:`TARGET_RULE`):
``false_fail`` (edge), ``confirm`` (exact), ``worst_family_power`` (family), ``false_pass`` (outside)
and each mutant's rate in its stated direction.  Replicate ``r`` depends on nothing but ``(seed,
claim, control, r)``, so the rates are identical whatever runs them: local processes, a Dask cluster,
blocks resumed from checkpoints.

Claims that still implement only the older :meth:`~diffapprox.Claim.synthetic` (cell summaries
written directly) run it for one version, as ``edge`` (its null), ``family:all`` (its alternative)
and ``exact`` (its limit), with source ``summary`` and a DeprecationWarning.

:func:`calibrate` is ``diffapprox calibrate``; its output (schema :data:`CALIBRATE_SCHEMA`) is
committed as ``reports/calibration-<profile>.json`` and read back by ``diffapprox validate``
(:func:`find_calibration`, :func:`claim_calibration`), which flags a claim whose code, or the
library code its controls run, changed since (:func:`claim_source_hash`, :func:`library_hash`).
"""

from __future__ import annotations

import ast
import copy
import hashlib
import importlib.util
import inspect
import json
import math
import os
import pickle
import signal
import sys
import time
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from .._core.errors import DiffapproxError, check_int
from .._core.jsonio import jsonable
from .._core.results import Verdict, combine_verdicts
from .._core.seeds import derive_seed
from .. import stats
from .claims import PROFILES, Claim, Control
from .execute import _worker_stop

__all__ = [
    "CALIBRATE_SCHEMA",
    "READABLE_CALIBRATE_SCHEMAS",
    "MIN_REPS",
    "MIN_MUTANT_REPS",
    "TARGET_RULE",
    "Rates",
    "ControlRun",
    "run_controls",
    "controls_of",
    "control_names",
    "target_state",
    "claim_source_hash",
    "library_hash",
    "source_modules",
    "calibrate",
    "load_calibration",
    "find_calibration",
    "default_calibration_paths",
    "claim_calibration",
]

#: Schema id of ``diffapprox calibrate``'s JSON.
CALIBRATE_SCHEMA = "diffapprox.calibrate/2"
#: Schemas ``validate`` reads (calibrate/1: null, alternative and limit controls of summaries).
READABLE_CALIBRATE_SCHEMAS = ("diffapprox.calibrate/1", CALIBRATE_SCHEMA)

#: Replicates of the edge, exact, family and outside controls from which the targets are stated;
#: fewer is a smoke run (a 95% Wilson CI over fewer replicates is too wide to settle a 5% rate).
MIN_REPS = 200
#: Replicates of each mutant (the real simulator, one run of the claim per replicate).
MIN_MUTANT_REPS = 50

#: Level of the Wilson CI of every rate.
RATE_LEVEL = 0.95
#: The confirm and mutant targets: PASS under ``exact`` (resp. the stated verdict) in at least this share.
CONFIRM_TARGET = 0.8
MUTANT_TARGET = 0.8

#: How the targets are judged (stated before any control is run).
TARGET_RULE = (
    f"Rates over replicates with {RATE_LEVEL:.0%} Wilson CIs. false FAIL (edge: every judged truth on its band's "
    f"edge; ERROR counted as FAIL) met when the whole CI lies in [0, {stats.NULL_FAIL_TARGET:g}]; power (family:<f>: "
    f"one row family beyond its band by its effect, the rest exact) met for every family when each FAIL rate's whole "
    f"CI lies in [{stats.POWER_TARGET:g}, 1]; false PASS (outside: every judged truth beyond its edge by half its "
    f"effect) met when the whole CI lies in [0, {stats.NULL_FAIL_TARGET:g}]; these missed when the CI lies entirely "
    f"on the other side, undecided otherwise. confirm (exact: data from the limit judged against) met when the PASS "
    f"rate is >= {CONFIRM_TARGET:g} (point estimate, CI shown), for claims whose rows lie inside their bands under "
    f"that limit; each mutant (real simulator, planted prediction) met when its stated verdict's rate is >= "
    f"{MUTANT_TARGET:g} (point estimate, CI shown). Targets are stated from {MIN_REPS} replicates per control and "
    f"{MIN_MUTANT_REPS} per mutant; fewer is a smoke run."
)

_STATE = {Verdict.PASS: "met", Verdict.FAIL: "missed", Verdict.INCONCLUSIVE: "undecided"}
#: Controls run by the older synthetic(): calibrate/2 name -> synthetic() kind.
_LEGACY = {"edge": "null", "family:all": "alternative", "exact": "limit"}
#: Keys of the per-row and per-family rates: the claim-level rates plus these.
_RATE_KEYS = ("fail", "inconclusive", "pass", "error")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rates:
    """Verdict counts over replicates, with the Wilson CIs of the FAIL and PASS rates."""

    fail: int
    inconclusive: int
    passed: int
    error: int
    reps: int
    fail_ci: tuple[float, float]
    pass_ci: tuple[float, float] = (math.nan, math.nan)

    @classmethod
    def of(cls, verdicts: list[Verdict], level: float = RATE_LEVEL) -> Rates:
        c = Counter(Verdict(v) for v in verdicts)
        n = len(verdicts)

        def ci(k):
            return tuple(float(x) for x in stats.proportion_ci(k, n, level).ci) if n else (math.nan, math.nan)

        return cls(
            fail=c[Verdict.FAIL],
            inconclusive=c[Verdict.INCONCLUSIVE],
            passed=c[Verdict.PASS],
            error=c[Verdict.ERROR],
            reps=n,
            fail_ci=ci(c[Verdict.FAIL]),
            pass_ci=ci(c[Verdict.PASS]),
        )

    def to_json(self) -> dict:
        """The ``RATES`` object of the calibrate schema: rates (fractions of ``reps``) and their CIs."""
        n = max(self.reps, 1)
        return {
            "fail": self.fail / n,
            "inconclusive": self.inconclusive / n,
            "pass": self.passed / n,
            "error": self.error / n,
            "reps": self.reps,
            "fail_ci": list(self.fail_ci),
            "pass_ci": list(self.pass_ci),
        }


def target_state(k: int, n: int, target: str) -> str:
    """``"met"``, ``"missed"`` or ``"undecided"``: a count ``k`` of ``n`` replicates against a target.

    ``target`` is ``"null"`` / ``"at_most"`` (the rate must stay <= :data:`~diffapprox.stats.NULL_FAIL_TARGET`)
    or ``"power"`` (the rate must reach >= :data:`~diffapprox.stats.POWER_TARGET`); judged by
    :func:`~diffapprox.stats.equivalence` of the Wilson CI of ``k/n`` against the target's band
    (:data:`TARGET_RULE`).  ``"confirm"`` and ``"mutant"`` compare the point estimate with 0.8.
    """
    if target in ("confirm", "mutant"):
        return "met" if n and k / n >= CONFIRM_TARGET else "missed"
    band = {"null": (0.0, stats.NULL_FAIL_TARGET), "at_most": (0.0, stats.NULL_FAIL_TARGET)}.get(
        target, (stats.POWER_TARGET, 1.0)
    )
    if target not in ("null", "at_most", "power"):
        raise DiffapproxError("target", "null, at_most, power, confirm or mutant", target)
    e = stats.proportion_ci(k, n, RATE_LEVEL)
    return _STATE[stats.equivalence(e.estimate, e.ci, band)]


@dataclass(slots=True, kw_only=True)
class ControlRun:
    """Claim-level and per-row verdicts of one control over its replicates.

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


def _judge(ms) -> _Outcome:
    judged = [m for m in ms if m.judged]
    return combine_verdicts([m.verdict for m in judged]).value, {m.name: m.verdict.value for m in judged}, None


def _error(exc: BaseException) -> _Outcome:
    return Verdict.ERROR.value, {}, f"{type(exc).__name__}: {exc}"


def _is_legacy(claim: Claim) -> bool:
    return type(claim).control_data is Claim.control_data and type(claim).synthetic is not Claim.synthetic


def _control_results(claim: Claim, profile: str, name: str, seed: int, r: int) -> dict[str, dict]:
    """Cell summaries of one replicate of control ``name``: control data through the claim's own cell code."""
    control = Control.parse(name)
    rep_seed = derive_seed(seed, claim.id, name, r)
    out = {}
    for cell in claim.cells(profile, rep_seed):
        rng = np.random.default_rng(derive_seed(seed, claim.id, name, r, cell.key))
        out[cell.key] = claim.summarize(cell, claim.control_data(cell, control, rng))
    return out


def _one(claim: Claim, profile: str, name: str, seed: int, r: int, prediction: dict) -> dict[str, _Outcome]:
    """Replicate ``r`` of control ``name`` (``mutant``: every mutant on one simulation), by control name."""
    measure_seed = derive_seed(seed, claim.id, name, r, "measure")
    if name == "mutant":
        try:
            rep_seed = derive_seed(seed, claim.id, name, r)
            results = {c.key: claim.run_cell(c) for c in claim.mutant_cells(profile, rep_seed)}
        except Exception as exc:  # noqa: BLE001 - a simulation that breaks is an ERROR of every mutant
            return {f"mutant:{m}": _error(exc) for m in claim.mutants(profile)}
        out = {}
        for m in claim.mutants(profile):
            try:
                planted = claim.mutate(profile, m, copy.deepcopy(prediction))
                out[f"mutant:{m}"] = _judge(claim.measure(profile, measure_seed, results, planted))
            except Exception as exc:  # noqa: BLE001 - a mutant that breaks is counted as ERROR, with its message
                out[f"mutant:{m}"] = _error(exc)
        return out
    try:
        if _is_legacy(claim):
            rng = np.random.default_rng(derive_seed(seed, claim.id, _LEGACY[name], r))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                results = claim.synthetic(profile, _LEGACY[name], rng)
            if results is None:
                return {name: (None, {}, None)}
            measure_seed = derive_seed(seed, claim.id, _LEGACY[name], r, "measure")
        else:
            results = _control_results(claim, profile, name, seed, r)
        return {name: _judge(claim.measure(profile, measure_seed, results, copy.deepcopy(prediction)))}
    except Exception as exc:  # noqa: BLE001 - a control that breaks is counted as ERROR, with its message
        return {name: _error(exc)}


def _run_block(claim: Claim, profile: str, name: str, seed: int, r0: int, r1: int) -> tuple[list[dict], float]:
    """Replicates ``r0 .. r1-1`` of one control (in a worker process, a Dask worker or this one), and their seconds."""
    t0 = time.perf_counter()
    try:
        prediction = claim.predict(profile)
    except Exception as exc:  # noqa: BLE001 - a prediction that breaks makes every replicate an ERROR
        names = [f"mutant:{m}" for m in claim.mutants(profile)] if name == "mutant" else [name]
        err = (Verdict.ERROR.value, {}, f"predict: {type(exc).__name__}: {exc}")
        return [dict.fromkeys(names, err) for _ in range(r0, r1)], time.perf_counter() - t0
    out = [_one(claim, profile, name, seed, r, prediction) for r in range(r0, r1)]
    return out, time.perf_counter() - t0


def _assemble(kind: str, outcomes: list[_Outcome]) -> ControlRun | None:
    """A :class:`ControlRun` from replicate outcomes in order; ``None`` when the claim has no such control."""
    if not outcomes or all(v is None and err is None for v, _, err in outcomes):
        return None
    run = ControlRun(kind=kind)
    names = list(dict.fromkeys(name for _, rows, _ in outcomes for name in rows))
    for r, (v, rows, err) in enumerate(outcomes):
        if v is None:  # a control that exists for some replicates only: this one is broken
            v, err = Verdict.ERROR.value, "the control gave no data for this replicate only"
        run.claim.append(Verdict(v))
        for name in names:
            if name in rows or err is not None:
                run.rows.setdefault(name, []).append(Verdict(rows.get(name, Verdict.ERROR.value)))
        if err is not None:
            run.errors.append((r, err))
    return run


def control_names(claim: Claim, profile: str) -> list[str]:
    """The controls of ``claim`` at ``profile``, by calibrate name; ``mutant`` stands for every mutant."""
    if _is_legacy(claim):
        return list(_LEGACY)
    kinds = claim.control_sources(profile)
    out = [k for k in ("edge", "exact") if k in kinds]
    if "family" in kinds:
        out += [f"family:{f}" for f in claim.families(profile)]
    out += ["outside"] if "outside" in kinds else []
    return out + (["mutant"] if claim.mutants(profile) else [])


def run_controls(claim: Claim, profile: str, kind: str, reps: int, seed: int) -> ControlRun | None:
    """Push ``reps`` replicates of control ``kind`` (e.g. ``exact``, ``family:order``, ``mutant:time-scale=1.1``)
    through the claim's own cell code and ``measure``; ``None`` if it has no such control."""
    reps = check_int("reps", reps, 1)
    if _is_legacy(claim):  # the deprecated synthetic() kinds name its controls too
        kind = {v: k for k, v in _LEGACY.items()}.get(kind, kind)
    Control.parse(kind)  # a bad name is a one-line error
    name = "mutant" if kind.startswith("mutant:") else kind
    if name not in control_names(claim, profile):
        return None
    blocks, _ = _run_block(claim, profile, name, seed, 0, reps)
    return _assemble(kind, [b.get(kind, (None, {}, None)) for b in blocks])


def controls_of(claim: Claim) -> str | None:
    """Why ``claim`` has no controls (its ``uncalibrated``), or ``None`` when it has them."""
    if claim.uncalibrated is not None:
        return str(claim.uncalibrated)
    if type(claim).control_data is Claim.control_data and type(claim).synthetic is Claim.synthetic:
        return "no controls: the claim implements neither control_data() nor synthetic() and does not say why"
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


#: The library modules whose code sets a control's numbers: the simulator, the limits, the networks,
#: the statistics, the seeds and the control truths (:class:`~diffapprox.Control`).  The public
#: namespace, result types, reports, command line and run machinery only carry those numbers.
_RUN_BY_CONTROLS = (
    "diffapprox._engine",
    "diffapprox._theory",
    "diffapprox._experiments",
    "diffapprox.stats",
    "diffapprox._core.seeds",
    "diffapprox._run.claims",
)


def library_modules() -> dict[str, Path]:
    """The library modules a control's numbers depend on, by name (see :data:`_RUN_BY_CONTROLS`)."""
    root = Path(__file__).resolve().parents[1]
    out = {}
    for f in sorted(root.rglob("*.py")):
        parts = list(f.relative_to(root.parent).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if any(name == m or name.startswith(m + ".") for m in _RUN_BY_CONTROLS):
            out[name] = f
    return out


def library_hash() -> str:
    """``sha256:`` + 16 hex digits over :func:`library_modules` (names and text, line endings normalised).

    A calibration is stale when this differs from the hash stored with it: a statistical rule, a
    limit or the engine changed under every claim's controls.
    """
    h = hashlib.sha256()
    for m, f in library_modules().items():
        h.update(m.encode() + b"\0" + f.read_text(encoding="utf-8").replace("\r\n", "\n").encode() + b"\0")
    return "sha256:" + h.hexdigest()[:16]


# ---------------------------------------------------------------------------
# diffapprox calibrate
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Block:
    """Replicates ``r0 .. r1-1`` of one control of one claim: the unit a worker runs and a checkpoint keeps."""

    claim: Claim
    name: str
    r0: int
    r1: int
    uses: str = "core"

    @property
    def key(self) -> str:
        return f"{self.name}/{self.r0}-{self.r1}"


def _blocks(reps: int, jobs: int, cap: int = 25) -> list[tuple[int, int]]:
    """Replicate ranges: about four per worker and control, at most ``cap`` replicates each, so that the last
    block to finish keeps one worker busy only briefly (the rates do not depend on the blocks)."""
    size = max(1, min(cap, -(-reps // (4 * jobs))))
    return [(r0, min(reps, r0 + size)) for r0 in range(0, reps, size)]


def _picklable(claim: Claim) -> bool:
    try:
        pickle.dumps(claim)
    except Exception:  # noqa: BLE001 - any failure means: run this claim in this process
        return False
    return True


def _rates_by_family(run: ControlRun, families: dict[str, tuple[str, ...]]) -> dict[str, dict]:
    """Per family: the combined verdict of its rows in each replicate, as rates."""
    out = {}
    for fam, prefixes in families.items():
        rows = [n for n in run.rows if n.startswith(tuple(prefixes))]
        if not rows:
            continue
        verdicts = [combine_verdicts([run.rows[n][i] for n in rows]) for i in range(len(run.claim))]
        out[fam] = Rates.of(verdicts).to_json()
    return out


def _summary(claim: Claim, profile: str, runs: dict[str, ControlRun]) -> dict:
    """The operating characteristics of one claim: false FAIL, confirm, worst family power, false PASS, mutants."""
    out = {"false_fail": None, "confirm": None, "worst_family_power": None, "false_pass": None, "mutants": {}}
    if (edge := runs.get("edge")) is not None:
        r = Rates.of(edge.claim)
        out["false_fail"] = {
            "rate": (r.fail + r.error) / r.reps,
            "ci": list(Rates.of([Verdict.FAIL if v is Verdict.ERROR else v for v in edge.claim]).fail_ci),
            "reps": r.reps,
            "state": target_state(r.fail + r.error, r.reps, "null"),
        }
    if (exact := runs.get("exact")) is not None:
        r = Rates.of(exact.claim)
        target = None if claim.confirm_note else CONFIRM_TARGET
        state = "no target" if target is None else target_state(r.passed, r.reps, "confirm")
        out["confirm"] = {"rate": r.passed / r.reps, "ci": list(r.pass_ci), "reps": r.reps, "state": state}
    fams = {k[len("family:") :]: Rates.of(v.claim) for k, v in runs.items() if k.startswith("family:")}
    if fams:
        worst = min(fams, key=lambda f: (fams[f].fail / fams[f].reps, f))
        states = [target_state(r.fail, r.reps, "power") for r in fams.values()]
        state = next((s for s in ("missed", "undecided") if s in states), "met")
        w = fams[worst]
        out["worst_family_power"] = {
            "family": worst,
            "rate": w.fail / w.reps,
            "ci": list(w.fail_ci),
            "reps": w.reps,
            "state": state,
        }
    if (outside := runs.get("outside")) is not None:
        r = Rates.of(outside.claim)
        row_pass = {n: Rates.of(v) for n, v in outside.rows.items()}
        worst_row = max(row_pass, key=lambda n: (row_pass[n].passed / max(row_pass[n].reps, 1), n), default=None)
        out["false_pass"] = {
            "rate": r.passed / r.reps,
            "ci": list(r.pass_ci),
            "reps": r.reps,
            "state": target_state(r.passed, r.reps, "at_most"),
            "worst_row": worst_row,
            "worst_row_rate": None if worst_row is None else row_pass[worst_row].passed / row_pass[worst_row].reps,
        }
    mutants = claim.mutants(profile) if not _is_legacy(claim) else {}
    for m, spec in mutants.items():
        run = runs.get(f"mutant:{m}")
        if run is None:
            continue
        k = sum(spec.met(v.value) for v in run.claim)
        ci = stats.proportion_ci(k, len(run.claim), RATE_LEVEL).ci
        out["mutants"][m] = {
            "expect": spec.expect,
            "note": spec.note,
            "rate": k / len(run.claim),
            "ci": [float(ci[0]), float(ci[1])],
            "reps": len(run.claim),
            "state": target_state(k, len(run.claim), "mutant"),
            "verdicts": Rates.of(run.claim).to_json(),
        }
    return out


def _sources(claim: Claim, profile: str) -> dict[str, dict]:
    if _is_legacy(claim):
        model = "cell summaries written by synthetic() (deprecated: the claim's cell code does not run)"
        return {k: {"source": "summary", "model": model} for k in ("edge", "family", "exact")}
    out = {k: {"source": v.source, "model": v.model} for k, v in claim.control_sources(profile).items()}
    if claim.mutants(profile):
        out["mutant"] = {"source": "simulator", "model": "the claim's own run_cell: the real simulator"}
    return out


def _claim_entry(claim: Claim, profile: str, runs: dict[str, ControlRun | None], seconds: float) -> dict:
    """One claim of the calibrate schema from its control runs."""
    runs = {k: v for k, v in runs.items() if v is not None}
    entry = _uncalibrated(claim, None) | {"calibrated": True, "elapsed_s": seconds}
    if not runs:
        return _uncalibrated(claim, "its controls gave no data") | {"elapsed_s": seconds}
    families = {} if _is_legacy(claim) else {k: list(v) for k, v in claim.families(profile).items()}
    controls = {}
    for name, run in runs.items():
        controls[name] = {
            "source": _sources(claim, profile).get(name.partition(":")[0], {}).get("source"),
            "claim": Rates.of(run.claim).to_json(),
            "families": _rates_by_family(run, families),
            "rows": {n: Rates.of(v).to_json() for n, v in run.rows.items()},
        }
    return entry | {
        "library_hash": library_hash(),
        "legacy": _is_legacy(claim),
        "families": families,
        "controls": controls,
        "summary": _summary(claim, profile, runs),
        "errors": _error_lines(list(runs.values())),
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


def _uncalibrated(claim: Claim, reason: str | None) -> dict:
    return {
        "id": claim.id,
        "about": getattr(claim, "about", "paper"),
        "calibrated": False,
        "reason": reason,
        "source_hash": claim_source_hash(claim),
        "sources": {},
        "confirm_target": None if claim.confirm_note else CONFIRM_TARGET,
        "confirm_note": claim.confirm_note,
        "elapsed_s": 0.0,
        "legacy": False,
        "families": {},
        "controls": {},
        "summary": None,
        "errors": [],
    }


def _fmt(x: dict | None, key: str = "rate") -> str:
    return "-" if x is None else f"{x[key]:.1%} ({x['state']})"


def _progress_line(entry: dict) -> str:
    if not entry["calibrated"]:
        return f"calibrate: {entry['id']}: not calibrated ({entry['reason']})"
    s = entry["summary"]
    mut = ", ".join(f"{m} {_fmt(v)}" for m, v in s["mutants"].items())
    return (
        f"calibrate: {entry['id']}: {entry['elapsed_s']:.1f} s, false FAIL {_fmt(s['false_fail'])}, "
        f"confirm {_fmt(s['confirm'])}, worst family power {_fmt(s['worst_family_power'])}, "
        f"false PASS {_fmt(s['false_pass'])}" + (f", mutants: {mut}" if mut else "")
    )


def calibrate(
    claims: list[Claim],
    *,
    profile: str,
    reps: int,
    seed: int,
    jobs: int = 1,
    mutant_reps: int | None = None,
    kinds: list[str] | None = None,
    executor=None,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    stream=None,
) -> dict:
    """Run the controls of ``claims`` through their own cell code; return the ``diffapprox.calibrate/2`` document.

    Parameters
    ----------
    claims : list of Claim
    profile : {"quick", "standard", "paper"}
        The sizes (cells, paths) at which the controls run.
    reps : int
        Replicates of each edge, exact, family and outside control (targets stated from :data:`MIN_REPS`).
    seed : int
        Master seed; replicate ``r`` of control ``c`` depends only on ``derive_seed(seed, claim id, c, r)``.
    jobs : int
        Worker processes (1: run everything in this process); ignored with ``executor``.  The result
        does not depend on it.
    mutant_reps : int or None
        Replicates of the mutants (default ``min(reps, MIN_MUTANT_REPS)``).
    kinds : list of str or None
        Controls to run: ``edge``, ``exact``, ``family``, ``outside``, ``mutant`` (default: all).
    executor : object with ``map(fn, tasks)`` or None
        A Dask executor (:class:`diffapprox._run.dask.DaskExecutor`) to run the replicate blocks on.
    checkpoint_dir : path or None
        Keep each finished block as JSON there and reuse blocks already there (same claim code,
        profile, seed and replicates): an interrupted calibration resumes where it stopped.
    progress : bool
        Progress lines on ``stream`` (stderr): blocks done, an ETA, one line per finished claim.

    Returns
    -------
    dict
        ``{"schema", "profile", "reps", "mutant_reps", "seed", "date", "smoke_run", "targets",
        "library_hash", "claims": [...]}``; each claim ``{"id", "about", "calibrated", "reason",
        "source_hash", "sources", "confirm_target", "confirm_note", "elapsed_s", "legacy", "families",
        "controls": {name: {"source", "claim": RATES, "families": {f: RATES}, "rows": {row: RATES}}},
        "summary": {"false_fail", "confirm", "worst_family_power", "false_pass", "mutants"}, "errors"}``
        with ``RATES = {"fail", "inconclusive", "pass", "error", "reps", "fail_ci", "pass_ci"}``.
    """
    if profile not in PROFILES:
        raise DiffapproxError("profile", f"one of {', '.join(PROFILES)}", profile)
    reps, seed, jobs = check_int("reps", reps, 1), check_int("seed", seed, 0), check_int("jobs", jobs, 1)
    mutant_reps = min(reps, MIN_MUTANT_REPS) if mutant_reps is None else check_int("mutant_reps", mutant_reps, 1)
    kinds = list(kinds) if kinds else ["edge", "exact", "family", "outside", "mutant"]
    bad = [k for k in kinds if k not in ("edge", "exact", "family", "outside", "mutant")]
    if bad:
        raise DiffapproxError("kinds", "edge, exact, family, outside, mutant", ",".join(bad))
    stream = sys.stderr if stream is None else stream
    for c in claims:
        if controls_of(c) is None and _is_legacy(c):
            warnings.warn(
                f"claim {c.id}: synthetic() is deprecated (its summaries never run the claim's own cell code); "
                "implement control_data() with simulate_cell() and summarize()",
                DeprecationWarning,
                stacklevel=2,
            )
    t_start = time.perf_counter()
    started = datetime.now(timezone.utc)
    workers = getattr(executor, "n_workers", None) or jobs
    tasks = []
    for c in claims:
        if controls_of(c) is not None:
            continue
        for name in control_names(c, profile):
            if name.partition(":")[0] not in kinds:
                continue
            n, cap = (mutant_reps, 2) if name == "mutant" else (reps, 25)
            tasks += [_Block(c, name, r0, r1) for r0, r1 in _blocks(n, workers, cap)]
    ckpt = None if checkpoint_dir is None else _Checkpoints(Path(checkpoint_dir), profile, seed)
    outcomes, seconds = _run_tasks(tasks, profile, seed, jobs, executor, ckpt, progress, stream)
    entries = []
    for c in claims:
        why = controls_of(c)
        if why is not None:
            entries.append(_uncalibrated(c, why))
            continue
        entries.append(_claim_entry(c, profile, _runs_of(c, profile, outcomes), round(seconds[c.id], 3)))
        entries[-1]["sources"] = _sources(c, profile)
    return {
        "schema": CALIBRATE_SCHEMA,
        "profile": profile,
        "reps": reps,
        "mutant_reps": mutant_reps,
        "kinds": kinds,
        "seed": seed,
        "date": started.strftime("%Y-%m-%d"),
        "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "smoke_run": reps < MIN_REPS or mutant_reps < MIN_MUTANT_REPS,
        "min_reps": MIN_REPS,
        "min_mutant_reps": MIN_MUTANT_REPS,
        "library_hash": library_hash(),
        "targets": {
            "false_fail_max": stats.NULL_FAIL_TARGET,
            "power_min": stats.POWER_TARGET,
            "false_pass_max": stats.NULL_FAIL_TARGET,
            "confirm_min": CONFIRM_TARGET,
            "mutant_min": MUTANT_TARGET,
            "rule": TARGET_RULE,
            "decision_rule": stats.DECISION_RULE,
        },
        "jobs": workers,
        "elapsed_s": round(time.perf_counter() - t_start, 3),
        "claims": entries,
    }


def _runs_of(claim: Claim, profile: str, outcomes: dict) -> dict[str, ControlRun | None]:
    """Control runs of one claim from the replicate outcomes (each mutant its own run)."""
    runs = {}
    for name in control_names(claim, profile):
        blocks = outcomes.get((claim.id, name))
        if blocks is None:
            continue
        if name == "mutant":
            for m in claim.mutants(profile):
                runs[f"mutant:{m}"] = _assemble(f"mutant:{m}", [b[f"mutant:{m}"] for b in blocks])
        else:
            runs[name] = _assemble(name, [b[name] for b in blocks])
    return runs


class _Checkpoints:
    """Finished replicate blocks kept as JSON (data, never code) under ``root/<claim>/``."""

    def __init__(self, root: Path, profile: str, seed: int):
        self.root, self.profile, self.seed = root, profile, seed
        self.lib = library_hash()

    def _path(self, b: _Block) -> Path:
        return self.root / b.claim.id / (b.key.replace("/", "__").replace(":", "_") + ".json")

    def _stamp(self, b: _Block) -> dict:
        return {
            "claim": b.claim.id,
            "control": b.name,
            "r0": b.r0,
            "r1": b.r1,
            "profile": self.profile,
            "seed": self.seed,
            "source_hash": claim_source_hash(b.claim),
            "library_hash": self.lib,
        }

    def load(self, b: _Block) -> tuple[list[dict], float] | None:
        try:
            doc = json.loads(self._path(b).read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        if not isinstance(doc, dict) or doc.get("stamp") != self._stamp(b):
            return None
        out = doc.get("outcomes")
        if not isinstance(out, list) or len(out) != b.r1 - b.r0:
            return None
        return [{k: (v[0], dict(v[1]), v[2]) for k, v in o.items()} for o in out], float(doc.get("seconds", 0.0))

    def save(self, b: _Block, outcomes: list[dict], seconds: float) -> None:
        p = self._path(b)
        p.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "stamp": self._stamp(b),
            "seconds": seconds,
            "outcomes": [{k: list(v) for k, v in o.items()} for o in outcomes],
        }
        tmp = p.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(jsonable(doc)), encoding="utf-8")
        os.replace(tmp, p)


def _block_task(args: tuple) -> tuple[list[dict], float]:
    """What a worker runs: one replicate block (a module-level function, so that it pickles)."""
    block, profile, seed = args
    return _run_block(block.claim, profile, block.name, seed, block.r0, block.r1)


@dataclass(slots=True)
class _DaskTask:
    """A block as a Dask cell: ``uses`` and a readable key for the executor's packing and task names."""

    args: tuple
    claim: str
    key: str
    uses: str = "core"


def _dask_task(t: _DaskTask) -> tuple[list[dict], float]:
    return _block_task(t.args)


class _Progress:
    """Blocks done, seconds per replicate per (claim, control kind), and the ETA they give."""

    def __init__(self, tasks: list[_Block], workers: int, stream, on: bool):
        self.left = {id(t): t for t in tasks}
        self.workers, self.stream, self.on = max(1, workers), stream, on
        self.per_rep: dict[tuple[str, str], list[float]] = {}
        self.t0, self.done, self.total = time.perf_counter(), 0, len(tasks)

    def finished(self, b: _Block, seconds: float, cached: bool) -> None:
        self.left.pop(id(b), None)
        self.done += 1
        if not cached:
            self.per_rep.setdefault((b.claim.id, b.name.partition(":")[0]), []).append(seconds / (b.r1 - b.r0))
        if self.on and (self.done == self.total or self.done % max(1, self.total // 20) == 0):
            self.stream.write(f"calibrate: {self.done}/{self.total} blocks, {self._eta()}\n")
            self.stream.flush()

    def _eta(self) -> str:
        known = [x for v in self.per_rep.values() for x in v]
        if not known:
            return "ETA unknown"
        mean = sum(known) / len(known)
        rest = 0.0
        for b in self.left.values():
            v = self.per_rep.get((b.claim.id, b.name.partition(":")[0]))
            rest += (sum(v) / len(v) if v else mean) * (b.r1 - b.r0)
        s = int(round(rest / self.workers))
        return f"ETA {s // 60}m{s % 60:02d}s (elapsed {int(time.perf_counter() - self.t0)} s)"


def _run_tasks(tasks: list[_Block], profile: str, seed: int, jobs: int, executor, ckpt, progress: bool, stream):
    """Run the replicate blocks (checkpoints first, then a Dask executor, a process pool or this process)."""
    parts: dict[tuple[str, str], dict[int, list[dict]]] = {}
    seconds: Counter = Counter()
    left = Counter(t.claim.id for t in tasks)
    prog = _Progress(tasks, getattr(executor, "n_workers", None) or jobs, stream, progress)

    def done(b: _Block, res: list[dict], secs: float, cached: bool = False) -> None:
        parts.setdefault((b.claim.id, b.name), {})[b.r0] = res
        seconds[b.claim.id] += secs
        if ckpt is not None and not cached:
            ckpt.save(b, res, secs)
        prog.finished(b, secs, cached)
        left[b.claim.id] -= 1
        if progress and left[b.claim.id] == 0:
            runs = _runs_of(b.claim, profile, {k: _ordered(v) for k, v in parts.items()})
            stream.write(_progress_line(_claim_entry(b.claim, profile, runs, seconds[b.claim.id])) + "\n")
            stream.flush()

    todo = []
    for b in tasks:
        hit = None if ckpt is None else ckpt.load(b)
        if hit is not None:
            done(b, *hit, cached=True)
        else:
            todo.append(b)
    if executor is not None:
        dtasks = [_DaskTask((b, profile, seed), b.claim.id, b.key) for b in todo]
        by_task = {id(t): b for t, b in zip(dtasks, todo)}
        for t, (res, secs) in executor.map(_dask_task, dtasks):
            done(by_task[id(t)] if id(t) in by_task else _match(todo, t), res, secs)
        return {k: _ordered(v) for k, v in parts.items()}, seconds
    sendable = {b.claim.id: jobs > 1 and _picklable(b.claim) for b in todo}
    remote = [b for b in todo if sendable[b.claim.id]]
    local = [b for b in todo if not sendable[b.claim.id]]
    pool = None
    try:
        futs = {}
        if remote:
            # spawn, not fork: a forked numba or BLAS thread pool can deadlock the child
            pool = ProcessPoolExecutor(
                max_workers=jobs, mp_context=get_context("spawn"), initializer=_worker_init, initargs=(os.getpid(),)
            )
            futs = {pool.submit(_block_task, (b, profile, seed)): b for b in remote}
        for b in local:  # while the workers run the others
            done(b, *_run_block(b.claim, profile, b.name, seed, b.r0, b.r1))
        for f in as_completed(futs):
            done(futs[f], *f.result())
    except BaseException:  # Ctrl-C, SIGTERM (raised by the command line) or an error: no worker outlives the run
        if pool is not None:
            _stop_pool(pool)
            pool = None
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return {k: _ordered(v) for k, v in parts.items()}, seconds


def _worker_init(parent: int) -> None:  # pragma: no cover - runs in a worker process
    """Worker start: Ctrl-C is the parent's to handle, SIGTERM ends the worker at once, and on Linux the
    worker is sent SIGTERM when its parent dies (so a killed ``calibrate`` leaves no process behind)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_stop)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(128 + signal.SIGTERM)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a process pool at once: pending blocks cancelled, running ones dropped, every worker reaped."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.kill()
            p.join(5)


def _match(todo: list[_Block], t: _DaskTask) -> _Block:
    """The block a (possibly unpickled-and-returned) Dask task stands for."""
    return next(b for b in todo if b.claim.id == t.claim and b.key == t.key)


def _ordered(blocks: dict[int, list]) -> list:
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
    if not isinstance(doc, dict) or doc.get("schema") not in READABLE_CALIBRATE_SCHEMAS:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise DiffapproxError("--calibration", f"a file with schema {' or '.join(READABLE_CALIBRATE_SCHEMAS)}", found)
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


def _v1_summary(entry: dict) -> dict:
    """The operating characteristics a calibrate/1 entry can give: its null as edge, its alternative as one family."""
    t = entry.get("targets") or {}
    null, alt = entry.get("null"), entry.get("alternative")
    return {
        "false_fail": None if null is None else {**_fail(null, None), "state": t.get("null_fail")},
        "confirm": None,
        "worst_family_power": None if alt is None else {**_fail(alt, None), "family": "all", "state": t.get("power")},
        "false_pass": None,
        "mutants": {},
    }


def claim_calibration(claim: Claim, doc: dict | None, profile: str | None = None) -> dict | None:
    """The per-claim ``calibration`` block of ``results.json`` from a calibrate document (``None`` without one).

    ``{profile, reps, seed, date, smoke_run, targets, calibrated, reason, legacy, sources, confirm_target,
    confirm_note, false_fail, confirm, worst_family_power, false_pass, mutants, null_fail,
    alternative_fail, limit_fail, stale, source_hash}``: each operating characteristic is ``{rate, ci,
    reps, state}`` (:func:`calibrate`); ``null_fail`` / ``alternative_fail`` repeat the false FAIL and
    the worst family's power in the older ``{rate, ci, reps, target}`` shape.  ``stale`` is true when
    the claim's source hash (:func:`claim_source_hash`) or the library's (:func:`library_hash`)
    differs from the one calibrated, ``None`` when unknown.
    """
    if doc is None:
        return None
    entry = next((c for c in doc["claims"] if c.get("id") == claim.id), None)
    block = _file_facts(doc)
    t = doc.get("targets") or {}
    block["targets"] = {k: t.get(k) for k in ("false_fail_max", "power_min", "false_pass_max", "confirm_min")}
    if profile is not None and doc.get("profile") != profile:
        block["note"] = f"calibrated on profile {doc.get('profile')}, not on this run's profile {profile}"
    keys = ("false_fail", "confirm", "worst_family_power", "false_pass", "mutants", "null_fail", "alternative_fail")
    if entry is None:
        none = dict.fromkeys((*keys, "limit_fail", "stale", "source_hash"))
        return block | {"calibrated": False, "reason": "not in the calibration file"} | none
    v1 = doc.get("schema") == "diffapprox.calibrate/1"
    summary = (_v1_summary(entry) if v1 else entry.get("summary")) or dict.fromkeys(keys[:5])
    now, then = claim_source_hash(claim), entry.get("source_hash")
    stale = None if now is None or then is None else now != then
    lib = entry.get("library_hash", doc.get("library_hash"))  # per claim: files may be assembled from runs
    if not v1 and stale is False and lib is not None:
        stale = library_hash() != lib
    ff, wp = summary.get("false_fail"), summary.get("worst_family_power")
    return block | {
        "calibrated": bool(entry.get("calibrated")),
        "reason": entry.get("reason"),
        "legacy": bool(entry.get("legacy", v1)),
        "sources": entry.get("sources") or {},
        "confirm_target": entry.get("confirm_target"),
        "confirm_note": entry.get("confirm_note"),
        **{k: summary.get(k) for k in keys[:5]},
        "null_fail": None
        if ff is None
        else {k: ff.get(k) for k in ("rate", "ci", "reps")} | {"target": ff.get("state")},
        "alternative_fail": None
        if wp is None
        else {k: wp.get(k) for k in ("rate", "ci", "reps")} | {"target": wp.get("state")},
        "limit_fail": _fail(entry.get("limit"), None) if v1 else None,
        "stale": stale,
        "source_hash": then,
    }
