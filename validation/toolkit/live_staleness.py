"""Claim ``live-staleness``: real asynchrony on a Dask parameter server (beyond the paper).

The paper *models* asynchrony as a delay tau_k (Section 1's parameter server; eq. 2.1).
Here a live parameter server (:func:`diffapprox.live`) with M Dask workers produces
its own staleness, and the claim asks three things (rule version 5; the earlier rules are
kept as context rows, see ``history``):

(a) Is the measured staleness distributed as the ``workers:M`` queue law (exponential compute
    times, instantaneous server: stationary law geometric with mean M - 1), or rather as a
    constant delay M - 1?  The law's premise is that compute time dominates (an instantaneous
    server and memoryless cycles); each worker measures its own latency (time per task outside
    the compute pause), and the claim runs two regimes: ``compute`` (25 ms mean compute, judged
    when the measured compute/latency ratio is >= :data:`PREMISE_RATIO`, INCONCLUSIVE below it;
    the ratio is reported either way) and ``latency`` (no compute pause; context).
    Statistic: total-variation distance between the empirical pmf and the law minus its
    finite-sample floor (:func:`diffapprox.stats.excess_tv`, block-bootstrap CI: the trace is
    autocorrelated), band [-0.1, 0.1], effect from the TV's spread over traces of the law
    itself.  The *mean* staleness is M - 1 for any server (each update is seen by the M - 1
    other in-flight reads), so only the shape can tell the laws apart.
(b) Does the live error match the simulator replaying the measured trace
    (``simulate(..., delay=trace_delay(trace))``)?  Statistic: the run's mean error over the
    last third of the run; its CI is the replay's predictive spread around the one live value
    (:func:`diffapprox.stats.one_draw_ci`), against the replay's median +- :data:`REPLAY_TOLERANCE`
    (relative).  Context since version 6: one live run is one draw, and the replay's predictive
    range (0.5 to 5 times the median wide) is never narrower than +-25%.  Deciding at +-25% needs
    the mean of about :data:`WINDOWS_TO_DECIDE` independent live runs per configuration (the
    replay's planned spread, sd/median about 0.4 at mu = 0.5: ((1.96 + 0.84) 0.4 / 0.25)^2 = 20),
    about 200 live runs at ``standard`` against a budget of one per configuration.
(c) Does the momentum-asynchrony tradeoff of ``figure1`` appear: does going from M = 1 to
    M = 8 workers raise the stationary error more at mu = 0.9 than at mu = 0.5?  Contrast of
    the four live window means, standard errors from the replay spread, band [0, inf).

Judged rows follow the one decision rule: PASS when the 95% interval lies inside the band, FAIL
when the Bonferroni interval over the judged rows (family level 0.01) lies outside.  Real runs
are not reproducible (the OS and Dask decide the interleaving): a baseline compares only the
claim's presence.  Each cell stores its trace, so (b) can be re-run exactly from the results.

Controls (a stated model; the live server has no exact sampler): each run's trace is drawn from the
workers:M law with a share of the delays replaced by M - 1 (excess TV set by the control), its live
error series and every replay path's error series are flat at draws around the planned window means
(:data:`PLAN_WINDOW`), the tradeoff contrast set by the control; the claim's own cell code
(:meth:`LiveStaleness.summarize`: the replay's quantile curves and window means) and measure run on
them.  No mutant: the live server is not reproducible, and a run costs minutes.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from diffapprox import Claim, Findings, HistoryEntry, Measurement, Verdict, derive_seed, stats

from .. import _common as cm

SPECTRUM = cm.SPECTRUM
#: Step size, fixed from theory before measuring: the exact linear-stability limit of the
#: radial mode at eta = 0.004, lambda1 = 4 is 23 for mu = 0.5 (above M - 1 = 7) and 3 for
#: mu = 0.9 (below 7), and K of a few thousand updates reaches stationarity from the saddle e2
#: at mu = 0.5.
ETA = 0.004
MU_LO, MU_HI = 0.5, 0.9
#: Regimes, by the mean compute time of a worker task (seconds, the same for every M so the
#: ratio compute / latency does not depend on M).  The measured per-task latency (push round trip
#: + arithmetic + sleep overshoot + thread scheduling) of the actor server on a local threads
#: cluster is ~0.3-0.5 ms at M = 1 and ~1-3.5 ms at M = 4-8 on two busy cores.
#: ``compute``: 25 ms, >= 10x that latency -- the premise of the workers:M law (exponential
#: compute times, instantaneous server).  ``latency``: no compute pause at all -- the cycle is the
#: latency alone, the staleness shape is the system's, and no law is claimed (context only).
REGIMES = {"latency": 0.0, "compute": 0.025}
#: Part (a) is judged only on runs whose *measured* compute / latency ratio is at least this.
PREMISE_RATIO = 10.0
#: Equivalence band (fixed before the runs) for the *excess* TV distance between the measured
#: staleness pmf and workers:M (TV minus its finite-sample floor).
TV_BAND = (-0.10, 0.10)
#: Rule version 1's band for the raw TV distance (context).
TV_BAND_RULE1 = (0.0, 0.10)
#: Part (b): the live window mean must lie within +-25% of the replay's median.
REPLAY_TOLERANCE = 0.25
#: Independent live runs per configuration that would decide (b) at +-25% (see the module docstring).
WINDOWS_TO_DECIDE = 20
#: Rule version 3's alpha of the Holm-adjusted rank test (context).
ALPHA = 0.05
LEVEL = 0.95
N_BLOCKS = 20
#: Traces drawn from the workers:M law itself for the TV floor and the TV's planned spread: a
#: property of the law and the trace length, drawn once from this fixed seed (not the run's).
PLANNING_SEED = 20260611
#: Burn-in of the law's own traces (the queue starts with every worker reading h_0).
BURN = 1000

_C, _L = "compute", "latency"
#: Runs: (mu, M, slow_factor, regime[, updates]); ``updates`` overrides the profile's ``steps``
#: (compute-regime runs at small M are slow: 1500 updates at M = 2 take ~20 s).
_PROFILES = {
    # quick checks structure only: short runs, one run per role ((a) in both regimes, (c)'s corners); 500
    # replay paths so that the predictive range at the row level is not too narrow (calibrated).
    "quick": {
        "steps": 300,
        "record_every": 10,
        "paths": 500,
        "n_boot": 300,
        "n_null": 100,
        "runs": [
            (MU_LO, 1, 1.0, _L),
            (MU_HI, 1, 1.0, _L),
            (MU_LO, 8, 1.0, _L),
            (MU_LO, 8, 1.0, _C),
            (MU_HI, 8, 1.0, _C),
        ],
    },
    "standard": {
        "steps": 3000,
        "record_every": 10,
        "paths": 500,
        "n_boot": 1000,
        "n_null": 200,
        "runs": [(MU_LO, 1, 1.0, _L), (MU_HI, 1, 1.0, _L)]
        + [(MU_LO, m, 1.0, _L) for m in (2, 4, 8)]
        + [
            (MU_LO, 2, 1.0, _C, 1500),
            (MU_LO, 4, 1.0, _C),
            (MU_LO, 8, 1.0, _C),
            (MU_HI, 8, 1.0, _C),
            (MU_LO, 4, 4.0, _C, 1500),
        ],
    },
    "paper": {
        "steps": 10000,
        "record_every": 20,
        "paths": 1000,
        "n_boot": 2000,
        "n_null": 400,
        "runs": [(mu, 1, 1.0, _L) for mu in (MU_LO, MU_HI)]
        + [(MU_LO, m, 1.0, _L, 3000) for m in (2, 4, 8)]
        + [(mu, m, 1.0, _C) for mu in (MU_LO, MU_HI) for m in (2, 4, 8)]
        + [(MU_LO, 4, 4.0, _C), (MU_LO, 8, 4.0, _C)],
    },
}
#: The four runs of part (c) and their signs in the contrast.
TRADEOFF = {(MU_HI, 8): 1.0, (MU_HI, 1): -1.0, (MU_LO, 8): -1.0, (MU_LO, 1): 1.0}
#: Planning values of the synthetic controls: mean and sd of a run's window-mean error over a
#: 1000-update window, by momentum, from the 500 replay paths of the standard run of rule
#: version 3 (seed 20180330): mu = 0.5: 0.072-0.079, sd 0.027-0.048; mu = 0.9, M = 1: 0.35, sd 0.067.
PLAN_WINDOW = {0.5: (0.075, 0.03), 0.9: (0.35, 0.067)}


def _runs(profile: str) -> list[tuple]:
    """(mu, M, slow, regime, updates) of every run of the profile."""
    p = _PROFILES[profile]
    return [(r + (p["steps"],))[:5] for r in p["runs"]]


def _key(mu: float, m: int, slow: float, regime: str) -> str:
    return f"regime={regime}/" + cm.tag(mu=mu, M=m, slow=slow)


def _judged_runs(profile: str) -> tuple[list[tuple], bool]:
    """Runs with a judged staleness row (compute regime, M > 1), and whether part (c) is judged."""
    runs = _runs(profile)
    corners = {(mu, m) for mu, m, s, g, _ in runs if s == 1.0 and (m == 1 or g == _C)}
    return [x for x in runs if x[3] == _C and x[1] > 1], set(TRADEOFF) <= corners


def n_judged(profile: str) -> int:
    """Judged rows of a profile, fixed by its runs: (a) per compute run, (c) once ((b) is context)."""
    stale, tradeoff = _judged_runs(profile)
    return len(stale) + int(tradeoff)


def _fail_level(profile: str) -> float:
    return stats.fail_level(max(1, n_judged(profile)))


def stationary_from(steps: int) -> int:
    """First update index of the window the stationary statistics use (last third)."""
    return (2 * steps) // 3


def _window_stat(error: np.ndarray, times: np.ndarray, k0: int) -> np.ndarray:
    """Mean error over records with k >= k0; works on (n_rec,) or (paths, n_rec)."""
    return np.asarray(error)[..., times >= k0].mean(axis=-1)


def _live_window(r: dict) -> float:
    times = np.asarray(r["times"])
    return float(_window_stat(np.asarray(r["error"]), times, stationary_from(int(times[-1]))))


def law_of(m: int, slow: float) -> tuple[str, np.ndarray]:
    """The workers:M law of a run (worker 0 ``slow`` times slower): its spec and stationary pmf."""
    from diffapprox.engine import staleness_pmf

    rates = np.ones(m)
    rates[0] = 1.0 / slow
    spec = f"workers:{m}" if slow == 1.0 or m == 1 else f"workers:{m}@" + ",".join(f"{x:g}" for x in rates)
    return spec, staleness_pmf(m, rates)


@functools.lru_cache(maxsize=64)
def null_traces(spec: str, n: int, reps: int) -> tuple[np.ndarray, ...]:
    """``reps`` traces of length ``n`` drawn from the delay law ``spec`` after :data:`BURN` updates."""
    from diffapprox.engine import delay_law

    law = delay_law(spec)
    rng = np.random.default_rng(derive_seed(PLANNING_SEED, "null-traces", spec, n))
    return tuple(np.asarray(law.sample(n + BURN, rng), dtype=np.int64)[BURN:] for _ in range(reps))


@functools.lru_cache(maxsize=64)
def tv_effect(m: int, slow: float, n: int, reps: int, level: float) -> float:
    """Detectable excess TV of a trace of length ``n``, planned on ``reps`` traces of the law itself.

    ``floor_b + detectable_effect(sd_b)``, with ``floor_b`` and ``sd_b`` the median and sd of the TV
    of one block resample of each trace.  For a law at TV t from workers:M the plug-in TV is about
    t (its upward bias fades once t dominates the noise) and the block bootstrap's replicates
    spread by about ``sd_b``; the excess TV's CI subtracts ``floor_b`` from them, so its lower end
    clears the band's edge with probability about 0.8 once t exceeds the edge by this much.
    """
    spec, pmf = law_of(m, slow)
    rng = np.random.default_rng(derive_seed(PLANNING_SEED, "effect", spec, n))
    resampled = [_one_block_resample(x, rng) for x in null_traces(spec, n, reps)]
    tv = stats.tv_distances(resampled, pmf)
    return float(np.median(tv)) + stats.detectable_effect(float(np.std(tv, ddof=1)), level=level)


def _one_block_resample(trace: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    b = trace.size // N_BLOCKS
    blocks = trace[trace.size - b * N_BLOCKS :].reshape(N_BLOCKS, b)
    return blocks[rng.integers(0, N_BLOCKS, N_BLOCKS)].ravel()


def _excess(trace: np.ndarray, pmf: np.ndarray, null, n_boot: int, level: float, seed: int) -> stats.Estimate:
    return stats.excess_tv(trace, pmf, null, n_blocks=N_BLOCKS, n_boot=n_boot, level=level, seed=seed)


# ----------------------------------------------------------------------------- (a) staleness


def _staleness_rows(run: tuple, r: dict, pr: dict, level: float, seed: int) -> list[Measurement]:
    """(a) for one run: excess TV (judged in the compute regime), and context rows."""
    mu, m, s, g, _ = run
    name = _key(mu, m, s, g)
    spec, pmf = law_of(m, s)
    tr = np.asarray(r["trace"], dtype=np.int64)[m:]  # drop the start: all first reads see version 0
    if m == 1 or tr.size < 2 * N_BLOCKS:
        return []
    null = null_traces(spec, tr.size, pr["n_null"])
    bseed = derive_seed(seed, "live-staleness", "bootstrap-workers", name)
    est = _excess(tr, pmf, null, pr["n_boot"], stats.PASS_LEVEL, bseed)
    ratio = float(r.get("compute_ratio", math.nan))
    note = f"vs {spec}; {tr.size} updates; measured compute/latency ratio {ratio:.1f}"
    gate = {
        "judged": g == _C,
        "effect": tv_effect(m, s, tr.size, pr["n_null"], level) if g == _C else None,
        "ci_fail": _excess(tr, pmf, null, pr["n_boot"], level, bseed) if g == _C else None,
    }
    if g == _C and not ratio >= PREMISE_RATIO:
        gate["verdict"] = Verdict.INCONCLUSIVE
        note += f"; premise not met (ratio < {PREMISE_RATIO:g}): INCONCLUSIVE"
    elif g == _L:
        note += "; latency-dominated: the workers:M law's premise (compute >> latency) does not hold (context)"
    rows = [stats.measurement(f"staleness_tv_workers/{name}", est, prediction=0.0, band=TV_BAND, note=note, **gate)]
    return rows + _staleness_context(name, m, tr, pmf, ratio, pr, seed)


def _tv_boot(tr: np.ndarray, pmf: np.ndarray, pr: dict, seed: int) -> stats.Estimate:
    return stats.block_bootstrap_tv(tr, pmf, n_blocks=N_BLOCKS, n_boot=pr["n_boot"], level=LEVEL, seed=seed)


def _staleness_context(
    name: str, m: int, tr: np.ndarray, pmf: np.ndarray, ratio: float, pr: dict, seed: int
) -> list[Measurement]:
    """Rule version 1's raw TV, the TV to a constant delay, the mean, and the regime gate's ratio."""
    const = np.zeros(m)
    const[m - 1] = 1.0
    raw = _tv_boot(tr, pmf, pr, derive_seed(seed, "live-staleness", "bootstrap-raw", name))
    to_const = _tv_boot(tr, const, pr, derive_seed(seed, "live-staleness", "bootstrap-const", name))
    return [
        stats.measurement(
            f"staleness_tv_raw/{name}",
            raw,
            prediction=0.0,
            band=TV_BAND_RULE1,
            judged=False,
            note="rule version 1 (context): raw TV to workers:M, 95% block bootstrap, band [0, 0.1]",
        ),
        stats.measurement(
            f"staleness_tv_const/{name}", to_const, judged=False, note=f"raw TV distance to const:{m - 1} (context)"
        ),
        stats.measurement(
            f"staleness_mean/{name}",
            float(tr.mean()),
            prediction=float(m - 1),
            judged=False,
            note="M - 1 for any server (each update is seen by the M-1 other reads)",
        ),
        stats.measurement(
            f"regime_ratio/{name}",
            ratio,
            (ratio, ratio),
            band=(PREMISE_RATIO, math.inf),
            judged=False,
            note="measured mean compute time / per-task latency: the regime gate of (a), reported either way "
            "(PASS: met; the gate applies to the measured value, so no CI)",
        ),
    ]


# ----------------------------------------------------------------------------- (b) live vs replay


def _replay_rows(names: list[str], results: dict, level: float) -> list[Measurement]:
    """(b) per run: the live window mean against the replay's median +- REPLAY_TOLERANCE; rule version 3 as context."""
    rows, pvals = [], []
    for name in names:
        r = results[name]
        live_stat, sim = _live_window(r), np.asarray(r["sim"]["window_stat"], dtype=float)
        med = float(np.median(sim))
        note = (
            f"live mean error over the last third vs {sim.size} simulated paths replaying its trace "
            f"(diverged: live {bool(r['diverged'])}, replay {r['sim']['diverged']}/{r['sim']['paths']}); "
            f"band: replay median +-{REPLAY_TOLERANCE:.0%}; context: one live run cannot decide it (about "
            f"{WINDOWS_TO_DECIDE} independent live runs per configuration would)"
        )
        rows.append(
            stats.measurement(
                f"live_vs_replay/{name}",
                stats.one_draw_ci(live_stat, sim, level),
                prediction=med,
                band=stats.relative_band(med, REPLAY_TOLERANCE),
                judged=False,
                diverged=int(bool(r["diverged"])),
                note=note,
            )
        )
        pvals.append(_rank_p(live_stat, sim))
    return rows + _rank_rows(names, results, pvals)


def _rank_p(x: float, sim: np.ndarray) -> float:
    """Two-sided Monte Carlo rank p-value of ``x`` among ``sim``."""
    lo, hi = int(np.sum(sim <= x)), int(np.sum(sim >= x))
    return min(1.0, 2.0 * min(lo + 1, hi + 1) / (sim.size + 1))


def _rank_rows(names: list[str], results: dict, pvals: list[float]) -> list[Measurement]:
    """Rule version 3 (context): FAIL if the Holm-adjusted rank p-value < ALPHA, else PASS."""
    out = []
    for name, p, pa in zip(names, pvals, stats.holm(pvals) if pvals else []):
        sim = np.asarray(results[name]["sim"]["window_stat"], dtype=float)
        q = (float(np.quantile(sim, 0.025)), float(np.quantile(sim, 0.975)))
        out.append(
            stats.measurement(
                f"live_vs_replay_rank/{name}",
                _live_window(results[name]),
                q,
                prediction=float(np.median(sim)),
                verdict=Verdict.FAIL if pa < ALPHA else Verdict.PASS,
                judged=False,
                note=f"rule version 3 (context): ci = the replay's 95% range; rank p = {p:.3g}, Holm-adjusted {pa:.3g}",
            )
        )
    return out


# ----------------------------------------------------------------------------- (c) tradeoff


def _tradeoff_rows(corners: dict[tuple, dict], level: float) -> list[Measurement]:
    """(c): D = [E(0.9,8) - E(0.9,1)] - [E(0.5,8) - E(0.5,1)] live, SEs from the replays; context rows."""
    keys = list(TRADEOFF)
    coef = [TRADEOFF[k] for k in keys]
    live = [_live_window(corners[k]) for k in keys]
    ses = [float(np.std(corners[k]["sim"]["window_stat"], ddof=1)) for k in keys]
    est = stats.contrast_ci(live, ses, coef, stats.PASS_LEVEL)
    se = math.sqrt(sum(x * x for x in ses))
    parts = ", ".join(f"E(mu={k[0]:g},M={k[1]})={v:.4f}" for k, v in zip(keys, live))
    replay = sum(c * float(np.mean(corners[k]["sim"]["window_stat"])) for c, k in zip(coef, keys))
    return [
        stats.measurement(
            "tradeoff/live",
            est,
            band=(0.0, math.inf),
            ci_fail=stats.contrast_ci(live, ses, coef, level),
            effect=stats.detectable_effect(se, level=level),
            note="D = rise of the stationary error from M=1 to M=8 at mu=0.9 minus that at mu=0.5 (live; > 0: the "
            f"tradeoff appears); each run's SE = the sd of its replay's window means; {parts}",
        ),
        _batch_means_row(corners, keys, coef),
        stats.measurement("tradeoff/replay", replay, judged=False, note="the same D from the replay means"),
    ]


def _batch_means_row(corners: dict, keys: list, coef: list) -> Measurement:
    """Rule version 3 (context): the contrast with batch-means SEs (10 batches of each live window)."""
    from scipy import stats as sst

    est, var = 0.0, 0.0
    for c, k in zip(coef, keys):
        times = np.asarray(corners[k]["times"])
        w = np.asarray(corners[k]["error"])[times >= stationary_from(int(times[-1]))]
        bm = w[w.size % 10 :].reshape(10, -1).mean(axis=1)
        est, var = est + c * float(w.mean()), var + float(bm.var(ddof=1) / 10)
    h = float(sst.t.ppf((1 + LEVEL) / 2, 9)) * math.sqrt(var)
    return stats.measurement(
        "tradeoff_batch_means/live",
        est,
        (est - h, est + h),
        band=(0.0, math.inf),
        judged=False,
        note="rule version 3 (context): batch-means CI (10 batches per window, t with 9 dof)",
    )


# ----------------------------------------------------------------------------- controls


def _control_run(profile: str, params: dict, control, rng: np.random.Generator) -> dict:
    """One run's per-update and per-record arrays under ``control`` (the stated model of the module docstring).

    The trace follows the workers:M law with a share of its delays replaced by M - 1, so that its
    excess TV is the control's truth for the staleness row; the live error series and each replay
    path's series are flat at draws around :data:`PLAN_WINDOW`, the (0.9, 8) centre moved so that the
    tradeoff contrast is the control's truth for the tradeoff row (0 in the model's exact world).
    """
    from diffapprox.engine import delay_law

    mu, m, s, g, k = params["mu"], params["M"], params["slow"], params["regime"], params["steps"]
    pr, level = _PROFILES[profile], _fail_level(profile)
    spec, pmf = law_of(m, s)
    trace = np.asarray(delay_law(spec).sample(k, rng), dtype=np.int64)
    if m > 1 and g == _C:
        tv = control.truth(
            exact=0.0, band=TV_BAND, effect=tv_effect(m, s, k - m, pr["n_null"], level), direction=1, family="staleness"
        )
        trace[rng.random(k) < max(0.0, tv) / (1.0 - pmf[m - 1])] = m - 1
    centre, sd = _planned_window(profile, mu, k)
    if (mu, m) == (MU_HI, 8):
        centre += control.truth(
            exact=0.0, band=(0.0, math.inf), effect=_contrast_effect(profile), direction=-1, family="tradeoff"
        )
    times = np.arange(0, k + 1, pr["record_every"])
    live = centre + sd * rng.standard_normal()
    serr = np.repeat(rng.normal(centre, sd, pr["paths"])[:, None], times.size, axis=1)
    return _run_arrays(trace, times, np.full(times.size, live), 2 * PREMISE_RATIO if g == _C else 0.0, serr)


def _run_arrays(trace, times, error, ratio: float, serr) -> dict:
    """The per-run arrays the cell code consumes (what simulate_cell returns; it fills in the live run's record,
    divergence and measured latency, which the model sets to none, no and compute / (2 x the premise ratio))."""
    return {
        "trace": np.asarray(trace, dtype=np.int64),
        "times": np.asarray(times),
        "error": np.asarray(error, dtype=float),
        "diverged": False,
        "compute_ratio": float(ratio),
        "overhead_s": REGIMES[_C] / (2 * PREMISE_RATIO),
        "replay_error": np.asarray(serr, dtype=float),
        "replay_steps_at": np.asarray(times),
        "replay_diverged": np.zeros(np.asarray(serr).shape[0], dtype=bool),
        "record": {},
    }


def _contrast_effect(profile: str) -> float:
    """The tradeoff contrast's effect at the FAIL level, from the planned window sds of its four runs."""
    steps = _PROFILES[profile]["steps"]
    sds = [PLAN_WINDOW[x][1] * math.sqrt(1000.0 / (steps - stationary_from(steps))) for x, _ in TRADEOFF]
    return stats.detectable_effect(math.sqrt(sum(x * x for x in sds)), level=_fail_level(profile))


def _planned_window(profile: str, mu: float, k: int) -> tuple[float, float]:
    """Centre and sd of a run's window-mean error in the model (sd scaled to the window's length)."""
    centre, sd = PLAN_WINDOW[mu]
    return centre, sd * math.sqrt(1000.0 / (k - stationary_from(k)))


# ----------------------------------------------------------------------------- the claim


class LiveStaleness(Claim):
    id = "live-staleness"
    about = "toolkit"
    order = 150
    paper_ref = "Section 1 (parameter server), eq. (2.1); beyond the paper"
    statement = (
        "On a real asynchronous parameter server (Dask, M workers with exponential compute "
        "times) the staleness follows the workers:M queue law (not a constant M-1 delay), the "
        "error trajectory matches the simulator replaying the measured staleness, and more "
        "workers hurt more with more momentum (the figure1 tradeoff)."
    )
    requires = ("distributed",)
    extra = "distributed"
    confirm_note = (
        "tradeoff/live: the control model's window means do not depend on M, so its exact contrast D is 0, the "
        "edge of the one-sided band [0, inf); the staleness rows have a confirm rate of their own per row"
    )
    # Delays come from real scheduling: a rerun gives other numbers, so a --baseline regression
    # checks only that the claim is present (the trace in each cell makes the replay reproducible).
    reproducible = False
    history = (
        HistoryEntry(
            date="2026-11-25",
            version=2,
            change="(a) judged on the excess TV (raw TV minus the median TV of equally long traces of the law "
            "itself) against [-0.1, 0.1], and only on compute-regime runs (25 ms per task whatever M) whose "
            "measured compute/latency ratio is >= 10 (INCONCLUSIVE below it; latency-regime runs context); "
            "was: the raw TV against [0, 0.1] on every run with M > 1 (compute 5 ms x M per task)",
            reason="made together after seeing the first runs: a finite autocorrelated trace has a TV floor of "
            "0.03-0.1 at these lengths even when it follows the law, and dispatch latency comparable to the "
            "compute time broke the law's premise; the old rule is recomputed on today's runs, which use the "
            "new compute times and server",
            old_rows=("staleness_tv_raw/",),
        ),
        HistoryEntry(
            date="2026-11-29",
            version=3,
            change="seeds: the replay takes derive_seed(cell seed, 'replay') and the bootstraps "
            "derive_seed(seed, claim, label, run) instead of additive salts of the seed",
            reason="one seed derivation for every claim; the replay paths and bootstrap CIs move",
            old_verdict="INCONCLUSIVE",
            old_source="earlier run: commit 839d945, profile standard, seed 20180330",
        ),
        HistoryEntry(
            date="2026-11-29",
            version=4,
            change="(b) judged by the equivalence rule: the one live window mean with the replay's predictive "
            f"spread as its CI, against the replay median +-{REPLAY_TOLERANCE:.0%}; (c)'s SEs from the replays' "
            "spread instead of batch means; every judged CI at the Bonferroni level of the judged rows",
            reason="(b) compared one run with a 95% predictive range as wide as [0.05, 0.99] and passed unless a "
            "Holm-adjusted rank p-value fell below 0.05: it could not fail; (c)'s batch means over 10 batches of "
            "100 updates understated the window mean's SE (0.3-1.25x the replay sd, median about 0.7, in the "
            "standard run of commit 839d945, seed 20180330)",
            old_rows=("live_vs_replay_rank/", "tradeoff_batch_means/"),
        ),
        HistoryEntry(
            date="2026-11-29",
            version=5,
            change="quick profile: 500 replay paths per run (was 100)",
            reason="diffapprox calibrate (quick, 200 replicates, seed 20180330) gave a null FAIL rate of 7.0% "
            "[4.2%, 11.4%]: at the row level (tails of 0.3%) the predictive range of 100 replay paths is too "
            "narrow; with 500 paths it is 1.5% [0.5%, 4.3%] (power 100%)",
            old_verdict="INCONCLUSIVE",
            old_source="earlier run: commit 1630c3c, profile quick, seed 20180330",
        ),
        HistoryEntry(
            date="2026-12-06",
            version=6,
            change="(b) live_vs_replay becomes context; the one decision rule for the judged rows (95% PASS "
            "interval, Bonferroni FAIL interval at family level 0.01 over the judged rows (a) and (c))",
            reason=f"one live run per configuration is one draw: the replay's predictive range (0.5 to 5 times the "
            f"median wide) is never inside +-{REPLAY_TOLERANCE:.0%}, so (b) could not PASS even with the simulator "
            f"exactly right; deciding it needs about {WINDOWS_TO_DECIDE} live runs per configuration, about 200 at "
            "standard, beyond the run budget; one rule for every claim",
            old_verdict="INCONCLUSIVE",
            old_source="earlier run: commit 86a7d2f, profile standard, seed 20180330 (6 PASS, 0 FAIL, 10 INCONCLUSIVE)",
        ),
        HistoryEntry(
            date="2026-12-06",
            version=7,
            change="paper profile: 13 live runs instead of 17, the mu = 0.7 runs dropped (latency regime M = 1, "
            "compute regime M = 2, 4, 8), and the latency-regime runs at M = 2, 4, 8 (context) at 3,000 updates as "
            "at standard; standard and quick unchanged",
            reason="the compute-regime runs sleep through their compute times one at a time (a second live server "
            "beside one would disturb the latency it measures): the 17 runs took 789 s, more than the 12 minutes "
            "the whole paper profile has on 2 cores; mu does not enter the workers:M law judged in (a), and (c) "
            "uses mu = 0.5 and 0.9 only, so the mu = 0.7 runs were a third replicate of (a) at M = 2, 4, 8; the "
            "latency-regime runs at M > 1 push flat out and keep a core busy for context rows only (the M = 1 runs "
            "are corners of (c) and keep 10,000 updates)",
            old_verdict="INCONCLUSIVE",
            old_source="earlier run: commit ff87508, profile paper, seed 20180330 (6 PASS, 0 FAIL, 5 INCONCLUSIVE "
            "judged rows: the premise ratio 7.6-9.9 beside simulations at the same priority)",
        ),
    )

    def parameters(self, profile: str) -> dict:
        p = _PROFILES[profile]
        return {
            "spectrum": list(SPECTRUM),
            "data": "gaussian",
            "start": "e2",
            "eta": ETA,
            "runs": [
                {"mu": mu, "M": m, "slow_factor": s, "regime": g, "updates": k} for mu, m, s, g, k in _runs(profile)
            ],
            "steps": p["steps"],
            "record_every": p["record_every"],
            "profile_scope": "quick checks structure only (300 updates, one run per role); standard and paper are the measurements"
            if profile == "quick"
            else "full",
            "compute_time": {
                g: f"exponential, mean {c * 1e3:g} ms per task whatever M (worker 0 slow_factor times slower)"
                for g, c in REGIMES.items()
            },
            "regimes": f"compute: judged when the measured compute/latency ratio is >= {PREMISE_RATIO:g} (the premise of the "
            "workers:M law; INCONCLUSIVE below, the ratio reported either way); latency: no compute pause, context. "
            "M = 1 runs use no pause (staleness is 0 whatever the timing).",
            "server": "a Dask actor (async push: apply eq. 2.1, record tau, return the next read); M workers "
            "are long-running Dask tasks pushing to it; all start from (h_0, version 0) at a barrier",
            "cluster": "cached LocalCluster(processes=False) on this machine, 1 worker x 8 threads, no network",
            "simulated_paths_per_run": p["paths"],
            "judged_rows": n_judged(profile),
            "fail_level": _fail_level(profile),
            "staleness_test": f"excess TV (stats.excess_tv: {p['n_null']} traces of the law from planning seed "
            f"{PLANNING_SEED}, block bootstrap {N_BLOCKS} blocks x {p['n_boot']}) in {list(TV_BAND)}; effect "
            "detectable_effect(sd of the TV over the law's own traces)",
            "trajectory_test": f"live mean error over the last third, CI = replay predictive spread around it "
            f"(stats.one_draw_ci), band replay median +-{REPLAY_TOLERANCE:.0%}; effect detectable_effect(replay sd)",
            "tradeoff_test": f"D = [E(mu={MU_HI:g},M=8) - E(mu={MU_HI:g},M=1)] - [E(mu={MU_LO:g},M=8) - E(mu={MU_LO:g},M=1)], "
            "live window means (diverged = error 1), M = 8 from the compute regime, SEs from the replays, normal CI, band [0, inf)",
            "error": "1 - h_1^2/||h||^2; a diverged run (||h|| > 1e6) counts as error 1 from then on",
            "reproducibility": "live runs are not reproducible; each cell stores its trace, writer ids and wall-clock arrival times",
        }

    def cells(self, profile: str, seed: int):
        p = _PROFILES[profile]
        return [
            self.make_cell(
                _key(mu, m, s, g),
                {
                    "mu": mu,
                    "M": m,
                    "slow": s,
                    "regime": g,
                    "steps": k,
                    "record_every": p["record_every"],
                    "compute_mean_s": REGIMES[g] if m > 1 else 0.0,
                    "paths": p["paths"],
                },
                seed,
                cost=float(k * (1 + p["paths"] / 50)),
                # the workers sleep through their compute times and the server waits on them; without a
                # compute pause (latency regime, or one worker) they push flat out and keep a core busy
                uses="waiting" if (REGIMES[g] if m > 1 else 0.0) > 0 else "core",
            )
            for mu, m, s, g, k in _runs(profile)
        ]

    def simulate_cell(self, cell) -> dict:
        """A live run, and the simulator replaying its measured trace: the per-update and per-record arrays."""
        from diffapprox.engine import live, trace_delay
        from diffapprox import simulate

        p = cell.params
        problem = cm.problem("gaussian")
        kw = {"mu": p["mu"], "eta": ETA, "steps": p["steps"], "record_every": p["record_every"], "start": "e2"}
        run = live(
            problem,
            workers=p["M"],
            compute_mean_s=p["compute_mean_s"],
            slow_factor=p["slow"],
            seed=cell.seed % 2**63,
            **kw,
        )
        # A diverged live run is frozen at error 1 from then on (as figure1 counts diverged paths).
        error = np.where(np.isnan(run.error), 1.0, run.error)
        trace = run.trace if run.trace.size else np.zeros(1, dtype=np.int64)
        seed = derive_seed(cell.seed, "replay")
        sim = simulate(
            problem, paths=p["paths"], delay=trace_delay(trace, label=cell.key), seed=seed, record_h=False, **kw
        )
        record = run.to_dict() | {"replay_seed": seed}
        for k in ("times", "error", "trace"):
            record.pop(k)
        out = _run_arrays(trace, run.times, error, run.compute_ratio, _freeze_diverged(np.asarray(sim.error), sim))
        out.update(record=record, diverged=bool(run.diverged), overhead_s=float(run.overhead_s))
        out.update(replay_steps_at=np.asarray(sim.steps_at), replay_diverged=np.asarray(sim.diverged, dtype=bool))
        return out

    def summarize(self, cell, data: dict) -> dict:
        """The run as measure reads it: live arrays, and the replay's quantile curves and per-path window means."""
        serr, steps_at = np.asarray(data["replay_error"], dtype=float), np.asarray(data["replay_steps_at"])
        q025, q50, q975 = np.quantile(serr, [0.025, 0.5, 0.975], axis=0)
        sim = {
            "steps_at": steps_at,
            "q025": q025,
            "q50": q50,
            "q975": q975,
            "mean": serr.mean(axis=0),
            "window_stat": _window_stat(serr, steps_at, stationary_from(cell.params["steps"])),
            "diverged": int(np.sum(data["replay_diverged"])),
            "paths": int(serr.shape[0]),
        }
        keep = ("trace", "times", "error", "diverged", "compute_ratio", "overhead_s")
        return {k: data[k] for k in keep} | {"sim": sim, "live": dict(data["record"])}

    # ------------------------------------------------------------------ the four steps
    def predict(self, profile: str) -> dict:
        """Beyond the paper: the workers:M law's excess TV is 0, the live error the replay's, the tradeoff > 0."""
        return {"excess_tv": 0.0, "replay_tolerance": REPLAY_TOLERANCE, "tradeoff": "> 0"}

    def measure(self, profile: str, seed: int, results: dict, prediction: dict) -> list[Measurement]:
        pr, level, runs = _PROFILES[profile], _fail_level(profile), _runs(profile)
        ms: list[Measurement] = []
        for run in runs:
            ms += _staleness_rows(run, results[_key(*run[:4])], pr, level, seed)
        ms += _replay_rows([_key(*run[:4]) for run in runs], results, level)
        corners = {(mu, m): results[_key(mu, m, s, g)] for mu, m, s, g, _ in runs if s == 1.0 and (m == 1 or g == _C)}
        if set(TRADEOFF) <= set(corners):
            ms += _tradeoff_rows(corners, level)
        return ms

    def figures(self, profile: str, results: dict, measurements: list[Measurement], figdir: Path) -> list[str]:
        fig, axes = cm.new_figure(ncols=4, nrows=2, size=(3.6, 3.0))
        runs = [x[:4] for x in _runs(profile)]
        _staleness_panels(axes[0], runs, results)
        _error_panels(axes[1], runs, results)
        cm.claim_title(
            fig,
            self,
            "top: staleness produced by a live Dask parameter server against the queue law "
            "and a constant delay; bottom: live error against the simulator replaying the measured trace",
            fontsize=9,
        )
        return cm.save_figure(fig, figdir, "live_staleness")

    def findings(self, profile: str, results: dict, measurements: list[Measurement]) -> Findings:
        by = {m.name: m for m in measurements}
        runs = [x[:4] for x in _runs(profile)]
        out = [_staleness_sentence(x, results[_key(*x)], by) for x in runs if f"staleness_tv_workers/{_key(*x)}" in by]
        out += _regime_sentences(runs, results) + [_replay_sentence(runs, by)]
        if "tradeoff/live" in by:
            t, d = by["tradeoff/live"], by["tradeoff/replay"]
            out.append(
                f"Tradeoff: D = {t.estimate:.4f} (CI {t.ci[0]:.4f}..{t.ci[1]:.4f}) live, {d.estimate:.4f} replayed."
            )
        return Findings(findings=out, inconsistencies=[INCONSISTENCY])

    # ------------------------------------------------------------------ controls
    def families(self, profile: str) -> dict[str, tuple[str, ...]]:
        stale, tradeoff = _judged_runs(profile)
        out = {"staleness": ("staleness_tv_workers/",)} if stale else {}
        return out | ({"tradeoff": ("tradeoff/live",)} if tradeoff else {})

    def control_sources(self, profile: str) -> dict:
        from diffapprox import ControlSource

        model = ControlSource(
            source="model",
            model="traces from the workers:M law with a share of delays set to M - 1 (excess TV set by the control); "
            "live and replay error series flat at normal draws around the planned window means, the (0.9, 8) "
            "centre moved to set the tradeoff contrast (0 in the model's exact world, the edge of [0, inf))",
        )
        return model.for_every_kind()

    def control_data(self, cell, control, rng: np.random.Generator) -> dict:
        profile = next(k for k, v in _PROFILES.items() if v["paths"] == cell.params["paths"] and _matches(k, cell))
        return _control_run(profile, cell.params, control, rng)


def _matches(profile: str, cell) -> bool:
    """Whether ``cell`` is one of ``profile``'s runs (profiles share path counts)."""
    p = cell.params
    return (p["mu"], p["M"], p["slow"], p["regime"], p["steps"]) in _runs(profile)


INCONSISTENCY = (
    "The paper's parameter-server description (Section 1) has no compute-time or communication "
    "model; its delay assumption (bounded or constant tau) is not what a queue of workers produces: "
    "staleness is random, unbounded in principle, and shaped by dispatch latency."
)


# ----------------------------------------------------------------------------- findings and figures


def _staleness_sentence(run: tuple, r: dict, by: dict) -> str:
    mu, m, s, g = run
    name = _key(*run)
    tv, raw, const = (
        by[f"staleness_tv_workers/{name}"],
        by[f"staleness_tv_raw/{name}"],
        by[f"staleness_tv_const/{name}"],
    )
    tr = np.asarray(r["trace"], dtype=np.int64)[m:]
    lat = float(r.get("overhead_s", math.nan)) * 1e3
    ctx = "" if tv.judged else " (context)"
    return (
        f"regime={g}, mu={mu:g}, M={m}, slow={s:g}: staleness mean {tr.mean():.2f}, sd {tr.std():.2f} "
        f"(workers:M sd {_pmf_sd(law_of(m, s)[1]):.2f}, const sd 0); TV to workers:M {raw.estimate:.3f}, excess "
        f"{tv.estimate:.3f} (CI {tv.ci[0]:.3f}..{tv.ci[1]:.3f}) -> {tv.verdict}{ctx}; TV to const:{m - 1} {const.estimate:.3f}; "
        f"latency {lat:.2f} ms/task, compute/latency ratio {float(r.get('compute_ratio', math.nan)):.1f}"
    )


def _regime_sentences(runs: list[tuple], results: dict) -> list[str]:
    """The regimes as measured: per-task latency (outside the compute pause) of every run."""
    out = []
    for g in (_L, _C):
        lat = [float(results[_key(*x)].get("overhead_s", math.nan)) * 1e3 for x in runs if x[3] == g]
        lat = [v for v in lat if math.isfinite(v)]
        if not lat:
            continue
        tail = (
            "; a latency that is not small against the compute time makes cycles more regular than exponential "
            "and the staleness more concentrated near M-1 than the workers:M law."
            if g == _L
            else f" (the workers:M premise needs a ratio >= {PREMISE_RATIO:g})."
        )
        out.append(
            f"regime={g}: measured latency per worker task {min(lat):.2f}..{max(lat):.2f} ms (push round trip + "
            f"arithmetic + sleep overshoot) beside a compute time of {REGIMES[g] * 1e3:g} ms" + tail
        )
    return out


def _replay_sentence(runs: list[tuple], by: dict) -> str:
    rows = [by[f"live_vs_replay/{_key(*x)}"] for x in runs]
    above = sum(m.estimate > m.prediction for m in rows)
    widths = [(m.ci[1] - m.ci[0]) / m.prediction for m in rows if m.prediction]
    verdicts = ", ".join(
        f"{v}: {sum(m.verdict == v for m in rows)}" for v in (Verdict.PASS, Verdict.INCONCLUSIVE, Verdict.FAIL)
    )
    return (
        f"Live vs replay: {verdicts} of {len(rows)} runs; live window mean above the replay median in {above} of "
        f"{len(rows)}; predictive ranges {min(widths):.2f}..{max(widths):.2f} x the replay median wide, against a "
        f"band {2 * REPLAY_TOLERANCE:.2f} x wide."
    )


def _staleness_panels(axes, runs: list[tuple], results: dict) -> None:
    plain = [x for x in runs if x[0] == MU_LO and x[1] > 1 and x[2] == 1.0]
    plain = ([x for x in plain if x[3] == _C] + [x for x in plain if x[3] == _L][::-1])[:4]
    for k, (ax, (mu, m, s, g)) in enumerate(zip(axes, plain)):
        tr, pmf = np.asarray(results[_key(mu, m, s, g)]["trace"], dtype=np.int64)[m:], law_of(m, s)[1]
        n = max(int(tr.max()) + 1, min(pmf.size, 4 * m + 2)) if tr.size else 1
        ax.bar(
            np.arange(n),
            np.bincount(tr, minlength=n)[:n] / max(1, tr.size),
            color="tab:blue",
            alpha=0.6,
            label="live server (measured)",
        )
        ax.plot(np.arange(min(n, pmf.size)), pmf[:n], "k.-", ms=3, label=f"queue law workers:{m}")
        ax.axvline(m - 1, color="tab:red", ls="--", lw=1, label=f"constant delay {m - 1}")
        ax.set_title(f"staleness, M={m}, {g} regime{' (judged)' if g == _C else ' (context)'}", fontsize=9)
        ax.set_xlabel("staleness tau (updates)")
        if k == 0:
            ax.set_ylabel("probability")
        ax.legend(fontsize=7)
    for ax in axes[len(plain) :]:
        ax.set_visible(False)


def _error_panels(axes, runs: list[tuple], results: dict) -> None:
    curves = [x for x in runs if x[2] == 1.0 and (x[1] == 1 or (x[1] == 8 and x[3] == _C))][:4]
    for k, (ax, (mu, m, s, g)) in enumerate(zip(axes, curves)):
        r = results[_key(mu, m, s, g)]
        ts = np.asarray(r["sim"]["steps_at"])
        ax.fill_between(
            ts, r["sim"]["q025"], r["sim"]["q975"], color="tab:orange", alpha=0.3, label="replayed trace: 95% of paths"
        )
        ax.plot(ts, r["sim"]["mean"], color="tab:orange", lw=1, label="replayed trace: mean")
        ax.plot(np.asarray(r["times"]), r["error"], color="tab:blue", lw=1, label="live run")
        ax.set_yscale("log")
        ax.set_title(f"error, mu={mu:g}, M={m}" + (f", {g}" if m > 1 else ""), fontsize=9)
        ax.set_xlabel("update k")
        if k == 0:
            ax.set_ylabel("error 1 - h1^2/||h||^2  (log)")
            ax.legend(fontsize=7, loc="lower left")
    for ax in axes[len(curves) :]:
        ax.set_visible(False)


def _pmf_sd(pmf: np.ndarray) -> float:
    j = np.arange(pmf.size)
    m = float((j * pmf).sum())
    return math.sqrt(max(0.0, float((j * j * pmf).sum()) - m * m))


def _freeze_diverged(serr: np.ndarray, sim) -> np.ndarray:
    """Error 1 from a simulated path's divergence step on (the live run is counted the same way)."""
    out = serr.copy()
    steps_at = np.asarray(sim.steps_at)
    for i in np.flatnonzero(sim.diverged):
        out[i, steps_at >= sim.diverged_step[i]] = 1.0
    return out
