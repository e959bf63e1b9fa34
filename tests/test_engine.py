"""The Async-MSGD kernel against its naive twin, special cases, and reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

import diffapprox as dx
from diffapprox._engine import kernel as _kernel

from naive import async_msgd, async_sgd, msgd

SEED = 20240611
TOL = 1e-12

DELAYS = ["const:3", "uniform:0,4", "geometric:2", "workers:3@1,2,0.5", "trace"]


def _given_delays(spec: str, P: int, K: int, rng: np.random.Generator) -> np.ndarray:
    """Pre-drawn delays from each delay law's own NumPy sampler."""
    if spec == "trace":
        law = dx.engine.trace_delay(rng.integers(0, 6, size=7))
    else:
        law = dx.engine.delay_law(spec)
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


@pytest.mark.parametrize("delay", DELAYS)
def test_kernel_equals_naive_twin_d4(delay):
    """d = 4, B = 1 (the paper's case) takes its own loop (``_steps4``): same twin, same rules."""
    rng = np.random.default_rng([SEED, 4, DELAYS.index(delay)])
    P, K, d = 3, 150, 4
    lam = np.array([1.0, 0.6, 0.3, 0.1])
    Y = rng.standard_normal((P, K, 1, d)) * np.sqrt(lam)
    taus = _given_delays(delay, P, K, rng)
    h0 = rng.standard_normal((P, d))
    h0 /= np.linalg.norm(h0, axis=1, keepdims=True)
    _compare(Y, taus, h0, 0.6, 0.05, rec_every=3, passages=[(0, 0.6, 1), (1, 0.05, -1), (3, 0.02, -1)])


@pytest.mark.parametrize("d", [3, 4])
def test_divergence_frozen_like_naive_twin(d):
    rng = np.random.default_rng([SEED, 7])
    P, K = 2, 200
    Y = rng.standard_normal((P, K, 1, d)) * 3.0
    taus = np.full((P, K), 8)
    h0 = np.tile(np.eye(d)[1], (P, 1))
    out = _compare(Y, taus, h0, 0.95, 0.5, rec_every=10)
    assert np.all(out["diverged_step"] > 0)
    assert np.all(np.isfinite(out["h"]))


@pytest.mark.parametrize("bound", [1.0 + 1e-9, 1.001, 1.02])
def test_divergence_at_a_bound_near_the_norm(bound):
    """A bound just above ||h|| = 1: the d = 4 loop's shortcut (sum |h_j| below the bound)
    must give way to the exact test ||h||^2 <= bound^2, step for step like the twin."""
    rng = np.random.default_rng([SEED, 8])
    P, K, d = 4, 300, 4
    Y = rng.standard_normal((P, K, 1, d)) * np.sqrt([1.0, 0.5, 0.3, 0.2])
    taus = rng.integers(0, 4, size=(P, K))
    h0 = np.tile(np.eye(d)[0], (P, 1))
    out = _kernel.simulate_given(Y, taus, h0, mu=0.5, eta=0.05, rec_every=5, bound=bound)
    for p in range(P):
        ref = async_msgd(Y[p], taus[p], h0[p], 0.5, 0.05, rec_every=5, bound=bound)
        assert out["diverged_step"][p] == ref["diverged_step"]
        np.testing.assert_allclose(out["h"][p], ref["h"], rtol=0, atol=TOL)
    assert np.any(out["diverged_step"] > 0)


# ----------------------------------------------------------------------------- random streams

PROB4 = dx.engine.StreamingPCA(spectrum=[1.0, 0.7, 0.4, 0.2])


def _kernel_samples(problem, seed, path, steps, batch):
    """Y (steps, batch, d) exactly as path ``path`` of the kernel draws them."""
    y = _kernel.sample_data(problem.law.code, np.sqrt(problem.eigenvalues), np.uint64(seed), path, steps * batch)
    return y.reshape(steps, batch, problem.d)


def _kernel_delays(law, seed, path, steps):
    tr = law.trace if law.trace is not None else np.zeros(1, dtype=np.int64)
    return _kernel.sample_delays(law.code, law.params.astype(float), tr, law.cap, np.uint64(seed), path, steps)


@pytest.mark.parametrize("data", ["gaussian", "rademacher", "sphere", "cube"])
@pytest.mark.parametrize("delay,batch", [("const:2", 1), ("geometric:1.5", 2), ("workers:3", 1)])
def test_random_streams_equal_naive_twin(data, delay, batch):
    """simulate() with its own streams = the naive twin fed the same draws (samples and delays)."""
    prob = dx.engine.StreamingPCA(spectrum=[1.0, 0.7, 0.4, 0.2], data=data)
    K, P, seed = 300, 3, 11
    law = dx.engine.delay_law(delay)
    t = dx.simulate(
        prob,
        mu=0.5,
        eta=0.02,
        steps=K,
        paths=P,
        delay=law,
        batch=batch,
        record_every=10,
        start="e2",
        seed=seed,
        path_offset=4,
    )
    for p in range(P):
        Y = _kernel_samples(prob, seed, 4 + p, K, batch)
        taus = _kernel_delays(law, seed, 4 + p, K)
        ref = async_msgd(Y, taus, np.eye(4)[1], 0.5, 0.02, rec_every=10)
        np.testing.assert_allclose(t.h[p], ref["h"], rtol=0, atol=TOL)
        np.testing.assert_allclose(t.error[p], ref["error"], rtol=0, atol=TOL)


def test_tau0_is_msgd():
    K, seed = 400, 3
    t = dx.simulate(PROB4, mu=0.7, eta=0.01, steps=K, paths=2, delay="const:0", record_every=1, seed=seed)
    for p in range(2):
        ref = msgd(_kernel_samples(PROB4, seed, p, K, 1), np.eye(4)[1], 0.7, 0.01)
        np.testing.assert_allclose(t.h[p], ref, rtol=0, atol=TOL)


def test_mu0_is_async_sgd():
    K, seed = 400, 5
    law = dx.engine.delay_law("uniform:0,6")
    t = dx.simulate(PROB4, mu=0.0, eta=0.01, steps=K, paths=2, delay=law, record_every=1, seed=seed)
    for p in range(2):
        ref = async_sgd(_kernel_samples(PROB4, seed, p, K, 1), _kernel_delays(law, seed, p, K), np.eye(4)[1], 0.01)
        np.testing.assert_allclose(t.h[p], ref, rtol=0, atol=TOL)


def _fields(t):
    return [t.error, t.norm2, t.h, t.diverged_step, t.passage]


@pytest.mark.parametrize("d", [4, 20])
def test_bit_identical_across_threads_and_chunks(d):
    prob = dx.engine.StreamingPCA(spectrum=1.0 / np.arange(1, d + 1))
    kw = dict(
        mu=0.8,
        eta=0.01,
        steps=500,
        record_every=50,
        delay="geometric:3",
        start="random",
        seed=42,
        passages=[(0, 0.5, 1)],
    )
    whole1 = dx.simulate(prob, paths=10, threads=1, **kw)
    whole2 = dx.simulate(prob, paths=10, threads=2, **kw)
    part = dx.simulate(prob, paths=5, path_offset=5, threads=2, **kw)
    for a, b, c in zip(_fields(whole1), _fields(whole2), _fields(part)):
        assert np.array_equal(a, b)
        assert np.array_equal(a[5:], c)
    assert not np.array_equal(whole1.h[0], whole1.h[1])  # paths differ


def test_seed_changes_streams():
    kw = dict(mu=0.5, eta=0.01, steps=100, paths=2, record_every=100)
    a = dx.simulate(PROB4, seed=1, **kw)
    b = dx.simulate(PROB4, seed=2, **kw)
    assert not np.array_equal(a.h, b.h)


# ----------------------------------------------------------------------------- starts, records, passages


def test_starts():
    kw = dict(mu=0.0, eta=0.01, steps=10, paths=3, record_every=10)
    t = dx.simulate(PROB4, start="e3", **kw)
    np.testing.assert_array_equal(t.h[:, 0], np.tile(np.eye(4)[2], (3, 1)))
    v = np.array([0.5, 2.0, 0.0, 1.0])
    t = dx.simulate(PROB4, start=v, **kw)
    np.testing.assert_array_equal(t.h[:, 0], np.tile(v, (3, 1)))  # not normalised
    np.testing.assert_allclose(t.norm2[:, 0], v @ v)
    t = dx.simulate(PROB4, start="random", **kw)
    np.testing.assert_allclose(np.sum(t.h[:, 0] ** 2, axis=1), 1.0, rtol=1e-14)
    assert len({tuple(r) for r in t.h[:, 0]}) == 3
    a = np.arange(12.0).reshape(3, 4) + 1
    t = dx.simulate(PROB4, start=a, **kw)
    np.testing.assert_array_equal(t.h[:, 0], a)


def test_records_and_times():
    t = dx.simulate(PROB4, mu=0.5, eta=0.002, steps=1000, paths=4, record_every=250)
    np.testing.assert_array_equal(t.steps_at, [0, 250, 500, 750, 1000])
    np.testing.assert_allclose(t.times, t.steps_at * 0.002)
    assert t.error.shape == t.norm2.shape == (4, 5) and t.h.shape == (4, 5, 4)
    np.testing.assert_allclose(t.error, 1 - t.h[..., 0] ** 2 / t.norm2, atol=1e-15)
    np.testing.assert_allclose(t.norm2, np.sum(t.h**2, axis=2), rtol=1e-14)
    assert dx.simulate(PROB4, mu=0.5, eta=0.002, steps=100, paths=2, record_h=False).h is None


def test_passages_match_records():
    pas = [(0, 0.5, 1), (1, 0.2, -1), (0, 0.999999, 1)]
    t = dx.simulate(PROB4, mu=0.5, eta=0.02, steps=3000, paths=4, record_every=1, passages=pas, seed=9)
    r = t.h**2 / t.norm2[..., None]
    for i, (c, lv, s) in enumerate(pas):
        hit = r[..., c] >= lv if s > 0 else r[..., c] <= lv
        expect = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
        np.testing.assert_array_equal(t.passage[:, i], expect)
    assert np.all(t.passage[:, 0] > 0) and np.all(t.passage[:, 1] > 0)


def test_divergence_is_flagged_and_frozen():
    t = dx.simulate(PROB4, mu=0.95, eta=0.8, steps=2000, paths=6, delay="const:20", record_every=100, bound=1e3, seed=4)
    assert t.diverged.all()
    assert np.all(t.diverged_step > 0)
    assert np.all(np.isfinite(t.h)) and np.all(t.norm2 <= 1e6)
    last = (t.diverged_step - 1) // 100  # the last record before divergence ...
    for p in range(6):
        np.testing.assert_array_equal(t.h[p, last[p] + 1 :], np.broadcast_to(t.h[p, -1], t.h[p, last[p] + 1 :].shape))
    s = t.summary()
    assert s["diverged"] == 6 and s["error"]["mean"][0] is None
    assert not t.finite.any() and not t.finite().any()


def test_summary_schema():
    t = dx.simulate(PROB4, mu=0.5, eta=0.01, steps=200, paths=5, record_every=100, delay="uniform:0,3")
    s = t.summary()
    assert list(s) == ["schema", "parameters", "times", "error", "h2_mean", "norm2_mean", "diverged", "timing"]
    assert s["schema"] == "diffapprox.simulate/1"
    assert set(s["error"]) == {"mean", "q10", "q50", "q90"}
    assert np.array(s["h2_mean"]).shape == (3, 4)
    assert s["parameters"]["delay"]["spec"] == "uniform:0,3"
    assert set(s["timing"]) == {"compile_s", "run_s", "path_steps_per_s"}
    import json

    json.dumps(s, allow_nan=False)


@pytest.mark.parametrize(
    "kw",
    [
        dict(mu=1.0),
        dict(mu=-0.1),
        dict(mu=float("nan")),
        dict(eta=0.0),
        dict(eta=float("inf")),
        dict(steps=0),
        dict(paths=0),
        dict(batch=0),
        dict(record_every=0),
        dict(steps=120),
        dict(delay="const:-1"),
        dict(delay="poisson:3"),
        dict(start="e9"),
        dict(start=[1.0, 2.0]),
        dict(start=[0.0, 0.0, 0.0, 0.0]),
        dict(start=[np.nan, 1.0, 0.0, 0.0]),
        dict(seed=-1),
        dict(threads=0),
        dict(bound=0.0),
        dict(passages=[(4, 0.5, 1)]),
        dict(passages=[(0, 1.5, 1)]),
        dict(passages=[(0, 0.5, 0)]),
    ],
)
def test_bad_input_raises(kw):
    base = dict(mu=0.5, eta=0.01, steps=100, paths=2, record_every=50)
    base.update(kw)
    with pytest.raises(dx.DiffapproxError) as e:
        dx.simulate(PROB4, **base)
    assert "\n" not in str(e.value)


# ----------------------------------------------------------------------------- stationary variance (eq. 3.3)

#: Relative band around alpha_i1^2 / (2 (1 - mu)(lambda1 - lambda_i)), stated before the test was first run.
STAT_BAND = 0.10
STAT_K_SE = 5.0  # the whole +-5 SE interval of the estimate must lie inside the band


@pytest.mark.parametrize("mu", [0.0, 0.5])
@pytest.mark.parametrize("tau", [0, 5])
def test_stationary_variance_near_optimum(mu, tau):
    """Paper eq. (3.3): near e1, h_i / sqrt(eta) is OU with variance alpha_i1^2 / (2 (1-mu)(lambda1-lambda_i)).

    Gaussian data, eta = 2e-3, t = k eta in [10, 80] after starting at e1 (a burn-in of
    10 time units, >= 5 relaxation times), 300 paths; the estimate is the mean over
    paths of each path's time average of (h_i^2 / ||h||^2) / eta.
    """
    prob = dx.engine.StreamingPCA(spectrum=[1.0, 0.5, 0.25])
    eta = 2e-3
    t = dx.simulate(
        prob,
        mu=mu,
        eta=eta,
        steps=40_000,
        paths=300,
        delay=f"const:{tau}",
        start="e1",
        record_every=50,
        seed=SEED + tau + int(10 * mu),
    )
    assert not t.diverged.any()
    keep = t.times >= 10.0
    per_path = (t.h[:, keep, 1:] ** 2 / t.norm2[:, keep, None]).mean(axis=1) / eta
    est = per_path.mean(axis=0)
    se = per_path.std(axis=0, ddof=1) / np.sqrt(per_path.shape[0])
    lam = prob.eigenvalues
    pred = prob.alpha[1:, 0] ** 2 / (2 * (1 - mu) * (lam[0] - lam[1:]))
    lo, hi = (est - STAT_K_SE * se) / pred, (est + STAT_K_SE * se) / pred
    assert np.all(lo > 1 - STAT_BAND) and np.all(hi < 1 + STAT_BAND), (est / pred, se / pred)
