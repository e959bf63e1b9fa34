"""The Async-MSGD kernel against its naive twin, special cases, and reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

import diffapprox as dx
from diffapprox import _kernel

from naive import async_msgd

SEED = 20240611
TOL = 1e-12

DELAYS = ["const:3", "uniform:0,4", "geometric:2", "workers:3@1,2,0.5", "trace"]


def _given_delays(spec: str, P: int, K: int, rng: np.random.Generator) -> np.ndarray:
    """Pre-drawn delays from each delay law's own NumPy sampler."""
    if spec == "trace":
        law = dx.trace_delay(rng.integers(0, 6, size=7))
    else:
        law = dx.delay_law(spec)
    return np.stack([law.sample(K, rng) for _ in range(P)])


def _compare(Y, taus, h0, mu, eta, rec_every, passages=()):
    out = _kernel.simulate_given(Y, taus, h0, mu=mu, eta=eta, rec_every=rec_every, passages=passages)
    for p in range(Y.shape[0]):
        ref = async_msgd(Y[p], taus[p], h0[p], mu, eta, rec_every=rec_every, passages=passages)
        scale = max(1.0, float(np.abs(ref["h"]).max()))
        np.testing.assert_allclose(out["h"][p], ref["h"], rtol=0, atol=TOL * scale)
        np.testing.assert_allclose(out["error"][p], ref["error"], rtol=0, atol=TOL)
        np.testing.assert_allclose(out["norm2"][p], ref["norm2"], rtol=TOL, atol=0)
        assert out["diverged_step"][p] == ref["diverged_step"]
        np.testing.assert_array_equal(out["passage"][p], ref["passage"])
    return out


@pytest.mark.parametrize("delay", DELAYS)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("mu", [0.0, 0.6])
def test_kernel_equals_naive_twin(delay, batch, mu):
    rng = np.random.default_rng([SEED, DELAYS.index(delay), batch, int(mu * 10)])
    P, K, d = 3, 120, 5
    lam = np.array([1.0, 0.6, 0.4, 0.3, 0.1])
    Y = rng.standard_normal((P, K, batch, d)) * np.sqrt(lam)
    taus = _given_delays(delay, P, K, rng)
    h0 = rng.standard_normal((P, d))
    h0 /= np.linalg.norm(h0, axis=1, keepdims=True)
    _compare(Y, taus, h0, mu, 0.05, rec_every=4, passages=[(0, 0.6, 1), (1, 0.05, -1)])


def test_kernel_equals_naive_twin_long_vectors():
    """d >= 16 takes the 8-accumulator dot product and update."""
    rng = np.random.default_rng([SEED, 99])
    P, K, d = 2, 60, 21
    lam = 1.0 / np.arange(1, d + 1)
    Y = rng.standard_normal((P, K, 2, d)) * np.sqrt(lam)
    taus = rng.integers(0, 5, size=(P, K))
    h0 = rng.standard_normal((P, d))
    _compare(Y, taus, h0 / np.linalg.norm(h0, axis=1, keepdims=True), 0.5, 0.02, rec_every=3)


def test_divergence_frozen_like_naive_twin():
    rng = np.random.default_rng([SEED, 7])
    P, K, d = 2, 200, 3
    Y = rng.standard_normal((P, K, 1, d)) * 3.0
    taus = np.full((P, K), 8)
    h0 = np.tile([0.0, 1.0, 0.0], (P, 1))
    out = _compare(Y, taus, h0, 0.95, 0.5, rec_every=10)
    assert np.all(out["diverged_step"] > 0)
    assert np.all(np.isfinite(out["h"]))
