"""Stochastic modified equations (SMEs) of the registry's algorithms, their exact laws and a weak-order-2 scheme.

For SGD with step eta on ``f`` with gradient-noise covariance ``Sigma(x)`` (Li, Tai and E, JMLR 2019):

* order 1 (their eq. 6):  ``dX = -grad f(X) dt + sqrt(eta) Sigma(X)^(1/2) dB``;
* order 2 (their eq. 7, Sigma constant):  ``dX = -grad(f + eta/4 |grad f|^2)(X) dt + sqrt(eta) Sigma^(1/2) dB``,
  i.e. drift ``-(I + eta/2 Hess f) grad f``.

Heavy-ball momentum mu at step eta, order 1: the effective step eta/(1-mu) in drift and noise,
``dX = -grad f(X)/(1-mu) dt + sqrt(eta) Sigma^(1/2)/(1-mu) dB`` (time t = k eta).  No order-2 SME of
heavy-ball is stated here (it is not derived and verified in this package).  Async-MSGD with a
delay of mean tau has the same order-1 SME: the delay moves the gradient by O(tau eta), a
higher-order term.  SVAG(l) of an algorithm has the SME of the algorithm (Li, Malladi, Arora 2021).

On a linear gradient ``H (x - c) + S xi`` the SME is an Ornstein-Uhlenbeck process with exact
Gaussian law (:meth:`SME.moments`; the stationary covariance solves the continuous Lyapunov
equation ``A P + P A^T = D``).  Elsewhere (additive noise: Sigma constant) a seeded weak-order-2
scheme simulates it (:func:`sme_paths`: the stochastic Heun scheme, weak order 2 for additive noise,
Kloeden and Platen 1992, Section 15.1), and :func:`sme_expectation` checks the scheme's own step by
halving it with shared Brownian increments.

:func:`plan_weak_errors` decides, before a run, which step sizes a weak-error fit can resolve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from .._core.errors import DiffapproxError, check_int, check_range
from .._engine.iterate import Paths
from .._engine.protocol import Algorithm, Problem, TestFunction

__all__ = ["SME", "sme", "sme_paths", "sme_expectation", "SchemeCheck", "WeakErrorPlan", "plan_weak_errors"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SME:
    """The SME of order ``order`` of ``algorithm`` on ``problem`` (build it with :func:`sme`).

    Attributes
    ----------
    problem : Problem
    algorithm : Algorithm
    order : int
        1 or 2: the weak order of the approximation (error O(eta^order) on fixed time intervals).
    equation : str
        The SDE, as text, with its source.
    """

    problem: Problem
    algorithm: Algorithm
    order: int
    equation: str

    @property
    def drift_scale(self) -> float:
        """``1/(1-mu)``: the drift is ``-drift_scale (grad f + correction * Hess f grad f)``."""
        return 1.0 / (1.0 - self.algorithm.mu)

    @property
    def correction(self) -> float:
        """``eta/2`` for the order-2 SME of SGD (``grad(eta/4 |grad f|^2) = eta/2 Hess f grad f``), else 0."""
        return 0.5 * self.algorithm.eta if self.order == 2 else 0.0

    def diffusion(self, x=None) -> np.ndarray:
        """``sqrt(eta) Sigma(x)^(1/2)/(1-mu)`` (d, d) (symmetric square root)."""
        x = np.zeros(self.problem.dim) if x is None else x
        w, v = np.linalg.eigh(self.problem.sigma(x))
        root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
        return math.sqrt(self.algorithm.eta) * self.drift_scale * root

    def ou(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(A, c, D)`` of ``dX = -A (X - c) dt + D^(1/2) dB`` on a linear gradient (D = diffusion covariance)."""
        lin = self.problem.linear
        if lin is None:
            raise DiffapproxError("problem", "a linear gradient for the Ornstein-Uhlenbeck form", self.problem.name)
        A = self.drift_scale * (lin.H + self.correction * lin.H @ lin.H)
        D = self.algorithm.eta * self.drift_scale**2 * lin.sigma
        return A, lin.center, D

    def moments(self, x0, times) -> tuple[np.ndarray, np.ndarray]:
        """Exact mean (n, d) and covariance (n, d, d) of X at ``times`` (linear gradient, A symmetric)."""
        A, c, D = self.ou()
        a, Q = np.linalg.eigh(0.5 * (A + A.T))
        t = np.asarray(times, dtype=float).reshape(-1)
        y0 = Q.T @ (np.asarray(x0, dtype=float) - c)
        mean = c + (np.exp(-np.outer(t, a)) * y0) @ Q.T
        s = a[:, None] + a[None, :]
        safe = np.where(s == 0.0, 1.0, s)
        grow = np.where(s == 0.0, t[:, None, None], -np.expm1(-safe * t[:, None, None]) / safe)
        cov = np.einsum("ij,njk,lk->nil", Q, (Q.T @ D @ Q) * grow, Q)
        return mean, cov

    def expect(self, phi: TestFunction, x0, times) -> np.ndarray:
        """Exact ``E phi(X_t)`` (n,) on a linear gradient, for a test function with a Gaussian closed form."""
        if phi.gaussian_mean is None:
            raise DiffapproxError("phi", "a test function with a Gaussian closed form", phi.name)
        mean, cov = self.moments(x0, times)
        return phi.gaussian_mean(mean, cov)

    def stationary_cov(self) -> np.ndarray:
        """The stationary covariance of the OU SME (continuous Lyapunov ``A P + P A^T = D``)."""
        A, _, D = self.ou()
        if np.min(np.linalg.eigvals(A).real) <= 0:
            raise DiffapproxError("problem", "a positive definite H (a stationary law)", "an H with eigenvalue <= 0")
        P = scipy.linalg.solve_continuous_lyapunov(A, D)
        return 0.5 * (P + P.T)


def sme(problem: Problem, algorithm: Algorithm, order: int = 1) -> SME:
    """The order-``order`` SME of ``algorithm`` on ``problem`` (see the module docstring).

    Raises
    ------
    DiffapproxError
        Order 2 of a momentum method (not derived here), or an order other than 1 or 2.
    """
    order = check_int("order", order, 1, 2)
    if order == 2 and algorithm.kind != "sgd":
        raise DiffapproxError("order", "1 for momentum methods (no order-2 SME of heavy-ball is derived here)", order)
    if algorithm.kind == "sgd":
        drift = "-grad f" if order == 1 else "-grad(f + eta/4 |grad f|^2)"
        eq = f"dX = {drift}(X) dt + sqrt(eta) Sigma^(1/2) dB (Li, Tai, E 2019, eq. {6 if order == 1 else 7})"
    else:
        eq = "dX = -grad f(X)/(1-mu) dt + sqrt(eta) Sigma^(1/2)/(1-mu) dB (heavy-ball, effective step eta/(1-mu))"
    if algorithm.ell > 1:
        eq += f"; SVAG({algorithm.ell}) keeps the base algorithm's SME (Li, Malladi, Arora 2021)"
    return SME(problem=problem, algorithm=algorithm, order=order, equation=eq)


# ----------------------------------------------------------------------------- weak-order-2 scheme
def sme_paths(
    model: SME,
    x0,
    *,
    time: float,
    dt: float,
    paths: int,
    seed: int,
    record_every: int = 1,
    passage=None,
    stop_at_passage: bool = False,
    record: bool = True,
    substeps: int = 1,
) -> Paths:
    """Paths of the SME by the stochastic Heun scheme (weak order 2 for additive noise), seeded per path.

    Parameters
    ----------
    model : SME
        Its problem must state ``mean_grad`` (and ``hessian`` for order 2), and Sigma constant.
    x0 : array_like, shape (d,)
    time : float
        Horizon; ``round(time/dt)`` steps.
    dt : float
    paths, seed : int
        Path ``i``'s Brownian increments depend only on ``(seed, i)``.
    record_every : int
        Steps between records.
    passage, stop_at_passage, record
        As in :func:`~diffapprox.simulate_algorithm`.
    substeps : int
        Each step sums ``substeps`` fine Gaussian increments of ``dt/substeps``: the run at ``dt`` with
        ``substeps=2`` and the run at ``dt/2`` with ``substeps=1`` share their Brownian path (the
        step-halving check).

    Returns
    -------
    Paths
        ``times`` in the SME's time; ``passage_time = passage_step * dt``.
    """
    pr = model.problem
    if pr.mean_grad is None or (model.order == 2 and pr.hessian is None):
        raise DiffapproxError("problem", "a problem stating mean_grad (and hessian for order 2)", pr.name)
    dt = check_range("dt", dt, 0.0, None, lo_open=True)
    steps = check_int("steps", int(round(check_range("time", time, 0.0, None, lo_open=True) / dt)), 1, 2**40)
    paths = check_int("paths", paths, 1)
    record_every = check_int("record_every", record_every, 1)
    x = np.ascontiguousarray(np.broadcast_to(np.asarray(x0, dtype=float).reshape(-1), (paths, pr.dim)))
    pc, pl, ps = (-1, 0.0, 1.0) if passage is None else (int(passage[0]), float(passage[1]), float(passage[2]))
    n_rec = steps // record_every + 1 if record else 0
    rec = np.empty((paths, n_rec, pr.dim))
    pas = np.full(paths, -1, dtype=np.int64)
    from .heun import heun_paths, no_hessian

    hess = pr.hessian if pr.hessian is not None else no_hessian()
    heun_paths(pr.mean_grad, hess, pr.par.copy(), x, model.drift_scale, model.correction,
                np.ascontiguousarray(model.diffusion()), dt, steps, check_int("substeps", substeps, 1), np.uint64(seed), record_every,
                pc, pl, ps, bool(stop_at_passage), rec, pas)  # fmt: skip
    times = np.arange(steps // record_every + 1) * record_every * dt
    none = np.full(paths, -1, dtype=np.int64)
    params = {"sme": model.equation, "dt": dt, "steps": steps, "paths": paths, "seed": int(seed), "scheme": "Heun"}
    return Paths(
        times=times, x=rec, diverged=none >= 0, diverged_step=none, passage_step=pas,
        passage_time=np.where(pas >= 0, pas * dt, np.nan), parameters=params,
    )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class SchemeCheck:
    """``E phi(X_t)`` by the Heun scheme at ``dt/2``, with its own step checked by halving.

    Attributes
    ----------
    times : ndarray (n,)
    value : ndarray (n,)
        Mean over paths at step ``dt/2``.
    se : ndarray (n,)
        Its Monte-Carlo standard error.
    halving : ndarray (n,)
        Mean of ``phi(X^dt) - phi(X^(dt/2))`` over paths sharing their Brownian path.
    halving_se : ndarray (n,)
    bias_bound : ndarray (n,)
        ``(|halving| + 3 halving_se)/3``: for a weak-order-2 scheme the bias at ``dt/2`` is about a third
        of the difference between ``dt`` and ``dt/2``.
    """

    times: np.ndarray
    value: np.ndarray
    se: np.ndarray
    halving: np.ndarray
    halving_se: np.ndarray
    bias_bound: np.ndarray


def sme_expectation(model: SME, phi: TestFunction, x0, *, time: float, dt: float, paths: int, seed: int,
                    record_every: int = 1) -> SchemeCheck:  # fmt: skip
    """``E phi(X_t)`` of the SME by the seeded Heun scheme, its step checked by halving (shared increments)."""
    fine = sme_paths(model, x0, time=time, dt=dt / 2, paths=paths, seed=seed, record_every=2 * record_every)
    coarse = sme_paths(model, x0, time=time, dt=dt, paths=paths, seed=seed, record_every=record_every, substeps=2)
    a, b = phi.f(fine.x), phi.f(coarse.x)
    n = math.sqrt(paths)
    h = b - a
    hm, hs = h.mean(axis=0), h.std(axis=0, ddof=1) / n
    return SchemeCheck(
        times=coarse.times,
        value=a.mean(axis=0),
        se=a.std(axis=0, ddof=1) / n,
        halving=hm,
        halving_se=hs,
        bias_bound=(np.abs(hm) + 3.0 * hs) / 3.0,
    )


# ----------------------------------------------------------------------------- the planner
@dataclass(frozen=True, slots=True, kw_only=True)
class WeakErrorPlan:
    """Whether a weak error ``e`` is resolvable with ``paths`` paths, decided before the run.

    Attributes
    ----------
    eta : float
    error : float
        Predicted weak error.
    sd : float
        Predicted standard deviation of one path's estimator where the error peaks.
    paths : int
    halfwidth : float
        ``z sd / sqrt(paths)``, the predicted half-width of the simultaneous CI.
    resolvable : bool
        ``halfwidth <= rel * error``.
    paths_needed : int
        ``ceil((z sd / (rel error))^2)``: what an unresolvable eta would need.
    """

    eta: float
    error: float
    sd: float
    paths: int
    halfwidth: float
    resolvable: bool
    paths_needed: int

    def describe(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


def plan_weak_errors(etas, errors, sds, paths, *, z: float, rel: float) -> list[WeakErrorPlan]:
    """Plan a weak-error fit: which eta are resolvable to a relative half-width ``rel``, and what the others need.

    Parameters
    ----------
    etas, errors, sds : sequences of float
        Step sizes, predicted weak errors (e.g. closed forms, or the order times a constant) and
        predicted per-path standard deviations of the estimator at the error's peak.
    paths : int or sequence of int
        Paths per eta.
    z : float
        Quantile of the simultaneous CI (e.g. Bonferroni over the steps and the etas).
    rel : float
        Largest relative half-width for an eta to enter the fit.
    """
    z = check_range("z", z, 0.0, None, lo_open=True)
    rel = check_range("rel", rel, 0.0, 1.0, lo_open=True, hi_open=True)
    n = np.broadcast_to(np.asarray(paths, dtype=np.int64), np.shape(etas))
    out = []
    for eta, e, sd, p in zip(etas, errors, sds, n):
        hw = z * float(sd) / math.sqrt(int(p))
        need = math.ceil((z * float(sd) / (rel * float(e))) ** 2) if e > 0 else 2**62
        out.append(
            WeakErrorPlan(
                eta=float(eta),
                error=float(e),
                sd=float(sd),
                paths=int(p),
                halfwidth=hw,
                resolvable=bool(hw <= rel * e),
                paths_needed=int(max(need, 2)),
            )  # fmt: skip
        )
    return out
