"""Regression check against a baseline: identical passes, every kind of move is reported."""

import copy
import json
from pathlib import Path

import pytest

from diffapprox import DiffapproxError, Measurement
from diffapprox._run.regression import ABS_FLOOR, MOVE_K, compare_to_baseline, estimate_tolerance

SAMPLE = Path(__file__).parent / "fixtures" / "results_sample" / "results.json"


@pytest.fixture
def results():
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def _claim(res, cid):
    return next(c for c in res["claims"] if c["id"] == cid)


def test_identical_passes(results):
    assert compare_to_baseline(results, copy.deepcopy(results)) == []


def test_flipped_verdict_fails_with_message(results):
    base = copy.deepcopy(results)
    _claim(base, "ode_limit")["verdict"] = "FAIL"
    assert compare_to_baseline(results, base) == ["claim ode_limit: verdict FAIL -> PASS"]


def test_estimate_moved_far_fails_with_message(results):
    base = copy.deepcopy(results)
    m = _claim(base, "ode_limit")["measurements"][1]  # convergence_order, CI [0.91, 1.06]
    m["estimate"] = 1.5
    msgs = compare_to_baseline(results, base)
    assert len(msgs) == 1
    assert msgs[0].startswith("claim ode_limit: measurement 'convergence_order': estimate 1.5 -> 0.98765 (moved 0.512")
    assert f"{MOVE_K:g} x combined CI half-width" in msgs[0]


def test_estimate_moved_within_ci_tolerance_passes(results):
    base = copy.deepcopy(results)
    m = _claim(base, "ode_limit")["measurements"][1]
    allowed, _ = estimate_tolerance(
        Measurement.from_json(_claim(results, "ode_limit")["measurements"][1]), Measurement.from_json(m)
    )
    m["estimate"] += 0.9 * allowed
    assert compare_to_baseline(results, base) == []
    m["estimate"] += 0.2 * allowed
    assert len(compare_to_baseline(results, base)) == 1


def test_zero_width_ci_uses_floor(results):
    run = copy.deepcopy(results)
    m = _claim(run, "delay_threshold")["measurements"][0]
    m["ci"] = [m["estimate"], m["estimate"]]
    base = copy.deepcopy(run)
    allowed, combined = estimate_tolerance(Measurement.from_json(m), Measurement.from_json(m))
    assert combined == 0 and allowed >= ABS_FLOOR
    _claim(base, "delay_threshold")["measurements"][0]["estimate"] += allowed / 2
    assert compare_to_baseline(run, base) == []
    _claim(base, "delay_threshold")["measurements"][0]["estimate"] += 2 * allowed
    assert len(compare_to_baseline(run, base)) == 1


def test_missing_added_claims_and_measurements(results):
    base = copy.deepcopy(results)
    run = copy.deepcopy(results)
    run["claims"] = [c for c in run["claims"] if c["id"] != "dnn_tradeoff"]
    base["claims"] = [c for c in base["claims"] if c["id"] != "delay_threshold"]
    _claim(run, "ode_limit")["measurements"].pop(0)
    msgs = compare_to_baseline(run, base)
    assert msgs == [
        "claim ode_limit: measurement 'sup_error_gap/eta=1e-3': missing from this run",
        "claim dnn_tradeoff: missing from this run (present in the baseline, verdict ERROR)",
        "claim delay_threshold: new in this run (not in the baseline), verdict INCONCLUSIVE",
    ]


def test_estimate_becoming_undefined_and_profile_change(results):
    base = copy.deepcopy(results)
    base["profile"] = "standard"
    _claim(results, "ode_limit")["measurements"][0]["estimate"] = None
    msgs = compare_to_baseline(results, base)
    assert msgs == [
        "profile: baseline 'standard', this run 'quick'",
        "claim ode_limit: measurement 'sup_error_gap/eta=1e-3': estimate 0.0123457 -> null",
    ]


def test_bad_input_is_refused(results):
    with pytest.raises(DiffapproxError, match="baseline: expected a valid results.json"):
        compare_to_baseline(results, {"claims": "nope"})


def test_unreproducible_or_unrunnable_claims_are_not_compared(results):
    from diffapprox._run.regression import not_compared

    run = copy.deepcopy(results)
    first = run["claims"][0]
    cid = first["id"]
    first["verdict"] = "FAIL" if first["verdict"] != "FAIL" else "PASS"
    assert compare_to_baseline(run, results)  # a flipped verdict is a regression ...
    first["reproducible"] = False  # ... unless the claim is not bit-reproducible
    assert compare_to_baseline(run, results) == []
    assert not_compared(run, results) == [
        f"claim {cid}: not compared: not bit-reproducible (reproducible=false in this run)"
    ]
    first["reproducible"] = True
    first["missing_extra"] = "dnn"  # ... or could not run for want of an extra
    assert compare_to_baseline(run, results) == []
    assert "needs the `dnn` extra" in not_compared(run, results)[0]
    del run["claims"][0]  # a claim that vanished is still reported
    assert any("missing from this run" in m for m in compare_to_baseline(run, results))
