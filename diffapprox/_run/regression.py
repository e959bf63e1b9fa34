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


def estimate_tolerance(run: dict, base: dict) -> tuple[float, float]:
    """Allowed move of an estimate and the combined CI half-width it came from.

    Parameters
    ----------
    run, base : dict
        The measurement in the run and in the baseline (``estimate``, ``ci``).

    Returns
    -------
    allowed : float
        ``MOVE_K * combined + ABS_FLOOR + REL_FLOOR * |base estimate|``.
    combined : float
        ``sqrt(h_run**2 + h_base**2)``.
    """
    combined = math.hypot(_half_width(run.get("ci")), _half_width(base.get("ci")))
    b = base.get("estimate")
    scale = abs(b) if _finite(b) else 0.0
    return MOVE_K * combined + ABS_FLOOR + REL_FLOOR * scale, combined


def _claims_by_id(results: Any, what: str) -> dict[str, dict]:
    if not isinstance(results, dict) or not isinstance(results.get("claims"), list):
        raise DiffapproxError(what, "a results object with a 'claims' list", type(results).__name__)
    out = {}
    for c in results["claims"]:
        if not isinstance(c, dict) or not isinstance(c.get("id"), str):
            raise DiffapproxError(f"{what} claims", "objects with a string 'id'", c)
        out[c["id"]] = c
    return out


def _g(x: Any) -> str:
    return "null" if x is None else f"{x:.6g}" if isinstance(x, float) else str(x)


def _why_not_compared(run_claim: dict, base_claim: dict) -> str | None:
    """Why a claim present on both sides is not compared (None when it is).

    A claim that is not bit-reproducible (``reproducible: false``, e.g. a live
    parameter server whose delays come from real scheduling) or that could not run on
    one side for want of an optional extra (``missing_extra``) has nothing comparable:
    only its presence is checked.
    """
    for side, c in (("this run", run_claim), ("the baseline", base_claim)):
        if c.get("reproducible") is False:
            return f"not bit-reproducible (reproducible=false in {side})"
        if c.get("missing_extra"):
            return f"did not run in {side}: needs the `{c['missing_extra']}` extra"
    return None


def not_compared(results: dict, baseline: dict) -> list[str]:
    """One line per claim present on both sides whose verdict and numbers were not compared, and why."""
    run = _claims_by_id(results, "results")
    base = _claims_by_id(baseline, "baseline")
    out = []
    for cid, b in base.items():
        r = run.get(cid)
        if r is not None:
            why = _why_not_compared(r, b)
            if why is not None:
                out.append(f"claim {cid}: not compared: {why}")
    return out


def compare_to_baseline(results: dict, baseline: dict) -> list[str]:
    """Everything that moved between a run and its baseline, one line per change.

    Parameters
    ----------
    results : dict
        The run's ``results.json`` (parsed).
    baseline : dict
        The baseline ``results.json`` (parsed), e.g. ``reports/baseline-quick.json``.

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
        When either argument has no ``claims`` list of objects with ids.
    """
    run = _claims_by_id(results, "results")
    base = _claims_by_id(baseline, "baseline")
    msgs: list[str] = []
    for key in ("profile", "seed"):
        if results.get(key) != baseline.get(key):
            msgs.append(f"{key}: baseline {baseline.get(key)!r}, this run {results.get(key)!r}")
    for cid, b in base.items():
        r = run.get(cid)
        if r is None:
            msgs.append(f"claim {cid}: missing from this run (present in the baseline, verdict {b.get('verdict')})")
            continue
        if _why_not_compared(r, b) is not None:
            continue
        if r.get("verdict") != b.get("verdict"):
            msgs.append(f"claim {cid}: verdict {b.get('verdict')} -> {r.get('verdict')}")
        rm = {m.get("name"): m for m in r.get("measurements") or [] if isinstance(m, dict)}
        for bm in b.get("measurements") or []:
            if not isinstance(bm, dict):
                continue
            name = bm.get("name")
            m = rm.get(name)
            where = f"claim {cid}: measurement {name!r}"
            if m is None:
                msgs.append(f"{where}: missing from this run")
                continue
            be, re_ = bm.get("estimate"), m.get("estimate")
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
    for cid, r in run.items():
        if cid not in base:
            msgs.append(f"claim {cid}: new in this run (not in the baseline), verdict {r.get('verdict')}")
    return msgs
