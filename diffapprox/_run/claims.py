"""The claim interface and registry.

A claim turns one statement of the paper into work that can be run and judged:

* :meth:`Claim.cells` lists independent *cells* (parameter point x chunk of paths)
  for a profile and a master seed.  Cells are plain, picklable data.
* :meth:`Claim.run_cell` (a pure function of the cell) returns a small summary dict
  (numbers and small numpy arrays, never raw K x P x d paths).  It is what the
  executor (local threads/processes or Dask) runs and what checkpoints store.
* :meth:`Claim.finish` turns the summaries of all cells into measurements,
  figures and findings; it must not simulate.  The base class composes it from four
  named steps, each short and each testable alone:

  - :meth:`Claim.predict` -- the paper's values (no data);
  - :meth:`Claim.measure` -- pure: cell summaries (+ prediction) -> measurements, no figures;
  - :meth:`Claim.figures` -- measurements and summaries -> figure files;
  - :meth:`Claim.findings` -- what the numbers say, and the paper's inconsistencies met.

* Controls run the claim's own code from the paths on.  A cell's work is split in two:
  :meth:`Claim.simulate_cell` (the simulator: per-path arrays) and :meth:`Claim.summarize` (the
  cell code from those arrays to the summary); :meth:`Claim.run_cell` composes them.  A control
  (:class:`Control`) replaces only the first step: :meth:`Claim.control_data` draws the per-path
  arrays of a known truth (``edge``, ``exact``, ``family:<name>``, ``outside``), and the claim's
  own :meth:`Claim.summarize` and :meth:`Claim.measure` judge them; a ``mutant:<name>`` control
  runs the real simulator and judges it against a planted prediction (:meth:`Claim.mutate`).
  ``diffapprox calibrate`` reports the rates.  A claim declares its row families
  (:meth:`Claim.families`), the sources of its controls (:meth:`Claim.control_sources`) and its
  mutants (:meth:`Claim.mutants`); a claim without controls says why in :attr:`Claim.uncalibrated`.
  The older :meth:`Claim.synthetic` (summaries written directly) still works for one version, with
  a deprecation warning.

Claims are found through the entry-point group ``diffapprox.claims``: this
package's own (the folder ``validation/``, installed as ``diffapprox_claims``, one module per claim) and any installed package's.
:func:`register` adds one at run time.  Profiles, grids, tolerances and path counts are fixed in the
claim's code before anything is measured, and are printed in the result.
"""

from __future__ import annotations

import functools
import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._core.errors import DiffapproxError
from .._core.results import HistoryEntry, Measurement
from .._core.seeds import derive_seed

__all__ = [
    "Cell",
    "Claim",
    "ClaimOutput",
    "Findings",
    "register",
    "get_claim",
    "all_claims",
    "PROFILES",
    "CELL_USES",
    "CONTROL_KINDS",
    "CONTROL_SOURCES",
    "ABOUT",
    "Control",
    "ControlSource",
    "Mutant",
    "cell_seed",
]

PROFILES = ("quick", "standard", "paper")


#: What a cell keeps busy, for executors that pack cells onto the machine: ``cores`` (numba kernels
#: spreading paths over every core), ``core`` (single-threaded work), ``waiting`` (mostly sleeps or
#: waits on I/O, e.g. a live parameter server).
CELL_USES = ("cores", "core", "waiting")

#: Kinds of controls (see :class:`Control`): truth on the band's edge, truth = the limit judged
#: against, one row family moved beyond its band by its effect, every judged truth beyond its edge by
#: half its effect, and the real simulator judged against a planted prediction.
CONTROL_KINDS = ("edge", "exact", "family", "outside", "mutant")

#: Where a control's per-path data come from: exact samples of the limit the claim judges against,
#: a stated per-path data model, or the real simulator (mutants).
CONTROL_SOURCES = ("limit", "model", "simulator")

#: What a claim is about: the paper's statements, other papers' approximations, the toolkit's own checks.
ABOUT = ("paper", "literature", "toolkit")

#: Directions a row's truth can be moved beyond its band: below the lower edge or above the upper one.
_DIRECTIONS = (-1, 1)


def cell_seed(seed: int, claim_id: str, key: str) -> int:
    """A 63-bit seed that depends only on (master seed, claim id, cell key): ``derive_seed(seed, claim_id, key)``."""
    return derive_seed(seed, claim_id, key)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """One independent unit of work of a claim.

    Attributes
    ----------
    claim : str
        Claim id.
    key : str
        Unique within the claim and stable across runs (used for checkpoints), e.g.
        ``law=gaussian/mu=0.5/tau=0``.
    params : dict
        Everything ``run_cell`` needs (JSON-able values).
    seed : int
        Seed of this cell, from :func:`cell_seed`.
    cost : float
        Rough relative cost (path-steps), for progress/ETA and scheduling.
    uses : {"cores", "core", "waiting"}
        What the cell keeps busy (see :data:`CELL_USES`); executors may run ``core`` and
        ``waiting`` cells beside ``cores`` cells.  It never changes the cell's result.
    """

    claim: str
    key: str
    params: dict = field(hash=False)
    seed: int
    cost: float = 1.0
    uses: str = "cores"

    def __post_init__(self):
        if self.uses not in CELL_USES:
            raise DiffapproxError("uses", f"one of {', '.join(CELL_USES)}", self.uses)


@dataclass(frozen=True, slots=True, kw_only=True)
class Control:
    """One control: which truth the per-path data of :meth:`Claim.control_data` carry.

    Attributes
    ----------
    kind : {"edge", "exact", "family", "outside", "mutant"}
        ``edge``: every judged truth on its band's edge (false FAIL <= 5%); ``exact``: data from the
        limit the claim judges against, or a model whose truth is the paper's prediction (confirm);
        ``family``: the rows of one family moved beyond the band by their stated effect, the others
        at ``exact`` (power); ``outside``: every judged truth beyond its edge by half its effect
        (false PASS <= 5%); ``mutant``: the real simulator against a planted prediction.
    family : str or None
        The moved family (kind ``family``).
    mutant : str or None
        The planted prediction (kind ``mutant``).
    """

    kind: str
    family: str | None = None
    mutant: str | None = None

    def __post_init__(self):
        if self.kind not in CONTROL_KINDS:
            raise DiffapproxError("control kind", f"one of {', '.join(CONTROL_KINDS)}", self.kind)
        if (self.kind == "family") != (self.family is not None):
            raise DiffapproxError("control family", "a family name exactly for kind 'family'", self.family)
        if (self.kind == "mutant") != (self.mutant is not None):
            raise DiffapproxError("control mutant", "a mutant name exactly for kind 'mutant'", self.mutant)

    @property
    def name(self) -> str:
        """``edge``, ``exact``, ``outside``, ``family:<name>`` or ``mutant:<name>`` (calibrate's keys)."""
        return {"family": f"family:{self.family}", "mutant": f"mutant:{self.mutant}"}.get(self.kind, self.kind)

    @classmethod
    def parse(cls, name: str) -> Control:
        """The control named ``name`` (the inverse of :attr:`name`)."""
        kind, _, rest = str(name).partition(":")
        if kind == "family":
            return cls(kind=kind, family=rest or None)
        if kind == "mutant":
            return cls(kind=kind, mutant=rest or None)
        if rest:
            raise DiffapproxError("control", "edge, exact, outside, family:<name> or mutant:<name>", name)
        return cls(kind=kind)

    def truth(self, *, exact: float, band, effect: float, direction: int, family: str | None = None) -> float:
        """The truth of one judged row under this control.

        Parameters
        ----------
        exact : float
            The row's truth under the limit (or model) judged against: the prediction for a two-sided
            row, the limit's own value for a one-sided row.
        band : (float, float)
            The row's band; ``direction`` picks its edge: -1 the lower, +1 the upper.
        effect : float
            The row's stated effect (its departure beyond the edge that a FAIL must detect).
        direction : {-1, 1}
            Which way the row is moved beyond its band (stated by the claim before running).
        family : str or None
            The row's family (:meth:`Claim.families`), for kind ``family``.

        Returns
        -------
        float
            ``edge``: the edge; ``exact``: ``exact``; ``outside``: the edge moved by ``effect/2``
            beyond the band; ``family``: the edge moved by ``effect`` for the moved family's rows,
            ``exact`` for the others.
        """
        if direction not in _DIRECTIONS:
            raise DiffapproxError("direction", "-1 or 1", direction)
        edge = float(band[1] if direction > 0 else band[0])
        if self.kind == "edge":
            return edge
        if self.kind == "outside":
            return edge + direction * 0.5 * float(effect)
        if self.kind == "family" and family == self.family:
            return edge + direction * float(effect)
        return float(exact)


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlSource:
    """Where the data of one kind of control come from, and the stated data model.

    ``source`` is ``limit`` (exact samples of the limit judged against), ``model`` (a stated
    per-path data model where no exact sampler exists) or ``simulator``; ``model`` says which law
    the per-path arrays follow, in one or two sentences citing the paper's equations.
    """

    source: str
    model: str

    def __post_init__(self):
        if self.source not in CONTROL_SOURCES:
            raise DiffapproxError("control source", f"one of {', '.join(CONTROL_SOURCES)}", self.source)

    def for_every_kind(self) -> dict[str, ControlSource]:
        """This source for every kind of control but mutants (which always run the simulator)."""
        return dict.fromkeys(CONTROL_KINDS[:-1], self)


#: What a mutant's verdict must be: FAIL, or any verdict but FAIL (a corrected prediction), or PASS.
MUTANT_EXPECT = ("FAIL", "not FAIL", "PASS", "not PASS")


@dataclass(frozen=True, slots=True, kw_only=True)
class Mutant:
    """A planted prediction judged on the real simulator's paths (:meth:`Claim.mutate`).

    ``expect`` is the verdict the claim must give (``FAIL``, ``not FAIL``, ``PASS`` or ``not PASS``)
    in at least 80% of the replicates; ``note`` states what is planted and the computation, made
    before running, that puts the truth beyond the band by at least the row's effect (or, for a
    corrected prediction, inside it).
    """

    expect: str
    note: str

    def __post_init__(self):
        if self.expect not in MUTANT_EXPECT:
            raise DiffapproxError("mutant expect", f"one of {', '.join(MUTANT_EXPECT)}", self.expect)

    def met(self, verdict: str) -> bool:
        """Whether ``verdict`` is the expected one."""
        v = str(verdict)
        return v == self.expect if not self.expect.startswith("not ") else v != self.expect[4:]


@dataclass(slots=True, kw_only=True)
class Findings:
    """What :meth:`Claim.findings` returns: plain sentences, numbers included."""

    findings: list[str] = field(default_factory=list)
    inconsistencies: list[str] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class ClaimOutput:
    """What :meth:`Claim.finish` returns; the runner adds id, timings and the verdict."""

    measurements: list[Measurement]
    figures: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    inconsistencies: list[str] = field(default_factory=list)
    parameters: dict = field(default_factory=dict)


class Claim:
    """Base class of every claim (subclass it in a claims package such as ``diffapprox_claims``; register it as an entry point).

    A claim states, as class attributes, what it checks (``id``, ``paper_ref``, ``statement``) and
    how its rule evolved (``history``); it lists cells, runs one cell, and judges the summaries in
    four steps composed by :meth:`finish`.  Everything a verdict depends on (grids, path counts,
    bands, effects, seeds) is fixed in code before anything is measured.
    """

    id: ClassVar[str]
    paper_ref: ClassVar[str]
    statement: ClassVar[str]
    #: Optional import names the claim needs (e.g. ``("torch",)``) and the extra that installs them.
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None
    #: False for claims whose numbers depend on real scheduling (e.g. a live parameter server):
    #: a ``--baseline`` regression compares only their presence, never their verdicts or numbers.
    reproducible: ClassVar[bool] = True
    #: Position in listings and reports among the claims of the same package (smaller first, ties by id).
    order: ClassVar[int] = 1000
    #: Dated changes of the claim's rule made after seeing results, oldest first (see
    #: :class:`~diffapprox.HistoryEntry`); the current rule is version ``len(history) + 1``.
    history: ClassVar[tuple[HistoryEntry, ...]] = ()
    #: Why the claim has no controls (``None`` when it has them).
    uncalibrated: ClassVar[str | None] = None
    #: What the claim is about (:data:`ABOUT`): reports count the paper's claims first, on their own.
    about: ClassVar[str] = "paper"
    #: Why the claim has no confirm target: the judged row that its own limit puts on (or outside) its
    #: band's edge, named (``None``: confirm >= 80% under ``exact`` is a target).
    confirm_note: ClassVar[str | None] = None

    # the work --------------------------------------------------------------
    def parameters(self, profile: str) -> dict:
        """The fixed parameters of ``profile`` (grids, paths, steps, tolerances)."""
        raise NotImplementedError

    def cells(self, profile: str, seed: int) -> list[Cell]:
        """The independent cells of ``profile`` under master ``seed`` (use :meth:`make_cell`)."""
        raise NotImplementedError

    def run_cell(self, cell: Cell) -> dict[str, Any]:
        """Run one cell: a pure function of ``cell`` returning a small summary dict.

        By default :meth:`summarize` of :meth:`simulate_cell`, the split that lets a control replace
        the simulator and still run the claim's own cell code.
        """
        return self.summarize(cell, self.simulate_cell(cell))

    def simulate_cell(self, cell: Cell) -> Any:
        """The simulator's part of a cell: per-path arrays (whatever :meth:`summarize` reads)."""
        raise NotImplementedError(f"claim {self.id} does not split run_cell into simulate_cell and summarize")

    def summarize(self, cell: Cell, data: Any) -> dict[str, Any]:
        """The cell code from the per-path arrays on: ``data`` -> the cell's summary dict."""
        raise NotImplementedError(f"claim {self.id} does not split run_cell into simulate_cell and summarize")

    # the four steps of finish ------------------------------------------------
    def predict(self, profile: str) -> dict:
        """The paper's values this claim compares with (no data), keyed as :meth:`measure` reads them."""
        return {}

    def measure(self, profile: str, seed: int, results: dict[str, dict], prediction: dict) -> list[Measurement]:
        """Cell summaries -> measurements.  Pure: no figures, no files, randomness only from ``seed``.

        ``results`` maps cell key -> summary (as returned by :meth:`run_cell`, or drawn by
        :meth:`synthetic`); ``seed`` is the master seed (derive bootstrap seeds from it with
        :func:`diffapprox.derive_seed`).
        """
        raise NotImplementedError

    def figures(
        self, profile: str, results: dict[str, dict], measurements: list[Measurement], figdir: Path
    ) -> list[str]:
        """Write the claim's figures into ``figdir``; return their paths."""
        return []

    def findings(self, profile: str, results: dict[str, dict], measurements: list[Measurement]) -> Findings:
        """Plain sentences: what the measurements say, and the paper's inconsistencies met on the way."""
        return Findings()

    def finish(self, profile: str, seed: int, results: dict[str, dict], figdir: Path) -> ClaimOutput:
        """:meth:`predict`, :meth:`measure`, :meth:`figures`, :meth:`findings`, in that order."""
        prediction = self.predict(profile)
        ms = self.measure(profile, seed, results, prediction)
        figs = self.figures(profile, results, ms, figdir)
        f = self.findings(profile, results, ms)
        return ClaimOutput(
            measurements=list(ms),
            figures=list(figs),
            findings=[*undecided_finding(ms), *f.findings],
            inconsistencies=list(f.inconsistencies),
        )

    # controls ----------------------------------------------------------------
    def families(self, profile: str) -> dict[str, tuple[str, ...]]:
        """Row families: name -> prefixes of the judged rows' names that one change of the truth moves together.

        Derived rows (e.g. a trend computed from other rows) belong to the family of the rows they
        come from.  Every judged row belongs to exactly one family.
        """
        return {}

    def control_sources(self, profile: str) -> dict[str, ControlSource]:
        """Kind (``edge``, ``exact``, ``family``, ``outside``) -> where its data come from; absent: no such control."""
        return {}

    def control_data(self, cell: Cell, control: Control, rng: np.random.Generator) -> Any:
        """Per-path arrays of ``cell`` under ``control``'s truth, shaped as :meth:`simulate_cell`'s.

        Draw every number from ``rng``; compute each row's truth with :meth:`Control.truth`.
        """
        raise NotImplementedError(f"claim {self.id} has no control data")

    def mutants(self, profile: str) -> dict[str, Mutant]:
        """Planted predictions judged on the real simulator's paths, by name (``time-scale=1.03``)."""
        return {}

    def mutant_cells(self, profile: str, seed: int) -> list[Cell]:
        """The cells the mutants simulate (default: every cell of :meth:`cells`).

        A claim whose mutants need only some cells (e.g. the rows a planted prediction moves) may list
        those, to keep each mutant replicate cheap; its :meth:`measure` then judges the rows of the
        cells it was given and skips the others.
        """
        return self.cells(profile, seed)

    def mutate(self, profile: str, name: str, prediction: dict) -> dict:
        """The prediction with mutant ``name`` planted (what :meth:`measure` then judges against)."""
        raise NotImplementedError(f"claim {self.id} has no mutant {name!r}")

    def synthetic(self, profile: str, kind: str, rng: np.random.Generator) -> dict[str, dict] | None:
        """Cell summaries with known truth, at ``profile``'s sizes, keyed like :meth:`cells`.

        ``kind`` is ``"null"`` (every judged truth equals its prediction; on the boundary for a
        one-sided band; a constant ratio for an O(.) bound; the exact order plus the claim's
        Monte-Carlo noise for a slope), ``"alternative"`` (every judged truth moved together by
        its stated effect, in the stated direction) or ``"limit"`` (samples of the limit itself;
        ``None`` when no sampler of the limit exists).  Draw every number from ``rng``.

        Deprecated: these summaries never run the claim's own cell code.  Implement
        :meth:`control_data` (with :meth:`simulate_cell` and :meth:`summarize`) instead; ``diffapprox
        calibrate`` still runs ``synthetic`` for one version, as ``edge`` (null), ``family:all``
        (alternative) and ``exact`` (limit), with a DeprecationWarning.
        """
        raise NotImplementedError(f"claim {self.id} has no synthetic controls")

    # helpers -----------------------------------------------------------------
    def make_cell(self, key: str, params: dict, seed: int, cost: float = 1.0, uses: str = "cores") -> Cell:
        return Cell(claim=self.id, key=key, params=params, seed=cell_seed(seed, self.id, key), cost=cost, uses=uses)


def undecided_finding(measurements: list[Measurement], limit: int = 6) -> list[str]:
    """One sentence naming the judged rows that left the claim undecided and the sample size n each would need.

    Empty unless the judged rows combine to INCONCLUSIVE (no FAIL, not all PASS).  The sizes are
    :attr:`Measurement.needed_paths` (the same estimate, its intervals shrinking like ``1/sqrt(n)``).
    """
    judged = [m for m in measurements if m.judged]
    verdicts = {m.verdict for m in judged}
    if not judged or "FAIL" in verdicts or "ERROR" in verdicts or verdicts == {"PASS"}:
        return []
    rows = [m for m in judged if m.verdict == "INCONCLUSIVE"]
    parts = [
        f"{m.name} (decided at about n = {m.needed_paths:,})" if m.needed_paths else f"{m.name} (no n decides it)"
        for m in rows[:limit]
    ]
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return [f"Undecided: {len(rows)} of {len(judged)} judged rows straddle a band edge: " + "; ".join(parts) + more]


#: Entry-point group through which packages (this one included) add claims:
#: ``[project.entry-points."diffapprox.claims"]`` maps a claim id to ``module:ClassName``.
ENTRY_POINT_GROUP = "diffapprox.claims"

#: Claims added at run time with :func:`register` (tests, notebooks), after the entry points.
_REGISTRY: dict[str, Claim] = {}


class _UnloadableClaim(Claim):
    """Stands in for an entry point that could not be loaded: listed, and ERROR when run."""

    requires = ()

    def __init__(self, claim_id: str, target: str, reason: str):
        self.id = claim_id
        self.paper_ref = f"entry point {target}"
        self.statement = f"could not load the claim: {reason}"
        self._reason = reason

    def parameters(self, profile: str) -> dict:
        return {}

    def cells(self, profile: str, seed: int) -> list[Cell]:
        raise RuntimeError(self.statement)


def _check_claim_class(cls: Any, where: str) -> type[Claim]:
    if not (isinstance(cls, type) and issubclass(cls, Claim)):
        raise TypeError(f"{where} is {cls!r}, expected a subclass of diffapprox.Claim")
    for attr in ("id", "paper_ref", "statement"):
        if not isinstance(getattr(cls, attr, None), str):
            raise TypeError(f"{where} has no string class attribute {attr!r}")
    return cls


@functools.cache
def _entry_point_claims() -> dict[str, Claim]:
    """Every claim of the ``diffapprox.claims`` entry points, in report order.

    This package's own claims come first, then other distributions' claims by distribution name;
    within a distribution the claims about the paper first, then other papers', then the toolkit's
    (``about``), each by the claims' ``order``, then id.  An entry point
    that does not load, or whose name is not its claim's id, is kept as a claim that reports ERROR
    with the reason, so one broken package never hides the others.
    """
    eps = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))

    loaded: list[tuple[tuple, Claim]] = []
    seen: set[str] = set()
    for ep in eps:
        if ep.name in seen:
            continue  # the same distribution seen twice on sys.path: the first one wins, as for imports
        seen.add(ep.name)
        dist = ep.dist.name if ep.dist is not None else ""
        try:
            cls = _check_claim_class(ep.load(), f"entry point {ep.name} = {ep.value}")
            if cls.id != ep.name:
                raise ValueError(f"entry point name {ep.name!r} differs from the claim's id {cls.id!r}")
            claim = cls()
        except Exception as exc:  # noqa: BLE001 - any failure of third-party code becomes an ERROR claim
            claim = _UnloadableClaim(ep.name, ep.value, f"{type(exc).__name__}: {exc}")
        about = getattr(claim, "about", "paper")
        rank = ABOUT.index(about) if about in ABOUT else len(ABOUT)
        loaded.append(((dist != "diffapprox", dist, rank, int(getattr(claim, "order", 1000)), ep.name), claim))
    return {claim.id: claim for _, claim in sorted(loaded, key=lambda t: t[0])}


def register(cls: type[Claim]) -> type[Claim]:
    """Class decorator: add a claim at run time (installed packages use the entry-point group instead).

    Raises
    ------
    DiffapproxError
        When another class already uses the same ``id``.
    """
    cls = _check_claim_class(cls, f"class {getattr(cls, '__qualname__', cls)!r}")
    known = {**_entry_point_claims(), **_REGISTRY}
    if cls.id in known and type(known[cls.id]) is not cls:
        raise DiffapproxError("claim id", "an id no other claim uses", cls.id)
    if cls.id not in _entry_point_claims():
        _REGISTRY[cls.id] = cls()
    return cls


def all_claims() -> dict[str, Claim]:
    """Every claim by id: entry-point claims in report order, then those added with :func:`register`."""
    return {**_entry_point_claims(), **_REGISTRY}


def get_claim(claim_id: str) -> Claim:
    """The claim registered as ``claim_id``; a :class:`DiffapproxError` naming the known ids otherwise."""
    claims = all_claims()
    if claim_id not in claims:
        raise DiffapproxError("claims", f"one of {', '.join(claims)}", claim_id)
    return claims[claim_id]
