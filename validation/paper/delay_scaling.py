"""Claim ``delay-scaling``: the shape tau ~ (1-mu)^2 / eta^(1/2 - gamma) of the introduction and Remark 3.11.

Remark 3.11 (1): "to guarantee the convergence, delay must be chosen according to tau ~ (1-mu)^2 /
((lambda1 + C_d) eta^(1/2 - gamma)), gamma in (0, 0.5]"; the introduction states the same trade-off
as (1-mu)^2/sqrt(eta).  C_d = sup ||X|| is infinite for Gaussian data, so only the shape in (mu, eta)
is testable: tau* = C (1-mu)^p eta^-q with p = 2 and q = 1/2 - gamma in [0, 1/2).

Measured: tau*(mu, eta) on the 4 x 4 grid of :mod:`._delay` (ratio-1.5 criterion), fitted as
log tau* = log C + p log(1-mu) - q log eta.  Each tau* stands for the interval [tau*, next grid delay)
in which the crossing lies: the fit uses the intervals' geometric midpoints, and its bootstrap (the
curve's means redrawn from their normal approximation) draws each replicate log-uniformly within its
interval.  Judged, by the one decision rule (95% interval for PASS; FAIL interval at 1 - 0.01/2):
``exponent_p`` in [1.75, 2.25] (an equality, two-sided) and ``exponent_q`` in [0, 0.5] (Remark
3.11's range).  Effects: (z_fail + z_0.8) x the exponents' standard errors measured by the ``exact``
control (:data:`EFFECTS`), so that each has power 0.8 at the profile's paths and grid.  Families:
``p`` and ``q`` (each exponent its own statement).

Context: the exponents of Theorem 3.3's sufficient delay (p = 2, q = 1), of the exact linear-stability
limit S (the measured tau* sits on it), and of the paper's own Figure 1 delays 120, 80, 60, 30, 10
(p ~ 1.4 at eta = 5e-4: Figure 1 misses the p = 2 of its own text), the ODE-regime range of q, tau*/S,
and the fit on the grid values at 95% (the rule before 2026-11-29).

Controls (model, :func:`._delay.ramp_errors`): per-path errors of curves whose ratio-1.5 crossing is
planted at C (1-mu)^p eta^-q with p and q set by the control (exact: p = 2 and q = 1/4, Remark 3.11 at
gamma = 1/4, the middle of its range; the introduction's q = 1/2 is the range's edge), C putting the
crossings' geometric mean at 0.5 S.  Mutant: the law planted with p = 1.2 and q = 1.1 (near the
measured exponents, the stability limit's), expected not to FAIL; and p = 2 with q = 1/2 (the
introduction's law), expected to FAIL.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from diffapprox import Claim, ControlSource, Findings, HistoryEntry, Mutant, derive_seed, stats

from . import _delay as dg
from . import _tradeoff as tradeoff
from .._common import claim_title, log_ticks

P_BAND = (1.75, 2.25)
Q_BAND = (0.0, 0.5)
Q_ODE_BAND = (0.0, 1.0)
RATIO_BAND = (2.0 / 3.0, 1.5)
N_JUDGED = 2
#: Stated effects of (exponent_p, exponent_q) per profile: (z_{fail} + z_{0.8}) x the standard deviation of
#: the fitted exponent over 40 replicates of the exact control (standard: 0.028 for p, 0.024 for q; quick: 0.077,
#: 0.048), rounded up for the FAIL interval being wider than the estimate's spread (a calibration run before the seed
#: runs); the paper profile keeps a margin over the standard one.
EFFECTS = {"quick": (0.35, 0.30), "standard": (0.12, 0.12), "paper": (0.10, 0.10)}
#: The exact control's law (Remark 3.11 at gamma = 1/4) and the directions of the moved truths.
P_EXACT, Q_EXACT = 2.0, 0.25
P_DIR, Q_DIR = -1, 1
#: Planted crossings' geometric mean, in units of the stability limit S (inside the grid S/16 .. 2.4 S).
CENTER = 0.5
#: The paper's own Figure 1 (Section 5.1): eta = 5e-4 and the optimal delay per mu.
FIG1 = {0.7: 120, 0.8: 80, 0.85: 60, 0.9: 30, 0.95: 10}
#: The id the bootstrap seeds derive from (the alias delay-threshold runs exactly as this claim).
SEED_ID = "delay-scaling"
SHAPE = "the shape of the trade-off in the introduction ((1-mu)^2/sqrt(eta)) and Remark 3.11"


@functools.cache
def _center_const(p: float, q: float) -> float:
    """C such that the crossings C (1-mu)^p eta^-q have geometric mean CENTER x S over the grid's points."""
    logs = [
        math.log(CENTER * tradeoff.stable_delay(mu, eta)) - p * math.log(1 - mu) + q * math.log(eta)
        for mu, eta in dg.POINTS
    ]
    return math.exp(float(np.mean(logs)))


def _p_band(p: float) -> tuple[float, float]:
    """Band of exponent_p around the predicted p: +-0.25 (an equality)."""
    return (p - 0.25, p + 0.25)


def _q_band(q: float) -> tuple[float, float]:
    """Band of exponent_q below the predicted q: Remark 3.11's q = 1/2 - gamma, gamma in (0, 1/2]."""
    return (q - 0.5, q)


def _planted(mu: float, eta: float, p: float, q: float) -> float:
    return _center_const(p, q) * (1 - mu) ** p * eta**-q


class DelayScaling(Claim):
    id = "delay-scaling"
    order = 31
    about = "paper"
    paper_ref = "Remark 3.11; introduction (shape of the trade-off)"
    statement = (
        "The largest tolerable delay scales as tau* ~ (1-mu)^2 eta^-q with q = 1/2 - gamma in [0, 1/2] "
        "(Remark 3.11; (1-mu)^2/sqrt(eta) in the introduction)."
    )
    history = (
        tradeoff.seeds_entry(2, "FAIL"),
        HistoryEntry(
            date="2026-11-29",
            version=3,
            change=(
                "judged rows tau_star_vs_sufficient/mu/eta: tau* >= Theorem 3.3's sufficient delay (1-mu)^2/"
                "(lambda1 eta) (gamma -> 0, constant 1), next to the exponent rows, which now test the shape of "
                "the trade-off; 18 rows at CI level 1 - 0.05/18; the exponents fitted to the midpoints of the "
                "grid intervals [tau*, next delay) with replicates drawn within them (was: the grid values at "
                "95%); tau*'s bootstrap redraws the curve's means from their normal approximation (was: paths); "
                "the delay grid extended from S/8 down to S/16"
            ),
            reason=(
                "the paper's thresholds are sufficient conditions, checked by measured >= sufficient with a "
                "threshold finite for the data law (the SDE one has C_d infinite for Gaussian data); the "
                "synthetic null showed the fit on grid values is biased by up to one grid step with a CI that "
                "ignores it; the synthetic alternative needs delays below the sufficient delay on the grid "
                "(at mu = 0.9 it is S/7)"
            ),
            old_rows=("fixed_grid_fit/",),
        ),
        HistoryEntry(
            date="2026-12-06",
            version=4,
            change=(
                "split: the claim delay-threshold becomes delay-scaling (the exponent rows, Remark 3.11 and the "
                "introduction) and delay-sufficiency (the 16 rows tau* >= Theorem 3.3's sufficient delay); "
                "one decision rule: 95% PASS interval, Bonferroni FAIL interval at family level 0.01 over the 2 "
                "exponent rows (was one interval at 1 - 0.05/18); effects from the exponents' spread under the "
                "exact control (was the grid's resolution alone); the exponents of the sufficient delay and of the "
                "paper's Figure 1 delays as context rows"
            ),
            reason=(
                "a theorem's sufficient condition and the remark's scaling law are different statements: judged "
                "together, the remark's exponent rows alone decided the verdict; the grid-resolution effect "
                "(0.089 for p) lay below the exponent's real CI half-width (0.106), so no control could reach it"
            ),
            old_verdict="FAIL",
            old_source="earlier run: commit 86a7d2f, profile standard, seed 20180330 (as delay-threshold)",
        ),
    )

    def parameters(self, profile: str) -> dict:
        return {
            **dg.grid_parameters(profile),
            "tolerance": {
                "exponent_p": list(P_BAND),
                "exponent_q": list(Q_BAND),
                "exponent_q/ode (context)": list(Q_ODE_BAND),
                "stability_ratio (context)": list(RATIO_BAND),
            },
            "effects": dict(zip(("exponent_p", "exponent_q"), EFFECTS[profile])),
            "fit": "OLS of log tau* on log(1-mu), -log eta; tau* as the interval [tau*, next delay)",
        }

    def cells(self, profile: str, seed: int):
        return dg.cells(self.id, profile, seed)

    def simulate_cell(self, cell):
        return dg.simulate_cell(cell)

    def summarize(self, cell, data):
        return dg.summarize(cell, data)

    def predict(self, profile: str) -> dict:
        return {"p": 2.0, "q": 0.5, "stability": {pt: tradeoff.stable_delay(*pt) for pt in dg.POINTS}}

    def measure(self, profile, seed, results, prediction):
        levels = (stats.PASS_LEVEL, stats.fail_level(N_JUDGED))
        star = dg.tau_stars(SEED_ID, seed, profile, results, dg.POINTS, levels)
        fit, fit_fail = self._fits(seed, star, levels)
        eff_p, eff_q = EFFECTS[profile]
        p, q = prediction["p"], prediction["q"]
        note = f"{fit.method}; tau* by {dg.CRITERION}; {dg.PROFILES[profile]['paths']} paths per delay; {SHAPE}"
        rows = [
            stats.measurement(
                "exponent_p", fit.p, fit.p_ci, p, _p_band(p), ci_fail=fit_fail.p_ci, effect=eff_p, note=note
            ),
            stats.measurement(
                "exponent_q",
                fit.q,
                fit.q_ci,
                q,
                _q_band(q),
                ci_fail=fit_fail.q_ci,
                effect=eff_q,
                note=f"{note}: q = 1/2 - gamma, gamma in (0, 1/2]",
            ),
        ]
        return rows + self._context_rows(seed, star, fit, prediction)

    def _fits(self, seed, star, levels) -> list[stats.PowerLawFit]:
        """The fit on the grid intervals (midpoints, replicates drawn within them) at each of ``levels``."""
        pts = list(star)
        tp = np.array([star[pt][0].estimate for pt in pts])
        reps = np.array([star[pt][0].replicates for pt in pts]).T  # the same replicates at every level
        tp, reps = stats.interval_censored(
            [dg.taus(*pt) for pt in pts], tp, reps, seed=derive_seed(seed, SEED_ID, "interval")
        )
        a, e = np.array([1 - m for m, _ in pts]), np.array([x for _, x in pts])
        return stats.power_law_boot_levels(a, e, tp, reps, levels=levels, drop_zero=True)

    def _fixed_grid_fit(self, star) -> stats.PowerLawFit:
        """The rule before 2026-11-29: the fit to the grid values themselves, at 95%."""
        pts = list(star)
        tp = np.array([star[pt][0].estimate for pt in pts])
        reps = np.array([star[pt][0].replicates for pt in pts]).T
        a, e = np.array([1 - m for m, _ in pts]), np.array([x for _, x in pts])
        return stats.power_law_boot(a, e, tp, reps, level=0.95)

    def _context_rows(self, seed, star, fit, prediction) -> list:
        old = self._fixed_grid_fit(star)
        before = "the rule before 2026-11-29: fit to the grid values, 95%"
        rows = [
            stats.measurement("fixed_grid_fit/exponent_p", old.p, old.p_ci, 2.0, P_BAND, judged=False, note=before),
            stats.measurement("fixed_grid_fit/exponent_q", old.q, old.q_ci, 0.5, Q_BAND, judged=False, note=before),
            stats.measurement(
                "exponent_q/ode",
                fit.q,
                fit.q_ci,
                1.0,
                Q_ODE_BAND,
                judged=False,
                note="ODE regime (Thm 3.3): q = 1 - gamma, gamma in (0, 1]",
            ),
        ]
        return rows + _exponent_context(star, prediction["stability"]) + _stability_rows(star, prediction["stability"])

    def figures(self, profile, results, measurements, figdir: Path) -> list[str]:
        by = {m.name: m for m in measurements}
        star = {pt: by[f"tau_star/{dg.pt(*pt)}"] for pt in dg.POINTS if f"tau_star/{dg.pt(*pt)}" in by}
        stab = {pt: tradeoff.stable_delay(*pt) for pt in dg.POINTS}
        fig, axes = tradeoff.new_figure(ncols=2, width=6.0, height=4.8)
        for j, eta in enumerate(dg.ETAS):
            pts = [(mu, eta) for mu in dg.MUS]
            _series(axes[0], [1 - m for m in dg.MUS], pts, star, stab, f"C{j}", f"eta={eta:g}")
        for i, mu in enumerate(dg.MUS):
            pts = [(mu, eta) for eta in dg.ETAS]
            _series(axes[1], dg.ETAS, pts, star, stab, f"C{i + 4}", f"mu={mu:g}")
        p, q = by["exponent_p"], by["exponent_q"]
        axes[0].set_xlabel("1 - mu  (log)")
        axes[0].set_title(f"tau* against 1 - mu; paper: p = 2, fit p = {p.estimate:.2f}", fontsize=9)
        axes[1].set_xlabel("step size eta  (log)")
        axes[1].set_title(f"tau* against eta; paper: q <= 1/2, fit q = {q.estimate:.2f}", fontsize=9)
        for k, ax in enumerate(axes):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylabel("tolerable delay tau*  (log)")
            ax.legend(fontsize=6, loc="upper left" if k == 0 else "lower left")
            log_ticks(ax, at=dg.ETAS if k == 1 else None)
        sub = (
            "tau* (points, CI) vs the stability limit S (solid) and Theorem 3.3's sufficient delay (dashed); "
            "fit tau* = C (1-mu)^p eta^-q"
        )
        claim_title(fig, self, sub, fontsize=9)
        return tradeoff.save_figure(fig, figdir, "delay_scaling")

    def findings(self, profile, results, measurements) -> Findings:
        by = {m.name: m for m in measurements}
        p, q = by["exponent_p"], by["exponent_q"]
        sp, sq = by["exponent_p/stability"], by["exponent_q/stability"]
        nd = sum(int(v["diverged"]) for v in results.values())
        follows = (p.ci[0] <= sp.estimate <= p.ci[1]) and (q.ci[0] <= sq.estimate <= q.ci[1])
        return Findings(
            findings=[
                f"Fit tau* = C (1-mu)^p eta^-q: p = {p.estimate:.2f} [{p.ci[0]:.2f}, {p.ci[1]:.2f}], q = "
                f"{q.estimate:.2f} [{q.ci[0]:.2f}, {q.ci[1]:.2f}]; the paper's shape is p = 2, q <= 1/2; the exact "
                f"linear-stability limit has p = {sp.estimate:.2f}, q = {sq.estimate:.2f} on this grid"
                + (" (inside both CIs)." if follows else "."),
                f"The paper's own Figure 1 delays (120, 80, 60, 30, 10 at eta = 5e-4) have p = "
                f"{by['exponent_p/paper_figure1'].estimate:.2f}.",
                f"{nd} diverged paths in all (each counted as error 1 at its delay).",
            ],
            inconsistencies=[
                "Remark 3.11's threshold carries C_d = sup ||X||, infinite for Gaussian data (used in the paper's own "
                "Figure 1 setting as far as can be told); only its shape in (mu, eta) is testable.",
                "Theorem 3.3's sufficient delay (1-mu)^2/(lambda1 eta^(1-gamma)) grows like eta^-1 as gamma -> 0, "
                "faster than the eta^-1/2 shape claimed for the tolerable delay: a tolerable delay of that shape "
                "would fall below the sufficient delay as eta -> 0 (the two concern different limits, ODE and OU, "
                "but Remark 3.11 reads both as the delay one may use).",
                "The paper's own Figure 1 delays fall with (1-mu) as (1-mu)^1.4, not (1-mu)^2.",
            ],
        )

    # controls ----------------------------------------------------------------
    def families(self, profile):
        return {"p": ("exponent_p",), "q": ("exponent_q",)}

    def control_sources(self, profile):
        exact = ControlSource(
            source="model",
            model=(
                "per-path time-averaged errors, gamma with CV 0.45 and mean 9 eta/(1-mu) (1 + 0.5 (tau/theta)^6) "
                "(the ratio-1.5 crossing at theta), theta = C (1-mu)^p eta^-q; exact: p = 2, q = 1/4 (Remark 3.11 "
                "at gamma = 1/4, the middle of its range), C centring the crossings at 0.5 S"
            ),
        )
        moved = ControlSource(source="model", model="the same error model with p and q set by the control's truths")
        return {"edge": moved, "exact": exact, "family": moved, "outside": moved}

    def control_data(self, cell, control, rng):
        eff_p, eff_q = EFFECTS[cell.params["profile"]]
        p = control.truth(exact=P_EXACT, band=P_BAND, effect=eff_p, direction=P_DIR, family="p")
        q = control.truth(exact=Q_EXACT, band=Q_BAND, effect=eff_q, direction=Q_DIR, family="q")
        return dg.ramp_errors(rng, cell, _planted(cell.params["mu"], cell.params["eta"], p, q))

    def mutants(self, profile):
        measured = (
            "predicted p = 1.2, q = 1.1 (the exact stability limit's exponents, about those measured before): "
            "a corrected prediction, the planted bands [0.95, 1.45] and [0.6, 1.1] hold the truth, expected not FAIL"
        )
        return {"p=1.2,q=1.1": Mutant(expect="not FAIL", note=measured + MUTANT_CELLS_NOTE)}

    def mutant_cells(self, profile, seed):
        return dg.cells(self.id, profile, seed, points=MUTANT_POINTS)

    def mutate(self, profile, name, prediction):
        return {**prediction, "p": 1.2, "q": 1.1}


#: The mutant simulates 4 of the 16 points (about 7% of a full run): mu in {0.7, 0.9}, eta in {1e-3, 2e-3}.
MUTANT_POINTS = tuple((mu, eta) for mu in (0.7, 0.9) for eta in (1e-3, 2e-3))
MUTANT_CELLS_NOTE = "; simulates 4 points only (mu = 0.7, 0.9; eta = 1e-3, 2e-3), the fit on those"


def _exponent_context(star, stab) -> list:
    """Context: the exponents of the stability limit, of Theorem 3.3's sufficient delay, of the paper's Figure 1."""
    pts = list(star)
    a, e = [1 - m for m, _ in pts], [x for _, x in pts]
    zeros = np.zeros((1, len(pts)))
    sfit = stats.power_law_boot(a, e, [stab[pt] for pt in pts], zeros)
    tfit = stats.power_law_boot(a, e, [dg.sufficient(*pt) for pt in pts], zeros)
    mus = sorted(FIG1)
    x = np.log([1 - m for m in mus])
    fig_p = float(np.polyfit(x, np.log([FIG1[m] for m in mus]), 1)[0])
    exact = "exponent of the exact linear-stability limit on this grid"
    suff = "exponent of Theorem 3.3's sufficient delay (1-mu)^2/(lambda1 eta)"
    fig = "slope of log tau on log(1-mu) of the paper's Figure 1 delays 120, 80, 60, 30, 10 (eta = 5e-4)"
    return [
        stats.measurement("exponent_p/stability", sfit.p, (sfit.p, sfit.p), 2.0, judged=False, note=exact),
        stats.measurement("exponent_q/stability", sfit.q, (sfit.q, sfit.q), 0.5, judged=False, note=exact),
        stats.measurement("exponent_p/sufficient", tfit.p, (tfit.p, tfit.p), 2.0, judged=False, note=suff),
        stats.measurement("exponent_q/sufficient", tfit.q, (tfit.q, tfit.q), 0.5, judged=False, note=suff),
        stats.measurement("exponent_p/paper_figure1", fig_p, (fig_p, fig_p), 2.0, judged=False, note=fig),
    ]


def _stability_rows(star, stab) -> list:
    """Context: tau*/S at eta = 5e-4 per mu, and every tau* against the stability limit S."""
    rows = []
    for mu in dg.MUS:
        if (mu, dg.ETA_REF) not in star:
            continue
        s, S = star[(mu, dg.ETA_REF)][0], stab[(mu, dg.ETA_REF)]
        ci = (s.ci[0] / S, s.ci[1] / S)
        note = f"tau*/max_stable_delay at eta={dg.ETA_REF:g} (S={S})"
        rows.append(
            stats.measurement(
                f"stability_ratio/mu={mu:g}",
                s.estimate / S,
                ci,
                1.0,
                RATIO_BAND,
                judged=False,
                level=s.level,
                note=note,
            )
        )
    note = "prediction = exact linear-stability limit S of the radial mode"
    for pt in star:
        rows.append(
            stats.measurement(
                f"tau_star/{dg.pt(*pt)}", star[pt][0].as_estimate(), prediction=float(stab[pt]), judged=False, note=note
            )
        )
    return rows


def _series(ax, x, pts, star, stab, color, label):
    kept = [(xx, pt) for xx, pt in zip(x, pts) if pt in star]
    x, pts = [k[0] for k in kept], [k[1] for k in kept]
    y = np.array([star[pt].estimate for pt in pts])
    lo = np.array([max(star[pt].ci[0], 0.5) for pt in pts])
    hi = np.array([min(star[pt].ci[1], 1e4) for pt in pts])
    yerr = [np.maximum(y - lo, 0), np.maximum(hi - y, 0)]
    ax.errorbar(x, y, yerr=yerr, fmt="o", color=color, ms=4, capsize=2, label=label)
    ax.plot(x, [stab[pt] for pt in pts], "-", color=color, lw=1)
    ax.plot(x, [dg.sufficient(*pt) for pt in pts], "--", color=color, lw=0.8)
