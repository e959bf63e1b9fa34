"""Numba kernels of Async-MSGD for streaming PCA (paper eq. 2.1), batched over paths.

Private: arrays and scalars in, preallocated arrays out, no checking (the public
wrapper :func:`diffapprox.simulate` validates).  One step of one path, in the
eigenbasis (DESIGN.md §3)::

    w       = h_{k - tau_k}                       (h_{-i} = h_0, so h_{-1} = h_0)
    Y_b     = sqrt(lambda) * Z_b,  b = 1..B        (Z_b standardised draws of the data law)
    s_b     = Y_b . w
    g       = (1/B) sum_b [s_b Y_b - (w . (s_b Y_b)) w] = (1/B) sum_b s_b Y_b - ((1/B) sum_b s_b^2) w
    h_{k+1} = h_k + mu (h_k - h_{k-1}) + eta g

``w . (Y s) = s (w . Y) = s^2`` exactly, for any ``w``, so one dot product per
sample suffices (the yardstick's trick).  Iterates live in a ring buffer of
``L = max(cap + 1, 2)`` slots: ``h_j`` is in slot ``j mod L``; the new iterate
overwrites the slot of ``h_{k+1-L}``, which is read (as ``w`` or ``h_{k-1}``) in
the same element-wise pass before it is written, so ``h_k`` always survives a
step: that is the state a diverged path is frozen at.

Floating point: no fast-math; every sum has a fixed order (8 accumulators for
long vectors), so results are bit-identical for any thread count and chunking.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import _rng
from ._rng import N_STREAMS, STREAM_DATA, STREAM_DELAY, STREAM_START

__all__ = ["simulate_paths", "simulate_given", "DELAY_GIVEN", "block_length"]

#: Delay code of pre-drawn delays (the naive-twin entry point).
DELAY_GIVEN = 5
#: Target number of standardised draws per refill of a path's sample buffer.
BLOCK = 2048


def block_length(d: int, batch: int) -> int:
    """Length of a path's sample buffer: a multiple of ``d * batch`` close to :data:`BLOCK`."""
    unit = d * batch
    return unit * max(1, BLOCK // unit)


@njit(cache=True, inline="always")
def _dot3(a, b, ob, c, oc, d):
    """sum_j a[j] b[ob+j] c[oc+j], in a fixed order (8 accumulators when d >= 16)."""
    if d < 16:
        s = 0.0
        for j in range(d):
            s += a[j] * b[ob + j] * c[oc + j]
        return s
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    j = 0
    while j + 8 <= d:
        s0 += a[j] * b[ob + j] * c[oc + j]
        s1 += a[j + 1] * b[ob + j + 1] * c[oc + j + 1]
        s2 += a[j + 2] * b[ob + j + 2] * c[oc + j + 2]
        s3 += a[j + 3] * b[ob + j + 3] * c[oc + j + 3]
        s4 += a[j + 4] * b[ob + j + 4] * c[oc + j + 4]
        s5 += a[j + 5] * b[ob + j + 5] * c[oc + j + 5]
        s6 += a[j + 6] * b[ob + j + 6] * c[oc + j + 6]
        s7 += a[j + 7] * b[ob + j + 7] * c[oc + j + 7]
        j += 8
    t = 0.0
    while j < d:
        t += a[j] * b[ob + j] * c[oc + j]
        j += 1
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)) + t


@njit(cache=True, inline="always")
def _update(ring, oc, op, ow, on, sl, zb, oz, es, ec, mu, d):
    """ring[on+j] = h_k + mu (h_k - h_{k-1}) + (es sl_j z_j - ec w_j); returns ||h_{k+1}||^2.

    ``zb[oz:]`` holds standardised draws (``sl = sqrt(lambda)``) or, with B > 1,
    the accumulated ``sum_b s_b Y_b`` (``sl`` = ones).
    """
    if d < 16:
        n2 = 0.0
        for j in range(d):
            v = ring[oc + j]
            nv = v + mu * (v - ring[op + j]) + (es * (sl[j] * zb[oz + j]) - ec * ring[ow + j])
            ring[on + j] = nv
            n2 += nv * nv
        return n2
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    j = 0
    while j + 8 <= d:
        for u in range(8):
            jj = j + u
            v = ring[oc + jj]
            nv = v + mu * (v - ring[op + jj]) + (es * (sl[jj] * zb[oz + jj]) - ec * ring[ow + jj])
            ring[on + jj] = nv
            if u == 0:
                a0 += nv * nv
            elif u == 1:
                a1 += nv * nv
            elif u == 2:
                a2 += nv * nv
            elif u == 3:
                a3 += nv * nv
            elif u == 4:
                a4 += nv * nv
            elif u == 5:
                a5 += nv * nv
            elif u == 6:
                a6 += nv * nv
            else:
                a7 += nv * nv
        j += 8
    t = 0.0
    while j < d:
        v = ring[oc + j]
        nv = v + mu * (v - ring[op + j]) + (es * (sl[j] * zb[oz + j]) - ec * ring[ow + j])
        ring[on + j] = nv
        t += nv * nv
        j += 1
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + t


@njit(cache=True, inline="always")
def _refill(law, st, buf, n, d):
    """Fill ``buf[:n]`` with standardised draws Z (E Z_j^2 = 1) of the data law."""
    if law == 0:  # gaussian
        _rng.fill_normals(st, STREAM_DATA, buf, 0, n)
    elif law == 1:  # rademacher
        _rng.fill_signs(st, STREAM_DATA, buf, 0, n)
    elif law == 2:  # sphere: sqrt(d) r, r uniform on the unit sphere
        _rng.fill_normals(st, STREAM_DATA, buf, 0, n)
        rd = math.sqrt(d)
        for o in range(0, n, d):
            q = 0.0
            for j in range(d):
                q += buf[o + j] * buf[o + j]
            f = rd / math.sqrt(q)
            for j in range(d):
                buf[o + j] *= f
    else:  # cube: sqrt(3) U, U uniform on [-1, 1)
        _rng.fill_uniform_pm1(st, STREAM_DATA, buf, 0, n, math.sqrt(3.0))


@njit(cache=True, inline="always")
def _record(ring, oc, n2, d, ri, rec_err, rec_n2, rec_h, p, keep_h):
    rec_err[p, ri] = 1.0 - ring[oc] * ring[oc] / n2
    rec_n2[p, ri] = n2
    if keep_h:
        for j in range(d):
            rec_h[p, ri, j] = ring[oc + j]


@njit(cache=True, inline="always")
def _passages(ring, oc, n2, k, pc, pl, ps, pout, p):
    """Mark the passages first reached at step k; returns how many are still open."""
    left = 0
    for i in range(pc.shape[0]):
        if pout[p, i] < 0:
            x = ring[oc + pc[i]]
            r = x * x / n2
            if (ps[i] > 0 and r >= pl[i]) or (ps[i] < 0 and r <= pl[i]):
                pout[p, i] = k
            else:
                left += 1
    return left


@njit(cache=True)
def _run_path(p, gp, sl, law, mu, eta, steps, batch, rec_every, h0, random_start, seed,
              dcode, dpar, dtrace, cap, bound2, pc, pl, ps, rec_err, rec_n2, rec_h, keep_h,
              pout, ygiven, tgiven):
    """Simulate path ``p`` (global index ``gp``); returns the divergence step or -1."""
    d = sl.shape[0]
    L = max(cap + 1, 2)
    st = np.empty((N_STREAMS, 4), dtype=np.uint64)
    _rng.seed_streams(seed, np.uint64(gp), st)

    # ---- start: h_{-i} = h_0 in every slot
    ring = np.empty(L * d)
    if random_start:
        _rng.fill_normals(st, STREAM_START, ring, 0, d)
        q = 0.0
        for j in range(d):
            q += ring[j] * ring[j]
        f = 1.0 / math.sqrt(q)
        for j in range(d):
            ring[j] *= f
    else:
        for j in range(d):
            ring[j] = h0[p, j]
    for t in range(1, L):
        for j in range(d):
            ring[t * d + j] = ring[j]

    # ---- sample source: a refilled block, or the path's pre-drawn samples
    unit = d * batch
    if dcode == DELAY_GIVEN:
        buf = ygiven[p]
        nbuf = buf.shape[0]
        pos = 0
    else:
        nbuf = unit * max(1, BLOCK // unit)
        buf = np.empty(nbuf)
        pos = nbuf
    ones = np.ones(d)
    gy = np.zeros(d if batch > 1 else 0)

    # ---- delay law constants
    dT = 0
    dA = 0
    dW = 1.0
    ginv = 0.0
    nw = dpar.shape[0] if dcode == 3 else 1
    cumw = np.zeros(nw)
    last = np.full(nw, -1, dtype=np.int64)
    if dcode == 0:
        dT = min(np.int64(dpar[0]), cap)
    elif dcode == 1:
        dA = np.int64(dpar[0])
        dW = dpar[1] - dpar[0] + 1.0
    elif dcode == 2:
        ginv = 1.0 / math.log1p(-dpar[0])
    elif dcode == 3:
        tot = 0.0
        for m in range(nw):
            tot += dpar[m]
        acc = 0.0
        for m in range(nw):
            acc += dpar[m]
            cumw[m] = acc / tot
        cumw[nw - 1] = 1.0
    ntr = dtrace.shape[0]

    # ---- step 0: record, passages
    cur = 0
    prv = L - 1
    n2c = 0.0
    for j in range(d):
        n2c += ring[j] * ring[j]
    if d >= 16:
        n2c = _dot3(ones, ring, 0, ring, 0, d)
    _record(ring, 0, n2c, d, 0, rec_err, rec_n2, rec_h, p, keep_h)
    npass = pc.shape[0]
    if npass > 0:
        npass = _passages(ring, 0, n2c, 0, pc, pl, ps, pout, p)
    inv_b = 1.0 / batch
    rc = 0
    ri = 0
    div_step = -1
    for k in range(steps):
        # ---- delay tau_k, clipped at the cap and at k (h_{-i} = h_0)
        if dcode == 0:
            tau = dT
        elif dcode == 1:
            tau = dA + np.int64(_rng.next_uniform(st, STREAM_DELAY) * dW)
        elif dcode == 2:
            tau = np.int64(math.log1p(-_rng.next_uniform(st, STREAM_DELAY)) * ginv)
        elif dcode == 3:
            u = _rng.next_uniform(st, STREAM_DELAY)
            m = 0
            while m < nw - 1 and u >= cumw[m]:
                m += 1
            tau = k - (last[m] + 1)
            last[m] = k
        elif dcode == 4:
            tau = dtrace[k % ntr]
        else:
            tau = tgiven[p, k]
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
        # ---- samples
        if pos == nbuf:
            _refill(law, st, buf, nbuf, d)
            pos = 0
        oz = pos
        pos += unit
        # ---- the step (2.1)
        if batch == 1:
            s = _dot3(sl, buf, oz, ring, sw * d, d)
            es = eta * s
            n2 = _update(ring, cur * d, prv * d, sw * d, nxt * d, sl, buf, oz, es, es * s, mu, d)
        else:
            c = 0.0
            for j in range(d):
                gy[j] = 0.0
            for b in range(batch):
                ob = oz + b * d
                s = _dot3(sl, buf, ob, ring, sw * d, d)
                c += s * s
                for j in range(d):
                    gy[j] += s * (sl[j] * buf[ob + j])
            n2 = _update(ring, cur * d, prv * d, sw * d, nxt * d, ones, gy, 0, eta * inv_b,
                         eta * (c * inv_b), mu, d)
        if not n2 <= bound2:  # also catches NaN and inf
            div_step = k + 1
            break
        prv = cur
        cur = nxt
        n2c = n2
        if npass > 0:
            npass = _passages(ring, cur * d, n2c, k + 1, pc, pl, ps, pout, p)
        rc += 1
        if rc == rec_every:
            rc = 0
            ri += 1
            _record(ring, cur * d, n2c, d, ri, rec_err, rec_n2, rec_h, p, keep_h)
    # ---- a diverged path stays frozen at its last state within the bound
    for r in range(ri + 1, rec_err.shape[1]):
        _record(ring, cur * d, n2c, d, r, rec_err, rec_n2, rec_h, p, keep_h)
    return div_step


@njit(cache=True, parallel=True)
def simulate_paths(sl, law, mu, eta, steps, batch, rec_every, h0, random_start, seed, path_offset,
                   dcode, dpar, dtrace, cap, bound2, pc, pl, ps, rec_err, rec_n2, rec_h, keep_h,
                   div_step, pout, ygiven, tgiven):
    """Run all paths (prange); outputs are written in place.

    Parameters
    ----------
    sl : (d,) float64
        sqrt(lambda).
    law : int
        Data law code (gaussian 0, rademacher 1, sphere 2, cube 3).
    h0 : (P, d) float64
        Starts (ignored when ``random_start``).
    seed : uint64
    path_offset : int64
        Global index of row 0 (path ``p`` uses the stream of ``path_offset + p``).
    dcode, dpar, dtrace, cap
        Delay law (see ``diffapprox._laws``); ``DELAY_GIVEN`` reads ``tgiven``.
    bound2 : float
        Divergence threshold on ||h||^2.
    pc, pl, ps : (n_pass,) int64, float64, int64
        Passages: coordinate, level, direction.
    rec_err, rec_n2 : (P, n_rec) float64;  rec_h : (P, n_rec, d) or (P, n_rec, 0)
    div_step : (P,) int64;  pout : (P, n_pass) int64, preset to -1
    ygiven : (P, steps*batch*d) float64 or (0, 0);  tgiven : (P, steps) int64 or (0, 0)
        Pre-drawn samples Y (not standardised) and delays, used when ``dcode == DELAY_GIVEN``.
    """
    P = h0.shape[0]
    for p in prange(P):
        div_step[p] = _run_path(p, path_offset + p, sl, law, mu, eta, steps, batch, rec_every, h0,
                                random_start, seed, dcode, dpar, dtrace, cap, bound2, pc, pl, ps,
                                rec_err, rec_n2, rec_h, keep_h, pout, ygiven, tgiven)


def simulate_given(Y: np.ndarray, taus: np.ndarray, h0: np.ndarray, *, mu: float, eta: float,
                   rec_every: int = 1, bound: float = 1e6, cap: int | None = None,
                   passages=()) -> dict:
    """Private entry for the naive twin: the kernel fed pre-drawn samples and delays.

    Parameters
    ----------
    Y : (P, steps, B, d) float64
        The samples ``Y_k`` (in the eigenbasis, not standardised).
    taus : (P, steps) int
        The delays ``tau_k`` (clipped at ``cap``, default their maximum, and at ``k``).
    h0 : (P, d) float64

    Returns
    -------
    dict with ``error``, ``norm2``, ``h`` (P, n_rec[, d]), ``diverged_step`` (P,), ``passage``.
    """
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    P, steps, B, d = Y.shape
    taus = np.ascontiguousarray(taus, dtype=np.int64)
    cap = int(taus.max()) if cap is None else int(cap)
    n_rec = steps // rec_every + 1
    pc = np.array([int(c) for c, _, _ in passages], dtype=np.int64)
    pl = np.array([float(lv) for _, lv, _ in passages], dtype=np.float64)
    ps = np.array([int(s) for _, _, s in passages], dtype=np.int64)
    out = dict(
        error=np.zeros((P, n_rec)), norm2=np.zeros((P, n_rec)), h=np.zeros((P, n_rec, d)),
        diverged_step=np.full(P, -1, dtype=np.int64), passage=np.full((P, pc.size), -1, dtype=np.int64),
    )
    simulate_paths(np.ones(d), 0, float(mu), float(eta), steps, B, rec_every,
                   np.ascontiguousarray(h0, dtype=np.float64), False, np.uint64(0), 0, DELAY_GIVEN,
                   np.zeros(1), np.zeros(1, dtype=np.int64), cap, float(bound) ** 2, pc, pl, ps,
                   out["error"], out["norm2"], out["h"], True, out["diverged_step"], out["passage"],
                   Y.reshape(P, steps * B * d), taus)
    return out
