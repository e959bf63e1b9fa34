"""Claim ``norm-bound`` (Lemma 3.1): max_{k <= T/eta} ||h_k||^2 - 1 <= O(tau eta/(1-mu)^2) + O(eta/(1-mu)^3).

Per path, the excess E = max_k ||h_k||^2 - 1 (the diagnostics kernel); per grid cell its mean over
the paths (grid and data laws in validation/_lemmas.py).  With B = tau eta/(1-mu)^2 + eta/(1-mu)^3
(constants 1), an upper bound E <= C B is broken only if E/B grows as B shrinks.  Judged on bounded
(cube) data, bands stated before measuring, one-sided, delta = 0.2 allowance for pre-asymptotic
curvature, decided by the one rule (below):

* ``eta_order/law=cube/tau=0/mu=m`` (every mu): the log-log slope of E on eta at tau = 0 is >= 0.8
  (B = eta/(1-mu)^3: prediction 1);
* ``ratio_slope/law=cube/mu=m/tau=fS`` (every mu, f = 1/4, 1/2): the slope of log(E/B) on log eta is
  >= -0.2 (E/B must not grow as eta falls; prediction 0, a constant ratio).  Along tau = f S the
  delay grows like 1/eta, so B does not shrink with eta: only the ratio can be read there.

Context: ``ratio_max/law=cube`` (max over cells of E/B, the implied constant) and, on the Gaussian
cells, the rule before 2026-11-29 (``slope/bound``, ``slope/eta/tau=0/mu=0.7``,
``slope/one_minus_mu/tau=0/eta=0.0005``, ``ratio_max``).  CIs: percentile bootstrap over paths.

Decision (version 6): the one rule of :data:`diffapprox.stats.DECISION_RULE`: the 95% percentile
bootstrap interval decides PASS, a normal interval with the bootstrap standard deviation at
``fail_level(9)`` decides FAIL.  Controls run the cell code on per-path E from a stated model (gamma
per path, mean a constant times B times (eta/eta_max)^s, s set by the control); families: the bound's
eta term (tau = 0 rows) and its delay term (the rows along the tau rules).  The mutant ``eta^2``
plants the bound with eta^2 in place of eta.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from diffapprox import ControlSource, Findings, HistoryEntry, Mutant, derive_seed
from diffapprox import stats

from . import _lemmas as lm
from . import _tradeoff as tradeoff
from .._common import claim_title, log_ticks

#: Planning coefficient of variation of E across paths (the largest seen per cell in the earlier
#: standard run, Gaussian data, commit 839d945): it sets the planned SE and so the stated effect.
CV_E = 0.35
#: The control model's E/B at eta_max (a constant ratio under exact: the bound's own form).
RATIO_E = 0.5
#: The mutant's wrong power of eta in the bound.
MUTANT_POWER = 2.0
OLD_SOURCE = "earlier run: commit 86a7d2f, profile standard, seed 20180330"
OLD_BANDS = {"slope/bound": 0.8, "slope/eta": 0.8, "slope/one_minus_mu": -3.2}


def _eta_se(profile: str) -> float:
    """Planned SE of every judged slope (each point a mean of ``paths`` values with CV ``CV_E``)."""
    n = lm.PROFILES[profile]["paths"]
    return tradeoff.slope_se(lm.ETAS, [lm.mean_se(CV_E, n)] * len(lm.ETAS))


def _effect(profile: str) -> float:
    return lm.effect(_eta_se(profile))


def _cube_ratios(results, mu: float, f: float) -> np.ndarray:
    """E/B on the cube cells of one (mu, tau rule), in increasing eta."""
    pts = lm.series(mu, f)
    return lm.cell_means(results, "cube", pts, "max_norm_excess") / [lm.bound(m, e, t) for m, e, _, t in pts]


class NormBound(lm.LemmaGridClaim):
    id = "norm-bound"
    about = "paper"
    FIELDS = ("max_norm_excess",)
    ETA_TERM_ROWS, DELAY_TERM_ROWS = "eta_order/", "ratio_slope/"
    order = 60
    paper_ref = "Lemma 3.1"
    statement = "max_{k <= O(1/eta)} ||v_k||^2 <= 1 + O(tau eta/(1-mu)^2) + O(eta/(1-mu)^3)."
    history = (
        HistoryEntry(
            date="2026-11-25",
            version=2,
            change="slope/bound (the pooled slope of E on B over the grid) demoted to context",
            reason=(
                "after the first run: the pooled slope mixes the 1-mu direction, along which B does not go "
                "to 0, so it does not test a bound that is asymptotic in eta"
            ),
            old_rows=("slope/bound", "slope/eta/", "slope/one_minus_mu/"),
        ),
        HistoryEntry(
            date="2026-11-25",
            version=3,
            change="slope/bound judged again, as stated before the first run",
            reason="the demotion had been decided after seeing the first run's numbers",
            old_rows=("slope/eta/", "slope/one_minus_mu/"),
        ),
        tradeoff.seeds_entry(4, "FAIL"),
        HistoryEntry(
            date="2026-11-29",
            version=5,
            change=(
                "judged on bounded (cube) data: at tau = 0 the slope of E in eta >= 0.8 for every mu, and for "
                "every (mu, tau rule) the slope of log(E/B) on log eta >= -0.2; the pooled slope of E on B, the "
                "eta slope at mu = 0.7 and the 1-mu slope, on Gaussian data, become context"
            ),
            reason=(
                "an upper bound E <= C B is broken only if E/B grows as B shrinks; the tau rules scale like "
                "1/eta, so along them B does not shrink and a slope of E on B cannot reach 0.8 even where the "
                "lemma holds; Gaussian data break the lemma's bounded-data Assumption 2"
            ),
            old_rows=("slope/bound", "slope/eta/", "slope/one_minus_mu/"),
        ),
        HistoryEntry(
            date="2026-12-06",
            version=6,
            change=(
                "one decision rule: 95% PASS interval (percentile bootstrap), FAIL interval at family level 0.01 "
                "(Bonferroni over the 9 rows; normal, with the bootstrap standard deviation) instead of one "
                "percentile interval at 1 - 0.05/9; effects restated at the FAIL level; bands, grid and paths "
                "unchanged"
            ),
            reason=(
                "one rule for every claim; the FAIL level's tails (0.06% each) lie beyond the last of 2000 "
                "bootstrap replicates, so that interval is normal"
            ),
            old_verdict="PASS",
            old_source=OLD_SOURCE,
        ),
    )

    def predict(self, profile: str) -> dict:
        # E <= C B: at tau = 0 (B = eta^p/(1-mu)^3, p = 1) the slope of E in eta is p if the bound is tight, and
        # E/B is constant along every tau rule; the bands allow delta below either
        return {"eta_order": 1.0, "ratio_slope": 0.0, "delta": lm.DELTA, "eta_power": 1.0}

    def measure(self, profile, seed, results, prediction):
        """Judged rows from the cube cells; context rows on the Gaussian cells when present (mutants run cube only)."""
        nb = lm.PROFILES[profile]["n_boot"]
        rows = [self._judged_row(profile, seed, results, mu, f, prediction, nb) for mu in lm.MUS for f in lm.FRACS]
        rows.append(self._ratio_max(results, "cube", "ratio_max/law=cube"))
        if lm.key("gaussian", *lm.grid()[0][:2], lm.grid()[0][3]) in results:
            rows += self._old_rows(seed, results, nb)
        return rows

    def _judged_row(self, profile, seed, results, mu, f, prediction, nb):
        pts = lm.series(mu, f)
        ss, left = lm.samples(results, lm.JUDGED_LAW, pts, "max_norm_excess")
        etas, p = [q[1] for q in pts], prediction["eta_power"]
        if f == 0:
            name, pred, scale = f"eta_order/law=cube/tau=0/mu={mu:g}", prediction["eta_order"], [1.0] * 4
        else:
            name, pred = f"ratio_slope/law=cube/mu={mu:g}/{lm.rule(f)}", prediction["ratio_slope"]
            scale = [lm.bound(mu, e, t, p) for _, e, _, t in pts]

        def stat(xs):
            return [x.mean(axis=-1) / c for x, c in zip(xs, scale)]

        fit = lm.slope_fit(etas, ss, stat, n_boot=nb, seed=derive_seed(seed, self.id, name))
        what = "E on eta" if f == 0 else f"E/B on eta, B = tau eta^{p:g}/(1-mu)^2 + eta^{p:g}/(1-mu)^3"
        band = (pred - prediction["delta"], math.inf)
        return lm.slope_row(
            name,
            fit,
            prediction=pred,
            band=band,
            effect=_effect(profile),
            diverged=left,
            note=f"log-log slope of {what}",
        )

    def _ratio_max(self, results, law, name):
        r = lm.cell_means(results, law, lm.grid(), "max_norm_excess") / [
            lm.bound(mu, e, t) for mu, e, _, t in lm.grid()
        ]
        return stats.measurement(
            name,
            float(r.max()),
            (float(r.min()), float(r.max())),
            judged=False,
            note="max (min as the 'ci') over cells of E/B",
        )

    def _old_rows(self, seed, results, nb):
        """The rule before 2026-11-29 on the Gaussian cells: pooled slope on B, eta slope at mu = 0.7, 1-mu slope."""
        g = lm.grid()
        rows = []
        for name, x, pts, pred in (
            ("slope/bound", [lm.bound(mu, e, t) for mu, e, _, t in g], g, 1.0),
            ("slope/eta/tau=0/mu=0.7", lm.ETAS, lm.series(0.7, 0.0), 1.0),
            (
                "slope/one_minus_mu/tau=0/eta=0.0005",
                [0.5, 0.3, 0.1],
                [c for c in g if c[1] == 5e-4 and c[3] == 0],
                -3.0,
            ),
        ):
            ss, left = lm.samples(results, "gaussian", pts, "max_norm_excess")
            ss = [np.clip(x, 1e-12, None) for x in ss]  # a log-log fit needs E > 0 (E = 0 only if ||h|| never grew)
            fit = lm.ratio_slope(seed, self.id, name, x, ss, [1.0] * len(ss), 0.95, nb)
            band = (OLD_BANDS[name.split("/tau")[0]], math.inf)
            note = "Gaussian data; the rule before 2026-11-29"
            rows.append(
                stats.measurement(
                    name, fit.as_estimate(), prediction=pred, band=band, judged=False, diverged=left, note=note
                )
            )
        rows.append(self._ratio_max(results, "gaussian", "ratio_max"))
        return rows

    def figures(self, profile, results, measurements, figdir: Path) -> list[str]:
        fig, axes = tradeoff.new_figure(ncols=2, width=5.4, height=4.4)
        for j, mu in enumerate(lm.MUS):
            for f, style in zip(lm.FRACS, ("o-", "s--", "^:")):
                r = _cube_ratios(results, mu, f)
                axes[0].plot(lm.ETAS, r, style, color=f"C{j}", ms=4, label=f"mu={mu:g}, {lm.rule(f)}")
        axes[0].set_xlabel("step size eta (log)")
        axes[0].set_ylabel("E / B on cube data (log)")
        axes[0].set_title("judged: E/B must not grow as eta falls (slope >= -0.2)", fontsize=8)
        g = lm.grid()
        B = np.array([lm.bound(mu, e, t) for mu, e, _, t in g])
        E = lm.cell_means(results, "gaussian", g, "max_norm_excess")
        for j, mu in enumerate(lm.MUS):
            idx = [i for i, c in enumerate(g) if c[0] == mu]
            axes[1].plot(B[idx], E[idx], "o", color=f"C{j}", label=f"mu={mu:g}")
        xs = np.geomspace(B.min(), B.max(), 20)
        axes[1].plot(xs, xs * np.median(E / B), "k--", lw=1, label="E = C B (slope 1)")
        axes[1].set_xlabel("B = tau eta/(1-mu)^2 + eta/(1-mu)^3 (log)")
        axes[1].set_ylabel("E, Gaussian data (log)")
        axes[1].set_title("context: the rule before 2026-11-29 (pooled slope on B)", fontsize=8)
        for k, ax in enumerate(axes):
            ax.set_xscale("log")
            ax.set_yscale("log")
            log_ticks(ax, at=lm.ETAS if k == 0 else None)
            ax.legend(fontsize=6, loc="best")
        claim_title(
            fig, self, "E = mean over paths of max_k ||h_k||^2 - 1; one point per (mu, eta, tau) cell", fontsize=9
        )
        return tradeoff.save_figure(fig, figdir, "norm_bound")

    def findings(self, profile, results, measurements) -> Findings:
        by = {m.name: m for m in measurements}
        judged = [m for m in measurements if m.judged]
        lo = min(judged, key=lambda m: m.estimate - m.tolerance[0])
        cube, gauss = by["ratio_max/law=cube"], by["ratio_max"]
        return Findings(
            findings=[
                f"On cube data the judged slopes (E on eta at tau = 0; log(E/B) on log eta along each tau rule) "
                f"come closest to their band at {lo.name}: {lo.estimate:.3g} [{lo.ci[0]:.3g}, {lo.ci[1]:.3g}], "
                f"band >= {lo.tolerance[0]:g}.",
                f"E/B over the cube grid lies in [{cube.ci[0]:.3g}, {cube.ci[1]:.3g}]; on Gaussian data in "
                f"[{gauss.ci[0]:.3g}, {gauss.ci[1]:.3g}].",
                f"The rule before 2026-11-29 (Gaussian data): pooled slope of E on B {by['slope/bound'].estimate:.3g} "
                f"({by['slope/bound'].verdict}): E/B falls as eta falls along the tau rules, which a slope on B reads "
                "as a loose form, not as a broken bound.",
            ],
            inconsistencies=[
                "A.1 bounds Delta with C_delta tau eta^2/(1-mu) and then sums with C_delta/(1-mu)^2 (the exponent "
                "changes between lines); C_delta = 2 C_d is infinite for Gaussian data."
            ],
        )

    # -- controls -------------------------------------------------------------------------------
    def control_sources(self, profile: str) -> dict[str, ControlSource]:
        model = ControlSource(
            source="model",
            model=(
                f"per path E ~ gamma with coefficient of variation {CV_E:g} and mean {RATIO_E:g} B(mu, eta, tau) "
                "(eta/eta_max)^(-g) (Lemma 3.1's B, constants 1): g = 0 is a constant ratio to the bound (exact); the "
                "control sets each judged row's slope of log(E/B) on log eta to -g (and E's eta slope at tau = 0 "
                "to 1 - g); no diverged paths"
            ),
        )
        return model.for_every_kind()

    def control_data(self, cell, control, rng):
        p = cell.params
        mu, eta, tau = p["mu"], p["eta"], p["tau"]
        fam, exact = ("eta_term", 1.0) if tau == 0 else ("delay_term", 0.0)
        g = 0.0
        if p["law"] == lm.JUDGED_LAW:
            g = exact - lm.truth_slope(control, exact=exact, family=fam, eff=_effect(p["profile"]))
        mean = RATIO_E * lm.bound(mu, eta, tau) * (eta / lm.ETAS[-1]) ** -g
        return lm.draw_cell(rng, p["paths"], "max_norm_excess", mean, CV_E)

    def mutants(self, profile: str) -> dict[str, Mutant]:
        note = (
            f"the bound with eta^{MUTANT_POWER:g} in place of eta (prediction: E's eta slope {MUTANT_POWER:g} at "
            f"tau = 0, band >= {MUTANT_POWER - lm.DELTA:g}; ratio slopes 1 lower): in the earlier standard run "
            "(commit 86a7d2f, seed 20180330) E's eta slopes at tau = 0 were about 1.07-1.27, below the planted band "
            f"by 0.5 or more, beyond the effect {_effect(profile):.3f}; judged on the cube cells only"
        )
        return {f"eta^{MUTANT_POWER:g}": Mutant(expect="FAIL", note=note)}

    def mutate(self, profile: str, name: str, prediction: dict) -> dict:
        return {**prediction, "eta_power": MUTANT_POWER, "eta_order": MUTANT_POWER}
