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
band [0.75, 1.25], t intervals of the mean at 95% (PASS) and at the FAIL level (Bonferroni at family
level 0.01 over the judged rows), effect from the planned standard error ``r/sqrt(paths)`` at a true
ratio r at the FAIL level (passage times of a rare escape are close to exponential: sd about the mean).  No path is censored by design (each runs
until it passes, up to 40 quadrature MFPTs); any censored path is counted, and withholds a PASS.

Controls (stated model: no exact sampler of the diffusion's first passage exists): per-path passage
times, exponential with mean r x the quadrature MFPT (r set by the control; the escape over a barrier
of height 2.5 D to 6 D is close to a Poisson event, Kramers 1940), through the claim's own summary.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import stats as _st

from diffapprox import Claim, ControlSource, Findings, HistoryEntry, Mutant, sgd, simulate_algorithm
from diffapprox.engine import double_well
from diffapprox.limits import kramers_time, mfpt_quadrature, sme, sme_paths
from diffapprox.stats import PASS_LEVEL, detectable_effect, fail_level, measurement

from .._common import claim_title, new_figure, num, save_figure

ETA = 0.01
START, TARGET = -1.0, 1.0
BAND = (0.75, 1.25)
CAP = 40.0  # longest run, in quadrature MFPTs: P(an exponential time > 40 means) = e^-40
SDE_DT = ETA / 2
_PROFILES = {
    "quick": {"Ds": (0.07, 0.1), "paths": 100},
    "standard": {"Ds": (0.04, 0.05, 0.07, 0.1), "paths": 400},
    "paper": {"Ds": (0.04, 0.05, 0.07, 0.1), "paths": 1000},
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
    c = detectable_effect(1.0 / math.sqrt(_PROFILES[profile]["paths"]), level=fail_level(_m(profile)))
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
    about = "literature"
    paper_ref = "beyond the paper: Kramers (1940) double well; MFPT quadrature (Gardiner 5.2.158)"
    statement = (
        "SGD at eta = 0.01 with additive noise sigma^2 = 2D/eta escapes the double well (x^2-1)^2/4 in the "
        "mean time of its SDE dX = -U'(X) dt + sqrt(2D) dB, within 25%, for D in {0.04, 0.05, 0.07, 0.1}."
    )
    history = (
        HistoryEntry(
            date="2026-12-06",
            version=2,
            change="one decision rule: 95% PASS interval, Bonferroni FAIL interval at family level 0.01 over the "
            "judged rows (was one t interval at Bonferroni family level 0.05); the effect restated at the FAIL level",
            reason="one rule for every claim",
            old_verdict="PASS",
            old_source="earlier run: commit 86a7d2f, profile standard, seed 20180330",
        ),
        HistoryEntry(
            date="2026-12-06",
            version=3,
            change="paper profile: 1,000 paths per cell instead of 2,000 (standard and quick unchanged)",
            reason="the paper profile runs the paper's claims at the paper's settings; this claim checks another "
            "paper's approximation and has no setting in this one, and its paper run (132 CPU-seconds) is halved so "
            "that the whole paper profile runs in 12 minutes on 2 cores; the ratio's interval is then about +-7%, "
            "against a band of +-25%",
            old_verdict="PASS",
            old_source="earlier run: commit ff87508, profile paper, seed 20180330",
        ),
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
            prm = {"D": D, "paths": n, "profile": profile}
            out.append(self.make_cell(f"alg=sgd/D={num(D)}", prm, seed, cost=cost))
            out.append(self.make_cell(f"alg=sde/D={num(D)}", prm, seed, cost=2 * cost))
        D = max(cfg["Ds"])
        prm = {"D": D, "paths": n, "profile": profile}
        out.append(self.make_cell(f"alg=sde-halving/D={num(D)}", prm, seed, cost=6 * n * quadrature(D) / ETA))
        return out

    def simulate_cell(self, cell):
        D, n = cell.params["D"], cell.params["paths"]
        if not cell.key.startswith("alg=sde-halving"):
            return {"t": _times(cell.key, D, n, cell.seed)}
        return {"coarse": _times(cell.key, D, n, cell.seed, SDE_DT, 2), "fine": _times(cell.key, D, n, cell.seed, SDE_DT / 2, 1)}  # fmt: skip

    def summarize(self, cell, data):
        if "t" in data:
            return _summary(np.asarray(data["t"], dtype=float))
        fine = np.asarray(data["fine"], dtype=float)
        diff = np.asarray(data["coarse"], dtype=float) - fine
        ok = np.isfinite(diff)
        return {**_summary(fine), "diff_mean": float(diff[ok].mean()), "diff_sd": float(diff[ok].std(ddof=1))}

    def predict(self, profile):
        return {D: quadrature(D) for D in _PROFILES[profile]["Ds"]}

    def measure(self, profile, seed, results, prediction):
        effect = _effect(profile)
        out = []
        for D, Tq in prediction.items():
            kr = kramers_time(0.25, 2.0, 1.0, D)
            out.append(measurement(f"mfpt_quadrature/D={num(D)}", Tq, judged=False, note="MFPT predicted: quadrature"))
            out.append(measurement(f"kramers_ratio/D={num(D)}", kr / Tq, prediction=1.0, judged=False,
                                   note=f"Kramers' formula {kr:.4g} / quadrature"))  # fmt: skip
            for alg in ("sgd", "sde"):
                s = results.get(f"alg={alg}/D={num(D)}")  # a mutant run simulates one cell
                if s is not None:
                    out.append(self._ratio(alg, D, Tq, s, _m(profile), effect))
        return out + self._halving(profile, results, prediction)

    def _ratio(self, alg, D, Tq, s, m, effect):
        def ci(level):  # t interval of the mean, divided by the prediction
            hw = _st.t.ppf(0.5 + level / 2, s["paths"] - 1) * s["sd"] / math.sqrt(s["paths"])
            return ((s["mean"] - hw) / Tq, (s["mean"] + hw) / Tq)

        return measurement(
            f"exit_time_ratio/alg={alg}/D={num(D)}", s["mean"] / Tq, ci(PASS_LEVEL), prediction=1.0, band=BAND,
            ci_fail=ci(fail_level(m)), n=s["paths"], effect=effect, diverged=s["censored"],
            note=f"mean passage time {s['mean']:.4g} over {s['paths']} paths / predicted MFPT {Tq:.4g}; {s['censored']} censored",
        )  # fmt: skip

    def _halving(self, profile, results, prediction):
        D = max(_PROFILES[profile]["Ds"])
        s = results.get(f"alg=sde-halving/D={num(D)}")
        if s is None:  # a mutant run
            return []
        se = s["diff_sd"] / math.sqrt(s["paths"])
        r = 1.0 + s["diff_mean"] / s["mean"]
        return [
            measurement(f"sde_halving/D={num(D)}", r, (r - 1.96 * se / s["mean"], r + 1.96 * se / s["mean"]), prediction=1.0,
                        judged=False, note=f"MFPT at dt={SDE_DT:g} / at dt={SDE_DT / 2:g}, same Brownian paths (1: the step does not matter)")
        ]  # fmt: skip

    # controls ----------------------------------------------------------------
    def families(self, profile):
        return {alg: (f"exit_time_ratio/alg={alg}/",) for alg in ("sgd", "sde")}

    def control_sources(self, profile):
        model = ControlSource(
            source="model",
            model="per-path passage times, exponential with mean r x the MFPT quadrature (Gardiner eq. 5.2.158), "
            "r set by the control (the escape over the barrier is close to a Poisson event, Kramers 1940); the "
            "halving cell's coarse times are the fine ones plus N(0, (0.01 T)^2)",
        )
        return model.for_every_kind()

    def control_data(self, cell, control, rng):
        D, n = cell.params["D"], cell.params["paths"]
        if cell.key.startswith("alg=sde-halving"):
            fine = rng.exponential(quadrature(D), n)
            return {"coarse": fine + 0.01 * quadrature(D) * rng.standard_normal(n), "fine": fine}
        alg = cell.key.split("/")[0].split("=")[1]
        r = control.truth(exact=1.0, band=BAND, effect=_effect(cell.params["profile"]), direction=1, family=alg)
        return {"t": rng.exponential(r * quadrature(D), n)}

    def mutants(self, profile):
        D = max(_PROFILES[profile]["Ds"])
        r = quadrature(D) / quadrature(2 * D)
        note = (
            f"the MFPT predicted at 2D (the SME's diffusion eta sigma^2 without its 1/2): at D = {D:g} the truth "
            f"lies at ratio {r:.3f} of the planted MFPT, above the band's edge {BAND[1]} by {r - BAND[1]:.3f} > the "
            f"effect {_effect(profile):.3f}; the mutant simulates the cell alg=sgd/D={num(D)} only"
        )
        return {"D=2D": Mutant(expect="FAIL", note=note)}

    def mutant_cells(self, profile, seed):
        return [c for c in self.cells(profile, seed) if c.key == f"alg=sgd/D={num(max(_PROFILES[profile]['Ds']))}"]

    def mutate(self, profile, name, prediction):
        return {D: quadrature(2 * D) for D in prediction}

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
