"""Shared grid, cells, slopes and controls of the Lemma 3.1 / 3.2 claims (``norm-bound``, ``momentum-bias``).

Grid (fixed before measuring): mu in {0.5, 0.7, 0.9}, eta in {2.5e-4, 5e-4, 1e-3, 2e-3} (8x),
tau in {0, S/4, S/2} with S the exact linear-stability limit (delays inside the regime the lemmas
address; along a rule tau = f S the delay grows like 1/eta), start e2 (so the phase-II traverse,
where h moves fastest, is inside the window), K = T/eta steps with T = 5 (k <= O(1/eta)).

Two data laws: the bounded ``cube`` (Assumption 2, ||X|| <= C_d, which the lemmas' proofs use) for
the judged rows, and ``gaussian`` (the rule before 2026-11-29; C_d infinite) for the old rule's
context rows.  The Gaussian cells keep their keys (and so their seeds and numbers).

A bound E <= C B is broken only if E/B grows as B shrinks.  Along a tau rule B barely moves with
eta, so the reading here is per (mu, tau rule): the slope of log(E/B) on log eta must not fall below
a stated -delta (E/B must not grow as eta falls); at tau = 0, where B = eta/(1-mu)^3, that is the
slope of E in eta >= 1 - delta.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from diffapprox import Claim, derive_seed
from diffapprox.engine import StreamingPCA, path_diagnostics
from diffapprox import stats

from . import _tradeoff as tradeoff
from .._common import SPECTRUM

MUS = (0.5, 0.7, 0.9)
ETAS = (2.5e-4, 5e-4, 1e-3, 2e-3)
FRACS = (0.0, 0.25, 0.5)
LAWS = ("cube", "gaussian")
JUDGED_LAW = "cube"
T = 5.0
#: Allowance for pre-asymptotic curvature: the slope of log(ratio to the bound) on log eta must be >= -DELTA.
DELTA = 0.2
#: Rows judged per claim: every mu at tau = 0, and every (mu, tau rule > 0).
N_JUDGED = len(MUS) * len(FRACS)
PROFILES = {
    "quick": {"paths": 8, "n_boot": 400},
    "standard": {"paths": 64, "n_boot": 2000},
    "paper": {"paths": 256, "n_boot": 4000},
}


@functools.cache
def grid() -> tuple[tuple[float, float, float, int], ...]:
    """``(mu, eta, f, tau)`` with ``tau = round(f S(mu, eta))`` (computed once: S is an exact root search)."""
    out = []
    for mu, eta in itertools.product(MUS, ETAS):
        s = tradeoff.stable_delay(mu, eta)
        out.extend((mu, eta, f, int(round(f * s))) for f in FRACS)
    return tuple(out)


def key(law: str, mu: float, eta: float, tau: int) -> str:
    base = f"mu={mu:g}/eta={eta:g}/tau={tau}"
    return base if law == "gaussian" else f"law={law}/{base}"


def rule(f: float) -> str:
    """A tau rule as it appears in measurement names: ``tau=0``, ``tau=0.25S``, ``tau=0.5S``."""
    return "tau=0" if f == 0 else f"tau={f:g}S"


def series(mu: float, f: float) -> list[tuple[float, float, float, int]]:
    """The grid points of one (mu, tau rule), in increasing eta."""
    return [g for g in grid() if g[0] == mu and g[2] == f]


def cell_means(results: dict, law: str, pts, field: str) -> np.ndarray:
    """Mean over the finite paths of ``field`` at each grid point of ``pts``."""
    return np.array([np.nanmean(results[key(law, mu, eta, tau)][field]) for mu, eta, _, tau in pts])


def bound(mu: float, eta: float, tau: int) -> float:
    """Lemma 3.1's B = tau eta/(1-mu)^2 + eta/(1-mu)^3 (constants 1)."""
    return tau * eta / (1 - mu) ** 2 + eta / (1 - mu) ** 3


def cells(claim, profile, seed):
    n = PROFILES[profile]["paths"]
    return [
        claim.make_cell(
            key(law, mu, eta, tau),
            {"law": law, "mu": mu, "eta": eta, "tau": tau, "paths": n, "steps": int(round(T / eta))},
            seed,
            cost=n * T / eta,
        )
        for law in LAWS
        for mu, eta, _, tau in grid()
    ]


def run(cell) -> dict:
    p = cell.params
    r = path_diagnostics(
        StreamingPCA(spectrum=SPECTRUM, data=p.get("law", "gaussian")),
        mu=p["mu"],
        eta=p["eta"],
        steps=p["steps"],
        paths=p["paths"],
        tau=p["tau"],
        start="e2",
        seed=cell.seed,
        n_out=1,
    )
    bad = r["diverged"]
    return {
        "max_norm_excess": np.where(bad, np.nan, r["max_norm_excess"]),
        "bias_sup": np.where(bad, np.nan, r["bias_sup"]),
        "diverged": int(bad.sum()),
    }


def parameters(profile) -> dict:
    return {
        "spectrum": list(SPECTRUM),
        "data": {"judged": JUDGED_LAW, "context (rule before 2026-11-29)": "gaussian"},
        "start": "e2",
        "mus": list(MUS),
        "etas": list(ETAS),
        "tau": "{0, S/4, S/2}, S = exact linear-stability limit of the radial mode",
        "T": T,
        "steps": "T/eta",
        "delta": DELTA,
        "grid": [list(g) for g in grid()],
        "diverged_paths": "left out of every mean and counted in the row's note; a row with any cannot PASS",
        **PROFILES[profile],
    }


def samples(results: dict, law: str, pts, field: str) -> tuple[list[np.ndarray], int]:
    """Finite per-path values of ``field`` at grid points ``pts`` and how many paths were left out."""
    out, left = [], 0
    for mu, eta, _, tau in pts:
        x, k = tradeoff.finite_paths(results[key(law, mu, eta, tau)][field])
        out.append(x)
        left += k
    return out, left


def ratio_slope(seed, claim_id, label, etas, ss, scale, level, n_boot) -> stats.SlopeFit:
    """Slope of log(mean / scale_j) on log eta, bootstrap over paths (``scale`` one number per eta)."""
    sc = np.asarray(scale, dtype=float)

    def stat(xs):
        return [x.mean(axis=-1) / s for x, s in zip(xs, sc)]

    return stats.loglog_slope_boot(etas, ss, stat, n_boot=n_boot, seed=derive_seed(seed, claim_id, label), level=level)


def mean_se(cv: float, n: int) -> float:
    """Planned SE of the log of a mean of ``n`` paths whose values have coefficient of variation ``cv``."""
    return cv / math.sqrt(n)


def draw(profile: str, rng: np.random.Generator, means) -> dict[str, dict]:
    """Synthetic cell summaries: per cell, gamma per-path values with the means ``means(law, mu, eta, f, tau)``.

    ``means`` returns ``{field: (mean, cv)}``; every cell of both laws is drawn.
    """
    n = PROFILES[profile]["paths"]
    out = {}
    for law, (mu, eta, f, tau) in itertools.product(LAWS, grid()):
        m = means(law, mu, eta, f, tau)
        out[key(law, mu, eta, tau)] = {f: tradeoff.gamma_paths(rng, v, cv, n) for f, (v, cv) in m.items()}
        out[key(law, mu, eta, tau)]["diverged"] = 0
    return out


class LemmaGridClaim(Claim):
    """Shared cells of the Lemma 3.1 and 3.2 claims: one diagnostics run per (law, mu, eta, tau) grid point.

    Subclasses set ``id``, ``paper_ref``, ``statement`` and the four steps.
    """

    def parameters(self, profile):
        return parameters(profile)

    def cells(self, profile, seed):
        return cells(self, profile, seed)

    def run_cell(self, cell):
        return run(cell)
