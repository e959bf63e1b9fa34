"""``results.json`` as typed, frozen objects: read and checked once, written back unchanged.

:meth:`Results.from_json` is the one place a ``results.json`` (this version's, or an older readable
schema, see :data:`~diffapprox._core.results.READABLE_SCHEMAS`) is checked; a bad file raises
:class:`~diffapprox.DiffapproxError` naming the field, e.g. ``claims[3].measurements[2].ci: expected a
pair of numbers or nulls, found 'x'``.  The reports, the ``--baseline`` regression and users read the
objects; :meth:`Results.to_json` writes back the keys the file carried (so a file round-trips), and
:meth:`Results.to_frame` gives the measurements as a pandas table.
"""

from __future__ import annotations

import shlex
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .errors import DiffapproxError
from .jsoncheck import (
    _bool,
    _choice,
    _bool_or_none,
    _clean,
    _figure,
    _int,
    _is_num,
    _list,
    _num,
    _obj,
    _obj_or_none,
    _str,
    _str_or_none,
    _strings,
)
from .jsonio import jsonable
from .results import READABLE_SCHEMAS, HistoryEntry, Measurement, Verdict

__all__ = [
    "Results",
    "ClaimRecord",
    "Calibration",
    "Environment",
    "ABOUT",
    "FRAME_COLUMNS",
    "measurement_from_json",
]

#: What a claim is about: the paper's statements, other papers' approximations, the toolkit's own rules.
ABOUT = ("paper", "literature", "toolkit")

#: Columns of :meth:`Results.to_frame`, in order.
FRAME_COLUMNS = (
    "claim",
    "measurement",
    "verdict",
    "judged",
    "estimate",
    "ci_lo",
    "ci_hi",
    "ci_fail_lo",
    "ci_fail_hi",
    "prediction",
    "band_lo",
    "band_hi",
    "effect",
    "needed_paths",
)


# ---------------------------------------------------------------------------
# Checks: each returns the value (normalised) or raises naming ``where``
# ---------------------------------------------------------------------------
def _write(full: dict, keys: tuple[str, ...], extra: Mapping) -> dict:
    """``full`` restricted to the keys a file carried (all of them when ``keys`` is empty), then ``extra``."""
    if not keys:
        return {**full, **jsonable(dict(extra))}
    return {k: full[k] if k in full else jsonable(extra[k]) for k in keys}


def _verdict(where: str, x: Any) -> Verdict:
    return Verdict(_choice(where, x, tuple(v.value for v in Verdict)))


# ---------------------------------------------------------------------------
# Measurements and history entries (types of the data model, read here)
# ---------------------------------------------------------------------------
#: Keys of a measurement in ``results.json`` (``informative``: the results/1 name of ``judged``).
_MEASUREMENT_KEYS = frozenset(f.name for f in fields(Measurement)) | {"informative"}


def measurement_from_json(d: Any, where: str = "measurement") -> Measurement:
    """One checked :class:`~diffapprox.Measurement` from its ``results.json`` object."""
    return Measurement.from_json(d, where)


def _history_from_json(d: Any, where: str) -> HistoryEntry:
    d = _obj(where, d)
    old_rows = d.get("old_rows", [])
    try:
        return HistoryEntry(
            date=_str(f"{where}.date", d.get("date")),
            version=_int(f"{where}.version", d.get("version")),
            change=_str(f"{where}.change", d.get("change", "")),
            reason=_str(f"{where}.reason", d.get("reason", "")),
            old_rows=_strings(f"{where}.old_rows", old_rows),
            old_verdict=None
            if d.get("old_verdict") is None
            else _verdict(f"{where}.old_verdict", d["old_verdict"]).value,
            old_source=_str(f"{where}.old_source", d.get("old_source") or ""),
        )
    except ValueError as exc:
        if isinstance(exc, DiffapproxError):
            raise
        raise DiffapproxError(where, "a valid history entry", str(exc)) from None


@dataclass(frozen=True, slots=True)
class _Source:
    """The keys an object carried in its file, in order, and those this version does not know."""

    keys: tuple[str, ...] = ()
    extra: Mapping = field(default_factory=dict)


def _source(d: dict, known: frozenset[str] | set[str]) -> _Source:
    return _Source(tuple(d), {k: v for k, v in d.items() if k not in known})


# ---------------------------------------------------------------------------
# Calibration and environment: permissive typed mappings
# ---------------------------------------------------------------------------
#: Rate blocks of a calibration (``{rate, ci, ...}`` objects or null).
_RATES = ("null_fail", "alternative_fail", "limit_fail", "confirm", "false_fail", "worst_family_power", "false_pass")


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """A claim's synthetic-control rates, as read from a committed ``diffapprox calibrate`` file.

    The known keys are attributes (``None`` when absent); keys this version does not know are kept in
    ``extra`` and written back.  Rates are ``{"rate": r, "ci": [lo, hi], ...}`` mappings or ``None``:
    ``null_fail`` (false FAIL with the truth on the band edge), ``alternative_fail`` (power),
    ``limit_fail``, ``confirm`` (PASS rate with the truth equal to the prediction), ``false_fail``,
    ``worst_family_power`` and ``false_pass``.
    """

    calibrated: bool | None = None
    profile: str | None = None
    reps: int | None = None
    seed: int | None = None
    date: str | None = None
    smoke_run: bool | None = None
    stale: bool | None = None
    reason: str | None = None
    note: str | None = None
    source_hash: str | None = None
    targets: Mapping | None = None
    null_fail: Mapping | None = None
    alternative_fail: Mapping | None = None
    limit_fail: Mapping | None = None
    confirm: Mapping | None = None
    false_fail: Mapping | None = None
    worst_family_power: Mapping | None = None
    false_pass: Mapping | None = None
    extra: Mapping = field(default_factory=dict)
    source_keys: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def from_json(cls, d: Any, where: str = "calibration") -> Calibration:
        d = _obj(where, d)
        known = {f.name for f in fields(cls)} - {"extra", "source_keys"}
        kw: dict[str, Any] = {k: d.get(k) for k in known}
        for k in ("calibrated", "smoke_run", "stale"):
            _bool_or_none(f"{where}.{k}", kw[k])
        for k in ("profile", "date", "reason", "note", "source_hash"):
            _str_or_none(f"{where}.{k}", kw[k])
        for k in ("reps", "seed"):
            if kw[k] is not None:
                _int(f"{where}.{k}", kw[k])
        for k in (*_RATES, "targets"):
            _obj_or_none(f"{where}.{k}", kw[k])
        src = _source(d, known)
        return cls(**kw, extra=src.extra, source_keys=src.keys)

    def to_json(self) -> dict:
        full = {f.name: jsonable(getattr(self, f.name)) for f in fields(self) if f.name not in ("extra", "source_keys")}
        if not self.source_keys:
            full = {k: v for k, v in full.items() if v is not None}
        return _write(full, self.source_keys, self.extra)

    def get(self, key: str, default: Any = None) -> Any:
        """The value of a known or extra key (``default`` when absent or null)."""
        v = getattr(self, key, None) if key in _CAL_FIELDS else self.extra.get(key)
        return default if v is None else v


_CAL_FIELDS = frozenset(f.name for f in fields(Calibration)) - {"extra", "source_keys"}


@dataclass(frozen=True, slots=True)
class Environment:
    """Where a run ran: versions, git commit, machine (``data`` holds the mapping as the file has it).

    Files of schema results/1 nest the versions under ``versions``; later files list them at the top.
    """

    data: Mapping = field(default_factory=dict)

    @property
    def versions(self) -> dict[str, str]:
        """Package and Python versions, ``{"python": "3.11.7", "numpy": ..., "diffapprox": ...}``."""
        nested = self.data.get("versions")
        if isinstance(nested, dict):
            return dict(nested)
        return {k: v for k, v in self.data.items() if isinstance(v, str) and k != "git_commit"}

    @property
    def git_commit(self) -> str | None:
        return self.data.get("git_commit")

    @property
    def git_dirty(self) -> bool | None:
        return self.data.get("git_dirty")

    @property
    def machine(self) -> dict:
        m = self.data.get("machine")
        return dict(m) if isinstance(m, dict) else {}

    def to_json(self) -> dict:
        return jsonable(dict(self.data))


# ---------------------------------------------------------------------------
# Claims and the whole file
# ---------------------------------------------------------------------------
_CLAIM_KEYS = frozenset(
    {
        "id",
        "paper_ref",
        "statement",
        "verdict",
        "combination_rule",
        "parameters",
        "measurements",
        "figures",
        "elapsed_s",
        "findings",
        "inconsistencies",
        "error",
        "reproducible",
        "missing_extra",
        "version",
        "history",
        "calibration",
        "about",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimRecord:
    """One claim's result as read from ``results.json``.

    Attributes
    ----------
    id, paper_ref, statement : str
    verdict : Verdict
    about : {"paper", "literature", "toolkit"} or None
        What the claim is about (``None`` in files written before claims said so).
    parameters : dict
    measurements : tuple of Measurement
    figures : tuple of str
        Paths relative to the output directory.
    elapsed_s : float or None
    combination_rule : str
    findings, inconsistencies : tuple of str
    error : str or None
    reproducible : bool
    missing_extra : str or None
    version : int
        The rule version, ``len(history) + 1`` unless the file says otherwise.
    history : tuple of HistoryEntry
    calibration : Calibration or None
    extra : dict
        Keys this version does not know, written back unchanged.
    """

    id: str
    paper_ref: str
    statement: str
    verdict: Verdict
    parameters: dict = field(default_factory=dict)
    measurements: tuple[Measurement, ...] = ()
    figures: tuple[str, ...] = ()
    elapsed_s: float | None = None
    combination_rule: str = ""
    findings: tuple[str, ...] = ()
    inconsistencies: tuple[str, ...] = ()
    error: str | None = None
    reproducible: bool = True
    missing_extra: str | None = None
    version: int = 1
    history: tuple[HistoryEntry, ...] = ()
    calibration: Calibration | None = None
    about: str | None = None
    extra: Mapping = field(default_factory=dict)
    source_keys: tuple[str, ...] = field(default=(), repr=False, compare=False)
    _rows: tuple[_Source, ...] = field(default=(), repr=False, compare=False)
    _hist: tuple[_Source, ...] = field(default=(), repr=False, compare=False)

    @property
    def judged(self) -> tuple[Measurement, ...]:
        """The measurements combined into the claim's verdict."""
        return tuple(m for m in self.measurements if m.judged)

    @classmethod
    def from_json(cls, d: Any, where: str = "claim") -> ClaimRecord:
        d = _obj(where, d)
        cid = _str(f"{where}.id", d.get("id"), empty=False)
        ms = _list(f"{where}.measurements", d.get("measurements"))
        hs = _list(f"{where}.history", d.get("history", []))
        history = tuple(_history_from_json(h, f"{where}.history[{j}]") for j, h in enumerate(hs))
        about = d.get("about")
        if about is not None and about not in ABOUT:
            raise DiffapproxError(f"{where}.about", f"one of {', '.join(ABOUT)} or null", about)
        params = d.get("parameters", {})
        if not isinstance(params, dict):
            raise DiffapproxError(f"{where}.parameters", "an object", type(params).__name__)
        elapsed = d.get("elapsed_s")
        if elapsed is not None and not _is_num(elapsed):
            raise DiffapproxError(f"{where}.elapsed_s", "a number", elapsed)
        cal = d.get("calibration")
        src = _source(d, _CLAIM_KEYS)
        return cls(
            id=cid,
            paper_ref=_str(f"{where}.paper_ref", d.get("paper_ref")),
            statement=_str(f"{where}.statement", d.get("statement")),
            verdict=_verdict(f"{where}.verdict", d.get("verdict")),
            parameters=params,
            measurements=tuple(measurement_from_json(m, f"{where}.measurements[{j}]") for j, m in enumerate(ms)),
            figures=tuple(
                _figure(f"{where}.figures[{j}]", p)
                for j, p in enumerate(_list(f"{where}.figures", d.get("figures", [])))
            ),
            elapsed_s=elapsed,
            combination_rule=_str(f"{where}.combination_rule", d.get("combination_rule", "")),
            findings=_strings(f"{where}.findings", d.get("findings", [])),
            inconsistencies=_strings(f"{where}.inconsistencies", d.get("inconsistencies", [])),
            error=_str_or_none(f"{where}.error", d.get("error")),
            reproducible=_bool(f"{where}.reproducible", d.get("reproducible", True)),
            missing_extra=_str_or_none(f"{where}.missing_extra", d.get("missing_extra")),
            version=_int(f"{where}.version", d.get("version", len(history) + 1)),
            history=history,
            calibration=None if cal is None else Calibration.from_json(cal, f"{where}.calibration"),
            about=about,
            extra=src.extra,
            source_keys=src.keys,
            _rows=tuple(_source(m, _MEASUREMENT_KEYS) for m in ms),
            _hist=tuple(_source(h, {f.name for f in fields(HistoryEntry)}) for h in hs),
        )

    def to_json(self, *, complete: bool = False) -> dict:
        """The claim's ``results.json`` object: the keys it was read with (every key when ``complete``)."""

        def src(seq: tuple[_Source, ...], j: int) -> _Source:
            return _Source() if complete or j >= len(seq) else seq[j]

        rows = []
        for j, m in enumerate(self.measurements):
            s = src(self._rows, j)
            rows.append(_write(m.to_json(), s.keys, s.extra))
        hist = []
        for j, h in enumerate(self.history):
            s = src(self._hist, j)
            hist.append(_write(jsonable(asdict(h)), s.keys, s.extra))
        full = {
            "id": self.id,
            "paper_ref": self.paper_ref,
            "statement": self.statement,
            "verdict": self.verdict.value,
            "about": self.about,
            "combination_rule": self.combination_rule,
            "parameters": jsonable(self.parameters),
            "measurements": rows,
            "figures": list(self.figures),
            "elapsed_s": self.elapsed_s,
            "findings": list(self.findings),
            "inconsistencies": list(self.inconsistencies),
            "error": self.error,
            "reproducible": self.reproducible,
            "missing_extra": self.missing_extra,
            "version": self.version,
            "history": hist,
            "calibration": None if self.calibration is None else self.calibration.to_json(),
        }
        if self.about is None and (complete or not self.source_keys):
            del full["about"]
        return _write(full, () if complete else self.source_keys, self.extra)


_RESULTS_KEYS = frozenset(
    {
        "schema",
        "profile",
        "seed",
        "command",
        "started_utc",
        "environment",
        "executor",
        "elapsed_s",
        "calibration_file",
        "claims",
    }
)


def _warn_dict_access(what: str) -> None:
    warnings.warn(
        f"Results.{what}: dict access to results is deprecated and goes in the next version; use the "
        "attributes (results.claims[0].measurements[0].estimate) or results.to_json()",
        DeprecationWarning,
        stacklevel=3,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Results:
    """A whole ``results.json``: the run's facts and its claims.

    Attributes
    ----------
    schema : str
        The file's schema id (one of :data:`~diffapprox._core.results.READABLE_SCHEMAS`).
    profile : str or None
    seed : int or None
    command : str, tuple of str, or None
        The command line that ran (a list in files written by ``diffapprox validate``).
    started_utc : str or None
        ISO time the run started.
    executor : str or None
    elapsed_s : float or None
        Wall time of the whole run.
    environment : Environment
    calibration_file : dict or None
        What the run says about the calibration file it read (``path``, ``profile``, ``reps``, ...).
    claims : tuple of ClaimRecord
    extra : dict
        Top-level keys this version does not know, written back unchanged.

    Notes
    -----
    Dict access (``results["claims"]``, ``.get``, ``.keys``) still works on :meth:`to_json` for one
    version, with a :class:`DeprecationWarning`.
    """

    schema: str
    claims: tuple[ClaimRecord, ...]
    profile: str | None = None
    seed: int | None = None
    command: str | tuple[str, ...] | None = None
    started_utc: str | None = None
    executor: str | None = None
    elapsed_s: float | None = None
    environment: Environment = field(default_factory=Environment)
    calibration_file: Mapping | None = None
    extra: Mapping = field(default_factory=dict)
    source_keys: tuple[str, ...] = field(default=(), repr=False, compare=False)

    # -- reading and writing ------------------------------------------------
    @classmethod
    def from_json(cls, d: Any) -> Results:
        """Check a parsed ``results.json`` and build the objects.

        Raises
        ------
        DiffapproxError
            Naming the first field that breaks the contract, e.g. ``claims[3].measurements[2].ci``.
        """
        if not isinstance(d, dict):
            raise DiffapproxError("results.json", "a JSON object", type(d).__name__)
        d = _clean(d)
        if d.get("schema") not in READABLE_SCHEMAS:
            raise DiffapproxError("schema", " or ".join(map(repr, READABLE_SCHEMAS)), d.get("schema"))
        claims = tuple(ClaimRecord.from_json(c, f"claims[{i}]") for i, c in enumerate(_list("claims", d.get("claims"))))
        ids = [c.id for c in claims]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise DiffapproxError("claims", "unique ids", dup)
        command = d.get("command")
        if isinstance(command, list):
            command = _strings("command", command)
        elif command is not None and not isinstance(command, str):
            raise DiffapproxError("command", "a string or a list of strings", command)
        seed = d.get("seed")
        if seed is not None:
            _int("seed", seed)
        env = d.get("environment")
        src = _source(d, _RESULTS_KEYS)
        return cls(
            schema=d["schema"],
            claims=claims,
            profile=_str_or_none("profile", d.get("profile")),
            seed=seed,
            command=command,
            started_utc=_str_or_none("started_utc", d.get("started_utc")),
            executor=_str_or_none("executor", d.get("executor")),
            elapsed_s=_num("elapsed_s", d.get("elapsed_s")),
            environment=Environment({} if env is None else _obj("environment", env)),
            calibration_file=_obj_or_none("calibration_file", d.get("calibration_file")),
            extra=src.extra,
            source_keys=src.keys,
        )

    def to_json(self, *, complete: bool = False) -> dict:
        """The ``results.json`` object: the keys the file was read with, so that a file round-trips.

        ``complete=True`` writes every key this version knows (defaults filled in).
        """
        full = {
            "schema": self.schema,
            "profile": self.profile,
            "seed": self.seed,
            "command": list(self.command) if isinstance(self.command, tuple) else self.command,
            "started_utc": self.started_utc,
            "environment": self.environment.to_json(),
            "executor": self.executor,
            "elapsed_s": self.elapsed_s,
            "calibration_file": jsonable(self.calibration_file),
            "claims": [c.to_json(complete=complete) for c in self.claims],
        }
        return _write(full, () if complete else self.source_keys, self.extra)

    # -- reading the numbers ------------------------------------------------
    @property
    def command_line(self) -> str | None:
        """The command as one shell line."""
        if isinstance(self.command, tuple):
            return shlex.join(self.command)
        return self.command

    def claim(self, claim_id: str) -> ClaimRecord:
        """The claim with this id."""
        for c in self.claims:
            if c.id == claim_id:
                return c
        raise DiffapproxError("claim_id", f"one of {', '.join(c.id for c in self.claims)}", claim_id)

    def run_facts(self) -> dict[str, Any]:
        """The run's other facts (start time, executor, unknown keys) in the file's order, present ones only."""
        facts = {"started_utc": self.started_utc, "executor": self.executor, **self.extra}
        order = [k for k in self.source_keys if k in facts] or list(facts)
        return {k: facts[k] for k in order if k in self.extra or facts[k] is not None}

    def to_frame(self):
        """The measurements as a :class:`pandas.DataFrame`, one row per measurement.

        Columns (:data:`FRAME_COLUMNS`): ``claim``, ``measurement``, ``verdict`` (the row's),
        ``judged``, ``estimate``, ``ci_lo``, ``ci_hi`` (the PASS interval), ``ci_fail_lo``,
        ``ci_fail_hi`` (the FAIL interval, when the file has one), ``prediction``, ``band_lo``,
        ``band_hi``, ``effect`` and ``needed_paths``; undefined numbers are NaN.  Needs pandas (the
        ``dev`` extra).
        """
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - depends on the installation
            raise DiffapproxError("to_frame", "pandas installed (pip install 'diffapprox[dev]')", "no pandas") from None

        def num(x: Any) -> float:
            return float("nan") if x is None else float(x)

        def ends(p: tuple | None) -> tuple[float, float]:
            return (num(None), num(None)) if p is None else (num(p[0]), num(p[1]))

        rows = []
        for c in self.claims:
            for m in c.measurements:
                rows.append(
                    (
                        c.id,
                        m.name,
                        m.verdict.value,
                        bool(m.judged),
                        num(m.estimate),
                        *ends(m.ci),
                        *ends(m.ci_fail),
                        num(m.prediction),
                        *ends(m.tolerance),
                        num(m.effect),
                        num(m.needed_paths),
                    )
                )
        return pd.DataFrame.from_records(rows, columns=list(FRAME_COLUMNS))

    # -- dict access, deprecated --------------------------------------------
    def __getitem__(self, key: str) -> Any:
        _warn_dict_access("__getitem__")
        return self.to_json(complete=True)[key]

    def get(self, key: str, default: Any = None) -> Any:
        _warn_dict_access("get")
        return self.to_json(complete=True).get(key, default)

    def keys(self):
        _warn_dict_access("keys")
        return self.to_json(complete=True).keys()

    def items(self):
        _warn_dict_access("items")
        return self.to_json(complete=True).items()

    def __contains__(self, key: object) -> bool:
        _warn_dict_access("__contains__")
        return key in self.to_json(complete=True)
