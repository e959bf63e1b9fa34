"""Claim ``delay-threshold``: how the tolerable delay scales with momentum and step size.

Remark 3.11 (with Theorems 3.3 and 3.5): delays must satisfy
tau ~ (1-mu)^2 / ((lambda1 + C_d) eta^(1/2-gamma)), gamma in (0, 1/2] (SDE regime), and
tau ~ (1-mu)^2 / (lambda1 eta^(1-gamma)), gamma in (0, 1] (ODE regime, Thm 3.3).
So tau* = C (1-mu)^p eta^-q with p = 2 and q <= 1/2 (SDE) or q <= 1 (ODE).

Measured here: tau*(mu, eta) on a 4 x 4 grid (eta spanning 8x), started at e1 (phase
III, where the SDE threshold applies) with Gaussian data, Sigma = diag(4, 3, 2, 1).  A
path's error is its time average of ``1 - h_1^2/||h||^2`` over the second half of a run
of K = 20 transverse relaxation times, K = 20 (1-mu) / (2 eta (lambda1 - lambda2)) steps
(a diverged path counts 1).  tau* is the ratio-1.5 criterion of validation/_tradeoff.py
(largest delay whose mean error is within 1.5x of tau = 0).  The delay grid is
geometric around the exact linear-stability limit S(mu, eta) of the radial mode,
tau = round(f S) for f = 2^(j/4), j = -12..5 (0.125 S .. 2.4 S): fixed before any run,
wide enough to contain either candidate law.

Fit: log tau* = log C + p log(1-mu) - q log eta by OLS; CIs by a percentile bootstrap
over paths (every grid point's paths resampled, tau* re-extracted, refitted).
Tolerances, stated before measuring: ``exponent_p`` in [1.75, 2.25] (the paper's
exponent is exact; 0.25 allows for pre-asymptotic curvature over 1-mu in [0.1, 0.5]);
``exponent_q`` in [0, 0.5] (q = 1/2 - gamma for gamma in (0, 1/2]).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from diffapprox import Claim, ClaimOutput, StreamingPCA, derive_seed
from diffapprox import simulate
from diffapprox.stats import measurement

from . import _tradeoff as tradeoff
from ._common import claim_title, log_ticks

MUS = (0.5, 0.7, 0.8, 0.9)
ETAS = (2.5e-4, 5e-4, 1e-3, 2e-3)
ETA_REF = 5e-4
SPECTRUM = (4.0, 3.0, 2.0, 1.0)
FACTORS = tuple(2.0 ** (j / 4) for j in range(-12, 6))
RELAX = 20  # run length in transverse relaxation times
N_REC = 20  # records per run; the second half is averaged
CRITERION = "ratio-1.5"
P_BAND = (1.75, 2.25)
Q_BAND = (0.0, 0.5)
Q_ODE_BAND = (0.0, 1.0)
RATIO_BAND = (2.0 / 3.0, 1.5)
LEVEL = 0.95

_PROFILES = {
    "quick": {"paths": 12, "n_boot": 100},
    "standard": {"paths": 100, "n_boot": 1000},
    "paper": {"paths": 400, "n_boot": 2000},
}


def _taus(mu: float, eta: float) -> list[int]:
    s = tradeoff.stable_delay(mu, eta, SPECTRUM[0])
    return sorted({0} | {max(1, int(round(f * s))) for f in FACTORS})


def _steps(mu: float, eta: float) -> int:
    k = RELAX * (1 - mu) / (2 * eta * (SPECTRUM[0] - SPECTRUM[1]))
    return int(math.ceil(k / N_REC)) * N_REC


def _key(mu, eta, tau) -> str:
    return f"mu={mu:g}/eta={eta:g}/tau={tau}"


class DelayThreshold(Claim):
    id = "delay-threshold"
    order = 30
    history = (tradeoff.seeds_entry(2, "FAIL"),)
    paper_ref = "Remark 3.11; Theorems 3.3 and 3.5"
    statement = (
        "The largest tolerable delay scales as tau* ~ (1-mu)^2 eta^-q with q <= 1/2 "
        "(SDE regime; q <= 1 in the ODE regime)."
    )

    def parameters(self, profile: str) -> dict:
        p = _PROFILES[profile]
        return {
            "spectrum": list(SPECTRUM),
            "data": "gaussian",
            "start": "e1",
            "mus": list(MUS),
            "etas": list(ETAS),
            "paths_per_cell": p["paths"],
            "n_boot": p["n_boot"],
            "steps": {f"mu={m:g}/eta={e:g}": _steps(m, e) for m in MUS for e in ETAS},
            "taus": {f"mu={m:g}/eta={e:g}": _taus(m, e) for m in MUS for e in ETAS},
            "delay_grid": "tau = round(f S), f = 2^(j/4), j=-12..5, S = exact linear-stability limit (radial mode)",
            "error": "time average of 1 - h1^2/||h||^2 over the second half of the run; diverged path = 1",
            "criterion": "ratio-1.5: largest tau whose mean error <= 1.5 x the tau = 0 mean",
            "tolerance": {
                "exponent_p": list(P_BAND),
                "exponent_q": list(Q_BAND),
                "exponent_q/ode (context)": list(Q_ODE_BAND),
                "stability_ratio (context)": list(RATIO_BAND),
            },
            "fit": "OLS of log tau* on log(1-mu), -log eta; percentile bootstrap over paths",
        }

    def cells(self, profile: str, seed: int):
        paths = _PROFILES[profile]["paths"]
        out = []
        for mu in MUS:
            for eta in ETAS:
                k = _steps(mu, eta)
                for tau in _taus(mu, eta):
                    out.append(
                        self.make_cell(
                            _key(mu, eta, tau),
                            {"mu": mu, "eta": eta, "tau": tau, "steps": k, "paths": paths},
                            seed,
                            cost=float(k * paths),
                        )
                    )
        return out

    def run_cell(self, cell) -> dict:
        p = cell.params
        problem = StreamingPCA(spectrum=SPECTRUM, data="gaussian")
        t = simulate(
            problem,
            mu=p["mu"],
            eta=p["eta"],
            steps=p["steps"],
            paths=p["paths"],
            delay=f"const:{p['tau']}",
            record_every=p["steps"] // N_REC,
            start="e1",
            seed=cell.seed,
            record_h=False,
        )
        e = t.error[:, N_REC // 2 + 1 :].mean(axis=1)
        e = np.where(t.diverged, 1.0, e)
        return {"error": e, "diverged": int(t.diverged.sum())}

    def finish(self, profile: str, seed: int, results: dict, figdir: Path) -> ClaimOutput:
        pr = _PROFILES[profile]
        t0 = time.perf_counter()
        pts, star, stab, div = [], {}, {}, {}
        for mu in MUS:
            for eta in ETAS:
                taus = _taus(mu, eta)
                errs = np.array([results[_key(mu, eta, t)]["error"] for t in taus])
                s = tradeoff.tau_star_summary(
                    taus,
                    errs,
                    CRITERION,
                    n_boot=pr["n_boot"],
                    seed=derive_seed(seed, self.id, "tau_star", f"mu={mu:g}/eta={eta:g}"),
                )
                star[(mu, eta)] = s
                stab[(mu, eta)] = tradeoff.stable_delay(mu, eta, SPECTRUM[0])
                div[f"mu={mu:g}/eta={eta:g}"] = [int(results[_key(mu, eta, t)]["diverged"]) for t in taus]
                pts.append((mu, eta))
        a = np.array([1 - m for m, _ in pts])
        e = np.array([x for _, x in pts])
        tp = np.array([star[k]["estimate"] for k in pts])
        reps = np.array([star[k]["reps"] for k in pts]).T
        fit = tradeoff.power_law_boot(a, e, tp, reps, LEVEL)
        sfit = tradeoff.power_law_boot(a, e, np.array([stab[k] for k in pts], float), np.zeros((1, len(pts))), LEVEL)
        meas = []
        how = (
            f"{fit['usable']}/{fit['n_boot']} usable bootstrap resamples; tau* by {CRITERION}; "
            f"{pr['paths']} paths per delay"
        )
        meas.append(measurement("exponent_p", fit["p"], fit["p_ci"], prediction=2.0, band=P_BAND, note=how))
        meas.append(
            measurement(
                "exponent_q",
                fit["q"],
                fit["q_ci"],
                prediction=0.5,
                band=Q_BAND,
                note=how + "; band: q = 1/2 - gamma, gamma in (0, 1/2] (SDE regime)",
            )
        )
        meas.append(
            measurement(
                "exponent_q/ode",
                fit["q"],
                fit["q_ci"],
                prediction=1.0,
                band=Q_ODE_BAND,
                judged=False,
                note="ODE regime (Thm 3.3): q = 1 - gamma, gamma in (0, 1]",
            )
        )
        meas.append(
            measurement(
                "exponent_p/stability",
                sfit["p"],
                (sfit["p"], sfit["p"]),
                prediction=2.0,
                judged=False,
                note="exponent of the exact linear-stability limit on this grid",
            )
        )
        meas.append(
            measurement(
                "exponent_q/stability",
                sfit["q"],
                (sfit["q"], sfit["q"]),
                prediction=0.5,
                judged=False,
                note="exponent of the exact linear-stability limit on this grid",
            )
        )
        for mu in MUS:
            s, S = star[(mu, ETA_REF)], stab[(mu, ETA_REF)]
            ci = (s["ci"][0] / S, s["ci"][1] / S)
            meas.append(
                measurement(
                    f"stability_ratio/mu={mu:g}",
                    s["estimate"] / S,
                    ci,
                    prediction=1.0,
                    band=RATIO_BAND,
                    verdict=tradeoff.band_verdict(ci, RATIO_BAND),
                    judged=False,
                    note=f"tau*/max_stable_delay at eta={ETA_REF:g} (S={S})",
                )
            )
        for k in pts:
            s = star[k]
            meas.append(
                measurement(
                    f"tau_star/mu={k[0]:g}/eta={k[1]:g}",
                    s["estimate"],
                    s["ci"],
                    prediction=float(stab[k]),
                    judged=False,
                    note="prediction = exact linear-stability limit S of the radial mode",
                )
            )

        def inside(v, ci):
            return ci[0] <= v <= ci[1]

        follows = []
        if inside(sfit["p"], fit["p_ci"]) and inside(sfit["q"], fit["q_ci"]):
            follows.append("the linear-stability boundary")
        if inside(2.0, fit["p_ci"]) and fit["q_ci"][0] <= 0.5:
            follows.append("the paper's (1-mu)^2 eta^-1/2 law")
        findings = [
            f"Fit tau* = C (1-mu)^p eta^-q: p = {fit['p']:.2f} [{fit['p_ci'][0]:.2f}, {fit['p_ci'][1]:.2f}], "
            f"q = {fit['q']:.2f} [{fit['q_ci'][0]:.2f}, {fit['q_ci'][1]:.2f}], C = {fit['C']:.3g}; the paper "
            f"predicts p = 2, q <= 1/2 (SDE) / q <= 1 (ODE); the exact linear-stability limit has p = "
            f"{sfit['p']:.2f}, q = {sfit['q']:.2f} on this grid.",
            "tau* follows " + (" and ".join(follows) if follows else "neither candidate law within its CIs") + ".",
            "stability ratios tau*/S at eta=5e-4: "
            + ", ".join(f"mu={m:g}: {star[(m, ETA_REF)]['estimate'] / stab[(m, ETA_REF)]:.2f}" for m in MUS),
            f"{sum(sum(v) for v in div.values())} diverged paths in all (counted as error 1); per cell in "
            "parameters['diverged_paths'].",
        ]
        figs = self._figure(pts, star, stab, fit, figdir)
        params = self.parameters(profile)
        params["diverged_paths"] = div
        params["fit"] = {k: v for k, v in fit.items()}
        params["finish_s"] = round(time.perf_counter() - t0, 3)
        return ClaimOutput(
            measurements=meas,
            figures=figs,
            findings=findings,
            inconsistencies=[
                "Remark 3.11's threshold carries C_d = sup ||X||, infinite for Gaussian data (used in the "
                "paper's own Figure 1 setting as far as can be told); only its shape in (mu, eta) is testable.",
                "The paper's thresholds are sufficient conditions written with 'asymp'; the measured tolerable "
                "delay follows (1-mu)/(eta lambda1), the linear-stability scaling, not (1-mu)^2 eta^-(1/2-gamma).",
            ]
            if follows == ["the linear-stability boundary"]
            else [
                "Remark 3.11's threshold carries C_d = sup ||X||, infinite for Gaussian data; only its shape "
                "in (mu, eta) is testable."
            ],
            parameters=params,
        )

    def _figure(self, pts, star, stab, fit, figdir) -> list[str]:
        from matplotlib.lines import Line2D

        fig, axes = tradeoff.new_figure(ncols=2, width=6.0, height=4.8)
        ax = axes[0]
        xs = np.linspace(0.08, 0.55, 50)
        for j, eta in enumerate(ETAS):
            c = f"C{j}"
            om = np.array([1 - m for m in MUS])
            y = np.array([star[(m, eta)]["estimate"] for m in MUS])
            lo = np.array([max(star[(m, eta)]["ci"][0], 0.5) for m in MUS])
            hi = np.array([min(star[(m, eta)]["ci"][1], 1e4) for m in MUS])
            ax.errorbar(
                om,
                y,
                yerr=[np.maximum(y - lo, 0), np.maximum(hi - y, 0)],
                fmt="o",
                color=c,
                ms=4,
                capsize=2,
                label=f"eta={eta:g}",
            )
            ax.plot(om, [stab[(m, eta)] for m in MUS], "-", color=c, lw=1)
            ax.plot(xs, xs**2 / (SPECTRUM[0] * eta), "--", color=c, lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("1 - mu  (log)")
        ax.set_ylabel("tolerable delay tau*  (log)")
        ax.set_title(f"tau* against 1 - mu; paper: slope p = 2, fit p = {fit['p']:.2f}", fontsize=9)
        h, lab = ax.get_legend_handles_labels()
        h += [Line2D([], [], color="0.3", lw=1), Line2D([], [], color="0.3", ls="--", lw=0.8)]
        lab += ["linear-stability limit S", "Thm 3.3: (1-mu)^2/(lambda1 eta)"]
        ax.legend(h, lab, fontsize=7, loc="upper left")
        log_ticks(ax)
        ax = axes[1]
        es = np.array(ETAS)
        for i, mu in enumerate(MUS):
            c = f"C{i + 4}"
            y = np.array([star[(mu, e)]["estimate"] for e in ETAS])
            lo = np.array([max(star[(mu, e)]["ci"][0], 0.5) for e in ETAS])
            hi = np.array([min(star[(mu, e)]["ci"][1], 1e4) for e in ETAS])
            ax.errorbar(
                es,
                y,
                yerr=[np.maximum(y - lo, 0), np.maximum(hi - y, 0)],
                fmt="o",
                color=c,
                ms=4,
                capsize=2,
                label=f"mu={mu:g}",
            )
            ax.plot(es, [stab[(mu, e)] for e in ETAS], "-", color=c, lw=1)
            ref = star[(mu, ETAS[0])]["estimate"]
            if ref > 0:
                ax.plot(es, ref * (es / es[0]) ** -0.5, ":", color=c, lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("step size eta  (log)")
        ax.set_ylabel("tolerable delay tau*  (log)")
        ax.set_title(f"tau* against eta; paper (SDE): slope -q, q <= 1/2; fit q = {fit['q']:.2f}", fontsize=9)
        h, lab = ax.get_legend_handles_labels()
        h += [Line2D([], [], color="0.3", lw=1), Line2D([], [], color="0.3", ls=":", lw=0.8)]
        lab += ["linear-stability limit S", "eta^-1/2 (Remark 3.11, SDE)"]
        ax.legend(h, lab, fontsize=7, loc="lower left")
        log_ticks(ax, at=ETAS)
        claim_title(
            fig,
            self,
            "tau* = largest delay whose mean stationary error is within 1.5x of tau = 0 "
            "(95% bootstrap CI); fit tau* = C (1-mu)^p eta^-q",
            fontsize=9,
        )
        return tradeoff.save_figure(fig, figdir, "delay_threshold")
