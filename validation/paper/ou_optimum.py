"""Claim ``ou-optimum``: Theorem 3.5 / eq. (3.3), Prop. 3.6 / A.6 -- the OU limit near the optimum.

Near ``e_1`` the rescaled coordinates ``U_i = h_i/sqrt(eta)`` (i >= 2) follow
``dU = (lambda_i - lambda_1)/(1-mu) U dt + alpha_i1/(1-mu) dB`` (3.3).  Judged rows (version 4),
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
outside Theorem 3.5, its rows are context.  CIs are at the Bonferroni level of the judged rows,
effects planned from the sizes; diverged paths are left out of the moments and named (a row with
any cannot PASS).  Rows under ``v3/`` recompute the version-3 rule and rows under ``v1/`` the
version-1 decay runs (step eta) on the same run.
"""

from __future__ import annotations

import math
from itertools import product
from functools import cache

import numpy as np
from scipy import stats as sst

from diffapprox import Claim, Findings, HistoryEntry, combine_verdicts, simulate, stats
from diffapprox.limits import finite_step_prediction
from diffapprox.limits import ou_optimum

from . import _controls as ctl
from .._common import (
    FAMILY_ALPHA,
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
DECAY_PATHS = {"quick": 1024, "standard": 4096, "paper": 16384}
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
ALPHA_V3 = 0.05  # the version-3 rule's level (95% CIs, Holm at 0.05, detectable distance 0.1)
GOF_DETECT_V3 = 0.1
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
    return stats.row_level(_judged_rows(profile), FAMILY_ALPHA)


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


def _checkpoint(lim, mu: float, k: int, s: float) -> float:
    """Time where exp(-2 (lambda_1 - lambda_i) t/(1-mu)) = e^-s for coordinate k (0-based among i >= 2)."""
    return s / (2.0 * -lim.rate[k])


class OuOptimum(Claim):
    id = "ou-optimum"
    order = 100
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
                "run for the step-size half only: decay runs at step eta from the current start (v1/ rows); "
                "the old start cannot be recomputed"
            ),
            old_rows=("v3/stationary_variance/", "v1/second_moment/", "v3/gof/"),
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
                "(FAIL with one seed, INCONCLUSIVE with another)"
            ),
            old_rows=("v3/",),
        ),
        family_level_history(5, "INCONCLUSIVE", "130 PASS, 14 INCONCLUSIVE"),
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
            "no decay run for far-beyond delays; context decay runs at step eta (v1/ rows)",
            "decay_checkpoints": "exp(-2 (lambda1-lambda_i) t/(1-mu)) = exp(-s), s in " + str(list(DECAY_S)),
            "band_relative": BAND,
            "gof_band_sup_distance": [0.0, GOF_DISTANCE],
            "effects": "(z_level + z_0.8) x planned SE: stationary variance S sqrt(2/(r_i W))/sqrt(paths) (OU "
            "time average over a window W, r_i = (lambda1-lambda_i)/(1-mu)); second moment sqrt(2v^2 + 4m^2 v)"
            "/(m^2+v)/sqrt(paths) for U ~ N(m, v) of (3.3)",
            "judged_rows": _judged_rows(profile),
            "ci_level": _level(profile),
            "alternative_direction": "variances above the limit; law shifted beyond the distance band",
        }

    def cells(self, profile: str, seed: int):
        eta, out = ETA[profile], []
        for law, mu, tau, lab in _grid(eta):
            base = tag(law=law, mu=mu, tau=tau)
            steps, r = _window_steps(mu, eta)
            p = {"law": law, "mu": mu, "tau": tau, "eta": eta, "label": lab, "steps": steps, "record_every": r}
            out.append(self.make_cell(f"{base}/start=e1", p | {"start": "e1", "paths": PATHS[profile]}, seed, steps))
            if lab != "far":
                out += [self._decay_cell(profile, seed, base, p, div) for div in (DECAY_ETA_DIV, 1.0)]
        return out

    def _decay_cell(self, profile, seed, base, p, div):
        eta = p["eta"] / div
        steps, r = _decay_steps(p["mu"], eta)
        key = f"{base}/start=u0" + ("" if div == DECAY_ETA_DIV else "/step=eta")
        q = p | {"eta": eta, "start": "u0", "steps": steps, "record_every": r, "paths": DECAY_PATHS[profile]}
        return self.make_cell(key, q, seed, cost=steps * DECAY_PATHS[profile])

    def run_cell(self, cell) -> dict:
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
        ok = traj.finite
        U = traj.h[ok][:, :, 1:] / math.sqrt(eta)  # (P, n_rec, d-1)
        res = {"n_paths": p["paths"], "n_finite": int(ok.sum()), "times": traj.times}
        if p["start"] == "e1":
            return res | _window_summary(U, traj.times, BURN * (1 - p["mu"]))
        return res | _decay_summary(U, traj.times, ou_optimum(prob, p["mu"]), p["mu"])

    # -- predict / measure ----------------------------------------------------------------
    def predict(self, profile: str) -> dict:
        eta = ETA[profile]
        out = {}
        for law, mu in product(LAWS, MUS):
            lim = ou_optimum(problem(law), mu)
            u0 = {div: _u0(law, mu, eta / div)[1] for div in (DECAY_ETA_DIV, 1.0)}
            out[(law, mu)] = {"limit": lim, "S": lim.stationary_variance, "u0": u0}
        return out

    def measure(self, profile, seed, results, prediction):
        ms = []
        for law, mu, tau, lab in _grid(ETA[profile]):
            base, pr = tag(law=law, mu=mu, tau=tau), prediction[(law, mu)]
            r1 = results[f"{base}/start=e1"]
            ms += _stationary_rows(profile, law, mu, tau, lab, r1, pr["S"])
            ms += _finite_step_rows(law, mu, tau, lab, r1, ETA[profile])
            ms += _gof_rows(profile, base, lab, r1, pr["S"])
            ms += _v3_window_rows(base, lab, r1, pr["S"])
            if lab != "far":
                ms += _second_moment_rows(profile, base, results[f"{base}/start=u0"], pr, DECAY_ETA_DIV)
                ms.append(_v_decay_row("v3", base, results[f"{base}/start=u0"], pr, DECAY_ETA_DIV))
                ms.append(_v_decay_row("v1", base, results[f"{base}/start=u0/step=eta"], pr, 1.0))
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
            pred = ou_optimum(problem(law), mu).second_moment(t, _u0(law, mu, eta / DECAY_ETA_DIV)[1])
            for k in range(m2.shape[1]):
                ax.semilogy(t, m2[:, k], lw=1.5, label=f"i={k + 2}, simulated")
                ax.semilogy(t, pred[:, k], "k--", lw=0.8, label="Prop. 3.6 prediction" if k == 0 else None)
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
        return Findings(findings=out)

    # -- controls -------------------------------------------------------------------------------
    def synthetic(self, profile, kind, rng):
        eta, out = ETA[profile], {}
        for law, mu, tau, lab in _grid(eta):
            base = tag(law=law, mu=mu, tau=tau)
            out[f"{base}/start=e1"] = _window_control(profile, law, mu, kind, rng)
            if lab != "far":
                out[f"{base}/start=u0"] = _decay_control(profile, law, mu, DECAY_ETA_DIV, kind, rng)
                out[f"{base}/start=u0/step=eta"] = _decay_control(profile, law, mu, 1.0, kind, rng)
        return out


def _window_summary(U: np.ndarray, times: np.ndarray, t_burn: float) -> dict:
    """Per-path time averages of U_i^2 over the window after the burn-in, and U at the last record."""
    w = times >= t_burn - 1e-12
    return {
        "path_means": (U[:, w, :] ** 2).mean(axis=1),  # (P, d-1)
        "final": U[:, -1, :],
        "window": [float(times[w][0]), float(times[-1])],
    }


def _decay_summary(U: np.ndarray, times: np.ndarray, lim, mu: float) -> dict:
    """Mean U_i^2 at every record (figure) and U_i^2 per path at the record nearest each checkpoint."""
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


def _stationary_effect(profile: str, mu: float, k: int) -> float:
    """Relative effect of a stationary-variance row beyond its band edge 1 + BAND (SE scales with the truth)."""
    lv = _level(profile)
    return stats.scaled_effect(_stationary_se(profile, mu, k), 1 + BAND, level=lv, direction=DIRECTION)


def _decay_effect(profile: str, lim, u0, t: float, k: int) -> float:
    """Relative effect of a second-moment row beyond its band edge 1 + BAND (SE scales with the truth)."""
    se = _decay_se(lim, u0, t, k, DECAY_PATHS[profile])
    return stats.scaled_effect(se, 1 + BAND, level=_level(profile), direction=DIRECTION)


def _stationary_rows(profile, law: str, mu: float, tau: int, lab: str, r1: dict, S: np.ndarray) -> list:
    """``stationary_variance/law=L/mu=M/tau=T/i=I``: mean of h_i^2/eta over paths and window against (3.3)'s
    ``S_i = alpha_i1^2/(2(1-mu)(lambda_1-lambda_i))``; judged unless tau is far beyond the SDE threshold."""
    judged, base = lab != "far", tag(law=law, mu=mu, tau=tau)
    lv = _level(profile) if judged else 0.95
    pm, out = np.asarray(r1["path_means"]), []
    for k in range(pm.shape[1]):
        out.append(
            stats.measurement(
                f"stationary_variance/{base}/i={k + 2}",
                stats.mean_ci(pm[:, k], lv),
                prediction=float(S[k]),
                band=stats.relative_band(S[k], BAND),
                level=lv,
                judged=judged,
                effect=float(S[k]) * stats.detectable_effect(_stationary_se(profile, mu, k), level=lv)
                if judged
                else None,
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
    """``gof/{base}/i=I``: sup-distance of U_i(T)/sqrt(S_i) to N(0, 1), DKW CI, band [0, GOF_DISTANCE]."""
    judged, fin = lab != "far", np.asarray(r1["final"])
    lv = _level(profile) if judged else 0.95
    return [
        stats.gof_distance(
            f"gof/{base}/i={k + 2}",
            fin[:, k] / math.sqrt(S[k]),
            sst.norm.cdf,
            GOF_DISTANCE,
            level=lv,
            judged=judged,
            diverged=int(r1["n_paths"]) - int(r1["n_finite"]),
            note=f"U_i(T)/sqrt(stationary variance) at t={r1['window'][1]:.3g} against N(0, 1){_note(lab, '')}",
        )
        for k in range(fin.shape[1])
    ]


def _decay_se(lim, u0: np.ndarray, t: float, k: int, n: int) -> float:
    """Planned relative SE of mean U_i(t)^2 over n paths, U ~ N(m, v) of (3.3): sqrt(2v^2 + 4m^2 v)/(m^2+v)/sqrt(n)."""
    m, v = float(lim.mean(t, u0)[k]), float(lim.variance(t)[k])
    return math.sqrt(2 * v * v + 4 * m * m * v) / (m * m + v) / math.sqrt(n)


def _second_moment_rows(profile, base: str, r2: dict, pr: dict, div: float) -> list:
    """``second_moment/{base}/i=I/s=S``: ratio of mean U_i(t)^2 to the A.6 formula at each checkpoint."""
    lim, u0, lv, out = pr["limit"], pr["u0"][div], _level(profile), []
    for k in range(lim.dim):
        for s in DECAY_S:
            t, u2 = r2["u2"][f"{k + 1}/{s}"]
            pred = float(lim.second_moment(t, u0)[k])
            e = stats.mean_ci(np.asarray(u2, dtype=float) / pred, lv)
            out.append(
                stats.measurement(
                    f"second_moment/{base}/i={k + 2}/s={s:g}",
                    e,
                    prediction=1.0,
                    band=(1 - BAND, 1 + BAND),
                    effect=_decay_effect(profile, lim, u0, t, k),
                    diverged=int(r2["n_paths"]) - int(r2["n_finite"]),
                    note=f"mean U_i(t)^2 / A.6 formula {pred:.4g} at t={t:.4g} from U_i(0)={u0[k]:.3g} "
                    f"(step eta/{div:g})",
                )
            )
    return out


def _v3_window_rows(base: str, lab: str, r1: dict, S: np.ndarray) -> list:
    """The version-3 rule's stationary variance (95% CIs) and goodness of fit (Holm across the cell's
    KS/AD/CvM sub-tests, point null) on the same data; only for judged cells."""
    if lab == "far":
        return []
    pm, fin = np.asarray(r1["path_means"]), np.asarray(r1["final"])
    band = [stats.relative_band(S[k], BAND) for k in range(pm.shape[1])]
    out = [
        stats.measurement(
            f"v3/stationary_variance/{base}/i={k + 2}", stats.mean_ci(pm[:, k]), None, S[k], b, judged=False
        )
        for k, b in enumerate(band)
    ]
    xs = [fin[:, k] / math.sqrt(S[k]) for k in range(fin.shape[1])]
    g = stats.gof_holm_pooled(xs, sst.norm.cdf, alpha=ALPHA_V3, detect=GOF_DETECT_V3)
    p = min((t.pvalue_holm for t in g.tests), default=math.nan)
    band = (ALPHA_V3, 1.0)
    out.append(stats.measurement(f"v3/gof/{base}", p, None, None, band, verdict=g.verdict, judged=False, note=g.note))
    return out


def _v_decay_row(version: str, base: str, r2: dict, pr: dict, div: float):
    """The version-1/3 second-moment rule: per coordinate, the worst of the four checkpoint ratios with
    Bonferroni 1 - 0.05/4 normal CIs; FAIL if any lies outside [0.9, 1.1], PASS if all inside.  One row
    per cell, verdict combined over the coordinates (as their rows combined in the claim)."""
    lim, u0, lv = pr["limit"], pr["u0"][div], 1 - ALPHA_V3 / len(DECAY_S)
    verdicts, worst = [], (1.0, (1.0, 1.0))
    for k in range(lim.dim):
        for s in DECAY_S:
            t, u2 = r2["u2"][f"{k + 1}/{s}"]
            e = stats.mean_ci(np.asarray(u2, dtype=float) / float(lim.second_moment(t, u0)[k]), lv, "normal")
            verdicts.append(stats.equivalence(e.estimate, e.ci, (1 - BAND, 1 + BAND)))
            worst = max(worst, (e.estimate, e.ci), key=lambda w: abs(w[0] - 1))
    return stats.measurement(
        f"{version}/second_moment/{base}",
        worst[0],
        worst[1],
        1.0,
        (1 - BAND, 1 + BAND),
        verdict=combine_verdicts(verdicts),
        judged=False,
        level=lv,
        note=f"version-{version[1]} rule, step eta/{div:g}: worst checkpoint shown",
    )


def _ratio_text(m) -> str:
    return f"{m.estimate / m.prediction:.3f} [{m.ci[0] / m.prediction:.3f}, {m.ci[1] / m.prediction:.3f}]"


def _ratio_points(ax, g: int, by: dict, base: str, colour: str, markers) -> None:
    for i, m in enumerate(by[f"stationary_variance/{base}/i={k}"] for k in (2, 3, 4)):
        r, lo, hi = m.estimate / m.prediction, m.ci[0] / m.prediction, m.ci[1] / m.prediction
        ax.errorbar([g + 0.22 * (i - 1)], [r], yerr=[[r - lo], [hi - r]], fmt=markers[i], color=colour, ms=4, capsize=2)


# -- controls ---------------------------------------------------------------------------------------
def _window_control(profile, law, mu, kind, rng) -> dict:
    """Stationary-run summary from exact (3.3) paths on the run's record grid.

    Null: started in the stationary law (a burn-in of 40 relaxation times of the slowest coordinate
    before the first record), so every judged truth equals its prediction.  Limit: started at 0 like
    the run itself.  Alternative: the null's path means scaled by 1 + BAND + effect per coordinate and
    the final values shifted to a sup-distance beyond the band (:func:`stats.distance_alternative`).
    """
    eta, n, lv = ETA[profile], PATHS[profile], _level(profile)
    lim = ou_optimum(problem(law), mu)
    steps, r = _window_steps(mu, eta)
    times = np.arange(steps // r + 1) * r * eta
    shift = 0.0 if kind == "limit" else 40.0 / float(-lim.rate.max())
    U = lim.sample(times + shift, n, rng)
    out = {"n_paths": n, "n_finite": n, "times": times} | _window_summary(U, times, BURN * (1 - mu))
    if kind == "alternative":
        up = 1 + DIRECTION * (BAND + np.array([_stationary_effect(profile, mu, k) for k in range(lim.dim)]))
        d = stats.distance_alternative(GOF_DISTANCE, n, lv)
        sd = np.sqrt(lim.stationary_variance)
        out["path_means"] = out["path_means"] * up
        out["final"] = np.column_stack([ctl.normal_sample(rng, n, sd[k], distance=d) for k in range(lim.dim)])
    return out


def _decay_control(profile, law, mu, div, kind, rng) -> dict:
    """Decay-run summary: exact (3.3) paths from the run's start at its checkpoint times (the A.6 formula
    is exact for them, so null and limit coincide); the alternative scales every U_i(t)^2 by 1 + BAND +
    effect, moving each checkpoint's truth beyond its band."""
    eta, n = ETA[profile] / div, DECAY_PATHS[profile]
    lim, u0 = ou_optimum(problem(law), mu), _u0(law, mu, eta)[1]
    ts = sorted({_checkpoint(lim, mu, k, s) for k in range(lim.dim) for s in DECAY_S})
    U = lim.sample(ts, n, rng, u0=u0)
    u2 = {}
    for k in range(lim.dim):
        for s in DECAY_S:
            t = _checkpoint(lim, mu, k, s)
            up = 1 + DIRECTION * (BAND + _decay_effect(profile, lim, u0, t, k))
            u2[f"{k + 1}/{s}"] = (t, U[:, ts.index(t), k] ** 2 * (up if kind == "alternative" else 1.0))
    return {"n_paths": n, "n_finite": n, "times": np.array(ts), "m2": (U**2).mean(axis=0), "u2": u2}
