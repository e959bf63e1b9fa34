"""Slow, obvious NumPy twins of the finite-step theory (diffapprox/_theory/finite_step.py), for tests only.

* :func:`linear_mode_paths` simulates the linear model (L) of one mode, path by path in lockstep,
  with the whole history kept (no ring buffer) and the delays drawn as the engine's laws draw them;
* :func:`lyapunov_iid` and :func:`lyapunov_workers` solve the discrete Lyapunov equation of (L)
  by brute force: the Kronecker system of the full state covariance, no shift structure used.
"""

from __future__ import annotations

import numpy as np


def delays(law, paths: int, steps: int, rng: np.random.Generator) -> np.ndarray:
    """(paths, steps) delays of a :class:`diffapprox.DelayLaw`, clipped at its cap (as the kernel).

    ``workers``: every path runs its own queue from the start (all workers read h_0), the writer of
    update k is worker m with probability r_m / sum(r), and tau_k = k - (its last write + 1).
    """
    if law.kind == "workers":
        w = law.params / law.params.sum()
        who = rng.choice(w.size, size=(paths, steps), p=w)
        last = np.full((paths, w.size), -1)
        out = np.empty((paths, steps), dtype=np.int64)
        rows = np.arange(paths)
        for k in range(steps):
            out[:, k] = k - (last[rows, who[:, k]] + 1)
            last[rows, who[:, k]] = k
        return np.minimum(out, law.cap)
    if law.kind == "const":
        return np.full((paths, steps), law.cap, dtype=np.int64)
    if law.kind == "uniform":
        a, b = int(law.params[0]), int(law.params[1])
        return rng.integers(a, b + 1, size=(paths, steps))
    if law.kind == "geometric":
        return np.minimum(rng.geometric(law.params[0], size=(paths, steps)) - 1, law.cap)
    raise ValueError(law.spec)


def linear_mode_paths(mu: float, a: float, taus: np.ndarray, xi: np.ndarray, x0: float) -> np.ndarray:
    """x_{k+1} = (1+mu) x_k - mu x_{k-1} - a x_{k-tau_k} + xi_k with x_j = x0 for j <= 0.

    taus, xi: (paths, steps).  Returns x_0..x_steps, shape (paths, steps + 1).
    """
    P, K = xi.shape
    x = np.empty((P, K + 1))
    x[:, 0] = x0
    rows = np.arange(P)
    for k in range(K):
        prev = x[:, k - 1] if k >= 1 else x[:, 0]
        delayed = x[rows, np.maximum(k - taus[:, k], 0)]
        x[:, k + 1] = (1 + mu) * x[:, k] - mu * prev - a * delayed + xi[:, k]
    return x


def lyapunov_iid(mu: float, a: float, pmf: np.ndarray, noise: float) -> np.ndarray:
    """Stationary covariance of (x_k..x_{k-W+1}), W = max(T, 1) + 1: P = sum_t p_t A_t P A_t^T + Q by Kronecker."""
    T = pmf.size - 1
    n = max(T, 1) + 1
    L = np.zeros((n * n, n * n))
    for t, pt in enumerate(pmf):
        A = np.zeros((n, n))
        A[0, 0] += 1 + mu
        A[0, 1] -= mu
        A[0, t] -= a
        for r in range(1, n):
            A[r, r - 1] = 1.0
        L += pt * np.kron(A, A)
    Q = np.zeros((n, n))
    Q[0, 0] = noise
    return np.linalg.solve(np.eye(n * n) - L, Q.ravel()).reshape(n, n)


def lyapunov_workers(mu: float, a: float, w: np.ndarray, noise: float) -> np.ndarray:
    """Stationary covariance of (x_k, x_{k-1}, z_1..z_M) under ``workers`` by Kronecker: with writer m
    (probability w_m), x' = (1+mu) x - mu x_- - a z_m + xi, x_-' = x, z_m' = x', the other copies kept."""
    M = w.size
    n = M + 2
    L = np.zeros((n * n, n * n))
    Q = np.zeros(n * n)
    for m in range(M):
        A = np.eye(n)
        A[0] = 0.0
        A[0, 0], A[0, 1], A[0, 2 + m] = 1 + mu, -mu, -a
        A[1] = 0.0
        A[1, 0] = 1.0
        A[2 + m] = A[0]
        q = np.zeros(n)
        q[0] = q[2 + m] = 1.0
        L += w[m] * np.kron(A, A)
        Q += w[m] * noise * np.outer(q, q).ravel()
    return np.linalg.solve(np.eye(n * n) - L, Q).reshape(n, n)
