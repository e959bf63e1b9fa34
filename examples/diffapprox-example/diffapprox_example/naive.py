"""The naive NumPy twin of SGD on streaming least squares: the textbook update, one path, given noise."""

from __future__ import annotations

import numpy as np


def naive_sgd(xi, x0, x_star, eta):
    """``x_{k+1} = x_k - eta a_k (a_k.x_k - b_k)``, ``b_k = a_k.x* + eps_k``, ``xi_k = (a_k, eps_k)``: (steps+1, d)."""
    x = np.array(x0, dtype=float)
    out = [x.copy()]
    for row in xi:
        a, eps = row[:-1], row[-1]
        b = a @ np.asarray(x_star) + eps
        x = x - eta * a * (a @ x - b)
        out.append(x.copy())
    return np.array(out)
