"""Number and label formatting shared by the HTML and PDF reports.

One rule everywhere: ``None`` (undefined, or a non-finite number in ``results.json``)
reads as an em dash; an estimate and its confidence interval are printed to the
same decimal place, chosen so the CI half-width shows two significant digits.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._core.results import HistoryEntry, Measurement
    from .._core.results_file import Calibration, ClaimRecord

__all__ = [
    "DASH",
    "VERDICTS",
    "VERDICT_COLOURS",
    "fmt_num",
    "fmt_estimate",
    "fmt_ci",
    "fmt_tolerance",
    "fmt_seconds",
    "fmt_value",
    "verdict_counts",
    "fmt_verdict_counts",
    "common_ci_level",
    "any_ci_fail",
    "deciding_measurements",
    "key_measurement",
    "fmt_key_number",
    "fmt_needed_paths",
    "fmt_rate",
    "fmt_rate_ci",
    "calibration_cell",
    "calibration_rows",
    "HISTORY_HEAD",
    "history_rows",
    "fmt_effect",
    "calibration_file_text",
    "SCOPES",
    "SCOPE_TITLES",
    "KNOWN_ABOUT",
    "claim_about",
    "group_claims",
    "fmt_scope_counts",
    "scope_count_lines",
    "judged_context",
    "fmt_judged_context",
    "undecided_text",
    "is_old_block",
    "OC_ABBREVIATIONS",
    "fmt_rate_short",
]

#: What an undefined number reads as.
DASH = "\u2014"

#: Verdicts in the order the reports count them.
VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR")

#: (background, text) colours of each verdict, shared by HTML and PDF.
VERDICT_COLOURS = {
    "PASS": ("#1a7f37", "#ffffff"),
    "FAIL": ("#cf222e", "#ffffff"),
    "INCONCLUSIVE": ("#bf8700", "#ffffff"),
    "ERROR": ("#6e40c9", "#ffffff"),
}

#: Significant digits of numbers shown without a CI (predictions, tolerances, parameters).
SIG_DIGITS = 4

#: Fixed-point output only up to this many decimals and below this magnitude; else scientific.
MAX_FIXED_DECIMALS = 6
MAX_FIXED_MAGNITUDE = 1e6


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt_num(x: Any, digits: int = SIG_DIGITS) -> str:
    """Format a number with ``digits`` significant digits; ``None``/non-finite -> em dash."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return DASH
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return str(x) if abs(x) < 10**9 else f"{x:.{digits - 1}e}"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def _decimals(ci: Any) -> int | None:
    """Decimal places that show the CI half-width to two significant digits, or None."""
    if not ci or len(ci) != 2 or not all(_is_num(v) for v in ci):
        return None
    hw = abs(ci[1] - ci[0]) / 2
    if hw == 0:
        return None
    return min(12, max(0, 1 - math.floor(math.log10(hw))))


def _fixed_ok(d: int, *xs: Any) -> bool:
    """Fixed point with ``d`` decimals reads well: few decimals, no huge magnitudes.

    Values far below the CI's precision (e.g. 1.7e-18 next to a half-width of 0.01)
    print as ``0.000``, which is what they are at that precision.
    """
    return d <= MAX_FIXED_DECIMALS and all(not _is_num(x) or abs(x) < MAX_FIXED_MAGNITUDE for x in xs)


def fmt_estimate(est: Any, ci: Any = None) -> str:
    """Format an estimate to the precision its confidence interval supports."""
    if not _is_num(est):
        return fmt_num(est)
    d = _decimals(ci)
    if d is None or not _fixed_ok(d, est, *ci):
        return fmt_num(est)
    return f"{est:.{d}f}"


def fmt_ci(ci: Any) -> str:
    """Format a confidence interval ``[lo, hi]`` (em dash when undefined)."""
    if not ci or len(ci) != 2 or all(v is None for v in ci):
        return DASH
    d = _decimals(ci)
    if d is None or not _fixed_ok(d, *ci):
        parts = [fmt_num(v) for v in ci]
    else:
        parts = [f"{v:.{d}f}" for v in ci]
    return f"[{parts[0]}, {parts[1]}]"


def fmt_tolerance(tol: Any) -> str:
    """Format an equivalence band; a missing end makes it one-sided."""
    if not tol or len(tol) != 2 or all(v is None for v in tol):
        return DASH
    lo, hi = tol
    if lo is None:
        return f"\u2264 {fmt_num(hi)}"
    if hi is None:
        return f"\u2265 {fmt_num(lo)}"
    return f"[{fmt_num(lo)}, {fmt_num(hi)}]"


def fmt_seconds(s: Any) -> str:
    """Format a duration in seconds as ``0.42 s``, ``12.3 s``, ``4 min 05 s`` or ``2 h 03 min``."""
    if not _is_num(s):
        return DASH
    s = float(s)
    if s < 10:
        return f"{s:.2f} s"
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        m, r = divmod(round(s), 60)
        return f"{m} min {r:02d} s"
    h, r = divmod(round(s), 3600)
    return f"{h} h {r // 60:02d} min"


def fmt_value(x: Any) -> str:
    """Format a parameter value: numbers by :func:`fmt_num`, containers as compact JSON."""
    if isinstance(x, (dict, list, tuple)):
        if isinstance(x, (list, tuple)) and all(_is_num(v) or v is None for v in x):
            return "[" + ", ".join(fmt_num(v) for v in x) + "]"
        return json.dumps(x, sort_keys=True, default=str)
    if isinstance(x, bool):
        return "true" if x else "false"
    return fmt_num(x)


def verdict_counts(items) -> dict[str, int]:
    """Count verdicts of claims or measurements, every verdict present (zero if absent)."""
    c = Counter(str(it.verdict) for it in items)
    return {v: c.get(v, 0) for v in VERDICTS}


def fmt_verdict_counts(counts: dict[str, int]) -> str:
    """``3 PASS, 1 FAIL``: the verdicts that occur, in :data:`VERDICTS` order (empty when none)."""
    return ", ".join(f"{n} {v}" for v, n in counts.items() if n)


def common_ci_level(measurements) -> float | None:
    """The CI level shared by every measurement with a CI, or None when levels differ (or no CI)."""
    levels = {m.ci_level for m in measurements if m.ci}
    return levels.pop() if len(levels) == 1 else None


def any_ci_fail(measurements) -> bool:
    """Whether some measurement states a FAIL interval (the tables then show a "FAIL CI" column)."""
    return any(m.ci_fail is not None for m in measurements)


def _interval(m: Measurement) -> tuple[Any, Any]:
    """The measurement's CI, or the point estimate at a missing end (p-values, statistics)."""
    est = m.estimate
    ci = m.ci or (None, None)
    lo = ci[0] if _is_num(ci[0]) else est
    hi = ci[1] if _is_num(ci[1]) else est
    return (lo if _is_num(lo) else None), (hi if _is_num(hi) else None)


def _band_scale(m: Measurement) -> float:
    """The unit in which distances to the band are compared across measurements."""
    tol = m.tolerance or (None, None)
    if _is_num(tol[0]) and _is_num(tol[1]) and tol[1] > tol[0]:
        return float(tol[1] - tol[0])
    pred = m.prediction
    if _is_num(pred) and pred != 0:
        return abs(float(pred))
    lo, hi = _interval(m)
    if lo is not None and hi is not None and hi > lo:
        return float(hi - lo)
    return 1.0


def _margin(m: Measurement) -> float | None:
    """Signed distance of the whole CI inside the band (negative: some of it is outside), in band units."""
    tol = list(m.tolerance or (None, None))
    lo, hi = _interval(m)
    est, pred = m.estimate, m.prediction
    if _is_num(tol[0]) and _is_num(tol[1]) and _is_num(est) and _is_num(pred) and tol[0] <= pred <= tol[1]:
        # the edge on the side the estimate moved to from the prediction (a band [0, e] around a
        # prediction 0 of a non-negative error is one-sided in effect)
        tol[0 if est >= pred else 1] = None
    parts = []
    if _is_num(tol[0]) and lo is not None:
        parts.append(lo - tol[0])
    if _is_num(tol[1]) and hi is not None:
        parts.append(tol[1] - hi)
    return min(parts) / _band_scale(m) if parts else None


def _gap(m: Measurement) -> float | None:
    """Distance of the nearest CI end outside the band (positive: the whole CI is outside), in band units."""
    tol = m.tolerance or (None, None)
    lo, hi = _interval(m)
    parts = []
    if _is_num(tol[0]) and hi is not None:
        parts.append(tol[0] - hi)
    if _is_num(tol[1]) and lo is not None:
        parts.append(lo - tol[1])
    return max(parts) / _band_scale(m) if parts else None


def deciding_measurements(claim: ClaimRecord) -> list[Measurement]:
    """The judged measurements sharing the claim's verdict, in the claim's order (every judged one when none does)."""
    judged = [m for m in claim.measurements if m.judged]
    return [m for m in judged if m.verdict == claim.verdict] or judged


def key_measurement(claim: ClaimRecord) -> Measurement | None:
    """The measurement that decided the claim's verdict: the worst of those that share it.

    Among the judged measurements with the claim's verdict: for FAIL the one
    whose CI lies farthest outside its tolerance band, for PASS the one closest to
    its band's edge, for INCONCLUSIVE the one reaching farthest out of its band
    (distances in units of the band width, else of the prediction, else of the CI).
    Ties keep the first in the claim's order. ``None`` when there are no measurements.
    """
    pool = deciding_measurements(claim) or list(claim.measurements)
    if not pool:
        return None
    if claim.verdict == "FAIL":
        scored = [(g, -i) for i, m in enumerate(pool) if (g := _gap(m)) is not None]
        if scored:
            return pool[-max(scored)[1]]
        return pool[0]
    if claim.verdict in ("PASS", "INCONCLUSIVE"):
        scored = [(s, i) for i, m in enumerate(pool) if (s := _margin(m)) is not None]
        if scored:
            return pool[min(scored)[1]]
    return pool[0]


def fmt_key_number(m: Measurement | None, *, with_name: bool = True) -> str:
    """``name: estimate [CI] vs prediction, band [lo, hi]`` of a key measurement (em dash when None)."""
    if m is None:
        return DASH
    s = f"{m.name}: " if with_name else ""
    s += fmt_estimate(m.estimate, m.ci)
    if m.ci and not all(v is None for v in m.ci):
        s += f" {fmt_ci(m.ci)}"
    if m.prediction is not None:
        s += f" vs {fmt_num(m.prediction)}"
    if m.tolerance and not all(v is None for v in m.tolerance):
        s += f", band {fmt_tolerance(m.tolerance)}"
    return s


def fmt_needed_paths(m: Measurement) -> str:
    """For an INCONCLUSIVE row that states it, the sample size that would decide it (else empty)."""
    if m.verdict != "INCONCLUSIVE" or m.needed_paths is None:
        return ""
    return f"about {m.needed_paths:,} paths would decide it"


# ---------------------------------------------------------------------------
# Calibration and history (shared wording of the HTML and PDF reports)
# ---------------------------------------------------------------------------
def fmt_rate(x: Any) -> str:
    """A rate in [0, 1] as a percentage with one decimal (``2.5%``); em dash when undefined."""
    return f"{100 * x:.1f}%" if _is_num(x) else DASH


def fmt_rate_ci(r: dict | None) -> str:
    """``{rate, ci}`` as ``2.5% [0.9%, 6.1%]``."""
    if not r:
        return DASH
    ci = r.get("ci") or (None, None)
    return f"{fmt_rate(r.get('rate'))} [{fmt_rate(ci[0])}, {fmt_rate(ci[1])}]"


def calibration_cell(cal: Calibration | None, *, compact: bool = False) -> str:
    """One line for a summary table, flagged when stale or a smoke run.

    A calibrate/2 block reads ``FF 0.5% · conf 92% · pow 85% · FP 0%`` (:data:`OC_ABBREVIATIONS`); an
    older block (null FAIL rate and power only) reads ``null FAIL 0.0% · power 100.0%``, and ``compact``
    leaves out its labels (``0.0% · 100.0%``: the table's header names them)."""
    if cal is None:
        return DASH
    if not cal.calibrated:
        return "not calibrated"
    if not is_old_block(cal):
        s = _oc_cell(cal)
        if cal.stale:
            s += " \u00b7 stale"
        if cal.smoke_run:
            s += " \u00b7 smoke"
        return s
    null, power = (
        fmt_rate((cal.null_fail or {}).get("rate")),
        fmt_rate((cal.alternative_fail or {}).get("rate")),
    )
    s = f"{null} \u00b7 {power}" if compact else f"null FAIL {null} \u00b7 power {power}"
    if cal.stale:
        s += " \u00b7 stale"
    if cal.smoke_run:
        s += " \u00b7 smoke run"
    return s


def _target(r: dict | None, what: str) -> str:
    if not r:
        return DASH
    t = r.get("target")
    return fmt_rate_ci(r) + (f" (target {what}: {t})" if t else "")


def calibration_rows(cal: Calibration | None, *, brief: bool = False) -> list[tuple[str, str]]:
    """``(label, text)`` rows describing a claim's calibration, or one row saying why there is none.

    A calibrate/2 block gives false FAIL (edge), confirm (exact, or why the claim sets no target),
    the worst family's power and its family, false PASS (outside), each mutant with the verdict it
    must give, and where each control's data come from (``legacy summaries`` flagged), every rate with
    its Wilson CI and target state; an older block its null FAIL rate and power.  ``brief`` leaves out
    the models behind the sources and the mutants' notes (a claim's PDF page).
    """
    if cal is None:
        return [("calibration", "none: no calibration file was read for this run")]
    where = f"{cal.reps} replicates per control, profile {cal.profile}, seed {cal.seed}, {cal.date}"
    if cal.smoke_run:
        where += " (smoke run: too few replicates to state the targets)"
    if not cal.calibrated:
        return [("not calibrated", str(cal.reason or DASH)), ("calibration file", where)]
    stale = cal.stale
    t = cal.targets or {}
    rows = _oc_rows(cal, brief=brief) if not is_old_block(cal) else _old_rows(cal, t)
    rows.append(("replicates", where))
    rows.append(
        (
            "stale",
            DASH
            if stale is None
            else "yes: the claim's code changed since it was calibrated; re-run diffapprox calibrate"
            if stale
            else "no: the code calibrated is the code that ran",
        )
    )
    if cal.note:
        rows.append(("note", str(cal.note)))
    return rows


def _old_rows(cal: Calibration, t: Mapping) -> list[tuple[str, str]]:
    """The null FAIL rate and power of a calibrate/1-era block (and its limit FAIL rate, a finding)."""
    rows = [
        ("null FAIL rate", _target(cal.null_fail, f"\u2264 {fmt_rate(t.get('null_fail_max'))}")),
        (
            "power (FAIL rate under the alternative)",
            _target(cal.alternative_fail, f"\u2265 {fmt_rate(t.get('power_min'))}"),
        ),
    ]
    if cal.limit_fail:
        rows.append(("FAIL rate on samples of the limit (a finding, no target)", fmt_rate_ci(cal.limit_fail)))
    return rows


#: Column heads of the history table (HTML and PDF).
HISTORY_HEAD = ("version", "date", "change", "reason", "old verdict", "source of the old verdict")


def history_rows(history: Sequence[HistoryEntry]) -> list[tuple[str, str, str, str, str | None, str]]:
    """One row per dated rule change: version, date, change, reason, old verdict (or None), its source."""
    return [
        (
            str(h.version),
            str(h.date),
            str(h.change),
            str(h.reason),
            h.old_verdict,
            str(h.old_source or DASH),
        )
        for h in history
    ]


def fmt_effect(m: Measurement) -> str:
    """A judged row's stated detectable effect beyond its band's edge (em dash when none is stated)."""
    return fmt_num(m.effect)


def calibration_file_text(info: dict | None) -> str:
    """What the run says about the calibration file it read (or why it read none)."""
    if info is None:
        return "Calibration: not recorded (results written before calibration and history were reported)."
    if info.get("path") is None:
        return f"Calibration: {info.get('note') or 'no calibration file was read'}."
    s = (
        f"Calibration: {info['path']} ({info.get('reps')} replicates per control, profile {info.get('profile')}, "
        f"seed {info.get('seed')}, {info.get('date')})"
    )
    return s + (": a smoke run, too few replicates to state the targets." if info.get("smoke_run") else ".")


# ---------------------------------------------------------------------------
# What a claim is about: the paper's claims first, counted on their own
# ---------------------------------------------------------------------------
#: What a claim is about, in the order the reports count and list the claims.
SCOPES = ("paper", "literature", "toolkit")

#: The heading of each scope in the summaries.
SCOPE_TITLES = {
    "paper": "The paper",
    "literature": "Other papers' approximations",
    "toolkit": "The toolkit's own checks",
}

#: What the claims not about the paper are about, for files written before claims said so (``about``
#: absent or null): every other id of such a file is about the paper.  The one place this is decided.
KNOWN_ABOUT = {
    "verdict-calibration": "toolkit",
    "finite-step-variance": "toolkit",
    "live-staleness": "toolkit",
    "sme-weak-order": "literature",
    "svag-sweep": "literature",
    "exit-time": "literature",
    "stationary-covariance": "literature",
}


def claim_about(claim: ClaimRecord) -> str:
    """``"paper"``, ``"literature"`` or ``"toolkit"``: the claim's ``about``, else :data:`KNOWN_ABOUT`, else paper."""
    about = getattr(claim, "about", None)
    return about if about in SCOPES else KNOWN_ABOUT.get(claim.id, "paper")


def group_claims(claims: Sequence[ClaimRecord]) -> list[tuple[str, list[ClaimRecord]]]:
    """``[(scope, claims), ...]`` in :data:`SCOPES` order, the run's order within a scope; empty scopes left out."""
    groups: dict[str, list] = {s: [] for s in SCOPES}
    for c in claims:
        groups[claim_about(c)].append(c)
    return [(s, cs) for s, cs in groups.items() if cs]


def fmt_scope_counts(scope: str, claims: Sequence[ClaimRecord]) -> str:
    """``The paper: 15 claims: 4 PASS, 2 FAIL, 9 INCONCLUSIVE, 0 ERROR`` (every verdict, zeros too)."""
    counts = verdict_counts(claims)
    n = len(claims)
    return f"{SCOPE_TITLES[scope]}: {n} claim{'' if n == 1 else 's'}: " + ", ".join(
        f"{counts[v]} {v}" for v in VERDICTS
    )


def scope_count_lines(claims: Sequence[ClaimRecord]) -> list[str]:
    """One :func:`fmt_scope_counts` line per scope present, the paper first."""
    return [fmt_scope_counts(s, cs) for s, cs in group_claims(claims)]


# ---------------------------------------------------------------------------
# Judged rows apart from context rows
# ---------------------------------------------------------------------------
def judged_context(measurements: Sequence[Measurement]) -> tuple[list[Measurement], int]:
    """The judged measurements (those the claim's verdict combines) and the number of context rows."""
    judged = [m for m in measurements if m.judged]
    return judged, len(measurements) - len(judged)


def fmt_judged_context(measurements: Sequence[Measurement]) -> str:
    """``judged: 9 (9 PASS); context: 5``: context rows are counted, their verdicts never (they decide nothing)."""
    if not measurements:
        return "no measurements"
    judged, n_ctx = judged_context(measurements)
    s = f"judged: {len(judged)}"
    if judged:
        s += f" ({fmt_verdict_counts(verdict_counts(judged))})"
    return s + (f"; context: {n_ctx}" if n_ctx else "")


def undecided_text(claim: ClaimRecord) -> str | None:
    """For an INCONCLUSIVE claim, the sentence naming its undecided judged rows and the sample size each needs.

    The runner's ``Undecided:`` finding when the claim has one, else the same sentence built from the
    rows' ``needed_paths``; ``None`` for other verdicts or when no judged row is undecided.
    """
    if claim.verdict != "INCONCLUSIVE":
        return None
    found = next((s for s in claim.findings if s.startswith("Undecided:")), None)
    if found is not None:
        return found
    from .._run.claims import undecided_finding

    lines = undecided_finding(list(claim.measurements))
    return lines[0] if lines else None


# ---------------------------------------------------------------------------
# Operating characteristics of a calibrate/2 block
# ---------------------------------------------------------------------------
#: The rates of a calibrate/2 block (a block with none of them comes from a calibrate/1 file).
OC_KEYS = ("false_fail", "confirm", "worst_family_power", "false_pass")

#: How a target state reads in the compact summary cell (met reads as nothing).
STATE_MARKS = {"missed": "\u00a0\u2717", "undecided": "\u00a0?"}

#: The compact cell's abbreviations, explained under the summary tables.
OC_ABBREVIATIONS = (
    "FF false FAIL rate, every truth on its band's edge (target \u2264 5%); conf PASS rate, truth = prediction "
    "(\u2265 80%; in parentheses: no target); pow FAIL rate of the weakest row family beyond its band by its effect "
    "(\u2265 80%); FP false PASS rate just beyond the edge (\u2264 5%); mut mutants giving their stated verdict; "
    "\u2717 missed, ? undecided; legacy: controls from the deprecated synthetic() summaries"
)


def is_old_block(cal: Calibration) -> bool:
    """Whether a calibration block carries only the calibrate/1 rates (``null_fail`` / ``alternative_fail``)."""
    return all(getattr(cal, k) is None for k in OC_KEYS) and not cal.get("mutants")


def fmt_rate_short(x: Any) -> str:
    """A rate as a short percentage: ``0%``, ``0.5%``, ``92%`` (one decimal below 10% only)."""
    if not _is_num(x):
        return DASH
    p = 100 * x
    if p == round(p):
        return f"{p:.0f}%"
    return f"{p:.1f}%" if p < 10 else f"{p:.0f}%"


def _short_oc(label: str, r: Mapping | None, *, bracket: bool = False) -> str:
    if not r:
        return f"{label} {DASH}"
    rate = fmt_rate_short(r.get("rate"))
    return f"{label} {f'({rate})' if bracket else rate}{STATE_MARKS.get(str(r.get('state')), '')}"


def _oc_cell(cal: Calibration) -> str:
    """``FF 0.5% · conf 92% · pow 85% · FP 0% · mut 2/2``, then the flags."""
    no_target = cal.get("confirm_target") is None and cal.get("confirm_note") is not None
    parts = [
        _short_oc("FF", cal.false_fail),
        _short_oc("conf", cal.confirm, bracket=no_target or (cal.confirm or {}).get("state") == "no target"),
        _short_oc("pow", cal.worst_family_power),
        _short_oc("FP", cal.false_pass),
    ]
    mutants = cal.get("mutants") or {}
    if mutants:
        met = sum(1 for m in mutants.values() if (m or {}).get("state") == "met")
        parts.append(f"mut {met}/{len(mutants)}" + ("" if met == len(mutants) else STATE_MARKS["missed"]))
    if cal.get("legacy"):
        parts.append("legacy")
    return " \u00b7 ".join(parts)


def _oc_text(r: Mapping | None, target: str, brief: bool = False) -> str:
    """``0.5% [0.1%, 2.8%] over 200 replicates; target <= 5%: met`` (``brief``: without the replicates)."""
    if not r:
        return f"{DASH} (not run)"
    s = fmt_rate_ci(r)
    if r.get("reps") is not None and not brief:
        s += f" over {r['reps']} replicates"
    state = r.get("state")
    if target:
        s += f"; target {target}: {state or DASH}"
    elif state and state != "no target":
        s += f" ({state})"
    return s


def _target_text(t: Mapping, key: str, sign: str, suffix: str = "") -> str:
    v = t.get(key)
    return f"{sign} {fmt_rate_short(v)}{suffix}" if _is_num(v) else ""


def _source_text(sources: Mapping, *, brief: bool) -> str:
    """``edge: limit; family: model (...)``: where each control's data come from."""
    parts = []
    for kind, s in sources.items():
        s = s if isinstance(s, Mapping) else {"source": s}
        text = f"{kind}: {s.get('source') or DASH}"
        if not brief and s.get("model"):
            text += f" ({s['model']})"
        parts.append(text)
    return "; ".join(parts) or DASH


def _oc_rows(cal: Calibration, *, brief: bool) -> list[tuple[str, str]]:
    """The calibrate/2 operating characteristics of :func:`calibration_rows`."""
    t = cal.targets or {}
    conf = cal.confirm
    note = cal.get("confirm_note")
    if cal.get("confirm_target") is None and note is not None:
        conf_text = _oc_text(conf, "", brief=brief) + f"; no target: {note}"
    else:
        ct = cal.get("confirm_target", t.get("confirm_min"))
        conf_text = _oc_text(conf, f"\u2265 {fmt_rate_short(ct)}" if _is_num(ct) else "", brief=brief)
    wp = cal.worst_family_power
    fam = (wp or {}).get("family")
    fp = cal.false_pass
    fp_text = _oc_text(fp, _target_text(t, "false_pass_max", "\u2264"), brief=brief)
    if fp and fp.get("worst_row") is not None:
        fp_text += f" (worst row {fp['worst_row']}: {fmt_rate_short(fp.get('worst_row_rate'))})"
    fam_text = fam if fam is not None else DASH
    labels = (
        ("false FAIL (edge)", "confirm (exact)", f"worst family power ({fam_text})", "false PASS (outside)")
        if brief
        else (
            "false FAIL (edge: every judged truth on its band's edge; the null FAIL rate)",
            "confirm (exact: the truth equal to the prediction; PASS rate)",
            f"worst family power (family {fam_text}: FAIL rate with one row family beyond its band by its effect)",
            "false PASS (outside: every judged truth beyond its band's edge; PASS rate)",
        )
    )
    rows = list(
        zip(
            labels,
            (_oc_text(cal.false_fail, _target_text(t, "false_fail_max", "\u2264"), brief=brief), conf_text)
            + (_oc_text(wp, _target_text(t, "power_min", "\u2265", " for every family"), brief=brief), fp_text),
        )
    )
    for name, m in (cal.get("mutants") or {}).items():
        m = m or {}
        text = _oc_text(m, "", brief=brief)
        if not brief and m.get("note"):
            text += f"; {m['note']}"
        label = f"mutant {name} (must give {m.get('expect', DASH)}" + (")" if brief else "; rate of that verdict)")
        rows.append((label, text))
    rows.append(("control sources", _source_text(cal.get("sources") or {}, brief=brief)))
    if cal.get("legacy"):
        rows.append(
            (
                "legacy summaries",
                "yes: the controls are cell summaries written by the deprecated synthetic(); "
                "the claim's own cell code did not run on them",
            )
        )
    return rows
