"""The problem/algorithm protocol: the generic kernel against its naive twin, SVAG, streams, dispatch."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

import diffapprox as da
from diffapprox._engine import kernel as _kernel
from diffapprox._engine import rng as _rng

from naive import generic_algorithm

SEED = 20261129
TOL = 1e-12

H2 = np.array([[2.0, 0.6], [0.6, 1.0]])
S2 = np.array([[1.0, 0.3], [0.0, 0.5]])
X0 = np.array([1.5, -0.7])


def _linear(law="gaussian"):
    return da.engine.linear_problem(H2, [0.2, -0.1], S2, law)


def _np_linear(x, xi):
    return H2 @ (x - np.array([0.2, -0.1])) + S2 @ xi


def _taus(alg, path, n):
    law = alg.delay
    dpar = np.ascontiguousarray(law.params, dtype=float) if len(law.params) else np.zeros(1)
    dtrace = np.zeros(1, dtype=np.int64)
    return _kernel.sample_delays(int(law.code), dpar, dtrace, int(law.cap), np.uint64(SEED), np.uint64(path), n)


ALGS = {
    "sgd": da.sgd(0.1),
    "heavy_ball": da.heavy_ball(0.05, 0.8),
    "async-uniform": da.async_msgd(0.05, 0.5, "uniform:0,4"),
    "async-geometric": da.async_msgd(0.05, 0.3, "geometric:2"),
    "svag3-heavy_ball": da.svag(da.heavy_ball(0.1, 0.5), 3),
    "svag4-async": da.svag(da.async_msgd(0.1, 0.5, "const:8"), 4),
}


@pytest.mark.parametrize("name", list(ALGS))
@pytest.mark.parametrize("law", ["gaussian", "rademacher"])
def test_generic_kernel_equals_naive_twin(name, law):
    alg = ALGS[name]
    pr = _linear(law)
    steps, P = 40, 3
    r = da.simulate_algorithm(pr, alg, steps=steps, paths=P, x0=X0, seed=SEED)
    n = steps * alg.ell
    c1, c2 = alg.coefficients
    for p in range(P):
        xi = da.engine.sample_noise(pr, seed=SEED, path=p, n=n)
        xi2 = da.engine.sample_noise(pr, seed=SEED, path=p, n=n, stream="svag")
        ref = generic_algorithm(_np_linear, xi, xi2, _taus(alg, p, n), X0, alg.step, alg.mu, c1, c2)
        np.testing.assert_allclose(r.x[p], ref, rtol=0, atol=TOL * max(1.0, np.abs(ref).max()))


def test_double_well_equals_naive_twin_and_passage():
    pr = da.engine.double_well(1.5)
    r = da.simulate_algorithm(pr, da.sgd(0.05), steps=400, paths=4, x0=[-1.0], seed=SEED, passage=(0, 0.0, 1))
    for p in range(4):
        xi = da.engine.sample_noise(pr, seed=SEED, path=p, n=400)
        ref = generic_algorithm(lambda x, z: x**3 - x + 1.5 * z, xi, xi, np.zeros(400), [-1.0], 0.05, 0.0, 1.0, 0.0)
        np.testing.assert_allclose(r.x[p, :, 0], ref[:, 0], rtol=0, atol=TOL)
        hit = np.flatnonzero(ref[:, 0] >= 0.0)
        assert r.passage_step[p] == (hit[0] if hit.size else -1)


@pytest.mark.parametrize("base", [da.sgd(0.2), da.heavy_ball(0.1, 0.9), da.async_msgd(0.1, 0.5, "geometric:3")])
def test_svag_l1_is_the_plain_algorithm_bit_for_bit(base):
    pr = _linear("rademacher")
    a = da.simulate_algorithm(pr, base, steps=200, paths=5, x0=X0, seed=SEED)
    b = da.simulate_algorithm(pr, da.svag(base, 1), steps=200, paths=5, x0=X0, seed=SEED)
    assert np.array_equal(a.x, b.x)


def test_svag_coefficients_keep_drift_and_noise():
    for ell in (1, 2, 7, 64):
        c1, c2 = da.svag(da.sgd(0.1), ell).coefficients
        assert c1 + c2 == pytest.approx(1.0, abs=1e-14)
        assert c1 * c1 + c2 * c2 == pytest.approx(ell, rel=1e-13)


def test_threads_and_chunks_do_not_change_results():
    import numba

    pr = _linear()
    alg = da.svag(da.async_msgd(0.05, 0.5, "uniform:0,3"), 2)
    full = da.simulate_algorithm(pr, alg, steps=50, paths=9, x0=X0, seed=SEED, threads=1)
    two = da.simulate_algorithm(
        pr, alg, steps=50, paths=9, x0=X0, seed=SEED, threads=min(2, numba.config.NUMBA_NUM_THREADS)
    )
    parts = [
        da.simulate_algorithm(pr, alg, steps=50, paths=k, x0=X0, seed=SEED, path_offset=o) for o, k in ((0, 4), (4, 5))
    ]
    assert np.array_equal(full.x, two.x)
    assert np.array_equal(full.x, np.concatenate([p.x for p in parts]))


def test_stream_normal_is_the_path_stream():
    pr = da.engine.li_tai_e_quadratic(3, "gaussian")
    xi = da.engine.sample_noise(pr, seed=SEED, path=7, n=50)
    np.testing.assert_array_equal(xi.ravel(), _rng.normals(SEED, 7, 150))


def test_streaming_pca_dispatches_to_its_kernel():
    pca = da.engine.StreamingPCA(spectrum=[4, 3, 2, 1], data="gaussian")
    pr = da.engine.pca_problem(pca)
    alg = da.async_msgd(1e-3, 0.5, "uniform:0,3")
    h0 = [0.5, 0.5, 0.5, 0.5]
    a = da.simulate_algorithm(pr, alg, steps=400, paths=6, x0=h0, seed=SEED, record_every=50)
    b = da.simulate(
        pca, mu=0.5, eta=1e-3, delay="uniform:0,3", steps=400, paths=6, start=h0, seed=SEED, record_every=50
    )
    assert a.parameters["kernel"].startswith("streaming-PCA")
    assert np.array_equal(a.x, b.h)
    # the generic kernel on the same problem (a passage that never happens forces it): same draws, same iterates
    g = da.simulate_algorithm(pr, alg, steps=400, paths=6, x0=h0, seed=SEED, record_every=50, passage=(0, 9.0, 1))
    assert g.parameters["kernel"] == "generic kernel"
    np.testing.assert_allclose(g.x, b.h, rtol=0, atol=1e-12)


@njit
def _bad_grad(x, xi):
    return x


def test_bad_input_is_one_diffapprox_error():
    pr = _linear()
    with pytest.raises(da.DiffapproxError, match="grad"):
        da.Problem(name="p", dim=2, noise_dim=2, grad=lambda x, xi, par, out: None, noise=pr.noise)
    with pytest.raises(da.DiffapproxError, match="grad"):
        da.Problem(name="p", dim=2, noise_dim=2, grad=_bad_grad, noise=pr.noise)
    with pytest.raises(da.DiffapproxError, match="mu"):
        da.Algorithm(kind="sgd", eta=0.1, mu=0.5)
    with pytest.raises(da.DiffapproxError, match="delay"):
        da.Algorithm(kind="heavy_ball", eta=0.1, mu=0.5, delay="const:2")
    with pytest.raises(da.DiffapproxError, match="base"):
        da.svag(da.svag(da.sgd(0.1), 2), 2)
    with pytest.raises(da.DiffapproxError, match="algorithm"):
        da.algorithm("adam", eta=0.1)
    with pytest.raises(da.DiffapproxError, match="x0"):
        da.simulate_algorithm(pr, da.sgd(0.1), steps=5, paths=2, x0=[1.0, 2.0, 3.0])
    assert da.algorithm("heavy_ball", eta=0.1, mu=0.9) == da.heavy_ball(0.1, 0.9)


def test_a_user_problem_in_a_few_lines():
    @njit
    def grad(x, xi, par, out):
        out[0] = par[0] * x[0] + xi[0]

    @njit
    def noise(state, par, xi):
        xi[0] = par[1] * da.stream_sign(state)

    pr = da.Problem(name="scalar", dim=1, noise_dim=1, grad=grad, noise=noise, par=[2.0, 0.5])
    r = da.simulate_algorithm(pr, da.sgd(0.1), steps=30, paths=2, x0=[1.0], seed=SEED)
    xi = da.engine.sample_noise(pr, seed=SEED, path=1, n=30)
    assert set(np.unique(xi)) <= {-0.5, 0.5}
    ref = generic_algorithm(lambda x, z: 2.0 * x + z, xi, xi, np.zeros(30), [1.0], 0.1, 0.0, 1.0, 0.0)
    np.testing.assert_allclose(r.x[1, :, 0], ref[:, 0], rtol=0, atol=TOL)
