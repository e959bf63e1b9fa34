"""Generic numba kernels: any problem's ``g(x, xi)`` under SGD, heavy-ball, Async-MSGD and SVAG(l).

Private: arrays, scalars and two first-class functions in (the problem's ``grad`` and ``noise``,
typed by :data:`~diffapprox._engine.protocol.GRAD_SIGNATURE` and ``NOISE_SIGNATURE``), preallocated
arrays out, no checking (:func:`diffapprox.simulate_algorithm` validates).  Because the user's
functions are typed arguments rather than compile-time constants, one compiled kernel serves every
problem and is cached on disk.  One step of one path (see :mod:`diffapprox._engine.protocol`)::

    w       = x_{k - tau_k}                  (ring buffer of cap + 2 rows; x_{-i} = x_0)
    G       = g(w, xi)  or  c1 g(w, xi) + c2 g(w, xi')        (xi' only when c2 != 0: SVAG, l > 1)
    x_{k+1} = x_k + mu (x_k - x_{k-1}) - step * G

Streams of path p (global index ``path_offset + p``): ``seed_streams`` of
:mod:`diffapprox._engine.rng` fills four xoshiro256+ states; row 0 (``STREAM_DATA``) draws xi, row 1
(``STREAM_DELAY``) the delays (the streaming-PCA kernel's rows, so its delay draws are the same),
row 3 draws SVAG's xi'.  Results are bit-identical for any thread count and chunking.

The delay helpers are the streaming-PCA kernel's (:mod:`diffapprox._engine.kernel`), compiled into
this kernel: numba's on-disk cache is keyed on this file, so a change there needs a change here.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types

from . import rng as _rng
from .kernel import DELAY_GIVEN, _delay_constants, _draw_tau
from .laws import DELAY_CONST
from .protocol import GRAD_SIGNATURE, NOISE_SIGNATURE

__all__ = ["run_paths", "sample_noise", "STREAM_SVAG", "N_GENERIC_STREAMS"]

#: Stream row of SVAG's second draw xi' (rows 0-2 are those of the streaming-PCA kernel).
STREAM_SVAG = 3
N_GENERIC_STREAMS = 4

_GRAD = types.FunctionType(GRAD_SIGNATURE)
_NOISE = types.FunctionType(NOISE_SIGNATURE)
_F = types.float64
_I = types.int64
_V = types.float64[::1]

_RUN_SIG = types.void(
    _GRAD,  # grad
    _NOISE,  # noise
    _V,  # par
    _I,  # noise_dim
    types.float64[:, ::1],  # x0 (P, d)
    _F,  # step
    _F,  # mu
    _F,  # c1
    _F,  # c2
    _I,  # steps
    _I,  # rec_every
    types.uint64,  # seed
    _I,  # path_offset
    _I,  # dcode
    _V,  # dpar
    types.int64[::1],  # dtrace
    _I,  # cap
    types.int64[:, ::1],  # tgiven (P, steps) when dcode == DELAY_GIVEN
    _F,  # bound2
    _I,  # pcoord (< 0: no passage)
    _F,  # plevel
    _F,  # pdir (+1: rise to the level, -1: fall to it)
    types.boolean,  # stop at the passage
    types.float64[:, :, ::1],  # rec_x (P, n_rec, d)
    types.int64[::1],  # div_step (P,)
    types.int64[::1],  # pass_step (P,)
)


@njit(cache=True, fastmath=False, inline="always")
def _record(ring, row, rec_x, p, ri):
    for j in range(ring.shape[1]):
        rec_x[p, ri, j] = ring[row, j]


@njit(cache=True, fastmath=False)
def _passed(x, pcoord, plevel, pdir):
    """Whether ``x`` is at or beyond the passage level (``pdir (x_c - level) >= 0``)."""
    return pcoord >= 0 and pdir * (x[pcoord] - plevel) >= 0.0


@njit(cache=True, fastmath=False)
def _path(
    grad, noise, par, nd, x0, p, gp, step, mu, c1, c2, steps, rec_every, seed, dcode, dpar, dtrace, cap, tgiven,
    bound2, pcoord, plevel, pdir, stop, rec_x, pass_step,
):  # fmt: skip
    """Run path ``p`` (global index ``gp``); returns its divergence step or -1.

    A path whose ``||x||^2`` exceeds ``bound2`` (or is not finite) is frozen at its last state within
    the bound; a path stopped at its passage is frozen there; later records repeat the frozen state.
    """
    d = x0.shape[1]
    L = max(cap + 2, 3)
    st = np.empty((N_GENERIC_STREAMS, 4), dtype=np.uint64)
    _rng.seed_streams(seed, np.uint64(gp), st)
    sa = st[_rng.STREAM_DATA]
    sb = st[STREAM_SVAG]
    ring = np.empty((L, d))
    for t in range(L):
        for j in range(d):
            ring[t, j] = x0[p, j]
    w = np.empty(d)
    g = np.empty(d)
    g2 = np.empty(d)
    xi = np.empty(nd)
    xi2 = np.empty(nd)
    dT, dA, dW, ginv, cumw, last = _delay_constants(dcode, dpar, cap)
    keep = rec_x.shape[1] > 0
    if keep:
        _record(ring, 0, rec_x, p, 0)
    if _passed(ring[0], pcoord, plevel, pdir):
        pass_step[p] = 0
        if stop:
            steps = 0
    two = c2 != 0.0
    cur = 0
    prv = L - 1
    rc = 0
    ri = 0
    div = -1
    for k in range(steps):
        if dcode == DELAY_CONST:
            tau = dT
        elif dcode == DELAY_GIVEN:
            tau = tgiven[p, k]
        else:
            tau = _draw_tau(k, dcode, dA, dW, ginv, cumw, last, dtrace, st)
        if tau > cap:
            tau = cap
        if tau > k:
            tau = k
        sw = cur - tau
        if sw < 0:
            sw += L
        nxt = cur + 1
        if nxt == L:
            nxt = 0
        for j in range(d):
            w[j] = ring[sw, j]
        noise(sa, par, xi)
        grad(w, xi, par, g)
        if two:
            noise(sb, par, xi2)
            grad(w, xi2, par, g2)
            for j in range(d):
                g[j] = c1 * g[j] + c2 * g2[j]
        n2 = 0.0
        for j in range(d):
            v = ring[cur, j]
            nv = v + mu * (v - ring[prv, j]) - step * g[j]
            ring[nxt, j] = nv
            n2 += nv * nv
        if not n2 <= bound2:  # also catches NaN and inf
            div = k + 1
            break
        prv = cur
        cur = nxt
        rc += 1
        if rc == rec_every:
            rc = 0
            ri += 1
            if keep:
                _record(ring, cur, rec_x, p, ri)
        if pcoord >= 0 and pass_step[p] < 0 and pdir * (ring[cur, pcoord] - plevel) >= 0.0:
            pass_step[p] = k + 1
            if stop:
                break
    if keep:
        for r in range(ri + 1, rec_x.shape[1]):
            _record(ring, cur, rec_x, p, r)
    return div


@njit(_RUN_SIG, cache=True, parallel=True)
def run_paths(
    grad, noise, par, nd, x0, step, mu, c1, c2, steps, rec_every, seed, path_offset, dcode, dpar, dtrace, cap,
    tgiven, bound2, pcoord, plevel, pdir, stop, rec_x, div_step, pass_step,
):  # fmt: skip
    """Run every path (prange); outputs are written in place.

    Parameters
    ----------
    grad, noise : first-class numba functions
        The problem's ``g(x, xi)`` and sampler.
    par : (p,) float64
    nd : int
        Length of one draw xi.
    x0 : (P, d) float64
        Starts (``x_{-i} = x_0``).
    step, mu : float
        ``eta / l`` and the momentum.
    c1, c2 : float
        SVAG coefficients; ``c2 == 0`` draws one xi per step (the plain algorithm).
    steps, rec_every : int
        Steps of the run; records at steps 0, rec_every, ... (``rec_x.shape[1]`` records, 0 for none).
    seed : uint64;  path_offset : int
    dcode, dpar, dtrace, cap
        Delay law (:mod:`diffapprox._engine.laws`); ``DELAY_GIVEN`` reads ``tgiven`` (P, steps).
    bound2 : float
        Divergence threshold on ``||x||^2``.
    pcoord, plevel, pdir, stop
        Passage watched every step: the first ``k`` with ``pdir (x_k[pcoord] - plevel) >= 0``
        goes to ``pass_step`` (-1: never); ``stop`` ends the path there.
    rec_x : (P, n_rec, d);  div_step, pass_step : (P,) int64, preset to -1
    """
    P = x0.shape[0]
    for p in prange(P):
        div_step[p] = _path(
            grad, noise, par, nd, x0, p, path_offset + p, step, mu, c1, c2, steps, rec_every, seed, dcode, dpar,
            dtrace, cap, tgiven, bound2, pcoord, plevel, pdir, stop, rec_x, pass_step,
        )  # fmt: skip


@njit(
    types.float64[:, ::1](_NOISE, _V, _I, types.uint64, types.uint64, _I, _I),
    cache=True,
)
def sample_noise(noise, par, nd, seed, path, n, stream):
    """The first ``n`` draws (n, nd) that path ``path`` makes from stream row ``stream`` (for naive twins)."""
    st = np.empty((N_GENERIC_STREAMS, 4), dtype=np.uint64)
    _rng.seed_streams(seed, path, st)
    s = st[stream]
    out = np.empty((n, nd))
    xi = np.empty(nd)
    for i in range(n):
        noise(s, par, xi)
        for j in range(nd):
            out[i, j] = xi[j]
    return out
