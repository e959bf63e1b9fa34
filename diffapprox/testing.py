"""Testing claims: the claim contract for any claim, built-in or third-party, and verdict assertions.

:func:`check_claim` runs the contract on one claim at a profile and raises :class:`ClaimContractError`
naming every broken rule; :func:`assert_verdict` checks a claim result's verdict and, when it differs,
says which rows decided it.  ``pytest --diffapprox PROFILE`` (the pytest plugin installed with the
package) runs claims as tests; the fixture ``diffapprox_run`` runs one claim from a test.

The contract (each rule one check, in this order):

1. **identity**: ``id`` (lower-case words joined by ``-``), ``paper_ref``, ``statement`` are non-empty
   strings; ``about`` is ``paper``, ``literature`` or ``toolkit``;
2. **cells**: keys unique within the claim, stable (the same list twice for the same profile and seed,
   the keys independent of the seed), picklable, each naming the claim;
3. **run_cell is pure**: the cheapest cell run twice gives the same summary (claims declared
   ``reproducible = False``, whose numbers depend on real scheduling, are exempt);
4. **measure is pure**: the summaries of every cell judged twice give the same measurements;
5. **judged rows are stated**: every judged row has a band and an effect (finite, > 0), both fixed
   before running, and belongs to exactly one of the claim's families (when it declares families);
6. **controls run the claim's own code**: every declared control (``edge``, ``exact``,
   ``family:<name>``, ``outside``, each mutant) runs ``reps`` replicates through the claim's own
   ``summarize`` and ``measure`` without an ERROR; control data have the shape of the simulator's
   (same type, same keys, arrays of the same number of dimensions), and their summaries the keys of
   the real ones.  The deprecated ``synthetic()`` (summaries written directly) breaks this rule;
7. **history**: entries ordered by version (2, 3, ...) and date, consistent with the claim's version.

No rule is about time: speed belongs in benchmarks.
"""

from __future__ import annotations

import copy
import math
import pickle
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._core.errors import DiffapproxError
from ._core.results import Verdict
from ._run.calibrate import _is_legacy, control_names, controls_of, run_controls
from ._run.claims import ABOUT, PROFILES, Claim, Control, get_claim

__all__ = ["ClaimContractError", "ContractReport", "check_claim", "assert_verdict", "deciding_rows"]

_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


class ClaimContractError(AssertionError):
    """A claim breaks the claim contract; the message lists every broken rule."""


@dataclass(slots=True)
class ContractReport:
    """What :func:`check_claim` checked: the rules that held, and the broken ones with their reasons."""

    claim: str
    profile: str
    passed: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"claim {self.claim} at profile {self.profile}: {len(self.broken)} rule(s) broken"]
        lines += [f"  broken: {b}" for b in self.broken]
        lines += [f"  not checked: {s}" for s in self.skipped]
        return "\n".join(lines)


def _same(a: Any, b: Any) -> bool:
    """Deep equality of cell summaries: dicts, sequences, numpy arrays (NaN equal to NaN), numbers."""
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
        )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return False
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.array_equal(a, b))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (
            isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(_same, a, b))
        )
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _shape(x: Any, depth: int = 0) -> Any:
    """The structure of per-path data: type, top-level keys, and arrays' number of dimensions and dtype kind.

    Nested dicts (a run's metadata, say) are compared by type only: a control need not invent them.
    """
    if isinstance(x, dict):
        return ("dict", {k: _shape(v, depth + 1) for k, v in x.items()}) if depth == 0 else ("dict",)
    if isinstance(x, np.ndarray):
        return ("array", x.ndim, "f" if x.dtype.kind in "fiu" else x.dtype.kind)
    if isinstance(x, (list, tuple)):
        return ("sequence", len(x))
    if isinstance(x, (int, float, np.number)):
        return ("number",)
    return (type(x).__name__,)


class _Checker:
    def __init__(self, claim: Claim, profile: str, seed: int, reps: int):
        self.claim, self.profile, self.seed, self.reps = claim, profile, seed, reps
        self.report = ContractReport(claim=getattr(claim, "id", type(claim).__name__), profile=profile)

    def rule(self, name: str, ok: bool, why: str = "") -> bool:
        (self.report.passed if ok else self.report.broken).append(name if ok else f"{name}: {why}")
        return ok

    # 1 ----------------------------------------------------------------------------------------
    def identity(self) -> None:
        c = self.claim
        bad = [
            a for a in ("id", "paper_ref", "statement") if not (isinstance(getattr(c, a, None), str) and getattr(c, a))
        ]
        if isinstance(getattr(c, "id", None), str) and not _ID.fullmatch(c.id):
            bad.append(f"id {c.id!r} (expected lower-case words joined by '-')")
        if getattr(c, "about", None) not in ABOUT:
            bad.append(f"about {getattr(c, 'about', None)!r} (expected one of {', '.join(ABOUT)})")
        self.rule("identity", not bad, "missing or malformed: " + ", ".join(bad))

    # 2 ----------------------------------------------------------------------------------------
    def cells(self) -> list:
        cells = self.claim.cells(self.profile, self.seed)
        keys = [c.key for c in cells]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        self.rule("cell keys unique", not dup, f"keys used twice: {dup}")
        again = self.claim.cells(self.profile, self.seed)
        stable = [(c.key, c.seed, c.params) for c in cells] == [(c.key, c.seed, c.params) for c in again]
        self.rule("cells stable", stable, "cells() gave different cells for the same profile and seed")
        other = [c.key for c in self.claim.cells(self.profile, self.seed + 1)]
        self.rule("cell keys independent of the seed", other == keys, "cell keys change with the master seed")
        unpicklable = []
        for c in cells:
            try:
                pickle.loads(pickle.dumps(c))
            except Exception as exc:  # noqa: BLE001 - any failure to pickle is the finding reported
                unpicklable.append(f"{c.key} ({type(exc).__name__}: {exc})")
        self.rule("cells picklable", not unpicklable, f"cells that do not pickle: {unpicklable}")
        wrong = [c.key for c in cells if c.claim != self.claim.id]
        self.rule("cells name their claim", not wrong, f"cells whose claim is not {self.claim.id!r}: {wrong}")
        return cells

    # 3, 4, 5 ------------------------------------------------------------------------------------
    def run(self, cells: list) -> list | None:
        results = {c.key: self.claim.run_cell(c) for c in cells}
        if getattr(self.claim, "reproducible", True) and cells:
            cheapest = min(cells, key=lambda c: (c.cost, c.key))
            same = _same(self.claim.run_cell(cheapest), results[cheapest.key])
            self.rule("run_cell pure", same, f"cell {cheapest.key!r} gave a different summary when run again")
        elif cells:
            self.report.skipped.append("run_cell pure (the claim is declared reproducible=False)")
        prediction = self.claim.predict(self.profile)
        ms = self.claim.measure(self.profile, self.seed, copy.deepcopy(results), copy.deepcopy(prediction))
        ms2 = self.claim.measure(self.profile, self.seed, copy.deepcopy(results), copy.deepcopy(prediction))
        same = [m.to_json() for m in ms] == [m.to_json() for m in ms2]
        self.rule("measure pure", same, "measure() gave different measurements for the same summaries and seed")
        self.stated(ms)
        return ms

    def stated(self, ms: list) -> None:
        judged = [m for m in ms if m.judged]
        no_band = [m.name for m in judged if m.tolerance is None]
        self.rule("judged rows have a band", not no_band, f"judged rows without a band: {no_band}")
        no_effect = [m.name for m in judged if m.effect is None or not math.isfinite(m.effect) or m.effect <= 0]
        self.rule("judged rows have an effect", not no_effect, f"judged rows without a finite effect > 0: {no_effect}")
        fams = self.claim.families(self.profile)
        if fams:
            counts = {m.name: sum(m.name.startswith(tuple(p)) for p in fams.values()) for m in judged}
            off = [n for n, k in counts.items() if k != 1]
            self.rule("judged rows in exactly one family", not off, f"rows in none or several families: {off}")

    # 6 ----------------------------------------------------------------------------------------
    def controls(self, cells: list) -> None:
        why = controls_of(self.claim)
        if why is not None:
            self.report.skipped.append(f"controls (the claim has none: {why})")
            return
        if _is_legacy(self.claim):
            self.rule(
                "controls run the claim's own cell code",
                False,
                "synthetic() writes cell summaries directly (deprecated); implement control_data() with "
                "simulate_cell() and summarize()",
            )
            return
        if cells:
            self.control_shapes(cells[0])
        errors = []
        for name in control_names(self.claim, self.profile):
            names = [f"mutant:{m}" for m in self.claim.mutants(self.profile)] if name == "mutant" else [name]
            for n in names:
                run = run_controls(self.claim, self.profile, n, self.reps, self.seed)
                if run is None or not run.claim:
                    errors.append(f"{n}: no replicate ran")
                errors += [f"{n}: replicate {r}: {msg}" for r, msg in (run.errors if run else [])]
        self.rule("controls run without error", not errors, "; ".join(errors[:5]))

    def control_shapes(self, cell) -> None:
        real = self.claim.simulate_cell(cell)
        rng = np.random.default_rng(0)
        bad = []
        for kind in ("exact", "edge"):
            if kind not in self.claim.control_sources(self.profile):
                continue
            data = self.claim.control_data(cell, Control(kind=kind), rng)
            if _shape(data) != _shape(real):
                bad.append(f"{kind}: control data {_shape(data)} vs simulator {_shape(real)}")
            summary, real_summary = self.claim.summarize(cell, data), self.claim.summarize(cell, real)
            if isinstance(summary, dict) and isinstance(real_summary, dict) and summary.keys() != real_summary.keys():
                bad.append(f"{kind}: summary keys {sorted(summary)} vs {sorted(real_summary)}")
        self.rule("control data shaped like the simulator's", not bad, "; ".join(bad))

    # 7 ----------------------------------------------------------------------------------------
    def history(self) -> None:
        h = tuple(getattr(self.claim, "history", ()))
        versions = [e.version for e in h]
        dates = [e.date for e in h]
        ok = versions == list(range(2, len(h) + 2)) and dates == sorted(dates)
        self.rule("history ordered", ok, f"versions {versions} (expected 2, 3, ...), dates {dates} (expected sorted)")


def check_claim(
    claim: Claim | str, profile: str = "quick", *, seed: int = 20180330, reps: int = 2, controls: bool = True
) -> ContractReport:
    """Check ``claim`` against the claim contract (this module's docstring) at ``profile``.

    Parameters
    ----------
    claim : Claim or str
        A claim instance, or the id of a registered one.
    profile : {"quick", "standard", "paper"}
        The sizes at which the cells and controls run (``quick``: a few seconds for most claims).
    seed : int
        Master seed of the cells and controls.
    reps : int
        Replicates of each control (they must run, not decide: 2 is enough).
    controls : bool
        Run the controls (rule 6); off only to check the rest quickly.

    Returns
    -------
    ContractReport
        The rules that held (and those not checked, with the reason).

    Raises
    ------
    ClaimContractError
        Listing every broken rule, one line each.
    DiffapproxError
        For a bad ``profile``, ``reps`` or an unknown id.
    """
    if profile not in PROFILES:
        raise DiffapproxError("profile", f"one of {', '.join(PROFILES)}", profile)
    if not isinstance(reps, int) or reps < 1:
        raise DiffapproxError("reps", "an integer >= 1", reps)
    claim = get_claim(claim) if isinstance(claim, str) else claim
    ck = _Checker(claim, profile, seed, reps)
    ck.identity()
    ck.history()
    cells = ck.cells()
    ck.run(cells)
    if controls:
        ck.controls(cells)
    else:
        ck.report.skipped.append("controls (controls=False)")
    if ck.report.broken:
        raise ClaimContractError(str(ck.report))
    return ck.report


def deciding_rows(claim: dict | Any, limit: int = 3) -> list[str]:
    """The judged rows that share the claim's verdict (the ones that decided it), one line each.

    ``name: estimate [ci lo, ci hi] (FAIL interval [lo, hi]) vs band [lo, hi] -> VERDICT``.
    """
    d = claim.to_json() if hasattr(claim, "to_json") else claim
    verdict = d.get("verdict")
    rows = [m for m in d.get("measurements", []) if m.get("judged", m.get("informative", True))]
    deciding = [m for m in rows if m.get("verdict") == verdict] or rows
    out = []
    for m in deciding[:limit]:
        ci, cf, band = m.get("ci") or (None, None), m.get("ci_fail"), m.get("tolerance")
        text = f"{m['name']}: {_num(m.get('estimate'))} [{_num(ci[0])}, {_num(ci[1])}]"
        if cf:
            text += f" (FAIL interval [{_num(cf[0])}, {_num(cf[1])}])"
        if band:
            text += f" vs band [{_num(band[0])}, {_num(band[1])}]"
        out.append(f"{text} -> {m.get('verdict')}")
    if len(deciding) > limit:
        out.append(f"... and {len(deciding) - limit} more row(s) with verdict {verdict}")
    return out


def _num(x) -> str:
    return "null" if x is None else f"{float(x):.4g}"


def assert_verdict(result: dict | Any, expected: str | Verdict) -> None:
    """Assert that a claim result (a ``results.json`` claim, or a typed claim result) has verdict ``expected``.

    Raises
    ------
    AssertionError
        ``claim ID: expected PASS, got FAIL`` and the rows that decided it (estimate, intervals, band).
    """
    d = result.to_json() if hasattr(result, "to_json") else result
    want = Verdict(str(expected)).value
    got = d.get("verdict")
    if got != want:
        why = d.get("error") or "\n  ".join(deciding_rows(d))
        raise AssertionError(f"claim {d.get('id')}: expected {want}, got {got}\n  {why}")
