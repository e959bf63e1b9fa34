"""Shared pieces of the weak-error claims (``sme-weak-order``, ``svag-sweep``).

Estimator of ``E phi(x_k)`` from simulated paths, with a control variate from the exact linear
recursion: ``Y = phi(x_k) - T_q(x_k) + E T_q(x_k)``, ``T_q`` the Taylor polynomial of phi of order q
around the exact mean ``m_k``, whose expectation needs only the exact mean and covariance ``C_k``
(``E T_2 = phi(m_k) + 1/2 tr(Hess phi(m_k) C_k)``).  ``E Y = E phi(x_k)`` for any noise law; the
control removes the fluctuation the first ``q`` Taylor terms carry.  q = 2, or q = 1 when phi is
itself quadratic (q = 2 would make Y constant: nothing left to measure).

The weak error is read at ``GRID`` record times ``k_j = j K / GRID`` (j = 1..GRID; every step when
``K <= GRID``), the same times t = j T / GRID for every step size: a cell's per-path data are the
values of Y at those times, (paths, GRID), which is what a control draws.

The planner's per-path standard deviation of Y comes from Gauss-Hermite quadrature under the
Gaussian law N(m_k, C_k) (exact for Gaussian noise, an approximation otherwise): a prediction
made before any path is simulated.
"""

from __future__ import annotations

import math

import numpy as np

from diffapprox import simulate_algorithm
from diffapprox.limits import plan_weak_errors
from diffapprox.stats import detectable_effect, max_abs_ci, measurement
from scipy import stats as _st

__all__ = [
    "GRID",
    "grid_steps",
    "cv_order",
    "cv_values",
    "predicted_sd",
    "simulate_values",
    "summarize_values",
    "model_values",
    "weak_error_row",
    "z_simultaneous",
    "paths_for",
    "fit_plan",
    "moved_truth",
]

GH_NODES = 10
CHUNK = 4096
#: Record times of the weak error (per step size): j K / GRID, j = 1..GRID.
GRID = 16


def grid_steps(K: int, grid: int | None = GRID) -> np.ndarray:
    """Steps ``k_j = j K / n`` (j = 1..n, ``n = min(K, grid)``; every step 1..K when ``grid`` is None)."""
    n = K if grid is None else min(K, grid)
    if K % n:
        raise ValueError(f"K = {K} is not a multiple of the grid size {n}")
    return np.arange(1, n + 1) * (K // n)


def cv_order(phi) -> int:
    """Order q of the Taylor control variate: 1 for a quadratic phi, else 2."""
    return 1 if phi.degree == 2 else 2


def _taylor(phi, q, x, m, C):
    """``T_q(x) - E T_q`` for x (..., K, d), m (K, d), C (K, d, d)."""
    dl = x - m
    out = np.einsum("kj,...kj->...k", phi.gradient(m), dl)
    if q == 2:
        h = phi.hessian(m)
        out = out + 0.5 * (np.einsum("...ki,kij,...kj->...k", dl, h, dl) - np.einsum("kij,kji->k", h, C))
    return out


def cv_values(phi, q, x, m, C) -> np.ndarray:
    """``Y = phi(x) - (T_q(x) - E T_q)`` (paths, K)."""
    return phi.f(x) - _taylor(phi, q, x, m, C)


def predicted_sd(phi, q, m, C) -> np.ndarray:
    """Per-path sd of Y at each k (K,), by Gauss-Hermite quadrature under N(m_k, C_k)."""
    node, wt = np.polynomial.hermite_e.hermegauss(GH_NODES)
    d = m.shape[1]
    z = np.stack(np.meshgrid(*([node] * d), indexing="ij"), -1).reshape(-1, d)
    w = np.prod(np.stack(np.meshgrid(*([wt / wt.sum()] * d), indexing="ij"), -1).reshape(-1, d), axis=1)
    L = np.linalg.cholesky(C + 1e-300 * np.eye(d))
    x = m[None] + np.einsum("kij,nj->nki", L, z)
    y = cv_values(phi, q, x, m, C)
    mu = w @ y
    return np.sqrt(np.clip(w @ (y - mu) ** 2, 0.0, None))


def simulate_values(problem, alg, x0, steps, paths, seed, phi, q, m, C, ks) -> dict:
    """Per-path values of Y at the record steps ``ks`` (of the run, K = ``len(m) - 1``), chunk by chunk.

    Returns ``{"y": (finite paths, len(ks)), "diverged": int}``; the run records every ``ks[0]`` steps.
    """
    every = int(ks[0])
    ys, div = [], 0
    for off in range(0, paths, CHUNK):
        n = min(CHUNK, paths - off)
        r = simulate_algorithm(
            problem, alg, steps=steps, paths=n, x0=x0, seed=seed, path_offset=off, record_every=every
        )
        ok = r.finite
        div += int((~ok).sum())
        ys.append(cv_values(phi, q, r.x[ok][:, 1:], m[ks], C[ks]))
    return {"y": np.concatenate(ys), "diverged": div}


def summarize_values(data) -> dict:
    """Mean and sd over paths of Y at each record time, the path count and the diverged count."""
    y = np.asarray(data["y"], dtype=float)
    return {"mean": y.mean(axis=0), "sd": y.std(axis=0, ddof=1), "paths": int(y.shape[0]), "diverged": int(data["diverged"])}  # fmt: skip


def model_values(truth, sd, paths, rng) -> dict:
    """Per-path values of Y with mean ``truth`` (G,) and sd ``sd`` (G,): independent Gaussians (the stated model)."""
    truth = np.asarray(truth, dtype=float)
    y = rng.standard_normal((paths, truth.size))
    y *= np.asarray(sd, dtype=float)  # in place: the arrays are large at the standard profile
    y += truth
    return {"y": y, "diverged": 0}


def moved_truth(target, exact, x, x0, shift):
    """``target + (exact - target) (x / x0)^shift``: the exact error's log-log slope on x moved by ``shift``."""
    return np.asarray(target) + (np.asarray(exact) - np.asarray(target)) * (x / x0) ** shift


def weak_error_row(name, summary, target, exact, level, fail_level):
    """The measured weak error ``max_j |mean_j - target_j|`` with its simultaneous CIs at ``level`` and
    ``fail_level`` (context row); returns the row and both :class:`~diffapprox.stats.Estimate`."""
    n = summary["paths"]
    diff = np.asarray(summary["mean"]) - target
    se = np.asarray(summary["sd"]) / math.sqrt(n)
    est, est_fail = max_abs_ci(diff, se, level), max_abs_ci(diff, se, fail_level)
    row = measurement(
        name, est, prediction=exact, judged=False, diverged=summary.get("diverged", 0),
        note=f"max over the record times of |mean phi - SME|, {n} paths; prediction: the exact weak error",
    )  # fmt: skip
    return row, est, est_fail


def z_simultaneous(level: float, K: int) -> float:
    """Normal quantile of a CI over ``K`` record times at simultaneous level ``level`` (Bonferroni)."""
    return float(_st.norm.ppf(1 - (1 - level) / (2 * K)))


def paths_for(error: float, sd: float, K: int, z: float, budget: float, rel_size: float, rel_fit: float) -> int:
    """Paths for relative half-width ``rel_size`` on ``error`` within ``budget`` path-steps; 0 if not even
    ``rel_fit`` is affordable (the step size then runs at its claim's minimum and is left out of the fit)."""
    n = [math.ceil((z * sd / (r * error)) ** 2) for r in (rel_size, rel_fit)]
    return min(n[0], int(budget // K)) if n[1] * K <= budget else 0


def fit_plan(xs, errors, sds, paths, zs, rel: float, level: float) -> dict:
    """The planner of a log-log weak-error fit over ``xs``, fixed before the run.

    Each x is planned by :func:`diffapprox.limits.plan_weak_errors` (resolvable: half-width at most ``rel``
    of the error); over the resolvable ones, the exact slope and the slope row's stated effect: the box
    CI's planned half-width plus the detectable effect of the slope's planned noise at ``level``.
    """
    plans = [plan_weak_errors([x], [e], [s], [n], z=z, rel=rel)[0] for x, e, s, n, z in zip(xs, errors, sds, paths, zs)]
    inc = [p.resolvable for p in plans]
    effect = slope = math.nan
    lx = np.log([x for x, i in zip(xs, inc) if i])
    if lx.size >= 2:
        rel_hw = np.array([p.halfwidth / p.error for p in plans if p.resolvable])
        rel_se = rel_hw / np.array([z for z, i in zip(zs, inc) if i])
        a = (lx - lx.mean()) / ((lx - lx.mean()) ** 2).sum()
        hw = float(np.abs(a) @ np.log1p(rel_hw / (1 - rel_hw)))
        effect = hw + detectable_effect(float(np.sqrt((a * a) @ rel_se**2)), level=level)
        slope = float(np.polyfit(lx, np.log([p.error for p in plans if p.resolvable]), 1)[0])
    return {"plans": plans, "included": inc, "effect": effect, "exact_slope": slope}
