"""The ETA's floors and the shipped cost model's coverage of the claims."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffapprox import Cell
from diffapprox._run.claims import _entry_point_claims
from diffapprox._run.costs import ClaimCost, CostModel, cost_units, load_costs
from diffapprox._run.execute import LocalExecutor, PackingExecutor, Progress

#: Seed of the random task lists (one generator for the whole test: the lists are fixed).
TASKS_SEED = 20180330
#: How many random task lists per executor.
TRIALS = 60


class _Clock:
    def __call__(self):
        return 0.0


def _random_run(rng: np.random.Generator):
    """Claims with random kinds, cell counts, costs and finish seconds; the model that prices them."""
    n_claims = int(rng.integers(1, 7))
    claims, cells = {}, []
    for j in range(n_claims):
        cid = f"c{j}"
        uses = str(rng.choice(["cores", "core", "waiting"], p=[0.6, 0.25, 0.15]))
        rate = float(rng.lognormal(-2.0, 1.5))
        claims[cid] = ClaimCost(uses=uses, s_per_cost=rate, cell_s=rate, finish_s=float(rng.exponential(2.0)))
        for i in range(int(rng.integers(1, 12))):
            cost = float(rng.lognormal(0.0, 1.0))
            cells.append(Cell(claim=cid, key=f"i={i}", params={}, seed=i, cost=cost, uses=uses))
    order = rng.permutation(len(cells))
    return CostModel(claims=claims, report_s=float(rng.exponential(1.0))), [cells[i] for i in order]


def _floors(model: CostModel, cells: list, cores: int) -> tuple[float, float]:
    """(total core-seconds / cores, the longest claim's chain), both with the finish steps and the report.

    A claim's chain: its cells cannot end before its longest cell on every core it may use (one
    core for a single-threaded or waiting cell), nor before all its waiting cells one after another
    (they run one at a time); its finish step follows them; the report follows every finish step.
    """
    busy = sum(model.core_seconds(c) for c in cells if c.uses != "waiting")
    fins = sum(model.finish_seconds(cid) for cid in {c.claim for c in cells})
    spread = (busy + fins) / cores + model.report_s
    chain = 0.0
    for cid in {c.claim for c in cells}:
        mine = [c for c in cells if c.claim == cid]
        longest = max(model.core_seconds(c) / (cores if c.uses == "cores" else 1) for c in mine)
        waits = sum(model.core_seconds(c) for c in mine if c.uses == "waiting")
        chain = max(chain, max(longest, waits) + model.finish_seconds(cid))
    return spread, chain + model.report_s


@pytest.mark.parametrize("kind", ["packing", "sequential"])
@pytest.mark.parametrize("cores", [1, 2, 3, 4])
def test_predicted_wall_never_below_the_floors(kind, cores):
    """On random task lists the first ETA is never below total core-seconds / cores nor the longest chain."""
    rng = np.random.default_rng([TASKS_SEED, cores, kind == "packing"])
    for _ in range(TRIALS):
        model, cells = _random_run(rng)
        ex = PackingExecutor(threads=cores) if kind == "packing" else LocalExecutor(threads=cores)
        if kind == "sequential":
            ex.threads = cores  # its rule only (no numba thread count is set for this test)
        prog = Progress(cells, enabled=False, model=model, executor=ex, clock=_Clock(), probe=None)
        prog.start()
        spread, chain = _floors(model, cells, cores)
        assert prog.first_eta_s >= spread * (1 - 1e-9)
        assert prog.first_eta_s >= chain * (1 - 1e-9)


def test_the_floors_can_bind():
    """The floors are tight on some lists (the test above could fail): one cores cell, one waiting chain."""
    model = CostModel(claims={"a": ClaimCost(uses="cores", s_per_cost=1.0, cell_s=1.0, finish_s=0.0)})
    cells = [Cell(claim="a", key="x", params={}, seed=0, cost=8.0)]
    prog = Progress(cells, enabled=False, model=model, executor=PackingExecutor(threads=2), probe=None)
    prog.start()
    assert prog.first_eta_s == pytest.approx(_floors(model, cells, 2)[0]) == pytest.approx(4.0)


def test_every_claim_has_a_cost_entry():
    """Every claim this package registers is priced by the shipped cost model (``costs.json``).

    A claim without an entry is predicted from other claims' median cell until its own cells
    finish, so the first ETA of a run with it is a guess: rebuild the model with
    ``python benchmarks/whole_run.py --write-costs --claims NEW_ID,...``.  Whether an entry's unit
    still matches the claim's cell cost: the test below.
    """
    model = load_costs()
    ours = [cid for cid, c in _entry_point_claims().items() if type(c).__module__.startswith("diffapprox_claims")]
    assert ours, "no claim of this package registered"
    missing = [cid for cid in ours if cid not in model.claims]
    assert not missing, f"claims without an entry in costs.json: {', '.join(missing)}"


def test_cost_entries_price_the_cells_as_the_claims_do_today():
    """An entry's seconds per cost unit hold only while the claim prices its cells as it did in the
    reference run: the cost summed over its cells at the reference profile and seed is recorded
    (``units``) and must still be what the claim gives, else its predictions are off by the ratio."""
    model = load_costs()
    profile, seed = model.reference["profile"], model.reference["seed"]
    moved, unrecorded = {}, []
    for cid, claim in _entry_point_claims().items():
        entry = model.claims.get(cid)
        if entry is None or not type(claim).__module__.startswith("diffapprox_claims"):
            continue  # a missing entry is the test above's
        if entry.units is None:
            unrecorded.append(cid)
            continue
        now = cost_units(claim, profile, seed)
        if not math.isclose(now, entry.units, rel_tol=1e-9):
            moved[cid] = (entry.units, now)
    how = "rebuild with python benchmarks/whole_run.py --write-costs [--claims ID,...]"
    assert not unrecorded, f"costs.json records no cost units for {', '.join(unrecorded)}: {how}"
    assert not moved, f"cell cost units moved since costs.json was written (recorded, now): {moved}; {how}"
