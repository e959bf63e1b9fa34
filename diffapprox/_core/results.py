"""Verdicts, measurements and claim results: the data model of ``results.json``."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import Enum

from .errors import DiffapproxError
from .jsoncheck import _bool, _choice, _int, _num, _obj, _pair, _str
from .jsonio import jsonable

__all__ = [
    "Verdict",
    "Measurement",
    "ClaimResult",
    "HistoryEntry",
    "combine_verdicts",
    "RESULTS_SCHEMA",
    "READABLE_SCHEMAS",
]


class Verdict(str, Enum):
    """Outcome of a measurement or a claim; the value is what the user reads."""

    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"
    ERROR = "ERROR"

    def __str__(self) -> str:  # so f"{v}" prints PASS, not Verdict.PASS
        return self.value


#: ``results.json`` schema id written by this version; bump on incompatible changes.
#: results/2 renamed the measurement flag ``informative`` to ``judged`` (both keys are written).
RESULTS_SCHEMA = "diffapprox.results/2"
#: Schemas this version reads (reports and ``--baseline`` comparisons).
READABLE_SCHEMAS = ("diffapprox.results/1", RESULTS_SCHEMA)


#: How a claim's verdict is formed from its measurements' verdicts, stated in every result.
COMBINATION_RULE = (
    "ERROR if any measurement is ERROR; else FAIL if any is FAIL; else PASS if all are PASS "
    "(intersection-union); else INCONCLUSIVE. A judged row PASSes when its 95% interval (ci) lies inside its "
    "band and FAILs when its FAIL interval (ci_fail: Bonferroni over the claim's judged rows at family level "
    "0.01; ci itself for a row without one) lies entirely outside. Measurements marked judged=false "
    "(context) are reported but not combined."
)


def combine_verdicts(verdicts: list[Verdict]) -> Verdict:
    """Combine verdicts by :data:`COMBINATION_RULE` (an empty list is INCONCLUSIVE)."""
    vs = [Verdict(v) for v in verdicts]
    if not vs:
        return Verdict.INCONCLUSIVE
    if Verdict.ERROR in vs:
        return Verdict.ERROR
    if Verdict.FAIL in vs:
        return Verdict.FAIL
    if all(v is Verdict.PASS for v in vs):
        return Verdict.PASS
    return Verdict.INCONCLUSIVE


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One measured quantity against its prediction.

    Attributes
    ----------
    name : str
        Contract name, e.g. ``stationary_variance/law=gaussian/mu=0.5/tau=0/i=2``.
    estimate : float
        The measured value.
    ci : (float, float) or None
        Confidence interval of the estimate (level in ``ci_level``): the PASS interval.
    prediction : float or None
        What the paper (or the limit) predicts.
    tolerance : (float, float) or None
        The equivalence band ``[lo, hi]`` stated before measuring; PASS needs
        the whole CI inside it.
    verdict : Verdict
    ci_level : float
    judged : bool
        ``True`` when the verdict enters the claim's verdict; ``False`` for a context row, shown
        with its own verdict but not combined.
    effect : float or None
        The smallest departure beyond the band's edge (in the estimate's units) that this
        measurement is built to detect at the profile's sample size, stated before measuring
        (see :func:`diffapprox.stats.detectable_effect`); its alternative control moves the truth
        by this much.  ``None`` for context rows and for rows stated before effects existed.
    note : str
        How the number was formed / why the verdict.
    ci_fail : (float, float) or None
        The row's FAIL interval: a simultaneous (Bonferroni) interval over the claim's judged rows at
        family level 0.01 (:data:`diffapprox.stats.DECISION_RULE`).  The row FAILs when it lies
        entirely outside the band; ``ci`` (95%) decides PASS.  ``None`` for context rows and for
        rows judged before the two-interval rule (their ``ci`` decided both ways).
    needed_paths : int or None
        For an INCONCLUSIVE judged row: the sample size (in the units of the row's ``n``) at which
        the same estimate would be decided, its interval shrinking like ``1/sqrt(n)``; ``None``
        when decided, unknown, or when no sample size can decide it (the estimate on an edge).
    """

    name: str
    estimate: float | None
    ci: tuple[float | None, float | None] | None
    prediction: float | None
    tolerance: tuple[float | None, float | None] | None
    verdict: Verdict
    ci_level: float = 0.95
    judged: bool = True
    note: str = ""
    effect: float | None = None
    ci_fail: tuple[float | None, float | None] | None = None
    needed_paths: int | None = None

    def to_json(self) -> dict:
        d = asdict(self)
        # ``informative`` is the results/1 name of ``judged``, still written for one schema version
        d["informative"] = d["judged"]
        return jsonable(d)

    @classmethod
    def from_json(cls, d: dict, where: str = "measurement") -> "Measurement":
        """Read a measurement of ``results.json`` (any readable schema: results/1 names ``judged``
        ``informative``), checking every field; :class:`DiffapproxError` names the field (``where``
        prefixes it), e.g. ``claims[3].measurements[2].ci: expected a pair of numbers or nulls``."""
        d = _obj(where, d)
        needed = d.get("needed_paths")
        return cls(
            name=_str(f"{where}.name", d.get("name")),
            estimate=_num(f"{where}.estimate", d.get("estimate")),
            ci=_pair(f"{where}.ci", d.get("ci")),
            prediction=_num(f"{where}.prediction", d.get("prediction")),
            tolerance=_pair(f"{where}.tolerance", d.get("tolerance")),
            verdict=Verdict(_choice(f"{where}.verdict", d.get("verdict"), tuple(v.value for v in Verdict))),
            ci_level=_num(f"{where}.ci_level", d.get("ci_level", 0.95)),
            judged=_bool(f"{where}.judged", d.get("judged", d.get("informative", True))),
            note=_str(f"{where}.note", d.get("note", "")),
            effect=_num(f"{where}.effect", d.get("effect")),
            ci_fail=_pair(f"{where}.ci_fail", d.get("ci_fail")),
            needed_paths=None if needed is None else _int(f"{where}.needed_paths", needed),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryEntry:
    """One dated change of a claim's rule (band, statistic, grid, path count) made after seeing results.

    The old rule's verdict stays visible: either recomputed on the same data, from the context
    rows that still implement the old rule (``old_rows``: measurement-name prefixes, combined by
    :data:`COMBINATION_RULE` as if judged), or taken from an earlier run (``old_verdict`` with
    ``old_source`` naming the commit, profile and seed).

    Attributes
    ----------
    date : str
        ISO date of the change, e.g. ``"2026-11-29"``.
    version : int
        The claim's rule version after the change (the first rule is version 1).
    change : str
        What changed, e.g. ``"judged the fixed-time escape fraction instead of the first-passage law"``.
    reason : str
        Why, citing the paper's equation where it applies.
    old_rows : tuple of str
        Prefixes of the context measurements that compute the old rule on the same data.
    old_verdict : str or None
        The old rule's verdict from an earlier run (when it cannot be recomputed).
    old_source : str
        Where ``old_verdict`` comes from (``"earlier run: commit ..., profile standard, seed ..."``);
        filled by the runner when the old rule is recomputed.
    """

    date: str
    version: int
    change: str
    reason: str
    old_rows: tuple[str, ...] = ()
    old_verdict: str | None = None
    old_source: str = ""

    def __post_init__(self):
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", self.date):
            raise ValueError(f"HistoryEntry.date: expected YYYY-MM-DD, found {self.date!r}")
        if not self.old_rows and (self.old_verdict is None or not self.old_source):
            raise ValueError("HistoryEntry: give old_rows (recomputed) or old_verdict with old_source (earlier run)")
        if self.old_verdict is not None and self.old_verdict not in {v.value for v in Verdict}:
            raise ValueError(f"HistoryEntry.old_verdict: expected a verdict, found {self.old_verdict!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimResult:
    """What one claim returns: verdict, numbers, figures; serialises into ``results.json``."""

    id: str
    paper_ref: str
    statement: str
    verdict: Verdict
    parameters: dict
    measurements: list[Measurement]
    figures: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    combination_rule: str = COMBINATION_RULE
    findings: list[str] = field(default_factory=list)
    inconsistencies: list[str] = field(default_factory=list)
    error: str | None = None
    reproducible: bool = True
    missing_extra: str | None = None
    #: The claim's current rule version, ``len(history) + 1`` (the first rule is version 1).
    version: int = 1
    #: Dated rule changes, oldest first: ``{date, version, change, reason, old_verdict, old_source}``
    #: (see :class:`HistoryEntry`), with the old verdict recomputed on this run's data where it can be.
    history: list[dict] = field(default_factory=list)
    #: What the claim is about: ``paper``, ``literature`` (other papers' approximations) or ``toolkit``.
    about: str | None = None
    #: The claim's synthetic-control rates from a committed ``diffapprox calibrate`` file
    #: (``{profile, reps, seed, date, null_fail, alternative_fail, stale, ...}``), or ``None``
    #: when no calibration file was found.
    calibration: dict | None = None

    def __post_init__(self):
        if self.version != len(self.history) + 1:
            raise DiffapproxError("ClaimResult.version", f"len(history) + 1 = {len(self.history) + 1}", self.version)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "about": self.about,
            "paper_ref": self.paper_ref,
            "statement": self.statement,
            "verdict": self.verdict.value,
            "combination_rule": self.combination_rule,
            "parameters": jsonable(self.parameters),
            "measurements": [m.to_json() for m in self.measurements],
            "figures": list(self.figures),
            "elapsed_s": float(self.elapsed_s),
            "findings": list(self.findings),
            "inconsistencies": list(self.inconsistencies),
            "error": self.error,
            "reproducible": bool(self.reproducible),
            "missing_extra": self.missing_extra,
            "version": int(self.version),
            "history": jsonable(list(self.history)),
            "calibration": jsonable(self.calibration),
        }
