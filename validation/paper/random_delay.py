"""Claim ``random-delay`` (Section 4): random delays with the mean of a constant one behave alike.

Section 4 extends Theorem 3.3 to unbounded random delays under the moment condition (4.1),
E tau ~ (1-mu)^2 / (lambda1 eta^(1-gamma)): the ODE limit, hence the error curves, should not depend
on the delay's law beyond its mean.  Setting: the Figure 1 problem (Gaussian, Sigma = diag(4,3,2,1),
start e2, eta = 5e-4, mu = 0.7), K = 20000.  Laws with mean M: ``const:M``, ``uniform:0,2M``,
``geometric:M`` (unbounded), for M in {10, 40} (inside (4.1) with constant 1 and gamma -> 0:
M <= 0.09/(4 eta) = 45) and M in {80, 120} (outside: shown, not judged, to see where they part).

Measurements per random law and M (ratio random / constant, bootstrap CI over paths):
``stationary_error_ratio`` (time-averaged error over the second half), ``escape_ratio`` (mean first
step with h1^2/||h||^2 >= 1/2), and per law ``traverse_ode_ratio`` (mean steps from h1^2/||h||^2 =
0.1 to 0.9 over the ODE (3.2) value (1-mu) ln 81 / (2 eta (lambda1 - lambda2))).  Band [0.8, 1.25]
for every ratio (two-sided: an equality), stated before measuring; the 14 judged rows at CI level
``row_level(14)``.  Diverged paths and passages not reached within K are left out of the means and
counted; a row with any cannot PASS.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from diffapprox import Claim, Findings, HistoryEntry, simulate
from diffapprox.engine import StreamingPCA
from diffapprox import stats

from . import _tradeoff as tradeoff
from .._common import SPECTRUM, claim_title, log_ticks

MU, ETA, K, REC = 0.7, 5e-4, 20000, 500
MEANS = (10, 40, 80, 120)
M_OK = 0.09 / (4 * ETA)  # (4.1) with constant 1, gamma -> 0
BAND = (0.8, 1.25)
LAWS = ("const", "uniform", "geometric")
#: What each ratio compares: (summary field, measurement prefix, planning CV of a path's value, mean in
#: the synthetic controls).  CVs: the largest per cell in the earlier standard run (commit 839d945).
T_ODE = (1 - MU) * math.log(81.0) / (2 * ETA * (SPECTRUM[0] - SPECTRUM[1]))
FAMILIES = (
    ("stat", "stationary_error_ratio", 0.3, 0.015),
    ("escape", "escape_ratio", 0.5, 1850.0),
    ("traverse", "traverse_ode_ratio", 0.3, T_ODE),
)
N_JUDGED = sum(1 for m in MEANS if m <= M_OK) * (2 * (len(LAWS) - 1) + len(LAWS))
_PROFILES = {
    "quick": {"paths": 32},
    "standard": {"paths": 300},
    "paper": {"paths": 1000},
}


def _spec(law: str, m: int) -> str:
    return {"const": f"const:{m}", "uniform": f"uniform:0,{2 * m}", "geometric": f"geometric:{m}"}[law]


def _effect(profile: str, cv: float, two_samples: bool) -> float:
    """Stated effect beyond the band's upper edge, in ratio units: 1.25 (exp((z + z_power) SE) - 1)."""
    n = _PROFILES[profile]["paths"]
    se = cv * math.sqrt((2.0 if two_samples else 1.0) / n)
    return BAND[1] * math.expm1(tradeoff.effect(se, N_JUDGED))


def _rows_of(m: int) -> list[tuple[str, str, str, float]]:
    """(row name, summary field, law, planning CV) of every ratio at mean m."""
    out = []
    for field, prefix, cv, _ in FAMILIES:
        laws = LAWS if field == "traverse" else LAWS[1:]
        out.extend((f"{prefix}/law={law}/mean={m}", field, law, cv) for law in laws)
    return out


class RandomDelay(Claim):
    id = "random-delay"
    order = 40
    paper_ref = "Section 4, moment condition (4.1)"
    statement = (
        "Unbounded random delays whose mean satisfies (4.1) give the same limit (error curves, "
        "stationary error, ODE traverse) as a constant delay with that mean."
    )
    history = (
        tradeoff.seeds_entry(2, "PASS"),
        HistoryEntry(
            date="2026-11-29",
            version=3,
            change=(
                "the 14 judged ratios at CI level 1 - 0.05/14 (was 0.95) with stated effects, the CI of a ratio by "
                "the delta method on the log scale (was a percentile bootstrap); a diverged path's "
                "stationary error is left out and counted (it counted as error 1) and withholds a PASS"
            ),
            reason=(
                "14 two-sided rows at 0.95 let the claim FAIL its null far more often than 5%; one stated rule "
                "for diverged paths (a moment uses the finite paths and cannot PASS if any diverged)"
            ),
            old_verdict="PASS",
            old_source="earlier run: commit cdffc41, profile standard, seed 20180330",
        ),
    )

    def parameters(self, profile: str) -> dict:
        p = _PROFILES[profile]
        return {
            "mu": MU,
            "eta": ETA,
            "steps": K,
            "record_every": REC,
            "start": "e2",
            "data": "gaussian",
            "spectrum": list(SPECTRUM),
            "means": list(MEANS),
            "laws": {law: _spec(law, 0).replace("0", "M", 1) for law in LAWS},
            "moment_condition_mean_max": M_OK,
            "paths_per_cell": p["paths"],
            "ratio_ci": "delta method on the log scale (independent samples)",
            "tolerance": list(BAND),
            "traverse_ode_steps": T_ODE,
            "judged": "means <= (1-mu)^2/(lambda1 eta) = 45 only; larger means context only",
        }

    def cells(self, profile: str, seed: int):
        n = _PROFILES[profile]["paths"]
        return [
            self.make_cell(f"law={law}/mean={m}", {"delay": _spec(law, m), "paths": n}, seed, cost=n * K)
            for m in MEANS
            for law in LAWS
        ]

    def run_cell(self, cell) -> dict:
        p = cell.params
        t = simulate(
            StreamingPCA(spectrum=SPECTRUM),
            mu=MU,
            eta=ETA,
            steps=K,
            paths=p["paths"],
            delay=p["delay"],
            record_every=REC,
            start="e2",
            seed=cell.seed,
            record_h=False,
            passages=[(0, 0.1, 1), (0, 0.5, 1), (0, 0.9, 1)],
        )
        err = np.where(t.diverged[:, None], np.nan, t.error)
        pas = t.passage.astype(float)
        pas[(pas < 0) | t.diverged[:, None]] = np.nan
        return {
            "mean_curve": np.nanmean(err, axis=0),
            "stat": err[:, err.shape[1] // 2 :].mean(axis=1),
            "escape": pas[:, 1],
            "traverse": pas[:, 2] - pas[:, 0],
            "diverged": int(t.diverged.sum()),
            "times": t.times,
        }

    def predict(self, profile: str) -> dict:
        # the limit depends on the delay law only through its mean: every ratio 1; the ODE traverse time
        return {"ratio": 1.0, "traverse_ode_steps": T_ODE}

    def measure(self, profile, seed, results, prediction):
        level = stats.row_level(N_JUDGED)
        rows = []
        for m in MEANS:
            for name, field, law, cv in _rows_of(m):
                rows.append(self._row(profile, results, m, name, field, law, cv, level, prediction))
        return rows

    def _row(self, profile, results, m, name, field, law, cv, level, prediction):
        judged = m <= M_OK
        num, la = tradeoff.finite_paths(results[f"law={law}/mean={m}"][field])
        if field == "traverse":
            den, lb = prediction["traverse_ode_steps"], 0
            note = f"ODE (3.2) traverse {T_ODE:.0f} steps"
        else:
            den, lb = tradeoff.finite_paths(results[f"law=const/mean={m}"][field])
            note = "random / constant delay of the same mean"
        e = stats.ratio_ci(num, den, level=level if judged else 0.95)
        note += "; inside (4.1)" if judged else "; outside (4.1): shown, not judged"
        eff = _effect(profile, cv, field != "traverse") if judged else None
        return stats.measurement(
            name, e, prediction=1.0, band=BAND, judged=judged, effect=eff, diverged=la + lb, note=note
        )

    def figures(self, profile, results, measurements, figdir: Path) -> list[str]:
        fig, _ = tradeoff.new_figure(ncols=1, width=14.4, height=7.6)
        fig.clear()
        gs = fig.add_gridspec(2, 12)
        for k, m in enumerate(MEANS):
            _curves_panel(fig.add_subplot(gs[0, 3 * k : 3 * k + 3]), results, m, first=k == 0)
        what = (
            ("stationary_error_ratio", "stationary error, random / const"),
            ("escape_ratio", "escape step, random / const"),
            ("traverse_ode_ratio", "traverse steps / ODE (3.2) value"),
        )
        for k, (key, lab) in enumerate(what):
            _ratio_panel(fig.add_subplot(gs[1, 4 * k : 4 * k + 4]), measurements, key, lab)
        sub = (
            "Figure-1 problem (Gaussian, eta=5e-4, mu=0.7): error curves by delay law with equal mean (top) "
            "and the ratios, judged left of the dotted line (bottom)"
        )
        claim_title(fig, self, sub, fontsize=10)
        return tradeoff.save_figure(fig, figdir, "random_delay")

    def findings(self, profile, results, measurements) -> Findings:
        out = [
            f"{m.name}: {m.estimate:.3g} [{m.ci[0]:.3g}, {m.ci[1]:.3g}] {m.verdict}"
            + ("" if m.judged else " (not judged)")
            for m in measurements
            if not m.judged or m.verdict.value != "PASS"
        ]
        nd = sum(int(v["diverged"]) for v in results.values())
        out.append(f"{nd} diverged paths in all (left out of every ratio and counted in its note).")
        return Findings(
            findings=out,
            inconsistencies=[
                "(4.1) is written with 'asymp' and an unstated constant; we read it with constant 1 and gamma -> 0 "
                "(E tau <= 45 here)."
            ],
        )

    def synthetic(self, profile, kind, rng):
        if kind == "limit":
            return None
        # null: every law has the same means and the traverse its ODE value (ratios 1); alternative: the judged
        # random-law means and every judged traverse sit above by the band's edge times exp(effect)
        n = _PROFILES[profile]["paths"]
        out = {}
        for m in MEANS:
            for law in LAWS:
                out[f"law={law}/mean={m}"] = self._draw(profile, kind, rng, n, m, law)
        return out

    def _draw(self, profile, kind, rng, n, m, law) -> dict:
        out = {"diverged": 0}
        for field, _, cv, mean in FAMILIES:
            moved = kind == "alternative" and m <= M_OK and (law != "const" or field == "traverse")
            up = BAND[1] + _effect(profile, cv, field != "traverse") if moved else 1.0
            out[field] = tradeoff.gamma_paths(rng, mean * up, cv, n)
        return out


def _curves_panel(ax, results, m, first):
    for law, st in zip(LAWS, ("-", "--", ":")):
        r = results[f"law={law}/mean={m}"]
        ax.plot(np.asarray(r["times"]), np.asarray(r["mean_curve"]), st, label=law)
    ax.set_yscale("log")
    ax.set_title(f"mean delay {m}" + (" (inside (4.1): judged)" if m <= M_OK else " (outside (4.1))"), fontsize=9)
    ax.set_xlabel("time t = k eta")
    if first:
        ax.set_ylabel("mean error 1 - h1^2/||h||^2  (log)")
        ax.legend(fontsize=8, title="delay law", title_fontsize=8)


def _ratio_panel(ax, measurements, key, lab):
    ax.axhspan(*BAND, color="0.88", zorder=0, label=f"tolerance band [{BAND[0]:g}, {BAND[1]:g}]")
    ax.axhline(1.0, color="k", ls="--", lw=1)
    marks = {"const": "s", "uniform": "o", "geometric": "^"}
    for k, law in enumerate(LAWS):
        pts = [mm for mm in measurements if mm.name.startswith(f"{key}/law={law}/")]
        if not pts:
            continue
        xm = np.array([float(mm.name.split("=")[-1]) for mm in pts]) * (1 + 0.04 * (k - 1))
        e = np.array([mm.estimate for mm in pts])
        yerr = [e - [mm.ci[0] for mm in pts], [mm.ci[1] for mm in pts] - e]
        ax.errorbar(xm, e, yerr=yerr, fmt=marks[law], color=f"C{k}", capsize=2, label=law)
    ax.axvline(M_OK, color="0.4", ls=":", lw=1, label=f"(4.1) limit, mean {M_OK:.0f}")
    ax.set_xscale("log")
    ax.set_xlabel("mean delay E tau (log)")
    ax.set_ylabel(lab, fontsize=9)
    log_ticks(ax, "x")
    ax.legend(fontsize=7, loc="best")
