"""Claim ``traverse-time`` (Prop. 3.8): its limit, its controls through its own cell code, its mutant.

The limit is the ODE (3.2) with its exact Gaussian fluctuation (``diffapprox_claims.paper._phase2``):
at a stationary point it must be the OU limit of the library ((A.2) at e_2, (3.3) at e_1), and its
noise covariance the exact covariance of one sample's gradient.  The controls run the claim's own
``summarize`` and ``measure``: the limit itself FAILs the paper's T2 (its probability there is 0);
a family moved below 3/4 by its effect FAILs while the other rows sit on the edge.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from diffapprox import Verdict, get_claim, stats
from diffapprox._run.calibrate import run_controls
from diffapprox.limits import ou_optimum, ou_saddle

from diffapprox_claims._common import problem
from diffapprox_claims.paper import _phase2 as lna
from diffapprox_claims.paper import traverse_time as tt

SEED = 20261206
#: Probability that a correct claim fails one of the count checks below.
TEST_ALPHA = 0.001


@pytest.mark.parametrize("law", ["gaussian", "cube"])
def test_noise_covariance_is_the_covariance_of_one_samples_gradient(law):
    """Q(h) against the sample covariance of Y Y'h - (h'Y Y'h) h over 400000 draws of the law (4 SE)."""
    rng = np.random.default_rng(SEED)
    lam = np.array([4.0, 3.0, 2.0, 1.0])
    n = 400_000
    y = rng.standard_normal((n, 4)) if law == "gaussian" else rng.uniform(-math.sqrt(3), math.sqrt(3), (n, 4))
    y *= np.sqrt(lam)
    h = np.array([0.6, 0.7, 0.3, 0.2]) / math.sqrt(0.98)
    w = y @ h
    g = y * w[:, None] - (w * w)[:, None] * h
    q = lna.noise_cov(law, h)
    se = np.sqrt(np.var((g - g.mean(0))[:, :, None] * (g - g.mean(0))[:, None, :], axis=0) / n)
    assert np.all(np.abs(np.cov(g.T) - q) <= 4 * se + 1e-12)


@pytest.mark.parametrize("mu", [0.0, 0.5])
def test_fluctuation_at_a_stationary_point_is_the_papers_ou_limit(mu):
    """From h0 = e_2 the fluctuation is (A.2); from e_1 it is (3.3): the library's OU variances (RK4 error only)."""
    for h0, ou, others in (((0.0, 1.0, 0.0, 0.0), ou_saddle(problem(), mu, 1), [0, 2, 3]),
                           ((1.0, 0.0, 0.0, 0.0), ou_optimum(problem(), mu), [1, 2, 3])):  # fmt: skip
        c = lna.covariances("gaussian", mu, h0, 0.6)
        t = 100 * lna.DT
        np.testing.assert_allclose(np.diag(c[100])[others], ou.variance(t), rtol=1e-6)


def test_the_limit_fails_the_papers_T2():
    # the ODE (3.2) needs 2 T2; its Gaussian fluctuation leaves no path arrived at T2
    run = run_controls(get_claim("traverse-time"), "quick", "exact", 2, SEED)
    assert not run.errors and run.claim == [Verdict.FAIL, Verdict.FAIL]
    assert all(v == [Verdict.FAIL, Verdict.FAIL] for v in run.rows.values())


def test_a_moved_family_fails_and_the_rows_on_the_edge_do_not():
    reps = 4
    run = run_controls(get_claim("traverse-time"), "quick", "family:law=cube/mu=0", reps, SEED)
    assert not run.errors
    least = int(binom.ppf(TEST_ALPHA, reps, 0.9))  # the family's two rows at power 0.8 each: >= 0.96
    assert run.claim.count(Verdict.FAIL) >= max(least, 1)
    edge = [v for name, vs in run.rows.items() if "law=cube/mu=0/" not in name for v in vs]
    assert edge.count(Verdict.FAIL) <= int(binom.isf(TEST_ALPHA, len(edge), 0.01))


def test_measure_reads_the_planted_T2():
    claim = get_claim("traverse-time")
    pred = claim.predict("quick")
    planted = claim.mutate("quick", f"T2x{tt.MUTANT_FACTOR:g}", pred)
    assert planted["T2"] == {mu: tt.MUTANT_FACTOR * t for mu, t in pred["T2"].items()}
    cells = claim.mutant_cells("quick", SEED)
    assert {(c.params["law"], c.params["mu"]) for c in cells} == {(tt.MUTANT_LAW, tt.MUTANT_MU)}
    # every cell keeps the records of T2 and of the corrected T2
    for c in claim.cells("quick", SEED):
        t2 = tt._t2(c.params["law"], c.params["mu"])
        assert {tt._index(t2), tt._index(tt.MUTANT_FACTOR * t2)} <= set(c.params["records"])


@pytest.mark.slow
def test_mutant_factor_is_what_the_limit_needs():
    """The planted factor is recomputed from the limit: the largest (law, mu) time at which 3/4 of its paths arrived."""
    assert tt.limit_factor_needed() == tt.MUTANT_FACTOR
    needs = {(law, mu): tt._limit_factor(law, mu) for law in ("gaussian", "cube") for mu in tt.MUS}
    assert max(needs, key=needs.get) == (tt.MUTANT_LAW, tt.MUTANT_MU)


@pytest.mark.slow
def test_quick_profile(tmp_path):
    claim = get_claim("traverse-time")
    cells = claim.cells("quick", 0)
    results = {c.key: claim.run_cell(c) for c in cells}
    out = claim.finish("quick", 0, results, tmp_path)
    judged = [m for m in out.measurements if m.judged]
    assert len(judged) == tt.N_JUDGED and all(m.verdict is Verdict.FAIL for m in judged)
    level = stats.fail_level(tt.N_JUDGED)
    for m in judged:
        assert m.ci_level == stats.PASS_LEVEL and m.ci_fail is not None and m.effect > 0
        assert m.ci_fail[1] >= m.ci[1] and level > stats.PASS_LEVEL
    assert out.findings and {p.rsplit(".", 1)[1] for p in out.figures} == {"png", "svg"}
