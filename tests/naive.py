"""Slow, obvious NumPy twin of the Async-MSGD kernel (paper eq. 2.1), for tests only.

    v_{k+1} = v_k + mu (v_k - v_{k-1}) + eta (I - w w^T) (1/B sum_b Y_b Y_b^T) w,   w = v_{k - tau_k},

with the history convention v_{-i} = v_0 (Theorem 3.3), a full list of past
iterates (no ring buffer), the matrix written out, and no algebraic shortcut.
"""

from __future__ import annotations

import numpy as np


def async_msgd(Y, taus, h0, mu, eta, rec_every=1, bound=1e6, passages=()):
    """One path: Y (steps, B, d), taus (steps,), h0 (d,).

    Returns dict(error, norm2, h, diverged_step, passage) like ``_kernel.simulate_given``
    for one path.  A path whose ||h||^2 exceeds bound^2 (or is not finite) stops, and its
    last state within the bound is repeated in the remaining records.
    """
    steps, B, d = Y.shape
    hist = [np.array(h0, dtype=float)]  # hist[k] = h_k
    passage = [-1] * len(passages)

    def check(k, h):
        n2 = float(h @ h)
        for i, (c, lv, s) in enumerate(passages):
            if passage[i] < 0:
                r = h[c] ** 2 / n2
                if (s > 0 and r >= lv) or (s < 0 and r <= lv):
                    passage[i] = k

    check(0, hist[0])
    div = -1
    for k in range(steps):
        h_k = hist[k]
        h_km1 = hist[k - 1] if k >= 1 else hist[0]
        w = hist[max(k - int(taus[k]), 0)]
        M = sum(np.outer(Y[k, b], Y[k, b]) for b in range(B)) / B
        g = (np.eye(d) - np.outer(w, w)) @ M @ w
        h_new = h_k + mu * (h_k - h_km1) + eta * g
        n2 = float(h_new @ h_new)
        if not n2 <= bound**2:
            div = k + 1
            break
        hist.append(h_new)
        check(k + 1, h_new)
    n_rec = steps // rec_every + 1
    rec = [hist[min(r * rec_every, len(hist) - 1)] for r in range(n_rec)]
    h = np.array(rec)
    norm2 = np.sum(h**2, axis=1)
    return dict(error=1.0 - h[:, 0] ** 2 / norm2, norm2=norm2, h=h, diverged_step=div,
                passage=np.array(passage, dtype=np.int64))


def msgd(Y, h0, mu, eta):
    """Synchronous momentum SGD (tau = 0) on one path, B = 1: returns all iterates (steps+1, d)."""
    h_prev = np.array(h0, dtype=float)
    h = h_prev.copy()
    out = [h.copy()]
    for k in range(Y.shape[0]):
        y = Y[k, 0]
        g = (y @ h) * y - (h @ y) ** 2 * h
        h, h_prev = h + mu * (h - h_prev) + eta * g, h
        out.append(h.copy())
    return np.array(out)


def async_sgd(Y, taus, h0, eta):
    """Asynchronous plain SGD (mu = 0) on one path, B = 1: returns all iterates (steps+1, d)."""
    hist = [np.array(h0, dtype=float)]
    for k in range(Y.shape[0]):
        w = hist[max(k - int(taus[k]), 0)]
        y = Y[k, 0]
        g = (y @ w) * y - (w @ y) ** 2 * w
        hist.append(hist[k] + eta * g)
    return np.array(hist)
