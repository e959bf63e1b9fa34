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

from diffapprox import ClaimOutput, derive_seed
from diffapprox.stats import measurement

from . import _lemmas as lm
from . import _tradeoff as tradeoff
from ._common import claim_title, log_ticks

L1 = lm.SPECTRUM[0]
_E = np.array(lm.ETAS)
_LOCAL = float(np.polyfit(np.log(_E), np.log(_E * np.log(1 / _E)), 1)[0])


class MomentumBias(lm.LemmaGridClaim):
    id = "momentum-bias"
    order = 70
    history = (tradeoff.seeds_entry(2, "PASS"),)
    paper_ref = "Lemma 3.2"
    statement = "||m_{k+1} - M~(v_k)|| <= O(eta log(1/eta)) + O(tau lambda1 eta/(1-mu)^2) w.p. 1."

    bands = {"slope/eta/tau=0/mu=0.7": [_LOCAL - 0.2, None], "slope/delay_term": [0.8, None]}

    def finish(self, profile, seed, results, figdir: Path) -> ClaimOutput:
        nb = lm.PROFILES[profile]["n_boot"]
        g = lm.grid()
        S = {c: results[lm.key(*c)]["bias_sup"] for c in g}
        inf = math.inf
        meas = []
        sel = [c for c in g if c[0] == 0.7 and c[2] == 0]
        est, ci = tradeoff.boot_slope(
            [c[1] for c in sel],
            [S[c] for c in sel],
            lambda ss: [s.mean() for s in ss],
            n_boot=nb,
            seed=derive_seed(seed, self.id, "slope/eta"),
        )
        band = (_LOCAL - 0.2, inf)
        meas.append(
            measurement(
                "slope/eta/tau=0/mu=0.7",
                est,
                ci,
                prediction=_LOCAL,
                band=band,
                verdict=tradeoff.band_verdict(ci, band),
                note="prediction: local slope of eta log(1/eta) on the eta grid",
            )
        )
        pos = [c for c in g if c[2] > 0]
        zero = {(c[0], c[1]): (c[0], c[1], 0) for c in pos}
        x = np.array([c[2] * L1 * c[1] / (1 - c[0]) ** 2 for c in pos])
        samples = [S[c] for c in pos] + [S[zero[(c[0], c[1])]] for c in pos]
        n = len(pos)

        def diff(ss):
            return [ss[i].mean() - ss[n + i].mean() for i in range(n)]

        est, ci = tradeoff.boot_slope(x, samples, diff, n_boot=nb, seed=derive_seed(seed, self.id, "slope/delay_term"))
        meas.append(
            measurement(
                "slope/delay_term",
                est,
                ci,
                prediction=1.0,
                band=(0.8, inf),
                verdict=tradeoff.band_verdict(ci, (0.8, inf)),
                note="sup(tau) - sup(0) against tau lambda1 eta/(1-mu)^2, all tau > 0 cells",
            )
        )
        d = np.array(diff(samples))
        r = d / x
        meas.append(
            measurement(
                "ratio_max/delay_term",
                float(r.max()),
                (float(r.min()), float(r.max())),
                judged=False,
                note="max (min as the 'ci') of [sup(tau)-sup(0)] / x",
            )
        )
        fig, axes = tradeoff.new_figure(ncols=2, width=5.2, height=4.4)
        pos_d = d > 0
        floor = float(d[pos_d].min()) / 3 if pos_d.any() else 1e-6
        for j, mu in enumerate(lm.MUS):
            z = [c for c in g if c[0] == mu and c[2] == 0]
            axes[0].plot([c[1] for c in z], [S[c].mean() for c in z], "o-", color=f"C{j}", label=f"mu={mu:g}")
            idx = np.array([i for i, c in enumerate(pos) if c[0] == mu], dtype=int)
            ok = idx[pos_d[idx]]
            axes[1].plot(x[ok], d[ok], "o", color=f"C{j}", label=f"mu={mu:g}")
            bad = idx[~pos_d[idx]]
            if bad.size:
                axes[1].plot(x[bad], np.full(bad.size, floor), "v", mfc="none", color=f"C{j}")
        axes[0].plot(
            _E,
            _E * np.log(1 / _E) * S[sel[1]].mean() / (5e-4 * np.log(2000)),
            "k--",
            lw=1,
            label="Lemma 3.2: eta log(1/eta) (through mu=0.7)",
        )
        m0 = meas[0]
        axes[0].set_title(
            f"no delay: slope at mu=0.7 = {m0.estimate:.2f} [{m0.ci[0]:.2f}, {m0.ci[1]:.2f}], "
            f"band >= {m0.tolerance[0]:.2f}",
            fontsize=8,
        )
        axes[0].set_xlabel("step size eta (log)")
        axes[0].set_ylabel("mean over paths of sup_k ||m_(k+1) - M~(h_k)||, tau=0 (log)", fontsize=9)
        xs = np.geomspace(x.min(), x.max(), 10)
        axes[1].plot(xs, xs * np.median(r), "k--", lw=1, label="Lemma 3.2: linear in x (slope 1)")
        m1 = meas[1]
        if pos_d.any():
            c1 = float(np.mean(np.log(d[pos_d]) - m1.estimate * np.log(x[pos_d])))
            axes[1].plot(
                xs,
                np.exp(c1) * xs**m1.estimate,
                ":",
                color="0.3",
                lw=1.2,
                label=f"fit: slope {m1.estimate:.2f} [{m1.ci[0]:.2f}, {m1.ci[1]:.2f}]",
            )
        axes[1].set_title("delay term" + (" (open triangles: difference <= 0)" if (~pos_d).any() else ""), fontsize=8)
        axes[1].set_xlabel("x = tau lambda1 eta/(1-mu)^2  (log)")
        axes[1].set_ylabel("sup(tau) - sup(tau=0), same (mu, eta)  (log)", fontsize=9)
        for k, ax in enumerate(axes):
            ax.set_xscale("log")
            ax.set_yscale("log")
            log_ticks(ax, at=_E if k == 0 else None)
            ax.legend(fontsize=7, loc="upper left")
        claim_title(
            fig,
            self,
            "momentum m_(k+1) vs its limit M~(h_k) = (Sigma h - h'Sigma h h)/(1-mu); "
            "PASS: both slopes above their bands",
            fontsize=9,
        )
        figs = tradeoff.save_figure(fig, figdir, "momentum_bias")
        params = self.parameters(profile)
        params["diverged_paths"] = {lm.key(*c): results[lm.key(*c)]["diverged"] for c in g}
        return ClaimOutput(
            measurements=meas,
            figures=figs,
            parameters=params,
            findings=[f"[sup(tau)-sup(0)]/(tau lambda1 eta/(1-mu)^2) in [{r.min():.3g}, {r.max():.3g}]"],
            inconsistencies=[
                "A.2 states the Lipschitz constant of M~ as lambda1/(1-mu); for "
                "Sigma v - v^T Sigma v v on the unit sphere it can reach about 3 lambda1/(1-mu) (a constant only)."
            ],
        )
