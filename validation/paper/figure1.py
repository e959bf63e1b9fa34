"""Claim ``figure1``: the paper's Figure 1 (Section 5.1) and its "optimal delays" 120, 80, 60, 30, 10.

Setting exactly as printed: d = 4, Sigma = diag(4, 3, 2, 1), start at the saddle e2, eta = 5e-4,
mu in {0.7, 0.8, 0.85, 0.9, 0.95}, tau from 0 to 200, 100 runs per cell on the ``paper`` profile.
Unstated by the paper and fixed here: Gaussian data, error ``1 - h_1^2/||h||^2`` at the end of a
budget of K steps (K = 20000 for the judged rows; every profile also records 10000 and longer
budgets to show K's effect), constant delay with history ``h_{-i} = h_0``.  A diverged path counts as
error 1 (the delay it ran at is not tolerated: the event rule).

tau*(mu) is taken under three criteria (:data:`diffapprox.stats.THRESHOLD_CRITERIA`): ratio-1.1 and
ratio-1.5 (largest delay whose mean error is within 1.1x / 1.5x of tau = 0) and band (largest delay
whose 95% CI overlaps the tau = 0 CI), from the same bootstrap redraws of the curve (the means drawn
from their normal approximation).  The paper's numbers are read off a figure with no stated
criterion, budget or metric, so they are compared within a factor of 2 (band [tau_paper/2,
2 tau_paper]): the three criteria themselves differ by up to ~1.5x and the unstated budget moves tau*
by a similar amount; a factor 2 is the narrowest band that tolerates that ambiguity and still
separates, e.g., 120 from 30.  ``tau_star_trend/crit``: the slope of log(tau* + step/2) on log(1-mu)
must be > 0 (less momentum tolerates more delay).  Judged: the tau* rows at K = 20000 and the
trends of the ratio-1.5 and band criteria, 12 rows at CI level ``row_level(12)``; effects two grid steps
for tau*.  The ratio-1.1 rows are context: at the profiles' path counts they cannot decide even on
curves drawn from the prediction itself (their synthetic null is INCONCLUSIVE in every replicate), so
judging them would keep the claim from ever passing.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from diffapprox import Claim, Findings, HistoryEntry, derive_seed, simulate
from diffapprox.engine import StreamingPCA
from diffapprox import stats
from diffapprox.stats import mean_ci

from . import _tradeoff as tradeoff
from .._common import SPECTRUM, claim_title

MUS = (0.7, 0.8, 0.85, 0.9, 0.95)
PAPER_TAU = {0.7: 120, 0.8: 80, 0.85: 60, 0.9: 30, 0.95: 10}
ETA = 5e-4
K_MAIN = 20000
BAND_FACTOR = 2.0
LEVEL = 0.95
#: Criteria whose rows are judged (ratio-1.1 is context: see the module docstring).
JUDGED_CRITERIA = ("ratio-1.5", "band")
N_JUDGED = len(MUS) * len(JUDGED_CRITERIA) + len(JUDGED_CRITERIA)
#: Synthetic curves: mean error 0.0042/(1-mu) below the crossing (the tau = 0 level of the earlier
#: standard run), per-path CV 1 (errors at a fixed time are close to exponential).
BASE, CV = 0.0042, 1.0
#: The alternative's direction per mu: down for mu = 0.7 (2 x 120 + effect is beyond the grid's 200), up
#: otherwise (half of 10 is below one grid step).
DOWN = (0.7,)

_PROFILES = {
    "quick": {"tau_step": 20, "paths": 24, "budgets": (10000, 20000), "n_boot": 400},
    "standard": {"tau_step": 10, "paths": 100, "budgets": (10000, 20000, 40000), "n_boot": 4000},
    "paper": {"tau_step": 5, "paths": 100, "budgets": (10000, 20000, 40000, 80000), "n_boot": 4000},
}


def _key(mu: float, tau: int) -> str:
    return f"mu={mu:g}/tau={tau}"


def _taus(profile: str) -> np.ndarray:
    return np.arange(0, 201, _PROFILES[profile]["tau_step"], dtype=float)


def _band(mu: float) -> tuple[float, float]:
    return (PAPER_TAU[mu] / BAND_FACTOR, PAPER_TAU[mu] * BAND_FACTOR)


def _trend_x() -> np.ndarray:
    lx = np.log(1.0 - np.array(MUS))
    return np.column_stack([np.ones(lx.size), lx])


def _trend_effect(profile: str) -> float:
    """Planned SE of the trend from the grid's resolution: log(tau* + step/2) uncertain by step/sqrt(12)."""
    step = _PROFILES[profile]["tau_step"]
    sd = np.array([step / math.sqrt(12.0) / (PAPER_TAU[m] + step / 2) for m in MUS])
    w = np.linalg.pinv(_trend_x())[1]
    return tradeoff.effect(float(math.sqrt(((w * sd) ** 2).sum())), N_JUDGED)


class Figure1(Claim):
    id = "figure1"
    order = 20
    paper_ref = "Section 5.1, Figure 1"
    statement = (
        "For mu = 0.7, 0.8, 0.85, 0.9, 0.95 the optimal delays (largest tau reaching an error "
        "similar to tau = 0) are 120, 80, 60, 30, 10: less momentum tolerates more delay."
    )
    history = (
        tradeoff.seeds_entry(2, "INCONCLUSIVE"),
        HistoryEntry(
            date="2026-11-29",
            version=3,
            change=(
                "the 18 judged rows at CI level 1 - 0.05/18 (was 0.95) with stated effects (two grid steps for "
                "tau*); the three criteria read from the same bootstrap redraws of the curve, the means drawn "
                "from their normal approximation (was: paths resampled per criterion)"
            ),
            reason="18 rows at 0.95 let the claim FAIL its null far more often than 5%",
            old_verdict="INCONCLUSIVE",
            old_source="earlier run: commit cdffc41, profile standard, seed 20180330",
        ),
        HistoryEntry(
            date="2026-11-29",
            version=4,
            change="the ratio-1.1 rows (5 tau* rows and their trend) become context; 12 judged rows at CI level "
            "1 - 0.05/12 (was 18 at 1 - 0.05/18)",
            reason="the synthetic null controls (curves drawn from the prediction at 100 paths) left every "
            "ratio-1.1 row INCONCLUSIVE in 200 of 200 replicates: those rows can never decide, so they kept the "
            "claim from passing whatever the data; the decision rests on the controls, not on measured data",
            old_verdict="INCONCLUSIVE",
            old_source="earlier run: commit 449a267, profile standard, seed 20180330",
        ),
    )

    def parameters(self, profile: str) -> dict:
        p = _PROFILES[profile]
        return {
            "spectrum": list(SPECTRUM),
            "data": "gaussian",
            "start": "e2",
            "eta": ETA,
            "mus": list(MUS),
            "taus": [int(t) for t in _taus(profile)],
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
                f"percentile bootstrap of the means (normal approximation, {p['n_boot']} redraws), upper end "
                "moved up one grid step (the crossing lies before the next grid delay); a tau* at the last grid "
                "delay is censored (upper end infinite)"
            ),
            "paper_tau_star": {f"{m:g}": PAPER_TAU[m] for m in MUS},
            "tolerance": f"tau* within a factor {BAND_FACTOR:g} of the paper's value: [tau/2, 2 tau]",
            "trend": "slope of log(tau* + step/2) on log(1-mu) (bootstrap CI); the tradeoff holds if the CI is > 0",
            "n_boot": p["n_boot"],
        }

    def cells(self, profile: str, seed: int):
        p = _PROFILES[profile]
        kmax = max(p["budgets"])
        return [
            self.make_cell(
                _key(mu, int(tau)),
                {"mu": mu, "tau": int(tau), "paths": p["paths"], "steps": kmax, "record_every": 10000},
                seed,
                cost=float(p["paths"] * kmax),
            )
            for mu in MUS
            for tau in _taus(profile)
        ]

    def run_cell(self, cell) -> dict:
        p = cell.params
        t = simulate(
            StreamingPCA(spectrum=SPECTRUM, data="gaussian"),
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

    def predict(self, profile: str) -> dict:
        paper = np.array([PAPER_TAU[m] for m in MUS], float)
        step = _PROFILES[profile]["tau_step"]
        slope = float(np.linalg.lstsq(_trend_x(), np.log(paper + step / 2), rcond=None)[0][1])
        return {"tau_star": dict(PAPER_TAU), "trend": slope}

    def measure(self, profile, seed, results, prediction):
        p = _PROFILES[profile]
        level = stats.row_level(N_JUDGED)
        taus = _taus(profile)
        star = {}
        for K in p["budgets"]:
            for mu in MUS:
                e = _errors(results, taus, mu, K)
                s = derive_seed(seed, self.id, "tau_star", f"K={K}", f"mu={mu:g}")
                lev = level if K == K_MAIN else LEVEL
                star[(K, mu)] = stats.threshold_cis(
                    taus, e, tuple(tradeoff.CRITERIA), n_boot=p["n_boot"], seed=s, level=lev, method="normal"
                )
        rows = [
            self._star_row(profile, results, star, K, mu, c)
            for K in p["budgets"]
            for mu in MUS
            for c in tradeoff.CRITERIA
        ]
        return rows + [self._trend_row(profile, star, c, level, prediction) for c in tradeoff.CRITERIA]

    def _star_row(self, profile, results, star, K, mu, crit):
        s = star[(K, mu)][crit]
        step = _PROFILES[profile]["tau_step"]
        div = sum(_diverged(results[_key(mu, int(t))], K) for t in _taus(profile) if t <= s.estimate)
        v = stats.band_verdict(s.estimate, s.ci, _band(mu))
        note = (
            f"K={K}, {_PROFILES[profile]['paths']} paths per delay, grid step {step:g}; {div} diverged paths at "
            "delays up to tau* (error 1)" + ("; censored at the grid's end" if s.censored else "")
        )
        judged = K == K_MAIN and crit in JUDGED_CRITERIA
        if K == K_MAIN and not judged:
            note += "; context: this criterion cannot decide at these path counts (see the claim's history)"
        return stats.measurement(
            f"tau_star/{crit}/mu={mu:g}" + ("" if K == K_MAIN else f"/K={K}"),
            s.as_estimate(),
            prediction=PAPER_TAU[mu],
            band=_band(mu),
            verdict=v,
            judged=judged,
            effect=2.0 * step if judged else None,
            note=note,
        )

    def _trend_row(self, profile, star, crit, level, prediction):
        step = _PROFILES[profile]["tau_step"]
        pts = np.array([star[(K_MAIN, mu)][crit].estimate for mu in MUS]) + step / 2
        reps = np.array([star[(K_MAIN, mu)][crit].replicates for mu in MUS]).T + step / 2
        X = _trend_x()
        slope = float(np.linalg.lstsq(X, np.log(pts), rcond=None)[0][1])
        bs = np.linalg.lstsq(X, np.log(reps).T, rcond=None)[0][1]
        ci = tuple(float(v) for v in np.quantile(bs, [(1 - level) / 2, (1 + level) / 2]))
        note = (
            "log-log slope of tau*(mu) against 1-mu at K=20000; > 0 means less momentum tolerates more delay "
            "(the tradeoff); prediction = slope of the paper's 120..10"
        )
        return stats.measurement(
            f"tau_star_trend/{crit}",
            slope,
            ci,
            prediction["trend"],
            (0.0, math.inf),
            level=level,
            judged=crit in JUDGED_CRITERIA,
            effect=_trend_effect(profile) if crit in JUDGED_CRITERIA else None,
            note=note,
        )

    def figures(self, profile, results, measurements, figdir: Path) -> list[str]:
        budgets = _PROFILES[profile]["budgets"]
        shown = [K_MAIN, max(budgets)] if max(budgets) != K_MAIN else [min(budgets), K_MAIN]
        stab = {mu: tradeoff.stable_delay(mu, ETA) for mu in MUS}
        taus = _taus(profile)
        fig, axes = tradeoff.new_figure(ncols=2, width=5.6, height=4.3)
        for ax, K in zip(axes, shown):
            for mu, c in zip(MUS, ["C0", "C1", "C2", "C3", "C4"]):
                _curve(ax, taus, _errors(results, taus, mu, K), c, mu, stab[mu])
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
        sub = (
            "error against delay per momentum: the tolerable delay shrinks as mu grows "
            "(dotted lines and triangles share the curve's colour)"
        )
        claim_title(fig, self, sub, fontsize=9)
        return tradeoff.save_figure(fig, figdir, "figure1")

    def findings(self, profile, results, measurements) -> Findings:
        by = {m.name: m for m in measurements}
        longk = max(_PROFILES[profile]["budgets"])
        stab = {mu: tradeoff.stable_delay(mu, ETA) for mu in MUS}
        out = []
        for mu in MUS:
            vals = ", ".join(f"{c} {by[f'tau_star/{c}/mu={mu:g}'].estimate:g}" for c in tradeoff.CRITERIA)
            out.append(
                f"mu={mu:g}: tau* at K={K_MAIN}: {vals}; at K={longk}: ratio-1.5 "
                f"{by[f'tau_star/ratio-1.5/mu={mu:g}' + ('' if longk == K_MAIN else f'/K={longk}')].estimate:g}; "
                f"paper {PAPER_TAU[mu]}; "
                f"linear-stability limit of the radial mode (a = 2 eta lambda1) {stab[mu]}"
            )
        nd = sum(int(np.sum(np.asarray(r["diverged_step"]) >= 0)) for r in results.values())
        out.append(f"{nd} paths diverged by K={longk} in all (counted as error 1 at their delay).")
        out.append(
            "The paper's optimal delays sit on the exact linear-stability boundary of the radial mode of the delayed "
            "heavy-ball recursion (" + ", ".join(f"{stab[m]}" for m in MUS) + " for mu = 0.7..0.95), which scales "
            "as (1-mu)/(eta lambda1), not as (1-mu)^2."
        )
        return Findings(
            findings=out,
            inconsistencies=[
                "Section 5.1 says Figure 1 shows 'delays from 0 to 100', but the caption and text give an optimal "
                "delay of 120 for mu = 0.7, which needs delays beyond 100 (we run 0..200).",
                "The paper states neither the data law, the iteration budget, the error metric nor how the 'optimal "
                "delay' is read off; tau* here is reported under three criteria and several budgets.",
            ],
        )

    def synthetic(self, profile, kind, rng):
        # null: the crossing at the paper's delays; alternative: two grid steps beyond the band (down for
        # mu = 0.7, up otherwise); limit: the crossing at the exact linear-stability limit S
        step = _PROFILES[profile]["tau_step"]

        def theta(mu):
            if kind == "null":
                return float(PAPER_TAU[mu])
            if kind == "limit":
                return float(tradeoff.stable_delay(mu, ETA))
            lo, hi = _band(mu)
            return lo - 2 * step if mu in DOWN else hi + 2 * step

        out = {}
        for mu in MUS:
            out.update(_synthetic_cells(rng, profile, mu, theta(mu)))
        return out


def _synthetic_cells(rng, profile: str, mu: float, theta: float) -> dict:
    """Cells of one mu whose curves cross at ``theta`` at every budget (each budget drawn afresh)."""
    p = _PROFILES[profile]
    taus = _taus(profile)
    steps_at = np.array(sorted(set(p["budgets"])), dtype=np.int64)
    cols = [tradeoff.threshold_curve(rng, taus, theta, BASE / (1 - mu), CV, p["paths"]) for _ in steps_at]
    out = {}
    for i, tau in enumerate(taus):
        err = np.column_stack([np.minimum(c[i], 1.0) for c in cols])
        out[_key(mu, int(tau))] = {"steps_at": steps_at, "error": err, "diverged_step": np.full(p["paths"], -1)}
    return out


def _errors(results, taus, mu, K) -> np.ndarray:
    """Errors (n_tau, paths) at budget K."""
    rows = [results[_key(mu, int(t))] for t in taus]
    j = int(np.searchsorted(np.asarray(rows[0]["steps_at"]), K))
    return np.array([np.asarray(r["error"])[:, j] for r in rows])


def _diverged(r, K) -> int:
    """Paths of a cell that diverged by step K."""
    d = np.asarray(r["diverged_step"])
    return int(np.sum((d >= 0) & (d <= K)))


def _curve(ax, taus, e, color, mu, stab):
    cis = [mean_ci(row, LEVEL) for row in e]
    m = np.array([x.estimate for x in cis])
    lo = np.clip([x.ci[0] for x in cis], 1e-4, None)
    hi = np.clip([x.ci[1] for x in cis], 1e-4, None)
    ax.plot(taus, m, color=color, label=f"mu={mu:g}")
    ax.fill_between(taus, lo, hi, color=color, alpha=0.25)
    ax.axvline(PAPER_TAU[mu], color=color, ls=":", lw=1)
    ax.plot([stab], [1.3], marker="v", color=color, ms=6)
