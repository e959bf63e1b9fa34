"""Claim ``ou-optimum``: Theorem 3.5 / eq. (3.3), Prop. 3.6 / A.6 -- the OU limit near the optimum.

Near ``e_1`` the rescaled coordinates ``U_i = h_i/sqrt(eta)`` (i >= 2) follow
``dU = (lambda_i - lambda_1)/(1-mu) U dt + alpha_i1/(1-mu) dB`` (3.3).  Judged rows (version 6),
per cell (data law x mu x tau):

* ``stationary_variance/law=L/mu=M/tau=T/i=I`` (contract): mean of ``h_i^2/eta`` over paths and
  the stationary window, CI from the spread of the per-path time averages
  (:func:`diffapprox.stats.path_means_ci`), against ``alpha_i1^2/(2(1-mu)(lambda_1-lambda_i))``,
  band +-10%; start ``e_1``; burn-in ``BURN`` and window ``WINDOW`` relaxation times
  ``(1-mu)/(lambda_1-lambda_2)``.
* ``second_moment/.../i=I/s=S``: from ``sum_{i>=2} h_i(0)^2 = DELTA2`` (Prop. 3.6's
  ``H_1(0)^2 = 1 - delta^2``, spread as equal multiples of each coordinate's stationary sd), the
  ratio of ``E[U_i(t)^2]`` to the A.6 formula at the time where
  ``exp(-2(lambda_1-lambda_i)t/(1-mu)) = e^-S``, S = 0.5, 1, 2, 4; band [0.9, 1.1]; step size
  ``eta/DECAY_ETA_DIV``.
* ``stationary_variance_finite_step/law=L/mu=M/tau=T/i=I`` (context, beyond the paper): beside every
  judged stationary-variance row, the same estimate against :func:`diffapprox.finite_step_prediction`
  (the finite-step model of eq. (2.1): delay, state-dependent noise and normalisation drift), same band.
* ``gof/.../i=I``: sup-distance between the law of ``U_i(T)/sqrt(var)`` at the end of the ``e_1``
  run (one value per path) and N(0, 1), with its DKW CI, within [0, GOF_DISTANCE] (goodness of fit
  by distance; the KS/AD/CvM p-values are context).

Delays: ``tau = 0``; ``tau_in`` = floor of the SDE threshold (Lemma 3.4, gamma -> 0, constant 1,
the bounded law's C_d, also used for Gaussian data whose own threshold is 0); ``tau_far`` = floor
of Theorem 3.3's ODE threshold at gamma -> 0, ``(1-mu)^2/(lambda_1 eta)``, far beyond the SDE one:
outside Theorem 3.5, its rows are context.  One decision rule (:data:`diffapprox.stats.DECISION_RULE`):
each judged row's 95% interval decides PASS, its Bonferroni interval at family level 0.01 decides
FAIL; effects are planned from the sizes at the FAIL level; diverged paths are left out of the
moments and named (a row with any cannot PASS).  The old rules' verdicts (versions 1 and 3, once
recomputed from context rows and context decay runs at step eta) are quoted from the last run that
computed them (see ``history``).

At eta = 1e-3 the simulator's Gaussian mu = 0.9 stationary variance of U_2 lies about 10% above the
limit (the finite-step model of eq. (2.1) gives +12.8%): a property of the simulator at this step
size, not of the limit (3.3), so the exact control (samples of the limit) keeps its confirm target,
while the real run's row may stay undecided.

Controls (:meth:`OuOptimum.control_data`) draw exact paths of the limit (3.3) on the cells' own
record grids (stationary runs from U = 0, decay runs from their start u0) and set each judged row's
truth by scaling: the per-path window means of U_i^2 and the checkpoint values U_i(t)^2 by the
truth's ratio to the limit's own value, the final values U_i(T) shifted to the truth's sup-distance.
"""

from __future__ import annotations

import math
from itertools import product
from functools import cache

import numpy as np
from scipy import stats as sst

from diffapprox import Claim, ControlSource, Findings, HistoryEntry, Mutant, simulate, stats
from diffapprox.limits import finite_step_prediction, ou_optimum

from . import _controls as ctl
from .._common import (
    LAWS,
    SPECTRUM_SOURCE,
    claim_title,
    log_ticks,
    new_figure,
    num,
    problem,
    save_figure,
    family_level_history,
    seed_history,
    tag,
    tau_ode_at,
    tau_sde_inside,
)

MUS = (0.0, 0.5, 0.9)
ETA = {"quick": 1e-3, "standard": 1e-3, "paper": 5e-4}
PATHS = {"quick": 256, "standard": 1024, "paper": 4096}
#: Decay-run paths; standard 8192 since version 7 (4096 before), set from the exact control's confirm rate.
DECAY_PATHS = {"quick": 1024, "standard": 8192, "paper": 16384}
BURN, WINDOW = 3.0, 20.0  # in relaxation times (1-mu)/(lambda1-lambda2)
WINDOW_RECORDS = 200
#: Start of the decay runs: sum_{i>=2} h_i(0)^2 = DELTA2 (Prop. 3.6's H_1(0)^2 = 1 - delta^2),
#: spread as equal multiples of each coordinate's stationary sd; step size ETA / DECAY_ETA_DIV.
DELTA2 = 0.02
DECAY_ETA_DIV = 4.0
DECAY_S = (0.5, 1.0, 2.0, 4.0)
DECAY_RECORDS = 400
BAND = 0.10
#: Sup-distance band of the Gaussian law: the smallest round value above twice the DKW half-width
#: (0.071) of the standard profile's 1024 paths at the row level, so that a PASS is possible there.
GOF_DISTANCE = 0.15
#: The alternative control moves every judged truth up (a larger variance than the limit's, as a
#: finite step gives) and the law away from N(0, 1) by more than its band.
DIRECTION = 1.0


def _taus(mu: float, eta: float) -> list[tuple[int, str]]:
    out = [(0, "zero")]
    ti = tau_sde_inside(mu, eta)
    if ti > 0:
        out.append((ti, "inside"))
    tf = tau_ode_at(mu, eta, 0.0)
    if tf > max(t for t, _ in out):
        out.append((tf, "far"))
    return out


def _grid(eta):
    """Every (law, mu, tau, label) of the stationary runs."""
    for law, mu in product(LAWS, MUS):
        for tau, lab in _taus(mu, eta):
            yield law, mu, tau, lab


@cache
def _judged_rows(profile) -> int:
    cells = sum(1 for *_, lab in _grid(ETA[profile]) if lab != "far")
    return cells * 3 * (2 + len(DECAY_S))


@cache
def _level(profile) -> float:
    """Level of the judged rows' FAIL intervals (Bonferroni at family level 0.01, :func:`stats.fail_level`)."""
    return stats.fail_level(_judged_rows(profile))


#: Row families: one change of the truth moves the rows of a family together (a wrong stationary
#: variance, a wrong decay of the second moment, a non-Gaussian law).
FAMILIES = {
    "stationary-variance": ("stationary_variance/",),
    "second-moment": ("second_moment/",),
    "gaussian-law": ("gof/",),
}
#: The mutant's cell: one stationary run whose planted stationary variance moves (mu = 0.5).
MUTANT_CELL = ("cube", 0.5, 0)


def _u0(law: str, mu: float, eta: float) -> tuple[np.ndarray, np.ndarray]:
    """Start of a decay run at step ``eta``: ``h0`` and ``U(0) = h0[1:]/sqrt(eta)``."""
    s = ou_optimum(problem(law), mu).stationary_variance
    c = math.sqrt(DELTA2 / (eta * float(np.sum(s))))
    h0 = np.concatenate([[math.sqrt(1.0 - DELTA2)], math.sqrt(eta) * c * np.sqrt(s)])
    return h0, h0[1:] / math.sqrt(eta)


def _window_steps(mu: float, eta: float) -> tuple[int, int]:
    relax = 1 - mu
    r = max(1, int(round(WINDOW * relax / eta / WINDOW_RECORDS)))
    return int(math.ceil((BURN + WINDOW) * relax / eta / r)) * r, r


def _decay_steps(mu: float, eta: float) -> tuple[int, int]:
    raw = max(DECAY_S) * (1 - mu) / 2.0 / eta  # checkpoints up to s = 4 for the slowest coordinate i = 2
    r = max(1, int(round(raw / DECAY_RECORDS)))
    return int(math.ceil(raw / r)) * r, r


#: Where the verdicts of versions 1 and 3, recomputed from context rows until version 5, come from.
_CONTEXT_SOURCE = (
    "earlier run: commit c62562a, profile standard, seed 20180330 (recomputed there on the same data from the v1/ "
    "and v3/ context rows)"
)


def _checkpoint(lim, mu: float, k: int, s: float) -> float:
    """Time where exp(-2 (lambda_1 - lambda_i) t/(1-mu)) = e^-s for coordinate k (0-based among i >= 2)."""
    return s / (2.0 * -lim.rate[k])


def _record_times(p: dict) -> np.ndarray:
    """The record times of a cell's run: ``0, r eta, 2 r eta, ..., steps eta``."""
    return np.arange(p["steps"] // p["record_every"] + 1) * p["record_every"] * p["eta"]


def _decay_records(p: dict) -> np.ndarray:
    """Indices of the records nearest every checkpoint of a decay cell (sorted, unique)."""
    times, lim = _record_times(p), ou_optimum(problem(p["law"]), p["mu"])
    idx = {int(np.argmin(np.abs(times - _checkpoint(lim, p["mu"], k, s)))) for k in range(lim.dim) for s in DECAY_S}
    return np.array(sorted(idx), dtype=np.int64)


class OuOptimum(Claim):
    id = "ou-optimum"
    order = 100
    about = "paper"
    paper_ref = "Theorem 3.5, eq. (3.3); Proposition 3.6 and A.6; Lemma 3.4"
    statement = (
        "Near the optimum, U_i = h_i/sqrt(eta) (i >= 2) is the OU process (3.3): stationary variance "
        "alpha_i1^2/(2(1-mu)(lambda1-lambda_i)), second moment decaying as in Prop. 3.6, Gaussian law, "
        "for delays within (1-mu)^2/((lambda1+C_d) eta^(1/2-gamma))."
    )
    history = (
        HistoryEntry(
            date="2026-11-25",
            version=2,
            change=(
                "decay runs (second_moment): step eta/4 instead of eta, and start sum_{i>=2} h_i(0)^2 = delta^2 = "
                "0.02 (Prop. 3.6's H_1(0)^2 = 1 - delta^2) instead of U_i(0) = U0_SCALE x stationary sd"
            ),
            reason=(
                "made after seeing results, before the claim's first commit (2cb68b2), whose message records "
                "neither the change, its reason nor the old verdict (the only trace is the name U0_SCALE left "
                "in that commit's docstring; its value is recorded nowhere).  Old verdict recomputed on the same "
                "run for the step-size half only (decay runs at step eta from the current start), the old start "
                "cannot be recomputed.  Those context runs and rows were dropped in version 6 (to keep the "
                "controls within their budget); the old verdict is the one they gave in the last run that "
                "computed them"
            ),
            old_verdict="FAIL",
            old_source=_CONTEXT_SOURCE,
        ),
        seed_history("INCONCLUSIVE", version=3),
        HistoryEntry(
            date="2026-11-29",
            version=4,
            change=(
                "goodness of fit judged by the sup-distance to N(0, 1) with its DKW CI within [0, 0.15] instead "
                "of Holm-corrected KS/AD/CvM p-values; the second moment judged per checkpoint; Bonferroni row "
                "levels; stated effects; diverged paths withhold a PASS"
            ),
            reason=(
                "a point-null test of an asymptotic law FAILs at fixed eta once enough paths run, however small "
                "the deviation, and PASSes with few paths whatever it is: the verdict depended on the path count "
                "(FAIL with one seed, INCONCLUSIVE with another); the old rule's context rows were dropped in "
                "version 6, the old verdict is the one they gave in the last run that computed them"
            ),
            old_verdict="INCONCLUSIVE",
            old_source=_CONTEXT_SOURCE,
        ),
        family_level_history(5, "INCONCLUSIVE", "130 PASS, 14 INCONCLUSIVE"),
        HistoryEntry(
            date="2026-12-06",
            version=6,
            change=(
                "one decision rule: 95% PASS interval, Bonferroni FAIL interval at family level 0.01 (level "
                "1 - 0.01/144 at quick and standard) instead of one interval at the Bonferroni level for both; "
                "effects restated at the FAIL level with the SE at the moved truth (stationary variance too), the "
                "sup-distance effect from DKW half-widths; bands, grids, path counts unchanged; the context rows "
                "v1/ and v3/ and the context decay runs at step eta dropped (the verdicts of versions 1 and 3 "
                "they recomputed are quoted from commit c62562a)"
            ),
            reason=(
                "with one Bonferroni interval deciding PASS, the exact limit (3.3) could not PASS at standard sizes "
                "(60 of 144 rows below 95% PASS): the claim could refute the paper but not confirm it; the PASS "
                "side needs only each row's 95% interval (intersection-union), the FAIL side keeps the family "
                "guarantee"
            ),
            old_verdict="INCONCLUSIVE",
            old_source="earlier run: commit 86a7d2f, profile standard, seed 20180330 (121 PASS, 0 FAIL, 23 INCONCLUSIVE)",
        ),
        HistoryEntry(
            date="2026-12-06",
            version=7,
            change="decay runs at standard: 8192 paths instead of 4096 (quick and paper unchanged)",
            reason=(
                "set from the calibration, not from a verdict: under the exact control (samples of the limit (3.3)) "
                "the claim PASSed 24 of 30 replicates at 4096 decay paths, the late checkpoints (s = 4, relative SE "
                "about sqrt(2/n)) leaving a row undecided in the others; at 8192 the 95% interval of such a row "
                "is about +-3%, inside the +-10% band with room"
            ),
            old_verdict="INCONCLUSIVE",
            old_source=(
                "earlier run: commit fb9e054 (version-6 rule, 4096 decay paths), profile standard, seed 20180330 "
                "(143 PASS, 0 FAIL, 1 INCONCLUSIVE: stationary_variance/law=gaussian/mu=0.9/tau=0/i=2 at 1.083 "
                "[1.057, 1.109] of the limit, a finite-step bias)"
            ),
        ),
    )

    def parameters(self, profile: str) -> dict:
        eta = ETA[profile]
        return {
            "problem": SPECTRUM_SOURCE,
            "laws": list(LAWS),
            "mus": list(MUS),
            "eta": eta,
            "taus": {num(m): {lab: t for t, lab in _taus(m, eta)} for m in MUS},
            "tau_rules": {
                "inside": "floor((1-mu)^2/((lambda1 + C_d(cube)) sqrt(eta))) (gamma -> 0, constant 1)",
                "far": "floor((1-mu)^2/(lambda1 eta)) (Theorem 3.3 threshold, gamma -> 0): context only",
            },
            "paths_stationary": PATHS[profile],
            "paths_decay": DECAY_PATHS[profile],
            "burn_in_relax_times": BURN,
            "window_relax_times": WINDOW,
            "window_records": WINDOW_RECORDS,
            "u0": f"decay runs: eta_decay = eta/{DECAY_ETA_DIV:g}, h0 = (sqrt(1-delta^2), sqrt(eta_decay) U0), "
            f"delta^2 = {DELTA2}, U0_i = c sqrt(stationary variance_i) with sum h_i(0)^2 = delta^2; "
            "no decay run for far-beyond delays",
            "decay_checkpoints": "exp(-2 (lambda1-lambda_i) t/(1-mu)) = exp(-s), s in " + str(list(DECAY_S)),
            "band_relative": BAND,
            "gof_band_sup_distance": [0.0, GOF_DISTANCE],
            "effects": "(z_fail + z_0.8) x planned SE at the FAIL level, the SE taken at the moved truth "
            "(stats.scaled_effect): stationary variance S sqrt(2/(r_i W))/sqrt(paths) (OU time average over a "
            "window W, r_i = (lambda1-lambda_i)/(1-mu)); second moment sqrt(2v^2 + 4m^2 v)/(m^2+v)/sqrt(paths) for "
            "U ~ N(m, v) of (3.3); sup-distance: DKW half-widths at the FAIL level and at 0.8",
            "judged_rows": _judged_rows(profile),
            "decision_rule": stats.DECISION_RULE,
            "pass_level": stats.PASS_LEVEL,
            "fail_level": _level(profile),
            "control_direction": "variances above the limit (as a finite step gives); law shifted beyond the band",
        }

    def cells(self, profile: str, seed: int):
        eta, out = ETA[profile], []
        for law, mu, tau, lab in _grid(eta):
            base = tag(law=law, mu=mu, tau=tau)
            steps, r = _window_steps(mu, eta)
            p = {"law": law, "mu": mu, "tau": tau, "eta": eta, "label": lab, "steps": steps, "record_every": r}
            p["profile"] = profile
            out.append(self.make_cell(f"{base}/start=e1", p | {"start": "e1", "paths": PATHS[profile]}, seed, steps))
            if lab != "far":
                out.append(self._decay_cell(profile, seed, base, p))
        return out

    def _decay_cell(self, profile, seed, base, p):
        eta = p["eta"] / DECAY_ETA_DIV
        steps, r = _decay_steps(p["mu"], eta)
        key = f"{base}/start=u0"
        q = p | {"eta": eta, "start": "u0", "steps": steps, "record_every": r, "paths": DECAY_PATHS[profile]}
        return self.make_cell(key, q, seed, cost=steps * DECAY_PATHS[profile])

    def simulate_cell(self, cell) -> dict:
        """The simulator's per-path arrays: window means of U_i^2 and U_i(T) (stationary runs), or U_i at the
        checkpoint records (decay runs); finite paths only, ``n_paths`` counting every path."""
        p = cell.params
        prob, eta = problem(p["law"]), p["eta"]
        traj = simulate(
            prob,
            mu=p["mu"],
            eta=eta,
            steps=p["steps"],
            paths=p["paths"],
            delay=f"const:{p['tau']}",
            record_every=p["record_every"],
            start="e1" if p["start"] == "e1" else _u0(p["law"], p["mu"], eta)[0],
            seed=cell.seed,
        )
        U = traj.h[traj.finite][:, :, 1:] / math.sqrt(eta)  # (P, n_rec, d-1)
        if p["start"] == "e1":
            w = traj.times >= BURN * (1 - p["mu"]) - 1e-12
            return {"n_paths": p["paths"], "times": traj.times, "path_means": (U[:, w, :] ** 2).mean(axis=1),
                    "final": U[:, -1, :]}  # fmt: skip
        j = _decay_records(p)
        return {"n_paths": p["paths"], "times": traj.times[j], "u": U[:, j, :]}

    def summarize(self, cell, data) -> dict:
        """Per-path arrays -> the cell's summary (window statistics, or U_i(t)^2 per path at each checkpoint)."""
        p, times = cell.params, np.asarray(data["times"])
        if p["start"] == "e1":
            fin = np.asarray(data["final"])
            w = times >= BURN * (1 - p["mu"]) - 1e-12
            window = [float(times[w][0]), float(times[-1])]
            return {"n_paths": int(data["n_paths"]), "n_finite": int(fin.shape[0]), "times": times,
                    "path_means": np.asarray(data["path_means"]), "final": fin, "window": window}  # fmt: skip
        u = np.asarray(data["u"])
        res = {"n_paths": int(data["n_paths"]), "n_finite": int(u.shape[0]), "times": times}
        return res | _decay_summary(u, times, ou_optimum(problem(p["law"]), p["mu"]), p["mu"])

    # -- predict / measure ----------------------------------------------------------------
    def predict(self, profile: str) -> dict:
        eta = ETA[profile]
        out = {}
        for law, mu in product(LAWS, MUS):
            lim = ou_optimum(problem(law), mu)
            u0 = _u0(law, mu, eta / DECAY_ETA_DIV)[1]
            out[(law, mu)] = {"limit": lim, "S": lim.stationary_variance, "u0": u0}
        return out

    def measure(self, profile, seed, results, prediction):
        """The rows of every cell in ``results`` (a mutant's run gives only some cells: the others are skipped)."""
        ms = []
        for law, mu, tau, lab in _grid(ETA[profile]):
            base, pr = tag(law=law, mu=mu, tau=tau), prediction[(law, mu)]
            if (r1 := results.get(f"{base}/start=e1")) is not None:
                ms += _stationary_rows(profile, law, mu, tau, lab, r1, pr["S"])
                ms += _finite_step_rows(law, mu, tau, lab, r1, ETA[profile])
                ms += _gof_rows(profile, base, lab, r1, pr["S"])
            if lab != "far" and f"{base}/start=u0" in results:
                ms += _second_moment_rows(profile, law, mu, base, results[f"{base}/start=u0"], pr)
        return ms

    # -- figures / findings -------------------------------------------------------------------
    def figures(self, profile, results, measurements, figdir):
        return self._variance_figure(profile, measurements, figdir) + self._decay_figure(profile, results, figdir)

    def _variance_figure(self, profile, measurements, figdir):
        from matplotlib.lines import Line2D

        fig, axes = new_figure(ncols=len(LAWS), size=(6.4, 4.4))
        colours, markers = {"zero": "C0", "inside": "C2", "far": "C3"}, ("o", "s", "^")
        by = {m.name: m for m in measurements}
        for ax, law in zip(axes[0], LAWS):
            groups = [(mu, tau, lab) for lw, mu, tau, lab in _grid(ETA[profile]) if lw == law]
            for g, (mu, tau, lab) in enumerate(groups):
                _ratio_points(ax, g, by, tag(law=law, mu=mu, tau=tau), colours[lab], markers)
            ax.axhspan(1 - BAND, 1 + BAND, color="grey", alpha=0.2, zorder=0)
            ax.axhline(1.0, color="k", lw=0.8, ls="--", zorder=0)
            ax.set_xticks(range(len(groups)))
            ax.set_xticklabels([f"mu={num(g[0])}\ntau={g[1]}" for g in groups], fontsize=7)
            ax.set_title(f"{law} data", fontsize=10)
        axes[0, 0].set_ylabel("measured / predicted stationary variance of U_i")
        h = [Line2D([], [], color=colours[k], marker="o", ls="none") for k in colours]
        h += [Line2D([], [], color="0.3", marker=m, ls="none") for m in markers] + [Line2D([], [], color="grey", lw=6)]
        lab = ["tau = 0", "tau inside the SDE threshold", "tau far beyond it (context)", "i = 2", "i = 3", "i = 4"]
        axes[0, -1].legend(h, lab + [f"tolerance band 1 +- {BAND:g}"], fontsize=7, loc="upper right")
        sub = "OU limit (3.3): stationary variance alpha_i1^2/(2(1-mu)(lambda1-lambda_i)) against simulation"
        claim_title(fig, self, sub + " (CI at the row level)", fontsize=9)
        return save_figure(fig, figdir, "ou_optimum_stationary_variance")

    def _decay_figure(self, profile, results, figdir):
        eta, law = ETA[profile], LAWS[0]
        fig, axes = new_figure(ncols=len(MUS))
        for c, mu in enumerate(MUS):
            ax, r = axes[0, c], results[f"{tag(law=law, mu=mu, tau=0)}/start=u0"]
            t, m2 = np.asarray(r["times"]), np.asarray(r["m2"])
            grid = np.linspace(0.0, float(t[-1]), 200)
            pred = ou_optimum(problem(law), mu).second_moment(grid, _u0(law, mu, eta / DECAY_ETA_DIV)[1])
            for k in range(m2.shape[1]):
                ax.semilogy(t, m2[:, k], "o", ms=3, color=f"C{k}", label=f"i={k + 2}, simulated (checkpoint records)")
                ax.semilogy(grid, pred[:, k], "k--", lw=0.8, label="Prop. 3.6 prediction" if k == 0 else None)
            ax.set_xlabel("time t = k eta")
            ax.set_title(f"{law} data, mu={num(mu)}, tau=0", fontsize=9)
            log_ticks(ax, "y")
        axes[0, 0].set_ylabel("E U_i(t)^2  (log)")
        axes[0, 0].legend(fontsize=7, loc="upper right")
        sub = "second moments of the rescaled coordinates U_i = h_i / sqrt(eta) from the start u0, against the OU law"
        claim_title(fig, self, sub, fontsize=9)
        return save_figure(fig, figdir, "ou_optimum_second_moment")

    def findings(self, profile, results, measurements) -> Findings:
        by = {m.name: m for m in measurements}
        out = []
        for law, mu, tau, lab in _grid(ETA[profile]):
            base = tag(law=law, mu=mu, tau=tau)
            sv = [by[f"stationary_variance/{base}/i={i}"] for i in (2, 3, 4)]
            gd = max(by[f"gof/{base}/i={i}"].estimate for i in (2, 3, 4))
            out.append(
                f"{base} ({lab}): stationary variance / formula, i=2..4: "
                + ", ".join(_ratio_text(m) for m in sv)
                + f"; largest sup-distance of U_i(T) to its Gaussian law {gd:.3f}"
            )
        return Findings(findings=out + _finite_step_findings(profile, by))

    # -- controls -------------------------------------------------------------------------------
    def families(self, profile):
        return dict(FAMILIES)

    def control_sources(self, profile):
        src = ControlSource(
            source="limit",
            model="exact paths of the OU limit (3.3) on each cell's record grid (stationary runs from U = 0, decay "
            "runs from their start u0, Gaussian transition law); a judged row's truth is set by scaling the per-path "
            "window means of U_i^2 and the checkpoint values U_i(t)^2 by its ratio to the limit's own value, and "
            "by shifting the final values U_i(T) to its sup-distance from N(0, S_i)",
        )
        return src.for_every_kind()

    def control_data(self, cell, control, rng):
        p = cell.params
        if p["start"] == "e1":
            return _window_control(p["profile"], p, control, rng)
        return _decay_control(p["profile"], p, control, rng)

    def mutants(self, profile):
        lim = ou_optimum(problem(MUTANT_CELL[0]), MUTANT_CELL[1])
        eff = max(_stationary_effect(profile, MUTANT_CELL[1], k) for k in range(lim.dim))
        note = (
            "the stationary variance alpha_i1^2/(2(1-mu)(lambda1-lambda_i)) (3.3)/A.6 with (1-mu) replaced by "
            f"(1-mu)^2, judged on the real simulator's stationary run {tag(law=MUTANT_CELL[0], mu=MUTANT_CELL[1], tau=0)} "
            f"only (the other cells are not simulated): the planted value is S/(1-mu) = 2 S, so the truth S (the "
            f"simulator within 2% of it there) lies at ratio 0.5 of the planted value, below the band's lower edge "
            f"0.9 by 0.4, beyond the largest relative effect {eff:.3f}"
        )
        return {"stationary-variance=(1-mu)^2": Mutant(expect="FAIL", note=note)}

    def mutant_cells(self, profile, seed):
        key = f"{tag(law=MUTANT_CELL[0], mu=MUTANT_CELL[1], tau=MUTANT_CELL[2])}/start=e1"
        return [c for c in self.cells(profile, seed) if c.key == key]

    def mutate(self, profile, name, prediction):
        if name != "stationary-variance=(1-mu)^2":
            raise KeyError(name)
        return {key: pr | {"S": pr["S"] / (1.0 - key[1])} for key, pr in prediction.items()}


def _decay_summary(U: np.ndarray, times: np.ndarray, lim, mu: float) -> dict:
    """Mean U_i^2 at every checkpoint record (figure) and U_i^2 per path at the record nearest each checkpoint."""
    u2 = {}
    for k in range(U.shape[2]):
        for s in DECAY_S:
            j = int(np.argmin(np.abs(times - _checkpoint(lim, mu, k, s))))
            u2[f"{k + 1}/{s}"] = (float(times[j]), U[:, j, k] ** 2)
    return {"m2": (U**2).mean(axis=0), "u2": u2}


def _note(lab: str, law: str) -> str:
    if lab == "far":
        return "; tau far beyond the SDE threshold (outside Theorem 3.5): context only"
    if lab == "inside" and law == "gaussian":
        return "; Gaussian data: C_d infinite, tau_in uses the cube law's C_d"
    return ""


def _stationary_se(profile: str, mu: float, k: int) -> float:
    """Planned relative SE of a stationary-variance estimate: OU time average over the window, paths."""
    rw = (k + 1) * WINDOW  # r_i W with r_i = (lambda1-lambda_i)/(1-mu), W = WINDOW (1-mu)/(lambda1-lambda2)
    return math.sqrt(2.0 / rw) / math.sqrt(PATHS[profile])


@cache
def _stationary_effect(profile: str, mu: float, k: int) -> float:
    """Relative effect of a stationary-variance row beyond its band edge 1 + BAND at the FAIL level (SE scales
    with the truth)."""
    return stats.scaled_effect(_stationary_se(profile, mu, k), 1 + BAND, level=_level(profile), direction=DIRECTION)


@cache
def _decay_effect(profile: str, law: str, mu: float, t: float, k: int) -> float:
    """Relative effect of a second-moment row (checkpoint time ``t``) beyond its band edge 1 + BAND at the FAIL
    level (SE scales with the truth), planned from the limit (3.3) from the decay runs' start."""
    lim, u0 = ou_optimum(problem(law), mu), _u0(law, mu, ETA[profile] / DECAY_ETA_DIV)[1]
    se = _decay_se(lim, u0, t, k, DECAY_PATHS[profile])
    return stats.scaled_effect(se, 1 + BAND, level=_level(profile), direction=DIRECTION)


def _stationary_rows(profile, law: str, mu: float, tau: int, lab: str, r1: dict, S: np.ndarray) -> list:
    """``stationary_variance/law=L/mu=M/tau=T/i=I``: mean of h_i^2/eta over paths and window against (3.3)'s
    ``S_i = alpha_i1^2/(2(1-mu)(lambda_1-lambda_i))``; judged unless tau is far beyond the SDE threshold
    (95% PASS interval, FAIL interval at the Bonferroni level)."""
    judged, base = lab != "far", tag(law=law, mu=mu, tau=tau)
    pm, out = np.asarray(r1["path_means"]), []
    for k in range(pm.shape[1]):
        out.append(
            stats.measurement(
                f"stationary_variance/{base}/i={k + 2}",
                stats.mean_ci(pm[:, k], stats.PASS_LEVEL),
                prediction=float(S[k]),
                band=stats.relative_band(S[k], BAND),
                judged=judged,
                ci_fail=stats.mean_ci(pm[:, k], _level(profile)) if judged else None,
                effect=float(S[k]) * _stationary_effect(profile, mu, k) if judged else None,
                diverged=int(r1["n_paths"]) - int(r1["n_finite"]),
                note=f"mean of h_i^2/eta over paths and records t in {r1['window']} (start e1), CI across path "
                f"time-averages{_note(lab, law)}",
            )
        )
    return out


@cache
def _finite_step_values(law: str, mu: float, eta: float, tau: int) -> tuple[float, ...]:
    """``E[h_i^2]/eta``, i = 2..d, of the finite-step model at a constant delay (beyond the paper)."""
    return tuple(
        float(v) for v in finite_step_prediction(problem(law), mu=mu, eta=eta, delay=f"const:{tau}").variance[1:]
    )


def _finite_step_rows(law: str, mu: float, tau: int, lab: str, r1: dict, eta: float) -> list:
    """``stationary_variance_finite_step/{base}/i=I`` (context): the judged rows' estimate against the finite-step
    model, next to every judged OU row (none for delays far beyond the SDE threshold)."""
    if lab == "far":
        return []
    pm, base, fs = np.asarray(r1["path_means"]), tag(law=law, mu=mu, tau=tau), _finite_step_values(law, mu, eta, tau)
    return [
        stats.measurement(
            f"stationary_variance_finite_step/{base}/i={k + 2}",
            stats.mean_ci(pm[:, k]),
            prediction=fs[k],
            band=stats.relative_band(fs[k], BAND),
            judged=False,
            diverged=int(r1["n_paths"]) - int(r1["n_finite"]),
            note="the judged row's estimate against the finite-step model (beyond the paper; "
            "diffapprox.finite_step_prediction), context",
        )
        for k in range(pm.shape[1])
    ]


def _gof_rows(profile, base: str, lab: str, r1: dict, S: np.ndarray) -> list:
    """``gof/{base}/i=I``: sup-distance of U_i(T)/sqrt(S_i) to N(0, 1) with DKW intervals (95% PASS, Bonferroni
    FAIL), band [0, GOF_DISTANCE]; judged unless tau is far beyond the SDE threshold."""
    judged, fin, out = lab != "far", np.asarray(r1["final"]), []
    for k in range(fin.shape[1]):
        e = stats.ks_distance(fin[:, k] / math.sqrt(S[k]), sst.norm.cdf, stats.PASS_LEVEL)
        out.append(
            stats.measurement(
                f"gof/{base}/i={k + 2}",
                e,
                prediction=0.0,
                band=(0.0, GOF_DISTANCE),
                judged=judged,
                ci_fail=ctl.dkw_interval_at(e, _level(profile)) if judged else None,
                effect=ctl.distance_effect(PATHS[profile], _level(profile)) if judged else None,
                diverged=int(r1["n_paths"]) - int(r1["n_finite"]),
                note=f"U_i(T)/sqrt(stationary variance) at t={r1['window'][1]:.3g} against N(0, 1), sup-distance "
                f"band [0, {GOF_DISTANCE:g}]{_note(lab, '')}",
            )
        )
    return out


def _decay_se(lim, u0: np.ndarray, t: float, k: int, n: int) -> float:
    """Planned relative SE of mean U_i(t)^2 over n paths, U ~ N(m, v) of (3.3): sqrt(2v^2 + 4m^2 v)/(m^2+v)/sqrt(n)."""
    m, v = float(lim.mean(t, u0)[k]), float(lim.variance(t)[k])
    return math.sqrt(2 * v * v + 4 * m * m * v) / (m * m + v) / math.sqrt(n)


def _second_moment_rows(profile, law: str, mu: float, base: str, r2: dict, pr: dict) -> list:
    """``second_moment/{base}/i=I/s=S``: ratio of mean U_i(t)^2 to the A.6 formula at each checkpoint."""
    lim, u0, lv, out = pr["limit"], pr["u0"], _level(profile), []
    times = np.asarray(r2["times"], dtype=float)
    m2 = lim.second_moment(times, u0)  # (checkpoint records, d-1): the A.6 formula at every record
    for k in range(lim.dim):
        for s in DECAY_S:
            t, u2 = r2["u2"][f"{k + 1}/{s}"]
            pred = float(m2[int(np.argmin(np.abs(times - t))), k])
            ratio = np.asarray(u2, dtype=float) / pred
            out.append(
                stats.measurement(
                    f"second_moment/{base}/i={k + 2}/s={s:g}",
                    stats.mean_ci(ratio, stats.PASS_LEVEL),
                    prediction=1.0,
                    band=(1 - BAND, 1 + BAND),
                    ci_fail=stats.mean_ci(ratio, lv),
                    effect=_decay_effect(profile, law, mu, float(t), k),
                    diverged=int(r2["n_paths"]) - int(r2["n_finite"]),
                    note=f"mean U_i(t)^2 / A.6 formula {pred:.4g} at t={t:.4g} from U_i(0)={u0[k]:.3g} "
                    f"(step eta/{DECAY_ETA_DIV:g})",
                )
            )
    return out


def _finite_step_findings(profile: str, by: dict) -> list[str]:
    """Judged stationary rows where the finite-step model of eq. (2.1) departs from the limit (3.3) by 5% or more:
    a bias of the simulator at this step size (the limit's own value is the prediction), named with the row."""
    out = []
    for law, mu, tau, lab in _grid(ETA[profile]):
        if lab == "far":
            continue
        S, fs = ou_optimum(problem(law), mu).stationary_variance, _finite_step_values(law, mu, ETA[profile], tau)
        for k, m in enumerate(by[f"stationary_variance/{tag(law=law, mu=mu, tau=tau)}/i={i}"] for i in (2, 3, 4)):
            if abs(fs[k] / S[k] - 1.0) >= 0.05:
                out.append(
                    f"{m.name}: measured {_ratio_text(m)} of the limit (3.3), verdict {m.verdict.value}; the "
                    f"finite-step model (eq. (2.1), eta = {ETA[profile]:g}) gives {fs[k] / S[k]:.3f}: a finite-step "
                    "bias of the simulator near the band's edge 1 +- 0.1, not an error of the limit (the exact "
                    "control, samples of the limit, keeps its confirm target)"
                )
    return out


def _ratio_text(m) -> str:
    return f"{m.estimate / m.prediction:.3f} [{m.ci[0] / m.prediction:.3f}, {m.ci[1] / m.prediction:.3f}]"


def _ratio_points(ax, g: int, by: dict, base: str, colour: str, markers) -> None:
    for i, m in enumerate(by[f"stationary_variance/{base}/i={k}"] for k in (2, 3, 4)):
        r, lo, hi = m.estimate / m.prediction, m.ci[0] / m.prediction, m.ci[1] / m.prediction
        ax.errorbar([g + 0.22 * (i - 1)], [r], yerr=[[r - lo], [hi - r]], fmt=markers[i], color=colour, ms=4, capsize=2)


# -- controls ---------------------------------------------------------------------------------------
def _window_control(profile: str, p: dict, control, rng) -> dict:
    """Per-path window means of U_i^2 and final values U_i(T) of exact (3.3) paths from U = 0 on the run's
    record grid, each judged row's truth set by :meth:`Control.truth`: the window means scaled by the truth's
    ratio to the limit's own window mean of E U_i^2, the final values shifted (in units of sqrt(S_i)) to the
    truth's sup-distance from N(0, 1)."""
    lim, n = ou_optimum(problem(p["law"]), p["mu"]), p["paths"]
    times = _record_times(p)
    w0 = int(np.argmax(times >= BURN * (1 - p["mu"]) - 1e-12))  # first record of the window
    U = lim.sample(times[w0:], n, rng)  # (n, window records, d-1), exact in law from U(0) = 0 (burn-in in one step)
    own = lim.second_moment(times[w0:]).mean(axis=0)  # the limit's own window mean of E U_i^2 from U(0) = 0
    S, means, final = lim.stationary_variance, np.einsum("prk,prk->pk", U, U), U[:, -1, :].copy()
    means /= times.size - w0
    d_eff = ctl.distance_effect(n, _level(profile))
    for k in range(lim.dim):
        band, eff = stats.relative_band(S[k], BAND), S[k] * _stationary_effect(profile, p["mu"], k)
        truth = control.truth(exact=own[k], band=band, effect=eff, direction=1, family="stationary-variance")
        means[:, k] *= truth / own[k]
        dist = control.truth(exact=0.0, band=(0.0, GOF_DISTANCE), effect=d_eff, direction=1, family="gaussian-law")
        final[:, k] += math.sqrt(S[k]) * ctl.normal_shift_for_distance(dist) if dist > 0 else 0.0
    return {"n_paths": n, "times": times, "path_means": means, "final": final}


def _decay_control(profile: str, p: dict, control, rng) -> dict:
    """U_i at the checkpoint records of exact (3.3) paths from the run's start u0 (the A.6 formula is their
    exact second moment), each checkpoint's value scaled by sqrt of the row's truth (a ratio to A.6)."""
    lim, n = ou_optimum(problem(p["law"]), p["mu"]), p["paths"]
    u0, times = _u0(p["law"], p["mu"], p["eta"])[1], _record_times(p)[_decay_records(p)]
    U = lim.sample(times, n, rng, u0=u0)  # (n, checkpoints, d-1)
    for k in range(lim.dim):
        for s in DECAY_S:
            j = int(np.argmin(np.abs(times - _checkpoint(lim, p["mu"], k, s))))
            eff = _decay_effect(profile, p["law"], p["mu"], float(times[j]), k)
            truth = control.truth(exact=1.0, band=(1 - BAND, 1 + BAND), effect=eff, direction=1, family="second-moment")
            U[:, j, k] *= math.sqrt(truth)
    return {"n_paths": n, "times": times, "u": U}
