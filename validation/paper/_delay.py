"""The tolerable-delay grid shared by ``delay-sufficiency`` (Theorem 3.3) and ``delay-scaling`` (Remark 3.11).

Both claims read tau*(mu, eta), the largest delay whose mean error is within 1.5x of tau = 0
(the ratio-1.5 criterion of :data:`diffapprox.stats.THRESHOLD_CRITERIA`), on a 4 x 4 grid of
(mu, eta) (eta spanning 8x), started at e1 (phase III) with Gaussian data, Sigma = diag(4, 3, 2, 1).
A path's error is its time average of ``1 - h_1^2/||h||^2`` over the second half of a run of
K = 20 transverse relaxation times, K = 20 (1-mu) / (2 eta (lambda1 - lambda2)) steps; a diverged
path counts 1 (the delay it ran at is not tolerated: the event rule).  The delay grid is geometric
around the exact linear-stability limit S(mu, eta) of the radial mode, tau = round(f S) for
f = 2^(j/4), j = -16..5 (S/16 .. 2.4 S).

Both claims simulate the same paths: the cells' seeds derive from the id ``delay-threshold`` (the
claim they were split from), so the data of the split claims are those of the old one.

The controls' per-path data model (:func:`ramp_errors`): a path's time-averaged error is gamma with
coefficient of variation 0.45 (the largest per-cell CV of the earlier standard run) and mean
``9 eta/(1-mu) x (1 + 0.5 (tau/theta)^6)``: the ratio-1.5 criterion's crossing is exactly at
``theta``; the curve rises from 1.18x one grid step below theta to 2.4x one step above it, as the
measured curves do near the linear-stability limit.
"""

from __future__ import annotations

import math

import numpy as np

from diffapprox import Cell, derive_seed, simulate, stats
from diffapprox.engine import StreamingPCA, cell_seed
from diffapprox.limits import tau_threshold_ode

from . import _tradeoff as tradeoff
from .._common import SPECTRUM, problem

MUS = (0.5, 0.7, 0.8, 0.9)
ETAS = (2.5e-4, 5e-4, 1e-3, 2e-3)
ETA_REF = 5e-4
FACTORS = tuple(2.0 ** (j / 4) for j in range(-16, 6))
RELAX = 20  # run length in transverse relaxation times
N_REC = 20  # records per run; the second half is averaged
CRITERION = "ratio-1.5"
POINTS = tuple((mu, eta) for mu in MUS for eta in ETAS)
#: The id the cells' seeds derive from (the claim both were split from): both claims judge the same paths.
DATA_ID = "delay-threshold"
#: The controls' error model: mean 9 eta/(1-mu) below the crossing, CV 0.45, ramp exponent 6.
BASE, CV, RAMP = 9.0, 0.45, 6.0

PROFILES = {
    "quick": {"paths": 12, "n_boot": 400},
    "standard": {"paths": 100, "n_boot": 4000},
    "paper": {"paths": 400, "n_boot": 4000},
}


def taus(mu: float, eta: float) -> list[int]:
    s = tradeoff.stable_delay(mu, eta)
    return sorted({0} | {max(1, int(round(f * s))) for f in FACTORS})


def steps(mu: float, eta: float) -> int:
    k = RELAX * (1 - mu) / (2 * eta * (SPECTRUM[0] - SPECTRUM[1]))
    return int(math.ceil(k / N_REC)) * N_REC


def key(mu, eta, tau) -> str:
    return f"mu={mu:g}/eta={eta:g}/tau={tau}"


def pt(mu, eta) -> str:
    return f"mu={mu:g}/eta={eta:g}"


def sufficient(mu: float, eta: float) -> float:
    """Theorem 3.3's sufficient delay (1-mu)^2/(lambda1 eta^(1-gamma)) at gamma -> 0, constant 1."""
    return tau_threshold_ode(problem("gaussian"), mu=mu, eta=eta, gamma=0.0)


def grid_parameters(profile: str) -> dict:
    p = PROFILES[profile]
    return {
        "spectrum": list(SPECTRUM),
        "data": "gaussian",
        "start": "e1",
        "mus": list(MUS),
        "etas": list(ETAS),
        "paths_per_cell": p["paths"],
        "n_boot": p["n_boot"],
        "steps": {pt(m, e): steps(m, e) for m, e in POINTS},
        "taus": {pt(m, e): taus(m, e) for m, e in POINTS},
        "delay_grid": "tau = round(f S), f = 2^(j/4), j=-16..5, S = exact linear-stability limit (radial mode)",
        "error": "time average of 1 - h1^2/||h||^2 over the second half of the run; diverged path = 1",
        "criterion": "ratio-1.5: largest tau whose mean error <= 1.5 x the tau = 0 mean",
        "cell_seeds": f"derived from the id {DATA_ID!r}: the same paths as the claim these were split from",
    }


def cells(claim_id: str, profile: str, seed: int, points=POINTS) -> list[Cell]:
    paths = PROFILES[profile]["paths"]
    out = []
    for mu, eta in points:
        k = steps(mu, eta)
        for tau in taus(mu, eta):
            params = {"mu": mu, "eta": eta, "tau": tau, "steps": k, "paths": paths, "profile": profile}
            kk = key(mu, eta, tau)
            out.append(Cell(claim=claim_id, key=kk, params=params, seed=cell_seed(seed, DATA_ID, kk), cost=k * paths))
    return out


def simulate_cell(cell) -> dict:
    """Per path: the time-averaged error over the second half (NaN if diverged) and whether it diverged."""
    p = cell.params
    t = simulate(
        StreamingPCA(spectrum=SPECTRUM, data="gaussian"),
        mu=p["mu"],
        eta=p["eta"],
        steps=p["steps"],
        paths=p["paths"],
        delay=f"const:{p['tau']}",
        record_every=p["steps"] // N_REC,
        start="e1",
        seed=cell.seed,
        record_h=False,
    )
    return {"error_avg": t.error[:, N_REC // 2 + 1 :].mean(axis=1), "diverged": np.asarray(t.diverged, bool)}


def summarize(cell, data) -> dict:
    """The cell code: a diverged path counts as error 1 (the event rule)."""
    div = np.asarray(data["diverged"], bool)
    return {"error": np.where(div, 1.0, np.asarray(data["error_avg"], float)), "diverged": int(div.sum())}


def ramp_errors(rng: np.random.Generator, cell, theta: float) -> dict:
    """Control data of one cell: per-path time-averaged errors of a curve whose ratio-1.5 crossing is ``theta``.

    Gamma errors (CV :data:`CV`) of mean ``BASE eta/(1-mu) (1 + 0.5 (tau/theta)^RAMP)``, none diverged.
    """
    p = cell.params
    mean = BASE * p["eta"] / (1 - p["mu"]) * (1.0 + 0.5 * (p["tau"] / theta) ** RAMP)
    k = 1.0 / (CV * CV)
    err = rng.gamma(k, mean / k, size=p["paths"])
    return {"error_avg": err, "diverged": np.zeros(p["paths"], bool)}


def tau_stars(claim_id: str, seed: int, profile: str, results: dict, points, levels) -> dict:
    """tau* of every point present in ``results``: {point: [Threshold at each of ``levels``]} (same redraws)."""
    nb = PROFILES[profile]["n_boot"]
    out = {}
    for mu, eta in points:
        g = taus(mu, eta)
        if any(key(mu, eta, t) not in results for t in g):
            continue
        errs = np.array([results[key(mu, eta, t)]["error"] for t in g])
        s = derive_seed(seed, claim_id, "tau_star", pt(mu, eta))
        both = stats.threshold_cis_levels(g, errs, (CRITERION,), n_boot=nb, seed=s, levels=levels, method="normal")
        out[(mu, eta)] = [d[CRITERION] for d in both]
    return out


def diverged_upto(results: dict, mu: float, eta: float, tau_star: float) -> int:
    return sum(int(results[key(mu, eta, t)]["diverged"]) for t in taus(mu, eta) if t <= tau_star)
