"""The shared helpers of the momentum-asynchrony claims (validation/paper/_tradeoff.py): the exact
linear-stability limit and the threshold curve.  The claims have their own files (norm-bound and
momentum-bias: test_claim_lemmas.py; figure1, delay-sufficiency, delay-scaling and random-delay:
test_claims_thresholds.py; async-speedup and async-error: their own files)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from diffapprox import stats

from diffapprox_claims.paper import _tradeoff as tradeoff

SEED = 20240605


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
