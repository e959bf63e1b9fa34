"""Claim ``momentum-bias`` (Lemma 3.2): ||m_{k+1} - M~(h_k)|| <= O(eta log(1/eta)) + O(tau lambda1 eta/(1-mu)^2).

m_{k+1} = mu m_k + (Sigma w_k - w_k^T Sigma w_k w_k) (noise-free momentum sum, w_k = h_{k-tau}),
M~(h) = (Sigma h - h^T Sigma h h)/(1-mu); per path the sup over k <= T/eta
(diffapprox/_diagnostics.py; grid in validation/_lemmas.py).  Judged, one-sided, bands
stated before measuring:

* ``slope/eta/tau=0/mu=0.7``: log-log slope of the sup on eta at tau = 0 must be at least
  the local slope of eta log(1/eta) on this eta range (0.86) minus 0.2;
* ``slope/delay_term``: slope of [sup(tau) - sup(0)] on x = tau lambda1 eta/(1-mu)^2 over
  all tau > 0 cells, >= 0.8 (a term O(x) must vanish at least linearly in x).

Informative: ``ratio_max/delay_term`` = max over cells of [sup(tau) - sup(0)] / x.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from diffapprox import Claim, ClaimOutput, register
from diffapprox.stats import measurement

from . import _lemmas as lm
from . import _tradeoff as tr

L1 = lm.SPECTRUM[0]
_E = np.array(lm.ETAS)
_LOCAL = float(np.polyfit(np.log(_E), np.log(_E * np.log(1 / _E)), 1)[0])


@register
class MomentumBias(Claim):
    id = "momentum-bias"
    paper_ref = "Lemma 3.2"
    statement = "||m_{k+1} - M~(v_k)|| <= O(eta log(1/eta)) + O(tau lambda1 eta/(1-mu)^2) w.p. 1."

    def parameters(self, profile):
        p = lm.parameters(profile)
        p["bands"] = {"slope/eta/tau=0/mu=0.7": [_LOCAL - 0.2, None], "slope/delay_term": [0.8, None]}
        return p

    def cells(self, profile, seed):
        return lm.cells(self, profile, seed)

    def run_cell(self, cell):
        return lm.run(cell)

    def finish(self, profile, seed, results, figdir: Path) -> ClaimOutput:
        nb = lm.PROFILES[profile]["n_boot"]
        g = lm.grid()
        S = {c: results[lm.key(*c)]["bias_sup"] for c in g}
        inf = math.inf
        meas = []
        sel = [c for c in g if c[0] == 0.7 and c[2] == 0]
        est, ci = tr.boot_slope([c[1] for c in sel], [S[c] for c in sel], lambda ss: [s.mean() for s in ss],
                                n_boot=nb, seed=seed + 5)
        band = (_LOCAL - 0.2, inf)
        meas.append(measurement("slope/eta/tau=0/mu=0.7", est, ci, prediction=_LOCAL, band=band,
                                verdict=tr.band_verdict(ci, band),
                                note="prediction: local slope of eta log(1/eta) on the eta grid"))
        pos = [c for c in g if c[2] > 0]
        zero = {(c[0], c[1]): (c[0], c[1], 0) for c in pos}
        x = np.array([c[2] * L1 * c[1] / (1 - c[0]) ** 2 for c in pos])
        samples = [S[c] for c in pos] + [S[zero[(c[0], c[1])]] for c in pos]
        n = len(pos)

        def diff(ss):
            return [ss[i].mean() - ss[n + i].mean() for i in range(n)]

        est, ci = tr.boot_slope(x, samples, diff, n_boot=nb, seed=seed + 6)
        meas.append(measurement("slope/delay_term", est, ci, prediction=1.0, band=(0.8, inf),
                                verdict=tr.band_verdict(ci, (0.8, inf)),
                                note="sup(tau) - sup(0) against tau lambda1 eta/(1-mu)^2, all tau > 0 cells"))
        d = np.array(diff(samples))
        r = d / x
        meas.append(measurement("ratio_max/delay_term", float(r.max()), (float(r.min()), float(r.max())),
                                informative=False, note="max (min as the 'ci') of [sup(tau)-sup(0)] / x"))
        fig, axes = tr.new_figure(ncols=2, width=4.6, height=3.8)
        for j, mu in enumerate(lm.MUS):
            z = [c for c in g if c[0] == mu and c[2] == 0]
            axes[0].plot([c[1] for c in z], [S[c].mean() for c in z], "o-", color=f"C{j}", label=f"mu={mu:g}")
            idx = [i for i, c in enumerate(pos) if c[0] == mu]
            axes[1].plot(x[idx], np.clip(d[idx], 1e-6, None), "o", color=f"C{j}", label=f"mu={mu:g}")
        axes[0].plot(_E, _E * np.log(1 / _E) * S[sel[1]].mean() / (5e-4 * np.log(2000)), "k--", lw=1,
                     label="eta log(1/eta)")
        axes[0].set_xlabel("eta")
        axes[0].set_ylabel("mean sup_k ||m_{k+1} - M~(h_k)||, tau = 0")
        xs = np.geomspace(x.min(), x.max(), 10)
        axes[1].plot(xs, xs * np.median(r), "k--", lw=1, label="linear")
        axes[1].set_xlabel("tau lambda1 eta/(1-mu)^2")
        axes[1].set_ylabel("sup(tau) - sup(0)")
        for ax in axes:
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.legend(fontsize=7)
        fig.tight_layout()
        figs = tr.save_figure(fig, figdir, "momentum_bias")
        params = self.parameters(profile)
        params["diverged_paths"] = {lm.key(*c): results[lm.key(*c)]["diverged"] for c in g}
        return ClaimOutput(measurements=meas, figures=figs, parameters=params,
                           findings=[f"[sup(tau)-sup(0)]/(tau lambda1 eta/(1-mu)^2) in [{r.min():.3g}, {r.max():.3g}]"],
                           inconsistencies=["A.2 states the Lipschitz constant of M~ as lambda1/(1-mu); for "
                                            "Sigma v - v^T Sigma v v on the unit sphere it can reach about 3 lambda1/(1-mu) (a constant only)."])
