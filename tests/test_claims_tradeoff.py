"""The momentum-asynchrony claims (figure1, delay-threshold, random-delay, async-speedup, norm-bound,
momentum-bias, async-error): quick profile end to end, and the tau* extraction,
exponent fit and linear-stability limit on inputs with known answers."""

from __future__ import annotations


import pytest

from diffapprox import Verdict, get_claim

from validation import _tradeoff as tradeoff

SEED = 20240605
VERDICTS = {v.value for v in Verdict}

CONTRACT = {
    "figure1": [
        f"tau_star/{c}/mu={m}"
        for c in ("ratio-1.1", "ratio-1.5", "band")
        for m in ("0.7", "0.8", "0.85", "0.9", "0.95")
    ],
    "delay-threshold": ["exponent_p", "exponent_q"] + [f"stability_ratio/mu={m}" for m in ("0.5", "0.7", "0.8", "0.9")],
    "random-delay": ["stationary_error_ratio/law=geometric/mean=10", "escape_ratio/law=uniform/mean=40"],
    "async-speedup": ["iteration_ratio/workers=8", "momentum_ratio/mu=0.9"],
    "norm-bound": ["slope/eta/tau=0/mu=0.7"],
    "momentum-bias": ["slope/eta/tau=0/mu=0.7", "slope/delay_term"],
    "async-error": ["rate/gamma=0.1", "rate/gamma=0.4"],
}


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", list(CONTRACT))
def test_quick_profile(claim_id, tmp_path):
    c = get_claim(claim_id)
    cells = c.cells("quick", SEED)
    assert len({x.key for x in cells}) == len(cells)
    results = {x.key: c.run_cell(x) for x in cells}
    out = c.finish("quick", SEED, results, tmp_path)
    names = {m.name for m in out.measurements}
    assert set(CONTRACT[claim_id]) <= names
    for m in out.measurements:
        assert m.verdict.value in VERDICTS
        assert m.verdict is not Verdict.ERROR
    assert any(m.judged for m in out.measurements)
    assert out.figures and all(tmp_path.joinpath(f).exists() or __import__("os").path.exists(f) for f in out.figures)
    assert {f.rsplit(".", 1)[1] for f in out.figures} == {"png", "svg"}
    assert out.parameters


@pytest.mark.parametrize("mu,a", [(0.0, 0.05), (0.5, 0.02), (0.8, 0.01), (0.9, 0.03)])
def test_stable_delay_matches_roots(mu, a):
    t = tradeoff._local_max_stable_delay(mu, a)
    assert tradeoff._roots_stable(mu, a, t) and not tradeoff._roots_stable(mu, a, t + 1)


@pytest.mark.parametrize("mu,eta", [(0.5, 2.5e-4), (0.7, 5e-4), (0.95, 2e-3)])
def test_library_stability_agrees_with_local(mu, eta):
    assert tradeoff.stable_delay(mu, eta, 4.0) == tradeoff._local_max_stable_delay(mu, 8.0 * eta)
