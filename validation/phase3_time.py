"""Claim ``phase3-time``: Proposition 3.6 (A.6) — Phase III, time to sum_{i>=2} H_i^2 <= epsilon w.p. >= 3/4.

Start at ``h0 = (sqrt(1 - delta^2), delta, 0, 0)`` (``H_1(0)^2 = 1 - delta^2``, the rest on
the slowest direction e_2, the case A.6's bound is written for), with ``delta^2 = DELTA2``
and ``epsilon = C_EPS eta phi/((1-mu)(lambda_1-lambda_2))`` (Prop. 3.6 ties
``eta ~ (1-mu) eps (lambda_1-lambda_2)/phi``; constant 1/C_EPS, since with constant 1 the
log argument of T3 is negative).  At each record the fraction ``p(t)`` of paths with
``sum_{i>=2} h_i^2 <= epsilon`` (raw iterate, as the paper writes H^{eta,i}) is formed.

* ``phase3_probability/T3=V/law=L/mu=M/tau=T``: ``p`` at the first record at or after
  ``T3_V`` (Wilson CI) against the stated ``>= 3/4`` (one-sided band [0.75, 1]: T3 comes
  from a Markov bound, so the inequality, not equality, is tested), for
  V = main (Prop. 3.6) and appendix (A.6); V = derived (what A.6's own inequality solves
  to, ``log(4(1-mu)g delta^2/((1-mu)g eps - 2 eta phi))``) is shown, ``judged=false``.
* ``phase3_time/...``: the first record time with ``p(t) >= 3/4``; CI from the first
  times the pointwise Wilson upper / lower limits reach 3/4; shown against T3_main,
  ``judged=false`` (a bound is not expected to be tight); ratios in the note.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from diffapprox import Claim, ClaimOutput, stats
from diffapprox import simulate
from diffapprox import T3

from ._common import (
    seed_history,
    claim_title,
    BOUNDED_LAW,
    LAWS,
    SPECTRUM_SOURCE,
    finite_count_note,
    new_figure,
    num,
    problem,
    save_figure,
    tag,
    tau_sde_inside,
)

ETA = {"quick": 1e-4, "standard": 5e-5, "paper": 2.5e-5}
PATHS = {"quick": 256, "standard": 2048, "paper": 8192}
DELTA2 = 0.1
C_EPS = 6.0
MUS = (0.0, 0.5)
PROB = 0.75
N_REC = 300
HORIZON_FACTOR = 1.5


def _grid(eta):
    for law in LAWS:
        for mu in MUS:
            taus = {0} if law != BOUNDED_LAW else {0, tau_sde_inside(mu, eta)}
            for tau in sorted(taus):
                yield law, mu, tau


def _eps(law, mu, eta) -> float:
    p = problem(law)
    return C_EPS * eta * p.phi / ((1 - mu) * p.gap)


def _t3(law, mu, eta, version) -> float:
    p = problem(law)
    eps, d = _eps(law, mu, eta), math.sqrt(DELTA2)
    if version == "derived":
        g = p.gap
        den = (1 - mu) * g * eps - 2 * eta * p.phi
        return (1 - mu) / (2 * g) * math.log(4 * (1 - mu) * g * DELTA2 / den) if den > 0 else math.nan
    return T3(p, mu=mu, eta=eta, delta=d, epsilon=eps, version=version)


VERSIONS = ("main", "appendix", "derived")


class Phase3Time(Claim):
    id = "phase3-time"
    order = 130
    paper_ref = "Proposition 3.6, A.6"
    statement = (
        "From H_1^2 >= 1 - delta^2, sum_{i>=2} H_i^2 <= epsilon at T3 = (1-mu)/(2(lambda1-lambda2)) "
        "log(...) with probability >= 3/4, for tau <~ (1-mu)^2/((lambda1+C_d) eta^(1/2-gamma))."
    )
    history = (seed_history("PASS"),)

    def parameters(self, profile: str) -> dict:
        eta = ETA[profile]
        return {
            "problem": SPECTRUM_SOURCE,
            "eta": eta,
            "delta2": DELTA2,
            "delta2_over_eta": DELTA2 / eta,
            "epsilon_rule": f"{C_EPS:g} eta phi/((1-mu)(lambda1-lambda2))",
            "epsilon": {f"{law}/mu={num(mu)}": _eps(law, mu, eta) for law in LAWS for mu in MUS},
            "T3": {f"{law}/mu={num(mu)}/{v}": _t3(law, mu, eta, v) for law in LAWS for mu in MUS for v in VERSIONS},
            "grid": [list(g) for g in _grid(eta)],
            "tau_rule": "0, and for the bounded law floor((1-mu)^2/((lambda1 + C_d) sqrt(eta))) (gamma -> 0)",
            "start_h0": [math.sqrt(1 - DELTA2), math.sqrt(DELTA2), 0.0, 0.0],
            "paths": PATHS[profile],
            "probability_band": [PROB, 1.0],
            "quantity": "sum_{i>=2} h_i^2 of the raw iterate",
            "horizon": f"{HORIZON_FACTOR} x max_V T3_V",
            "records": N_REC,
            "ci_level": 0.95,
        }

    def cells(self, profile: str, seed: int):
        eta = ETA[profile]
        out = []
        for law, mu, tau in _grid(eta):
            ts = [t for t in (_t3(law, mu, eta, v) for v in VERSIONS) if math.isfinite(t)]
            horizon = HORIZON_FACTOR * max(ts + [(1 - mu) / 2 * math.log(DELTA2 / _eps(law, mu, eta)) * 2])
            r = max(1, int(round(horizon / eta / N_REC)))
            steps = int(math.ceil(horizon / eta / r)) * r
            out.append(
                self.make_cell(
                    tag(law=law, mu=mu, tau=tau),
                    {
                        "law": law,
                        "mu": mu,
                        "tau": tau,
                        "eta": eta,
                        "steps": steps,
                        "record_every": r,
                        "paths": PATHS[profile],
                        "eps": _eps(law, mu, eta),
                    },
                    seed,
                    cost=steps * PATHS[profile],
                )
            )
        return out

    def run_cell(self, cell) -> dict:
        p = cell.params
        h0 = np.array([math.sqrt(1 - DELTA2), math.sqrt(DELTA2), 0.0, 0.0])
        traj = simulate(
            problem(p["law"]),
            mu=p["mu"],
            eta=p["eta"],
            steps=p["steps"],
            paths=p["paths"],
            delay=f"const:{p['tau']}",
            record_every=p["record_every"],
            start=h0,
            seed=cell.seed,
            record_h=False,
        )
        ok = traj.finite
        s = traj.norm2[ok] * traj.error[ok]  # sum_{i>=2} h_i^2
        return {
            "n_paths": p["paths"],
            "n_finite": int(ok.sum()),
            "times": traj.times,
            "k_below": (s <= p["eps"]).sum(axis=0),
            "mean_s": s.mean(axis=0),
        }

    def finish(self, profile: str, seed: int, results: dict, figdir: Path) -> ClaimOutput:
        eta = ETA[profile]
        ms, findings, incons, curves = [], [], [], []
        for law, mu, tau in _grid(eta):
            suf = tag(law=law, mu=mu, tau=tau)
            r = results[suf]
            t = np.asarray(r["times"])
            kb = np.asarray(r["k_below"]).astype(int)
            n = int(r["n_finite"])
            fin = finite_count_note(n, r["n_paths"])
            eps = _eps(law, mu, eta)
            cis = [stats.proportion_ci(int(k), n) for k in kb]
            tv = {v: _t3(law, mu, eta, v) for v in VERSIONS}
            for v in VERSIONS:
                t3 = tv[v]
                if not math.isfinite(t3):
                    ms.append(
                        stats.measurement(
                            f"phase3_probability/T3={v}/{suf}",
                            math.nan,
                            None,
                            PROB,
                            (PROB, 1.0),
                            judged=(v != "derived"),
                            note="T3 undefined (log argument <= 0) at these parameters",
                        )
                    )
                    continue
                j = int(np.searchsorted(t, max(t3, 0.0) - 1e-12))
                j = min(j, t.size - 1)
                e = cis[j]
                ms.append(
                    stats.measurement(
                        f"phase3_probability/T3={v}/{suf}",
                        e,
                        None,
                        PROB,
                        (PROB, 1.0),
                        judged=(v != "derived"),
                        note=(
                            f"fraction with sum_(i>=2) h_i^2 <= eps={eps:.4g} at t={t[j]:.4g} (first record >= T3_{v}="
                            f"{t3:.4g}); inequality >= 3/4 (Markov bound), one-sided band; {fin}"
                            + (
                                "; 'derived' = what A.6's inequality solves to (not printed by the paper)"
                                if v == "derived"
                                else ""
                            )
                        ),
                    )
                )
            p = kb / max(n, 1)
            hit = np.nonzero(p >= PROB)[0]
            up = np.nonzero(np.array([c.ci[1] for c in cis]) >= PROB)[0]
            lo = np.nonzero(np.array([c.ci[0] for c in cis]) >= PROB)[0]
            te = float(t[hit[0]]) if hit.size else math.nan
            ci = (float(t[up[0]]) if up.size else math.nan, float(t[lo[0]]) if lo.size else math.inf)
            ratios = ", ".join(
                f"{v} {te / tv[v]:.3f}" if math.isfinite(tv[v]) and tv[v] > 0 else f"{v} n/a" for v in VERSIONS
            )
            ms.append(
                stats.measurement(
                    f"phase3_time/{suf}",
                    te,
                    ci,
                    tv["main"],
                    None,
                    judged=False,
                    note=(
                        f"first record time with P(sum_(i>=2) h_i^2 <= eps) >= 3/4; CI from pointwise Wilson limits; "
                        f"ratio to T3: {ratios}; T3 is a Markov-inequality bound, not expected to be tight; {fin}"
                    ),
                )
            )
            findings.append(
                f"{suf}: eps={eps:.4g}, t_(3/4)={te:.4g}; T3 main {tv['main']:.4g}, appendix "
                f"{tv['appendix']:.4g}, derived {tv['derived']:.4g}; P at T3: "
                + ", ".join(f"{m.name.split('/')[1]} {m.estimate:.3f}" for m in ms[-4:-1] if m.estimate is not None)
            )
            curves.append((suf, t, p, tv))
        incons.append(
            "Prop. 3.6 prints log(8(1-mu)g delta^2/((1-mu)g eps - 4 eta phi)) and A.6 prints "
            "log((1-mu)g delta^2/((1-mu)g eps - 2 eta phi)); the Markov inequality A.6 writes down solves to "
            "log(4(1-mu)g delta^2/((1-mu)g eps - 2 eta phi)): three different T3."
        )
        incons.append(
            "With Prop. 3.6's own step size eta = (1-mu) eps g/phi (constant 1), both printed T3 have a "
            "negative log argument (undefined); a smaller constant (here 1/6) is needed."
        )
        incons.append(
            "A.6 bounds sum_i alpha_i1^2/(2(1-mu)(lambda1-lambda_i)) by phi/(2(1-mu)(lambda1-lambda2)) with "
            "phi = sum_j alpha_1j^2 including j = 1 (E[Y_1^4]); the bound is loose, so T3 over-states the time."
        )
        from matplotlib.lines import Line2D

        fig, axes = new_figure(size=(7.6, 4.8))
        ax = axes[0, 0]
        xmax = 1.5
        for i, (suf, t, p, tv) in enumerate(curves):
            x = np.asarray(t) / tv["main"]
            ax.plot(x, p, lw=1.2, color=f"C{i}", label=suf.replace("/", ", "))
            if math.isfinite(tv["appendix"]):
                xa = tv["appendix"] / tv["main"]
                ax.plot([xa], [1.03], marker="v", color=f"C{i}", ms=6, clip_on=False)
                xmax = max(xmax, xa * 1.1)
        ax.axhspan(PROB, 1.0, color="0.9", zorder=0)
        ax.axvline(1.0, color="k", lw=0.8)
        ax.set_xlim(0, min(xmax, 3.0))
        ax.set_ylim(-0.02, 1.08)
        ax.set_xlabel("time / T3 (Prop. 3.6, main text)")
        ax.set_ylabel("fraction of paths with sum_(i>=2) h_i^2 <= eps")
        h, lab = ax.get_legend_handles_labels()
        h += [
            Line2D([], [], color="0.9", lw=6),
            Line2D([], [], color="k", lw=0.8),
            Line2D([], [], color="0.3", marker="v", ls="none"),
        ]
        lab += [f"Prop. 3.6: >= {PROB:g} by T3", "T3 main text (x = 1)", "T3 appendix A.6 (same colour)"]
        ax.legend(h, lab, fontsize=7, loc="lower right")
        claim_title(
            fig,
            self,
            f"phase III, eta={eta:g}: fraction of paths within eps of e_1 against time; "
            "judged at x = 1 and at the triangles",
            fontsize=9,
        )
        figs = save_figure(fig, figdir, "phase3_time")
        return ClaimOutput(
            measurements=ms,
            figures=figs,
            findings=findings,
            inconsistencies=incons,
            parameters=self.parameters(profile),
        )
