"""Claim ``exit-time``: SGD's mean first passage between the wells of a double well is the SDE's.

``U(x) = (x^2 - 1)^2/4`` (barrier 1/4, ``U''(+-1) = 2``, ``U''(0) = -1``); SGD ``x_{k+1} = x_k - eta
(U'(x_k) + sigma xi_k)`` at eta = 0.01 with additive Gaussian noise ``sigma^2 = 2D/eta`` is the Euler
scheme of its order-1 SME ``dX = -U'(X) dt + sqrt(2D) dB``.  From ``x = -1`` (left well bottom) to the
first passage over ``x = +1`` (right well bottom), for D in {0.04, 0.05, 0.07, 0.1}:

* SGD, passage time ``k eta``;
* the SDE by the stochastic Heun scheme (weak order 2) at ``dt = eta/2``, finer than SGD's own step,
  its own step checked by halving (``dt`` against ``dt/2`` on one Brownian path) at the largest D;
* the exact MFPT by quadrature (Gardiner eq. 5.2.158), and Kramers' formula (context).

Judged, stated before running: ``exit_time_ratio/alg=sgd|sde/D=...`` = measured mean / quadrature,
band [0.75, 1.25], effect from the planned standard error ``r/sqrt(paths)`` at a true ratio r
(passage times of a rare escape are close to exponential: sd about the mean).  No path is censored by design (each runs
until it passes, up to 40 quadrature MFPTs); any censored path is counted, and withholds a PASS.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import stats as _st

from diffapprox import Claim, Findings, sgd, simulate_algorithm
from diffapprox.engine import double_well
from diffapprox.limits import kramers_time, mfpt_quadrature, sme, sme_paths
from diffapprox.stats import detectable_effect, measurement, row_level

from .._common import claim_title, new_figure, num, save_figure

ETA = 0.01
START, TARGET = -1.0, 1.0
BAND = (0.75, 1.25)
CAP = 40.0  # longest run, in quadrature MFPTs: P(an exponential time > 40 means) = e^-40
SDE_DT = ETA / 2
_PROFILES = {
    "quick": {"Ds": (0.07, 0.1), "paths": 100},
    "standard": {"Ds": (0.04, 0.05, 0.07, 0.1), "paths": 400},
    "paper": {"Ds": (0.04, 0.05, 0.07, 0.1), "paths": 2000},
}


def U(x):
    return (x * x - 1.0) ** 2 / 4.0


@functools.lru_cache(maxsize=None)
def quadrature(D: float) -> float:
    """Exact MFPT from -1 over +1 (the inner integral starts at -3, where exp(-U/D) < e^-100)."""
    return mfpt_quadrature(U, D, START, TARGET, lower=-3.0)


def _m(profile) -> int:
    return 2 * len(_PROFILES[profile]["Ds"])


def _effect(profile) -> float:
    """Departure beyond the band's upper edge detected with power 0.8: the sd scales with the mean,
    so the truth r must satisfy ``r (1 - c) = 1.25`` with ``c = (z + z_power)/sqrt(paths)``."""
    c = detectable_effect(1.0 / math.sqrt(_PROFILES[profile]["paths"]), level=row_level(_m(profile)))
    return BAND[1] / (1.0 - c) - BAND[1]


def _sigma(D):
    return math.sqrt(2.0 * D / ETA)


def _times(cell_key, D, paths, seed, dt=SDE_DT, substeps=1):
    """Passage times (paths,) of SGD or of the SDE scheme; NaN when censored."""
    prob = double_well(_sigma(D))
    horizon = CAP * quadrature(D)
    if cell_key.startswith("alg=sgd"):
        r = simulate_algorithm(prob, sgd(ETA), steps=int(math.ceil(horizon / ETA)), paths=paths, x0=[START],
                               seed=seed, passage=(0, TARGET, 1), stop_at_passage=True, record=False)  # fmt: skip
    else:
        r = sme_paths(sme(prob, sgd(ETA), 1), [START], time=horizon, dt=dt, paths=paths, seed=seed,
                      passage=(0, TARGET, 1), stop_at_passage=True, record=False, substeps=substeps)  # fmt: skip
    return r.passage_time


def _summary(t):
    ok = np.isfinite(t)
    return {"mean": float(t[ok].mean()), "sd": float(t[ok].std(ddof=1)), "paths": int(ok.sum()), "censored": int((~ok).sum())}  # fmt: skip


class ExitTime(Claim):
    id = "exit-time"
    order = 220
    paper_ref = "beyond the paper: Kramers (1940) double well; MFPT quadrature (Gardiner 5.2.158)"
    statement = (
        "SGD at eta = 0.01 with additive noise sigma^2 = 2D/eta escapes the double well (x^2-1)^2/4 in the "
        "mean time of its SDE dX = -U'(X) dt + sqrt(2D) dB, within 25%, for D in {0.04, 0.05, 0.07, 0.1}."
    )

    def parameters(self, profile):
        cfg = _PROFILES[profile]
        return {
            "eta": ETA,
            "Ds": list(cfg["Ds"]),
            "paths": cfg["paths"],
            "sde_scheme": f"stochastic Heun (weak order 2), dt = {SDE_DT:g}; halving check dt/2 = {SDE_DT / 2:g} at D = {max(cfg['Ds']):g}",
            "start": START,
            "target": TARGET,
            "band": list(BAND),
            "run_cap_mfpts": CAP,
            "max_steps": {f"alg=sgd/D={num(D)}": math.ceil(CAP * quadrature(D) / ETA) for D in cfg["Ds"]},
            "mfpt_quadrature": {num(D): quadrature(D) for D in cfg["Ds"]},
        }  # fmt: skip

    def cells(self, profile, seed):
        cfg = _PROFILES[profile]
        n = cfg["paths"]
        out = []
        for D in cfg["Ds"]:
            cost = n * quadrature(D) / ETA
            out.append(self.make_cell(f"alg=sgd/D={num(D)}", {"D": D, "paths": n}, seed, cost=cost))
            out.append(self.make_cell(f"alg=sde/D={num(D)}", {"D": D, "paths": n}, seed, cost=2 * cost))
        D = max(cfg["Ds"])
        out.append(self.make_cell(f"alg=sde-halving/D={num(D)}", {"D": D, "paths": n}, seed, cost=6 * n * quadrature(D) / ETA))  # fmt: skip
        return out

    def run_cell(self, cell):
        D, n = cell.params["D"], cell.params["paths"]
        if not cell.key.startswith("alg=sde-halving"):
            return _summary(_times(cell.key, D, n, cell.seed))
        coarse = _times(cell.key, D, n, cell.seed, SDE_DT, 2)
        fine = _times(cell.key, D, n, cell.seed, SDE_DT / 2, 1)
        diff = coarse - fine
        ok = np.isfinite(diff)
        return {**_summary(fine), "diff_mean": float(diff[ok].mean()), "diff_sd": float(diff[ok].std(ddof=1))}

    def predict(self, profile):
        return {D: quadrature(D) for D in _PROFILES[profile]["Ds"]}

    def measure(self, profile, seed, results, prediction):
        level = row_level(_m(profile))
        effect = _effect(profile)
        out = []
        for D, Tq in prediction.items():
            kr = kramers_time(0.25, 2.0, 1.0, D)
            out.append(measurement(f"mfpt_quadrature/D={num(D)}", Tq, judged=False, note="exact MFPT by quadrature"))
            out.append(measurement(f"kramers_ratio/D={num(D)}", kr / Tq, prediction=1.0, judged=False,
                                   note=f"Kramers' formula {kr:.4g} / quadrature"))  # fmt: skip
            for alg in ("sgd", "sde"):
                out.append(self._ratio(alg, D, Tq, results[f"alg={alg}/D={num(D)}"], level, effect))
        return out + self._halving(profile, results, prediction)

    def _ratio(self, alg, D, Tq, s, level, effect):
        hw = _st.t.ppf(0.5 + level / 2, s["paths"] - 1) * s["sd"] / math.sqrt(s["paths"])  # t CI of the mean
        lo, hi = s["mean"] - hw, s["mean"] + hw
        return measurement(
            f"exit_time_ratio/alg={alg}/D={num(D)}", s["mean"] / Tq, (lo / Tq, hi / Tq), prediction=1.0, band=BAND,
            level=level, effect=effect, diverged=s["censored"],
            note=f"mean passage time {s['mean']:.4g} over {s['paths']} paths / quadrature {Tq:.4g}; {s['censored']} censored",
        )  # fmt: skip

    def _halving(self, profile, results, prediction):
        D = max(_PROFILES[profile]["Ds"])
        s = results[f"alg=sde-halving/D={num(D)}"]
        se = s["diff_sd"] / math.sqrt(s["paths"])
        r = 1.0 + s["diff_mean"] / s["mean"]
        return [
            measurement(f"sde_halving/D={num(D)}", r, (r - 1.96 * se / s["mean"], r + 1.96 * se / s["mean"]), prediction=1.0,
                        judged=False, note=f"MFPT at dt={SDE_DT:g} / at dt={SDE_DT / 2:g}, same Brownian paths (1: the step does not matter)")
        ]  # fmt: skip

    def synthetic(self, profile, kind, rng):
        if kind == "limit":
            return None
        cfg = _PROFILES[profile]
        n = cfg["paths"]
        ratio = 1.0 if kind == "null" else BAND[1] + _effect(profile)
        out = {}
        for D in cfg["Ds"]:
            T = ratio * quadrature(D)
            for alg in ("sgd", "sde"):
                # exponential passage times: the sample mean's law is Gamma(n, T/n), the sd about T
                out[f"alg={alg}/D={num(D)}"] = {"mean": float(rng.gamma(n, T / n)), "sd": T, "paths": n, "censored": 0}
        T = quadrature(max(cfg["Ds"]))
        out[f"alg=sde-halving/D={num(max(cfg['Ds']))}"] = {"mean": T, "sd": T, "paths": n, "censored": 0,
                                                           "diff_mean": 0.0, "diff_sd": 0.01 * T}  # fmt: skip
        return out

    def figures(self, profile, results, measurements, figdir):
        rows = {m.name: m for m in measurements}
        Ds = _PROFILES[profile]["Ds"]
        fig, axes = new_figure(ncols=1, size=(6.0, 4.0))
        ax = axes[0][0]
        for i, alg in enumerate(("sgd", "sde")):
            ms = [rows[f"exit_time_ratio/alg={alg}/D={num(D)}"] for D in Ds]
            y = np.array([m.estimate for m in ms])
            err = np.abs(np.array([m.ci for m in ms]).T - y)
            ax.errorbar(np.array(Ds) * (1 + 0.02 * (2 * i - 1)), y, yerr=err, fmt="o", capsize=3, label=alg)
        ax.plot(Ds, [rows[f"kramers_ratio/D={num(D)}"].estimate for D in Ds], "k--", lw=1, label="Kramers / quadrature")
        ax.axhspan(*BAND, color="0.9", zorder=0, label="band")
        ax.set(xlabel="D", ylabel="mean passage time / quadrature MFPT")
        ax.legend(fontsize=8)
        claim_title(fig, self, "double well, -1 to +1; SGD at eta=0.01 vs its SDE", fontsize=9)
        return save_figure(fig, figdir, "exit_time")

    def findings(self, profile, results, measurements):
        out = []
        for m in measurements:
            if m.name.startswith(("exit_time_ratio", "sde_halving", "kramers_ratio")):
                ci = f" [{m.ci[0]:.3f}, {m.ci[1]:.3f}]" if m.ci[0] == m.ci[0] else ""
                out.append(f"{m.name}: {m.estimate:.3f}{ci} ({m.verdict if m.judged else 'context'})")
        return Findings(findings=out)
