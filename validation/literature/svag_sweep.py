"""Claim ``svag-sweep``: SVAG(l) approaches the order-1 SME with a weak error that decays like 1/l.

SVAG(l) (Li, Malladi, Arora, NeurIPS 2021, eq. 4) runs ``l`` times the steps at ``eta/l`` with the
gradient ``c1 g(x, xi1) + c2 g(x, xi2)``, ``c_{1,2} = (1 +- sqrt(2l - 1))/2``: the drift per unit time
and the noise covariance ``eta Sigma`` are those of the base algorithm for every l, and the weak
error to the order-1 SME is O(eta/l) (their Theorem 4.3).

Judged: on the Li-Tai-E quadratic (d = 3, Rademacher gamma, ``phi = cos(x_1)``, ``x_0 = 5 (1, 1, 1)``,
T = 2) at eta = 0.5, l = 1, 2, 4, ..., 64, the log-log slope of
``e(l) = max_{j <= l T/eta} |E phi(x_j) - E phi(X_{j eta/l})|`` on l, band ``-1 +- 0.25``; the estimator
and its simultaneous CI are those of ``sme-weak-order`` (Taylor control variate from the exact linear
recursion, Bonferroni over the steps and the l), every l in the fit when the planner resolves it.

Context: streaming PCA (paper eq. 2.1, Sigma = diag(4, 3, 2, 1), Gaussian data) under SVAG(l) of
Async-MSGD with mu = 0.5, eta = 0.05 and a constant delay of 2l steps (the delay time 2 eta is
fixed): the sup-distance over t <= 3 between the mean error curves at l and 2l, expected to shrink
like 1/l.  l = 1 runs the streaming-PCA kernel, l > 1 the generic kernel.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from diffapprox import Claim, Findings, async_msgd, sgd, svag
from diffapprox.engine import StreamingPCA, li_tai_e_quadratic, pca_problem
from diffapprox import simulate_algorithm
from diffapprox.limits import linear_recursion, sme
from diffapprox.stats import box_slope, max_abs_ci, measurement

from . import _weak
from .._common import claim_title, log_ticks, new_figure, save_figure

X0 = (5.0, 5.0, 5.0)
T = 2.0
ETA = 0.5
LS = (1, 2, 4, 8, 16, 32, 64)
BAND = 0.25
REL_SIZE = 0.1
REL_FIT = 0.25
LEVEL = 0.95  # one judged row
PCA = {"spectrum": (4.0, 3.0, 2.0, 1.0), "mu": 0.5, "eta": 0.05, "tau": 2, "t_end": 3.0, "every": 5}
PCA_START = (0.5, 0.5, 0.5, 0.5)
_PROFILES = {
    "quick": {"budget": 1e6, "min_paths": 500, "pca_ls": (1, 2, 4), "pca_paths": 1000},
    "standard": {"budget": 2e7, "min_paths": 2000, "pca_ls": (1, 2, 4, 8), "pca_paths": 4000},
    "paper": {"budget": 2e8, "min_paths": 10000, "pca_ls": (1, 2, 4, 8, 16), "pca_paths": 16000},
}


def _l_level() -> float:
    return 1.0 - (1.0 - LEVEL) / len(LS)


def _z(K: int) -> float:
    return _weak.z_simultaneous(_l_level(), K)


def _theory(ell: int):
    pr = li_tai_e_quadratic(3, "rademacher")
    phi = pr.test_function("cos1")
    alg = svag(sgd(ETA), ell)
    K = int(round(T / alg.step))
    lr = linear_recursion(pr, alg, X0)
    m, C = lr.moments(K)
    target = sme(pr, alg, 1).expect(phi, X0, np.arange(K + 1) * alg.step)
    exact = lr.expect(phi, K)
    d = np.abs(exact - target)
    return {"K": K, "exact": exact, "sme": target, "sd": _weak.predicted_sd(phi, 2, m, C), "k": int(np.argmax(d))}


def _paths(th, cfg) -> int:
    k, K = th["k"], th["K"]
    e = abs(th["exact"][k] - th["sme"][k])
    return int(max(cfg["min_paths"], _weak.paths_for(e, th["sd"][k], K, _z(K), cfg["budget"], REL_SIZE, REL_FIT)))


@functools.lru_cache(maxsize=None)
def _plan(profile):
    cfg = _PROFILES[profile]
    cells = {}
    for ell in LS:
        th = _theory(ell)
        th["paths"] = _paths(th, cfg)
        cells[ell] = th
    errs = [abs(c["exact"][c["k"]] - c["sme"][c["k"]]) for c in cells.values()]
    sds = [c["sd"][c["k"]] for c in cells.values()]
    paths = [c["paths"] for c in cells.values()]
    zs = [_z(c["K"]) for c in cells.values()]
    return {"cells": cells, **_weak.fit_plan(LS, errs, sds, paths, zs, REL_FIT, LEVEL)}


def _pca_run(ell, paths, seed):
    """Mean and sd over paths of the error 1 - h_1^2/||h||^2 every ``every`` base steps (t <= t_end)."""
    pr = pca_problem(StreamingPCA(spectrum=PCA["spectrum"]))
    alg = svag(async_msgd(PCA["eta"], PCA["mu"], f"const:{PCA['tau'] * ell}"), ell)
    steps = int(round(PCA["t_end"] / PCA["eta"]))
    r = simulate_algorithm(pr, alg, steps=steps, paths=paths, x0=PCA_START, seed=seed, record_every=PCA["every"] * ell)
    h = r.x[r.finite]
    err = 1.0 - h[..., 0] ** 2 / np.sum(h * h, axis=-1)
    return {"mean": err.mean(axis=0), "sd": err.std(axis=0, ddof=1), "paths": int(h.shape[0]), "diverged": int((~r.finite).sum())}  # fmt: skip


class SvagSweep(Claim):
    id = "svag-sweep"
    order = 210
    paper_ref = "beyond the paper: Li, Malladi, Arora (NeurIPS 2021) SVAG, Theorem 4.3"
    statement = (
        "SVAG(l) converges to the order-1 SME as l grows: on the Li-Tai-E quadratic at eta = 0.5 the weak "
        "error decays like 1/l (log-log slope -1)."
    )

    def parameters(self, profile):
        p = _plan(profile)
        cfg = _PROFILES[profile]
        return {
            "problem": "Li-Tai-E quadratic, d=3, Rademacher gamma, phi=cos(x_1), x0=5(1,1,1), T=2",
            "eta": ETA,
            "ls": list(LS),
            "band": f"-1 +- {BAND}",
            "paths": {f"l={ell}": c["paths"] for ell, c in p["cells"].items()},
            "plan": [x.describe() for x in p["plans"]],
            "pca_context": {**PCA, "ls": list(cfg["pca_ls"]), "paths": cfg["pca_paths"], "delay": "const:tau*l"},
            **{k: v for k, v in cfg.items() if not k.startswith("pca")},
        }

    def cells(self, profile, seed):
        p = _plan(profile)["cells"]
        cfg = _PROFILES[profile]
        out = [
            self.make_cell(
                f"problem=quadratic/l={ell}",
                {"l": ell, "steps": 4, "paths": c["paths"]},
                seed,
                cost=2 * c["paths"] * c["K"],
            )  # fmt: skip
            for ell, c in p.items()
        ]
        steps = int(round(PCA["t_end"] / PCA["eta"]))
        for ell in cfg["pca_ls"]:
            prm = {"l": ell, "steps": steps, "paths": cfg["pca_paths"]}
            out.append(self.make_cell(f"problem=pca/l={ell}", prm, seed, cost=2 * ell * steps * cfg["pca_paths"]))
        return out

    def run_cell(self, cell):
        q = cell.params
        if cell.key.startswith("problem=pca"):
            return _pca_run(q["l"], q["paths"], cell.seed)
        pr = li_tai_e_quadratic(3, "rademacher")
        alg = svag(sgd(ETA), q["l"])
        K = int(round(T / alg.step))
        m, C = linear_recursion(pr, alg, X0).moments(K)
        return _weak.estimate_means(pr, alg, X0, 4, q["paths"], cell.seed, pr.test_function("cos1"), 2, m, C)

    def predict(self, profile):
        return _plan(profile)

    def measure(self, profile, seed, results, prediction):
        rows, pts = [], []
        for ell, inc, pl in zip(LS, prediction["included"], prediction["plans"]):
            th = prediction["cells"][ell]
            summary = results[f"problem=quadratic/l={ell}"]
            row, est = _weak.weak_error_row(f"svag_error/l={ell}", summary, th["sme"], pl.error, _l_level())
            rows += [row, measurement(f"svag_error_exact/l={ell}", pl.error, judged=False)]
            if inc:
                pts.append((ell, est))
        rows.append(self._slope(pts, prediction))
        return rows + self._pca_rows(profile, results)

    def _slope(self, pts, pred):
        band = (-1.0 - BAND, -1.0 + BAND)
        x = [e for e, _ in pts]
        if len(x) < 2:
            return measurement("svag_order/problem=quadratic", math.nan, band=band, prediction=-1.0)
        fit = box_slope(x, [s.estimate for _, s in pts], [s.ci[0] for _, s in pts], [s.ci[1] for _, s in pts], LEVEL)
        note = f"l in the fit: {', '.join(str(e) for e in x)}; exact slope over them {pred['exact_slope']:.4f}; {fit.method}"
        return measurement("svag_order/problem=quadratic", fit.slope, fit.ci, prediction=-1.0, band=band,
                           effect=pred["effect"], level=LEVEL, note=note)  # fmt: skip

    def _pca_rows(self, profile, results):
        out = []
        ls = _PROFILES[profile]["pca_ls"]
        for a, b in zip(ls[:-1], ls[1:]):
            ra, rb = results[f"problem=pca/l={a}"], results[f"problem=pca/l={b}"]
            diff = np.asarray(ra["mean"]) - np.asarray(rb["mean"])
            se = np.sqrt(np.asarray(ra["sd"]) ** 2 / ra["paths"] + np.asarray(rb["sd"]) ** 2 / rb["paths"])
            est = max_abs_ci(diff[1:], se[1:], 0.95)
            out.append(measurement(f"svag_pca_difference/l={a}", est, judged=False,
                                   diverged=ra["diverged"] + rb["diverged"],
                                   note=f"sup_t |mean error at l={a} - at l={b}|, expected to shrink like 1/l"))  # fmt: skip
        return out

    def synthetic(self, profile, kind, rng):
        if kind == "limit":
            return None
        pred = _plan(profile)
        # null: the exact law of SVAG(l) (slope within 0.05 of -1); alternative: slope -1 + band + effect
        shift = 0.0 if kind == "null" else -1.0 + BAND + pred["effect"] - pred["exact_slope"]
        out = {}
        for ell, th in pred["cells"].items():
            truth = th["sme"] + (th["exact"] - th["sme"]) * float(ell) ** shift
            out[f"problem=quadratic/l={ell}"] = _weak.synthetic_summary(truth, th["sd"], th["paths"], rng)
        n_rec = int(round(PCA["t_end"] / PCA["eta"])) // PCA["every"] + 1
        for ell in _PROFILES[profile]["pca_ls"]:
            sd = np.full(n_rec, 0.2)
            out[f"problem=pca/l={ell}"] = _weak.synthetic_summary(np.full(n_rec, 0.5), sd, 1000, rng)
        return out

    def figures(self, profile, results, measurements, figdir):
        rows = {m.name: m for m in measurements}
        fig, axes = new_figure(ncols=2, size=(5.0, 3.8))
        ax = axes[0][0]
        y = np.array([rows[f"svag_error/l={ell}"].estimate for ell in LS])
        err = np.abs(np.array([rows[f"svag_error/l={ell}"].ci for ell in LS], dtype=float).T - y)
        ax.errorbar(LS, y, yerr=err, fmt="o", capsize=2, label=f"measured: slope {rows['svag_order/problem=quadratic'].estimate:.3f}")  # fmt: skip
        ax.plot(LS, [rows[f"svag_error_exact/l={ell}"].estimate for ell in LS], "-", lw=1, label="exact")
        ax.set(
            xscale="log", yscale="log", xlabel="l", ylabel="weak error to the order-1 SME", title="quadratic, eta=0.5"
        )
        log_ticks(ax)
        ax.legend(fontsize=7)
        ax = axes[0][1]
        for ell in _PROFILES[profile]["pca_ls"]:
            r = results[f"problem=pca/l={ell}"]
            ax.plot(np.arange(len(r["mean"])) * PCA["every"] * PCA["eta"], r["mean"], label=f"l={ell}")
        ax.set(xlabel="t", ylabel="mean error 1 - h1^2/|h|^2", title="streaming PCA, SVAG(l) of Async-MSGD")
        ax.legend(fontsize=7)
        claim_title(fig, self, "left: judged slope (band -1 +- 0.25); right: context", fontsize=9)
        return save_figure(fig, figdir, "svag_sweep")

    def findings(self, profile, results, measurements):
        rows = {m.name: m for m in measurements}
        s = rows["svag_order/problem=quadratic"]
        out = [f"svag_order: slope {s.estimate:.3f} [{s.ci[0]:.3f}, {s.ci[1]:.3f}] ({s.verdict}); {s.note}"]
        diffs = [(m.name.split("=")[-1], m.estimate) for m in measurements if m.name.startswith("svag_pca_difference/")]
        ratios = [f"{a[1] / b[1]:.2f}" for a, b in zip(diffs[:-1], diffs[1:]) if b[1] > 0]
        out.append("streaming PCA, sup_t |E err(l) - E err(2l)| at l = " + ", ".join(f"{ell}: {v:.4g}" for ell, v in diffs)
                   + (f"; successive ratios {', '.join(ratios)} (1/l predicts 2)" if ratios else ""))  # fmt: skip
        return Findings(findings=out)
