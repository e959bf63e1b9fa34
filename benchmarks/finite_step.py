"""Speed of the finite-step second-moment solvers (diffapprox.linear_variance_grid, linear_prediction,
finite_step_prediction), against the targets: a grid of 5 momenta x 30 constant delays (up to 150) x all
modes in under a second; random delays in seconds.

Problem: Sigma = diag(4, 3, 2, 1), Gaussian data, eta = 5e-4.  Times (best of ``--repeat`` after a warm-up
call) for (a) the constant-delay grid, every (YW) system solved (the grid masks the unstable ones after
solving: the radial mode is in the same batch); (b) the linear and finite-step models for one uniform,
geometric (cap about 840 for mean 40) and worker-queue law each.  Prints seconds; asserts nothing about
time.  Usage: ``python benchmarks/finite_step.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import diffapprox as da

MUS = (0.0, 0.5, 0.7, 0.8, 0.9)
TAUS = np.linspace(0, 150, 30).round().astype(int)
ETA = 5e-4
LAWS = ("uniform:0,80", "geometric:40", "workers:41")


def best(fn, repeat: int) -> float:
    fn()  # warm-up
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions, best shown (default 3)")
    args = ap.parse_args()
    prob = da.engine.StreamingPCA(spectrum=(4, 3, 2, 1), data="gaussian")
    g = da.limits.linear_variance_grid(prob, mus=MUS, eta=ETA, taus=TAUS)
    s = best(lambda: da.limits.linear_variance_grid(prob, mus=MUS, eta=ETA, taus=TAUS), args.repeat)
    n = len(MUS) * len(TAUS) * prob.d
    print(f"constant-delay grid: {len(MUS)} mu x {len(TAUS)} delays (0..150) x {prob.d} modes (radial included)")
    print(
        f"  {s:8.3f} s for {n} systems of size up to {TAUS.max() + 2}   ({np.isfinite(g[:, :, 1]).sum()} stable points)"
    )
    for law in LAWS:
        cap = da.engine.delay_law(law).cap
        lin = best(lambda law=law: da.limits.linear_prediction(prob, mu=0.7, eta=ETA, delay=law), args.repeat)
        fin = best(lambda law=law: da.limits.finite_step_prediction(prob, mu=0.7, eta=ETA, delay=law), args.repeat)
        it = da.limits.finite_step_prediction(prob, mu=0.7, eta=ETA, delay=law).iterations
        print(f"{law:14s} (cap {cap:4d}), mu = 0.7: linear {lin:7.3f} s   finite-step {fin:7.3f} s ({it} iterations)")


if __name__ == "__main__":
    main()
