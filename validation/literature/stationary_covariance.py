"""Claim ``stationary-covariance``: SGD and heavy-ball on quadratics settle at the discrete Lyapunov covariance.

The recursion ``x_{k+1} = x_k + mu (x_k - x_{k-1}) - eta (H x_k + S xi_k)`` (xi standard Gaussian) is
linear; its stationary covariance solves the discrete Lyapunov equation ``P = A P A^T + Q`` of its
companion form (exact at every eta), while the order-1 SME, an OU process
``dX = -H X/(1-mu) dt + sqrt(eta) S/(1-mu) dB``, solves the continuous one: they differ at O(eta).

Cases: the scalar recursions at (mu, eta, h, sigma) = (0, 0.3, 1.5, 1) and (0.9, 0.05, 2, 0.7), and
heavy-ball on a 2-d quadratic (mu = 0.5, eta = 0.1, H = [[2, 0.6], [0.6, 1]], S = diag(1, 0.5)).

Measured: ``E[x x^T]`` (the mean is 0) as the time average over a window after a burn-in (until the
start's share is below 1e-12), t intervals from the spread of the path averages at 95% (PASS) and at
the FAIL level (Bonferroni at family level 0.01 over the five judged entries).  Judged, stated before
running: each entry against the discrete Lyapunov value, band ``+- 2%`` of ``sqrt(P_ii P_jj)``, effect
the detectable effect of the planned standard error at the FAIL level (exact: the window average's
variance follows from the recursion's autocovariances ``Gamma_r = A^r P`` and Isserlis' theorem), at
power 0.9.

Controls: ``exact`` from the limit, the exact linear recursion run as an autoregression per
eigen-coordinate of H (``scipy.signal.lfilter``) from x = 0 with the claim's burn-in and window,
Gaussian noise; ``edge``, ``family`` and ``outside`` from a stated model, per-path window averages
jointly Gaussian with the truth as mean and the exact covariance of the window averages.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import stats as _st

from scipy.signal import lfilter

from diffapprox import Claim, ControlSource, Findings, HistoryEntry, Mutant, heavy_ball, sgd, simulate_algorithm
from diffapprox.engine import linear_problem
from diffapprox.limits import discrete_lyapunov, linear_recursion, sme
from diffapprox.stats import PASS_LEVEL, detectable_effect, fail_level, measurement

from .._common import claim_title, new_figure, save_figure

CASES = {
    "mu=0/eta=0.3/h=1.5/sigma=1": {"mu": 0.0, "eta": 0.3, "H": [[1.5]], "S": [[1.0]]},
    "mu=0.9/eta=0.05/h=2/sigma=0.7": {"mu": 0.9, "eta": 0.05, "H": [[2.0]], "S": [[0.7]]},
    "case=heavy-ball-2d": {"mu": 0.5, "eta": 0.1, "H": [[2.0, 0.6], [0.6, 1.0]], "S": [[1.0, 0.0], [0.0, 0.5]]},
}
BAND = 0.02
CHUNK = 1000
#: Paths per block of the exact-recursion control (arrays of a few MB).
CONTROL_CHUNK = 500
_PROFILES = {
    "quick": {"paths": 500, "window": 500},
    "standard": {"paths": 2000, "window": 2000},
    "paper": {"paths": 8000, "window": 4000},
}
M_JUDGED = 1 + 1 + 3


#: Power at which each row's effect is stated: two of the three families are one row each, and a row's
#: effect at power 0.8 makes its family's FAIL rate 0.8 exactly, which 200 replicates cannot show to be
#: >= 0.8 (a calibration run at 0.8 gave 77.0% [70.7%, 82.3%] for the family mu=0.9/...).
EFFECT_POWER = 0.9
#: A control moves every entry's truth above its band.
DIRECTION = 1
#: The step-size factor of the mutant ``eta=1.1eta``.
ETA_FACTOR = 1.1


def _setup(case, eta_factor: float = 1.0):
    c = CASES[case]
    d = len(c["H"])
    pr = linear_problem(c["H"], np.zeros(d), c["S"], "gaussian", name=case)
    eta = eta_factor * c["eta"]
    alg = sgd(eta) if c["mu"] == 0 else heavy_ball(eta, c["mu"])
    return pr, alg


def _entries(d):
    return [(i, j) for i in range(d) for j in range(i, d)]


def _name(kind, case, i, j, d):
    return f"{kind}/{case}" if d == 1 else f"{kind}/{case}/entry={i}{j}"


def _window_cov(A, P, d, W):
    """Covariance (entries, entries) of the window averages of x_i x_j (i <= j) at stationarity (Isserlis).

    ``Cov(x_{t+r,i} x_{t+r,j}, x_{t,k} x_{t,l}) = G_r[i,k] G_r[j,l] + G_r[i,l] G_r[j,k]`` with
    ``G_r = (A^r P)[:d, :d]``, and the lag -r term with ``G_r`` transposed.
    """
    G = np.empty((W, d, d))
    g = P.copy()
    for r in range(W):
        G[r] = g[:d, :d]
        g = A @ g
    ents = _entries(d)
    ii, jj = [e[0] for e in ents], [e[1] for e in ents]
    Gi = G[:, ii, :]  # (W, E, d): rows i of G_r
    Gj = G[:, jj, :]
    plus = Gi[:, :, ii] * Gj[:, :, jj] + Gi[:, :, jj] * Gj[:, :, ii]  # (W, E, E): lag +r
    minus = np.swapaxes(plus, 1, 2)  # lag -r: the roles of the two entries exchanged
    w = (W - np.arange(W))[:, None, None].astype(float)
    return (W * plus[0] + np.sum(w[1:] * (plus[1:] + minus[1:]), axis=0)) / W**2


@functools.lru_cache(maxsize=None)
def _theory(case, profile):
    """Discrete and OU stationary covariances, burn-in, and the planned per-path sd of each entry's average."""
    pr, alg = _setup(case)
    lr = linear_recursion(pr, alg, np.zeros(pr.dim))
    full = discrete_lyapunov(lr.A, lr.B @ lr.B.T)
    d, W = pr.dim, _PROFILES[profile]["window"]
    burn = int(math.ceil(math.log(1e-12) / (2.0 * math.log(lr.spectral_radius))))
    cov = _window_cov(lr.A, full, d, W)
    sd = {e: math.sqrt(cov[k, k]) for k, e in enumerate(_entries(d))}
    return {"P": full[:d, :d], "P_ou": sme(pr, alg, 1).stationary_cov(), "burn": burn, "sd": sd, "cov": cov}


def _effect(case, profile, e):
    se = _theory(case, profile)["sd"][e] / math.sqrt(_PROFILES[profile]["paths"])
    return detectable_effect(se, level=fail_level(M_JUDGED), power=EFFECT_POWER)


def _averages(x, d):
    """Per-path time averages of x_i x_j (i <= j) over the window: x (paths, W, d) -> (paths, entries)."""
    return np.stack([(x[..., i] * x[..., j]).mean(axis=1) for i, j in _entries(d)], axis=1)


def _run(case, paths, window, burn, seed):
    """Per-path time averages of x_i x_j over the window, chunk by chunk (finite paths), and the diverged count."""
    pr, alg = _setup(case)
    avgs, div = [], 0
    for off in range(0, paths, CHUNK):
        n = min(CHUNK, paths - off)
        r = simulate_algorithm(pr, alg, steps=burn + window, paths=n, x0=np.zeros(pr.dim), seed=seed, path_offset=off)
        div += int((~r.finite).sum())
        avgs.append(_averages(r.x[r.finite, burn + 1 :], pr.dim))
    return {"a": np.concatenate(avgs), "diverged": div}


def _exact_recursion(case, paths, window, burn, rng):
    """Per-path window averages of the exact recursion (paths, entries), one AR(1)/AR(2) per eigen-coordinate of H.

    ``z_{k+1} = (1 + mu - eta lambda_i) z_k - mu z_{k-1} - eta (Q^T S xi_k)_i`` from ``z_0 = z_{-1} = 0``
    (lfilter's zero initial state), ``x = Q z``; the window is steps burn+1 .. burn+window, as in the run.
    Paths in chunks of ``CONTROL_CHUNK`` (arrays that stay in cache).
    """
    c = CASES[case]
    lam, Q = np.linalg.eigh(np.asarray(c["H"], dtype=float))
    R = -c["eta"] * Q.T @ np.asarray(c["S"], dtype=float)
    ar = [[1.0, -(1.0 + c["mu"] - c["eta"] * v), c["mu"]] for v in lam]
    sizes = [min(CONTROL_CHUNK, paths - off) for off in range(0, paths, CONTROL_CHUNK)]
    return np.concatenate([_ar_chunk(n, window, burn, Q, R, ar, rng) for n in sizes])


def _ar_chunk(n, window, burn, Q, R, ar, rng):
    """Window averages of x_i x_j for ``n`` paths of the recursion in the eigenbasis (see :func:`_exact_recursion`)."""
    d = Q.shape[0]
    xi = [rng.standard_normal((n, burn + window)) for _ in range(d)]
    z = []
    for i in range(d):
        e = sum(R[i, k] * xi[k] for k in range(d) if R[i, k] != 0.0)
        z.append(lfilter([1.0], ar[i], e, axis=1)[:, burn:])
    x = [sum(Q[i, k] * z[k] for k in range(d) if Q[i, k] != 0.0) for i in range(d)]
    return np.stack([np.einsum("pw,pw->p", x[i], x[j]) / window for i, j in _entries(d)], axis=1)


@functools.lru_cache(maxsize=None)
def _wrong(case, name):
    """The planted covariance of mutant ``name``: the discrete Lyapunov one at 1.1 eta, or the OU one."""
    if name == "ou":
        return _theory(case, "quick")["P_ou"]
    pr, alg = _setup(case, ETA_FACTOR)
    lr = linear_recursion(pr, alg, np.zeros(pr.dim))
    return discrete_lyapunov(lr.A, lr.B @ lr.B.T)[: pr.dim, : pr.dim]


def _mutant_note(profile, name, what):
    """Each row's distance beyond the planted band, against its effect (computed before running)."""
    parts = []
    for case in CASES:
        th, W = _theory(case, profile), _wrong(case, name)
        for i, j in _entries(th["P"].shape[0]):
            gap = abs(th["P"][i, j] - W[i, j]) - BAND * math.sqrt(W[i, i] * W[j, j])
            parts.append(
                f"{_name('', case, i, j, th['P'].shape[0])[1:]}: {gap:.3g} vs {_effect(case, profile, (i, j)):.3g}"
            )
    return f"the prediction replaced by {what}; the truth beyond the planted band vs the effect, per row: " + "; ".join(
        parts
    )


class StationaryCovariance(Claim):
    id = "stationary-covariance"
    order = 230
    about = "literature"
    paper_ref = "beyond the paper: discrete vs continuous Lyapunov equations of SGD and heavy-ball on quadratics"
    statement = (
        "SGD and heavy-ball on a quadratic with additive noise settle at the covariance of the discrete "
        "Lyapunov equation of their recursion (within 2%), not at the OU (continuous Lyapunov) one."
    )
    history = (
        HistoryEntry(
            date="2026-12-06",
            version=2,
            change="one decision rule: 95% PASS interval, Bonferroni FAIL interval at family level 0.01 over the "
            "five judged entries (was one t interval at Bonferroni family level 0.05); the effect restated at the "
            "FAIL level and at power 0.9 (a single-row family at power 0.8 cannot show a FAIL rate >= 0.8 in 200 "
            "replicates; the effect enters no verdict)",
            reason="one rule for every claim",
            old_verdict="PASS",
            old_source="earlier run: commit 86a7d2f, profile standard, seed 20180330",
        ),
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
            prm = {
                "paths": cfg["paths"],
                "window": cfg["window"],
                "burn": _theory(k, profile)["burn"],
                "profile": profile,
            }
            prm["steps"] = prm["burn"] + prm["window"]
            out.append(self.make_cell(k, prm, seed, cost=prm["paths"] * prm["steps"]))
        return out

    def simulate_cell(self, cell):
        q = cell.params
        return _run(cell.key, q["paths"], q["window"], q["burn"], cell.seed)

    def summarize(self, cell, data):
        a = np.asarray(data["a"], dtype=float)
        return {"mean": a.mean(axis=0), "sd": a.std(axis=0, ddof=1), "paths": int(a.shape[0]), "diverged": int(data["diverged"])}  # fmt: skip

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
        m = float(s["mean"][idx])

        def ci(level):  # t interval of the mean over the path averages
            hw = _st.t.ppf(0.5 + level / 2, s["paths"] - 1) * float(s["sd"][idx]) / math.sqrt(s["paths"])
            return (m - hw, m + hw)

        kind = "variance" if i == j and d == 1 else "covariance"
        return [
            measurement(_name(f"{kind}_discrete", case, i, j, d), P, judged=False, note="discrete Lyapunov equation"),
            measurement(_name(f"{kind}_ou", case, i, j, d), Po, judged=False, prediction=P,
                        note=f"continuous Lyapunov (OU SME); OU / discrete = {Po / P if P else math.nan:.4f}"),
            measurement(_name(kind, case, i, j, d), m, ci(PASS_LEVEL), prediction=P, band=(P - BAND * scale, P + BAND * scale),
                        ci_fail=ci(fail_level(M_JUDGED)), n=s["paths"], effect=_effect(case, profile, (i, j)), diverged=s["diverged"],
                        note=f"time average over the window, t CI across {s['paths']} paths"),
        ]  # fmt: skip

    # controls ----------------------------------------------------------------
    def families(self, profile):
        return {case: (_name("variance", case, 0, 0, 1) if len(c["H"]) == 1 else f"covariance/{case}/",) for case, c in CASES.items()}  # fmt: skip

    def control_sources(self, profile):
        limit = ControlSource(
            source="limit",
            model="the exact linear recursion x_{k+1} = x_k + mu (x_k - x_{k-1}) - eta (H x_k + S xi_k), Gaussian xi, "
            "from x = 0 with the claim's burn-in and window (an autoregression per eigen-coordinate of H): its "
            "stationary covariance is the discrete Lyapunov one",
        )
        model = ControlSource(
            source="model",
            model="per-path window averages of x_i x_j jointly Gaussian, mean the control's truth, covariance the "
            "exact one of the recursion's window averages (autocovariances A^r P and Isserlis' theorem); the exact "
            "recursion costs 0.3 s of CPU per replicate, too much for 200 replicates of every kind",
        )
        return {"exact": limit, **dict.fromkeys(("edge", "family", "outside"), model)}

    def control_data(self, cell, control, rng):
        q = cell.params
        th = _theory(cell.key, q["profile"])
        if control.kind == "exact":
            return {"a": _exact_recursion(cell.key, q["paths"], q["window"], q["burn"], rng), "diverged": 0}
        P = th["P"]
        truth = []
        for i, j in _entries(P.shape[0]):
            half = BAND * math.sqrt(P[i, i] * P[j, j])
            truth.append(control.truth(exact=P[i, j], band=(P[i, j] - half, P[i, j] + half), direction=DIRECTION,
                                       effect=_effect(cell.key, q["profile"], (i, j)), family=cell.key))  # fmt: skip
        z = rng.standard_normal((q["paths"], len(truth)))
        return {"a": np.asarray(truth) + z @ np.linalg.cholesky(th["cov"]).T, "diverged": 0}

    def mutants(self, profile):
        return {
            "eta=1.1eta": Mutant(expect="FAIL", note=_mutant_note(profile, "eta=1.1eta", "the discrete Lyapunov covariance at 1.1 eta")),
            "ou": Mutant(expect="FAIL", note=_mutant_note(profile, "ou", "the OU (continuous Lyapunov) covariance of the order-1 SME")),
        }  # fmt: skip

    def mutate(self, profile, name, prediction):
        return {case: {**th, "P": _wrong(case, name)} for case, th in prediction.items()}

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
