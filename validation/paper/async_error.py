"""Claim ``async-error`` (Lemma 3.4): the accumulated asynchronous error D(t) -> 0 as eta -> 0.

D(t) = eta^(-1/2) sum_{n < t/eta} D_n, D_n = eta sum_i mu^(n-i) (G_i(h_{i-tau}) - G_i(h_i))
(A.4; computed along paths by the diagnostics kernel), with delays
tau(eta) ~ (1-mu)^2/((lambda1 + C_d) eta^(1/2-gamma)) for gamma in {0.1, 0.4}.  The paper's
constant (C_d is infinite for the Gaussian data used here, and with any bounded law the printed
formula gives tau < 2 on this grid) is replaced by anchoring: tau(eta) = round(tau0
(eta/eta_max)^-(1/2-gamma)), tau0 = S(mu, eta_max)/4 with S the exact linear-stability limit, so
every delay stays inside the stable range while following the paper's scaling in eta.  mu = 0.5,
eta in {2e-3 .. 1.25e-4} (16x), start e1 (phase III), t in (0, 2].  Statistic: mean over paths of
sup_{t <= 2} ||D(t)|| (diverged paths left out and counted; a row with any cannot PASS).

Judged (stated before measuring), CI level ``row_level(2, 0.01)``: ``rate/gamma=g``, the log-log slope of
that mean on eta, must be > 0 (band [0, inf): D -> 0 as eta -> 0; a rate of 0 is the boundary).
Context: ``rate_vs_proof/gamma=g``, the rate minus the eta^gamma that the proof's bound
||D_k|| <= C tau eta^2/(1-mu)^2 implies; and ``rate/control=tau~1/eta``, the same slope with the delay
growing like 1/eta (tau = tau0 eta_max/eta, outside every threshold of the paper), a negative
control that a test able to see the threshold must FAIL.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from diffapprox import Claim, Findings, HistoryEntry, derive_seed
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
    "quick": {"paths": 16, "n_boot": 400},
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


RULES = tuple(f"gamma={g:g}" for g in GAMMAS) + (CONTROL,)


def _key(rule: str, eta: float) -> str:
    return f"{rule}/eta={eta:g}"


#: Claim-level false-FAIL rate the row levels are set for: the null sits on the one-sided boundary
#: rate = 0, where each row FAILs with probability about (1 - level)/2, so 5% split over the rows
#: gives a rate that 200 control replicates cannot show to be below 5%.
FALSE_FAIL = 0.01


def _level() -> float:
    return stats.row_level(len(GAMMAS), FALSE_FAIL)


def _effect(profile: str) -> float:
    se = tradeoff.slope_se(ETAS, [CV / math.sqrt(_PROFILES[profile]["paths"])] * len(ETAS))
    return stats.detectable_effect(se, level=_level())


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
            "taus": {r: [_tau(e, r) for e in ETAS] for r in RULES},
            "delay_rule": "tau = round(S(mu, eta_max)/4 (eta/eta_max)^-(1/2-gamma)); control: S(mu, eta_max)/4 eta_max/eta",
            "band": "rate >= 0 (judged rows); the control's rate is shown against the same band",
            **_PROFILES[profile],
        }

    def cells(self, profile, seed):
        n = _PROFILES[profile]["paths"]
        return [
            self.make_cell(_key(r, e), {"eta": e, "tau": _tau(e, r), "paths": n}, seed, cost=n * T_END / e)
            for r in RULES
            for e in ETAS
        ]

    def run_cell(self, cell):
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
        bad = r["diverged"]
        d_sup = np.where(bad, np.nan, r["D_sup"])
        return {"D_sup": d_sup, "D": r["D"], "times": r["times"], "diverged": int(bad.sum())}

    def predict(self, profile: str) -> dict:
        # Lemma 3.4: D(t) -> 0, a positive rate; the proof's bound O(tau sqrt(eta)) = O(eta^gamma) is context
        return {"rate_boundary": 0.0, "proof_rate": {f"gamma={g:g}": g for g in GAMMAS}}

    def measure(self, profile, seed, results, prediction):
        level = _level()
        eff = _effect(profile)
        nb = _PROFILES[profile]["n_boot"]
        rows = []
        for rule in RULES:
            judged = rule != CONTROL
            fit, left = self._rate(seed, results, rule, level if judged else 0.95, nb)
            note = "log-log slope of mean sup_t ||D(t)|| on eta; >= 0 means D -> 0 as eta -> 0"
            if not judged:
                note += "; negative control: tau grows like 1/eta, outside every threshold of the paper"
            m = stats.measurement(
                f"rate/{rule}",
                fit,
                band=(0.0, math.inf),
                effect=eff if judged else None,
                judged=judged,
                diverged=left,
                note=note,
            )
            rows.append(m)
            if judged:
                g = prediction["proof_rate"][rule]
                ctx = (fit.estimate - g, (fit.ci[0] - g, fit.ci[1] - g))
                note = f"measured rate minus gamma = {g:g}, the rate the proof's bound implies"
                rows.append(stats.measurement(f"rate_vs_proof/{rule}", *ctx, prediction=0.0, judged=False, note=note))
        return rows

    def _rate(self, seed, results, rule, level, nb) -> tuple[stats.Estimate, int]:
        ss, left = [], 0
        for e in ETAS:
            x, k = tradeoff.finite_paths(results[_key(rule, e)]["D_sup"])
            ss.append(x)
            left += k
        fit = stats.loglog_slope_boot(
            ETAS,
            ss,
            lambda xs: [x.mean(axis=-1) for x in xs],
            n_boot=nb,
            seed=derive_seed(seed, self.id, "rate", rule),
            level=level,
        )
        return fit.as_estimate(), left

    def figures(self, profile, results, measurements, figdir: Path) -> list[str]:
        by = {m.name: m for m in measurements}
        fig, axes = tradeoff.new_figure(ncols=1, width=6.0, height=4.6)
        ax = axes[0]
        e_ = np.asarray(ETAS)
        for j, rule in enumerate(RULES):
            m = np.array([np.nanmean(results[_key(rule, e)]["D_sup"]) for e in ETAS])
            r = by[f"rate/{rule}"]
            style = "o-" if rule != CONTROL else "s:"
            ax.plot(
                ETAS, m, style, color=f"C{j}", label=f"{rule}: slope {r.estimate:.2f} [{r.ci[0]:.2f}, {r.ci[1]:.2f}]"
            )
            if rule != CONTROL:
                g = float(rule.split("=")[1])
                ax.plot(
                    e_, m[0] * (e_ / e_[0]) ** g, "--", color=f"C{j}", lw=1, label=f"{rule}: proof's rate, slope {g:g}"
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("step size eta (log)")
        ax.set_ylabel(f"mean over paths of sup_(t<={T_END:g}) ||D(t)||  (log)")
        log_ticks(ax, at=ETAS)
        ax.legend(fontsize=7, loc="lower right")
        sub = f"accumulated async error D(t), mu={MU:g}; judged: slope >= 0 (D -> 0); dotted: tau ~ 1/eta (control)"
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
                f"(taus {[_tau(e, rule) for e in ETAS]}); rate {r.estimate:.3g} [{r.ci[0]:.3g}, {r.ci[1]:.3g}] {r.verdict}"
            )
        c = by[f"rate/{CONTROL}"]
        if c.verdict.value != "FAIL":
            out.append(
                f"The negative control (tau ~ 1/eta, outside every threshold of the paper) does not FAIL "
                f"({c.verdict}): on this eta range a positive rate does not separate delays inside Lemma 3.4's "
                "threshold from delays growing like 1/eta, so the judged PASS is weak evidence for the threshold."
            )
        return Findings(
            findings=out,
            inconsistencies=[
                "A.4 ends with ||D_k|| <= C tau eta^2/(1-mu)^2 = o(eta^(3/2)); summing t/eta such terms and dividing "
                "by sqrt(eta) gives O(tau sqrt(eta)) = O(eta^gamma), not the a.s. convergence for gamma in (0, 0.5] "
                "without further argument; and the Lipschitz constant (C_d + lambda1) is infinite for unbounded data."
            ],
        )

    def synthetic(self, profile, kind, rng):
        if kind == "limit":
            return None
        # null: the rate on its boundary, 0 (mean sup||D|| flat in eta); alternative: D grows as eta falls,
        # the rate at -effect; the control cells are drawn like the judged ones
        rate = 0.0 if kind == "null" else -_effect(profile)
        n = _PROFILES[profile]["paths"]
        out = {}
        for rule in RULES:
            for e in ETAS:
                d = tradeoff.gamma_paths(rng, D_MAX * (e / ETAS[0]) ** rate, CV, n)
                out[_key(rule, e)] = {"D_sup": d, "diverged": 0}
        return out
