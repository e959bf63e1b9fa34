"""Claim ``dnn-tradeoff``: the optimal momentum falls as asynchronous workers are added (Section 5.2, Figure 2).

The paper trains SphereResNet34 on CIFAR-100 with 1..8 workers and finds the best
momentum 0.9 for one worker and 0.5 for eight.  Here: an MLP on scikit-learn's
bundled digits, Async-MSGD with simulated staleness (see :func:`diffapprox.train_async_msgd`),
the paper's grid of momenta and worker counts, the paper's initial step size 0.2
and its decay schedule scaled to the run.

Statistics, fixed before measuring:

* per (delay kind, M, mu): final validation accuracy averaged over seeds, 95% t-interval;
* per (delay kind, M): the argmax momentum ``mu*(M)`` of the mean accuracy (ties: the
  mean of the tied momenta), with a 95% percentile bootstrap interval;
* trend: Spearman's rho between M and ``mu*(M)`` (rho := 0 when ``mu*`` is constant),
  95% percentile bootstrap interval.  The bootstrap resamples seeds jointly across all
  (M, mu) of a delay kind, because a seed fixes the initial weights and minibatches of
  every cell (common random numbers: comparisons across mu and M are paired).

Verdict per delay kind: PASS if ``mu*(M)`` is non-increasing in M and the rho interval
lies below 0; FAIL if the rho interval lies above 0 (the optimal momentum increases);
INCONCLUSIVE otherwise.  The claim combines the two delay kinds (``const:M-1``
round-robin and ``workers:M``) by the usual rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from diffapprox import Claim, ClaimOutput, Measurement, Verdict
from diffapprox import Cell, derive_seed
from diffapprox import DiffapproxError

from ._common import save_figure

MOMENTA = (0.1, 0.3, 0.5, 0.7, 0.9)
WORKERS = (1, 2, 4, 8)
KINDS = ("const", "workers")
CI_LEVEL = 0.95
LR = 0.2
BATCH = 32
HIDDEN = (64, 64)
DECAY_AT = (0.3, 0.6, 0.8)
DECAY_FACTOR = 0.2
#: Paper, Figure 2: optimal momentum for 1 and 8 workers (shown for context).
PAPER_OPTIMUM = {1: 0.9, 8: 0.5}

_PROFILES = {
    # quick checks structure only: 2 seeds cannot decide anything.
    "quick": {"seeds": 2, "epochs": 6, "n_boot": 400},
    "standard": {"seeds": 10, "epochs": 30, "n_boot": 2000},
    # the paper's 200 epochs and 10 repetitions
    "paper": {"seeds": 10, "epochs": 200, "n_boot": 5000},
}


def delay_spec(kind: str, m: int) -> str:
    """``const:M-1`` (M workers served round-robin) or ``workers:M`` (exponential compute times)."""
    if kind == "const":
        return f"const:{m - 1}"
    if kind == "workers":
        return f"workers:{m}"
    raise DiffapproxError("kind", "const or workers", kind)


def _alias(kind: str, m: int) -> str:
    """The delay kind whose cells hold the runs of (kind, M): one worker has no delay under either law."""
    return "const" if m == 1 else kind


# ----------------------------------------------------------------------------- statistics


def t_interval(x: np.ndarray, level: float = CI_LEVEL):
    """Mean and Student-t interval over the last axis (:func:`diffapprox.stats.mean_ci`, elementwise)."""
    from diffapprox.stats import mean_ci

    x = np.asarray(x, dtype=float)
    flat = x.reshape(-1, x.shape[-1])
    est = [mean_ci(row, level=level) for row in flat]
    shape = x.shape[:-1]
    m = np.array([e.estimate for e in est]).reshape(shape)
    lo = np.array([e.ci[0] for e in est]).reshape(shape)
    hi = np.array([e.ci[1] for e in est]).reshape(shape)
    return m, lo, hi


def argmax_momentum(mean_acc: np.ndarray, momenta=MOMENTA) -> np.ndarray:
    """``mu*`` per row of ``mean_acc`` (shape (..., n_mu)); ties -> mean of the tied momenta."""
    a = np.asarray(mean_acc, dtype=float)
    mom = np.asarray(momenta, dtype=float)
    best = a.max(axis=-1, keepdims=True)
    tied = np.isclose(a, best, rtol=0.0, atol=1e-12)
    return (tied * mom).sum(axis=-1) / tied.sum(axis=-1)


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho between fixed ``x`` (shape (n,)) and each row of ``y`` (shape (B, n)).

    Average ranks for ties; rho := 0 for a constant row (no trend).
    """
    from scipy.stats import rankdata

    rx = rankdata(np.asarray(x, dtype=float))
    ry = rankdata(np.atleast_2d(np.asarray(y, dtype=float)), axis=-1)
    rx = rx - rx.mean()
    ry = ry - ry.mean(axis=-1, keepdims=True)
    den = np.sqrt((rx**2).sum() * (ry**2).sum(axis=-1))
    num = (ry * rx).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return rho


def trend_analysis(
    acc: np.ndarray, *, n_boot: int, rng: np.random.Generator, workers=WORKERS, momenta=MOMENTA, level: float = CI_LEVEL
) -> dict:
    """Argmax momentum per worker count and the Spearman trend, with seed-bootstrap intervals.

    Parameters
    ----------
    acc : ndarray, shape (n_M, n_mu, n_seeds)
        Validation accuracies; seed j is the same stream in every (M, mu).
    """
    acc = np.asarray(acc, dtype=float)
    n_seeds = acc.shape[-1]
    mu_star = argmax_momentum(acc.mean(axis=-1), momenta)  # (n_M,)
    rho = float(spearman_rows(np.asarray(workers, float), mu_star[None, :])[0])
    idx = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    boot_mean = acc[:, :, idx].mean(axis=-1)  # (n_M, n_mu, B)
    boot_star = argmax_momentum(np.moveaxis(boot_mean, -1, 0), momenta)  # (B, n_M)
    boot_rho = spearman_rows(np.asarray(workers, float), boot_star)
    q = [(1 - level) / 2, (1 + level) / 2]
    star_ci = np.quantile(boot_star, q, axis=0).T  # (n_M, 2)
    rho_ci = tuple(float(v) for v in np.quantile(boot_rho, q))
    non_increasing = bool(np.all(np.diff(mu_star) <= 1e-12))
    if non_increasing and rho_ci[1] < 0:
        verdict = Verdict.PASS
    elif rho_ci[0] > 0:
        verdict = Verdict.FAIL
    else:
        verdict = Verdict.INCONCLUSIVE
    return {
        "mu_star": mu_star,
        "mu_star_ci": star_ci,
        "rho": rho,
        "rho_ci": rho_ci,
        "p_rho_negative": float(np.mean(boot_rho < 0)),
        "non_increasing": non_increasing,
        "verdict": verdict,
    }


# ----------------------------------------------------------------------------- the claim


class DnnTradeoff(Claim):
    id = "dnn-tradeoff"
    order = 140
    paper_ref = "Section 5.2, Figure 2"
    statement = (
        "In training a neural network by Async-MSGD, the optimal momentum decreases as the number of "
        "asynchronous workers grows (paper: 0.9 for 1 worker, 0.5 for 8)."
    )
    requires = ("torch", "sklearn")
    extra = "dnn"

    def parameters(self, profile: str) -> dict:
        if profile not in _PROFILES:
            raise DiffapproxError("profile", f"one of {', '.join(_PROFILES)}", profile)
        from diffapprox import mlp_description

        p = _PROFILES[profile]
        net = mlp_description(HIDDEN)
        return {
            "network": net["name"],
            "network_parameters": net["parameters"],
            "data": "scikit-learn digits (1,797 8x8 images, 10 classes), stratified split "
            "1,347 train / 450 validation (fixed split seed 0), pixels /16, centred by the train mean",
            "algorithm": "Async-MSGD x_{k+1} = x_k + mu (x_k - x_{k-1}) - eta_k grad f_{B_k}(x_{k-tau_k}); "
            "one momentum buffer on the server; workers simulated by staleness (ring buffer of past "
            "parameter vectors, x_{-i} = x_0)",
            "momenta": list(MOMENTA),
            "workers": list(WORKERS),
            "delay_laws": {k: [delay_spec(k, m) for m in WORKERS] for k in KINDS},
            "delay_law_notes": "const:M-1 = M workers served round-robin; workers:M = M workers with "
            "exponential compute times (queue from its start, geometric staleness of mean M-1)",
            "lr": LR,
            "lr_convention": "eta and mu independent as in the paper (effective heavy-ball step eta/(1-mu), "
            "not normalised)",
            "lr_schedule": f"eta x {DECAY_FACTOR} after {', '.join(f'{int(f * 100)}%' for f in DECAY_AT)} "
            "of the steps (paper: after 60, 120, 160 of 200 epochs)",
            "batch_size": BATCH,
            "epochs": p["epochs"],
            "seeds": p["seeds"],
            "bootstrap_replicates": p["n_boot"],
            "ci_level": CI_LEVEL,
            "seeding": "seed j fixes the initial weights, minibatch order and delays of every (M, mu) cell "
            "(common random numbers); bootstrap resamples seeds",
            "determinism": "torch.manual_seed per cell, use_deterministic_algorithms(True), 1 thread per cell",
            "verdict_rule": "per delay kind: PASS if mu*(M) non-increasing and the Spearman(M, mu*) "
            "bootstrap CI < 0; FAIL if that CI > 0; else INCONCLUSIVE",
        }

    def cells(self, profile: str, seed: int) -> list[Cell]:
        par = self.parameters(profile)
        steps = (1347 // BATCH) * par["epochs"]
        out = []
        for kind in KINDS:
            for m in WORKERS:
                if _alias(kind, m) != kind:
                    continue  # workers:1 is const:0 (no delay): the same runs, bit for bit
                for mu in MOMENTA:
                    for r in range(par["seeds"]):
                        key = f"delay={kind}/M={m}/mu={mu}/rep={r}"
                        params = {
                            "kind": kind,
                            "M": m,
                            "delay": delay_spec(kind, m),
                            "momentum": mu,
                            "rep": r,
                            "epochs": par["epochs"],
                            "lr": LR,
                            "batch_size": BATCH,
                            "hidden": list(HIDDEN),
                            "decay_at": list(DECAY_AT),
                            "decay_factor": DECAY_FACTOR,
                        }
                        # The stream seed depends on (master seed, rep) only: common random numbers.
                        # Single-threaded torch: the cell keeps one core busy.
                        out.append(
                            Cell(
                                claim=self.id,
                                key=key,
                                params=params,
                                seed=derive_seed(seed, self.id, f"rep={r}"),
                                cost=float(steps),
                                uses="core",
                            )
                        )
        return out

    def run_cell(self, cell: Cell) -> dict:
        from diffapprox import TrainConfig, train_async_msgd

        p = cell.params
        cfg = TrainConfig(
            momentum=p["momentum"],
            delay=p["delay"],
            epochs=p["epochs"],
            lr=p["lr"],
            batch_size=p["batch_size"],
            hidden=tuple(p["hidden"]),
            decay_at=tuple(p["decay_at"]),
            decay_factor=p["decay_factor"],
        )
        r = train_async_msgd(cfg, cell.seed, threads=1)
        return {
            k: r[k]
            for k in (
                "val_acc",
                "val_loss",
                "train_loss",
                "diverged",
                "steps",
                "mean_delay",
                "max_delay",
                "val_acc_epochs",
                "n_parameters",
                "elapsed_s",
            )
        }

    # ------------------------------------------------------------------ finish
    def finish(self, profile: str, seed: int, results: dict[str, dict], figdir: Path) -> ClaimOutput:
        par = self.parameters(profile)
        n_seeds = par["seeds"]
        acc = {k: np.full((len(WORKERS), len(MOMENTA), n_seeds), np.nan) for k in KINDS}
        diverged = {k: 0 for k in KINDS}
        missing = []
        for kind in KINDS:
            for i, m in enumerate(WORKERS):
                for j, mu in enumerate(MOMENTA):
                    for r in range(n_seeds):
                        key = f"delay={_alias(kind, m)}/M={m}/mu={mu}/rep={r}"
                        res = results.get(key)
                        if res is None:
                            missing.append(key)
                            continue
                        acc[kind][i, j, r] = float(res["val_acc"])
                        diverged[kind] += bool(res.get("diverged", False))
        missing = list(dict.fromkeys(missing))  # const/M=1 serves both kinds: count it once
        if missing:
            raise DiffapproxError(
                "results", f"all {len(self.cells(profile, seed))} cells", f"{len(missing)} missing, e.g. {missing[0]}"
            )

        measurements: list[Measurement] = []
        findings: list[str] = []
        analyses = {}
        for kind in KINDS:
            rng = np.random.default_rng(derive_seed(seed, self.id, f"bootstrap/{kind}"))
            a = trend_analysis(acc[kind], n_boot=par["bootstrap_replicates"], rng=rng)
            analyses[kind] = a
            measurements.append(
                Measurement(
                    name=f"momentum_trend_spearman/delay={kind}",
                    estimate=a["rho"],
                    ci=a["rho_ci"],
                    prediction=None,
                    tolerance=(-1.0, 0.0),
                    verdict=a["verdict"],
                    ci_level=CI_LEVEL,
                    note=(
                        f"Spearman rho between M in {list(WORKERS)} and the argmax momentum mu*(M) "
                        f"{[float(v) for v in a['mu_star']]}; seed bootstrap ({par['bootstrap_replicates']} replicates), "
                        f"P(rho<0)={a['p_rho_negative']:.3f}; mu* non-increasing: {a['non_increasing']}. "
                        "PASS needs mu* non-increasing and the CI below 0; FAIL if the CI is above 0."
                    ),
                )
            )
            for i, m in enumerate(WORKERS):
                lo, hi = a["mu_star_ci"][i]
                measurements.append(
                    Measurement(
                        name=f"optimal_momentum/delay={kind}/M={m}",
                        estimate=float(a["mu_star"][i]),
                        ci=(float(lo), float(hi)),
                        prediction=PAPER_OPTIMUM.get(m),
                        tolerance=None,
                        verdict=Verdict.INCONCLUSIVE,
                        ci_level=CI_LEVEL,
                        judged=False,
                        note=f"argmax over mu of the mean validation accuracy, delay {delay_spec(kind, m)}; "
                        "CI: seed bootstrap percentiles (prediction: the paper's CIFAR-100 optimum, for context)",
                    )
                )
            for i, m in enumerate(WORKERS):
                order = np.argsort(-acc[kind][i].mean(axis=-1), kind="stable")
                diff = acc[kind][i, order[0]] - acc[kind][i, order[1]]  # paired over seeds
                dm, dlo, dhi = t_interval(diff[None, :])
                measurements.append(
                    Measurement(
                        name=f"argmax_margin/delay={kind}/M={m}",
                        estimate=float(dm[0]),
                        ci=(float(dlo[0]), float(dhi[0])),
                        prediction=None,
                        tolerance=None,
                        verdict=Verdict.INCONCLUSIVE,
                        ci_level=CI_LEVEL,
                        judged=False,
                        note=f"accuracy of the best momentum ({MOMENTA[order[0]]:g}) minus the runner-up "
                        f"({MOMENTA[order[1]]:g}), paired over seeds, Student-t interval: how firmly mu* is decided",
                    )
                )
            mean, lo, hi = t_interval(acc[kind])
            for i, m in enumerate(WORKERS):
                for j, mu in enumerate(MOMENTA):
                    measurements.append(
                        Measurement(
                            name=f"val_accuracy/delay={kind}/M={m}/mu={mu}",
                            estimate=float(mean[i, j]),
                            ci=(float(lo[i, j]), float(hi[i, j])),
                            prediction=None,
                            tolerance=None,
                            verdict=Verdict.INCONCLUSIVE,
                            ci_level=CI_LEVEL,
                            judged=False,
                            note=f"mean over {n_seeds} seeds, Student-t interval",
                        )
                    )
            best = ", ".join(
                f"M={m}: {a['mu_star'][i]:g} [{a['mu_star_ci'][i][0]:g}, {a['mu_star_ci'][i][1]:g}]"
                for i, m in enumerate(WORKERS)
            )
            findings.append(
                f"delay {kind}: argmax momentum {best}; Spearman rho {a['rho']:.2f} "
                f"CI [{a['rho_ci'][0]:.2f}, {a['rho_ci'][1]:.2f}] -> {a['verdict']}."
            )
            margins = [
                f"M={m}: {x.estimate:.4f} [{x.ci[0]:.4f}, {x.ci[1]:.4f}]"
                for m, x in zip(WORKERS, [x for x in measurements if x.name.startswith(f"argmax_margin/delay={kind}/")])
            ]
            findings.append(
                f"delay {kind}: accuracy margin of the best momentum over the runner-up "
                f"(paired over seeds) {'; '.join(margins)}."
            )
            if diverged[kind]:
                findings.append(
                    f"delay {kind}: {diverged[kind]} runs diverged (scored as the best constant predictor)."
                )
        if profile == "quick":
            findings.append("quick profile: 2 seeds and 6 epochs check the machinery only; the verdict means little.")
        findings.append(
            "One momentum buffer on the server (Async-MSGD), not one per worker; eta and mu "
            "independent as in the paper (effective step eta/(1-mu))."
        )

        figures = _figure(acc, analyses, figdir, par, title=f"{self.id} \u2014 {self.paper_ref}")
        parameters = dict(par)
        return ClaimOutput(measurements=measurements, figures=figures, findings=findings, parameters=parameters)


def _figure(acc: dict, analyses: dict, figdir: Path, par: dict, title: str = "") -> list[str]:
    """Figure 2 analogue: validation accuracy vs momentum, one curve per M, 95% t bands; PNG and SVG.

    Top row: the full range (runs that collapse at large momentum and delay).  Bottom row:
    zoomed on the best accuracies, where the argmax is decided (the paper's Figure 2 is zoomed too).
    """
    from matplotlib.figure import Figure

    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(9.0, 6.6), layout="constrained")
    axes = fig.subplots(2, len(KINDS), sharey="row", squeeze=False)
    mom = np.asarray(MOMENTA)
    stats = {kind: t_interval(acc[kind]) for kind in KINDS}
    low = min(float(np.nanmin(st[0])) for st in stats.values())
    top = max(float(np.nanmax(st[0])) for st in stats.values())
    n_seeds = int(np.asarray(acc[KINDS[0]]).shape[-1])
    # a t-interval over 2-3 seeds is wider than [0, 1] (t quantile 12.7 at 1 df): draw the seeds instead
    show_ci = n_seeds >= 4
    for col, kind in enumerate(KINDS):
        mean, lo, hi = stats[kind]
        raw = np.asarray(acc[kind], dtype=float)
        for row in (0, 1):
            ax = axes[row, col]
            for i, m in enumerate(WORKERS):
                dx = 0.012 * (i - (len(WORKERS) - 1) / 2)
                (line,) = ax.plot(mom + dx, mean[i], marker="o", ms=4, label=f"M={m}")
                c = line.get_color()
                if show_ci and np.all(np.isfinite(lo[i])):  # accuracies live in [0, 1]: clip the intervals
                    ax.errorbar(
                        mom + dx,
                        mean[i],
                        yerr=[mean[i] - np.clip(lo[i], 0, 1), np.clip(hi[i], 0, 1) - mean[i]],
                        fmt="none",
                        ecolor=c,
                        elinewidth=0.8,
                        capsize=2,
                        alpha=0.7,
                    )
                for r in range(raw.shape[-1]):
                    ax.plot(mom + dx, raw[i, :, r], ".", color=c, ms=3, alpha=0.45)
                ax.plot(
                    [analyses[kind]["mu_star"][i] + dx],
                    [mean[i].max()],
                    marker="*",
                    markersize=12,
                    color=c,
                    linestyle="none",
                    markeredgecolor="k",
                    markeredgewidth=0.5,
                )
            ax.set_xticks(mom)
            ax.grid(alpha=0.3)
        law = "const:M-1 (round-robin)" if kind == "const" else "workers:M (exponential times)"
        a = analyses[kind]
        axes[0, col].set_title(
            f"delay {law}\nSpearman rho(M, best mu) = {a['rho']:.2f} "
            f"[{a['rho_ci'][0]:.2f}, {a['rho_ci'][1]:.2f}] (band [-1, 0])",
            fontsize=9,
        )
        axes[1, col].set_xlabel("momentum mu")
    axes[0, 0].set_ylabel("validation accuracy")
    axes[1, 0].set_ylabel("validation accuracy (zoom on the best)")
    axes[0, 0].set_ylim(max(0.0, low - 0.05), 1.005)
    axes[1, 0].set_ylim(top - 0.03, min(1.0, top + 0.01))
    axes[0, 0].legend(title="workers", fontsize=8, loc="lower left")
    what = (
        f"lines: mean over {n_seeds} seeds"
        + (f", bars: {int(CI_LEVEL * 100)}% t-intervals" if show_ci else "")
        + "; dots: single seeds; stars: best momentum per M (ties at their mean)"
    )
    fig.suptitle(
        (title + "\n" if title else "") + f"{par['network']} on digits, Async-MSGD, {par['epochs']} epochs\n{what}",
        fontsize=9,
    )
    return save_figure(fig, figdir, "accuracy_vs_momentum", dpi=120)
