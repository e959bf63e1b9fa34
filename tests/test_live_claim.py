"""The ``live-staleness`` claim's rules on run summaries whose truth is known (no cluster needed).

The live parameter server itself is tested in ``test_live.py``; here its claim's ``measure``
step is fed run summaries made by its own cell code (``summarize``) from its control data (the
stated model of per-run arrays), then edited copies of them: the staleness law, the regime gate, the
live-vs-replay rule (context) and the tradeoff.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy import stats as sst

import diffapprox_claims.toolkit.live_staleness as ls
from diffapprox import Control, Verdict, combine_verdicts, get_claim
from diffapprox._run.calibrate import run_controls

SYNTH_SEED = 20240613  # synthetic run summaries of the rule tests
CONTROL_SEED = 20240614  # master seed of the control test
CONTROL_REPS = 2  # replicates per kind in the fast control test
PROFILE = "standard"


@pytest.fixture(scope="module")
def claim():
    return get_claim("live-staleness")


@pytest.fixture(scope="module")
def null_results(claim):
    return _control_results(claim, PROFILE, "exact")


def _control_results(claim, profile: str, kind: str) -> dict:
    """Run summaries of the control ``kind``: model arrays through the claim's own summarize."""
    rng = np.random.default_rng(SYNTH_SEED)
    cells = claim.cells(profile, SYNTH_SEED)
    return {c.key: claim.summarize(c, claim.control_data(c, Control.parse(kind), rng)) for c in cells}


def _rows(claim, results) -> dict:
    return {m.name: m for m in claim.measure(PROFILE, SYNTH_SEED, results, claim.predict(PROFILE))}


@pytest.fixture(scope="module")
def null_rows(claim, null_results):
    return _rows(claim, null_results)


def test_judged_rows_and_their_level_are_fixed_by_the_profile(null_rows):
    rows = null_rows
    judged = [m for m in rows.values() if m.judged]
    assert len(judged) == ls.n_judged(PROFILE) == 5 + 1
    assert all(m.ci_level == 0.95 and m.ci_fail is not None and m.effect > 0 for m in judged)
    assert {m.name.split("/")[0] for m in judged} == {"staleness_tv_workers", "tradeoff"}


def test_history_old_rows_are_measured(claim, null_rows):
    names = list(null_rows)
    for entry in claim.history:
        assert entry.old_rows or (entry.old_verdict and entry.old_source.startswith("earlier run: commit"))
        for prefix in entry.old_rows:
            assert any(n.startswith(prefix) for n in names), prefix
    assert [e.version for e in claim.history] == [2, 3, 4, 5, 6, 7]


def test_regime_gate_is_reported_either_way(claim, null_results):
    res = copy.deepcopy(null_results)
    name = "regime=compute/mu=0.5/M=8/slow=1"
    res[name]["compute_ratio"] = ls.PREMISE_RATIO - 0.5
    rows = _rows(claim, res)
    tv = rows[f"staleness_tv_workers/{name}"]
    assert tv.judged and tv.verdict is Verdict.INCONCLUSIVE and "premise not met" in tv.note
    assert rows[f"regime_ratio/{name}"].verdict is Verdict.FAIL and not rows[f"regime_ratio/{name}"].judged
    ok = "regime=compute/mu=0.5/M=4/slow=1"
    assert rows[f"regime_ratio/{ok}"].verdict is Verdict.PASS and rows[f"regime_ratio/{ok}"].estimate == 20.0


def test_a_constant_delay_fails_the_staleness_law(claim, null_results):
    res = copy.deepcopy(null_results)
    name = "regime=compute/mu=0.5/M=4/slow=1"
    res[name]["trace"] = np.full_like(res[name]["trace"], 3)  # const:3 instead of workers:4
    assert _rows(claim, res)[f"staleness_tv_workers/{name}"].verdict is Verdict.FAIL


def test_live_vs_replay_passes_only_within_a_narrow_predictive_range(claim, null_results, null_rows):
    """One draw decides only what the replay's own spread allows: narrow -> PASS, wide -> INCONCLUSIVE."""
    res = copy.deepcopy(null_results)
    name = "regime=compute/mu=0.5/M=4/slow=1"
    rng = np.random.default_rng(SYNTH_SEED)
    res[name]["sim"]["window_stat"] = rng.normal(0.075, 0.002, 500)  # range ~0.2x the median
    res[name]["error"] = np.full_like(res[name]["error"], 0.076)
    narrow = _rows(claim, res)[f"live_vs_replay/{name}"]
    assert narrow.verdict is Verdict.PASS and narrow.ci[1] - narrow.ci[0] < 2 * ls.REPLAY_TOLERANCE * 0.075
    assert not narrow.judged  # context: one live run per configuration cannot decide it in the run budget
    res[name]["error"] = np.full_like(res[name]["error"], 0.2)  # far above the replay
    assert _rows(claim, res)[f"live_vs_replay/{name}"].verdict is Verdict.FAIL
    wide = null_rows[f"live_vs_replay/{name}"]
    assert wide.verdict is Verdict.INCONCLUSIVE and wide.ci[1] - wide.ci[0] > 2 * ls.REPLAY_TOLERANCE * 0.075


def test_rule3_rank_test_passed_what_rule4_leaves_undecided(null_rows):
    rows = null_rows
    old = [m for n, m in rows.items() if n.startswith("live_vs_replay_rank/")]
    new = [m for n, m in rows.items() if n.startswith("live_vs_replay/")]
    assert len(old) == len(new) == 10 and not any(m.judged for m in old)
    assert combine_verdicts([m.verdict for m in old]) is Verdict.PASS
    assert all(m.verdict is Verdict.INCONCLUSIVE for m in new)


def test_tradeoff_contrast_uses_the_replay_spread(null_results, null_rows):
    rows = null_rows
    t = rows["tradeoff/live"]
    corners = {(mu, m): null_results[ls._key(mu, m, 1.0, "compute" if m > 1 else "latency")] for mu, m in ls.TRADEOFF}
    ses = [float(np.std(corners[k]["sim"]["window_stat"], ddof=1)) for k in ls.TRADEOFF]
    se = float(np.sqrt(np.sum(np.square(ses))))
    assert t.ci[1] - t.ci[0] == pytest.approx(2 * sst.norm.ppf(0.975) * se, rel=1e-9)
    assert t.ci_fail[1] - t.ci_fail[0] == pytest.approx(2 * sst.norm.ppf(1 - 0.01 / 12) * se, rel=1e-9)
    assert t.tolerance == (0.0, float("inf")) and not rows["tradeoff_batch_means/live"].judged


def test_controls_exact_does_not_fail_and_a_moved_family_fails(claim):
    exact = run_controls(claim, PROFILE, "exact", CONTROL_REPS, CONTROL_SEED)
    moved = run_controls(claim, PROFILE, "family:staleness", CONTROL_REPS, CONTROL_SEED)
    assert Verdict.FAIL not in exact.claim and not exact.errors
    assert set(moved.claim) == {Verdict.FAIL} and not moved.errors
    assert not any(Verdict.FAIL in v for n, v in moved.rows.items() if n.startswith("tradeoff/"))
    assert set(claim.families(PROFILE)) == {"staleness", "tradeoff"}


def test_finish_on_synthetic_runs(claim, tmp_path):
    results = _control_results(claim, "quick", "exact")
    out = claim.finish("quick", SYNTH_SEED, results, tmp_path)
    assert sorted(p.rsplit("/", 1)[1] for p in out.figures) == ["live_staleness.png", "live_staleness.svg"]
    assert any(f.startswith("Live vs replay: PASS: 0, INCONCLUSIVE: 5, FAIL: 0 of 5 runs") for f in out.findings)
    assert any(f.startswith("Tradeoff: D = ") for f in out.findings) and len(out.inconsistencies) == 1
