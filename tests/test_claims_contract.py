"""The claim contract (``diffapprox.testing.check_claim``) on every registered claim, and on broken toys.

One test per registered claim at the quick profile: identity, cells (unique, stable, picklable), pure
``run_cell`` and ``measure``, judged rows with a band and an effect, every declared control run through the
claim's own cell code, history in order.  The toys show that a broken rule is reported by name.
"""

from __future__ import annotations

import numpy as np
import pytest

import diffapprox as da
from diffapprox import stats as S
from diffapprox.testing import ClaimContractError, assert_verdict, check_claim, deciding_rows

CONTRACT_SEED = 20261206  # master seed of the contract runs
CLAIMS = list(da.all_claims())


@pytest.mark.parametrize("claim_id", CLAIMS)
def test_registered_claim_meets_the_contract(claim_id):
    report = check_claim(claim_id, "quick", seed=CONTRACT_SEED, reps=2)
    assert not report.broken and report.passed


class _Toy(da.Claim):
    """A claim whose summary is one mean of 100 N(0, 1) draws, judged against 0 +- 1."""

    id = "toy-contract"
    paper_ref = "toy"
    statement = "toy"
    about = "toolkit"
    uncalibrated = "toy"

    def parameters(self, profile):
        return {}

    def cells(self, profile, seed):
        return [self.make_cell("one", {}, seed, uses="core")]

    def simulate_cell(self, cell):
        return np.random.default_rng(cell.seed).standard_normal(100)

    def summarize(self, cell, x):
        return {"mean": float(np.mean(x))}

    def measure(self, profile, seed, results, prediction):
        m = results["one"]["mean"]
        return [S.measurement("mean", m, (m - 0.2, m + 0.2), 0.0, (-1.0, 1.0), ci_fail=(m - 0.3, m + 0.3), effect=0.3)]


class _Impure(_Toy):
    def simulate_cell(self, cell):  # draws from a fresh OS seed each time: not a function of the cell
        return np.random.default_rng().standard_normal(100)


class _NoEffect(_Toy):
    def measure(self, profile, seed, results, prediction):
        return [S.measurement("mean", results["one"]["mean"], (-0.2, 0.2), 0.0, (-1.0, 1.0))]


class _Legacy(_Toy):
    uncalibrated = None

    def synthetic(self, profile, kind, rng):
        return {"one": {"mean": float(rng.normal(0.0, 0.1))}}


def test_a_sound_toy_meets_the_contract():
    report = check_claim(_Toy(), "quick")
    assert "run_cell pure" in report.passed and any("controls" in s for s in report.skipped)


@pytest.mark.parametrize(
    "claim, rule",
    [
        (_Impure(), "run_cell pure: cell 'one' gave a different summary when run again"),
        (_NoEffect(), "judged rows have an effect: judged rows without a finite effect > 0: ['mean']"),
        (_Legacy(), "controls run the claim's own cell code: synthetic() writes cell summaries directly"),
    ],
)
def test_a_broken_rule_is_named(claim, rule):
    with pytest.raises(ClaimContractError) as e:
        check_claim(claim, "quick")
    assert rule in str(e.value)


def test_check_claim_bad_input():
    with pytest.raises(da.DiffapproxError, match="profile"):
        check_claim(_Toy(), "huge")
    with pytest.raises(da.DiffapproxError, match="reps"):
        check_claim(_Toy(), "quick", reps=0)
    with pytest.raises(da.DiffapproxError, match="claims"):
        check_claim("no-such-claim")


def test_assert_verdict_names_the_deciding_rows():
    row = {"name": "rate/x=1", "estimate": 0.2, "ci": [0.1, 0.3], "ci_fail": [0.05, 0.35], "tolerance": [0.5, 1.0]}
    claim = {"id": "toy", "verdict": "FAIL", "measurements": [{**row, "verdict": "FAIL", "judged": True}]}
    assert_verdict(claim, "FAIL")
    with pytest.raises(AssertionError) as e:
        assert_verdict(claim, "PASS")
    assert "claim toy: expected PASS, got FAIL" in str(e.value) and "rate/x=1: 0.2 [0.1, 0.3]" in str(e.value)
    assert deciding_rows(claim) == ["rate/x=1: 0.2 [0.1, 0.3] (FAIL interval [0.05, 0.35]) vs band [0.5, 1] -> FAIL"]
