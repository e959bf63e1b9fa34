"""The bring-your-own-algorithm claims: synthetic controls (null does not FAIL, alternative FAILs) and names."""

from __future__ import annotations

import pytest

from diffapprox import Verdict, get_claim
from diffapprox._run.calibrate import run_controls

CONTROL_SEED = 14
CLAIMS = ("sme-weak-order", "svag-sweep", "exit-time", "stationary-covariance")


@pytest.mark.parametrize("cid", CLAIMS)
@pytest.mark.parametrize("profile", ["quick", "standard"])
def test_null_does_not_fail_and_alternative_fails(cid, profile):
    claim = get_claim(cid)
    null = run_controls(claim, profile, "null", 4, CONTROL_SEED)
    alt = run_controls(claim, profile, "alternative", 4, CONTROL_SEED)
    assert not null.errors and not alt.errors
    assert Verdict.FAIL not in null.claim
    assert all(v is Verdict.FAIL for v in alt.claim)
    assert run_controls(claim, profile, "limit", 1, CONTROL_SEED) is None


def test_contract_names():
    import numpy as np

    rng = np.random.default_rng(CONTROL_SEED)
    names = {}
    for cid in CLAIMS:
        c = get_claim(cid)
        names[cid] = [m.name for m in c.measure("quick", 0, c.synthetic("quick", "null", rng), c.predict("quick"))]
    assert "weak_order/gamma=rademacher/phi=cos1/order=2" in names["sme-weak-order"]
    assert "weak_error_exact/gamma=gaussian/phi=f/order=1/eta=0.125" in names["sme-weak-order"]
    assert "weak_error/gamma=gaussian/phi=f/order=1/eta=0.00390625" in names["sme-weak-order"]
    assert {"svag_order/problem=quadratic", "svag_error_exact/l=64", "svag_error/l=1"} <= set(names["svag-sweep"])
    assert {"mfpt_quadrature/D=0.1", "exit_time_ratio/alg=sgd/D=0.07", "kramers_ratio/D=0.07"} <= set(
        names["exit-time"]
    )
    sc = set(names["stationary-covariance"])
    assert {"variance_discrete/mu=0/eta=0.3/h=1.5/sigma=1", "variance_ou/mu=0.9/eta=0.05/h=2/sigma=0.7"} <= sc
