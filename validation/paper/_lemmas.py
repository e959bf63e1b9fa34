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
from scipy.special import ndtri

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


def frac_of(mu: float, eta: float, tau: int) -> float:
    """The tau rule f of the grid point (mu, eta, tau)."""
    return next(g[2] for g in grid() if (g[0], g[1], g[3]) == (mu, eta, tau))


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


def bound(mu: float, eta: float, tau: int, eta_power: float = 1.0) -> float:
    """Lemma 3.1's B = tau eta/(1-mu)^2 + eta/(1-mu)^3 (constants 1); ``eta_power`` replaces eta by eta^p (mutants)."""
    e = eta**eta_power
    return tau * e / (1 - mu) ** 2 + e / (1 - mu) ** 3


def cells(claim, profile, seed):
    n = PROFILES[profile]["paths"]
    return [
        claim.make_cell(
            key(law, mu, eta, tau),
            {
                "law": law,
                "mu": mu,
                "eta": eta,
                "tau": tau,
                "paths": n,
                "steps": int(round(T / eta)),
                "profile": profile,
            },
            seed,
            cost=n * T / eta,
        )
        for law in LAWS
        for mu, eta, _, tau in grid()
    ]


def simulate(cell, fields: tuple[str, ...]) -> dict:
    """Per path: ``fields`` of the diagnostics kernel (shape (paths,) each) and whether the path diverged."""
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
    return {f: np.asarray(r[f], dtype=float) for f in fields} | {"diverged": np.asarray(r["diverged"], dtype=bool)}


def summarize(data: dict, fields: tuple[str, ...]) -> dict:
    """The cell code: diverged paths become NaN in every field, and are counted."""
    bad = np.asarray(data["diverged"], dtype=bool)
    return {f: np.where(bad, np.nan, data[f]) for f in fields} | {"diverged": int(bad.sum())}


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


def effect(se: float) -> float:
    """The stated effect of a judged slope whose planned standard error is ``se``, at the FAIL level of N_JUDGED rows."""
    return stats.detectable_effect(se, level=stats.fail_level(N_JUDGED))


def slope_row(name, fit: tuple, *, prediction, band, effect, diverged, note) -> stats.Measurement:
    """A judged slope row from :func:`slope_fit`'s ``(estimate, ci95, ci_fail, n)``."""
    est, ci, ci_fail, n = fit
    return stats.measurement(
        name, est, ci, prediction, band, ci_fail=ci_fail, effect=effect, diverged=diverged, note=note, n=n
    )


def slope_fit(x, samples, stat, *, n_boot: int, seed: int) -> tuple[float, tuple, tuple, int]:
    """Log-log OLS slope of ``stat(samples)`` on ``x`` with the intervals of the one decision rule.

    The path bootstrap of :func:`diffapprox.stats.loglog_slope_boot` (the same replicates for the same
    seed): the PASS interval is its 95% percentile interval; the FAIL interval, at
    ``fail_level(N_JUDGED)``, is normal with the bootstrap standard deviation (its tails lie beyond the
    last bootstrap replicates).  Returns ``(slope, ci95, ci_fail, n_paths)``.
    """
    lx = np.log(np.asarray(x, float))
    X = np.column_stack([np.ones(lx.size), lx])
    arrs = [np.asarray(a, float).ravel() for a in samples]
    y = np.asarray(stat(arrs), float)
    est = float(np.linalg.lstsq(X, np.log(y), rcond=None)[0][1]) if np.all(y > 0) else math.nan
    rng = np.random.default_rng(seed)
    reps = np.asarray(stat([a[rng.integers(0, a.size, (n_boot, a.size))] for a in arrs]), float)
    good = np.all(reps > 0, axis=0)
    slopes = np.linalg.lstsq(X, np.log(reps[:, good]), rcond=None)[0][1] if good.sum() >= 10 else np.empty(0)
    if slopes.size < 10:
        return est, (math.nan, math.nan), (math.nan, math.nan), int(sum(a.size for a in arrs))
    ci = tuple(float(v) for v in np.quantile(slopes, [(1 - stats.PASS_LEVEL) / 2, (1 + stats.PASS_LEVEL) / 2]))
    half = float(ndtri(0.5 + stats.fail_level(N_JUDGED) / 2)) * float(slopes.std(ddof=1))
    return est, ci, (est - half, est + half), int(sum(a.size for a in arrs))


def draw_cell(rng: np.random.Generator, n: int, field: str, mean: float, cv: float) -> dict:
    """Control data of one cell: ``n`` gamma per-path values of ``field`` with ``mean`` and coefficient of
    variation ``cv`` (right-skewed and positive like the kernel's), none diverged."""
    return {field: tradeoff.gamma_paths(rng, mean, cv, n), "diverged": np.zeros(n, dtype=bool)}


def truth_slope(control, *, exact: float, family: str, eff: float) -> float:
    """A judged slope's truth under ``control``: band ``[exact - DELTA, inf)``, moved downwards."""
    return control.truth(exact=exact, band=(exact - DELTA, math.inf), effect=eff, direction=-1, family=family)


class LemmaGridClaim(Claim):
    """Shared cells of the Lemma 3.1 and 3.2 claims: one diagnostics run per (law, mu, eta, tau) grid point.

    Subclasses set ``id``, ``paper_ref``, ``statement``, ``FIELDS`` (the per-path fields their cell code
    reads) and the four steps.  Mutants simulate the judged (cube) cells only.
    """

    FIELDS: tuple[str, ...] = ()
    #: Row-name prefixes of the bound's eta term (the tau = 0 rows) and of its delay term (the rows
    #: along the tau rules): the two families, each moved by one change of the truth.
    ETA_TERM_ROWS: str = ""
    DELAY_TERM_ROWS: str = ""

    def families(self, profile):
        """The bound's eta term (the tau = 0 rows) and its delay term (the rows along the tau rules)."""
        return {"eta_term": (self.ETA_TERM_ROWS,), "delay_term": (self.DELAY_TERM_ROWS,)}

    def parameters(self, profile):
        return parameters(profile) | {"decision": stats.DECISION_RULE, "fail_level": stats.fail_level(N_JUDGED)}

    def cells(self, profile, seed):
        return cells(self, profile, seed)

    def simulate_cell(self, cell):
        return simulate(cell, self.FIELDS)

    def summarize(self, cell, data):
        return summarize(data, self.FIELDS)

    def mutant_cells(self, profile, seed):
        return [c for c in self.cells(profile, seed) if c.params["law"] == JUDGED_LAW]
