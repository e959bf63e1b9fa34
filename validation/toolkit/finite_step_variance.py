"""Claim ``finite-step-variance`` (beyond the paper): the finite-step model predicts the stationary variance.

Near the optimum the OU limit (3.3) predicts ``E[h_i^2]/eta -> alpha_i1^2/(2(1-mu)(lambda_1-lambda_i))``
(Prop. 3.6 / A.6), with no delay in it and the data law only through ``alpha_i1``.  At real step sizes
the measured value misses it by an O(eta/(1-mu)) amount that depends on the data's fourth moments, and
by an O(eta tau/(1-mu)) amount with delays.  :func:`diffapprox.finite_step_prediction` models both
(linear solves of the delayed heavy-ball second moments with the state-dependent noise and the
normalisation drift under a stated closure); :func:`diffapprox.linear_prediction` keeps only the delay.

Per cell (data law x mu x eta x delay law), start ``e_1``, burn-in ``BURN`` and window ``window``
relaxation times ``(1-mu)/(lambda_1-lambda_2)`` (records every quarter of one); the estimate is the
mean over paths of each path's time average of ``h_i^2/eta``, its CI from the spread of those path
averages (independent paths).  Rows, i = 2..d:

* ``variance_ratio_finite_step/data=D/mu=M/eta=E/delay=L/i=I`` (judged): measured / finite-step,
  band ``[1 - BAND, 1 + BAND]``;
* ``variance_ratio_linear/...`` and ``variance_ratio_ou/...`` (context): measured / linear model and
  measured / (3.3), same CI.

Grid, band, paths and windows were fixed before the claim's first run.  ``BAND`` = 5%: the accuracy at
which the prediction can stand in for a simulation where (3.3) misses by up to 40% on this grid;
exploratory runs before it (same kernel, other seeds) had put the Gaussian cell at mu = 0.9,
eta = 2e-3 about 8% below the model, and that cell stays in the grid.  Every cell is below the
stability limit of its delay law (the radial mode binds; constant delays up to 32 at mu = 0.9,
eta = 5e-4).  The one decision rule: each judged row PASSes when its 95% interval lies inside the band
and FAILs when its Bonferroni interval (family level 0.01 over the judged rows) lies outside; each
judged row's effect is the departure beyond the band's upper edge detected with power 0.8 at that
level and the planned standard error, the OU time average's ``sqrt(2 / (r_i W P))``
(``r_i = (lambda_1-lambda_i)/(1-mu)``, W the window in time, P paths).  Diverged paths are left out
and named (a row with any cannot PASS).

A cell's simulation gives, per path, whether it stayed finite and its time averages of ``h_i^2/eta``
over the window (:meth:`FiniteStepVariance.simulate_cell`); the cell code keeps the finite paths'
averages.  Controls draw those per-path averages from a stated model, a Gamma law with the planned
per-path spread and the control's truth as mean (the finite-step value at ``exact``; ``1 + BAND``
times it at ``edge``; beyond by the effect for the moved family, by half of it at ``outside``).
Families: the step-size block and each delay kind (one modelling error moves its cells together).
The mutant ``ou-prediction`` judges the real simulator against the OU limit (3.3) in place of the
model: it must FAIL (the OU value misses the measured one by up to 40% on this grid).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from diffapprox import Claim, ControlSource, Findings, HistoryEntry, Mutant
from diffapprox.limits import finite_step_prediction
from diffapprox.limits import linear_prediction
from diffapprox import simulate, stats

from .._common import claim_title, new_figure, num, problem, save_figure, tag

BAND = 0.05
BURN = 10.0  # relaxation times (1-mu)/(lambda1-lambda2)
RECORDS_PER_RELAX = 4
DATA = ("gaussian", "cube")
#: (mu, eta) of the step-size block, no delay: eta/(1-mu) = 0.02, 0.01, 0.005, 0.01.
STEP_POINTS = ((0.9, 2e-3), (0.9, 1e-3), (0.9, 5e-4), (0.5, 5e-3))
DELAY_MU, DELAY_ETA = 0.9, 5e-4
MEANS = (4, 10, 20)
KINDS = ("const", "uniform", "geometric", "workers")
#: Delay kinds run with the bounded (cube) data law too: the deterministic one and the non-i.i.d. one.
CUBE_KINDS = ("const", "workers")
PROFILES = {
    "quick": {"paths": 100, "window": 20.0},
    "standard": {"paths": 1000, "window": 100.0},
    "paper": {"paths": 2000, "window": 200.0},
}
MODELS = ("finite_step", "linear", "ou")
LAW_TEXT = {"const": "const:m", "uniform": "uniform:0,2m", "geometric": "geometric:m", "workers": "workers:m+1"}


def _spec(kind: str, m: int) -> str:
    """The delay law of mean m: const:m, uniform:0,2m, geometric:m, workers:m+1 (stationary mean m)."""
    return {"const": f"const:{m}", "uniform": f"uniform:0,{2 * m}", "geometric": f"geometric:{m}"}.get(
        kind, f"workers:{m + 1}"
    )


def _grid() -> list[tuple[str, float, float, str]]:
    """Every cell: (data, mu, eta, delay spec)."""
    out = [(data, mu, eta, "const:0") for data in DATA for mu, eta in STEP_POINTS]
    for data in DATA:
        kinds = KINDS if data == "gaussian" else CUBE_KINDS
        out += [(data, DELAY_MU, DELAY_ETA, _spec(k, m)) for k in kinds for m in MEANS]
    return out


def _key(data: str, mu: float, eta: float, spec: str) -> str:
    return tag(data=data, mu=mu, eta=eta, delay=spec)


def _steps(profile: str, mu: float, eta: float) -> tuple[int, int]:
    """(steps, record_every): burn-in plus window, records every quarter relaxation time."""
    relax = (1.0 - mu) / eta  # steps per relaxation time of i = 2 (lambda1 - lambda2 = 1)
    r = max(1, int(round(relax / RECORDS_PER_RELAX)))
    return int(math.ceil((BURN + PROFILES[profile]["window"]) * relax / r)) * r, r


@cache
def _n_judged() -> int:
    return len(_grid()) * (problem().d - 1)


def _level() -> float:
    """The FAIL interval's level (Bonferroni over the judged rows at family level 0.01)."""
    return stats.fail_level(_n_judged())


def _family(spec: str) -> str:
    """``step`` for the step-size block (no delay), else the delay law's kind."""
    return "step" if spec == "const:0" else spec.split(":")[0]


def _families() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for data, mu, eta, spec in _grid():
        out.setdefault(_family(spec), []).append(f"variance_ratio_finite_step/{_key(data, mu, eta, spec)}/")
    return {k: tuple(v) for k, v in out.items()}


def _path_sd(profile: str, k: int) -> float:
    """Planned relative sd of one path's time average of h_i^2 (OU): sqrt(2/(r_i W)), r_i W = (g_i/g_2) window."""
    g = problem().eigenvalues[0] - problem().eigenvalues[1:]
    return math.sqrt(2.0 / (g[k] / g[0] * PROFILES[profile]["window"]))


def _effect(profile: str, k: int) -> float:
    """Departure beyond 1 + BAND detected with power 0.8 at the row level; the SE scales with the truth."""
    se = _path_sd(profile, k) / math.sqrt(PROFILES[profile]["paths"])
    kz = stats.detectable_effect(1.0, level=_level())
    return float(kz * se * (1.0 + BAND) / (1.0 - kz * se))


@cache
def _predictions() -> dict:
    """cell key -> {model: E[h_i^2]/eta for i = 2..d} and the finite-step model's note."""
    out = {}
    for data, mu, eta, spec in _grid():
        fs = finite_step_prediction(problem(data), mu=mu, eta=eta, delay=spec)
        lin = linear_prediction(problem(data), mu=mu, eta=eta, delay=spec)
        out[_key(data, mu, eta, spec)] = {
            "finite_step": fs.variance[1:],
            "linear": lin.variance[1:],
            "ou": fs.ou[1:],
            "note": fs.note,
        }
    return out


class FiniteStepVariance(Claim):
    id = "finite-step-variance"
    about = "toolkit"
    order = 105
    paper_ref = "beyond the paper: eq. (2.1) at finite step; OU limit (3.3), Prop. 3.6 / A.6 for context"
    statement = (
        "Near the optimum, the stationary E[h_i^2]/eta of eq. (2.1) equals the finite-step model's prediction "
        "within 5%, for constant, uniform, geometric and worker-queue delays below the stability limit, Gaussian "
        "and bounded data, at step sizes where the OU limit (3.3) misses."
    )
    history = (
        HistoryEntry(
            date="2026-12-06",
            version=2,
            change=(
                "one decision rule: PASS when a row's 95% interval lies inside the band, FAIL when its Bonferroni "
                "interval at family level 0.01 lies outside (was one interval at the Bonferroni level 1 - 0.05/78 "
                "both ways); effects restated at the FAIL level; band, grid and paths unchanged"
            ),
            reason="one rule for every claim: PASS by intersection-union, both error rates controlled",
            old_verdict="FAIL",
            old_source="earlier run: commit 86a7d2f, profile standard, seed 20180330 (76 PASS, 1 FAIL, 1 INCONCLUSIVE)",
        ),
        HistoryEntry(
            date="2026-12-06",
            version=3,
            change="paper profile: 2,000 paths per cell instead of 4,000 (window 200 as before; standard and quick "
            "unchanged)",
            reason="the paper profile runs the paper's claims at the paper's settings; this toolkit check has no "
            "paper setting, and its paper run (168 CPU-seconds) is halved so that the whole paper profile runs in 12 "
            "minutes on 2 cores; its CIs widen by sqrt(2), still 4 times the standard profile's paths x window",
            old_verdict="FAIL",
            old_source="earlier run: commit ff87508, profile paper, seed 20180330 (76 PASS, 1 FAIL, 1 INCONCLUSIVE)",
        ),
    )

    def parameters(self, profile: str) -> dict:
        p = PROFILES[profile]
        return {
            "problem": "paper Section 5.1: d = 4, Sigma = diag(4, 3, 2, 1)",
            "cells": [_key(*c) for c in _grid()],
            "delay_laws": "mean m: const:m, uniform:0,2m, geometric:m, workers:m+1",
            "paths": p["paths"],
            "burn_in_relax_times": BURN,
            "window_relax_times": p["window"],
            "records_per_relax_time": RECORDS_PER_RELAX,
            "band": [1 - BAND, 1 + BAND],
            "judged_rows": _n_judged(),
            "ci_level": _level(),
            "effects": {f"i={k + 2}": _effect(profile, k) for k in range(problem().d - 1)},
            "planned_se": "sqrt(2/(r_i W P)), r_i = (lambda1 - lambda_i)/(1-mu), W the window in time (OU)",
            "start": "e1",
        }

    def cells(self, profile: str, seed: int):
        out = []
        for data, mu, eta, spec in _grid():
            steps, r = _steps(profile, mu, eta)
            p = {"data": data, "mu": mu, "eta": eta, "delay": spec, "steps": steps, "record_every": r}
            p["paths"] = PROFILES[profile]["paths"]
            out.append(self.make_cell(_key(data, mu, eta, spec), p, seed, cost=steps * p["paths"]))
        return out

    def simulate_cell(self, cell) -> dict:
        """Per path: finite or not, and its time averages of h_i^2/eta over the window, i = 2..d."""
        p = cell.params
        traj = simulate(
            problem(p["data"]),
            mu=p["mu"],
            eta=p["eta"],
            steps=p["steps"],
            paths=p["paths"],
            delay=p["delay"],
            record_every=p["record_every"],
            start="e1",
            seed=cell.seed,
        )
        w = traj.times >= BURN * (1.0 - p["mu"]) - 1e-12
        with np.errstate(invalid="ignore", over="ignore"):
            h2 = traj.h[:, w, 1:] ** 2 / p["eta"]
        return {
            "finite": np.asarray(traj.finite, dtype=bool),
            "path_means": h2.mean(axis=1),  # (P, d-1)
            "window": np.array([traj.times[w][0], traj.times[-1]], dtype=float),
        }

    def summarize(self, cell, data: dict) -> dict:
        """The finite paths' time averages (diverged ones counted, left out)."""
        ok = np.asarray(data["finite"], dtype=bool)
        return {
            "n_paths": int(ok.size),
            "n_finite": int(ok.sum()),
            "path_means": np.asarray(data["path_means"], dtype=float)[ok],
            "window": [float(x) for x in data["window"]],
        }

    # -- predict / measure ----------------------------------------------------------------------
    def predict(self, profile: str) -> dict:
        return _predictions()

    def measure(self, profile, seed, results, prediction):
        """The rows of every cell in ``results`` (all of them in a run; the mutant's cells for a mutant)."""
        ms = []
        for cell in _grid():
            key = _key(*cell)
            if key in results:
                ms += _rows(profile, key, results[key], prediction[key])
        return ms

    # -- figures / findings ---------------------------------------------------------------------
    def figures(self, profile, results, measurements, figdir):
        by = {m.name: m for m in measurements}
        out = _step_figure(self, by, figdir)
        for kind in KINDS:
            out += _delay_figure(self, kind, by, figdir)
        return out

    def findings(self, profile, results, measurements) -> Findings:
        by = {m.name: m for m in measurements}
        lines = [_summary_sentence(measurements)]
        lines += [_cell_sentence(_key(*cell), by) for cell in _grid()]
        return Findings(findings=lines)

    # -- controls -------------------------------------------------------------------------------
    def families(self, profile):
        return _families()

    def control_sources(self, profile):
        model = ControlSource(
            source="model",
            model="per-path time averages of h_i^2/eta drawn from a Gamma law with the planned per-path spread "
            "sqrt(2/(r_i W)) of the OU time average and the control's truth as mean (finite-step value at exact); "
            "no exact sampler of eq. (2.1)'s stationary law exists",
        )
        return model.for_every_kind()

    def control_data(self, cell, control, rng) -> dict:
        p, fs = cell.params, _predictions()[cell.key]["finite_step"]
        profile = next(k for k, v in PROFILES.items() if v["paths"] == p["paths"])
        cols = []
        for k, v in enumerate(fs):
            eff = _effect(profile, k)
            r = control.truth(exact=1.0, band=(1 - BAND, 1 + BAND), effect=eff, direction=1, family=_family(p["delay"]))
            sd = _path_sd(profile, k)
            cols.append(rng.gamma(1.0 / sd**2, r * v * sd**2, size=p["paths"]))
        return {"finite": np.ones(p["paths"], dtype=bool), "path_means": np.stack(cols, axis=1), "window": np.zeros(2)}

    def mutants(self, profile):
        note = (
            "the OU limit (3.3)'s E[h_i^2]/eta planted as the prediction, judged on the cells mu = 0.9, eta = 2e-3 (both "
            "data laws), where the model and the OU value differ most (Gaussian i = 2: finite-step 80.0 against OU "
            "60.0, measured 73.8 in the standard run: a ratio of 1.23 to the planted value, beyond the 5% band plus the "
            "effect)"
        )
        return {"ou-prediction": Mutant(expect="FAIL", note=note)}

    def mutant_cells(self, profile, seed):
        """The step-size cells at mu = 0.9, eta = 2e-3 (both data laws), where the OU value is furthest from the
        model (Gaussian i = 2: 60 against 80): a full run per replicate would cost 50 standard runs."""
        return [c for c in self.cells(profile, seed) if c.params["eta"] == 2e-3 and c.params["delay"] == "const:0"]

    def mutate(self, profile, name, prediction):
        return {k: {**v, "finite_step": v["ou"]} for k, v in prediction.items()}


def _rows(profile: str, key: str, res: dict, pred: dict) -> list:
    """The judged finite-step row and the two context rows of each coordinate of one cell."""
    pm, lv, out = np.asarray(res["path_means"], dtype=float).reshape(-1, problem().d - 1), _level(), []
    diverged = int(res["n_paths"]) - int(res["n_finite"])
    for k in range(pm.shape[1]):
        for model in MODELS:
            judged = model == "finite_step"
            v = float(pred[model][k])
            est = stats.mean_ci(pm[:, k] / v, stats.PASS_LEVEL)
            note = f"mean of h_i^2/eta over paths and t in {res['window']}; {model} prediction {v:.5g}"
            if judged and pred["note"]:
                note += f"; model: {pred['note']}"
            out.append(
                stats.measurement(
                    f"variance_ratio_{model}/{key}/i={k + 2}",
                    est,
                    prediction=1.0,
                    band=(1 - BAND, 1 + BAND),
                    judged=judged,
                    ci_fail=stats.mean_ci(pm[:, k] / v, lv) if judged else None,
                    effect=_effect(profile, k) if judged else None,
                    diverged=diverged,
                    note=note,
                )
            )
    return out


def _ratio(by: dict, model: str, key: str, i: int):
    m = by[f"variance_ratio_{model}/{key}/i={i}"]
    return m.estimate, m.ci


def _summary_sentence(measurements: list) -> str:
    """Mean absolute miss of each model over every row: how much of (3.3)'s miss the models explain."""
    miss = {
        model: [abs(m.estimate - 1.0) for m in measurements if m.name.startswith(f"variance_ratio_{model}/")]
        for model in MODELS
    }
    mean = {model: 100.0 * float(np.nanmean(v)) for model, v in miss.items()}
    worst = {model: 100.0 * float(np.nanmax(v)) for model, v in miss.items()}
    return (
        f"mean |measured/prediction - 1| over the {len(miss['ou'])} rows: OU (3.3) {mean['ou']:.1f}% "
        f"(worst {worst['ou']:.1f}%), linear {mean['linear']:.1f}% (worst {worst['linear']:.1f}%), finite-step "
        f"{mean['finite_step']:.1f}% (worst {worst['finite_step']:.1f}%); the finite-step model leaves "
        f"{mean['finite_step'] / mean['ou']:.0%} of the OU's mean miss unexplained"
    )


def _cell_sentence(key: str, by: dict) -> str:
    parts = []
    for model, label in (("ou", "measured/OU"), ("linear", "measured/linear"), ("finite_step", "measured/finite-step")):
        vals = [_ratio(by, model, key, i)[0] for i in range(2, problem().d + 1)]
        parts.append(f"{label} " + ", ".join(f"{v:.3f}" for v in vals))
    return f"{key}, i = 2..{problem().d}: " + "; ".join(parts)


def _model_curves(by: dict, key: str, i: int) -> dict:
    """Measured (with CI) and the three predictions of one coordinate, in units of the OU value."""
    r_ou, ci = _ratio(by, "ou", key, i)
    return {
        "measured": (r_ou, ci),
        "linear": r_ou / _ratio(by, "linear", key, i)[0],
        "finite_step": r_ou / _ratio(by, "finite_step", key, i)[0],
    }


def _plot_series(ax, xs: list, curves: list, colour: str, label: str) -> None:
    y = np.array([c["measured"][0] for c in curves])
    err = np.array([[c["measured"][0] - c["measured"][1][0], c["measured"][1][1] - c["measured"][0]] for c in curves])
    ax.errorbar(xs, y, yerr=err.T, fmt="o", color=colour, ms=4, capsize=2, label=f"measured ({label})")
    ax.plot(xs, [c["finite_step"] for c in curves], "-", color=colour, lw=1.2, label=f"finite-step ({label})")
    ax.plot(xs, [c["linear"] for c in curves], ":", color=colour, lw=1.2, label=f"linear ({label})")


def _plot_points(ax, points: list, colour: str) -> None:
    """Single measured points (open squares) with their finite-step values (dashes)."""
    for x, cv in points:
        ax.plot([x], [cv["measured"][0]], "s", color=colour, ms=5, mfc="none")
        ax.plot([x], [cv["finite_step"]], "_", color=colour, ms=10)


def _delay_figure(claim, kind: str, by: dict, figdir) -> list:
    """Measured, OU, linear and finite-step E[h_i^2]/eta (over the OU value) against the mean delay."""
    fig, axes = new_figure(ncols=problem().d - 1, size=(4.2, 3.6))
    xs = [0, *MEANS]
    for c, i in enumerate(range(2, problem().d + 1)):
        ax = axes[0, c]
        for data, colour in zip(DATA, ("C0", "C3")):
            if data != "gaussian" and kind not in CUBE_KINDS:
                continue
            keys = [_key(data, DELAY_MU, DELAY_ETA, "const:0")]
            keys += [_key(data, DELAY_MU, DELAY_ETA, _spec(kind, m)) for m in MEANS]
            _plot_series(ax, xs, [_model_curves(by, k, i) for k in keys], colour, data)
        ax.axhline(1.0, color="k", lw=0.8, ls="--", label="OU (3.3)")
        ax.set_xlabel(f"mean delay m ({LAW_TEXT[kind]})")
        ax.set_title(f"i = {i}", fontsize=9)
    axes[0, 0].set_ylabel("E[h_i^2]/eta over the OU value")
    axes[0, -1].legend(fontsize=6, loc="upper left")
    sub = f"{kind} delays, mu = {num(DELAY_MU)}, eta = {num(DELAY_ETA)}: measured (95% CI) and models"
    claim_title(fig, claim, sub, fontsize=9)
    return save_figure(fig, figdir, f"finite_step_variance_{kind}")


def _step_figure(claim, by: dict, figdir) -> list:
    """Measured and predicted E[h_i^2]/eta (over the OU value) against eta/(1-mu), no delay; mu = 0.9 as
    series, the other momenta as squares."""
    fig, axes = new_figure(ncols=problem().d - 1, size=(4.2, 3.6))
    line = sorted((p for p in STEP_POINTS if p[0] == DELAY_MU), key=lambda p: p[1])
    other = [p for p in STEP_POINTS if p[0] != DELAY_MU]
    for c, i in enumerate(range(2, problem().d + 1)):
        ax = axes[0, c]
        for data, colour in zip(DATA, ("C0", "C3")):
            curves = [_model_curves(by, _key(data, mu, eta, "const:0"), i) for mu, eta in line]
            _plot_series(ax, [eta / (1 - mu) for mu, eta in line], curves, colour, f"{data}, mu = {num(DELAY_MU)}")
            _plot_points(
                ax,
                [(eta / (1 - mu), _model_curves(by, _key(data, mu, eta, "const:0"), i)) for mu, eta in other],
                colour,
            )
        ax.axhline(1.0, color="k", lw=0.8, ls="--", label="OU (3.3)")
        ax.set_xlabel("eta / (1 - mu)")
        ax.set_title(f"i = {i}", fontsize=9)
    axes[0, 0].set_ylabel("E[h_i^2]/eta over the OU value")
    axes[0, -1].legend(fontsize=6, loc="upper left")
    others = ", ".join(f"mu = {num(mu)}, eta = {num(eta)}" for mu, eta in other)
    sub = f"no delay: step size and data law (squares: {others}, measured; dashes: its finite-step value)"
    claim_title(fig, claim, sub, fontsize=9)
    return save_figure(fig, figdir, "finite_step_variance_step")
