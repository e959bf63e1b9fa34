"""The speed probe's kernel (see :func:`diffapprox._run.costs.speed_probe`); imported on first use only."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, fastmath=False)
def probe_kernel(n, ring):
    """``n`` steps of what a simulation step does: a xorshift64 draw, a read and a write of a ring of
    past iterates, multiply-adds (single-threaded, no allocation).  Returns a sum so nothing is
    optimised away."""
    s = np.uint64(0x9E3779B97F4A7C15)
    m = ring.size
    acc = 0.0
    for i in range(n):
        s ^= s << np.uint64(13)
        s ^= s >> np.uint64(7)
        s ^= s << np.uint64(17)
        u = (s >> np.uint64(11)) * (1.0 / 9007199254740992.0)
        j = i % m
        x = ring[j] + 0.5 * (ring[(j + m - 3) % m] - ring[j]) + 0.01 * (u - 0.5)
        ring[j] = x
        acc += x * u
    return acc
