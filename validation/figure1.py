"""Claim ``figure1``: the paper's Figure 1 (Section 5.1) and its "optimal delays" 120, 80, 60, 30, 10.

Setting exactly as printed: d = 4, Sigma = diag(4, 3, 2, 1), start at the saddle
e2, eta = 5e-4, mu in {0.7, 0.8, 0.85, 0.9, 0.95}, tau from 0 to 200, 100 runs per
cell on the ``paper`` profile.  Unstated by the paper and fixed here: Gaussian data,
error ``1 - h_1^2/||h||^2`` at the end of a budget of K steps (K = 20000 for the
contract measurements; every profile also records 10000 and longer budgets to show
K's effect), constant delay with history ``h_{-i} = h_0``.

tau*(mu) is taken under three criteria (validation/_tradeoff.py): ratio-1.1 and
ratio-1.5 (largest delay whose mean error is within 1.1x / 1.5x of tau = 0) and
band (largest delay whose 95% CI overlaps the tau = 0 CI).  The paper's numbers
are read off a figure with no stated criterion, budget or metric, so they are
compared within a factor of 2 (band [tau_paper/2, 2 tau_paper]): our three
criteria themselves differ by up to ~1.5x and the unstated budget moves tau* by
a similar amount; a factor 2 is the narrowest band that tolerates that
ambiguity and still separates, e.g., 120 from 30.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from diffapprox import Claim, ClaimOutput, StreamingPCA, derive_seed
from diffapprox import simulate
from diffapprox.stats import mean_ci, measurement

from . import _tradeoff as tradeoff
from ._common import claim_title

MUS = (0.7, 0.8, 0.85, 0.9, 0.95)
PAPER_TAU = {0.7: 120, 0.8: 80, 0.85: 60, 0.9: 30, 0.95: 10}
ETA = 5e-4
SPECTRUM = (4.0, 3.0, 2.0, 1.0)
K_MAIN = 20000
BAND_FACTOR = 2.0
LEVEL = 0.95

_PROFILES = {
    "quick": {"tau_step": 20, "paths": 24, "budgets": (10000, 20000), "n_boot": 200},
    "standard": {"tau_step": 10, "paths": 100, "budgets": (10000, 20000, 40000), "n_boot": 1000},
    "paper": {"tau_step": 5, "paths": 100, "budgets": (10000, 20000, 40000, 80000), "n_boot": 2000},
}


def _key(mu: float, tau: int) -> str:
    return f"mu={mu:g}/tau={tau}"


class Figure1(Claim):
    id = "figure1"
    order = 20
    history = (tradeoff.seeds_entry(2, "INCONCLUSIVE"),)
    paper_ref = "Section 5.1, Figure 1"
    statement = (
        "For mu = 0.7, 0.8, 0.85, 0.9, 0.95 the optimal delays (largest tau reaching an error "
        "similar to tau = 0) are 120, 80, 60, 30, 10: less momentum tolerates more delay."
    )

    def parameters(self, profile: str) -> dict:
        p = _PROFILES[profile]
        taus = list(range(0, 201, p["tau_step"]))
        return {
            "spectrum": list(SPECTRUM),
            "data": "gaussian",
            "start": "e2",
            "eta": ETA,
            "mus": list(MUS),
            "taus": taus,
            "paths_per_cell": p["paths"],
            "budgets_K": list(p["budgets"]),
            "K_main": K_MAIN,
            "delay_law": "const:tau, history h_{-i} = h_0",
            "error": "1 - h_1^2/||h||^2 at step K; a diverged path (||h|| > 1e6) counts as error 1",
            "criteria": {
                "ratio-1.1": "largest tau with mean error <= 1.1 x mean error at tau = 0",
                "ratio-1.5": "largest tau with mean error <= 1.5 x mean error at tau = 0",
                "band": "largest tau whose 95% t-CI of the mean overlaps the tau = 0 CI",
            },
            "tau_star_ci": (
                f"percentile bootstrap over paths ({p['n_boot']} resamples, {LEVEL:.0%}), upper end "
                "moved up one grid step (the crossing lies before the next grid delay); "
                "a tau* at the last grid delay is censored (upper end infinite)"
            ),
            "paper_tau_star": {f"{m:g}": PAPER_TAU[m] for m in MUS},
            "tolerance": f"tau* within a factor {BAND_FACTOR:g} of the paper's value: [tau/2, 2 tau]",
            "trend": "slope of log(tau* + step/2) on log(1-mu) (bootstrap CI); the tradeoff holds if the CI is > 0",
            "n_boot": p["n_boot"],
        }

    def cells(self, profile: str, seed: int):
        par = self.parameters(profile)
        kmax = max(par["budgets_K"])
        return [
            self.make_cell(
                _key(mu, tau),
                {"mu": mu, "tau": tau, "paths": par["paths_per_cell"], "steps": kmax, "record_every": 10000},
                seed,
                cost=float(par["paths_per_cell"] * kmax),
            )
            for mu in MUS
            for tau in par["taus"]
        ]

    def run_cell(self, cell) -> dict:
        p = cell.params
        problem = StreamingPCA(spectrum=SPECTRUM, data="gaussian")
        t = simulate(
            problem,
            mu=p["mu"],
            eta=ETA,
            steps=p["steps"],
            paths=p["paths"],
            delay=f"const:{p['tau']}",
            record_every=p["record_every"],
            start="e2",
            seed=cell.seed,
            record_h=False,
        )
        err = np.where(t.diverged[:, None], 1.0, t.error)  # frozen diverged paths count as error 1
        return {"steps_at": t.steps_at, "error": err, "diverged_step": t.diverged_step}

    def finish(self, profile: str, seed: int, results: dict, figdir: Path) -> ClaimOutput:
        t0 = time.perf_counter()
        par = self.parameters(profile)
        pr = _PROFILES[profile]
        taus = np.array(par["taus"], dtype=float)
        step = float(pr["tau_step"])
        budgets = par["budgets_K"]
        # errors[K][mu] -> (n_tau, paths)
        errors: dict[int, dict[float, np.ndarray]] = {K: {} for K in budgets}
        diverged: dict[str, list[int]] = {}
        for mu in MUS:
            rows = [results[_key(mu, int(tau))] for tau in taus]
            for K in budgets:
                j = int(np.searchsorted(rows[0]["steps_at"], K))
                errors[K][mu] = np.array([np.asarray(r["error"])[:, j] for r in rows])
            diverged[f"mu={mu:g}"] = [int(np.sum(np.asarray(r["diverged_step"]) >= 0)) for r in rows]

        meas, findings = [], []
        star: dict[tuple, dict] = {}
        for K in budgets:
            for mu in MUS:
                for crit in tradeoff.CRITERIA:
                    s = tradeoff.tau_star_summary(
                        taus,
                        errors[K][mu],
                        crit,
                        n_boot=pr["n_boot"],
                        seed=derive_seed(seed, self.id, "tau_star", f"K={K}", f"mu={mu:g}", crit),
                    )
                    star[(K, mu, crit)] = s
                    paper = PAPER_TAU[mu]
                    band = (paper / BAND_FACTOR, paper * BAND_FACTOR)
                    verdict = tradeoff.band_verdict(s["ci"], band)
                    name = f"tau_star/{crit}/mu={mu:g}" + ("" if K == K_MAIN else f"/K={K}")
                    meas.append(
                        measurement(
                            name,
                            s["estimate"],
                            s["ci"],
                            prediction=paper,
                            band=band,
                            verdict=verdict,
                            judged=(K == K_MAIN),
                            note=(
                                f"K={K}, {par['paths_per_cell']} paths per delay, grid step {step:g}"
                                + ("; censored at the grid's end" if s["censored"] else "")
                            ),
                        )
                    )
        # trend: is tau* decreasing in mu?  slope of log(tau* + step/2) on log(1 - mu)
        lx = np.log(1.0 - np.array(MUS))
        X = np.column_stack([np.ones(lx.size), lx])
        for crit in tradeoff.CRITERIA:
            pts = np.array([star[(K_MAIN, mu, crit)]["estimate"] for mu in MUS]) + step / 2
            reps = np.array([star[(K_MAIN, mu, crit)]["reps"] for mu in MUS]).T + step / 2
            slope = float(np.linalg.lstsq(X, np.log(pts), rcond=None)[0][1])
            bs = np.linalg.lstsq(X, np.log(reps).T, rcond=None)[0][1]
            ci = tuple(float(v) for v in np.quantile(bs, [(1 - LEVEL) / 2, (1 + LEVEL) / 2]))
            paper_slope = float(
                np.linalg.lstsq(X, np.log(np.array([PAPER_TAU[m] for m in MUS], float)), rcond=None)[0][1]
            )
            meas.append(
                measurement(
                    f"tau_star_trend/{crit}",
                    slope,
                    ci,
                    prediction=paper_slope,
                    band=(0.0, math.inf),
                    verdict=tradeoff.band_verdict(ci, (0.0, math.inf)),
                    note=(
                        "log-log slope of tau*(mu) against 1-mu at K=20000; > 0 means less momentum tolerates "
                        "more delay (the tradeoff); prediction = slope of the paper's 120..10"
                    ),
                )
            )

        stab = {mu: tradeoff.stable_delay(mu, ETA, SPECTRUM[0]) for mu in MUS}
        for mu in MUS:
            vals = ", ".join(f"{c} {star[(K_MAIN, mu, c)]['estimate']:g}" for c in tradeoff.CRITERIA)
            longk = max(budgets)
            findings.append(
                f"mu={mu:g}: tau* at K={K_MAIN}: {vals}; at K={longk}: "
                f"ratio-1.5 {star[(longk, mu, 'ratio-1.5')]['estimate']:g}; paper {PAPER_TAU[mu]}; "
                f"linear-stability limit of the radial mode (a = 2 eta lambda1) {stab[mu]}"
            )
        nd = sum(sum(v) for v in diverged.values())
        findings.append(
            f"{nd} of {len(MUS) * taus.size * par['paths_per_cell']} paths diverged by "
            f"K={max(budgets)} (counted as error 1); per cell in parameters['diverged_paths']."
        )
        findings.append(
            "The paper's optimal delays sit on the exact linear-stability boundary of the radial "
            "mode of the delayed heavy-ball recursion ("
            + ", ".join(f"{stab[m]}" for m in MUS)
            + " for mu = 0.7..0.95), which scales as "
            "(1-mu)/(eta lambda1), not as (1-mu)^2."
        )

        figs = self._figure(taus, errors, budgets, figdir, stab)
        params = dict(par)
        params["diverged_paths"] = diverged
        params["linear_stability_limit"] = {f"{m:g}": stab[m] for m in MUS}
        params["finish_s"] = round(time.perf_counter() - t0, 3)
        return ClaimOutput(
            measurements=meas,
            figures=figs,
            findings=findings,
            inconsistencies=[
                "Section 5.1 says Figure 1 shows 'delays from 0 to 100', but the caption and text give an "
                "optimal delay of 120 for mu = 0.7, which needs delays beyond 100 (we run 0..200).",
                "The paper states neither the data law, the iteration budget, the error metric nor how the "
                "'optimal delay' is read off; tau* here is reported under three criteria and several budgets.",
            ],
            parameters=params,
        )

    def _figure(self, taus, errors, budgets, figdir, stab) -> list[str]:
        shown = [K_MAIN, max(budgets)] if max(budgets) != K_MAIN else [min(budgets), K_MAIN]
        fig, axes = tradeoff.new_figure(ncols=2, width=5.6, height=4.3)
        colors = ["C0", "C1", "C2", "C3", "C4"]
        for ax, K in zip(axes, shown):
            for mu, c in zip(MUS, colors):
                e = errors[K][mu]
                cis = [mean_ci(row, LEVEL) for row in e]
                m = np.array([x.estimate for x in cis])
                lo = np.array([x.ci[0] for x in cis])
                hi = np.array([x.ci[1] for x in cis])
                ax.plot(taus, m, color=c, label=f"mu={mu:g}")
                ax.fill_between(taus, np.clip(lo, 1e-4, None), np.clip(hi, 1e-4, None), color=c, alpha=0.25)
                ax.axvline(PAPER_TAU[mu], color=c, ls=":", lw=1)
                ax.plot([stab[mu]], [1.3], marker="v", color=c, ms=6)
            ax.set_yscale("log")
            ax.set_ylim(5e-3, 1.6)
            ax.set_xlabel("delay tau (steps)")
            ax.set_title(f"after K={K} steps, t = K eta = {K * ETA:g} (eta={ETA:g})", fontsize=10)
        axes[0].set_ylabel("mean error 1 - h1^2/||h||^2 with 95% CI  (log)")
        from matplotlib.lines import Line2D

        h, lab = axes[0].get_legend_handles_labels()
        h += [Line2D([], [], color="0.3", ls=":", lw=1), Line2D([], [], color="0.3", marker="v", ls="none")]
        lab += ["paper's optimal delay (Fig. 1)", "linear-stability limit"]
        axes[0].legend(h, lab, fontsize=7, loc="lower right", title="momentum", title_fontsize=7)
        claim_title(
            fig,
            self,
            "error against delay per momentum: the tolerable delay shrinks as mu grows "
            "(dotted lines and triangles share the curve's colour)",
            fontsize=9,
        )
        return tradeoff.save_figure(fig, figdir, "figure1")
