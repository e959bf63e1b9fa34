"""Claim ``stationary-covariance``: SGD and heavy-ball on quadratics settle at the discrete Lyapunov covariance.

The recursion ``x_{k+1} = x_k + mu (x_k - x_{k-1}) - eta (H x_k + S xi_k)`` (xi standard Gaussian) is
linear; its stationary covariance solves the discrete Lyapunov equation ``P = A P A^T + Q`` of its
companion form (exact at every eta), while the order-1 SME, an OU process
``dX = -H X/(1-mu) dt + sqrt(eta) S/(1-mu) dB``, solves the continuous one: they differ at O(eta).

Cases: the scalar recursions at (mu, eta, h, sigma) = (0, 0.3, 1.5, 1) and (0.9, 0.05, 2, 0.7), and
heavy-ball on a 2-d quadratic (mu = 0.5, eta = 0.1, H = [[2, 0.6], [0.6, 1]], S = diag(1, 0.5)).

Measured: ``E[x x^T]`` (the mean is 0) as the time average over a window after a burn-in (until the
start's share is below 1e-12), CI from the spread of the path averages.  Judged, stated before
running: each entry against the discrete Lyapunov value, band ``+- 2%`` of ``sqrt(P_ii P_jj)``, effect
the detectable effect of the planned standard error (exact: the window average's variance follows
from the recursion's autocovariances ``Gamma_r = A^r P`` and Isserlis' theorem).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import stats as _st

from diffapprox import Claim, Findings, heavy_ball, sgd, simulate_algorithm
from diffapprox.engine import linear_problem
from diffapprox.limits import discrete_lyapunov, linear_recursion, sme
from diffapprox.stats import detectable_effect, measurement, row_level

from .._common import claim_title, new_figure, save_figure

CASES = {
    "mu=0/eta=0.3/h=1.5/sigma=1": {"mu": 0.0, "eta": 0.3, "H": [[1.5]], "S": [[1.0]]},
    "mu=0.9/eta=0.05/h=2/sigma=0.7": {"mu": 0.9, "eta": 0.05, "H": [[2.0]], "S": [[0.7]]},
    "case=heavy-ball-2d": {"mu": 0.5, "eta": 0.1, "H": [[2.0, 0.6], [0.6, 1.0]], "S": [[1.0, 0.0], [0.0, 0.5]]},
}
BAND = 0.02
CHUNK = 1000
_PROFILES = {
    "quick": {"paths": 500, "window": 500},
    "standard": {"paths": 2000, "window": 2000},
    "paper": {"paths": 8000, "window": 4000},
}
M_JUDGED = 1 + 1 + 3


def _setup(case):
    c = CASES[case]
    d = len(c["H"])
    pr = linear_problem(c["H"], np.zeros(d), c["S"], "gaussian", name=case)
    alg = sgd(c["eta"]) if c["mu"] == 0 else heavy_ball(c["eta"], c["mu"])
    return pr, alg


def _entries(d):
    return [(i, j) for i in range(d) for j in range(i, d)]


def _name(kind, case, i, j, d):
    return f"{kind}/{case}" if d == 1 else f"{kind}/{case}/entry={i}{j}"


def _window_var(A, P, d, i, j, W):
    """Variance of the time average over W steps of x_i x_j at stationarity (Gaussian, Isserlis)."""
    f = np.empty(W)
    G = P.copy()
    for r in range(W):
        f[r] = G[i, i] * G[j, j] + G[i, j] * G[j, i]
        G = A @ G
    r = np.arange(1, W)
    return float((W * f[0] + 2.0 * np.sum((W - r) * f[1:])) / W**2)


@functools.lru_cache(maxsize=None)
def _theory(case, profile):
    """Discrete and OU stationary covariances, burn-in, and the planned per-path sd of each entry's average."""
    pr, alg = _setup(case)
    lr = linear_recursion(pr, alg, np.zeros(pr.dim))
    full = discrete_lyapunov(lr.A, lr.B @ lr.B.T)
    d, W = pr.dim, _PROFILES[profile]["window"]
    burn = int(math.ceil(math.log(1e-12) / (2.0 * math.log(lr.spectral_radius))))
    sd = {e: math.sqrt(_window_var(lr.A, full, d, *e, W)) for e in _entries(d)}
    return {"P": full[:d, :d], "P_ou": sme(pr, alg, 1).stationary_cov(), "burn": burn, "sd": sd}


def _effect(case, profile, e):
    se = _theory(case, profile)["sd"][e] / math.sqrt(_PROFILES[profile]["paths"])
    return detectable_effect(se, level=row_level(M_JUDGED))


def _run(case, paths, window, burn, seed):
    """Per-path time averages of x_i x_j over the window, chunk by chunk: mean and sd over paths."""
    pr, alg = _setup(case)
    avgs, div = [], 0
    for off in range(0, paths, CHUNK):
        n = min(CHUNK, paths - off)
        r = simulate_algorithm(pr, alg, steps=burn + window, paths=n, x0=np.zeros(pr.dim), seed=seed, path_offset=off)
        x = r.x[r.finite, burn + 1 :]
        div += int((~r.finite).sum())
        avgs.append(np.stack([(x[..., i] * x[..., j]).mean(axis=1) for i, j in _entries(pr.dim)], axis=1))
    a = np.concatenate(avgs)
    return {"mean": a.mean(axis=0), "sd": a.std(axis=0, ddof=1), "paths": int(a.shape[0]), "diverged": div}


class StationaryCovariance(Claim):
    id = "stationary-covariance"
    order = 230
    paper_ref = "beyond the paper: discrete vs continuous Lyapunov equations of SGD and heavy-ball on quadratics"
    statement = (
        "SGD and heavy-ball on a quadratic with additive noise settle at the covariance of the discrete "
        "Lyapunov equation of their recursion (within 2%), not at the OU (continuous Lyapunov) one."
    )

    def parameters(self, profile):
        cfg = _PROFILES[profile]
        return {
            "cases": {k: {kk: v for kk, v in c.items()} for k, c in CASES.items()},
            "band": f"+- {BAND:g} sqrt(P_ii P_jj) around the discrete Lyapunov value",
            "burn_in": {k: _theory(k, profile)["burn"] for k in CASES},
            "start": "x0 = 0",
            **cfg,
        }

    def cells(self, profile, seed):
        cfg = _PROFILES[profile]
        out = []
        for k in CASES:
            prm = {"paths": cfg["paths"], "window": cfg["window"], "burn": _theory(k, profile)["burn"]}
            prm["steps"] = prm["burn"] + prm["window"]
            out.append(self.make_cell(k, prm, seed, cost=prm["paths"] * prm["steps"]))
        return out

    def run_cell(self, cell):
        q = cell.params
        return _run(cell.key, q["paths"], q["window"], q["burn"], cell.seed)

    def predict(self, profile):
        return {k: _theory(k, profile) for k in CASES}

    def measure(self, profile, seed, results, prediction):
        out = []
        for case, th in prediction.items():
            d = th["P"].shape[0]
            for idx, (i, j) in enumerate(_entries(d)):
                out += self._rows(profile, case, th, results[case], idx, i, j, d)
        return out

    def _rows(self, profile, case, th, s, idx, i, j, d):
        P, Po = th["P"][i, j], th["P_ou"][i, j]
        scale = math.sqrt(th["P"][i, i] * th["P"][j, j])
        level = row_level(M_JUDGED)
        z = _st.t.ppf(0.5 + level / 2, s["paths"] - 1)
        m, hw = float(s["mean"][idx]), z * float(s["sd"][idx]) / math.sqrt(s["paths"])
        kind = "variance" if i == j and d == 1 else "covariance"
        return [
            measurement(_name(f"{kind}_discrete", case, i, j, d), P, judged=False, note="discrete Lyapunov equation"),
            measurement(_name(f"{kind}_ou", case, i, j, d), Po, judged=False, prediction=P,
                        note=f"continuous Lyapunov (OU SME); OU / discrete = {Po / P if P else math.nan:.4f}"),
            measurement(_name(kind, case, i, j, d), m, (m - hw, m + hw), prediction=P, band=(P - BAND * scale, P + BAND * scale),
                        level=level, effect=_effect(case, profile, (i, j)), diverged=s["diverged"],
                        note=f"time average over the window, t CI across {s['paths']} paths"),
        ]  # fmt: skip

    def synthetic(self, profile, kind, rng):
        if kind == "limit":
            return None
        out = {}
        n = _PROFILES[profile]["paths"]
        for case in CASES:
            th = _theory(case, profile)
            ents = _entries(th["P"].shape[0])
            sd = np.array([th["sd"][e] for e in ents])
            scale = np.array([math.sqrt(th["P"][i, i] * th["P"][j, j]) for i, j in ents])
            shift = 0.0 if kind == "null" else BAND * scale + np.array([_effect(case, profile, e) for e in ents])
            truth = np.array([th["P"][e] for e in ents]) + shift
            out[case] = {
                "mean": truth + sd / math.sqrt(n) * rng.standard_normal(len(ents)),
                "sd": sd,
                "paths": n,
                "diverged": 0,
            }
        return out  # fmt: skip

    def figures(self, profile, results, measurements, figdir):
        rows = {m.name: m for m in measurements}
        judged = [m for m in measurements if m.judged]
        fig, axes = new_figure(ncols=1, size=(7.0, 3.8))
        ax = axes[0][0]
        for k, m in enumerate(judged):
            kind, rest = m.name.split("/", 1)
            ou = rows[f"{kind}_ou/{rest}"]
            sc = 0.5 * (m.tolerance[1] - m.tolerance[0]) / BAND  # sqrt(P_ii P_jj)
            y = (m.estimate - m.prediction) / sc
            ax.errorbar(
                [k],
                [y],
                yerr=[[y - (m.ci[0] - m.prediction) / sc], [(m.ci[1] - m.prediction) / sc - y]],
                fmt="o",
                color="C0",
            )
            ax.plot([k], [(ou.estimate - m.prediction) / sc], "x", color="C3")
        ax.axhspan(-BAND, BAND, color="0.9", zorder=0)
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xticks(range(len(judged)), [m.name.split("/", 1)[1] for m in judged], rotation=20, fontsize=6)
        ax.set_ylabel("(value - discrete) / sqrt(P_ii P_jj)")
        claim_title(fig, self, "measured (o, CI) and OU (x) minus the discrete Lyapunov value; band shaded", fontsize=9)
        return save_figure(fig, figdir, "stationary_covariance")

    def findings(self, profile, results, measurements):
        out = []
        for m in measurements:
            if m.judged:
                out.append(
                    f"{m.name}: {m.estimate:.5g} [{m.ci[0]:.5g}, {m.ci[1]:.5g}] vs discrete {m.prediction:.5g} ({m.verdict})"
                )
            elif "_ou/" in m.name:
                out.append(f"{m.name}: {m.estimate:.5g}; {m.note}")
        return Findings(findings=out)
