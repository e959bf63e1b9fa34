"""The momentum-asynchrony claims (figure1, delay-threshold, random-delay, async-speedup, async-error; norm-bound
and momentum-bias have their own file, tests/test_claim_lemmas.py): quick profile end to end, their synthetic controls (the null does not
FAIL, the alternative does), the history entries' old rules, and the exact linear-stability limit."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from scipy.optimize import brentq

from diffapprox import Verdict, get_claim, stats
from diffapprox._run.calibrate import run_controls

from diffapprox_claims.paper import _tradeoff as tradeoff

SEED = 20240605
CONTROL_SEED = 20261129
CLAIMS = ("figure1", "delay-threshold", "random-delay", "async-speedup", "async-error")

CONTRACT = {
    "figure1": [
        f"tau_star/{c}/mu={m}"
        for c in ("ratio-1.1", "ratio-1.5", "band")
        for m in ("0.7", "0.8", "0.85", "0.9", "0.95")
    ]
    + ["tau_star_trend/ratio-1.5"],
    "delay-threshold": ["exponent_p", "exponent_q", "tau_star_vs_sufficient/mu=0.5/eta=0.0005"]
    + [f"stability_ratio/mu={m}" for m in ("0.5", "0.7", "0.8", "0.9")],
    "random-delay": ["stationary_error_ratio/law=geometric/mean=10", "escape_ratio/law=uniform/mean=40"],
    "async-speedup": ["iteration_ratio/workers=8", "momentum_ratio/mu=0.9"],
    "async-error": ["rate/gamma=0.1", "rate/gamma=0.4", "rate/control=tau~1/eta"],
}


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", CLAIMS)
def test_quick_profile(claim_id, tmp_path):
    c = get_claim(claim_id)
    cells = c.cells("quick", SEED)
    assert len({x.key for x in cells}) == len(cells)
    results = {x.key: c.run_cell(x) for x in cells}
    out = c.finish("quick", SEED, results, tmp_path)
    names = {m.name for m in out.measurements}
    assert set(CONTRACT[claim_id]) <= names
    assert all(m.verdict is not Verdict.ERROR for m in out.measurements)
    assert out.figures and {f.rsplit(".", 1)[1] for f in out.figures} == {"png", "svg"}
    assert out.findings
    # the synthetic controls draw exactly the cells the claim runs
    assert set(c.synthetic("quick", "null", np.random.default_rng(1))) == set(results)


@pytest.mark.parametrize("claim_id", CLAIMS)
def test_null_control_does_not_fail_and_the_alternative_does(claim_id):
    """A few fixed-seed replicates of each control (the calibration itself runs 200 on the standard profile)."""
    c = get_claim(claim_id)
    null = run_controls(c, "quick", "null", 3, CONTROL_SEED)
    alt = run_controls(c, "quick", "alternative", 3, CONTROL_SEED)
    assert not null.errors and not alt.errors
    assert Verdict.FAIL not in null.claim, null.rows
    assert all(v is Verdict.FAIL for v in alt.claim), alt.rows


@pytest.mark.parametrize("claim_id", CLAIMS)
def test_judged_rows_state_effect_and_bonferroni_level(claim_id):
    c = get_claim(claim_id)
    ms = c.measure("quick", 1, c.synthetic("quick", "null", np.random.default_rng(2)), c.predict("quick"))
    judged = [m for m in ms if m.judged]
    # a claim may set its rows for a smaller claim-level false-FAIL rate than the default (FALSE_FAIL)
    alpha = getattr(sys.modules[type(c).__module__], "FALSE_FAIL", stats.NULL_FAIL_TARGET)
    level = stats.row_level(len(judged), alpha)
    for m in judged:
        assert m.effect is not None and m.effect > 0, m.name
        assert m.ci_level == pytest.approx(level), m.name
        assert m.tolerance is not None, m.name
    assert all(m.effect is None for m in ms if not m.judged)


@pytest.mark.parametrize("claim_id", CLAIMS)
def test_measure_is_a_pure_function_of_its_inputs(claim_id):
    c = get_claim(claim_id)
    res = c.synthetic("quick", "null", np.random.default_rng(3))
    a = c.measure("quick", 7, res, c.predict("quick"))
    b = c.measure("quick", 7, res, c.predict("quick"))
    assert [m.to_json() for m in a] == [m.to_json() for m in b]


@pytest.mark.parametrize("claim_id", CLAIMS)
def test_history_is_dated_and_every_old_rule_has_its_rows(claim_id):
    c = get_claim(claim_id)
    assert [h.version for h in c.history] == list(range(2, len(c.history) + 2))
    names = [
        m.name
        for m in c.measure("quick", 1, c.synthetic("quick", "null", np.random.default_rng(4)), c.predict("quick"))
    ]
    for h in c.history:
        for prefix in h.old_rows:
            assert any(n.startswith(prefix) for n in names), (h.version, prefix)


def test_synthetic_limit_of_delay_threshold_fails_the_shape():
    """The exact linear-stability limit (which the measured tau* follows) has p ~ 1.17, q ~ 1.08: it FAILs the shape."""
    c = get_claim("delay-threshold")
    run = run_controls(c, "quick", "limit", 1, CONTROL_SEED)
    assert run.rows["exponent_p"] == [Verdict.FAIL] and run.rows["exponent_q"] == [Verdict.FAIL]


def _roots_stable(mu: float, a: float, tau: int) -> bool:
    """All roots of z^(tau+1) - (1+mu) z^tau + mu z^(tau-1) + a inside the unit circle."""
    if tau == 0:
        c = [1.0, -(1.0 + mu - a), mu]
    else:
        c = np.zeros(tau + 2)
        c[0], c[1], c[2] = 1.0, -(1.0 + mu), mu
        c[-1] += a
    return bool(np.max(np.abs(np.roots(c))) < 1.0)


def _local_max_stable_delay(mu: float, a: float) -> int:
    """Largest integer delay for which x_{k+1} = (1+mu) x_k - mu x_{k-1} - a x_{k-tau} is stable.

    An independent cross-check of the library's ``max_stable_delay``: the boundary is where a root
    crosses z = e^{i w}: |e^{iw}-1||e^{iw}-mu| = a fixes w, and the phase (tau-1) w + arg(e^{iw}-1)
    + arg(e^{iw}-mu) = pi fixes the real delay.  -1 if even tau = 0 is unstable.
    """
    if not _roots_stable(mu, a, 0):
        return -1

    def mod(w):
        z = complex(math.cos(w), math.sin(w))
        return abs(z - 1) * abs(z - mu) - a

    w = brentq(mod, 1e-15, math.pi) if mod(math.pi) > 0 else math.pi
    z = complex(math.cos(w), math.sin(w))
    ph = (math.pi - math.atan2((z - 1).imag, (z - 1).real) - math.atan2((z - mu).imag, (z - mu).real)) % (2 * math.pi)
    return max(0, int(math.ceil(1.0 + ph / w)) - 1)


@pytest.mark.parametrize("mu,a", [(0.0, 0.05), (0.5, 0.02), (0.8, 0.01), (0.9, 0.03)])
def test_stable_delay_matches_roots(mu, a):
    t = _local_max_stable_delay(mu, a)
    assert _roots_stable(mu, a, t) and not _roots_stable(mu, a, t + 1)


@pytest.mark.parametrize("mu,eta", [(0.5, 2.5e-4), (0.7, 5e-4), (0.95, 2e-3)])
def test_library_stability_agrees_with_local(mu, eta):
    assert tradeoff.stable_delay(mu, eta) == _local_max_stable_delay(mu, 8.0 * eta)


def test_threshold_curve_is_read_as_its_crossing():
    rng = np.random.default_rng(SEED)
    taus = np.arange(0, 201, 10)
    e = tradeoff.threshold_curve(rng, taus, 125.0, 0.01, 0.45, 200)
    assert all(stats.threshold_point(taus, e, c) == 120 for c in tradeoff.CRITERIA)
