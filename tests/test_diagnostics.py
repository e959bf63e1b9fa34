"""The Lemma 3.1 / 3.2 / 3.4 diagnostics kernel (diffapprox/_diagnostics.py) against its naive twin.

Shared randomness two ways: the private entry ``diagnostics_given`` fed pre-drawn samples and
delays (any delay law), and the public ``path_diagnostics`` (constant delay, its own streams) against
the twin fed the same normals from :mod:`diffapprox._engine.rng`.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

import diffapprox as dx
from diffapprox._engine import rng as _rng
from diffapprox._experiments.diagnostics import diagnostics_given, path_diagnostics

from naive import async_diagnostics

SEED = 20240612
TOL = 1e-12
DIVERGED_TOL = 1e-8  # relative, on a path in its (cubic) blow-up: see test_divergence_like_naive_twin
FIELDS = ("max_norm_excess", "bias_sup", "D", "D_sup")
SPECTRA = {3: np.array([1.0, 0.6, 0.3]), 4: np.array([1.0, 0.6, 0.3, 0.1])}


def _assert_twin(out, p, ref, tol=TOL):
    """Kernel path ``p`` equals the twin within ``tol`` times max(1, |twin's value|)."""
    assert bool(out["diverged"][p]) == ref["diverged"]
    for f in FIELDS:
        got, want = np.asarray(out[f][p], dtype=float), np.asarray(ref[f], dtype=float)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f)
        ok = ~np.isnan(want)
        if not ok.any():
            continue
        np.testing.assert_allclose(
            got[ok], want[ok], rtol=0, atol=tol * np.maximum(1.0, np.abs(want[ok])).max(), err_msg=f
        )


def _unit_rows(rng, P, d):
    h0 = rng.standard_normal((P, d))
    return h0 / np.linalg.norm(h0, axis=1, keepdims=True)


@pytest.mark.parametrize("delay", ["const:0", "const:4", "uniform:0,6"])
@pytest.mark.parametrize("mu", [0.0, 0.6])
@pytest.mark.parametrize("d", [3, 4])
def test_given_samples_and_delays_equal_naive_twin(d, mu, delay):
    rng = np.random.default_rng([SEED, d, int(mu * 10), len(delay), delay.endswith("6")])
    P, K, eta, n_out = 3, 240, 0.05, 6
    lam = SPECTRA[d]
    Y = rng.standard_normal((P, K, d)) * np.sqrt(lam)
    law = dx.engine.delay_law(delay)
    taus = np.stack([law.sample(K, rng) for _ in range(P)])
    h0 = _unit_rows(rng, P, d)  # not an eigenvector: M~(h_0) != 0, so the k = 0 bias term counts
    out = diagnostics_given(Y, taus, h0, lam, mu=mu, eta=eta, n_out=n_out)
    assert not out["diverged"].any()
    for p in range(P):
        _assert_twin(out, p, async_diagnostics(Y[p], taus[p], h0[p], lam, mu, eta, n_out=n_out))
    if delay != "const:0":  # the delay makes the asynchronous error visible
        assert np.all(out["D_sup"] > 1e-3)


@pytest.mark.parametrize(
    "mu,tau,start", [(0.0, 3, "e2"), (0.7, 0, [0.6, 0.0, 0.8, 0.0]), (0.7, 5, [0.5, 0.5, 0.5, 0.5])]
)
def test_public_kernel_equals_naive_twin_on_its_streams(mu, tau, start):
    """path_diagnostics draws Y_k = sqrt(lambda) Z_k, d normals per step, from the path's data stream."""
    lam = np.array([4.0, 3.0, 2.0, 1.0])
    P, K, eta, n_out, seed, off = 3, 300, 0.01, 5, 17, 6
    out = path_diagnostics(
        dx.engine.StreamingPCA(spectrum=lam),
        mu=mu,
        eta=eta,
        steps=K,
        paths=P,
        tau=tau,
        start=start,
        seed=seed,
        path_offset=off,
        n_out=n_out,
    )
    np.testing.assert_allclose(out["times"], np.arange(1, n_out + 1) * (K // n_out) * eta)
    h0 = np.eye(4)[1] if start == "e2" else np.asarray(start, dtype=float)
    for p in range(P):
        Y = _rng.normals(seed, off + p, K * 4).reshape(K, 4) * np.sqrt(lam)
        _assert_twin(out, p, async_diagnostics(Y, np.full(K, tau), h0, lam, mu, eta, n_out=n_out))


def test_given_entry_reproduces_public_kernel_bit_for_bit():
    """Fed the public kernel's own draws, the private entry runs the same arithmetic."""
    lam = np.array([4.0, 3.0, 2.0, 1.0])
    P, K, tau, seed = 3, 200, 4, 5
    out = path_diagnostics(
        dx.engine.StreamingPCA(spectrum=lam),
        mu=0.5,
        eta=0.02,
        steps=K,
        paths=P,
        tau=tau,
        start="e3",
        seed=seed,
        n_out=4,
    )
    Y = np.stack([_rng.normals(seed, p, K * 4).reshape(K, 4) * np.sqrt(lam) for p in range(P)])
    # a zero delay at step 0 is no delay: the ring keeps tau + 1 iterates because max(taus) = tau
    taus = np.full((P, K), tau)
    g = diagnostics_given(Y, taus, np.tile(np.eye(4)[2], (P, 1)), lam, mu=0.5, eta=0.02, n_out=4)
    for f in FIELDS + ("diverged",):
        assert np.array_equal(out[f], g[f]), f


def test_divergence_like_naive_twin():
    """A path whose ||h||^2 reaches 1e12 stops; both keep what h_0..h_k determine (k the last good step)."""
    rng = np.random.default_rng([SEED, 99])
    P, K, d, eta, mu, n_out = 3, 300, 3, 0.05, 0.9, 30
    lam = SPECTRA[d]
    Y = rng.standard_normal((P, K, d)) * np.sqrt(lam)
    taus = rng.integers(0, 5, size=(P, K))
    h0 = _unit_rows(rng, P, d)
    out = diagnostics_given(Y, taus, h0, lam, mu=mu, eta=eta, n_out=n_out)
    assert out["diverged"].all() and np.isnan(out["D"][:, -1]).all() and np.isfinite(out["D"][:, 0]).all()
    for p in range(P):
        # relative to their size (up to ~1e15 at the stop): the blow-up amplifies the last-bit differences of
        # the two gradient formulas, from ~1e-15 early on to ~1e-9 in the last steps, hence DIVERGED_TOL; the
        # stop itself (the flag and which D(t_j) exist) must agree exactly
        _assert_twin(out, p, async_diagnostics(Y[p], taus[p], h0[p], lam, mu, eta, n_out=n_out), tol=DIVERGED_TOL)


def test_bit_identical_across_threads_and_chunks():
    prob = dx.engine.StreamingPCA(spectrum=[4.0, 3.0, 2.0, 1.0])
    kw = dict(mu=0.7, eta=0.005, steps=400, tau=3, start="e2", seed=42, n_out=4)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = path_diagnostics(prob, paths=8, **kw)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = path_diagnostics(prob, paths=8, **kw)
        part = path_diagnostics(prob, paths=4, path_offset=4, **kw)
    finally:
        numba.set_num_threads(old)
    assert not one["diverged"].any()
    for f in FIELDS + ("diverged", "times"):
        assert np.array_equal(one[f], two[f]), f
        if f != "times":
            assert np.array_equal(one[f][4:], part[f]), f
    assert len(set(one["D_sup"])) == 8  # paths differ


def test_bounded_law_draws_the_simulators_cube_samples():
    """With data="cube" the kernel draws Y_k = sqrt(lambda) sqrt(3) (2 U - 1), d uniforms per step (Assumption 2)."""
    lam = np.array([4.0, 3.0, 2.0, 1.0])
    P, K, tau, seed, off = 3, 240, 3, 11, 2
    out = path_diagnostics(
        dx.engine.StreamingPCA(spectrum=lam, data="cube"),
        mu=0.6,
        eta=0.01,
        steps=K,
        paths=P,
        tau=tau,
        start="e2",
        seed=seed,
        path_offset=off,
        n_out=4,
    )
    for p in range(P):
        u = _rng.uniforms(seed, off + p, K * 4, stream=_rng.STREAM_DATA).reshape(K, 4)
        Y = np.sqrt(3.0) * (2.0 * u - 1.0) * np.sqrt(lam)
        _assert_twin(out, p, async_diagnostics(Y, np.full(K, tau), np.eye(4)[1], lam, 0.6, 0.01, n_out=4))
    gauss = path_diagnostics(
        dx.engine.StreamingPCA(spectrum=lam), mu=0.6, eta=0.01, steps=K, paths=P, tau=tau, seed=seed
    )
    assert not np.allclose(gauss["max_norm_excess"], out["max_norm_excess"])
