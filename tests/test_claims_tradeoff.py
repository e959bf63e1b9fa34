"""The momentum-asynchrony claims (figure1, delay-threshold, random-delay, async-speedup, norm-bound,
momentum-bias, async-error): quick profile end to end, and the tau* extraction,
exponent fit and linear-stability limit on inputs with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffapprox import Verdict, get_claim

from validation import _tradeoff as tradeoff

SEED = 20240605

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
        assert m.verdict is not Verdict.ERROR
    assert any(m.judged for m in out.measurements)
    assert out.figures and all(tmp_path.joinpath(f).exists() or __import__("os").path.exists(f) for f in out.figures)
    assert {f.rsplit(".", 1)[1] for f in out.figures} == {"png", "svg"}
    assert out.parameters


def _curves(threshold, taus, n=400, seed=1, base=0.02):
    """Errors flat at `base` up to `threshold`, then rising fast; n paths of gamma noise (CV 0.2).

    With n = 400 the mean's relative SE is 1%, so even the 1.1 criterion is decided far from chance."""
    rng = np.random.default_rng(seed)
    taus = np.asarray(taus, float)
    mean = base * np.where(taus <= threshold, 1.0, np.exp((taus - threshold) / 5.0) * 3.0)
    return rng.gamma(25.0, 1.0 / 25.0, size=(taus.size, n)) * mean[:, None]


def test_tau_star_known_threshold():
    taus = np.arange(0, 201, 10)
    e = _curves(120, taus)
    for crit in tradeoff.CRITERIA:
        assert tradeoff.tau_star(taus, e, crit) == 120
    s = tradeoff.tau_star_summary(taus, e, "ratio-1.5", n_boot=200, seed=3)
    assert s["ci"][0] <= 120 <= s["ci"][1] and not s["censored"]


def test_tau_star_censored_and_zero():
    taus = np.arange(0, 101, 10)
    flat = _curves(1e9, taus)
    s = tradeoff.tau_star_summary(taus, flat, "ratio-1.5", n_boot=100, seed=3)
    assert s["censored"] and math.isinf(s["ci"][1])
    bad = np.vstack([np.full((1, 50), 0.01), np.ones((taus.size - 1, 50))])
    assert tradeoff.tau_star(taus, bad, "band") == 0


def test_power_law_fit_recovers_exponents():
    rng = np.random.default_rng(5)
    a = np.repeat([0.5, 0.3, 0.2, 0.1], 4)
    e = np.tile([2.5e-4, 5e-4, 1e-3, 2e-3], 4)
    true = 0.09 * a**1.3 * e**-0.8
    reps = true[None, :] * np.exp(rng.normal(0, 0.03, size=(300, a.size)))
    fit = tradeoff.power_law_boot(a, e, true, reps)
    assert fit["p"] == pytest.approx(1.3, abs=1e-9) and fit["q"] == pytest.approx(0.8, abs=1e-9)
    assert fit["p_ci"][0] < 1.3 < fit["p_ci"][1] and fit["q_ci"][0] < 0.8 < fit["q_ci"][1]


@pytest.mark.parametrize("mu,a", [(0.0, 0.05), (0.5, 0.02), (0.8, 0.01), (0.9, 0.03)])
def test_stable_delay_matches_roots(mu, a):
    t = tradeoff._local_max_stable_delay(mu, a)
    assert tradeoff._roots_stable(mu, a, t) and not tradeoff._roots_stable(mu, a, t + 1)


def test_band_verdict():
    assert tradeoff.band_verdict((1.0, 2.0), (0.5, 3.0)) == "PASS"
    assert tradeoff.band_verdict((4.0, math.inf), (0.5, 3.0)) == "FAIL"
    assert tradeoff.band_verdict((2.0, math.inf), (0.5, 3.0)) == "INCONCLUSIVE"
    assert tradeoff.band_verdict((0.1, 0.2), (0.0, math.inf)) == "PASS"


@pytest.mark.parametrize("mu,eta", [(0.5, 2.5e-4), (0.7, 5e-4), (0.95, 2e-3)])
def test_library_stability_agrees_with_local(mu, eta):
    assert tradeoff.stable_delay(mu, eta, 4.0) == tradeoff._local_max_stable_delay(mu, 8.0 * eta)
