"""The per-claim cost model behind the ETA and the profile costs printed by ``validate --help``.

A claim's cells carry a ``cost`` in the claim's own unit (path-steps, training epochs,
replicates, ...), comparable only within the claim.  The model turns it into time: for each
claim, the *core-seconds per unit of cost* of its cells (wall seconds times the threads the
cell ran on; a ``waiting`` cell's wall seconds, since it keeps no core busy), the seconds of
its ``finish`` step (measurements, figures), and the seconds of rendering the reports.  It is
shipped as ``costs.json`` beside this module, measured from a reference run; during a run the
ETA refines it as cells finish (:class:`~diffapprox._run.execute.Progress`).

``python benchmarks/whole_run.py --write-costs`` (or :func:`build_costs` on any finished
``validate`` output directory) refreshes the file, e.g. after claims are added or on another
machine.  A claim missing from the file is predicted from the median seconds per cell of the
claims with the same ``uses`` until its own cells have finished.

Machines differ, and so does the load on them: the file keeps the CPU seconds a fixed
single-threaded numba kernel (:func:`speed_probe`) took on the reference machine, measured the
way a run measures it, and a run's first ETA scales the reference timings by the ratio of the
probe's wall seconds now to that.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from .._core.errors import DiffapproxError
from .claims import CELL_USES, Cell

__all__ = [
    "COSTS_SCHEMA",
    "COSTS_PATH",
    "ClaimCost",
    "CostModel",
    "load_costs",
    "build_costs",
    "speed_probe",
    "PROBE_KIND",
]

COSTS_SCHEMA = "diffapprox.costs/1"

#: The cost model shipped with the package.
COSTS_PATH = Path(__file__).with_name("costs.json")

#: Seconds per cell assumed when neither the claim nor any claim of the same ``uses`` is in the model.
_FALLBACK_CELL_S = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimCost:
    """Reference timings of one claim.

    Attributes
    ----------
    uses : {"cores", "core", "waiting"}
        What its cells kept busy in the reference run.
    s_per_cost : float
        Core-seconds per unit of the claim's cell cost (wall seconds for ``waiting`` cells).
    cell_s : float
        Mean core-seconds per cell (the fallback for claims of the same ``uses``).
    finish_s : float
        Wall seconds of the claim's ``finish`` step (one core).
    units : float or None
        The claim's cell cost summed over its cells at the reference profile and seed, as its code
        priced them then: ``s_per_cost`` holds only while the claim still prices its cells the same way
        (``None`` in a model written before this was recorded).
    """

    uses: str
    s_per_cost: float
    cell_s: float
    finish_s: float
    units: float | None = None

    def __post_init__(self):
        if self.uses not in CELL_USES:
            raise DiffapproxError("uses", f"one of {', '.join(CELL_USES)}", self.uses)
        for name in ("s_per_cost", "cell_s", "finish_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise DiffapproxError(name, "a finite number >= 0", v)
        if self.units is not None and not (isinstance(self.units, (int, float)) and math.isfinite(self.units)):
            raise DiffapproxError("units", "a finite number or null", self.units)


@dataclass(frozen=True, slots=True, kw_only=True)
class CostModel:
    """Per-claim reference timings (see the module docstring).

    Attributes
    ----------
    claims : dict
        Claim id -> :class:`ClaimCost`.
    report_s : float
        Wall seconds of rendering ``report.html`` and ``report.pdf``.
    reference : dict
        Where the numbers come from (profile, seed, cores, executor, date, load), and ``probe_s``:
        the seconds :func:`speed_probe` took on the reference machine.
    profiles : dict
        Profile -> {executor: predicted wall seconds on ``reference['cores']`` cores}, computed
        from this model when it was written (what ``validate --help`` prints).
    """

    claims: dict = field(default_factory=dict)
    report_s: float = 0.0
    reference: dict = field(default_factory=dict)
    profiles: dict = field(default_factory=dict)

    def core_seconds(self, cell: Cell) -> float:
        """Predicted core-seconds of ``cell`` (wall seconds for a ``waiting`` cell)."""
        c = self.claims.get(cell.claim)
        if c is not None:
            return c.s_per_cost * float(cell.cost)
        return self.default_cell_s(getattr(cell, "uses", "cores"))

    def default_cell_s(self, uses: str) -> float:
        """Median seconds per cell of the claims with this ``uses`` (any claim when none has it)."""
        same = [c.cell_s for c in self.claims.values() if c.uses == uses]
        pool = same or [c.cell_s for c in self.claims.values()]
        return median(pool) if pool else _FALLBACK_CELL_S

    def finish_seconds(self, claim_id: str) -> float:
        """Predicted wall seconds of ``claim_id``'s finish step (the median claim's when unknown)."""
        c = self.claims.get(claim_id)
        if c is not None:
            return c.finish_s
        return median([c.finish_s for c in self.claims.values()]) if self.claims else _FALLBACK_CELL_S

    def to_json(self) -> dict:
        return {
            "schema": COSTS_SCHEMA,
            "reference": self.reference,
            "report_s": self.report_s,
            "profiles": self.profiles,
            "claims": {
                k: {"uses": c.uses, "s_per_cost": c.s_per_cost, "cell_s": c.cell_s, "finish_s": c.finish_s}
                | ({} if c.units is None else {"units": c.units})
                for k, c in self.claims.items()
            },
        }

    @classmethod
    def from_json(cls, doc: dict) -> "CostModel":
        if not isinstance(doc, dict) or doc.get("schema") != COSTS_SCHEMA:
            raise DiffapproxError(
                "costs", f"a {COSTS_SCHEMA} document", doc.get("schema") if isinstance(doc, dict) else doc
            )
        claims = {k: ClaimCost(**v) for k, v in doc.get("claims", {}).items()}
        return cls(
            claims=claims,
            report_s=float(doc.get("report_s", 0.0)),
            reference=dict(doc.get("reference", {})),
            profiles=dict(doc.get("profiles", {})),
        )


#: What :func:`speed_probe` runs; a reference taken with another probe is not compared with it.
PROBE_KIND = "numba-xorshift-ring/1"


def speed_probe(*, window_s: float = 0.25, clock=time.perf_counter) -> tuple[float, float]:
    """Seconds per call of a fixed single-threaded numba kernel: ``(wall, cpu)``, both medians.

    The kernel does what a simulation step does (a random stream, a ring of past iterates,
    multiply-adds) for 10^6 steps (about 3 ms on a recent core), after a warm-up call that
    compiles it.  It is called over ``window_s`` seconds at least (at least 5 calls), longer than a
    scheduler's time slice, so the wall time sees the machine's load: on a busy machine the wall
    time grows while the CPU time (of this thread alone, ``time.thread_time``: threads spinning
    elsewhere in the process do not count) does not.

    The reference in ``costs.json`` is taken by this same function (``benchmarks/whole_run.py
    --write-costs``, in a fresh interpreter, after the same warm-up); the cost model's seconds are
    CPU seconds, so a run's first ETA scales them by ``wall now / reference CPU``: this machine's
    speed relative to the reference machine's, times its load now.
    """
    import numpy as np

    from ._probe import probe_kernel as kernel

    ring = np.zeros(64)
    n = 1_000_000
    kernel(1000, ring)  # warm-up: compile, load the code
    walls, cpus = [], []
    t_end = clock() + window_s
    while len(walls) < 5 or clock() < t_end:
        t0, c0 = clock(), time.thread_time()
        kernel(n, ring)
        walls.append(clock() - t0)
        cpus.append(time.thread_time() - c0)
    return float(median(walls)), float(median(cpus))


def load_costs(path: str | Path | None = None) -> CostModel:
    """The cost model at ``path`` (default: the one shipped with the package).

    A missing or unreadable shipped file gives an empty model (every claim then uses the
    fallback until its cells finish): the ETA is a convenience, never a reason to stop a run.
    """
    p = COSTS_PATH if path is None else Path(path)
    try:
        return CostModel.from_json(json.loads(p.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        if path is None:
            return CostModel()
        raise DiffapproxError("costs", "a readable cost model (costs.json)", f"{p} ({exc})") from None


def build_costs(run_dir: str | Path, claims: list, *, outcome, report_s: float, reference: dict) -> CostModel:
    """A cost model from a finished ``validate`` output directory (its checkpoints and ``timings.json``).

    A cell's core-seconds are its CPU time (every thread of its process: independent of the
    machine's load and of the thread count); a ``waiting`` cell's are its wall seconds.  A claim's
    rate is the sum over its cells divided by their cost (one rate per claim, whatever its cells
    declare); its ``uses`` is the kind that took most of those seconds.  Its finish seconds are
    its finish step's CPU time.

    Parameters
    ----------
    run_dir : path
        Output directory of a run (``results.json``, ``timings.json``, ``cells/``), run with
        OpenMP threads that sleep when idle (``OMP_WAIT_POLICY=PASSIVE``), else spinning threads
        count as work.
    claims : list of Claim
        The claims to include (those of the run whose every cell is checkpointed; others skipped).
    outcome : callable
        Cell -> its checkpointed outcome or None (``CellStore(run_dir).load``).
    report_s : float
        CPU seconds of rendering the reports.
    reference : dict
        Facts about the run, kept in the file (see :attr:`CostModel.reference`); ``cores`` is the
        thread count assumed for a checkpoint that records no CPU time.

    Returns
    -------
    CostModel
        ``profiles`` is left empty (the benchmark fills it in).
    """
    run_dir = Path(run_dir)
    doc = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    timings = json.loads((run_dir / "timings.json").read_text(encoding="utf-8"))["claims"]
    cores = int(reference.get("cores", 1))
    out: dict[str, ClaimCost] = {}
    for claim in claims:
        t = timings.get(claim.id)
        if t is None:
            continue
        cells = claim.cells(doc["profile"], doc["seed"])
        got = [(c, outcome(c)) for c in cells]
        if not cells or any(o is None for _, o in got):
            continue
        by_uses: dict[str, float] = {}
        for c, o in got:
            wall = float(o.get("elapsed_s", 0.0))
            cpu = o.get("cpu_s")
            sec = wall if c.uses == "waiting" else (float(cpu) if cpu is not None else wall * cores)
            by_uses[c.uses] = by_uses.get(c.uses, 0.0) + sec
        total, cost = sum(by_uses.values()), sum(float(c.cost) for c in cells)
        out[claim.id] = ClaimCost(
            uses=max(by_uses, key=by_uses.get),
            s_per_cost=total / cost if cost > 0 else 0.0,
            cell_s=total / len(cells),
            finish_s=float(t.get("finish_cpu_s") or 0.0),
            units=cost_units(claim, doc["profile"], doc["seed"], cells),
        )
    return CostModel(claims=out, report_s=float(report_s), reference=dict(reference))


def cost_units(claim, profile: str, seed: int, cells: list | None = None) -> float:
    """``claim``'s cell cost summed over its cells at ``profile`` and ``seed`` (:attr:`ClaimCost.units`)."""
    return float(sum(float(c.cost) for c in (claim.cells(profile, seed) if cells is None else cells)))
