"""Data laws, delay laws and the per-path generators against Monte Carlo.

Rule: a Monte Carlo mean must lie within K_SE standard errors of its closed form.
Both samplers are checked: the NumPy one of the law objects and the kernel's own.
"""

from __future__ import annotations

import numpy as np
import pytest

import diffapprox as dx
from diffapprox._engine import kernel as _kernel, rng as _rng

import naive

SEED = 20240611
K_SE = 5.0
N = 200_000
LAM = np.array([2.0, 1.0, 0.5])


def _check_mean(samples: np.ndarray, expected, what: str) -> None:
    """Column means of ``samples`` within K_SE standard errors of ``expected``."""
    m = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
    se = np.maximum(se, 1e-12 * (1.0 + np.abs(np.asarray(expected, dtype=float))))  # constant samples
    z = np.abs(m - expected) / se
    assert np.all(z < K_SE), f"{what}: |z| = {np.max(z):.2f} (mean {m}, expected {expected})"


def _moment_samples(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Y_i Y_j products, Y_i^2 Y_j^2 products) flattened over (i, j)."""
    d = y.shape[1]
    yy = (y[:, :, None] * y[:, None, :]).reshape(-1, d * d)
    return yy, yy**2


def _kernel_draws(law: dx.engine.DataLaw, n: int, path: int) -> np.ndarray:
    return _kernel.sample_data(law.code, np.sqrt(LAM), np.uint64(SEED), path, n)


@pytest.mark.parametrize("name", list(dx.engine.DATA_LAWS))
@pytest.mark.parametrize("sampler", ["numpy", "kernel"])
def test_data_law_moments_and_alpha(name, sampler):
    law = dx.engine.data_law(name)
    if sampler == "numpy":
        y = law.sample(LAM, N, np.random.default_rng([SEED, law.code]))
    else:
        y = _kernel_draws(law, N, law.code)
    yy, y4 = _moment_samples(y)
    _check_mean(yy, np.diag(LAM).ravel(), f"{name}/{sampler} E[Y Y^T] = Lambda")
    _check_mean(y4, law.fourth_moments(LAM).ravel(), f"{name}/{sampler} E[Y_i^2 Y_j^2] = alpha_ij^2")
    _check_mean(y, np.zeros(3), f"{name}/{sampler} E[Y] = 0")
    bound = law.bound(LAM)
    if bound is None:
        assert name == "gaussian"
    else:
        assert np.max(np.linalg.norm(y, axis=1)) <= bound * (1 + 1e-12)


def test_problem_constants():
    p = dx.engine.StreamingPCA(spectrum=[1.0, 3.0, 2.0], data="cube")
    np.testing.assert_array_equal(p.eigenvalues, [3.0, 2.0, 1.0])
    a = p.alpha
    np.testing.assert_allclose(a[0, 1] ** 2, 3.0 * 2.0)
    np.testing.assert_allclose(a[0, 0] ** 2, 9.0 / 5.0 * 9.0)
    np.testing.assert_allclose(p.phi, np.sum(a[0] ** 2))


def test_sphere_draws_lie_on_the_scaled_sphere():
    y = _kernel_draws(dx.engine.data_law("sphere"), 1000, 0)
    np.testing.assert_allclose(np.sum(y**2 / LAM, axis=1), LAM.size, rtol=1e-12)


# ----------------------------------------------------------------------------- delay laws

BURN = 2_000  # workers: early delays equal k (all workers read h_0)


@pytest.mark.parametrize("spec", ["const:7", "uniform:2,9", "geometric:4", "workers:4", "workers:3@1,2,5"])
@pytest.mark.parametrize("sampler", ["numpy", "kernel"])
def test_delay_law_mean(spec, sampler):
    law = dx.engine.delay_law(spec)
    n = 100_000
    if sampler == "numpy":
        tau = law.sample(n + BURN, np.random.default_rng([SEED, n]))
    else:
        tr = np.zeros(1, dtype=np.int64)
        tau = _kernel.sample_delays(law.code, law.params.astype(float), tr, law.cap, np.uint64(SEED), 3, n + BURN)
    tau = tau[BURN:].astype(float)
    assert tau.min() >= 0 and tau.max() <= law.cap
    if law.max is not None:
        assert tau.max() <= law.max
    if np.all(tau == tau[0]):
        assert tau[0] == law.mean
        return
    # consecutive worker delays are correlated: use batch means for the standard error
    b = tau[: (tau.size // 100) * 100].reshape(100, -1).mean(axis=1)
    z = abs(b.mean() - law.mean) / (b.std(ddof=1) / np.sqrt(b.size))
    assert z < K_SE, f"{spec}/{sampler}: mean {b.mean():.4f} vs {law.mean} (z = {z:.2f})"


@pytest.mark.parametrize("spec", ["workers:1", "workers:2", "workers:8", "workers:3@1,1,0.25"])
@pytest.mark.parametrize("n", [1, 2, 7, 3000])
def test_workers_law_sample_matches_the_queue_twin(spec, n):
    """The vectorised NumPy sampler is the queue run one update at a time, draw for draw."""
    law = dx.engine.delay_law(spec)
    got = law.sample(n, np.random.default_rng([SEED, n]))
    want = np.minimum(naive.workers_queue(law.params, n, np.random.default_rng([SEED, n])), law.cap)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("sampler", ["numpy", "kernel"])
def test_geometric_law_pmf(sampler):
    law = dx.engine.delay_law("geometric:3")
    p = 1.0 / 4.0
    n = 200_000
    if sampler == "numpy":
        tau = law.sample(n, np.random.default_rng([SEED, 9]))
    else:
        tau = _kernel.sample_delays(law.code, law.params, np.zeros(1, dtype=np.int64), law.cap, np.uint64(SEED), 4, n)
    ks = np.arange(6)
    ind = (tau[:, None] == ks[None, :]).astype(float)
    _check_mean(ind, p * (1 - p) ** ks, f"geometric/{sampler} P(tau = k)")


def test_uniform_law_covers_its_support():
    law = dx.engine.delay_law("uniform:2,5")
    tau = _kernel.sample_delays(law.code, law.params, np.zeros(1, dtype=np.int64), law.cap, np.uint64(1), 0, 40_000)
    ind = (tau[:, None] == np.arange(2, 6)[None, :]).astype(float)
    _check_mean(ind, np.full(4, 0.25), "uniform P(tau = k)")


def test_unbounded_laws_report_cap_and_mass():
    for spec in ["geometric:20", "workers:8", "workers:3@1,1,0.1"]:
        law = dx.engine.delay_law(spec)
        assert law.max is None and law.mass_beyond_cap < dx.engine.CAP_MASS
        assert law.describe()["cap"] == law.cap


def test_trace_delays_cycle():
    law = dx.engine.trace_delay(np.array([0, 3, 1]))
    tau = _kernel.sample_delays(law.code, np.zeros(1), law.trace, law.cap, np.uint64(0), 0, 7)
    np.testing.assert_array_equal(tau, [0, 3, 1, 0, 3, 1, 0])


# ----------------------------------------------------------------------------- generators


def test_xoshiro_and_seeding_match_reference():
    st = _rng.states(123, 77)
    ref = _rng.splitmix_reference(123, 77)
    np.testing.assert_array_equal(st, np.array(ref, dtype=np.uint64))
    u = _rng.uniforms(123, 77, 50, stream=_rng.STREAM_DELAY)
    raw = _rng.xoshiro_reference(tuple(ref[_rng.STREAM_DELAY]), 50)
    np.testing.assert_array_equal(u, np.array([(x >> 11) * 2.0**-53 for x in raw]))


def test_streams_depend_on_seed_and_path_only():
    a = _rng.normals(5, 10, 100)
    assert np.array_equal(a, _rng.normals(5, 10, 100))
    assert not np.array_equal(a, _rng.normals(5, 11, 100))
    assert not np.array_equal(a, _rng.normals(6, 10, 100))


def test_ziggurat_normals_moments_and_tails():
    z = _rng.normals(SEED, 0, 2_000_000)
    # moments 1..4 and tail frequencies, each within K_SE standard errors
    feats = np.stack([z, z**2, z**3, z**4, np.abs(z) > 2, np.abs(z) > 3], axis=1).astype(float)
    from math import erfc, sqrt

    expected = [0.0, 1.0, 0.0, 3.0, erfc(2 / sqrt(2)), erfc(3 / sqrt(2))]
    _check_mean(feats, np.array(expected), "ziggurat normals")
    # the far tail (beyond the ziggurat's base strip, r = 3.654) is reached and sane
    assert np.any(np.abs(z) > _rng.ZIG_R) and np.max(np.abs(z)) < 7
