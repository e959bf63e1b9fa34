"""The claim interface and registry.

A claim turns one statement of the paper into work that can be run and judged:

* :meth:`Claim.cells` lists independent *cells* (parameter point x chunk of paths)
  for a profile and a master seed.  Cells are plain, picklable data.
* :meth:`Claim.run_cell` (a pure function of the cell) returns a small summary dict
  (numbers and small numpy arrays, never raw K x P x d paths).  It is what the
  executor (local threads/processes or Dask) runs and what checkpoints store.
* :meth:`Claim.finish` turns the summaries of all cells into measurements,
  figures and findings; it must not simulate.

Claims live in ``validation/`` (one module per claim) and register with
:func:`register`.  Profiles, grids, tolerances and path counts are fixed in the
claim's code before anything is measured, and are printed in the result.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ._errors import DiffapproxError
from ._results import Measurement

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


_REGISTRY: dict[str, Claim] = {}


def register(cls: type[Claim]) -> type[Claim]:
    """Class decorator: instantiate and register a claim under its ``id``."""
    if cls.id in _REGISTRY and type(_REGISTRY[cls.id]) is not cls:
        raise RuntimeError(f"claim id {cls.id!r} registered twice")
    _REGISTRY[cls.id] = cls()
    return cls


def _load() -> None:
    import validation  # noqa: F401  (importing registers every claim)


def all_claims() -> dict[str, Claim]:
    """Every registered claim, by id, in registration order."""
    _load()
    return dict(_REGISTRY)


def get_claim(claim_id: str) -> Claim:
    """The claim registered as ``claim_id``; a :class:`DiffapproxError` naming the known ids otherwise."""
    claims = all_claims()
    if claim_id not in claims:
        raise DiffapproxError("claims", f"one of {', '.join(claims)}", claim_id)
    return claims[claim_id]
