"""Claim ``ode-limit``: Theorem 3.3, the ODE (3.2) limit of Async-MSGD as eta -> 0.

For a decreasing sequence of step sizes at a fixed horizon (in ``t = k eta``), start at the
generic point ``h0 = (1, 1, 1, 1)/2`` and compare, per eigen-coordinate i and record time t, the
path mean of ``h_i(t)^2/||h(t)||^2`` with the closed form ``H_i(t)^2`` of (3.2) (sign-free; the
iterate is normalised because (3.2) lives on the sphere while ``||h||`` drifts by Lemma 3.1's
``O(eta^gamma)``; the raw norm is reported separately).  The signed deviation at step size eta is
``dev_i(t; eta)``; the sup-distance ``err_i(eta) = sup_t |dev_i(t; eta)|`` (version 5):

* ``ode_limit/mu=M/delay=0/i=I``: the eta -> 0 limit of the error, judged on the MSGD runs
  (tau = 0).  Order stated before running: the weak error of the iterates is O(eta) (Lemma 3.2's
  momentum term, O(eta log(1/eta)), read as order 1 on this range), so per record time the
  deviation is fitted as ``a_i(t) + b_i(t) eta`` over the five step sizes (weights 1/eta), and the row is
  ``sup_t |a_i(t)|`` with a simultaneous interval over the record times
  (:func:`diffapprox.stats.max_abs_ci`, each a_i(t) with its standard error from the paths of the
  five runs).  Band [0, LIM_TOL].
* ``ode_error/mu=M/delay=R/i=I/eta=<smallest>``: the error at the smallest eta, for ``delay=0``
  and ``delay=thm``, band [0, ERR_TOL], the same simultaneous interval.

Delays: ``delay=0`` (MSGD); ``delay=thm``: tau = floor((1-mu)^2/(lambda_1 eta^(1-gamma))),
gamma = 1/4, constant 1, the largest delays of Theorem 3.3 at this gamma (tau eta -> 0 like
eta^gamma).  Under ``thm`` the delay's error O(tau eta) = O(eta^(1/4)) (Lemma 3.2) falls by
2^(1/4) per halving of eta and leaves a floor of about 0.004 at the smallest eta: five step sizes
cannot extrapolate it, so its limit rows are context and its convergence is judged at the
smallest eta only.  ``delay=fast`` (tau ~ eta^-1.5, beyond the theorem) is context.

Verdicts by the one decision rule (:data:`diffapprox.stats.DECISION_RULE`): PASS when every judged
row's 95% interval lies inside its band, FAIL when some row's interval at ``fail_level(24)``
lies entirely outside.  Paths that diverge are left out of the means and named; a row with any
cannot PASS.  Mutants ``time-scale=1.03`` and ``time-scale=1.1`` evaluate the ODE prediction at
``t x factor`` (see :meth:`OdeLimit.mutants`).  Cells that feed context rows only (``thm`` above the
smallest eta, ``fast``) run a quarter of the profile's paths.

Controls (no exact sampler of the discrete iterates exists) draw per-path h_i^2/||h||^2 series from a
stated model, the ODE (3.2) with the first-order Gaussian fluctuation of the OU (3.3) around it (see
:meth:`OdeLimit.control_sources`), and run this claim's own cell code and measure on them.
"""

from __future__ import annotations

import math
from functools import cache
from itertools import product

import numpy as np

from diffapprox import Claim, ControlSource, Findings, HistoryEntry, Mutant, simulate, stats
from diffapprox.limits import lemma31_norm_bound
from diffapprox.limits import ode_closed_form

from .._common import (
    BOUNDED_LAW,
    SPECTRUM_SOURCE,
    claim_title,
    family_level_history,
    log_ticks,
    new_figure,
    num,
    problem,
    save_figure,
    seed_history,
    tag,
)

ETAS = (4e-3, 2e-3, 1e-3, 5e-4, 2.5e-4)
MUS = (0.0, 0.5)
GAMMA_THM = 0.25
FAST_EXPONENT = 1.5
H0 = (0.5, 0.5, 0.5, 0.5)
#: Horizon in units of (1-mu): H_1^2 goes from 0.25 to > 0.99 by t = 3 (1-mu).
HORIZON = 3.0
#: Tolerance on the smallest-eta sup error (units of h_i^2/||h||^2), fixed before measuring.
ERR_TOL = 0.02
#: Tolerance on the eta -> 0 limit of the sup error (delay 0), fixed before measuring: below the
#: 0.0099 that the ODE with its time scale off by 3% puts on coordinate 1.
LIM_TOL = 0.005
#: Order of the weak error in eta stated before running (Lemma 3.2's O(eta log(1/eta)) read as order 1).
ORDER = 1.0
#: Records per run (plus t = 0): 3 (1-mu)/eta steps are a multiple of 25 for every eta of the grid, so
#: every run records at the same times t = j 0.12 (1-mu), and a fit over eta runs per record time.
N_RECORDS = 25
LAW = BOUNDED_LAW  # Theorem 3.3 assumes bounded data (Assumption 2)
PATHS = {"quick": 256, "standard": 2048, "paper": 8192}
DELAYS = ("0", "thm", "fast")
#: Delays whose smallest-eta error is judged, and those whose eta -> 0 limit is judged.
JUDGED_DELAYS = ("0", "thm")
LIMIT_DELAYS = ("0",)
D = 4
#: Power at which the stated effect is detected by the FAIL interval.
POWER = 0.9
#: The planted time scales of the mutants (the ODE prediction evaluated at t x factor).
TIME_SCALES = (1.03, 1.1)
#: The cells a mutant replicate simulates: the MSGD runs at this momentum (their limit rows see the mutants).
MUTANT_MU = 0.5


def _tau(rule: str, mu: float, eta: float) -> int:
    if rule == "0":
        return 0
    if rule == "thm":
        return int(math.floor((1 - mu) ** 2 / (4.0 * eta ** (1 - GAMMA_THM))))
    c = max(ETAS) ** (FAST_EXPONENT - (1 - GAMMA_THM))
    return int(math.floor(c * (1 - mu) ** 2 / (4.0 * eta**FAST_EXPONENT)))


def _steps(mu: float, eta: float) -> tuple[int, int]:
    steps = int(round(HORIZON * (1 - mu) / eta))
    return steps, steps // N_RECORDS


def _paths(profile: str, rule: str, eta: float) -> int:
    """Full paths for the cells of judged rows (every eta for the limit delays, the smallest for the others)."""
    full = rule in LIMIT_DELAYS or (rule in JUDGED_DELAYS and eta == ETAS[-1])
    return PATHS[profile] if full else PATHS[profile] // 4


def _times(mu: float, eta: float) -> np.ndarray:
    steps, r = _steps(mu, eta)
    return np.arange(0, steps + 1, r) * eta


@cache
def _judged_rows() -> int:
    return len(MUS) * D * (len(JUDGED_DELAYS) + len(LIMIT_DELAYS))


@cache
def _intercept_weights() -> np.ndarray:
    """Weights c_j of the intercept of ``dev = a + b eta^ORDER`` fitted over ETAS: ``a = sum_j c_j dev_j``.

    Weighted least squares with weights 1/eta_j, the inverse of the planned variance of a path mean
    (fluctuations of h around (3.2) are sqrt(eta) times O(1): the OU (3.3)), fixed before running.
    """
    e = np.array(ETAS)
    x, w = np.column_stack([np.ones(e.size), e**ORDER]), 1.0 / e
    return np.linalg.solve(x.T @ (w[:, None] * x), x.T * w)[0]


@cache
def _model_sd(mu: float, eta: float) -> np.ndarray:
    """Per-path SD of h_i(t)^2/||h||^2 under the control model, shape (N_RECORDS + 1, d).

    The model: h = H(t) + sqrt(eta) (0, U_2, ..., U_d), U_j the OU (3.3) started at 0 (variance
    S_j (1 - exp(-2 k_j t)), k_j = (lambda_1 - lambda_j)/(1-mu), S_j = alpha_j1^2/(2(1-mu)(lambda_1 -
    lambda_j))), expanded to first order: X_i - H_i^2 = 2 sqrt(eta) H_i (delta_i - H_i H.delta).
    """
    coef, var = _model_terms(mu, eta)
    return np.sqrt(np.einsum("tij,tj->ti", coef**2, var))


@cache
def _model_terms(mu: float, eta: float) -> tuple[np.ndarray, np.ndarray]:
    """Linear coefficients (T, d, d-1) of X_i - H_i^2 on U_2..U_d, and the OU variances (T, d-1)."""
    p, t = problem(LAW), _times(mu, eta)
    H = ode_closed_form(p, np.array(H0), mu, t)
    lam = np.asarray(p.spectrum, float)
    k = (lam[0] - lam[1:]) / (1 - mu)
    s = np.asarray(p.alpha, float)[1:, 0] ** 2 / (2 * (1 - mu) * (lam[0] - lam[1:]))
    var = s[None, :] * -np.expm1(-2 * k[None, :] * t[:, None])
    eye = np.eye(D)[:, 1:]  # d(delta_i)/dU_j
    coef = 2 * math.sqrt(eta) * H[:, :, None] * (eye[None] - H[:, :, None] * H[:, None, 1:])
    return coef, var


@cache
def _effects(mu: float, paths: int) -> tuple[np.ndarray, np.ndarray]:
    """Stated effects per coordinate: on the limit (delay 0) and on the smallest-eta error.

    ``(z + z_power) se`` with ``z`` Bonferroni over the judged rows (the FAIL level) and the record
    times (the simultaneous interval), ``se`` the largest planned standard error over the times
    (the model's per-path SD over sqrt(paths); for the limit combined by the intercept weights).
    """
    level = 1 - (1 - stats.fail_level(_judged_rows())) / (N_RECORDS + 1)
    sd = np.array([_model_sd(mu, e) for e in ETAS]) / math.sqrt(paths)  # (n_eta, T, d)
    se_lim = np.sqrt(np.tensordot(_intercept_weights() ** 2, sd**2, 1)).max(axis=0)
    se_small = sd[-1].max(axis=0)
    eff = np.vectorize(lambda s: stats.detectable_effect(float(s), level=level, power=POWER))
    return eff(se_lim), eff(se_small)


@cache
def _shape(mu: float) -> np.ndarray:
    """Shape g_i(t) of a planted deviation, sup_t |g_i| = 1, shape (T, d): the first-order change of H_i(t)^2
    under a change of the ODE's time scale, t dH_i^2/dt (what a wrong time scale does)."""
    p, t = problem(LAW), _times(mu, ETAS[0])
    g = (ode_closed_form(p, np.array(H0), mu, t * 1.001) ** 2 - ode_closed_form(p, np.array(H0), mu, t) ** 2) / 1e-3
    return g / np.abs(g).max(axis=0)


class OdeLimit(Claim):
    id = "ode-limit"
    order = 90
    about = "paper"
    paper_ref = "Theorem 3.3, eq. (3.2); Lemma 3.1"
    statement = (
        "As eta -> 0 with tau_k <~ (1-mu)^2/(lambda1 eta^(1-gamma)), the iterates converge weakly to "
        "the ODE (3.2), whose solution is the closed form of Theorem 3.3."
    )
    history = (
        seed_history("PASS"),
        HistoryEntry(
            date="2026-11-29",
            version=3,
            change=(
                "judged rows at the Bonferroni level 1 - 0.05/32 with normal bootstrap intervals (95% percentile "
                "intervals before), stated effects, diverged paths withhold a PASS"
            ),
            reason="a claim with 32 judged rows at 95% each FAILs its null far more often than 5%",
            old_verdict="PASS",
            old_source="earlier run: README standard table at commit 86630c8 (version 2 rule), seed 20180330; "
            "its v2/ rows were dropped in version 5 with the bootstrap estimator they recomputed",
        ),
        family_level_history(4, "INCONCLUSIVE", "31 PASS, 1 INCONCLUSIVE"),
        HistoryEntry(
            date="2026-12-06",
            version=5,
            change=(
                "convergence judged by the eta -> 0 limit of the sup error (delay 0: intercept of a per-time "
                f"weighted (1/eta) least-squares fit of the signed deviation on eta, order 1 stated before running, band [0, {LIM_TOL:g}]) plus "
                f"the smallest-eta error (delays 0 and thm, band [0, {ERR_TOL:g}]), each with a simultaneous "
                "interval over the record times (max_abs_ci) instead of a bootstrap; the positive-order rows "
                "(band (0, inf)) dropped; the one decision rule (95% PASS interval, Bonferroni FAIL interval at "
                f"family level 0.01 over 24 rows); {N_RECORDS} records per run at common times (was 120); "
                "cells of context rows only (thm at larger eta, tau ~ eta^-1.5) with a quarter of the paths; "
                "controls through the cell code; "
                "mutants time-scale=1.03, 1.1"
            ),
            reason=(
                "a positive order does not test convergence: on real paths against the ODE with its time scale "
                "off by 3% (a gap of 0.003-0.010 that never vanishes) all 16 tau = 0 order rows passed, with 10% "
                "those of i = 1..3 still did; the old controls wrote estimates and bootstrap replicates directly "
                "with a planned SE 9 times the real one"
            ),
            old_verdict="INCONCLUSIVE",
            old_source="earlier run: commit 86a7d2f, profile standard, seed 20180330 (31 PASS, 0 FAIL, 1 INCONCLUSIVE)",
        ),
    )

    def parameters(self, profile: str) -> dict:
        eff = {num(mu): _effects(mu, PATHS[profile]) for mu in MUS}
        return {
            "problem": SPECTRUM_SOURCE,
            "data_law": LAW,
            "start_h0": list(H0),
            "mus": list(MUS),
            "etas": list(ETAS),
            "horizon_t": f"{HORIZON} (1-mu)",
            "records_per_run": N_RECORDS + 1,
            "paths": {
                "cells of judged rows (tau = 0; thm at the smallest eta)": PATHS[profile],
                "context cells (thm at larger eta, fast)": PATHS[profile] // 4,
            },
            "delays": {
                "0": "tau = 0",
                "thm": f"floor((1-mu)^2/(lambda1 eta^(1-gamma))), gamma={GAMMA_THM}, constant 1",
                "fast": f"floor(c (1-mu)^2/(lambda1 eta^{FAST_EXPONENT})), c = eta_max^"
                f"{FAST_EXPONENT - 1 + GAMMA_THM} (equals thm at eta_max); outside Theorem 3.3, context only",
            },
            "taus": {f"mu={num(m)}/delay={r}": [_tau(r, m, e) for e in ETAS] for m in MUS for r in DELAYS},
            "error": "sup over record times t <= T of |mean over finite paths of h_i^2/||h||^2 - H_i(t)^2|",
            "limit": f"sup_t |a_i(t)|, a_i(t) the intercept of the fit dev_i(t; eta) = a + b eta^{ORDER:g}, weights 1/eta",
            "intercept_weights": _intercept_weights().tolist(),
            "bands": {"ode_limit (delay 0)": [0.0, LIM_TOL], "ode_error (smallest eta)": [0.0, ERR_TOL]},
            "effects": {k: {"limit": v[0].tolist(), "smallest_eta_error": v[1].tolist()} for k, v in eff.items()},
            "effect_rule": f"(z_fail over rows and times + z_{POWER:g}) x the largest planned SE over the times",
            "judged_rows": _judged_rows(),
            "decision_rule": stats.DECISION_RULE,
        }

    def cells(self, profile: str, seed: int):
        return [self._cell(profile, seed, mu, rule, eta) for mu, rule, eta in product(MUS, DELAYS, ETAS)]

    def _cell(self, profile, seed, mu, rule, eta):
        steps, r = _steps(mu, eta)
        params = {"mu": mu, "eta": eta, "rule": rule, "tau": _tau(rule, mu, eta), "steps": steps, "record_every": r}
        params |= {"paths": _paths(profile, rule, eta), "law": LAW}
        return self.make_cell(tag(mu=mu, delay=rule, eta=eta), params, seed, cost=float(steps * params["paths"]))

    def simulate_cell(self, cell) -> dict:
        """Per finite path: h_i^2/||h||^2 at the record times (P, T, d) and the largest ||h||^2; the path count."""
        p = cell.params
        traj = simulate(
            problem(p["law"]),
            mu=p["mu"],
            eta=p["eta"],
            steps=p["steps"],
            paths=p["paths"],
            delay=f"const:{p['tau']}",
            record_every=p["record_every"],
            start=np.array(H0),
            seed=cell.seed,
        )
        ok = traj.finite
        x = traj.h[ok] ** 2 / traj.norm2[ok][:, :, None]
        return {"x": x, "norm2_max": traj.norm2[ok].max(axis=1), "times": traj.times, "n_paths": p["paths"]}

    def summarize(self, cell, data) -> dict:
        """Path means and standard errors of h_i^2/||h||^2 per record time (T, d); counts; the largest norm."""
        x = np.asarray(data["x"])
        n = int(x.shape[0])
        res = {"tau": cell.params["tau"], "n_paths": int(data["n_paths"]), "n_finite": n, "times": data["times"]}
        if n < 2:
            nan = np.full((len(data["times"]), D), np.nan)
            return res | {"mean_h2": nan, "se": nan, "max_norm2": math.nan}
        mean = x.mean(axis=0, dtype=np.float64)
        se = np.sqrt(np.square(x - mean, dtype=np.float64).sum(axis=0) / (n - 1) / n)
        return res | {"mean_h2": mean, "se": se, "max_norm2": float(np.max(data["norm2_max"]))}

    # -- predict / measure ----------------------------------------------------------------
    def predict(self, profile: str) -> dict:
        # Theorem 3.3: the path mean of h_i^2/||h||^2 tends to H_i(t)^2 of (3.2); time_scale 1 is the paper's ODE
        return {"time_scale": 1.0, "limit_band": (0.0, LIM_TOL), "error_band": (0.0, ERR_TOL)}

    def measure(self, profile, seed, results, prediction):
        ms = []
        for mu, rule in product(MUS, DELAYS):
            keys = [tag(mu=mu, delay=rule, eta=e) for e in ETAS]
            if not all(k in results for k in keys):  # a mutant replicate simulates some cells only
                continue
            rs = [results[k] for k in keys]
            ms += _series_rows(mu, rule, rs, prediction, _effects(mu, PATHS[profile]))
            ms += _norm_rows(mu, rule, rs[-1])
        return ms

    # -- figures / findings -------------------------------------------------------------------
    def figures(self, profile, results, measurements, figdir):
        return self._error_figure(measurements, figdir) + self._paths_figure(results, figdir)

    def _error_figure(self, measurements, figdir):
        by = {m.name: m for m in measurements}
        fig, axes = new_figure(ncols=len(MUS), size=(5.4, 4.2))
        names = {"0": "tau = 0", "thm": f"tau of Thm 3.3 (gamma={GAMMA_THM:g})", "fast": "tau ~ eta^-1.5 (context)"}
        for (k, mu), (rule, mk) in product(enumerate(MUS), zip(DELAYS, ("o", "s", "^"))):
            base = f"mu={num(mu)}/delay={rule}"
            y = [max(by[f"ode_error/{base}/i={i + 1}/eta={num(e)}"].estimate for i in range(D)) for e in ETAS]
            lim = max(by[f"ode_limit/{base}/i={i + 1}"].estimate for i in range(D))
            line = axes[0, k].loglog(ETAS, y, marker=mk, ls="-" if rule != "fast" else "--", label=names[rule])
            axes[0, k].plot(
                [ETAS[-1] / 4], [max(lim, 1e-5)], marker=mk, ls="none", color=line[0].get_color(), mfc="none"
            )
        for k, mu in enumerate(MUS):
            ax = axes[0, k]
            ax.axhline(ERR_TOL, color="0.5", ls=":", lw=1, label=f"smallest-eta tolerance {ERR_TOL:g}")
            ax.axhline(LIM_TOL, color="0.3", ls="-.", lw=1, label=f"limit tolerance {LIM_TOL:g} (tau = 0)")
            ax.set_xlabel("step size eta  (log); open markers at eta_min/4: the eta -> 0 limit")
            ax.set_title(f"mu={num(mu)}", fontsize=10)
            log_ticks(ax, at=ETAS)
        axes[0, 0].set_ylabel("max_i sup_t |mean h_i(t)^2 - H_i(t)^2|  (log)")
        axes[0, 0].legend(fontsize=7, loc="lower right")
        sub = "sup-distance of the mean h_i^2 from the ODE (3.2) solution vs eta, and its eta -> 0 limit (order 1 fit)"
        claim_title(fig, self, sub, fontsize=9)
        return save_figure(fig, figdir, "ode_limit_error_vs_eta")

    def _paths_figure(self, results, figdir):
        from matplotlib.lines import Line2D

        fig, axes = new_figure(ncols=len(MUS))
        for k, mu in enumerate(MUS):
            ax, r = axes[0, k], results[tag(mu=mu, delay="0", eta=ETAS[-1])]
            t, m = np.asarray(r["times"]), np.asarray(r["mean_h2"])
            ode = ode_closed_form(problem(LAW), np.array(H0), mu, t) ** 2
            for i in range(D):
                ax.plot(t, m[:, i], lw=1.5, label=f"mean h_{i + 1}^2 (sim)")
                ax.plot(t, ode[:, i], "k--", lw=0.8)
            ax.set_xlabel("time t = k eta")
            ax.set_title(f"mu={num(mu)}, eta={num(ETAS[-1])}, tau=0", fontsize=10)
        h, lab = axes[0, 0].get_legend_handles_labels()
        axes[0, 0].set_ylabel("mean over paths of h_i(t)^2")
        axes[0, 0].legend(h + [Line2D([], [], color="k", ls="--", lw=0.8)], lab + ["ODE (3.2): H_i(t)^2"], fontsize=7)
        claim_title(fig, self, "simulated coordinates against the ODE limit (smallest eta, no delay)", fontsize=9)
        return save_figure(fig, figdir, "ode_limit_paths")

    def findings(self, profile, results, measurements) -> Findings:
        by = {m.name: m for m in measurements}
        out = []
        for mu, rule in product(MUS, DELAYS):
            base = f"mu={num(mu)}/delay={rule}"
            lims = [by[f"ode_limit/{base}/i={i + 1}"] for i in range(D)]
            errs = [by[f"ode_error/{base}/i={i + 1}/eta={num(ETAS[-1])}"] for i in range(D)]
            out.append(
                f"{base}: eta -> 0 limits of the sup error ({'judged' if rule in LIMIT_DELAYS else 'context'}) "
                + ", ".join(f"{m.estimate:.4f} [{m.ci[0]:.4f}, {m.ci[1]:.4f}]" for m in lims)
                + f"; smallest-eta sup errors ({'judged' if rule in JUDGED_DELAYS else 'context'}) "
                + ", ".join(f"{m.estimate:.4f} [{m.ci[0]:.4f}, {m.ci[1]:.4f}]" for m in errs)
            )
        out.append(
            "Under Theorem 3.3's delay the error carries the term O(tau eta) = O(eta^(1/4)) of Lemma 3.2, which five "
            "step sizes cannot extrapolate: its limit rows (order-1 fit) are context, its convergence is judged at "
            "the smallest eta."
        )
        return Findings(findings=out)

    # -- controls -------------------------------------------------------------------------------
    def families(self, profile):
        fam = {r: [f"ode_error/mu={num(mu)}/delay={r}/" for mu in MUS] for r in JUDGED_DELAYS}
        for r in LIMIT_DELAYS:
            fam[r] += [f"ode_limit/mu={num(mu)}/delay={r}/" for mu in MUS]
        return {f"delay={r}": tuple(v) for r, v in fam.items()}

    def control_sources(self, profile):
        model = ControlSource(
            source="model",
            model="the ODE (3.2) solution H(t) with the Gaussian fluctuation of (3.3) around it: h = H(t) + sqrt(eta) "
            "(0, U_2, ..., U_d), U_j independent OU (3.3) started at 0 and sampled exactly at the record times, "
            "h_i^2/||h||^2 expanded to first order in sqrt(eta) (mean exactly H_i^2), plus the control's deviation "
            "g_i(t) T_i(eta) (g_i: the shape t dH_i^2/dt of a time-scale error, sup 1; T_i linear in eta from the "
            "limit's truth to the smallest-eta error's truth for tau = 0, the smallest-eta truth at every eta for "
            "Theorem 3.3's delay, 0 beyond it); every path finite, the sup-distance computed by the claim's cell code",
        )
        return model.for_every_kind()

    def control_data(self, cell, control, rng):
        p = cell.params
        mu, eta, n = p["mu"], p["eta"], p["paths"]
        h2 = ode_closed_form(problem(LAW), np.array(H0), mu, _times(mu, eta)) ** 2
        mean = h2 + _shape(mu) * _control_levels(control, p["rule"], mu, eta, n)[None, :]
        coef, _ = _model_terms(mu, eta)  # (T, d, d-1): the first-order deviation is linear in U
        u = _ou_paths(mu, eta, n, rng)  # (T, paths, d-1)
        x = np.broadcast_to(mean[:, None, :].astype(np.float32), (mean.shape[0], n, D)).copy()
        for j in range(D - 1):
            x += coef[:, None, :, j].astype(np.float32) * u[:, :, j : j + 1]
        return {"x": np.ascontiguousarray(x.transpose(1, 0, 2)), "norm2_max": np.ones(n), "times": _times(mu, eta),
                "n_paths": n}  # fmt: skip

    def mutants(self, profile):
        out = {}
        el, _ = _effects(MUTANT_MU, PATHS[profile])
        for f in TIME_SCALES:
            gap = _time_scale_gap(f)
            seen = [i + 1 for i in range(D) if gap[i] > LIM_TOL + el[i]]
            note = (
                f"the ODE prediction evaluated at t x {f:g}: the truth's limit sup_t |H_i(t)^2 - H_i({f:g} t)^2| = "
                f"{np.round(gap, 4).tolist()} (i = 1..4) against the tau = 0 limit band [0, {LIM_TOL:g}] plus the "
                f"effect {np.round(el, 4).tolist()} ({profile}, mu = {MUTANT_MU:g}): the limit rows of i = {seen} "
                f"see it; the smallest-eta rows under Theorem 3.3's delay (error floor about 0.004, band [0, "
                f"{ERR_TOL:g}]) see the 1.1 gap on i = 1 (0.032 plus the floor; i = 2, 0.019, only with the floor's "
                f"help) and none of the 1.03 gaps (at most 0.0099 plus the floor); the mutant simulates the tau = 0 "
                f"cells at mu = {MUTANT_MU:g} only"
            )
            out[f"time-scale={f:g}"] = Mutant(expect="FAIL", note=note)
        return out

    def mutant_cells(self, profile, seed):
        return [c for c in self.cells(profile, seed) if c.params["rule"] == "0" and c.params["mu"] == MUTANT_MU]

    def mutate(self, profile, name, prediction):
        kind, _, value = name.partition("=")
        if kind != "time-scale" or float(value) not in TIME_SCALES:
            raise KeyError(name)
        return {**prediction, "time_scale": float(value)}


def _time_scale_gap(factor: float) -> np.ndarray:
    """sup_t |H_i(t)^2 - H_i(factor t)^2| over a fine grid of t <= HORIZON (1-mu) (the same for every mu)."""
    t = np.linspace(0.0, HORIZON, 3001)
    h0, p = np.array(H0), problem(LAW)
    return np.abs(ode_closed_form(p, h0, 0.0, t * factor) ** 2 - ode_closed_form(p, h0, 0.0, t) ** 2).max(axis=0)


def _control_levels(control, rule: str, mu: float, eta: float, paths: int) -> np.ndarray:
    """Per coordinate, the sup of the planted deviation at step size eta under ``control`` (see control_sources)."""
    if rule not in JUDGED_DELAYS:
        return np.zeros(D)
    el, es = _effects(mu, paths)
    fam = f"delay={rule}"
    out = np.zeros(D)
    for i in range(D):
        small = control.truth(exact=0.0, band=(0.0, ERR_TOL), effect=float(es[i]), direction=1, family=fam)
        lim = small
        if rule in LIMIT_DELAYS:
            lim = control.truth(exact=0.0, band=(0.0, LIM_TOL), effect=float(el[i]), direction=1, family=fam)
        out[i] = lim + (small - lim) * (eta / ETAS[-1]) ** ORDER
    return out


def _ou_paths(mu: float, eta: float, paths: int, rng) -> np.ndarray:
    """U_2..U_d of (3.3) at the record times, started at 0, by its exact Gaussian transitions over one record
    interval: U(t_k) = rho U(t_(k-1)) + sqrt(S (1 - rho^2)) Z, rho = exp(-k_j (t_1 - t_0)).  Shape (T, paths, d-1)."""
    p, t = problem(LAW), _times(mu, eta)
    lam = np.asarray(p.spectrum, float)
    k = (lam[0] - lam[1:]) / (1 - mu)
    s = np.asarray(p.alpha, float)[1:, 0] ** 2 / (2 * (1 - mu) * (lam[0] - lam[1:]))
    rho = np.exp(-k * (t[1] - t[0]))
    u = np.empty((t.size, paths, D - 1), dtype=np.float32)  # float32: the control's arrays are large
    u[0] = 0.0
    u[1:] = rng.standard_normal((t.size - 1, paths, D - 1), dtype=np.float32) * np.sqrt(s * (1 - rho**2))
    rho = rho.astype(np.float32)
    for j in range(1, t.size):
        u[j] += rho * u[j - 1]
    return u


def _ode_h2(mu: float, times, scale: float) -> np.ndarray:
    return ode_closed_form(problem(LAW), np.array(H0), mu, np.asarray(times, float) * scale) ** 2


def _series_rows(mu, rule, rs, prediction, effects) -> list:
    """Per coordinate: the sup errors at every eta (the smallest judged) and the eta -> 0 limit."""
    base, scale = f"mu={num(mu)}/delay={rule}", float(prediction["time_scale"])
    dev = np.array([np.asarray(r["mean_h2"], float) - _ode_h2(mu, r["times"], scale) for r in rs])  # (n_eta, T, d)
    se = np.array([np.asarray(r["se"], float) for r in rs])
    c = _intercept_weights()
    lim, se_lim = np.tensordot(c, dev, 1), np.sqrt(np.tensordot(c**2, se**2, 1))
    div = [int(r["n_paths"]) - int(r["n_finite"]) for r in rs]
    taus = [int(r["tau"]) for r in rs]
    out = []
    for i in range(D):
        name = f"{base}/i={i + 1}"
        for j, e in enumerate(ETAS):
            judged = rule in JUDGED_DELAYS and j == len(ETAS) - 1
            note = f"sup_t |mean h_i^2/||h||^2 - H_i^2|; tau={taus[j]}" + ("" if judged else "; context")
            row = (dev[j, :, i], se[j, :, i], prediction["error_band"], judged, effects[1][i], div[j], note)
            out.append(_sup_row(f"ode_error/{name}/eta={num(e)}", *row))
        judged = rule in LIMIT_DELAYS
        note = f"sup_t |a_i(t)|, a_i the intercept of dev = a + b eta^{ORDER:g} over eta in {list(ETAS)}; taus {taus}"
        if not judged:
            note += "; context: the delay's O(tau eta) = O(eta^gamma) term is not of order 1"
        row = (lim[:, i], se_lim[:, i], prediction["limit_band"], judged, effects[0][i], sum(div), note)
        out.append(_sup_row(f"ode_limit/{name}", *row))
    return out


def _sup_row(name, dev, se, band, judged, effect, diverged, note):
    """A sup-distance row with simultaneous intervals over the record times: 95% (PASS) and FAIL level."""
    if not np.all(np.isfinite(se)):
        return stats.measurement(name, math.nan, (math.nan, math.nan), 0.0, band, judged=judged, note=note)
    e = stats.max_abs_ci(dev, se, stats.PASS_LEVEL)
    e_fail = stats.max_abs_ci(dev, se, stats.fail_level(_judged_rows()))
    return stats.measurement(
        name,
        e,
        prediction=0.0,
        band=band,
        judged=judged,
        effect=float(effect) if judged else None,
        diverged=diverged,
        note=note,
        ci_fail=e_fail if judged else None,
    )


def _norm_rows(mu, rule, r) -> list:
    if rule == "fast":
        return []
    bound = lemma31_norm_bound(mu=mu, eta=ETAS[-1], tau_max=int(r["tau"]))
    return [
        stats.measurement(
            f"norm_excess/mu={num(mu)}/delay={rule}/eta={num(ETAS[-1])}",
            float(r["max_norm2"]) - 1.0,
            None,
            bound - 1.0,
            None,
            judged=False,
            note="max over paths and records of ||h||^2 - 1 (Lemma 3.1, constants 1: tau eta/(1-mu)^2 + "
            f"eta/(1-mu)^3 = {bound - 1:.3g}); shown, not judged",
        )
    ]
