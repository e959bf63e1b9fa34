"""Every prediction of the paper for one problem, as the JSON of ``diffapprox theory``."""

from __future__ import annotations

import math

import numpy as np

from .._core.errors import DiffapproxError, check_int, check_range
from .._core.jsonio import jsonable
from .._engine.problem import StreamingPCA
from .ode import ode_closed_form
from .paper import (
    N1,
    N2,
    N3,
    N3_hat,
    N3_tilde,
    T1,
    T2,
    T3,
    VERSIONS,
    _mu,
    _pos,
    _unit,
    lemma31_norm_bound,
    lemma31_step_bound,
    tau_threshold_ode,
    tau_threshold_sde,
    why_undefined,
)
from .finite_step import predictions
from .sde import stationary_variance
from .stability import max_stable_delay

__all__ = ["THEORY_SCHEMA", "theory_summary"]

#: Schema tag of :func:`theory_summary` / ``diffapprox theory``.
THEORY_SCHEMA = "diffapprox.theory/1"


def theory_summary(
    problem: StreamingPCA,
    *,
    mu: float,
    eta: float,
    delta: float,
    nu: float,
    epsilon: float,
    gamma: float,
    h0=None,
    times=(0.0,),
    tau: int = 0,
    delay="const:0",
) -> dict:
    """Every prediction of the paper (and the exact stability boundary) for one problem.

    Returns the JSON-ready dict printed by ``diffapprox theory``: ``schema``, ``eigenvalues``, ``alpha``, ``phi``, ``C_d`` (None when unbounded),
    ``stationary_variance`` (None at index 0), ``T1``/``T3`` (``main``/``appendix``), ``T2``,
    ``N1``, ``N2``, ``N3``, ``tau_threshold`` {``ode``, ``sde``}, ``max_stable_delay``
    {``overall``, ``per_mode``, ...}, ``ode`` {``times``, ``h``};
    ``stationary_variance_linear`` and ``stationary_variance_finite_step`` (``E[h_i^2]/eta`` per
    coordinate at the delay law ``delay``, like ``stationary_variance``: None at index 0, and
    everywhere, with a note, when the linearised recursion is not stable at that law) with the
    finite-step model's details under ``finite_step``; plus ``N3_hat``, ``N3_tilde``
    (with ``eta0 = eta/(1-mu)``, Prop. 3.6's ``eta = (1-mu) eta0``), ``lemma_3_1`` (at delay
    ``tau``), ``parameters`` and ``notes`` (why each null formula is undefined).
    NaN becomes None.
    """
    if not isinstance(problem, StreamingPCA):
        raise DiffapproxError("problem", "a StreamingPCA", type(problem).__name__)
    mu, eta, delta, nu, epsilon = (
        _mu(mu),
        _pos("eta", eta),
        _unit("delta", delta),
        _unit("nu", nu),
        _pos("epsilon", epsilon),
    )
    gamma = check_range("gamma", gamma, 0.0, 1.0, lo_open=True)
    tau = check_int("tau", tau, 0)
    lin, fin = predictions(problem, mu=mu, eta=eta, delay=delay)
    h0 = np.ones(problem.d) if h0 is None else h0
    notes: dict[str, str] = {}

    def val(name: str, fn, key: str | None = None, *, at: str | None = None, **kw):
        # notes are keyed by the JSON path of the value (``at`` when it differs from the formula's name)
        label = (at or name) if key is None else f"{at or name}.{key}"
        try:
            x = fn(problem, **kw)
        except DiffapproxError as exc:
            if exc.param != "gamma":
                raise
            notes[label] = f"not defined for gamma={gamma:g}: {exc}"
            return math.nan
        if not math.isfinite(x):
            why = why_undefined(name, problem, **kw)
            notes[label] = why or "not finite"
        return x

    common = dict(mu=mu, eta=eta, delta=delta)
    eta0 = eta / (1.0 - mu)
    out = {
        "schema": THEORY_SCHEMA,
        "parameters": {
            "data": problem.data,
            "mu": mu,
            "eta": eta,
            "delta": delta,
            "nu": nu,
            "epsilon": epsilon,
            "gamma": gamma,
            "tau": tau,
            "delay": lin.delay,
            "eta0": eta0,
            "conventions": "every asymp/lesssim constant is 1; indices in per_mode are the paper's "
            "(1-based); N3_hat/N3_tilde use eta0 = eta/(1-mu)",
        },
        "eigenvalues": problem.eigenvalues.tolist(),
        "alpha": problem.alpha.tolist(),
        "phi": problem.phi,
        "C_d": problem.C_d,
        "stationary_variance": stationary_variance(problem, mu).tolist(),
        "stationary_variance_linear": lin.variance.tolist(),
        "stationary_variance_finite_step": fin.variance.tolist(),
        "finite_step": {
            "delay": lin.delay,
            "stable": lin.stable,
            "norm2": fin.norm2,
            "gain": fin.gain.tolist(),
            "noise": fin.noise.tolist(),
            "kurtosis": fin.kurtosis.tolist(),
            "iterations": fin.iterations,
            "models": "linear: eq. (2.1) linearised at e1, additive noise alpha_i1^2, exact second moments for the "
            "delay law; finite_step: the state-dependent noise and normalisation drift kept under a stated closure "
            "(diffapprox.finite_step_prediction)",
        },
        "T1": {v: val("T1", T1, v, nu=nu, version=v, **common) for v in VERSIONS},
        "T2": val("T2", T2, mu=mu, delta=delta),
        "T3": {v: val("T3", T3, v, epsilon=epsilon, version=v, **common) for v in VERSIONS},
        "N1": val("N1", N1, nu=nu, epsilon=epsilon, gamma=gamma, **common),
        "N2": val("N2", N2, mu=mu, delta=delta, epsilon=epsilon, gamma=gamma),
        "N3": val("N3", N3, epsilon=epsilon, gamma=gamma, **common),
        "N3_hat": val("N3_hat", N3_hat, eta0=eta0, delta=delta, epsilon=epsilon, gamma=gamma),
        "N3_tilde": val("N3_tilde", N3_tilde, eta0=eta0, delta=delta, epsilon=epsilon),
        "tau_threshold": {
            "ode": val("tau_threshold_ode", tau_threshold_ode, "ode", at="tau_threshold", mu=mu, eta=eta, gamma=gamma),
            "sde": val("tau_threshold_sde", tau_threshold_sde, "sde", at="tau_threshold", mu=mu, eta=eta, gamma=gamma),
        },
        "lemma_3_1": {
            "tau_max": tau,
            "norm_sq_bound": lemma31_norm_bound(mu=mu, eta=eta, tau_max=tau),
            "step_bound": lemma31_step_bound(problem, mu=mu, eta=eta),
        },
        "max_stable_delay": max_stable_delay(problem, mu=mu, eta=eta).as_dict(),
    }
    t = np.atleast_1d(np.asarray(times, dtype=float))
    out["ode"] = {"times": t.tolist(), "h": ode_closed_form(problem, h0, mu, t).tolist()}
    if not math.isfinite(out["lemma_3_1"]["step_bound"]):
        notes["lemma_3_1.step_bound"] = "C_d is infinite (unbounded data: Assumption 2 fails)"
    for name, v in out["max_stable_delay"]["per_mode"].items():
        if v is None:
            notes[f"max_stable_delay.{name}"] = "unstable even without delay (gain >= 2(1+mu))"
    for key, pred in (("stationary_variance_linear", lin), ("stationary_variance_finite_step", fin)):
        if pred.note and not np.all(np.isfinite(pred.variance[1:])):
            notes[key] = pred.note
    if not math.isfinite(fin.norm2):
        notes["finite_step.norm2"] = fin.note
    out["notes"] = notes
    return jsonable(out)
