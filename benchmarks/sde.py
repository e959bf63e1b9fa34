"""Throughput of exact OU sampling vs sdeint.

A 4-dim OU process (eq. 3.3 for Sigma = diag(5, 4, 3, 2, 1), mu = 0.8, Gaussian data),
T = 10, dt = 1e-3 (10^4 steps), 1000 paths, by exact transition sampling
(``OULimit.sample``, run in chunks of 100 paths to bound memory), and by sdeint's
``itoEuler`` and ``itoSRI2`` (one path at a time in pure Python: a few paths are
timed and the rate scaled).  Prints path-steps/s and the ratios; asserts nothing
about time.  Usage: ``python benchmarks/sde.py [--sdeint-paths N]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import diffapprox as da

T, DT, PATHS, CHUNK = 10.0, 1e-3, 1000, 100


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sdeint-paths", type=int, default=3, help="paths timed per sdeint method (default 3)")
    args = ap.parse_args()

    ou = da.limits.ou_optimum(da.engine.StreamingPCA(spectrum=(5, 4, 3, 2, 1)), 0.8)
    n = int(round(T / DT))
    grid = np.arange(n + 1) * DT  # includes t = 0, as sdeint's tspan does
    rng = np.random.default_rng(12345)

    ou.sample(grid[:100], 10, rng)  # warm-up (imports, first-touch)
    t0 = time.perf_counter()
    for _ in range(PATHS // CHUNK):
        x = ou.sample(grid, CHUNK, rng)
    exact_s = time.perf_counter() - t0
    exact_rate = PATHS * n / exact_s
    print(f"OU dimension {ou.dim}, T = {T:g}, dt = {DT:g} ({n} steps), {PATHS} paths")
    print(f"exact sampling : {exact_s:8.3f} s for {PATHS} paths   {exact_rate:12.4g} path-steps/s")
    del x

    for method in ("itoEuler", "itoSRI2"):
        ou.sample_sdeint(grid[:50], 1, rng, method=method)  # warm-up
        t0 = time.perf_counter()
        ou.sample_sdeint(grid, args.sdeint_paths, rng, method=method)
        el = time.perf_counter() - t0
        rate = args.sdeint_paths * n / el
        print(
            f"sdeint {method:9s}: {el:8.3f} s for {args.sdeint_paths} paths "
            f"({el / (args.sdeint_paths * n) * 1e6:.2f} us/step; {PATHS} paths would take {PATHS * n / rate:.0f} s)"
            f"   {rate:12.4g} path-steps/s   exact/sdeint = {exact_rate / rate:.0f}x"
        )


if __name__ == "__main__":
    main()
