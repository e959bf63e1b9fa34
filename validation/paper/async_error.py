"""Claim ``async-error`` (Lemma 3.4): the accumulated asynchronous error D(t) -> 0 as eta -> 0, at the order
eta^gamma that the lemma's proof gives.

D(t) = eta^(-1/2) sum_{n < t/eta} D_n, D_n = eta sum_i mu^(n-i) (G_i(h_{i-tau}) - G_i(h_i))
(A.4; computed along paths by the diagnostics kernel), with delays
tau(eta) ~ (1-mu)^2/((lambda1 + C_d) eta^(1/2-gamma)) for gamma in {0.1, 0.4}.  The paper's
constant (C_d is infinite for the Gaussian data used here, and with any bounded law the printed
formula gives tau < 2 on this grid) is replaced by anchoring: tau(eta) = round(tau0
(eta/eta_max)^-(1/2-gamma)), tau0 = S(mu, eta_max)/4 with S the exact linear-stability limit, so
every delay stays inside the stable range while following the paper's scaling in eta.  mu = 0.5,
eta in {2e-3 .. 1.25e-4} (16x), start e1 (phase III), t in (0, 2].  Statistic: mean over paths of
sup_{t <= 2} ||D(t)|| (diverged paths left out and counted; a row with any cannot PASS).

The order Lemma 3.4 gives: A.4 bounds ||D_k|| <= C tau eta^2/(1-mu)^2; summing t/eta such terms and
dividing by sqrt(eta) gives ||D(t)|| <= C t tau sqrt(eta) = O(eta^gamma) under the lemma's delay.  An
O(.) bound is broken only when the ratio to the bound grows as eta -> 0, so the judged row
``rate/gamma=g``, the log-log slope of mean sup_t ||D(t)|| on eta (percentile bootstrap over paths),
has the one-sided band [g, inf) (stated before measuring), under the one decision rule
(:data:`diffapprox.stats.DECISION_RULE`: 95% PASS interval, FAIL interval Bonferroni at family level
0.01 over the 2 rows).  Rows ``v4/rate/gamma=g`` recompute version 4's rule (band [0, inf), one
interval at 1 - 0.01/2) on the same data, as context.

The mutant ``delays=tau~1/eta`` judges the same rows on runs whose delay grows like 1/eta (tau = tau0
eta_max/eta, outside every threshold of the paper; the proof's bound then gives eta^(-1/2), no
convergence): the claim must not PASS it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from diffapprox import Claim, ControlSource, Findings, HistoryEntry, Mutant, derive_seed
from diffapprox.engine import StreamingPCA, path_diagnostics
from diffapprox import stats

from . import _tradeoff as tradeoff
from .._common import SPECTRUM, claim_title, log_ticks

MU = 0.5
ETAS = (2e-3, 1e-3, 5e-4, 2.5e-4, 1.25e-4)
GAMMAS = (0.1, 0.4)
CONTROL = "control=tau~1/eta"
T_END = 2.0
#: Planning coefficient of variation of sup_t ||D(t)|| across paths (at most 0.3 per cell in the earlier
#: standard run, commit 839d945): it sets the planned SE of the rate and so the stated effect.
CV = 0.3
#: The synthetic controls' mean sup_t ||D(t)|| at eta_max.
D_MAX = 1.7
_PROFILES = {
    "quick": {"paths": 16, "n_boot": 1000},
    "standard": {"paths": 128, "n_boot": 2000},
    "paper": {"paths": 512, "n_boot": 4000},
}


def _tau0() -> float:
    return tradeoff.stable_delay(MU, ETAS[0]) / 4.0


def _tau(eta: float, rule: str) -> int:
    """The delay of a cell: ``gamma=g`` follows Lemma 3.4's eta^-(1/2-gamma); the control grows like 1/eta."""
    if rule == CONTROL:
        return int(round(_tau0() * ETAS[0] / eta))
    g = float(rule.split("=")[1])
    return int(round(_tau0() * (eta / ETAS[0]) ** -(0.5 - g)))


RULES = tuple(f"gamma={g:g}" for g in GAMMAS)
#: The mutant: the judged rows read the runs whose delay grows like 1/eta.
MUTANT = "delays=tau~1/eta"


def _key(rule: str, eta: float) -> str:
    return f"{rule}/eta={eta:g}"


#: Version 4's claim-level false-FAIL rate (its rows at row_level(2, 0.01)), kept for the v4/ context rows.
FALSE_FAIL_V4 = 0.01


#: Power at which the stated effect is detected by the FAIL interval: 0.9, so that a family control
#: (truth beyond the edge by the effect) FAILs clearly more often than the 80% target.
POWER = 0.9


def _effect(profile: str) -> float:
    """(z_fail + z_power) x the planned SE of the rate (coefficient of variation CV per path), at the FAIL level."""
    se = tradeoff.slope_se(ETAS, [CV / math.sqrt(_PROFILES[profile]["paths"])] * len(ETAS))
    return stats.detectable_effect(se, level=stats.fail_level(len(GAMMAS)), power=POWER)


def _slope(y, reps, level: float) -> stats.Estimate:
    """The log-log OLS slope of ``y`` on eta with the percentile interval of the slopes refitted on ``reps``."""
    return stats.loglog_slope_replicates(ETAS, y, reps, level, "percentile").as_estimate()


def _profile_of(paths: int) -> str:
    return next(k for k, v in _PROFILES.items() if v["paths"] == paths)


class AsyncError(Claim):
    id = "async-error"
    order = 80
    paper_ref = "Lemma 3.4 (proof A.4)"
    statement = (
        "With tau ~ (1-mu)^2/((lambda1 + C_d) eta^(1/2-gamma)), the accumulated asynchronous error "
        "D(t) -> 0 as eta -> 0 for any fixed t."
    )
    history = (
        tradeoff.seeds_entry(2, "PASS"),
        HistoryEntry(
            date="2026-11-29",
            version=3,
            change=(
                "rate > 0 judged at CI level 1 - 0.05/2 per row (was 0.95) with a stated effect; the proof's "
                "eta^gamma is no longer printed as the prediction beside the band (it is the context row "
                "rate_vs_proof); a negative control with tau growing like 1/eta shown as context"
            ),
            reason=(
                "a band [0, inf) beside a prediction gamma read as if gamma were judged; the claim-level null "
                "FAIL rate of two rows at 0.95 is up to 5% each; a test that passes its negative control cannot "
                "see the delay threshold"
            ),
            old_verdict="PASS",
            old_source="earlier run: commit cdffc41, profile standard, seed 20180330",
        ),
        HistoryEntry(
            date="2026-11-29",
            version=4,
            change="row CI level 1 - 0.01/2 (was 1 - 0.05/2), effect restated at that level",
            reason="the synthetic null (rate on the boundary 0) FAILed 3.5% [1.7%, 7.0%] of 200 replicates: about "
            "the 2.5% the old level gives, which 200 replicates cannot show to be below the 5% target; the "
            "decision rests on the controls, not on measured data",
            old_verdict="PASS",
            old_source="earlier run: commit 449a267, profile standard, seed 20180330",
        ),
        HistoryEntry(
            date="2026-12-06",
            version=5,
            change=(
                "the rate is judged against the order Lemma 3.4's proof gives, band [gamma, inf) (was [0, inf)); "
                "one decision rule: 95% PASS interval, Bonferroni FAIL interval at family level 0.01 (was one "
                "interval at 1 - 0.01/2); the tau ~ 1/eta runs become the mutant 'delays=tau~1/eta' that must not "
                "PASS (they were a context row); controls run the claim's cell code on per-path sup_t ||D(t)||; "
                "quick profile: 1000 bootstrap resamples (was 400) for the FAIL interval's tails, one set of resampled "
                "means serving both intervals; effect at the FAIL level with power 0.9"
            ),
            reason=(
                "with band [0, inf) the delays growing like 1/eta, outside every threshold, had a positive rate "
                "too (0.32 on the quick profile): the PASS could not see the lemma's hypothesis; the lemma's bound "
                "has the order eta^gamma, and an O(.) bound is broken when the ratio to it grows; one rule for "
                "every claim.  The rows v4/ recompute the old rule on the same data"
            ),
            old_rows=("v4/",),
        ),
    )

    def parameters(self, profile):
        return {
            "mu": MU,
            "etas": list(ETAS),
            "gammas": list(GAMMAS),
            "t_end": T_END,
            "start": "e1",
            "steps": {f"eta={e:g}": int(round(T_END / e)) for e in ETAS},
            "data": "gaussian",
            "taus": {r: [_tau(e, r) for e in ETAS] for r in (*RULES, CONTROL)},
            "delay_rule": "tau = round(S(mu, eta_max)/4 (eta/eta_max)^-(1/2-gamma)); mutant: S(mu, eta_max)/4 eta_max/eta",
            "band": "rate >= gamma: the order eta^gamma of Lemma 3.4's bound (proof A.4)",
            "effect": _effect(profile),
            "decision_rule": stats.DECISION_RULE,
            **_PROFILES[profile],
        }

    def cells(self, profile, seed):
        return [self._cell(profile, seed, r, e) for r in RULES for e in ETAS]

    def _cell(self, profile, seed, rule, eta):
        n = _PROFILES[profile]["paths"]
        return self.make_cell(
            _key(rule, eta), {"eta": eta, "tau": _tau(eta, rule), "paths": n}, seed, cost=n * T_END / eta
        )

    def simulate_cell(self, cell):
        p = cell.params
        r = path_diagnostics(
            StreamingPCA(spectrum=SPECTRUM),
            mu=MU,
            eta=p["eta"],
            steps=int(round(T_END / p["eta"])),
            paths=p["paths"],
            tau=p["tau"],
            start="e1",
            seed=cell.seed,
            n_out=4,
        )
        return {"D_sup": np.asarray(r["D_sup"], dtype=float), "diverged": np.asarray(r["diverged"], dtype=bool)}

    def summarize(self, cell, data):
        """Per-path sup_t ||D(t)|| (NaN for diverged paths) and the number of diverged paths."""
        bad = np.asarray(data["diverged"], dtype=bool)
        return {"D_sup": np.where(bad, np.nan, data["D_sup"]), "diverged": int(bad.sum())}

    def predict(self, profile: str) -> dict:
        # Lemma 3.4 (proof A.4): ||D(t)|| <= C t tau sqrt(eta) = O(eta^gamma) under the lemma's delay
        return {"rate_bound": {r: g for r, g in zip(RULES, GAMMAS)}, "cells": {r: r for r in RULES}}

    def measure(self, profile, seed, results, prediction):
        eff = _effect(profile)
        nb = _PROFILES[profile]["n_boot"]
        rows = []
        for rule in RULES:
            src = prediction["cells"][rule]
            if _key(src, ETAS[0]) not in results:
                continue
            g = prediction["rate_bound"][rule]
            y, reps, left = self._means(seed, results, src, nb)
            fits = [_slope(y, reps, lv) for lv in (stats.PASS_LEVEL, stats.fail_level(len(RULES)))]
            note = f"log-log slope of mean sup_t ||D(t)|| on eta over delays {[_tau(e, src) for e in ETAS]}; "
            rows.append(
                stats.measurement(
                    f"rate/{rule}",
                    fits[0],
                    band=(g, math.inf),
                    effect=eff,
                    diverged=left,
                    ci_fail=fits[1],
                    note=note + f">= {g:g} means D(t) decays at least like Lemma 3.4's bound eta^{g:g}",
                )
            )
            old = _slope(y, reps, stats.row_level(len(RULES), FALSE_FAIL_V4))
            note_v4 = note + "version 4's rule: band [0, inf), one interval at 1 - 0.01/2"
            rows.append(stats.measurement(f"v4/rate/{rule}", old, band=(0.0, math.inf), judged=False, note=note_v4))
        return rows

    def _means(self, seed, results, rule, nb) -> tuple[np.ndarray, np.ndarray, int]:
        """Mean sup_t ||D(t)|| per eta over the finite paths, its bootstrap replicates (n_eta, nb), the paths left out.

        Each eta's paths are resampled on their own (percentile bootstrap over paths), from one seed per rule.
        """
        y, reps, left = [], [], 0
        for j, e in enumerate(ETAS):
            x, k = tradeoff.finite_paths(results[_key(rule, e)]["D_sup"])
            left += k
            idx = stats.resample_indices(x.size, nb, derive_seed(seed, self.id, "rate", rule, j))
            y.append(x.mean())
            reps.append(x[idx].mean(axis=1))
        return np.array(y), np.array(reps), left

    # controls: the claim's own summarize and measure on per-path sup_t ||D(t)|| of known rate
    def families(self, profile):
        return {r: (f"rate/{r}",) for r in RULES}

    def control_sources(self, profile):
        model = ControlSource(
            source="model",
            model=f"per-path sup_t ||D(t)|| from a gamma law with coefficient of variation {CV} (the planning value, at "
            f"most 0.3 measured) and mean {D_MAX:g} (eta/eta_max)^rate, the rate set by the control (no exact law of "
            "D(t), the accumulated asynchronous error of Lemma 3.4 / A.4, exists); no path diverges",
        )
        return model.for_every_kind()

    def control_data(self, cell, control, rng):
        rule, n = cell.key.split("/")[0], cell.params["paths"]
        g = dict(zip(RULES, GAMMAS))[rule]
        rate = control.truth(exact=g, band=(g, math.inf), effect=_effect(_profile_of(n)), direction=-1, family=rule)
        d = tradeoff.gamma_paths(rng, D_MAX * (cell.params["eta"] / ETAS[0]) ** rate, CV, n)
        return {"D_sup": d, "diverged": np.zeros(n, dtype=bool)}

    confirm_note = (
        "rate/gamma=g: Lemma 3.4 (proof A.4) gives only the bound's order eta^gamma, which is the band's edge; the "
        "lemma states no rate above it, so its own limit has no value inside the band to confirm"
    )

    def mutants(self, profile):
        note = (
            "the judged rows read runs whose delay grows like 1/eta (tau = tau0 eta_max/eta: "
            f"{[_tau(e, CONTROL) for e in ETAS]}), outside Lemma 3.4's condition, where the proof's bound gives "
            "eta^(-1/2) and no convergence; the earlier quick run measured their rate 0.32 [0.26, 0.37], below the "
            f"gamma=0.4 edge by 0.08, beyond the effect {_effect('standard'):.3f} of the standard profile (quick: "
            f"{_effect('quick'):.3f}, where the row may stay INCONCLUSIVE): the claim must not PASS; the mutant "
            "simulates only these cells"
        )
        return {MUTANT: Mutant(expect="not PASS", note=note)}

    def mutant_cells(self, profile, seed):
        n = _PROFILES[profile]["paths"]
        return [
            self.make_cell(_key(CONTROL, e), {"eta": e, "tau": _tau(e, CONTROL), "paths": n}, seed, cost=n * T_END / e)
            for e in ETAS
        ]

    def mutate(self, profile, name, prediction):
        if name != MUTANT:
            raise KeyError(name)
        return {**prediction, "cells": {r: CONTROL for r in RULES}}

    def figures(self, profile, results, measurements, figdir: Path) -> list[str]:
        by = {m.name: m for m in measurements}
        fig, axes = tradeoff.new_figure(ncols=1, width=6.0, height=4.6)
        ax = axes[0]
        e_ = np.asarray(ETAS)
        for j, (rule, g) in enumerate(zip(RULES, GAMMAS)):
            m = np.array([np.nanmean(results[_key(rule, e)]["D_sup"]) for e in ETAS])
            r = by[f"rate/{rule}"]
            ax.plot(
                ETAS, m, "o-", color=f"C{j}", label=f"{rule}: slope {r.estimate:.2f} [{r.ci[0]:.2f}, {r.ci[1]:.2f}]"
            )
            ax.plot(
                e_, m[0] * (e_ / e_[0]) ** g, "--", color=f"C{j}", lw=1, label=f"{rule}: bound's order, slope {g:g}"
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("step size eta (log)")
        ax.set_ylabel(f"mean over paths of sup_(t<={T_END:g}) ||D(t)||  (log)")
        log_ticks(ax, at=ETAS)
        ax.legend(fontsize=7, loc="lower right")
        sub = f"accumulated async error D(t), mu={MU:g}; judged: slope >= gamma (Lemma 3.4's bound O(eta^gamma))"
        claim_title(fig, self, sub, fontsize=9)
        return tradeoff.save_figure(fig, figdir, "async_error")

    def findings(self, profile, results, measurements) -> Findings:
        by = {m.name: m for m in measurements}
        out = []
        for rule in RULES:
            m = [np.nanmean(results[_key(rule, e)]["D_sup"]) for e in ETAS]
            r = by[f"rate/{rule}"]
            out.append(
                f"{rule}: mean sup||D|| = {', '.join(f'{v:.3g}' for v in m)} at eta = {', '.join(f'{e:g}' for e in ETAS)} "
                f"(taus {[_tau(e, rule) for e in ETAS]}); rate {r.estimate:.3g} [{r.ci[0]:.3g}, {r.ci[1]:.3g}] "
                f"against the bound's order {rule.split('=')[1]}: {r.verdict}"
            )
        out.append(
            "Runs whose delay grows like 1/eta (outside every threshold of the paper) are the mutant "
            f"'{MUTANT}' (calibration): the claim must not PASS them; version 4's band [0, inf) passed them."
        )
        return Findings(
            findings=out,
            inconsistencies=[
                "A.4 ends with ||D_k|| <= C tau eta^2/(1-mu)^2 = o(eta^(3/2)); summing t/eta such terms and dividing "
                "by sqrt(eta) gives O(tau sqrt(eta)) = O(eta^gamma), not the a.s. convergence for gamma in (0, 0.5] "
                "without further argument; and the Lipschitz constant (C_d + lambda1) is infinite for unbounded data."
            ],
        )
