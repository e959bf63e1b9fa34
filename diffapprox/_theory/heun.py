"""The stochastic Heun scheme of :func:`~diffapprox.limits.sme_paths` (numba, every path in prange).

Its own module, imported on first use: the kernel is compiled to an explicit signature when the
module loads (several seconds without numba's on-disk cache), so ``import diffapprox`` does not pay it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, types

from .._engine import rng as _rng
from .._engine.protocol import DRIFT_SIGNATURE, HESSIAN_SIGNATURE, stream_normal

__all__ = ["heun_paths", "no_hessian"]

_DRIFT = types.FunctionType(DRIFT_SIGNATURE)
_HESS = types.FunctionType(HESSIAN_SIGNATURE)
_HEUN_SIG = types.void(
    _DRIFT, _HESS, types.float64[::1], types.float64[:, ::1], types.float64, types.float64,
    types.float64[:, ::1], types.float64, types.int64, types.int64, types.uint64, types.int64, types.int64,
    types.float64, types.float64, types.boolean, types.float64[:, :, ::1], types.int64[::1],
)  # fmt: skip


@njit(cache=True, fastmath=False, inline="always")
def _drift(mean_grad, hessian, par, x, scale, corr, g, hm, out):
    """``out = -scale (g + corr H g)``, ``g = grad f(x)``, ``H`` the Hessian (only when corr != 0)."""
    d = x.shape[0]
    mean_grad(x, par, g)
    if corr != 0.0:
        hessian(x, par, hm)
    for i in range(d):
        a = g[i]
        if corr != 0.0:
            for j in range(d):
                a += corr * hm[i, j] * g[j]
        out[i] = -scale * a


@njit(cache=True, fastmath=False)
def _heun_path(mean_grad, hessian, par, x0, p, scale, corr, diff, dt, steps, sub, seed, rec_every,
               pcoord, plevel, pdir, stop, rec_x, pass_step):  # fmt: skip
    d = x0.shape[1]
    m = diff.shape[1]
    st = np.empty((_rng.N_STREAMS, 4), dtype=np.uint64)
    _rng.seed_streams(seed, np.uint64(p), st)
    s = st[_rng.STREAM_DATA]
    x = x0[p].copy()
    y = np.empty(d)
    g = np.empty(d)
    hm = np.empty((d, d))
    b0 = np.empty(d)
    nz = np.empty(d)
    dw = np.empty(m)
    sq = math.sqrt(dt / sub)
    keep = rec_x.shape[1] > 0
    if keep:
        rec_x[p, 0, :] = x
    ri = 0
    rc = 0
    for k in range(steps):
        for i in range(m):
            dw[i] = 0.0
        for _q in range(sub):  # the fine increments of this step, in the fine run's order: halving shares them
            for i in range(m):
                dw[i] += stream_normal(s)
        _drift(mean_grad, hessian, par, x, scale, corr, g, hm, b0)
        for i in range(d):
            a = 0.0
            for j in range(m):
                a += diff[i, j] * dw[j]
            nz[i] = sq * a
            y[i] = x[i] + b0[i] * dt + nz[i]
        _drift(mean_grad, hessian, par, y, scale, corr, g, hm, y)
        for i in range(d):
            x[i] = x[i] + 0.5 * (b0[i] + y[i]) * dt + nz[i]
        rc += 1
        if keep and rc == rec_every:
            rc = 0
            ri += 1
            rec_x[p, ri, :] = x
        if pcoord >= 0 and pass_step[p] < 0 and pdir * (x[pcoord] - plevel) >= 0.0:
            pass_step[p] = k + 1
            if stop:
                break
    for r in range(ri + 1, rec_x.shape[1]):
        rec_x[p, r, :] = x


@njit(_HEUN_SIG, cache=True, parallel=True)
def heun_paths(mean_grad, hessian, par, x0, scale, corr, diff, dt, steps, sub, seed, rec_every,
                pcoord, plevel, pdir, stop, rec_x, pass_step):  # fmt: skip
    """Stochastic Heun for ``dX = b(X) dt + diff dB`` (additive noise: weak order 2), every path in prange.

    Each step draws ``sub`` fine Gaussian increments per noise coordinate from the path's stream and
    sums them: the run at ``dt`` with ``sub = 2`` uses the Brownian path of the run at ``dt/2`` with
    ``sub = 1`` (the step-halving check).
    """
    for p in prange(x0.shape[0]):
        _heun_path(mean_grad, hessian, par, x0, p, scale, corr, diff, dt, steps, sub, seed, rec_every,
                   pcoord, plevel, pdir, stop, rec_x, pass_step)  # fmt: skip


def no_hessian():
    """A function compiled to the Hessian's signature, passed when the scheme needs none (never called)."""
    from .._engine.problems import _linear_hessian

    _linear_hessian.compile(HESSIAN_SIGNATURE)
    return _linear_hessian
