"""Regression check of a run against a committed baseline (``--baseline FILE``).

A run regresses when, compared with the baseline ``results.json``:

- the profile or the seed differ (the comparison would be meaningless);
- a claim is missing, or new (the baseline must be refreshed on purpose);
- a claim's verdict changed;
- a measurement of the baseline is missing from the run;
- a measurement's estimate moved by more than the tolerance below, or became
  defined/undefined.

Not compared: a claim's ``calibration``, ``history`` and rule ``version`` and the run's
``calibration_file``.  They describe the rule and its synthetic controls (read from a committed
calibration file, which changes whenever the controls are re-run), not this run's numbers; a changed
rule shows up anyway as changed verdicts or measurements.

Tolerance on an estimate. With CI half-widths ``h_run`` and ``h_base`` (each
``(hi - lo) / 2``; 0 when the CI is missing), the estimate may move by

    allowed = MOVE_K * sqrt(h_run**2 + h_base**2) + ABS_FLOOR + REL_FLOOR * |base|

For two independent estimates with 95% CIs, ``sqrt(h_run**2 + h_base**2)`` is
about the 95% half-width of their difference, so ``MOVE_K = 2`` flags a move of
about four standard errors: a real change, not noise. Runs with the same seed
are bit-identical on one machine; the floors absorb the last-digit drift between
platforms and library versions, and keep zero-width CIs (exact quantities) from
flagging round-off.
"""

from __future__ import annotations

import math
from typing import Any

from .._core.errors import DiffapproxError
from .._core.results import Measurement
from .._core.results_file import ClaimRecord, Results

__all__ = ["MOVE_K", "ABS_FLOOR", "REL_FLOOR", "compare_to_baseline", "estimate_tolerance"]

#: Multiple of the combined CI half-width an estimate may move.
MOVE_K = 2.0
#: Absolute floor of the allowed move (zero-width CIs, exact quantities).
ABS_FLOOR = 1e-9
#: Relative floor of the allowed move, times |baseline estimate| (floating-point drift).
REL_FLOOR = 1e-6


def _half_width(ci: Any) -> float:
    if not ci or len(ci) != 2 or any(not isinstance(v, (int, float)) or not math.isfinite(v) for v in ci):
        return 0.0
    return abs(float(ci[1]) - float(ci[0])) / 2


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def estimate_tolerance(run: Measurement, base: Measurement) -> tuple[float, float]:
    """Allowed move of an estimate and the combined CI half-width it came from.

    Parameters
    ----------
    run, base : Measurement
        The measurement in the run and in the baseline (``estimate``, ``ci``).

    Returns
    -------
    allowed : float
        ``MOVE_K * combined + ABS_FLOOR + REL_FLOOR * |base estimate|``.
    combined : float
        ``sqrt(h_run**2 + h_base**2)``.
    """
    combined = math.hypot(_half_width(run.ci), _half_width(base.ci))
    b = base.estimate
    scale = abs(b) if _finite(b) else 0.0
    return MOVE_K * combined + ABS_FLOOR + REL_FLOOR * scale, combined


def _typed(results: Results | dict, what: str) -> Results:
    """``results`` as :class:`Results` (a parsed ``results.json`` is checked, errors naming ``what``)."""
    if isinstance(results, Results):
        return results
    try:
        return Results.from_json(results)
    except DiffapproxError as exc:
        raise DiffapproxError(what, "a valid results.json", str(exc)) from None


def _claims_by_id(results: Results) -> dict[str, ClaimRecord]:
    return {c.id: c for c in results.claims}


def _g(x: Any) -> str:
    return "null" if x is None else f"{x:.6g}" if isinstance(x, float) else str(x)


def _why_not_compared(run_claim: ClaimRecord, base_claim: ClaimRecord) -> str | None:
    """Why a claim present on both sides is not compared (None when it is).

    A claim that is not bit-reproducible (``reproducible: false``, e.g. a live
    parameter server whose delays come from real scheduling) or that could not run on
    one side for want of an optional extra (``missing_extra``) has nothing comparable:
    only its presence is checked.
    """
    for side, c in (("this run", run_claim), ("the baseline", base_claim)):
        if c.reproducible is False:
            return f"not bit-reproducible (reproducible=false in {side})"
        if c.missing_extra:
            return f"did not run in {side}: needs the `{c.missing_extra}` extra"
    return None


def not_compared(results: Results, baseline: Results) -> list[str]:
    """One line per claim present on both sides whose verdict and numbers were not compared, and why."""
    run = _claims_by_id(_typed(results, "results"))
    base = _claims_by_id(_typed(baseline, "baseline"))
    out = []
    for cid, b in base.items():
        r = run.get(cid)
        if r is not None:
            why = _why_not_compared(r, b)
            if why is not None:
                out.append(f"claim {cid}: not compared: {why}")
    return out


def _moved_measurements(cid: str, r: ClaimRecord, b: ClaimRecord) -> list[str]:
    """The baseline measurements of claim ``cid`` missing from the run or moved beyond their tolerance."""
    msgs: list[str] = []
    rm = {m.name: m for m in r.measurements}
    for bm in b.measurements:
        m = rm.get(bm.name)
        where = f"claim {cid}: measurement {bm.name!r}"
        if m is None:
            msgs.append(f"{where}: missing from this run")
            continue
        be, re_ = bm.estimate, m.estimate
        if not _finite(be) or not _finite(re_):
            if _finite(be) != _finite(re_):
                msgs.append(f"{where}: estimate {_g(be)} -> {_g(re_)}")
            continue
        allowed, combined = estimate_tolerance(m, bm)
        moved = abs(float(re_) - float(be))
        if moved > allowed:
            msgs.append(
                f"{where}: estimate {_g(be)} -> {_g(re_)} (moved {moved:.3g} > allowed {allowed:.3g} = "
                f"{MOVE_K:g} x combined CI half-width {combined:.3g} + floor)"
            )
    return msgs


def compare_to_baseline(results: Results, baseline: Results) -> list[str]:
    """Everything that moved between a run and its baseline, one line per change.

    Parameters
    ----------
    results : Results
        The run's ``results.json`` (:func:`diffapprox.load_results`; a parsed dict is checked first).
    baseline : Results
        The baseline ``results.json``, e.g. ``reports/baseline-quick.json``.

    Returns
    -------
    list of str
        Empty when nothing moved; otherwise lines such as
        ``"claim ode_limit: verdict PASS -> FAIL"`` or
        ``"claim ode_limit: measurement 'gap': estimate 0.0123 -> 0.5 (moved 0.488 >
        allowed 0.0046 = 2 x combined CI half-width 0.0023)"``, in baseline order
        (new claims last).

    Raises
    ------
    DiffapproxError
        When a parsed dict given instead of :class:`Results` is not a valid ``results.json``.
    """
    results, baseline = _typed(results, "results"), _typed(baseline, "baseline")
    run = _claims_by_id(results)
    base = _claims_by_id(baseline)
    msgs: list[str] = []
    for key in ("profile", "seed"):
        if getattr(results, key) != getattr(baseline, key):
            msgs.append(f"{key}: baseline {getattr(baseline, key)!r}, this run {getattr(results, key)!r}")
    for cid, b in base.items():
        r = run.get(cid)
        if r is None:
            msgs.append(f"claim {cid}: missing from this run (present in the baseline, verdict {b.verdict})")
            continue
        if _why_not_compared(r, b) is not None:
            continue
        if r.verdict != b.verdict:
            msgs.append(f"claim {cid}: verdict {b.verdict} -> {r.verdict}")
        msgs += _moved_measurements(cid, r, b)
    for cid, r in run.items():
        if cid not in base:
            msgs.append(f"claim {cid}: new in this run (not in the baseline), verdict {r.verdict}")
    return msgs
