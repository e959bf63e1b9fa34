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
for every ratio (two-sided: an equality), stated before measuring; the 14 judged rows by the one
decision rule (95% interval for PASS, Bonferroni interval at family level 0.01 for FAIL).  Diverged paths
and passages not reached within K are left out of the means and counted; a row with any cannot PASS.
Effects (direction up): 1.25 (exp((z_fail + z_0.8) SE) - 1) with SE the planned log-ratio SE from the
per-path CVs of the earlier standard run.  Families: one per measured quantity (stationary error,
escape step, traverse time), the change of the limit that moves a quantity for every law together.

Controls (model, :func:`_model_paths`): per path, a stationary error, an escape step and a traverse time,
each gamma with its planning CV (0.3, 0.5, 0.3) and mean 0.015, 1850 steps and the ODE (3.2) traverse
time times the row's truth (a constant law's stationary error and escape step at their means); the
error series holds the path's stationary error, the passages are placed around the escape step.
Mutants: the predicted ratio planted at 1.6 (band [1.28, 2]) and the ODE traverse time at 1.6 x its value
(truth ratio about 0.63): the measured ratios (0.96-1.05 before) lie beyond the planted bands by more
than the effect (about 0.1); they simulate the cells of mean 10 only.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from diffapprox import Claim, ControlSource, Findings, HistoryEntry, Mutant, simulate
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
    """Stated effect beyond the band's upper edge, in ratio units: 1.25 (exp((z_fail + z_power) SE) - 1)."""
    n = _PROFILES[profile]["paths"]
    se = cv * math.sqrt((2.0 if two_samples else 1.0) / n)
    return BAND[1] * math.expm1(stats.detectable_effect(se, level=stats.fail_level(N_JUDGED)))


#: The mutants' planted predictions (ratio, ODE traverse factor) and the mean whose cells they simulate.
MUTANTS = {"ratio=1.6": (1.6, 1.0), "traverse_ode=1.6x": (1.0, 1.6)}
MUTANT_MEAN = 10


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
        HistoryEntry(
            date="2026-12-06",
            version=4,
            change=(
                "one decision rule: 95% PASS interval, Bonferroni FAIL interval at family level 0.01 over the 14 "
                "judged rows (was one interval at 1 - 0.05/14); effects stated at the FAIL level"
            ),
            reason="one decision rule for every claim: PASS and FAIL each with its own error rate",
            old_verdict="PASS",
            old_source="earlier run: commit 86a7d2f, profile standard, seed 20180330",
        ),
    )
    about = "paper"

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

    def cells(self, profile: str, seed: int, means=MEANS):
        n = _PROFILES[profile]["paths"]
        return [
            self.make_cell(
                f"law={law}/mean={m}",
                {"delay": _spec(law, m), "paths": n, "mean": m, "profile": profile},
                seed,
                cost=n * K,
            )
            for m in means
            for law in LAWS
        ]

    def simulate_cell(self, cell) -> dict:
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
        return {"error": t.error, "passage": t.passage, "diverged": t.diverged, "times": t.times}

    def summarize(self, cell, data) -> dict:
        """The cell code: diverged paths and passages not reached are NaN (left out of the means, counted)."""
        div = np.asarray(data["diverged"], bool)
        err = np.where(div[:, None], np.nan, np.asarray(data["error"], float))
        pas = np.asarray(data["passage"]).astype(float)
        pas[(pas < 0) | div[:, None]] = np.nan
        return {
            "mean_curve": np.nanmean(err, axis=0),
            "stat": err[:, err.shape[1] // 2 :].mean(axis=1),
            "escape": pas[:, 1],
            "traverse": pas[:, 2] - pas[:, 0],
            "diverged": int(div.sum()),
            "times": np.asarray(data["times"]),
        }

    def predict(self, profile: str) -> dict:
        # the limit depends on the delay law only through its mean: every ratio 1; the ODE traverse time
        return {"ratio": 1.0, "traverse_ode_steps": T_ODE}

    def measure(self, profile, seed, results, prediction):
        rows = []
        for m in MEANS:
            if any(f"law={law}/mean={m}" not in results for law in LAWS):
                continue  # a mutant replicate simulates some means only
            for name, field, law, cv in _rows_of(m):
                rows.append(self._row(profile, results, m, name, field, law, cv, prediction))
        return rows

    def _row(self, profile, results, m, name, field, law, cv, prediction):
        judged = m <= M_OK
        num, la = tradeoff.finite_paths(results[f"law={law}/mean={m}"][field])
        if field == "traverse":
            den, lb = prediction["traverse_ode_steps"], 0
            note = f"ODE (3.2) traverse {prediction['traverse_ode_steps']:.0f} steps"
        else:
            den, lb = tradeoff.finite_paths(results[f"law=const/mean={m}"][field])
            note = "random / constant delay of the same mean"
        e = stats.ratio_ci(num, den, level=stats.PASS_LEVEL)
        e_fail = stats.ratio_ci(num, den, level=stats.fail_level(N_JUDGED)) if judged else None
        note += "; inside (4.1)" if judged else "; outside (4.1): shown, not judged"
        eff = _effect(profile, cv, field != "traverse") if judged else None
        r = prediction["ratio"]
        band = (BAND[0] * r, BAND[1] * r)
        return stats.measurement(
            name, e, prediction=r, band=band, judged=judged, effect=eff, diverged=la + lb, note=note, ci_fail=e_fail
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

    # controls ----------------------------------------------------------------
    def families(self, profile):
        return {prefix: (f"{prefix}/",) for _, prefix, _, _ in FAMILIES}

    def control_sources(self, profile):
        model = ControlSource(
            source="model",
            model=(
                "per path a stationary error, an escape step and a traverse time, gamma with CVs 0.3, 0.5, 0.3 and "
                "means 0.015, 1850 steps and the ODE (3.2) traverse time, each times its row's truth (Section 4: "
                "the limit depends on the delay law only through its mean, so every ratio's exact value is 1)"
            ),
        )
        return {"edge": model, "exact": model, "family": model, "outside": model}

    def control_data(self, cell, control, rng):
        profile, m = cell.params["profile"], cell.params["mean"]
        law = cell.key.split("/")[0].split("=")[1]
        truth = {}
        for field, prefix, cv, _ in FAMILIES:
            judged = m <= M_OK and (law != "const" or field == "traverse")
            eff = _effect(profile, cv, field != "traverse")
            truth[field] = control.truth(exact=1.0, band=BAND, effect=eff, direction=1, family=prefix) if judged else 1
        return _model_paths(rng, cell.params["paths"], truth)

    def mutants(self, profile):
        note = (
            "the predicted ratio planted at {r:g} and the ODE traverse time at {t:g} x its value: the measured "
            "ratios (0.96-1.05 in the earlier standard run) lie below the planted band [{lo:.3g}, {hi:.3g}] (or, for "
            "the traverse, at about {tr:.2f} below [0.8, 1.25]) by more than the effect (about 0.1); simulates the "
            f"cells of mean {MUTANT_MEAN} only (its 7 rows)"
        )
        return {
            name: Mutant(expect="FAIL", note=note.format(r=r, t=t, lo=BAND[0] * r, hi=BAND[1] * r, tr=1 / t))
            for name, (r, t) in MUTANTS.items()
        }

    def mutant_cells(self, profile, seed):
        return self.cells(profile, seed, means=(MUTANT_MEAN,))

    def mutate(self, profile, name, prediction):
        r, t = MUTANTS[name]
        return {**prediction, "ratio": r, "traverse_ode_steps": prediction["traverse_ode_steps"] * t}


def _model_paths(rng, n: int, truth: dict) -> dict:
    """Per-path arrays shaped as :meth:`RandomDelay.simulate_cell`'s, from the stated gamma model."""
    vals = {field: tradeoff.gamma_paths(rng, mean * truth[field], cv, n) for field, _, cv, mean in FAMILIES}
    times = np.arange(REC, K + 1, REC) * ETA
    err = np.repeat(vals["stat"][:, None], times.size, axis=1)
    first = np.maximum(vals["escape"] - vals["traverse"] / 2, 0.0)
    passage = np.column_stack([first, vals["escape"], first + vals["traverse"]])
    return {"error": err, "passage": passage, "diverged": np.zeros(n, bool), "times": times}


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
