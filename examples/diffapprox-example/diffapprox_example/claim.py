"""Claim ``example-least-squares``: SGD's mean on streaming least squares follows ``x* + (1-eta)^k (x0 - x*)``.

Judged, stated before running: the mean of each coordinate of ``x_K`` (K = 40, eta = 0.05, x0 = (3, 3))
against the exact value, band +- 0.05, effect the detectable effect of the planned standard error
(the exact covariance of the recursion over the profile's paths).
"""

from __future__ import annotations

import math

import numpy as np

import diffapprox as da
from diffapprox.stats import detectable_effect, mean_ci, measurement, row_level

from .problem import exact_moments, least_squares

X_STAR = (1.0, -0.5)
X0 = (3.0, 3.0)
NOISE_SD = 0.5
ETA = 0.05
K = 40
BAND = 0.05
_PATHS = {"quick": 2000, "standard": 20000, "paper": 100000}


def _exact():
    mean, cov = exact_moments(X0, X_STAR, NOISE_SD, ETA, K)
    return mean[-1], np.sqrt(np.diag(cov[-1]))


class LeastSquaresMean(da.Claim):
    id = "example-least-squares"
    paper_ref = "example package: exact mean recursion of SGD on streaming least squares"
    statement = "SGD's mean iterate on streaming least squares is x* + (1-eta)^k (x0 - x*) (within 0.05)."

    def parameters(self, profile):
        return {"eta": ETA, "steps": K, "x0": list(X0), "x_star": list(X_STAR), "band": BAND, "paths": _PATHS[profile]}

    def cells(self, profile, seed):
        return [self.make_cell("sgd", {"paths": _PATHS[profile]}, seed, cost=_PATHS[profile] * K)]

    def run_cell(self, cell):
        r = da.simulate_algorithm(least_squares(X_STAR, NOISE_SD), da.sgd(ETA), steps=K, paths=cell.params["paths"],
                                  x0=X0, seed=cell.seed, record_every=K)  # fmt: skip
        return {"x": r.x[:, -1, :]}

    def predict(self, profile):
        return {"mean": _exact()[0]}

    def _effect(self, profile, j):
        return detectable_effect(_exact()[1][j] / math.sqrt(_PATHS[profile]), level=row_level(2))

    def measure(self, profile, seed, results, prediction):
        x = results["sgd"]["x"]
        out = []
        for j, m in enumerate(prediction["mean"]):
            out.append(measurement(f"mean_x{j + 1}/k={K}", mean_ci(x[:, j], row_level(2)), prediction=m,
                                   band=(m - BAND, m + BAND), effect=self._effect(profile, j)))  # fmt: skip
        return out

    def synthetic(self, profile, kind, rng):
        if kind == "limit":
            return None
        mean, sd = _exact()
        shift = 0.0 if kind == "null" else BAND + np.array([self._effect(profile, j) for j in range(2)])
        return {"sgd": {"x": mean + shift + sd * rng.standard_normal((_PATHS[profile], 2))}}
