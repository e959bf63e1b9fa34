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
    return dict(
        error=1.0 - h[:, 0] ** 2 / norm2, norm2=norm2, h=h, diverged_step=div, passage=np.array(passage, dtype=np.int64)
    )


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


def async_diagnostics(Y, taus, h0, lam, mu, eta, n_out=1, bound=1e6):
    """The Lemma 3.1 / 3.2 / 3.4 diagnostics of one path, B = 1, from the paper's definitions.

    Y (steps, d) samples in the eigenbasis, taus (steps,), h0 (d,), lam (d,) = diag(Lambda).
    The iterates h_0..h_K come from :func:`async_msgd`; then, with w_k = h_{max(k - tau_k, 0)}:

    * Lemma 3.1: ``max_k ||h_k||^2 - 1``, k = 0..K;
    * Lemma 3.2 (Section 3.1): ``sup_k ||m_{k+1} - M~(h_k)||``, k = 0..K-1, with the partial sum
      m_{k+1} = sum_{i=0}^k mu^i [Lambda w_{k-i} - w_{k-i}^T Lambda w_{k-i} w_{k-i}] and
      M~(v) = [Lambda v - v^T Lambda v v] / (1 - mu);
    * Lemma 3.4 (Section 3.2): D_n = h_{n+1} - h_n - eta sum_{i=0}^n mu^{n-i} G_i(h_i) with the
      sample field G_i(h) = Y_i Y_i^T h - h^T Y_i Y_i^T h h, and D(N eta) = eta^(-1/2) sum_{n<N} D_n
      (D_0 = 0 because w_0 = h_0, so this is the paper's sum_{i=1}^{N-1}); ``D`` at
      N = j K / n_out, j = 1..n_out, and ``D_sup`` = max_{N=1..K} ||D(N eta)||.

    A path whose iterate h_{k+1} leaves the bound (||h||^2 > bound^2) is diverged: every quantity is
    taken over what h_0..h_k determine (Lemma 3.2 up to step k, D(N eta) for N <= k), the rest NaN.
    """
    K, d = Y.shape
    taus = np.asarray(taus, dtype=np.int64)
    r = async_msgd(np.asarray(Y, dtype=float)[:, None, :], taus, h0, mu, eta, rec_every=1, bound=bound)
    diverged = r["diverged_step"] >= 0
    last = r["diverged_step"] - 1 if diverged else K  # h_0..h_last are the valid iterates
    h = r["h"][: last + 1]
    Lam = np.diag(np.asarray(lam, dtype=float))

    def mean_field(v):
        return Lam @ v - (v @ Lam @ v) * v

    def sample_field(i, v):
        S = np.outer(Y[i], Y[i])
        return S @ v - (v @ S @ v) * v

    n_steps = min(last, K - 1) + 1  # steps k whose m_{k+1} and h_k are determined
    Mw = [mean_field(h[max(k - int(taus[k]), 0)]) for k in range(n_steps)]
    Gh = [sample_field(i, h[i]) for i in range(last)]
    max_norm_excess = max(float(v @ v) - 1.0 for v in h)
    bias = 0.0
    for k in range(n_steps):
        m = sum(mu**i * Mw[k - i] for i in range(k + 1))
        bias = max(bias, float(np.linalg.norm(m - mean_field(h[k]) / (1.0 - mu))))
    D_n = []
    for n in range(last):
        D_n.append(h[n + 1] - h[n] - eta * sum(mu ** (n - i) * Gh[i] for i in range(n + 1)))
    D_t = [np.linalg.norm(sum(D_n[:N], np.zeros(d))) / np.sqrt(eta) for N in range(1, last + 1)]
    at = [j * (K // n_out) for j in range(1, n_out + 1)]
    D = np.array([D_t[N - 1] if N <= last else np.nan for N in at])
    return dict(max_norm_excess=max_norm_excess, bias_sup=bias, D=D, D_sup=max(D_t, default=0.0), diverged=diverged)


def workers_queue(weights, n, rng):
    """Staleness of M workers' writes, one update at a time: tau_k = k - (writer's last write + 1).

    The ``workers:M`` law as the queue runs: the writer of update k is drawn with probabilities
    ``weights``; its staleness counts the updates since its previous write (k at its first write).
    """
    w = np.asarray(weights, dtype=float)
    who = rng.choice(w.size, size=n, p=w / w.sum())
    last = np.full(w.size, -1, dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    for k in range(n):
        out[k] = k - (last[who[k]] + 1)
        last[who[k]] = k
    return out


def generic_algorithm(grad, xi, xi2, taus, x0, step, mu, c1, c2, bound=1e6):
    """Any algorithm of the registry on one path, from pre-drawn noise: all iterates (steps+1, d).

    ``x_{k+1} = x_k + mu (x_k - x_{k-1}) - step (c1 g(w_k, xi_k) + c2 g(w_k, xi2_k))``,
    ``w_k = x_{max(k - tau_k, 0)}`` and ``x_{-1} = x_0``; ``c2 = 0`` uses ``g(w_k, xi_k)`` alone.
    ``grad(x, xi)`` is a plain NumPy function.  Stops at the first iterate with ||x|| > bound.
    """
    hist = [np.array(x0, dtype=float)]
    for k in range(len(taus)):
        w = hist[max(k - int(taus[k]), 0)]
        g = grad(w, xi[k]) if c2 == 0 else c1 * grad(w, xi[k]) + c2 * grad(w, xi2[k])
        prev = hist[k - 1] if k >= 1 else hist[0]
        new = hist[k] + mu * (hist[k] - prev) - step * g
        if not float(new @ new) <= bound**2:
            break
        hist.append(new)
    return np.array(hist)


def heun(drift, x0, dW, dt, diffusion):
    """Stochastic Heun for dX = drift(X) dt + diffusion dB (additive noise), one path: all states."""
    x = np.array(x0, dtype=float)
    out = [x.copy()]
    for k in range(dW.shape[0]):
        b0 = drift(x)
        noise = diffusion @ dW[k]
        y = x + b0 * dt + noise
        x = x + 0.5 * (b0 + drift(y)) * dt + noise
        out.append(x.copy())
    return np.array(out)
