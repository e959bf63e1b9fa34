"""The verdict-calibration claim: structure on the quick profile, and its exact sampler."""

from __future__ import annotations

import pytest

import math

import numpy as np

from diffapprox import Verdict, get_claim
from diffapprox._run.runner import run_claims
from validation import verdict_calibration as VC

K_SE = 4.0


def test_stationary_ou_is_exact():
    rng = np.random.default_rng(0)
    x = VC.stationary_ou(rng, 4000, 6, 0.8, 2.0)
    n = x.shape[0]
    # every record ~ N(0, 2): var(s^2) = 2 v^2 / n
    for k in range(x.shape[1]):
        assert abs(x[:, k].var() - 2.0) <= K_SE * 2.0 * math.sqrt(2 / n)
    # lag-one correlation 0.8 (Fisher-z SE 1/sqrt(n))
    r = np.corrcoef(x[:, 2], x[:, 3])[0, 1]
    assert abs(np.arctanh(r) - np.arctanh(0.8)) <= K_SE / math.sqrt(n)


@pytest.mark.slow
def test_quick_profile_structure_and_verdicts(tmp_path):
    claim = get_claim("verdict-calibration")
    doc = run_claims([claim], profile="quick", seed=20180330, out=tmp_path, progress=False)
    c = doc["claims"][0]
    assert c["error"] is None
    assert c["verdict"] in {v.value for v in Verdict}
    names = [m["name"] for m in c["measurements"]]
    for want in (
        "equivalence/pass_rate/truth=upper_edge",
        "equivalence/pass_rate/truth=lower_edge",
        "equivalence/fail_rate/truth=prediction",
        "equivalence/power/variance+20%",
        f"gof/size/holm/n={VC.GOF_N}",
        f"gof/power/variance+20%/n={VC.GOF_N}",
    ):
        assert want in names
    reps = VC._PROFILES["quick"]["reps"]
    for m in c["measurements"]:
        assert 0.0 <= m["ci"][0] <= m["estimate"] <= m["ci"][1] <= 1.0
        if m["name"].startswith(("gof/size", "equivalence/pass_rate/truth=upper", "equivalence/fail")):
            nominal = m["prediction"]
            # the stated rule: PASS iff rate <= nominal + 2 SE
            limit = nominal + 2 * math.sqrt(nominal * (1 - nominal) / reps)
            assert (m["verdict"] == "PASS") == (m["estimate"] <= limit)
    assert c["parameters"]["replications_run"] == reps
    assert all((tmp_path / f).is_file() for f in c["figures"])


def test_equivalence_size_power_small_run():
    """A few replications through run_cell: edges rarely PASS, a +20% variance FAILs."""
    claim = get_claim("verdict-calibration")
    cell = claim.make_cell("chunk=test", {"reps": 20}, seed=1)
    r = claim.run_cell(cell)
    eq = r["equivalence"]
    assert sum(eq["prediction"].values()) == 20
    assert eq["effect"]["FAIL"] >= 18  # power ~1 in this design
    assert eq["prediction"]["FAIL"] == 0
