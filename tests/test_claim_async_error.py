"""Claim async-error (Lemma 3.4): the rate of D(t) -> 0 judged against the bound's order eta^gamma; controls
through the claim's own cell code, the tau ~ 1/eta mutant on the real simulator, rows and history.

The controls' per-path sup_t ||D(t)|| follow a stated gamma model; counts are judged with binomial
tolerances (a moved family FAILs with probability at least POWER_MIN by the stated effect's power 0.9;
the outside control PASSes with probability at most 0.025, the one-sided TOST level).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom

from diffapprox import Verdict, get_claim, stats
from diffapprox._run.calibrate import run_controls
from diffapprox._run.claims import Control

from _claim_runs import run_profile

CLAIM = "async-error"
SEED = 20261206
REPS = 20
POWER_MIN = 0.8
FALSE_PASS = 0.025
TEST_ALPHA = 0.001


def _count(run, verdict) -> int:
    assert not run.errors, run.errors
    return sum(v is verdict for v in run.claim)


@pytest.mark.parametrize("family", ["gamma=0.1", "gamma=0.4"])
def test_moved_family_fails(family):
    run = run_controls(get_claim(CLAIM), "quick", f"family:{family}", REPS, SEED)
    assert _count(run, Verdict.FAIL) >= binom.ppf(TEST_ALPHA, REPS, POWER_MIN)


def test_exact_and_outside_controls():
    """exact puts the rate on the bound's order (the band's edge: no confirm target); outside below it."""
    c = get_claim(CLAIM)
    assert c.confirm_note and "edge" in c.confirm_note
    exact = run_controls(c, "quick", "exact", REPS, SEED)
    assert _count(exact, Verdict.FAIL) <= binom.ppf(1 - TEST_ALPHA, REPS, 0.01)
    outside = run_controls(c, "quick", "outside", REPS, SEED)
    assert _count(outside, Verdict.PASS) <= binom.ppf(1 - TEST_ALPHA, REPS, FALSE_PASS)


def test_delays_growing_like_one_over_eta_do_not_pass():
    run = run_controls(get_claim(CLAIM), "quick", "mutant:delays=tau~1/eta", 3, SEED)
    assert _count(run, Verdict.PASS) == 0, run.rows


def test_rows_read_the_prediction_they_are_given():
    """The mutant plants other cells; the band is the planted bound's order gamma."""
    c = get_claim(CLAIM)
    rng = np.random.default_rng(3)
    res = {x.key: c.summarize(x, c.control_data(x, Control(kind="exact"), rng)) for x in c.cells("quick", 1)}
    ms = c.measure("quick", 1, res, c.predict("quick"))
    judged = {m.name: m for m in ms if m.judged}
    assert set(judged) == {"rate/gamma=0.1", "rate/gamma=0.4"}
    for g in (0.1, 0.4):
        m = judged[f"rate/gamma={g:g}"]
        assert m.tolerance == (g, float("inf")) and m.effect > 0 and m.ci_fail is not None
        assert m.ci_level == pytest.approx(stats.PASS_LEVEL)
    assert c.measure("quick", 1, res, c.mutate("quick", "delays=tau~1/eta", c.predict("quick"))) == []


def test_history_is_dated_and_every_old_rule_has_its_rows():
    c = get_claim(CLAIM)
    assert [h.version for h in c.history] == list(range(2, len(c.history) + 2))
    rng = np.random.default_rng(4)
    res = {x.key: c.summarize(x, c.control_data(x, Control(kind="exact"), rng)) for x in c.cells("quick", 1)}
    names = [m.name for m in c.measure("quick", 1, res, c.predict("quick"))]
    for h in c.history:
        assert all(any(n.startswith(p) for n in names) for p in h.old_rows), h.version


@pytest.mark.slow
def test_quick_profile(tmp_path: Path):
    c, out = run_profile(CLAIM, "quick", SEED, tmp_path, ("rate/gamma=0.1", "rate/gamma=0.4", "v4/rate/gamma=0.1"))
    assert out.figures and out.findings
