"""Claim ``traverse-time``: Proposition 3.8 (A.7) -- Phase II, from H_1^2 = delta^2 to H_1^2 >= 1 - delta^2.

Start at ``h0 = (delta, sqrt(1 - delta^2), 0, 0)`` (Prop. 3.8 "after restarting the counter of
time, H^1(0) = delta", the rest on the saddle direction e_2 it left), with ``delta^2 = KAPPA eta``.

* ``traverse_probability/law=L/mu=M/tau=T`` (judged, version 3): the fraction of paths with
  ``h_1^2/||h||^2 >= 1 - delta^2`` at the first record at or after
  ``T2 = (1-mu)/(2(lambda_1-lambda_2)) log((1-delta^2)/delta^2)`` -- Prop. 3.8's fixed-time event
  ``P((H^1(T2))^2 >= 1 - delta^2) >= 3/4`` -- against the stated ``>= 3/4``, a sufficient
  condition: one-sided band ``[0.75, 1]`` with the truth on its edge in the null control.  A
  diverged path counts as not arrived.
* ``traverse_time_vs_ode/...`` (context): the median first-passage time against the time the ODE
  (3.2) closed form itself needs (root of H_1(t)^2 = 1 - delta^2 from h0), band +-10%; its ratio
  to T2 is in the note.  The ODE needs 2 T2: the limit control (every path on the ODE) FAILs
  the paper's T2, a finding about the paper.

Rows under ``v2/`` recompute the version-2 rule (first passage by T2 over the finite paths, 95%
CI) on the same data.  Delays: tau = 0 and Prop. 3.8's ``floor((1-mu)^2/(lambda_1
eta^(1-gamma)))``, gamma = 1/4.
"""

from __future__ import annotations

import math
from itertools import product
from functools import cache, lru_cache

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtri

from diffapprox.limits import T2
from diffapprox import Claim, Findings, HistoryEntry, simulate, stats
from diffapprox.limits import ode_closed_form

from . import _controls as ctl
from .._common import (
    FAMILY_ALPHA,
    LAWS,
    SPECTRUM_SOURCE,
    claim_title,
    new_figure,
    num,
    problem,
    save_figure,
    family_level_history,
    seed_history,
    tag,
    tau_ode_at,
)

ETA = 5e-4
KAPPA = 100.0
MUS = (0.0, 0.5)
GAMMA = 0.25
PROB = 0.75
BAND = 0.10
HORIZON_FACTOR = 3.0  # run until 3 x the ODE time 2 T2
RECORD_EVERY = 10
PATHS = {"quick": 256, "standard": 2048, "paper": 8192}
#: The alternative control moves the judged truth below the band (fewer paths arrived by T2).
DIRECTION = -1.0


def _delta2() -> float:
    return KAPPA * ETA


def _h0() -> np.ndarray:
    d2 = _delta2()
    return np.array([math.sqrt(d2), math.sqrt(1 - d2), 0.0, 0.0])


@lru_cache(maxsize=None)
def _ode_time(mu: float) -> float:
    """Time the ODE (3.2) closed form needs from h0 to H_1^2 = 1 - delta^2."""
    d2 = _delta2()

    def f(t):
        return float(ode_closed_form(problem(), _h0(), mu, [t])[0, 0] ** 2) - (1 - d2)

    return brentq(f, 0.0, 100.0, xtol=1e-10)


def _t2(law: str, mu: float) -> float:
    return T2(problem(law), mu=mu, delta=math.sqrt(_delta2()))


def _t2_index(law: str, mu: float) -> int:
    """Index of the first record at or after T2."""
    return int(math.ceil(_t2(law, mu) / (RECORD_EVERY * ETA) - 1e-9))


def _steps(mu: float) -> int:
    horizon = HORIZON_FACTOR * 2 * _t2("gaussian", mu)
    return int(math.ceil(horizon / ETA / RECORD_EVERY)) * RECORD_EVERY


def _grid():
    for law, mu in product(LAWS, MUS):
        for tau in sorted({0, tau_ode_at(mu, ETA, GAMMA)}):
            yield law, mu, tau


@cache
def _level() -> float:
    return stats.row_level(len(list(_grid())), FAMILY_ALPHA)


class TraverseTime(Claim):
    id = "traverse-time"
    order = 120
    paper_ref = "Proposition 3.8, A.7"
    statement = (
        "After escaping (H_1^2 = delta^2, delta ~ sqrt(eta)), H_1^2 >= 1 - delta^2 by "
        "T2 = (1-mu)/(2(lambda1-lambda2)) log((1-delta^2)/delta^2) with probability >= 3/4, "
        "for tau <~ (1-mu)^2/(lambda1 eta^(1-gamma))."
    )
    history = (
        seed_history("FAIL"),
        HistoryEntry(
            date="2026-11-29",
            version=3,
            change=(
                "judged Prop. 3.8's fixed-time event H_1(T2)^2 >= 1 - delta^2 (fraction of every path at the "
                "first record at or after T2) instead of the first passage by T2; Bonferroni row levels, a "
                "stated effect, diverged paths counted as not arrived"
            ),
            reason="Prop. 3.8 states a probability at the fixed time T2, not a first-passage probability",
            old_rows=("v2/",),
        ),
        family_level_history(4, "FAIL", "8 FAIL"),
    )

    def parameters(self, profile: str) -> dict:
        return {
            "problem": SPECTRUM_SOURCE,
            "eta": ETA,
            "delta2": _delta2(),
            "delta_rule": f"delta^2 = {KAPPA:g} eta",
            "start_h0": _h0().tolist(),
            "mus": list(MUS),
            "laws": list(LAWS),
            "taus": [list(g) for g in _grid()],
            "tau_rule": f"0 or floor((1-mu)^2/(lambda1 eta^(1-gamma))), gamma={GAMMA}, constant 1",
            "T2": {num(mu): _t2("gaussian", mu) for mu in MUS},
            "ode_time": {num(mu): _ode_time(mu) for mu in MUS},
            "event": "h_1^2/||h||^2 >= 1 - delta^2 at the first record at or after T2 (fixed time)",
            "probability_band": [PROB, 1.0],
            "effect": "exact binomial: the shortfall below 0.75 a Wilson CI detects with power 0.8",
            "ode_band_relative": BAND,
            "paths": PATHS[profile],
            "record_every": RECORD_EVERY,
            "horizon": f"{HORIZON_FACTOR} x the ODE time 2 T2",
            "judged_rows": len(list(_grid())),
            "ci_level": _level(),
        }

    def cells(self, profile: str, seed: int):
        out = []
        for law, mu, tau in _grid():
            steps = _steps(mu)
            params = {"law": law, "mu": mu, "tau": tau, "steps": steps, "paths": PATHS[profile]}
            params["t2_index"] = _t2_index(law, mu)
            out.append(self.make_cell(tag(law=law, mu=mu, tau=tau), params, seed, cost=steps * PATHS[profile]))
        return out

    def run_cell(self, cell) -> dict:
        p = cell.params
        traj = simulate(
            problem(p["law"]),
            mu=p["mu"],
            eta=ETA,
            steps=p["steps"],
            paths=p["paths"],
            delay=f"const:{p['tau']}",
            record_every=RECORD_EVERY,
            start=_h0(),
            seed=cell.seed,
            passages=[(0, 1 - _delta2(), 1)],
            record_h=False,
        )
        ok = traj.finite
        j = p["t2_index"]
        return {
            "n_paths": p["paths"],
            "n_finite": int(ok.sum()),
            "horizon": p["steps"] * ETA,
            "t_fixed": float(traj.times[j]),
            "k_fixed": int(np.sum(ok & (traj.error[:, j] <= _delta2()))),  # diverged paths: not arrived
            "k": traj.passage[ok][:, 0],
            "mean_err": traj.error[ok].mean(axis=0),
            "times": traj.times,
        }

    # -- predict / measure ----------------------------------------------------------------
    def predict(self, profile: str) -> dict:
        return {"T2": {mu: _t2("gaussian", mu) for mu in MUS}, "ode_time": {mu: _ode_time(mu) for mu in MUS}}

    def measure(self, profile, seed, results, prediction):
        ms = []
        for law, mu, tau in _grid():
            suf = tag(law=law, mu=mu, tau=tau)
            r, t2, t_ode = results[suf], prediction["T2"][mu], prediction["ode_time"][mu]
            ms += [_fixed_row(r, suf, t2, PATHS[profile]), _ode_row(r, suf, t2, t_ode), _v2_row(r, suf, t2)]
        return ms

    # -- figures / findings -------------------------------------------------------------------
    def figures(self, profile, results, measurements, figdir):
        fig, axes = new_figure(ncols=2, size=(5.4, 4.2))
        combos = list(dict.fromkeys((mu, tau) for _, mu, tau in _grid()))
        styles = dict(zip(LAWS, ("-", "--")))
        for law, mu, tau in _grid():
            r, col, ls = results[tag(law=law, mu=mu, tau=tau)], f"C{combos.index((mu, tau))}", styles[law]
            ts = np.sort(_first_passage(r)) / _t2(law, mu)
            lab = f"{law}, mu={num(mu)}, tau={tau}"
            axes[0, 0].step(ts, np.arange(1, ts.size + 1) / ts.size, where="post", color=col, ls=ls, lw=1.2, label=lab)
            err = np.maximum(1 - np.asarray(r["mean_err"]), 1e-6)
            axes[0, 1].semilogy(np.asarray(r["times"]), err, lw=1, color=col, ls=ls)
        ax = axes[0, 0]
        ax.axhspan(PROB, 1.0, color="0.9", zorder=0, label=f"Prop. 3.8: >= {PROB:g} at T2")
        ax.axvline(1.0, color="k", lw=0.8, label="T2 (Prop. 3.8)")
        ax.axvline(_ode_time(MUS[0]) / _t2("gaussian", MUS[0]), color="k", lw=0.8, ls=":", label="ODE (3.2) time")
        ax.set(xlim=(0, 3), xlabel="time / T2", ylabel="fraction of paths arrived (first passage)")
        ax.set_title("judged: fraction with h_1^2/||h||^2 >= 1 - delta^2 at T2 (x = 1)", fontsize=9)
        ax.legend(fontsize=6.5, loc="upper left")
        ax = axes[0, 1]
        for mu in MUS:
            ax.axvline(_t2("gaussian", mu), color="0.3", lw=0.8)
            ax.axvline(_ode_time(mu), color="0.3", lw=0.8, ls=":")
        ax.set(xlabel="time t = k eta", ylabel="mean h_1^2/||h||^2  (log)")
        ax.set_title("mean alignment; solid / dotted verticals: T2 / ODE time per mu", fontsize=9)
        sub = f"phase II traverse from h_1^2 = delta^2 = {_delta2():.3g} to 1 - delta^2 (colour: mu, tau; style: law)"
        claim_title(fig, self, sub, fontsize=9)
        return save_figure(fig, figdir, "traverse_time")

    def findings(self, profile, results, measurements) -> Findings:
        by = {m.name: m for m in measurements}
        out = []
        for law, mu, tau in _grid():
            suf = tag(law=law, mu=mu, tau=tau)
            p, med, t2 = by[f"traverse_probability/{suf}"], by[f"traverse_time_vs_ode/{suf}"], _t2(law, mu)
            out.append(
                f"{suf}: P(arrived at T2={t2:.3g}) = {p.estimate:.3f}; median first-passage time {med.estimate:.4g} "
                f"= {med.estimate / t2:.3f} T2 = {med.estimate / med.prediction:.3f} x ODE time"
            )
        return Findings(findings=out, inconsistencies=[INCONSISTENCY])

    # -- controls -------------------------------------------------------------------------------
    def synthetic(self, profile, kind, rng):
        n = PATHS[profile]
        if kind == "limit":
            return {tag(law=a, mu=b, tau=c): _limit_cell(a, b, n) for a, b, c in _grid()}
        p = PROB + DIRECTION * stats.proportion_effect(PROB, n, level=_level(), direction=DIRECTION)
        truth = p if kind == "alternative" else PROB
        return {tag(law=a, mu=b, tau=c): _control_cell(a, b, n, truth, rng) for a, b, c in _grid()}


INCONSISTENCY = (
    "A.7 solves H_1(T2)^2 >= 1-delta^2 from H(0) = (delta, sqrt(1-delta^2), 0, ...) but the ODE (3.2) "
    "closed form gives exp(2(lambda1-lambda2) t/(1-mu)) = ((1-delta^2)/delta^2)^2, i.e. "
    "t = (1-mu)/(lambda1-lambda2) log((1-delta^2)/delta^2) = 2 T2: the printed T2 is half the "
    "deterministic traverse time (A.7's intermediate inequality compares with eta^-1 (1-delta^2), "
    "a scaling slip)."
)


def _first_passage(r: dict) -> np.ndarray:
    """First-passage times of the finite paths; paths that did not arrive set to 10 x horizon."""
    k = np.asarray(r["k"], dtype=float)
    return np.where(k < 0, 10 * r["horizon"], k * ETA)


def _fixed_row(r, suf: str, t2: float, n: int):
    lv = _level()
    return stats.measurement(
        f"traverse_probability/{suf}",
        stats.proportion_ci(int(r["k_fixed"]), int(r["n_paths"]), lv),
        prediction=PROB,
        band=(PROB, 1.0),
        effect=stats.proportion_effect(PROB, n, level=lv, direction=DIRECTION),
        note=f"fraction of all paths with h_1^2/||h||^2 >= 1-delta^2 at t={r['t_fixed']:.4g} (first record >= "
        f"T2={t2:.4g}); Prop. 3.8: >= 3/4, a sufficient condition (one-sided band); "
        f"{int(r['n_paths']) - int(r['n_finite'])} diverged path(s) counted as not arrived",
    )


def _ode_row(r, suf: str, t2: float, t_ode: float):
    T = _first_passage(r)
    med = stats.quantile_ci(T, 0.5)
    return stats.measurement(
        f"traverse_time_vs_ode/{suf}",
        med,
        None,
        t_ode,
        stats.relative_band(t_ode, BAND),
        judged=False,
        diverged=int(r["n_paths"]) - int(r["n_finite"]),
        note=f"median first-passage time vs the ODE (3.2) time {t_ode:.4g} from h0 (band +-{BAND:.0%}); "
        f"median / T2 = {med.estimate / t2:.3f}; not the paper's statement; "
        f"{int(np.sum(np.asarray(r['k']) < 0))} did not arrive by t={r['horizon']:.3g}",
    )


def _v2_row(r, suf: str, t2: float):
    """The version-2 rule: first passage by T2 over the finite paths, 95% Wilson CI, band [0.75, 1]."""
    T = _first_passage(r)
    pe = stats.proportion_ci(int(np.sum(T <= t2 + 1e-12)), T.size)
    return stats.measurement(f"v2/traverse_probability/{suf}", pe, None, PROB, (PROB, 1.0), judged=False)


def _summary(law, mu, n, k_fixed: int, k: np.ndarray) -> dict:
    t = np.array([0.0, _t2_index(law, mu) * RECORD_EVERY * ETA])
    return {
        "n_paths": n,
        "n_finite": n,
        "horizon": _steps(mu) * ETA,
        "t_fixed": float(t[1]),
        "k_fixed": k_fixed,
        "k": k,
        "mean_err": np.full(2, math.nan),
        "times": t,
    }


def _control_cell(law, mu, n: int, truth: float, rng) -> dict:
    """Null (truth 3/4, the band's edge) or alternative: the arrived count at T2 is Binomial(n, truth);
    first-passage times (context) log-normal around T2 with the same probability of arriving by T2."""
    t2 = _t2(law, mu)
    t = t2 * np.exp(0.05 * (rng.standard_normal(n) - ndtri(truth)))
    return _summary(law, mu, n, ctl.counts(rng, n, truth), np.ceil(t / ETA).astype(np.int64))


def _limit_cell(law, mu, n: int) -> dict:
    """The limit itself: every path on the ODE (3.2) closed form from h0 (deterministic)."""
    j = _t2_index(law, mu)
    h1 = ode_closed_form(problem(law), _h0(), mu, [j * RECORD_EVERY * ETA])[0, 0]
    arrived = n if h1**2 >= 1 - _delta2() else 0
    return _summary(law, mu, n, arrived, np.full(n, int(math.ceil(_ode_time(mu) / ETA)), dtype=np.int64))
