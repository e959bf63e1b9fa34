"""Numba kernels of Async-MSGD for streaming PCA (paper eq. 2.1), batched over paths.

Private: arrays and scalars in, preallocated arrays out, no checking (the public
wrapper :func:`diffapprox.simulate` validates).  One step of one path, in the
eigenbasis (the update (2.1) is equivariant under Sigma = Q Lambda Q^T, so h = Q^T v)::

    w       = h_{k - tau_k}                       (h_{-i} = h_0, so h_{-1} = h_0)
    Y_b     = sqrt(lambda) * Z_b,  b = 1..B        (Z_b standardised draws of the data law)
    s_b     = Y_b . w
    g       = (1/B) sum_b [s_b Y_b - (w . (s_b Y_b)) w] = (1/B) sum_b s_b Y_b - ((1/B) sum_b s_b^2) w
    h_{k+1} = h_k + mu (h_k - h_{k-1}) + eta g

``w . (Y s) = s (w . Y) = s^2`` exactly, for any ``w``, so one dot product per
sample suffices.  Iterates live in a ring buffer of
``L = max(cap + 2, 3)`` rows: ``h_j`` is in row ``j mod L``, so the row written
by a step is never one it reads (``h_k``, ``h_{k-1}``, ``h_{k-tau}``, tau <= cap):
the long-vector loops vectorise, and ``h_k`` survives a step, which is the state
a diverged path is frozen at.  d = 4 with B = 1 (the paper's case) has its own loop,
:func:`_steps4`: the same floating-point operations in the same order, but ``h_k`` and
``h_{k-1}`` carried in registers, so the step-to-step dependency is one fused
multiply-add, and nothing called inside the loop.

Every helper states its fast-math flags.  numba compiles a helper that states none with the
flags of whichever caller reaches it first and caches that on disk, so results depended on
what a process compiled first (a ``sample_data`` call before any ``simulate`` changed the
sphere law's normalisation in the last bits, for good).  The flags stated are those the
helpers got in the usual order (``simulate`` first): ``contract`` for the helpers of the
step loops, none for the set-up and the ziggurat's slow path.

Floating point: d < 16 runs loops in a fixed order (with fused multiply-adds);
d >= 16 lets LLVM reassociate and fuse the sums (vectorised).  Either way the order is fixed by the
compiled code, so results are bit-identical for any thread count and chunking on a
given machine (not necessarily across CPUs with different vector widths).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# The rng helpers and the law codes are compiled into these kernels, and numba's on-disk cache
# is keyed on this file only: a change to rng.py (or to the codes in laws.py) needs a change to
# this file too, or warm caches keep the old code.
from . import rng as _rng
from .laws import (
    DATA_GAUSSIAN,
    DATA_RADEMACHER,
    DATA_SPHERE,
    DELAY_CONST,
    DELAY_GEOMETRIC,
    DELAY_UNIFORM,
    DELAY_WORKERS,
)
from .rng import N_STREAMS, STREAM_DATA, STREAM_DELAY, STREAM_START

__all__ = ["simulate_paths", "simulate_given", "DELAY_GIVEN", "block_length"]

_U = np.uint64  # an unsigned index skips numba's negative-index fix-up

#: Delay code of pre-drawn delays (the naive-twin entry point).
DELAY_GIVEN = 5
#: Target number of standardised draws per refill of a path's sample buffer.
BLOCK = 2048


def block_length(d: int, batch: int) -> int:
    """Length of a path's sample buffer: a multiple of ``d * batch`` close to :data:`BLOCK`."""
    unit = d * batch
    return unit * max(1, BLOCK // unit)


@njit(cache=True, fastmath={"contract"})
def _refill(law, st, buf, d):
    """Fill ``buf`` with standardised draws Z (E Z_j^2 = 1) of the data law, d at a time."""
    n = buf.shape[0]
    if law == DATA_GAUSSIAN:
        _rng.fill_normals(st, STREAM_DATA, buf, 0, n)
    elif law == DATA_RADEMACHER:
        _rng.fill_signs(st, STREAM_DATA, buf, 0, n)
    elif law == DATA_SPHERE:  # sqrt(d) r, r uniform on the unit sphere
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


@njit(cache=True, fastmath={"contract"})
def _record(ring, slot, n2, ri, rec_err, rec_n2, rec_h, p, keep_h):
    rec_err[p, ri] = 1.0 - ring[slot, 0] * ring[slot, 0] / n2
    rec_n2[p, ri] = n2
    if keep_h:
        for j in range(ring.shape[1]):
            rec_h[p, ri, j] = ring[slot, j]


@njit(cache=True, fastmath={"contract"})
def _passages(ring, slot, n2, k, pc, pl, ps, pout, p):
    """Mark the passages first reached at step k; returns how many are still open."""
    left = 0
    for i in range(pc.shape[0]):
        if pout[p, i] < 0:
            x = ring[slot, pc[i]]
            r = x * x / n2
            if (ps[i] > 0 and r >= pl[i]) or (ps[i] < 0 and r <= pl[i]):
                pout[p, i] = k
            else:
                left += 1
    return left


@njit(cache=True, fastmath={"contract"})
def _draw_tau(k, dcode, dA, dW, ginv, cumw, last, dtrace, st):
    """tau_k of the random delay laws (uniform, geometric, workers, trace), unclipped.

    uniform: A + floor(U (B - A + 1));  geometric: floor(log(1 - U) / log(1 - p)), so
    P(tau >= m) = (1 - p)^m;  workers: the writer m has probability r_m / sum(r) (``cumw``
    cumulative) and tau_k = k - (last write of m + 1);  trace: cycled.
    """
    if dcode == DELAY_UNIFORM:
        return dA + np.int64(_rng.next_uniform(st, STREAM_DELAY) * dW)
    if dcode == DELAY_GEOMETRIC:
        return np.int64(math.log1p(-_rng.next_uniform(st, STREAM_DELAY)) * ginv)
    if dcode == DELAY_WORKERS:
        u = _rng.next_uniform(st, STREAM_DELAY)
        nw = cumw.shape[0]
        m = 0
        while m < nw - 1 and u >= cumw[m]:
            m += 1
        tau = k - (last[m] + 1)
        last[m] = k
        return tau
    return dtrace[k % dtrace.shape[0]]


@njit(cache=True, fastmath=False)
def _delay_constants(dcode, dpar, cap):
    """(dT, dA, dW, ginv, cumw, last) of a delay law (see :func:`_draw_tau`)."""
    dT = 0
    dA = 0
    dW = 1.0
    ginv = 0.0
    nw = dpar.shape[0] if dcode == DELAY_WORKERS else 1
    cumw = np.zeros(nw)
    last = np.full(nw, -1, dtype=np.int64)
    if dcode == DELAY_CONST:
        dT = min(np.int64(dpar[0]), cap)
    elif dcode == DELAY_UNIFORM:
        dA = np.int64(dpar[0])
        dW = dpar[1] - dpar[0] + 1.0
    elif dcode == DELAY_GEOMETRIC:
        ginv = 1.0 / math.log1p(-dpar[0])
    elif dcode == DELAY_WORKERS:
        tot = 0.0
        for m in range(nw):
            tot += dpar[m]
        acc = 0.0
        for m in range(nw):
            acc += dpar[m]
            cumw[m] = acc / tot
        cumw[nw - 1] = 1.0
    return dT, dA, dW, ginv, cumw, last


@njit(cache=True, fastmath={"contract"})
def _steps(
    d,
    p,
    steps,
    batch,
    rec_every,
    mu,
    eta,
    sl,
    ring,
    st,
    buf,
    z,
    row,
    law,
    dcode,
    dT,
    dA,
    dW,
    ginv,
    cumw,
    last,
    dtrace,
    tgiven,
    cap,
    bound2,
    pc,
    pl,
    ps,
    pout,
    rec_err,
    rec_n2,
    rec_h,
    keep_h,
    gy,
):
    """The step loop of one path (eq. 2.1); returns the divergence step or -1.

    ``ring`` (L, d): iterates, h_j in row j mod L, all rows h_0 at entry.
    ``z`` (rows, B, d): standardised draws, a view of ``buf`` (refilled when ``row`` reaches
    ``rows``) or the path's pre-drawn samples.  Loops index 2-d/3-d arrays with a range
    variable last, so no negative-index fix-up is done per element.  Nothing in the loop
    creates or rebinds an array (that would cost atomic reference counting per step).
    Fast-math here is ``contract`` only (fused multiply-adds, a fixed order).
    """
    L = ring.shape[0]
    nrows = z.shape[0]
    cur = 0
    prv = L - 1
    n2c = 0.0
    for j in range(d):
        n2c += ring[0, j] * ring[0, j]
    _record(ring, 0, n2c, 0, rec_err, rec_n2, rec_h, p, keep_h)
    npass = pc.shape[0]
    if npass > 0:
        npass = _passages(ring, 0, n2c, 0, pc, pl, ps, pout, p)
    es_b = eta / batch
    inv_b = 1.0 / batch
    opm = 1.0 + mu
    rc = 0
    ri = 0
    div_step = -1
    for k in range(steps):
        # ---- delay tau_k, clipped at the cap and at k (h_{-i} = h_0)
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
        if row == nrows:
            _refill(law, st, buf, d)
            row = 0
        # ---- the step (2.1): s = Y.w, g = s Y - s^2 w (w.(sY) = s^2 exactly)
        if batch == 1:
            if d < 16:
                s = 0.0
                for j in range(d):
                    s += sl[j] * z[row, 0, j] * ring[sw, j]
                es = eta * s
                ec = es * s
                n2 = 0.0
                for j in range(d):
                    # h_k enters last, through one fused multiply-add: the step-to-step
                    # dependency is short
                    a = (es * (sl[j] * z[row, 0, j]) - ec * ring[sw, j]) - mu * ring[prv, j]
                    nv = opm * ring[cur, j] + a
                    ring[nxt, j] = nv
                    n2 += nv * nv
            else:
                s = _dot_long(sl, z, row, 0, ring, sw, d)
                es = eta * s
                n2 = _update_long(ring, cur, prv, sw, nxt, sl, z, row, es, es * s, mu, d)
        else:
            c = 0.0
            for j in range(d):
                gy[0, 0, j] = 0.0
            for b in range(batch):
                if d < 16:
                    s = 0.0
                    for j in range(d):
                        s += sl[j] * z[row, b, j] * ring[sw, j]
                else:
                    s = _dot_long(sl, z, row, b, ring, sw, d)
                c += s * s
                for j in range(d):
                    gy[0, 0, j] += s * (sl[j] * z[row, b, j])
            n2 = _update_long(ring, cur, prv, sw, nxt, gy[0, 1], gy, 0, es_b, eta * (c * inv_b), mu, d)
        row += 1
        if not n2 <= bound2:  # also catches NaN and inf
            div_step = k + 1
            break
        prv = cur
        cur = nxt
        n2c = n2
        if npass > 0:
            npass = _passages(ring, cur, n2c, k + 1, pc, pl, ps, pout, p)
        rc += 1
        if rc == rec_every:
            rc = 0
            ri += 1
            _record(ring, cur, n2c, ri, rec_err, rec_n2, rec_h, p, keep_h)
    # ---- a diverged path stays frozen at its last state within the bound
    for r in range(ri + 1, rec_err.shape[1]):
        _record(ring, cur, n2c, r, rec_err, rec_n2, rec_h, p, keep_h)
    return div_step


@njit(cache=True, fastmath={"contract"})
def _steps4(
    p,
    steps,
    rec_every,
    mu,
    eta,
    sl,
    ring,
    st,
    buf,
    yf,
    row,
    nrows,
    law,
    dcode,
    dT,
    dA,
    dW,
    ginv,
    cumw,
    last,
    dtrace,
    tgiven,
    cap,
    bound2,
    pc,
    pl,
    ps,
    pout,
    rec_err,
    rec_n2,
    rec_h,
    keep_h,
    tbuf,
):
    """:func:`_steps` for d = 4, B = 1 (the paper's case): the same operations in the same order.

    ``ring`` (L, 4) as in :func:`_steps`.  ``yf`` is flat and holds the samples Y = sqrt(lambda) Z
    (the product, rounded, that the step would form): ``buf`` scaled in place after each
    refill (vectorised), or the path's pre-drawn samples.  The steps run in chunks that end
    at a refill, a record or the last step, so the inner loop calls nothing: h_k and h_{k-1}
    stay in registers, the ring is a flat array indexed
    with unsigned offsets that wrap without a modulo, and random delays are drawn into
    ``tbuf`` before the chunk (from their own stream: the data draws keep their order).

    Divergence: ||h||^2 is computed (same expression) only when ``sum_j |h_j|`` does not
    prove it below ``bound2`` (a margin of 1e-9 covers the rounding), at records, and
    when passages are watched.  The loop's floating-point operations are otherwise those
    of the generic step, so results are bit-identical to it.
    """
    L = ring.shape[0]
    rf = ring.reshape(L * 4)
    L4 = L * 4
    nb = buf.shape[0]
    n2c = 0.0
    for j in range(4):
        n2c += ring[0, j] * ring[0, j]
    _record(ring, 0, n2c, 0, rec_err, rec_n2, rec_h, p, keep_h)
    npass = pc.shape[0]
    if npass > 0:
        npass = _passages(ring, 0, n2c, 0, pc, pl, ps, pout, p)
    # sum_j |h_j| <= slim implies ||h||^2 <= bound2 for the rounded sums (relative error
    # < 1e-14 << 1e-9); subnormal bounds take the exact test every step
    slim = math.sqrt(bound2) * (1.0 - 1e-9) if bound2 >= 1e-280 else -1.0
    opm = 1.0 + mu
    sl0 = sl[0]
    sl1 = sl[1]
    sl2 = sl[2]
    sl3 = sl[3]
    c0 = ring[0, 0]
    c1 = ring[0, 1]
    c2 = ring[0, 2]
    c3 = ring[0, 3]
    p0 = c0
    p1 = c1
    p2 = c2
    p3 = c3
    no = 4  # offset of the row of h_{k+1}
    rc = 0
    ri = 0
    div_step = -1
    k = 0
    while k < steps:
        if row == nrows:
            _refill(law, st, buf, ring.shape[1])
            for o in range(0, nb, 4):
                buf[_U(o)] *= sl0
                buf[_U(o + 1)] *= sl1
                buf[_U(o + 2)] *= sl2
                buf[_U(o + 3)] *= sl3
            row = 0
        n = min(nrows - row, rec_every - rc, steps - k)
        if dcode != DELAY_CONST:
            for i in range(n):
                kk = k + i
                if dcode == DELAY_GIVEN:
                    tau = tgiven[p, kk]
                else:
                    tau = _draw_tau(kk, dcode, dA, dW, ginv, cumw, last, dtrace, st)
                if tau > cap:
                    tau = cap
                if tau > kk:
                    tau = kk
                tbuf[i] = tau
        yo = row * 4
        done = 0
        for i in range(n):
            if dcode == DELAY_CONST:
                tau = dT
                if tau > k + i:
                    tau = k + i
            else:
                tau = tbuf[i]
            wo = no - 4 * (tau + 1)
            if wo < 0:
                wo += L4
            y0 = yf[_U(yo)]
            y1 = yf[_U(yo + 1)]
            y2 = yf[_U(yo + 2)]
            y3 = yf[_U(yo + 3)]
            w0 = rf[_U(wo)]
            w1 = rf[_U(wo + 1)]
            w2 = rf[_U(wo + 2)]
            w3 = rf[_U(wo + 3)]
            s = ((y0 * w0 + y1 * w1) + y2 * w2) + y3 * w3
            es = eta * s
            ec = es * s
            n0 = opm * c0 + ((es * y0 - ec * w0) - mu * p0)
            n1 = opm * c1 + ((es * y1 - ec * w1) - mu * p1)
            n2_ = opm * c2 + ((es * y2 - ec * w2) - mu * p2)
            n3 = opm * c3 + ((es * y3 - ec * w3) - mu * p3)
            rf[_U(no)] = n0
            rf[_U(no + 1)] = n1
            rf[_U(no + 2)] = n2_
            rf[_U(no + 3)] = n3
            if npass > 0 or not ((abs(n0) + abs(n1)) + (abs(n2_) + abs(n3))) <= slim:
                n2 = ((n0 * n0 + n1 * n1) + n2_ * n2_) + n3 * n3
                if not n2 <= bound2:  # also catches NaN and inf
                    div_step = k + i + 1
                    break
                if npass > 0:
                    # _passages, inline (no call in this loop)
                    left = 0
                    for q in range(pc.shape[0]):
                        if pout[p, q] < 0:
                            x = rf[_U(no + pc[q])]
                            r = x * x / n2
                            if (ps[q] > 0 and r >= pl[q]) or (ps[q] < 0 and r <= pl[q]):
                                pout[p, q] = k + i + 1
                            else:
                                left += 1
                    npass = left
            p0 = c0
            p1 = c1
            p2 = c2
            p3 = c3
            c0 = n0
            c1 = n1
            c2 = n2_
            c3 = n3
            yo += 4
            no += 4
            if no == L4:
                no = 0
            done += 1
        row += done
        k += done
        # ||h_k||^2 of the row h_k (the same expression as in the loop)
        n2c = ((c0 * c0 + c1 * c1) + c2 * c2) + c3 * c3
        if div_step >= 0:
            break
        rc += done
        if rc == rec_every:
            rc = 0
            ri += 1
            _record(ring, (no - 4) // 4 if no > 0 else L - 1, n2c, ri, rec_err, rec_n2, rec_h, p, keep_h)
    # ---- a diverged path stays frozen at its last state within the bound
    cur = (no - 4) // 4 if no > 0 else L - 1
    for r in range(ri + 1, rec_err.shape[1]):
        _record(ring, cur, n2c, r, rec_err, rec_n2, rec_h, p, keep_h)
    return div_step


#: Fast-math flags of the long-vector loops: reassociation lets LLVM vectorise the sums
#: (a fixed order for a given CPU, so still bit-identical across threads and chunkings).
_FM = {"reassoc", "contract"}


@njit(cache=True, fastmath=_FM)
def _dot_long(sl, z, row, b, ring, sw, d):
    """sum_j sl[j] z[row, b, j] ring[sw, j] (vectorised)."""
    s = 0.0
    for j in range(d):
        s += sl[j] * z[row, b, j] * ring[sw, j]
    return s


@njit(cache=True, fastmath=_FM)
def _update_long(ring, cur, prv, sw, nxt, a, z, row, es, ec, mu, d):
    """ring[nxt] = h_k + mu (h_k - h_{k-1}) + (es a_j z[row, 0, j] - ec w_j); returns ||h_{k+1}||^2.

    Row ``nxt`` never coincides with ``cur``, ``prv`` or ``sw`` (the ring has cap + 2 rows),
    so LLVM's run-time alias check passes and the vector loop runs.
    """
    n2 = 0.0
    for j in range(d):
        v = ring[cur, j]
        nv = v + mu * (v - ring[prv, j]) + (es * (a[j] * z[row, 0, j]) - ec * ring[sw, j])
        ring[nxt, j] = nv
        n2 += nv * nv
    return n2


@njit(cache=True, fastmath=False)
def _run_path(
    p,
    gp,
    sl,
    law,
    mu,
    eta,
    steps,
    batch,
    rec_every,
    h0,
    random_start,
    seed,
    dcode,
    dpar,
    dtrace,
    cap,
    bound2,
    pc,
    pl,
    ps,
    rec_err,
    rec_n2,
    rec_h,
    keep_h,
    pout,
    ygiven,
    tgiven,
):
    """Set up path ``p`` (global index ``gp``: streams, ring, buffers) and run its steps."""
    d = sl.shape[0]
    L = max(cap + 2, 3)
    st = np.empty((N_STREAMS, 4), dtype=np.uint64)
    _rng.seed_streams(seed, np.uint64(gp), st)

    # ---- start: h_{-i} = h_0 in every row of the ring
    ring = np.empty((L, d))
    if random_start:
        _rng.fill_normals(st, STREAM_START, ring[0], 0, d)
        q = 0.0
        for j in range(d):
            q += ring[0, j] * ring[0, j]
        f = 1.0 / math.sqrt(q)
        for j in range(d):
            ring[0, j] *= f
    else:
        for j in range(d):
            ring[0, j] = h0[p, j]
    for t in range(1, L):
        for j in range(d):
            ring[t, j] = ring[0, j]

    dT, dA, dW, ginv, cumw, last = _delay_constants(dcode, dpar, cap)

    # B > 1: gy[0, 0] accumulates sum_b s_b Y_b, gy[0, 1] is ones
    gy = np.ones((1, 2, d if batch > 1 else 0))
    if dcode == DELAY_GIVEN:
        z = ygiven[p]
        buf = np.empty(0)
        row = 0
    else:
        rows = max(1, BLOCK // (d * batch))
        buf = np.empty(rows * batch * d)
        z = buf.reshape((rows, batch, d))
        row = rows
    if d == 4 and batch == 1:
        # Y = sqrt(lambda) Z: buf is scaled after each refill, given samples here (a copy)
        yf = (z * sl).reshape(z.shape[0] * 4) if dcode == DELAY_GIVEN else buf
        tbuf = np.empty(z.shape[0] if dcode != DELAY_CONST else 0, dtype=np.int64)
        return _steps4(
            p,
            steps,
            rec_every,
            mu,
            eta,
            sl,
            ring,
            st,
            buf,
            yf,
            row,
            z.shape[0],
            law,
            dcode,
            dT,
            dA,
            dW,
            ginv,
            cumw,
            last,
            dtrace,
            tgiven,
            cap,
            bound2,
            pc,
            pl,
            ps,
            pout,
            rec_err,
            rec_n2,
            rec_h,
            keep_h,
            tbuf,
        )
    return _steps(
        d,
        p,
        steps,
        batch,
        rec_every,
        mu,
        eta,
        sl,
        ring,
        st,
        buf,
        z,
        row,
        law,
        dcode,
        dT,
        dA,
        dW,
        ginv,
        cumw,
        last,
        dtrace,
        tgiven,
        cap,
        bound2,
        pc,
        pl,
        ps,
        pout,
        rec_err,
        rec_n2,
        rec_h,
        keep_h,
        gy,
    )


@njit(cache=True, parallel=True)
def simulate_paths(
    sl,
    law,
    mu,
    eta,
    steps,
    batch,
    rec_every,
    h0,
    random_start,
    seed,
    path_offset,
    dcode,
    dpar,
    dtrace,
    cap,
    bound2,
    pc,
    pl,
    ps,
    rec_err,
    rec_n2,
    rec_h,
    keep_h,
    div_step,
    pout,
    ygiven,
    tgiven,
):
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
        Delay law (see ``diffapprox._engine.laws``); ``DELAY_GIVEN`` reads ``tgiven``.
    bound2 : float
        Divergence threshold on ||h||^2.
    pc, pl, ps : (n_pass,) int64, float64, int64
        Passages: coordinate, level, direction.
    rec_err, rec_n2 : (P, n_rec) float64;  rec_h : (P, n_rec, d) or (P, n_rec, 0)
    div_step : (P,) int64;  pout : (P, n_pass) int64, preset to -1
    ygiven : (P, steps, batch, d) float64 or (0, 0, 0, 0);  tgiven : (P, steps) int64 or (0, 0)
        Pre-drawn samples Y (not standardised) and delays, used when ``dcode == DELAY_GIVEN``.
    """
    P = h0.shape[0]
    for p in prange(P):
        div_step[p] = _run_path(
            p,
            path_offset + p,
            sl,
            law,
            mu,
            eta,
            steps,
            batch,
            rec_every,
            h0,
            random_start,
            seed,
            dcode,
            dpar,
            dtrace,
            cap,
            bound2,
            pc,
            pl,
            ps,
            rec_err,
            rec_n2,
            rec_h,
            keep_h,
            pout,
            ygiven,
            tgiven,
        )


@njit(cache=True)
def sample_data(law, sl, seed, path, n):
    """The first ``n`` samples Y (n, d) that path ``path`` of the kernel draws (for tests)."""
    d = sl.shape[0]
    st = np.empty((N_STREAMS, 4), dtype=np.uint64)
    _rng.seed_streams(seed, np.uint64(path), st)
    rows = max(1, BLOCK // d)
    buf = np.empty(rows * d)
    out = np.empty((n, d))
    r = rows
    for i in range(n):
        if r == rows:
            _refill(law, st, buf, d)
            r = 0
        for j in range(d):
            out[i, j] = sl[j] * buf[r * d + j]
        r += 1
    return out


@njit(cache=True)
def sample_delays(dcode, dpar, dtrace, cap, seed, path, n):
    """The first ``n`` delays tau_k (clipped at ``cap``, not at k) of path ``path`` (for tests)."""
    st = np.empty((N_STREAMS, 4), dtype=np.uint64)
    _rng.seed_streams(seed, np.uint64(path), st)
    dT, dA, dW, ginv, cumw, last = _delay_constants(dcode, dpar, cap)
    out = np.empty(n, dtype=np.int64)
    for k in range(n):
        if dcode == DELAY_CONST:
            tau = dT
        else:
            tau = _draw_tau(k, dcode, dA, dW, ginv, cumw, last, dtrace, st)
        out[k] = min(tau, cap)
    return out


def simulate_given(
    Y: np.ndarray,
    taus: np.ndarray,
    h0: np.ndarray,
    *,
    mu: float,
    eta: float,
    rec_every: int = 1,
    bound: float = 1e6,
    cap: int | None = None,
    passages=(),
) -> dict:
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
        error=np.zeros((P, n_rec)),
        norm2=np.zeros((P, n_rec)),
        h=np.zeros((P, n_rec, d)),
        diverged_step=np.full(P, -1, dtype=np.int64),
        passage=np.full((P, pc.size), -1, dtype=np.int64),
    )
    simulate_paths(
        np.ones(d),
        0,
        float(mu),
        float(eta),
        steps,
        B,
        rec_every,
        np.ascontiguousarray(h0, dtype=np.float64),
        False,
        np.uint64(0),
        0,
        DELAY_GIVEN,
        np.zeros(1),
        np.zeros(1, dtype=np.int64),
        cap,
        float(bound) ** 2,
        pc,
        pl,
        ps,
        out["error"],
        out["norm2"],
        out["h"],
        True,
        out["diverged_step"],
        out["passage"],
        Y,
        taus,
    )
    return out
