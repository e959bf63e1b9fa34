"""Shared grid and cells of the Lemma 3.1 / 3.2 claims (``norm-bound``, ``momentum-bias``).

Grid (fixed before measuring): mu in {0.5, 0.7, 0.9}, eta in {2.5e-4, 5e-4, 1e-3, 2e-3}
(8x), tau in {0, S/4, S/2} with S the exact linear-stability limit (delays inside the
regime the lemmas address); Gaussian data, Sigma = diag(4,3,2,1), start e2 (so the
phase-II traverse, where h moves fastest, is inside the window), K = T/eta steps with
T = 5 (k <= O(1/eta)).
"""

from __future__ import annotations


from diffapprox import Claim, StreamingPCA
from diffapprox import path_diagnostics

from . import _tradeoff as tradeoff

SPECTRUM = (4.0, 3.0, 2.0, 1.0)
MUS = (0.5, 0.7, 0.9)
ETAS = (2.5e-4, 5e-4, 1e-3, 2e-3)
FRACS = (0.0, 0.25, 0.5)
T = 5.0
PROFILES = {
    "quick": {"paths": 8, "n_boot": 200},
    "standard": {"paths": 64, "n_boot": 1000},
    "paper": {"paths": 256, "n_boot": 2000},
}


def grid():
    out = []
    for mu in MUS:
        for eta in ETAS:
            s = tradeoff.stable_delay(mu, eta, SPECTRUM[0])
            for f in FRACS:
                out.append((mu, eta, int(round(f * s))))
    return out


def key(mu, eta, tau):
    return f"mu={mu:g}/eta={eta:g}/tau={tau}"


def cells(claim, profile, seed):
    n = PROFILES[profile]["paths"]
    return [
        claim.make_cell(
            key(*g),
            {"mu": g[0], "eta": g[1], "tau": g[2], "paths": n, "steps": int(round(T / g[1]))},
            seed,
            cost=n * T / g[1],
        )
        for g in grid()
    ]


def run(cell) -> dict:
    p = cell.params
    r = path_diagnostics(
        StreamingPCA(spectrum=SPECTRUM),
        mu=p["mu"],
        eta=p["eta"],
        steps=p["steps"],
        paths=p["paths"],
        tau=p["tau"],
        start="e2",
        seed=cell.seed,
        n_out=1,
    )
    return {"max_norm_excess": r["max_norm_excess"], "bias_sup": r["bias_sup"], "diverged": int(r["diverged"].sum())}


def parameters(profile) -> dict:
    return {
        "spectrum": list(SPECTRUM),
        "data": "gaussian",
        "start": "e2",
        "mus": list(MUS),
        "etas": list(ETAS),
        "tau": "{0, S/4, S/2}, S = exact linear-stability limit of the radial mode",
        "T": T,
        "steps": "T/eta",
        "grid": [list(g) for g in grid()],
        **PROFILES[profile],
    }


class LemmaGridClaim(Claim):
    """Shared cells of the Lemma 3.1 and 3.2 claims: one diagnostics run per (mu, eta, tau) grid point.

    Subclasses set ``id``, ``paper_ref``, ``statement``, :attr:`bands` and ``finish``.
    """

    #: Tolerance bands stated before measuring, by measurement name.
    bands: dict = {}

    def parameters(self, profile):
        p = parameters(profile)
        p["bands"] = dict(self.bands)
        return p

    def cells(self, profile, seed):
        return cells(self, profile, seed)

    def run_cell(self, cell):
        return run(cell)
