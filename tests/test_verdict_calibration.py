"""The verdict-calibration claim: its exact samplers and truths, its rate rule, its history, its quick run."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtr

from diffapprox import Verdict, combine_verdicts, get_claim
from diffapprox import stats as S
from diffapprox._run.runner import run_claims
from diffapprox_claims.toolkit import verdict_calibration as VC

SAMPLER_SEED = 0  # exact-sampler checks
RUN_SEED = 20180330  # the quick run
K_SE = 4.0


def test_stationary_ou_is_exact():
    rng = np.random.default_rng(SAMPLER_SEED)
    x = VC.stationary_ou(rng, 4000, 6, 0.8, 2.0)
    n = x.shape[0]
    # every record ~ N(0, 2): var(s^2) = 2 v^2 / n
    for k in range(x.shape[1]):
        assert abs(x[:, k].var() - 2.0) <= K_SE * 2.0 * math.sqrt(2 / n)
    # lag-one correlation 0.8 (Fisher-z SE 1/sqrt(n))
    r = np.corrcoef(x[:, 2], x[:, 3])[0, 1]
    assert abs(np.arctanh(r) - np.arctanh(0.8)) <= K_SE / math.sqrt(n)


def test_mean_square_sd_is_the_sd_of_simulated_path_means():
    rng = np.random.default_rng(SAMPLER_SEED + 1)
    x = VC.stationary_ou(rng, 20000, VC.RECORDS, VC.PHI, 1.0)
    e = S.variance_ci((x * x).mean(axis=1), level=1 - 1e-4)  # distribution-free CI of the variance
    assert e.ci[0] <= VC.mean_square_sd(VC.RECORDS, VC.PHI) ** 2 <= e.ci[1]
    # and the formula is not the independent-records one (2/R), which the CI excludes
    assert not e.ci[0] <= 2 / VC.RECORDS <= e.ci[1]


@pytest.mark.parametrize("d", [0.0, 0.05, 0.22])
def test_shift_puts_the_law_at_the_stated_sup_distance(d):
    x = np.linspace(-8, 8, 400001)
    assert np.max(np.abs(ndtr(x - VC.shift_for(d)) - ndtr(x))) == pytest.approx(d, abs=1e-8)


@pytest.mark.parametrize("n", VC.SIZES)
def test_equivalence_alternative_is_one_detectable_effect_beyond_the_edge(n):
    t = VC.equivalence_truths(n)
    se = t["power"] * VC.mean_square_sd(VC.RECORDS, VC.PHI) / math.sqrt(n)  # exact SE at that truth
    assert t["power"] - t["upper_edge"] == pytest.approx(S.detectable_effect(se, level=VC.LEVEL), rel=1e-12)
    assert VC.distance_truths(n)["power"] == VC.EFFECT_D + 2 * S.dkw_halfwidth(n, VC.LEVEL)


def _counts(reps: int, edge_pass: int, power_fail: int, dist_power: int) -> dict:
    """Hand-made cell summaries: every size shares the given counts."""
    c = VC._empty_counts()
    for n in VC.SIZES:
        e, d = c["equivalence"][f"n={n}"], c["distance"][f"n={n}"]
        e.update(
            upper_edge={"PASS": edge_pass, "FAIL": 0},
            lower_edge={"PASS": 0, "FAIL": 0},
            prediction={"PASS": reps},
            power={"FAIL": power_fail},
        )
        d.update({"0": {"PASS": reps}, "effect": {}, "power": {"FAIL": dist_power}})
    for n in VC.GOF_SIZES:
        c["gof"][f"n={n}"] = {"reps": 10, "null": 0, "variance": 5}
    c["v1"] = {
        "equivalence": {t: {} for t in ("upper_edge", "lower_edge", "prediction", "effect")},
        "gof_null": 0,
        "gof_effect": reps,
    }
    c["v1"]["equivalence"]["effect"]["FAIL"] = reps
    return {"reps": reps, **c}


@pytest.mark.parametrize(
    "edge_pass, power_fail, dist_power, verdict",
    [
        (50, 1600, 1990, Verdict.PASS),  # 2.5% wrong PASS, power 0.80, distance power 0.995
        (200, 1600, 1990, Verdict.FAIL),  # 10% wrong PASS: the size band [0, 0.05] is missed
        (50, 1900, 1990, Verdict.FAIL),  # power 0.95: detectable_effect's 0.8 +- 0.05 is missed (two-sided)
        (50, 1700, 1990, Verdict.INCONCLUSIVE),  # power 0.85: the CI straddles the band's upper edge
        (50, 1600, 1400, Verdict.FAIL),  # distance power 0.70 < 0.8
    ],
)
def test_rates_are_judged_by_the_ci_rule(edge_pass, power_fail, dist_power, verdict):
    claim = get_claim("verdict-calibration")
    ms = claim.measure(
        "standard", 0, {"c": _counts(2000, edge_pass, power_fail, dist_power)}, claim.predict("standard")
    )
    judged = [m for m in ms if m.judged]
    assert len(judged) == VC.N_JUDGED and all(m.ci_level == VC.RATE_LEVEL for m in judged)
    assert all(m.effect is not None and m.effect > 0 for m in judged)
    assert combine_verdicts([m.verdict for m in judged]) is verdict
    assert not any(m.name.startswith("v1/") for m in judged)


def test_small_run_counts_every_replicate_and_sees_the_power():
    """Eight replicates through run_cell: every verdict counted once per size and truth."""
    claim = get_claim("verdict-calibration")
    r = claim.run_cell(claim.make_cell("chunk=test", {"reps": 8}, seed=RUN_SEED))
    for n in VC.SIZES:
        for truth, c in r["equivalence"][f"n={n}"].items():
            assert sum(c.values()) == 8, (n, truth)
        assert r["distance"][f"n={n}"]["power"].get("FAIL", 0) >= 7  # power ~1 at edge + 2 DKW half-widths
        assert r["distance"][f"n={n}"]["0"].get("FAIL", 0) == 0
    assert r["gof"]["n=1024"]["reps"] == 1  # every GOF_EVERY-th replicate


@pytest.mark.slow
def test_quick_profile_recomputes_version_one(tmp_path):
    claim = get_claim("verdict-calibration")
    doc = run_claims([claim], profile="quick", seed=RUN_SEED, out=tmp_path, progress=False)
    c = doc["claims"][0]
    assert c["error"] is None and c["version"] == 3
    v1 = [m for m in c["measurements"] if m["name"].startswith("v1/")]
    assert len(v1) == 6 and not any(m["judged"] for m in v1)
    h, paper = c["history"]
    assert h["old_verdict"] == combine_verdicts([m["verdict"] for m in v1]).value
    assert h["old_source"].startswith("recomputed on the same data (rows v1/")
    assert paper["old_verdict"] == "PASS" and "profile paper" in paper["old_source"]
    assert sum(m["judged"] for m in c["measurements"]) == VC.N_JUDGED
    assert all((tmp_path / f).is_file() for f in c["figures"])
    assert c["parameters"]["replications"] == VC._PROFILES["quick"]["reps"]
