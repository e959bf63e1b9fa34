"""The live parameter server: exact replay of a run from its trace, invariants, the CLI.

A live run's interleaving is not reproducible, but everything else is: data and compute times
are seeded per (seed, worker, task), so the recorded trace and writer ids determine the run.
The replay below is a naive NumPy twin of the server loop.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _requires import require_module

require_module(
    "distributed", "the live parameter server needs the `distributed` extra (in dev): pip install -e '.[dev]'"
)

from diffapprox import DiffapproxError
from diffapprox.engine import StreamingPCA, delay_law
from diffapprox._experiments import live as _live
from diffapprox._experiments.live import live, staleness_pmf, worker_gradient

SPECTRUM = (4.0, 3.0, 2.0, 1.0)
MU, ETA = 0.5, 0.004


@pytest.fixture(scope="module")
def problem():
    return StreamingPCA(spectrum=SPECTRUM)


@pytest.fixture(scope="module", autouse=True)
def _cluster():
    yield
    _live._close_cluster()  # do not leave the cached cluster to atexit (after pytest's warning filters)


def _replay(problem, run, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Naive twin: rerun the server from the trace and writer ids; returns (error, norm2) records."""
    lam = problem.eigenvalues
    hist = [np.array([0.0, 1.0, 0.0, 0.0])]  # h_0 = e2
    h_prev = hist[0]
    tasks = np.zeros(run.workers, dtype=int)
    means = np.full(run.workers, run.compute_mean_s)
    means[0] *= run.slow_factor
    for k, (tau, w) in enumerate(zip(run.trace, run.writer)):
        read = hist[k - tau]
        rng = np.random.default_rng([seed, int(w), int(tasks[w])])
        rng.exponential(means[w]) if means[w] > 0 else None  # the compute time, drawn first
        y = problem.law.sample(lam, 1, rng)[0]
        s = y @ read
        g = s * y - s * s * read
        tasks[w] += 1
        h = hist[k]
        hist.append(h + MU * (h - h_prev) + ETA * g)
        h_prev = h
    H = np.array(hist)[:: run.record_every]
    n2 = (H * H).sum(axis=1)
    return 1.0 - H[:, 0] ** 2 / n2, n2


def test_worker_gradient_is_the_projected_hebbian_step(problem):
    h = np.array([0.6, 0.8, 0.0, 0.0])
    g, v, w, t = worker_gradient(h, 7, 2, 5, 11, problem.eigenvalues, "gaussian", 3, 0.0)
    assert (v, w, t) == (7, 2, 5)
    rng = np.random.default_rng([11, 2, 5])
    y = problem.law.sample(problem.eigenvalues, 3, rng)
    want = np.mean([(yb @ h) * yb - (yb @ h) ** 2 * h for yb in y], axis=0)
    np.testing.assert_allclose(g, want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("workers", [1, 4])
def test_live_run_is_replayed_exactly_from_its_trace(problem, workers):
    seed = 3
    run = live(problem, mu=MU, eta=ETA, workers=workers, steps=200, compute_mean_s=0.002, record_every=10, seed=seed)
    assert not run.diverged and run.trace.shape == run.writer.shape == (200,)
    err, n2 = _replay(problem, run, seed)
    np.testing.assert_allclose(run.error, err, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(run.norm2, n2, rtol=1e-12)
    # invariants of a real queue
    k = np.arange(run.trace.size)
    assert np.all(run.trace >= 0) and np.all(run.trace <= k)
    for w in range(workers):  # each worker's reads move forward in time
        reads = (k - run.trace)[run.writer == w]
        assert np.all(np.diff(reads) > 0)
    if workers == 1:
        assert not run.trace.any()
    else:
        assert set(np.unique(run.writer)) == set(range(workers))
        # Every update is seen by the M-1 other in-flight reads: mean staleness M-1 up to the edges.
        assert abs(run.trace.mean() - (workers - 1)) < 0.3


def test_slow_worker_writes_less(problem):
    run = live(
        problem, mu=MU, eta=ETA, workers=2, steps=120, compute_mean_s=0.004, slow_factor=6.0, record_every=10, seed=1
    )
    counts = np.bincount(run.writer, minlength=2)
    assert counts[0] < counts[1]  # worker 0's mean compute time is 6x longer
    assert run.delay_spec() == "workers:2@0.166667,1"


def test_staleness_pmf_matches_the_workers_law():
    for spec, m, rates in [("workers:4", 4, None), ("workers:3@1,1,0.25", 3, [1, 1, 0.25])]:
        pmf = staleness_pmf(m, rates)
        assert pmf.sum() == pytest.approx(1.0, abs=1e-10)
        assert (np.arange(pmf.size) * pmf).sum() == pytest.approx(m - 1, rel=1e-9)
        law = delay_law(spec)
        assert law.mean == pytest.approx(m - 1)
        n = 200_000
        tr = law.sample(n, np.random.default_rng(5))[1000:]
        emp = np.bincount(tr, minlength=pmf.size)[: pmf.size] / tr.size
        sd = np.sqrt(pmf * (1 - pmf) / tr.size)
        # the queue's trace is autocorrelated: allow 6 binomial sigmas
        assert np.all(np.abs(emp[:10] - pmf[:10]) < 6 * sd[:10] + 1e-4)


@pytest.mark.parametrize(
    "kw,param",
    [
        ({"mu": 1.0}, "mu"),
        ({"eta": 0.0}, "eta"),
        ({"workers": 0}, "workers"),
        ({"steps": 0}, "steps"),
        ({"record_every": 7}, "record_every"),
        ({"slow_factor": 0.5}, "slow_worker"),
        ({"start": "e9"}, "start"),
    ],
)
def test_bad_input_is_refused_before_running(problem, kw, param):
    args = {"mu": MU, "eta": ETA, "workers": 2, "steps": 20, "record_every": 10} | kw
    with pytest.raises(DiffapproxError, match=f"^{param}:"):
        live(problem, **args)


def test_cli_live_json(tmp_path, capsys):
    from diffapprox.cli import main

    out = tmp_path / "live.json"
    code = main(
        [
            "live",
            "--mu",
            "0.5",
            "--eta",
            "0.004",
            "--workers",
            "2",
            "--steps",
            "60",
            "--compute-ms",
            "1",
            "--record-every",
            "10",
            "--replay-paths",
            "8",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    d = json.loads(out.read_text())
    assert d["schema"] == "diffapprox.live/1"
    assert d["workers"] == 2 and len(d["trace"]) == 60 and len(d["records"]["error"]) == 7
    assert d["predicted_delay_law"] == "workers:2"
    assert len(d["replay"]["q50"]) == 7 and d["replay"]["paths"] == 8
    assert main(["live", "--mu", "0.5", "--eta", "0.004", "--workers", "0", "--steps", "10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "workers" in err[0]


def test_run_measures_its_latency(problem):
    """Each worker times its cycle outside the compute pause: the regime the run was in."""
    run = live(problem, mu=MU, eta=ETA, workers=2, steps=60, compute_mean_s=0.01, record_every=10, seed=2)
    # measured, not bounded: how long a round trip takes depends on the machine's load (benchmarks time it)
    assert 0.0 < run.overhead_s < float("inf")
    assert run.compute_ratio == pytest.approx(0.01 / run.overhead_s)
    s = run.summary()
    assert s["overhead_s"] == run.overhead_s and s["cluster"].startswith("LocalCluster threads")
    fast = live(problem, mu=MU, eta=ETA, workers=2, steps=60, compute_mean_s=0.0, record_every=10, seed=2)
    assert fast.compute_ratio == 0.0 and fast.overhead_s > 0.0
