"""Claim ``verdict-calibration``: the verdict machinery tested on itself.

Samples are drawn *exactly* from a known law and fed to the same statistics the
claims use; over many independent replications we count wrong verdicts (size) and,
with the prediction off by a stated amount, right FAILs (power).

Equivalence test (:func:`diffapprox.stats.equivalence` on :func:`~diffapprox.stats.path_means_ci`)
    The setting of ``ou-optimum``'s stationary variance: ``PATHS`` independent
    stationary OU paths observed at ``RECORDS`` times with lag-one correlation
    ``PHI`` (the exact discretisation of an OU process, an AR(1) with stationary
    start, so every record is exactly N(0, v)); the estimate is the mean of x^2
    over paths and records, the CI the t interval across path means, the band the
    prediction ``1 +- BAND_R`` (v_pred = 1).
    *Size* is the rate of a verdict the truth does not support, for a truth placed
    where the verdict is hardest:

    * ``pass_rate/truth=upper_edge`` (and ``lower_edge``): true v = 1 +- BAND_R, on
      the band's edge, so "inside the band" is false-at-the-limit; PASS there needs
      the CI's far end to fall short of the truth, nominally (1 - level)/2 = 0.025
      (the two one-sided tests' size).
    * ``fail_rate/truth=prediction``: true v = v_pred; FAIL needs the CI to miss the
      truth entirely on one side, at most (1 - level)/2 = 0.025 nominally.

    *Power*: true v = 1.2 v_pred (variance +20%): the rate of FAIL.

Goodness of fit (:func:`diffapprox.stats.gof`: KS, AD, CvM, Holm at alpha = 0.05)
    n i.i.d. draws of a standardised coordinate, N(0, 1) exactly, tested against the
    N(0, 1) CDF: size is the FAIL rate (nominal alpha; Holm controls the family-wise
    rate at alpha), and each test's own rejection rate at alpha (nominal alpha; this
    checks the p-values, e.g. the Marsaglia AD formula).  Power: draws from
    N(0, 1.2) against N(0, 1), at ``GOF_N`` draws (the stated design) and, for
    information, at ``GOF_N_SMALL`` (a claim-sized sample).

Which measurements are combined into the verdict: the sizes and powers of the
verdict rules the claims use (equivalence; ``gof`` with Holm).  Each single test's
own size (KS, AD, CvM alone) is reported as a diagnostic of its p-values but not
combined: with six of them, each judged at nominal + 2 SE, a perfectly calibrated
set would still FAIL one of them about 1 time in 8 (a quick run did, CvM at 0.09
with 200 replications, while 1500 replications gave 0.053 +- 0.006).

Targets, fixed before measuring: a size measurement PASSes when the rate
is <= nominal + 2 SE with SE = sqrt(nominal (1 - nominal) / reps), else FAILs; a
power measurement PASSes when the rate is >= 0.9, else FAILs.  Rates are shown with
95% Wilson intervals.  Replications are split into cells of ``CHUNK`` seeds.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy.signal import lfilter
from scipy.stats import norm

from diffapprox import Claim, ClaimOutput, Measurement, Verdict
from diffapprox import stats as S
from diffapprox import Cell

from ._common import save_figure

LEVEL = 0.95
ALPHA = 0.05
BAND_R = 0.10
EFFECT = 0.20  # variance +20%
POWER_TARGET = 0.9
PATHS = 200
RECORDS = 200
PHI = 0.8  # lag-one autocorrelation of the records
GOF_N = 2000
GOF_N_SMALL = 200
EQUIV_TRUTHS = {"upper_edge": 1 + BAND_R, "lower_edge": 1 - BAND_R, "prediction": 1.0, "effect": 1 + EFFECT}

_PROFILES = {
    "quick": {"reps": 200, "chunk": 100},
    "standard": {"reps": 2000, "chunk": 250},
    "paper": {"reps": 10000, "chunk": 500},
}


def stationary_ou(rng: np.random.Generator, paths: int, records: int, phi: float, var: float) -> np.ndarray:
    """Exact stationary OU records, shape (paths, records): x_0 ~ N(0, var),
    x_k = phi x_{k-1} + sqrt(var (1 - phi^2)) xi_k (exact transition of the OU
    process over one record interval)."""
    e = rng.standard_normal((paths, records))
    e[:, 0] *= math.sqrt(var)
    e[:, 1:] *= math.sqrt(var * (1 - phi * phi))
    return lfilter([1.0], [1.0, -phi], e, axis=1)


def _size_verdict(k: int, n: int, nominal: float) -> tuple[Verdict, tuple[float, float]]:
    limit = nominal + 2 * math.sqrt(nominal * (1 - nominal) / n)
    return (Verdict.PASS if k / n <= limit else Verdict.FAIL), (0.0, limit)


class VerdictCalibration(Claim):
    id = "verdict-calibration"
    order = 10
    paper_ref = "method (equivalence and goodness-of-fit rules); Theorem 3.5 / eq. (3.3) setting"
    statement = (
        "Fed exact samples from the prediction, the equivalence and goodness-of-fit verdicts err at about "
        "their nominal rate; fed a prediction off by variance +20%, they FAIL with power >= 0.9."
    )
    uncalibrated = (
        "calibrates the equivalence and distance rules themselves on exact samples: its measurements are "
        "the size and power of those rules, so diffapprox calibrate does not calibrate it"
    )

    def parameters(self, profile: str) -> dict:
        p = _PROFILES[profile]
        return {
            "replications": p["reps"],
            "chunk": p["chunk"],
            "ci_level": LEVEL,
            "alpha": ALPHA,
            "band": f"prediction*(1 +- {BAND_R})",
            "effect": f"variance +{EFFECT:.0%}",
            "paths": PATHS,
            "records": RECORDS,
            "lag_one_correlation": PHI,
            "gof_n": GOF_N,
            "gof_n_small": GOF_N_SMALL,
            "gof_tests": "KS, AD, CvM (Holm)",
            "targets": f"size <= nominal + 2 SE; power >= {POWER_TARGET}",
        }

    def cells(self, profile: str, seed: int) -> list[Cell]:
        p = _PROFILES[profile]
        n_chunks = -(-p["reps"] // p["chunk"])
        out = []
        for i in range(n_chunks):
            reps = min(p["chunk"], p["reps"] - i * p["chunk"])
            out.append(self.make_cell(f"chunk={i:03d}", {"reps": reps}, seed, cost=float(reps)))
        return out

    def run_cell(self, cell: Cell) -> dict:
        rng = np.random.default_rng(cell.seed)
        reps = int(cell.params["reps"])
        band = S.relative_band(1.0, BAND_R)
        equiv = {t: {v.value: 0 for v in Verdict} for t in EQUIV_TRUTHS}
        gof = {
            f"n={n}/{h}": {"KS": 0, "AD": 0, "CvM": 0, "holm": 0}
            for n in (GOF_N, GOF_N_SMALL)
            for h in ("null", "effect")
        }
        for _ in range(reps):
            for t, var in EQUIV_TRUTHS.items():
                x = stationary_ou(rng, PATHS, RECORDS, PHI, var)
                e = S.path_means_ci(x * x, LEVEL)
                equiv[t][S.equivalence(e.estimate, e.ci, band).value] += 1
            for n in (GOF_N, GOF_N_SMALL):
                for h, sd in (("null", 1.0), ("effect", math.sqrt(1 + EFFECT))):
                    r = S.gof(sd * rng.standard_normal(n), norm.cdf, alpha=ALPHA)
                    c = gof[f"n={n}/{h}"]
                    for tst in r.tests:
                        c[tst.name] += int(tst.pvalue < ALPHA)
                    c["holm"] += int(r.verdict is Verdict.FAIL)
        return {"reps": reps, "equivalence": equiv, "gof": gof}

    def finish(self, profile: str, seed: int, results: dict[str, dict], figdir: Path) -> ClaimOutput:
        n = sum(r["reps"] for r in results.values())
        equiv = {
            t: {v.value: sum(r["equivalence"][t][v.value] for r in results.values()) for v in Verdict}
            for t in EQUIV_TRUTHS
        }
        gkeys = next(iter(results.values()))["gof"].keys()
        gof = {
            g: {k: sum(r["gof"][g][k] for r in results.values()) for k in ("KS", "AD", "CvM", "holm")} for g in gkeys
        }
        nominal_eq = (1 - LEVEL) / 2
        ms: list[Measurement] = []

        def size(name, k, nominal, note, judged=True):
            v, tol = _size_verdict(k, n, nominal)
            ms.append(
                S.measurement(
                    name,
                    S.proportion_ci(k, n, LEVEL),
                    prediction=nominal,
                    band=tol,
                    verdict=v,
                    judged=judged,
                    note=f"{note}; PASS if rate <= nominal + 2 SE = {tol[1]:.4f}",
                )
            )

        def power(name, k, note, judged=True):
            v = Verdict.PASS if k / n >= POWER_TARGET else Verdict.FAIL
            ms.append(
                S.measurement(
                    name,
                    S.proportion_ci(k, n, LEVEL),
                    prediction=None,
                    band=(POWER_TARGET, 1.0),
                    verdict=v,
                    judged=judged,
                    note=f"{note}; PASS if rate >= {POWER_TARGET}",
                )
            )

        setting = f"{PATHS} stationary OU paths x {RECORDS} records, lag-1 corr {PHI}, band 1 +- {BAND_R}"
        for side in ("upper_edge", "lower_edge"):
            size(
                f"equivalence/pass_rate/truth={side}",
                equiv[side]["PASS"],
                nominal_eq,
                f"PASS rate with the true variance on the band's {side.replace('_', ' ')}; {setting}",
            )
        size(
            "equivalence/fail_rate/truth=prediction",
            equiv["prediction"]["FAIL"],
            nominal_eq,
            f"FAIL rate with the true variance equal to the prediction; {setting}",
        )
        k = equiv["prediction"]["PASS"]
        ms.append(
            S.measurement(
                "equivalence/pass_rate/truth=prediction",
                S.proportion_ci(k, n, LEVEL),
                judged=False,
                verdict=Verdict.INCONCLUSIVE,
                note=f"how often a true prediction is confirmed (context, no target); {setting}",
            )
        )
        power(
            f"equivalence/power/variance+{EFFECT:.0%}",
            equiv["effect"]["FAIL"],
            f"FAIL rate with the true variance {1 + EFFECT:g} x prediction; {setting}",
        )
        for g_n in (GOF_N, GOF_N_SMALL):
            c0, c1 = gof[f"n={g_n}/null"], gof[f"n={g_n}/effect"]
            for tst in ("KS", "AD", "CvM"):
                size(
                    f"gof/size/test={tst}/n={g_n}",
                    c0[tst],
                    ALPHA,
                    f"rejection rate (p < {ALPHA}) of {tst} alone, {g_n} exact N(0,1) draws against N(0,1) "
                    "(diagnostic of the p-values; not combined)",
                    judged=False,
                )
            size(
                f"gof/size/holm/n={g_n}",
                c0["holm"],
                ALPHA,
                f"gof() FAIL rate (Holm over KS, AD, CvM), {g_n} exact N(0,1) draws",
            )
            power(
                f"gof/power/variance+{EFFECT:.0%}/n={g_n}",
                c1["holm"],
                f"gof() FAIL rate, {g_n} draws of N(0,{1 + EFFECT:g}) against N(0,1)"
                + ("" if g_n == GOF_N else " (context: a claim-sized sample; not combined)"),
                judged=(g_n == GOF_N),
            )

        findings = []
        small = next(m for m in ms if m.name == f"gof/power/variance+{EFFECT:.0%}/n={GOF_N_SMALL}")
        findings.append(
            f"With {GOF_N_SMALL} draws the GOF tests detect a +{EFFECT:.0%} variance error only "
            f"{small.estimate:.0%} of the time: distributional PASS verdicts at claim-sized samples say little "
            f"about the scale; the variance equivalence test is the sharper check."
        )
        holm_size = next(m for m in ms if m.name == f"gof/size/holm/n={GOF_N}")
        big = next(m for m in ms if m.name == f"gof/power/variance+{EFFECT:.0%}/n={GOF_N}")
        findings.append(
            f"Holm across KS, AD and CvM (strongly correlated tests) is conservative: FAIL rate under the null "
            f"{holm_size.estimate:.3f} against nominal {ALPHA}; at n={GOF_N} its power against variance "
            f"+{EFFECT:.0%} is {big.estimate:.3f} [{big.ci[0]:.3f}, {big.ci[1]:.3f}] (target {POWER_TARGET})."
        )
        figures = _figure(ms, figdir)
        return ClaimOutput(measurements=ms, figures=figures, findings=findings, parameters={"replications_run": n})


def _figure(ms: list[Measurement], figdir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(8.5, 0.32 * len(ms) + 1.8))
    y = np.arange(len(ms))[::-1]
    for yi, m in zip(y, ms):
        color = {"PASS": "tab:green", "FAIL": "tab:red"}.get(m.verdict.value, "tab:gray")
        ax.errorbar(
            m.estimate,
            yi,
            xerr=[[max(m.estimate - m.ci[0], 0.0)], [max(m.ci[1] - m.estimate, 0.0)]],
            fmt="o",
            color=color,
            mfc=color if m.judged else "white",
            capsize=2,
        )
        if m.tolerance is not None:
            lo, hi = m.tolerance
            ax.plot([lo, hi], [yi, yi], color=color, alpha=0.25, lw=6, solid_capstyle="butt")
    ax.axvline(ALPHA, color="0.5", lw=0.7, ls=":")
    ax.axvline(POWER_TARGET, color="0.5", lw=0.7, ls=":")
    ax.set_yticks(y, [m.name + ("" if m.judged else "  (context)") for m in ms], fontsize=7)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel(
        f"rate over replications (95% Wilson CI)\ndotted: alpha = {ALPHA:g} and power target {POWER_TARGET:g}",
        fontsize=9,
    )
    ax.legend(
        [
            Line2D([], [], color="tab:green", marker="o", ls="none"),
            Line2D([], [], color="tab:red", marker="o", ls="none"),
            Line2D([], [], color="tab:gray", marker="o", ls="none"),
            Line2D([], [], color="0.4", marker="o", mfc="white", ls="none"),
            Line2D([], [], color="0.4", alpha=0.3, lw=6),
        ],
        ["PASS", "FAIL", "INCONCLUSIVE", "hollow: context, not combined", "accepted range"],
        fontsize=7,
        loc="center",
        bbox_to_anchor=(0.6, 0.5),
    )
    fig.suptitle(
        f"{VerdictCalibration.id} \u2014 {VerdictCalibration.paper_ref}\n"
        "verdict machinery: size = samples drawn from the prediction,\n"
        "power = a prediction off by +20% variance",
        fontsize=9,
    )
    fig.tight_layout()
    return save_figure(fig, figdir, "rates")
