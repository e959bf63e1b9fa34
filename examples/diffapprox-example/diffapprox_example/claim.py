"""Claim ``example-least-squares``: SGD's mean on streaming least squares follows ``x* + (1-eta)^k (x0 - x*)``.

Judged, stated before running: the mean of each coordinate of ``x_K`` (K = 40, eta = 0.05, x0 = (3, 3))
against the exact value, band +- 0.05, effect the detectable effect of the planned standard error
(the exact covariance of the recursion over the profile's paths) at the FAIL interval's level.

Controls run this claim's own cell code (:meth:`summarize`) and :meth:`measure` on per-path iterates of
known truth: a stated model (Gaussian iterates with the recursion's exact mean and covariance, the mean
moved by the control), and the real simulator against a planted prediction (the mutant ``eta=0.9eta``).
"""

from __future__ import annotations

import math

import numpy as np

import diffapprox as da
from diffapprox.stats import PASS_LEVEL, detectable_effect, fail_level, mean_ci, measurement

from .problem import exact_moments, least_squares

X_STAR = (1.0, -0.5)
X0 = (3.0, 3.0)
NOISE_SD = 0.5
ETA = 0.05
K = 40
BAND = 0.05
_PATHS = {"quick": 2000, "standard": 20000, "paper": 100000}
#: Judged rows (one per coordinate): the FAIL intervals are Bonferroni over them.
ROWS = 2
#: The families: one change of the truth moves one coordinate's mean.
FAMILIES = {f"x{j + 1}": (f"mean_x{j + 1}/",) for j in range(ROWS)}


def _exact(eta: float = ETA):
    mean, cov = exact_moments(X0, X_STAR, NOISE_SD, eta, K)
    return mean[-1], np.sqrt(np.diag(cov[-1]))


class LeastSquaresMean(da.Claim):
    id = "example-least-squares"
    about = "toolkit"
    paper_ref = "example package: exact mean recursion of SGD on streaming least squares"
    statement = "SGD's mean iterate on streaming least squares is x* + (1-eta)^k (x0 - x*) (within 0.05)."

    def parameters(self, profile):
        return {"eta": ETA, "steps": K, "x0": list(X0), "x_star": list(X_STAR), "band": BAND, "paths": _PATHS[profile]}

    def cells(self, profile, seed):
        params = {"paths": _PATHS[profile], "profile": profile}
        return [self.make_cell("sgd", params, seed, cost=_PATHS[profile] * K)]

    def simulate_cell(self, cell):
        r = da.simulate_algorithm(least_squares(X_STAR, NOISE_SD), da.sgd(ETA), steps=K, paths=cell.params["paths"],
                                  x0=X0, seed=cell.seed, record_every=K)  # fmt: skip
        return r.x[:, -1, :]

    def summarize(self, cell, x):
        return {"x": np.asarray(x, dtype=float)}

    def predict(self, profile):
        return {"mean": _exact()[0]}

    def _effect(self, profile, j):
        return detectable_effect(_exact()[1][j] / math.sqrt(_PATHS[profile]), level=fail_level(ROWS))

    def measure(self, profile, seed, results, prediction):
        x = results["sgd"]["x"]
        out = []
        for j, m in enumerate(prediction["mean"]):
            out.append(measurement(f"mean_x{j + 1}/k={K}", mean_ci(x[:, j], PASS_LEVEL), prediction=m,
                                   band=(m - BAND, m + BAND), effect=self._effect(profile, j),
                                   ci_fail=mean_ci(x[:, j], fail_level(ROWS))))  # fmt: skip
        return out

    # controls: the claim's own summarize and measure on iterates of known truth
    def families(self, profile):
        return FAMILIES

    def control_sources(self, profile):
        model = da.ControlSource(
            source="model",
            model="Gaussian iterates x_K with the exact mean and covariance of the SGD recursion (the law of "
            "x_K is not Gaussian: the noise is state-dependent); the mean set by the control",
        )
        return dict.fromkeys(("edge", "exact", "family", "outside"), model)

    def control_data(self, cell, control, rng):
        mean, sd = _exact()
        effects = [self._effect(cell.params["profile"], j) for j in range(ROWS)]
        truth = [
            control.truth(exact=m, band=(m - BAND, m + BAND), effect=e, direction=1, family=f"x{j + 1}")
            for j, (m, e) in enumerate(zip(mean, effects))
        ]
        return np.asarray(truth) + sd * rng.standard_normal((cell.params["paths"], ROWS))

    def mutants(self, profile):
        m09, m = _exact(0.9 * ETA)[0], _exact()[0]
        note = (
            f"the prediction with eta replaced by 0.9 eta: (1-0.9eta)^K against (1-eta)^K moves the predicted mean "
            f"by {np.abs(m09 - m).round(3).tolist()}, beyond the band {BAND} plus the effect "
            f"{[round(self._effect(profile, j), 4) for j in range(ROWS)]} on x2"
        )
        return {"eta=0.9eta": da.Mutant(expect="FAIL", note=note)}

    def mutate(self, profile, name, prediction):
        return {**prediction, "mean": _exact(0.9 * ETA)[0]}
