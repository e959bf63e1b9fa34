"""The claim interface and registry.

A claim turns one statement of the paper into work that can be run and judged:

* :meth:`Claim.cells` lists independent *cells* (parameter point x chunk of paths)
  for a profile and a master seed.  Cells are plain, picklable data.
* :meth:`Claim.run_cell` (a pure function of the cell) returns a small summary dict
  (numbers and small numpy arrays, never raw K x P x d paths).  It is what the
  executor (local threads/processes or Dask) runs and what checkpoints store.
* :meth:`Claim.finish` turns the summaries of all cells into measurements,
  figures and findings; it must not simulate.

Claims are found through the entry-point group ``diffapprox.claims``: this
package's own (``validation/``, one module per claim) and any installed package's.
:func:`register` adds one at run time.  Profiles, grids, tolerances and path counts are fixed in the
claim's code before anything is measured, and are printed in the result.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .._core.errors import DiffapproxError
from .._core.results import Measurement

__all__ = ["Cell", "Claim", "ClaimOutput", "register", "get_claim", "all_claims", "PROFILES", "cell_seed"]

PROFILES = ("quick", "standard", "paper")


def cell_seed(seed: int, claim_id: str, key: str) -> int:
    """A 63-bit seed that depends only on (master seed, claim id, cell key)."""
    h = hashlib.sha256(f"{int(seed)}|{claim_id}|{key}".encode()).digest()
    return int.from_bytes(h[:8], "little") >> 1


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
    """

    claim: str
    key: str
    params: dict = field(hash=False)
    seed: int
    cost: float = 1.0


@dataclass(slots=True, kw_only=True)
class ClaimOutput:
    """What :meth:`Claim.finish` returns; the runner adds id, timings and the verdict."""

    measurements: list[Measurement]
    figures: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    inconsistencies: list[str] = field(default_factory=list)
    parameters: dict = field(default_factory=dict)


class Claim:
    """Base class of every claim (subclass in ``validation/`` and decorate with :func:`register`)."""

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

    def parameters(self, profile: str) -> dict:
        """The fixed parameters of ``profile`` (grids, paths, steps, tolerances)."""
        raise NotImplementedError

    def cells(self, profile: str, seed: int) -> list[Cell]:
        raise NotImplementedError

    def run_cell(self, cell: Cell) -> dict[str, Any]:
        raise NotImplementedError

    def finish(self, profile: str, seed: int, results: dict[str, dict], figdir: Path) -> ClaimOutput:
        raise NotImplementedError

    # helpers ---------------------------------------------------------------
    def make_cell(self, key: str, params: dict, seed: int, cost: float = 1.0) -> Cell:
        return Cell(claim=self.id, key=key, params=params, seed=cell_seed(seed, self.id, key), cost=cost)


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
    within a distribution by the claims' ``order``, then id.  An entry point
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
        loaded.append(((dist != "diffapprox", dist, int(getattr(claim, "order", 1000)), ep.name), claim))
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
