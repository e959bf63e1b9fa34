"""Along-path diagnostics of Async-MSGD for Lemmas 3.1, 3.2 and 3.4 (numba kernel + checking wrapper).

One kernel runs the same recursion as the simulator (paper eq. 2.1, eigenbasis, any data law
of :mod:`diffapprox._engine.laws`, constant delay, histories ``h_{-i} = h_0``, per-path streams
keyed by ``(seed, path)`` from :mod:`diffapprox._engine.rng`) and accumulates, per path:

* ``max_k (||h_k||^2 - 1)`` for k <= K (Lemma 3.1);
* ``sup_k ||m_{k+1} - M~(h_k)||`` with the noise-free momentum sum
  ``m_{k+1} = mu m_k + (Lambda w_k - w_k^T Lambda w_k w_k)``, ``m_0 = 0``, ``w_k = h_{k - tau}``
  and ``M~(h) = (Lambda h - h^T Lambda h h) / (1 - mu)`` (Lemma 3.2, Section 3.1);
* the accumulated asynchronous error ``D(t) = eta^(-1/2) sum_{n < t/eta} D_n`` with
  ``D_n = eta a_n``, ``a_n = mu a_{n-1} + G_n(w_n) - G_n(h_n)``,
  ``G_n(h) = Y_n Y_n^T h - h^T Y_n Y_n^T h h`` on the *same* sample (Lemma 3.4, A.4):
  ``||D(t)||`` at ``n_out`` equally spaced times and ``sup_t ||D(t)||``.

It draws its samples from the data stream as the simulator's laws do (``Y_j = sqrt(lambda_j) Z_j``,
d standardised draws Z per step: normals for the Gaussian law, ``sqrt(3) U`` with U uniform on
[-1, 1) for the cube; the bounded laws are what Assumption 2 asks for); whether it reproduces the
simulator's paths bit for bit depends on the simulator's block layout and is not
relied on.  ``diagnostics_given`` (private, for the naive twin in tests/naive.py) runs the
same per-path loop on pre-drawn samples and delays of any law.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .._core.errors import DiffapproxError, check_int, check_range
from .._engine.problem import StreamingPCA
from .._engine.kernel import _refill
from .._engine.laws import DATA_GAUSSIAN
from .._engine.rng import N_STREAMS, seed_streams

__all__ = ["path_diagnostics"]


# "not given" markers for _diag_path (the public kernel draws its samples and uses a constant delay)
_NO_Y = np.empty((0, 0))
_NO_TAU = np.empty(0, dtype=np.int64)


@njit(cache=True, parallel=True)
def _diag_paths(law, sl, lam, mu, eta, steps, tau, h0, seed, path_offset, out_every, maxn, bias, dout, dsup, div):
    for q in prange(maxn.size):
        _diag_path_offset(
            q, path_offset, law, sl, lam, mu, eta, steps, tau, h0, seed, out_every, maxn, bias, dout, dsup, div
        )


@njit(cache=True)
def _diag_path_offset(q, off, law, sl, lam, mu, eta, steps, tau, h0, seed, out_every, maxn, bias, dout, dsup, div):
    # the stream is keyed by the global path index; outputs by the local one
    _diag_path_keyed(q, q + off, law, sl, lam, mu, eta, steps, tau, h0, seed, out_every, maxn, bias, dout, dsup, div)


@njit(cache=True)
def _diag_path_keyed(q, gp, law, sl, lam, mu, eta, steps, tau, h0, seed, out_every, maxn, bias, dout, dsup, div):
    st = np.empty((N_STREAMS, 4), dtype=np.uint64)
    seed_streams(seed, np.uint64(gp), st)
    _diag_path(q, st, law, _NO_Y, _NO_TAU, sl, lam, mu, eta, steps, tau, h0, out_every, maxn, bias, dout, dsup, div)


@njit(cache=True)
def _diag_path(q, st, law, Yg, tg, sl, lam, mu, eta, steps, tau, h0, out_every, maxn, bias, dout, dsup, div):
    # Samples: drawn from ``st`` (Y = sqrt(lambda) Z, Z standardised draws of data law ``law``), or given as
    # ``Yg`` (steps, d) when non-empty.
    # Delays: the constant ``tau``, or given as ``tg`` (steps,) when non-empty, with ``tau`` >= max(tg).
    d = sl.size
    L = tau + 1
    ring = np.empty((L, d))
    for j in range(L):
        for i in range(d):
            ring[j, i] = h0[i]
    h = h0.copy()
    hp = h0.copy()
    m = np.zeros(d)
    a = np.zeros(d)
    S = np.zeros(d)
    z = np.empty(d)
    y = np.empty(d)
    w = np.empty(d)
    given_y = Yg.shape[0] > 0
    given_tau = tg.size > 0
    n2 = 0.0
    for i in range(d):
        n2 += h[i] * h[i]
    mx = n2 - 1.0
    bs = 0.0
    ds = 0.0
    sq = math.sqrt(eta)
    io = 0
    for k in range(steps):
        tk = tg[k] if given_tau else tau
        src = (k - tk) % L  # h_{k-tau_k}; for k < tau_k the ring still holds h_0 there
        for i in range(d):
            w[i] = ring[src, i]
        if given_y:
            for i in range(d):
                z[i] = Yg[k, i]
        else:
            _refill(law, st, z, d)
        sy = 0.0
        sh = 0.0
        wlw = 0.0
        hlh = 0.0
        for i in range(d):
            y[i] = z[i] if given_y else sl[i] * z[i]
            sy += y[i] * w[i]
            sh += y[i] * h[i]
            wlw += lam[i] * w[i] * w[i]
            hlh += lam[i] * h[i] * h[i]
        wyw = sy * sy
        hyh = sh * sh
        e2 = 0.0
        for i in range(d):
            m[i] = mu * m[i] + (lam[i] * w[i] - wlw * w[i])
            r = m[i] - (lam[i] * h[i] - hlh * h[i]) / (1.0 - mu)
            e2 += r * r
        if e2 > bs:
            bs = e2
        for i in range(d):
            a[i] = mu * a[i] + (sy * y[i] - wyw * w[i]) - (sh * y[i] - hyh * h[i])
            S[i] += a[i]
        n2 = 0.0
        for i in range(d):
            hn = h[i] + mu * (h[i] - hp[i]) + eta * (sy * y[i] - wyw * w[i])
            hp[i] = h[i]
            h[i] = hn
            n2 += hn * hn
        dst = (k + 1) % L
        for i in range(d):
            ring[dst, i] = h[i]
        if not (n2 < 1e12):
            div[q] = True
            break
        if n2 - 1.0 > mx:
            mx = n2 - 1.0
        dn = 0.0
        for i in range(d):
            dn += S[i] * S[i]
        dn = sq * math.sqrt(dn)
        if dn > ds:
            ds = dn
        if (k + 1) % out_every == 0 and io < dout.shape[1]:
            dout[q, io] = dn
            io += 1
    maxn[q] = mx
    bias[q] = math.sqrt(bs)
    dsup[q] = ds


def path_diagnostics(
    problem: StreamingPCA,
    *,
    mu: float,
    eta: float,
    steps: int,
    paths: int,
    tau: int = 0,
    start="e2",
    seed: int = 0,
    path_offset: int = 0,
    n_out: int = 10,
) -> dict:
    """Run Async-MSGD with a constant delay and return the Lemma 3.1/3.2/3.4 diagnostics per path.

    Parameters
    ----------
    problem : StreamingPCA
        In its eigenbasis (``Q = I``), any data law (the sample is drawn inside the kernel).
    mu, eta, steps, paths, tau : numbers
        Momentum in [0, 1), step > 0, K >= 1 steps, P >= 1 paths, constant delay >= 0.
    start : "e1".."ed" or a vector of length d
    seed, path_offset : int
        Path i's stream depends only on (seed, path_offset + i).
    n_out : int
        ``||D(t)||`` is reported at ``t_j = j K eta / n_out``, j = 1..n_out (``steps`` must be a
        multiple of ``n_out``).

    Returns
    -------
    dict
        ``max_norm_excess`` (P,): max_k ||h_k||^2 - 1;  ``bias_sup`` (P,): sup_k ||m_{k+1} - M~(h_k)||;
        ``D`` (P, n_out): ||D(t_j)||;  ``D_sup`` (P,): sup_t ||D(t)||;  ``times`` (n_out,);
        ``diverged`` (P,) bool (||h||^2 > 1e12 or non-finite; the path stops there).
    """
    if not isinstance(problem, StreamingPCA):
        raise DiffapproxError("problem", "a StreamingPCA", type(problem).__name__)
    if not np.allclose(problem.Q, np.eye(problem.d)):
        raise DiffapproxError("problem", "a problem given by its spectrum (Q = I)", "a rotated covariance")
    mu = check_range("mu", mu, 0.0, 1.0, hi_open=True)
    eta = check_range("eta", eta, 0.0, None, lo_open=True)
    steps = check_int("steps", steps, 1)
    paths = check_int("paths", paths, 1)
    tau = check_int("tau", tau, 0)
    n_out = check_int("n_out", n_out, 1)
    if steps % n_out:
        raise DiffapproxError("steps", f"a multiple of n_out={n_out}", steps)
    d = problem.d
    if isinstance(start, str):
        i = int(start[1:]) if start[:1] == "e" and start[1:].isdigit() else 0
        if not 1 <= i <= d:
            raise DiffapproxError("start", f"e1..e{d} or a vector of length {d}", start)
        h0 = np.zeros(d)
        h0[i - 1] = 1.0
    else:
        h0 = np.asarray(start, dtype=float)
        if h0.shape != (d,) or not np.all(np.isfinite(h0)):
            raise DiffapproxError("start", f"a finite vector of length {d}", start)
    lam = np.ascontiguousarray(problem.eigenvalues, dtype=np.float64)
    sl = np.sqrt(lam)
    maxn = np.full(paths, np.nan)
    bias = np.full(paths, np.nan)
    dout = np.full((paths, n_out), np.nan)
    dsup = np.full(paths, np.nan)
    div = np.zeros(paths, dtype=np.bool_)
    _diag_paths(
        problem.law.code,
        sl,
        lam,
        mu,
        eta,
        steps,
        tau,
        np.ascontiguousarray(h0),
        np.uint64(seed),
        int(path_offset),
        steps // n_out,
        maxn,
        bias,
        dout,
        dsup,
        div,
    )
    return {
        "max_norm_excess": maxn,
        "bias_sup": bias,
        "D": dout,
        "D_sup": dsup,
        "times": np.arange(1, n_out + 1) * (steps // n_out) * eta,
        "diverged": div,
    }


@njit(cache=True, parallel=True)
def _diag_given_paths(Y, taus, lam, mu, eta, h0, out_every, maxn, bias, dout, dsup, div):
    for q in prange(maxn.size):
        st = np.zeros((N_STREAMS, 4), dtype=np.uint64)  # unused: samples are given
        _diag_path(
            q,
            st,
            DATA_GAUSSIAN,
            Y[q],
            taus[q],
            lam,
            lam,
            mu,
            eta,
            Y.shape[1],
            taus[q].max(),
            h0[q],
            out_every,
            maxn,
            bias,
            dout,
            dsup,
            div,
        )


def diagnostics_given(
    Y: np.ndarray, taus: np.ndarray, h0: np.ndarray, lam: np.ndarray, *, mu: float, eta: float, n_out: int = 1
) -> dict:
    """Private entry for the naive twin (tests only): the kernel fed pre-drawn samples and delays.

    Y (P, steps, d) float64 samples in the eigenbasis; taus (P, steps) int >= 0 delays (any law; the
    history convention ``h_{-i} = h_0`` applies when ``tau_k > k``); h0 (P, d); lam (d,) the spectrum
    (the ``Lambda`` of ``M~`` and of the noise-free momentum sum).  Same outputs as :func:`path_diagnostics`
    without ``times``.  No checking beyond shapes.
    """
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    P, steps, d = Y.shape
    taus = np.ascontiguousarray(taus, dtype=np.int64)
    h0 = np.ascontiguousarray(h0, dtype=np.float64)
    assert taus.shape == (P, steps) and h0.shape == (P, d) and steps % n_out == 0 and taus.min() >= 0
    maxn = np.full(P, np.nan)
    bias = np.full(P, np.nan)
    dout = np.full((P, n_out), np.nan)
    dsup = np.full(P, np.nan)
    div = np.zeros(P, dtype=np.bool_)
    _diag_given_paths(
        Y,
        taus,
        np.ascontiguousarray(lam, dtype=np.float64),
        float(mu),
        float(eta),
        h0,
        steps // n_out,
        maxn,
        bias,
        dout,
        dsup,
        div,
    )
    return {"max_norm_excess": maxn, "bias_sup": bias, "D": dout, "D_sup": dsup, "diverged": div}
