"""Throughput of the generic kernel (any problem's g(x, xi)) beside the streaming-PCA kernel it must not slow down.

Prints path-steps/s, median and best of ``--reps`` timed runs after a warm-up call, for:

* the generic kernel on the Li-Tai-E quadratic (d = 3, SGD, Gaussian and Rademacher noise, records off);
* SVAG(8) of heavy-ball on the same problem (two draws per step);
* the double well (d = 1, SGD, run to a passage that never happens);
* Async-MSGD on streaming PCA (d = 4, tau = 50) through ``simulate_algorithm`` (dispatched to the
  streaming-PCA kernel) and through ``simulate`` directly: the two figures should agree.

It asserts nothing about time: other work on the machine moves these numbers.

Usage::

    python benchmarks/generic.py [--reps N] [--threads T]
"""

from __future__ import annotations

import argparse
import statistics
import time

import diffapprox as da


def _rate(fn, work, reps):
    fn()  # warm-up: compile or cache load
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(work / (time.perf_counter() - t0))
    return statistics.median(out), max(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    P, K = 2000, 2000
    quad = {law: da.engine.li_tai_e_quadratic(3, law) for law in ("gaussian", "rademacher")}
    dw = da.engine.double_well(2.0)
    pca = da.engine.StreamingPCA(spectrum=[4, 3, 2, 1])
    pp = da.engine.pca_problem(pca)
    asy = da.async_msgd(5e-4, 0.9, "const:50")
    kw = {"paths": P, "threads": a.threads}
    q3 = {"x0": [1, 1, 1], "record": False, **kw}
    cases = {
        "generic, quadratic d=3, gaussian": lambda: da.simulate_algorithm(
            quad["gaussian"], da.sgd(1e-3), steps=K, **q3
        ),
        "generic, quadratic d=3, rademacher": lambda: da.simulate_algorithm(
            quad["rademacher"], da.sgd(1e-3), steps=K, **q3
        ),
        "generic, svag(8, heavy_ball), d=3": lambda: da.simulate_algorithm(
            quad["gaussian"], da.svag(da.heavy_ball(1e-3, 0.5), 8), steps=K // 8, **q3
        ),
        "generic, double well d=1": lambda: da.simulate_algorithm(
            dw, da.sgd(1e-3), steps=K, x0=[-1.0], record=False, passage=(0, 9.0, 1), **kw
        ),
        "streaming PCA via simulate_algorithm": lambda: da.simulate_algorithm(
            pp, asy, steps=K, x0=[0, 1, 0, 0], record_every=100, **kw
        ),
        "streaming PCA via simulate": lambda: da.simulate(
            pca, mu=0.9, eta=5e-4, delay="const:50", steps=K, start="e2", record_every=100, **kw
        ),
    }
    for name, fn in cases.items():
        med, best = _rate(fn, P * K, a.reps)
        print(f"{name:40s} median {med / 1e6:8.1f} M path-steps/s   best {best / 1e6:8.1f}")


if __name__ == "__main__":
    main()
