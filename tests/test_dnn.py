"""Tests of the neural-network claim ``dnn-tradeoff`` (paper Section 5.2) and its training loop.

The first part needs neither torch nor scikit-learn (CI installs ``.[dev]`` only): the
claim's grid and cells, its statistics and verdict rule on synthetic accuracies, the
figure, and the message a user without the ``dnn`` extra gets.  The second part trains
for one epoch and is skipped when torch is missing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _requires import require_module
from scipy import stats as sst

import diffapprox_claims.paper.dnn_tradeoff as dt
from diffapprox import DiffapproxError, Verdict, get_claim, stats
from diffapprox._experiments import dnn as _dnn

ROOT = Path(__file__).resolve().parents[1]
SEED = 20240607  # master seed of the synthetic-accuracy tests
NOISE_SD = 0.01  # seed-to-seed spread of the synthetic accuracies


def _synthetic_runs(optimum_of_m, n_seeds: int, seed: int = SEED, noise: float = NOISE_SD) -> dict:
    """Per-run results whose mean accuracy peaks at ``optimum_of_m(M)`` (a concave bump in mu)."""
    rng = np.random.default_rng(seed)
    out = {}
    for kind in dt.KINDS:
        for m in dt.WORKERS:
            for mu in dt.MOMENTA:
                for r in range(n_seeds):
                    acc = 0.95 - 0.5 * (mu - optimum_of_m(m)) ** 2 + noise * rng.standard_normal()
                    out[f"delay={kind}/M={m}/mu={mu}/rep={r}"] = {"val_acc": acc, "diverged": False}
    return out


def _synthetic_results(optimum_of_m, n_seeds: int, seed: int = SEED, noise: float = NOISE_SD) -> dict:
    """The cells' outcomes (one ensemble per delay kind and seed) holding :func:`_synthetic_runs`."""
    return dt.pack_results(_synthetic_runs(optimum_of_m, n_seeds, seed, noise), n_seeds)


# ----------------------------------------------------------------------------- without torch


def test_core_and_claim_import_without_torch():
    code = (
        "import sys, diffapprox, diffapprox_claims; from diffapprox._experiments import dnn; "
        "c = diffapprox.get_claim('dnn-tradeoff'); c.cells('standard', 0); c.parameters('paper'); "
        "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_claim_declares_its_extra():
    c = get_claim("dnn-tradeoff")
    assert c.requires == ("torch", "sklearn") and c.extra == "dnn"
    assert "[dnn]" in _dnn.DNN_EXTRA_HINT


def test_missing_torch_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'diffapprox\[dnn\]'"):
        _dnn._import_torch()


def test_parameters_name_the_network_and_its_size():
    p = get_claim("dnn-tradeoff").parameters("standard")
    assert p["network"].startswith("MLP 64-64-64-10")
    assert p["network_parameters"] == (64 * 64 + 64) * 2 + 64 * 10 + 10 == 8970
    assert p["momenta"] == [0.1, 0.3, 0.5, 0.7, 0.9] and p["workers"] == [1, 2, 4, 8]
    assert p["seeds"] >= 5 and p["batch_size"] == 32 and p["lr"] == 0.2
    assert p["delay_laws"] == {
        "const": ["const:0", "const:1", "const:3", "const:7"],
        "workers": ["workers:1", "workers:2", "workers:4", "workers:8"],
    }
    with pytest.raises(DiffapproxError, match="profile"):
        get_claim("dnn-tradeoff").parameters("huge")


@pytest.mark.parametrize("profile", ["quick", "standard", "paper"])
def test_cells_cover_the_grid_with_common_random_numbers(profile):
    c = get_claim("dnn-tradeoff")
    cells = c.cells(profile, seed=7)
    n_seeds = c.parameters(profile)["seeds"]
    # one cell per (delay kind, seed), one ensemble of runs each
    assert len(cells) == len({x.key for x in cells}) == 2 * n_seeds
    models = [(x, m) for x in cells for m in x.params["models"]]
    # workers:1 == const:0, so its runs are those of const/M=1: 7 (kind, M) pairs, not 8
    assert len(models) == len({m["key"] for _, m in models}) == 7 * 5 * n_seeds
    assert not any(x.params["kind"] == "workers" and m["M"] == 1 for x, m in models)
    for x, m in models:
        assert m["delay"] == dt.delay_spec(x.params["kind"], m["M"])
        assert m["key"] == dt.cell_key(x.params["kind"], m["M"], m["momentum"], x.params["rep"])
    assert all(x.cost == (1347 // 32) * x.params["epochs"] * len(x.params["models"]) for x in cells)
    # one stream per repetition, shared by every (kind, M, mu); different across repetitions
    by_rep = {}
    for x in cells:
        by_rep.setdefault(x.params["rep"], set()).add(x.seed)
    assert all(len(s) == 1 for s in by_rep.values())
    assert len({next(iter(s)) for s in by_rep.values()}) == n_seeds
    assert [x.seed for x in c.cells(profile, seed=7)] == [x.seed for x in cells]
    assert cells[0].seed != c.cells(profile, seed=8)[0].seed


def test_pack_and_unpack_results_are_inverse():
    runs = _synthetic_runs(PAPER_TREND, 3)
    packed = dt.pack_results(runs, 3)
    assert sorted(packed) == sorted(dt.group_key(k, r) for k in dt.KINDS for r in range(3))
    unpacked = dt.model_results(packed)
    # workers/M=1 is not a run of its own (const/M=1 holds it)
    assert unpacked == {k: v for k, v in runs.items() if not k.startswith("delay=workers/M=1/")}


def test_quick_profile_is_small():
    c = get_claim("dnn-tradeoff")
    quick, std = c.parameters("quick"), c.parameters("standard")
    assert quick["seeds"] * quick["epochs"] * 4 <= std["seeds"] * std["epochs"]


def test_lr_schedule_follows_the_paper():
    eta = _dnn.lr_schedule(0.2, 200)  # 200 "epochs": decays after 60, 120, 160 as in Section 5.2
    assert eta[59] == pytest.approx(0.2) and eta[60] == pytest.approx(0.04)
    assert eta[119] == pytest.approx(0.04) and eta[120] == pytest.approx(0.008)
    assert eta[159] == pytest.approx(0.008) and eta[160] == pytest.approx(0.0016) and eta[-1] == eta[160]


def test_train_config_validates_at_the_boundary():
    assert _dnn.TrainConfig(momentum=0.5, delay="workers:4", epochs=1).delay == "workers:4"
    with pytest.raises(DiffapproxError, match="momentum"):
        _dnn.TrainConfig(momentum=1.0, delay="const:0", epochs=1)
    with pytest.raises(DiffapproxError, match="delay"):
        _dnn.TrainConfig(momentum=0.5, delay="sometimes", epochs=1)
    with pytest.raises(DiffapproxError, match="epochs"):
        _dnn.TrainConfig(momentum=0.5, delay="const:0", epochs=0)
    with pytest.raises(DiffapproxError, match="hidden"):
        _dnn.TrainConfig(momentum=0.5, delay="const:0", epochs=1, hidden=())


PAPER_TREND = {1: 0.9, 2: 0.7, 4: 0.5, 8: 0.3}.get
CONTROL_SEED = 20240608  # master seed of the synthetic-control tests
CONTROL_REPS = 5  # replicates per kind in the fast control test


def _judged(profile: str, results: dict) -> dict:
    c = get_claim("dnn-tradeoff")
    ms = c.measure(profile, SEED, results, c.predict(profile))
    return {m.name: m for m in ms if m.judged}


@pytest.mark.parametrize(
    ("optimum", "expected"),
    [
        (PAPER_TREND, Verdict.PASS),  # the paper's trend: rho = -1
        ({1: 0.9, 2: 0.5, 4: 0.7, 8: 0.3}.get, Verdict.PASS),  # falls, not monotonically: rho = -0.8
        ({1: 0.1, 2: 0.3, 4: 0.5, 8: 0.7}.get, Verdict.FAIL),  # the opposite trend
        (lambda m: 0.5, Verdict.FAIL),  # the best momentum does not move: rho = 0, outside [-1, -0.5]
    ],
)
def test_trend_rule_on_synthetic_accuracies(optimum, expected):
    rows = _judged("standard", _synthetic_results(optimum, 10))
    for kind in dt.KINDS:
        m = rows[f"momentum_trend_spearman/delay={kind}"]
        assert m.verdict is expected, (kind, m.estimate, m.ci)
        assert m.tolerance == dt.TREND_BAND and m.effect == dt.TREND_EFFECT
        assert m.ci_level == 0.95 and m.ci_fail is not None


def test_noise_alone_is_not_a_trend():
    # Flat mean accuracy in mu plus large seed noise: the argmax wanders, yet the truth (rho = 0, every
    # momentum tied) stays inside the CI and the claim is not passed.
    runs = _synthetic_runs(lambda m: 0.5, 10, noise=0.05)
    for k, v in runs.items():
        v["val_acc"] += 0.5 * (float(k.split("/mu=")[1].split("/")[0]) - 0.5) ** 2
    res = dt.pack_results(runs, 10)
    for kind in dt.KINDS:
        m = _judged("standard", res)[f"momentum_trend_spearman/delay={kind}"]
        assert m.ci[0] <= 0.0 <= m.ci[1] and m.verdict is not Verdict.PASS, (m.ci, m.verdict)


def test_contrast_is_the_paired_difference_of_the_papers_optima():
    acc = np.zeros((len(dt.WORKERS), len(dt.MOMENTA), 3))
    acc[dt.WORKERS.index(8), dt.MOMENTA.index(0.9)] = [0.1, 0.2, 0.3]  # 0.9 collapses with 8 workers
    acc[dt.WORKERS.index(1), dt.MOMENTA.index(0.5)] = -0.01  # and is 0.01 ahead of 0.5 with one
    np.testing.assert_allclose(dt.contrast_per_seed(acc), [0.09, 0.19, 0.29])
    effect = dt.contrast_effect(10, 1 - 0.01 / 4)
    se = 2 * dt.PLAN_WITHIN_SD / np.sqrt(10)
    assert effect == pytest.approx((sst.t.ppf(1 - 0.01 / 8, 9) + sst.norm.ppf(0.8)) * se)


def test_quick_profile_judges_nothing_and_keeps_rule1_as_context():
    c = get_claim("dnn-tradeoff")
    ms = c.measure("quick", SEED, _synthetic_results(PAPER_TREND, 2, noise=0.002), c.predict("quick"))
    assert not [m for m in ms if m.judged]
    old = [m for m in ms if m.name.startswith("momentum_trend_rule1/")]
    assert len(old) == 2 and all(m.ci_level == 0.95 and m.tolerance == (-1.0, 0.0) for m in old)
    rule2, batched, one_rule = c.history
    assert rule2.version == 2 and rule2.old_rows == ("momentum_trend_rule1/",)
    assert batched.version == 3 and batched.old_verdict == "PASS" and "1da1c47" in batched.old_source
    assert one_rule.version == 4 and one_rule.old_verdict == "INCONCLUSIVE"


def test_controls_run_through_the_cell_code():
    """Exact (the paper's optima) never FAILs; moving one delay kind's table (a best momentum that does not
    move) FAILs that kind's rows and leaves the other kind's alone."""
    from diffapprox._run.calibrate import run_controls

    c = get_claim("dnn-tradeoff")
    exact = run_controls(c, "standard", "exact", CONTROL_REPS, CONTROL_SEED)
    moved = run_controls(c, "standard", "family:const", CONTROL_REPS, CONTROL_SEED)
    assert Verdict.FAIL not in exact.claim and not exact.errors
    assert set(moved.claim) == {Verdict.FAIL} and not moved.errors
    assert all(Verdict.FAIL not in v for n, v in moved.rows.items() if n.endswith("delay=workers"))


def test_control_truths_are_those_stated():
    """The control tables: exact at the paper's optima, edge on both bands' edges (rho -0.775 the nearest
    achievable value), moved by the effects, outside by about half of them."""
    workers = np.asarray(dt.WORKERS, float)
    tables = {r: dt.control_means(r, 10) for r in dt.CONTROL_BEST}
    rho = {r: stats.spearman_rows(workers, stats.grid_argmax(t, dt.MOMENTA))[0] for r, t in tables.items()}
    assert rho["exact"] == pytest.approx(-0.9486832981) and rho["edge"] == pytest.approx(-0.7745966692)
    assert rho["moved"] == 0.0 and rho["outside"] == pytest.approx(-0.2581988897)
    contrast = {r: dt.contrast_per_seed(t[:, :, None])[0] for r, t in tables.items()}
    effect = dt.contrast_effect(10, stats.fail_level(dt.N_JUDGED))
    assert contrast["exact"] == pytest.approx(-4 * dt.PLAN_GAP) and contrast["edge"] == pytest.approx(0.0, abs=1e-12)
    assert contrast["moved"] == pytest.approx(effect) and contrast["outside"] == pytest.approx(effect / 2)


def test_finish_reports_measurements_and_figure(tmp_path):
    c = get_claim("dnn-tradeoff")
    out = c.finish("standard", SEED, _synthetic_results(PAPER_TREND, 10, noise=0.002), tmp_path)
    trend = [m for m in out.measurements if m.judged]
    assert [m.name for m in trend] == [
        "momentum_trend_spearman/delay=const",
        "momentum_contrast/delay=const",
        "momentum_trend_spearman/delay=workers",
        "momentum_contrast/delay=workers",
    ]
    assert all(m.verdict is Verdict.PASS for m in trend)
    stars = {m.name: m.estimate for m in out.measurements if m.name.startswith("optimal_momentum/delay=const")}
    assert stars == {f"optimal_momentum/delay=const/M={m}": PAPER_TREND(m) for m in dt.WORKERS}
    assert len([m for m in out.measurements if m.name.startswith("val_accuracy/")]) == 2 * 4 * 5
    assert sorted(Path(f).name for f in out.figures) == ["accuracy_vs_momentum.png", "accuracy_vs_momentum.svg"]
    assert all(Path(f).parent == tmp_path and Path(f).stat().st_size > 1000 for f in out.figures)
    assert any(f.startswith("delay const: argmax momentum M=1: 0.9") for f in out.findings)


def test_measure_refuses_missing_cells():
    c = get_claim("dnn-tradeoff")
    n = c.parameters("quick")["seeds"]
    runs = _synthetic_runs(lambda m: 0.5, n)
    runs.pop(next(iter(runs)))
    res = dt.pack_results(runs, n)
    with pytest.raises(DiffapproxError, match="1 missing"):
        c.measure("quick", SEED, res, c.predict("quick"))


# ----------------------------------------------------------------------------- with torch


def _naive_async_msgd(cfg, seed):
    """Obvious twin of :func:`_dnn.train_async_msgd`: the whole history in a list, no ring buffer."""
    torch = require_module("torch", "the dnn extra (torch) is not installed: pip install -e '.[dnn]'")
    Xtr, ytr, _, _ = _dnn.digits_split()
    spe = Xtr.shape[0] // cfg.batch_size
    n = spe * cfg.epochs
    taus = _dnn.delay_law(cfg.delay).sample(n, np.random.default_rng(np.random.SeedSequence([seed, 2])))
    brng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    order = np.concatenate([brng.permutation(Xtr.shape[0])[: spe * cfg.batch_size] for _ in range(cfg.epochs)])
    eta = _dnn.lr_schedule(cfg.lr, n, cfg.decay_at, cfg.decay_factor)
    torch.manual_seed(seed)
    model = _dnn._build_mlp(torch, cfg.hidden, 64, 10)
    hist = [torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()]
    X, y = torch.from_numpy(np.array(Xtr)), torch.from_numpy(np.array(ytr))
    for k in range(n):
        torch.nn.utils.vector_to_parameters(hist[max(k - int(taus[k]), 0)], model.parameters())
        model.zero_grad(set_to_none=True)
        b = torch.from_numpy(order[k * cfg.batch_size : (k + 1) * cfg.batch_size])
        torch.nn.functional.cross_entropy(model(X[b]), y[b]).backward()
        g = torch.nn.utils.parameters_to_vector([p.grad for p in model.parameters()])
        prev = hist[k - 1] if k > 0 else hist[0]
        with torch.no_grad():
            hist.append(hist[k] + cfg.momentum * (hist[k] - prev) - float(eta[k]) * g)
    return hist[-1].numpy()


@pytest.mark.parametrize("delay", ["const:0", "const:3", "workers:4", "const:100"])  # 100 > the 42 steps
def test_ring_buffer_matches_the_naive_twin(delay):
    require_module("torch", "the dnn extra (torch) is not installed: pip install -e '.[dnn]'")
    require_module("sklearn", "the dnn extra (scikit-learn) is not installed: pip install -e '.[dnn]'")
    cfg = _dnn.TrainConfig(momentum=0.7, delay=delay, epochs=1)
    r = _dnn.train_async_msgd(cfg, seed=3, return_parameters=True)
    np.testing.assert_allclose(r["parameters"], _naive_async_msgd(cfg, 3), rtol=0, atol=1e-6)
    assert r["steps"] == 1347 // 32 and r["n_parameters"] == 8970 and not r["diverged"]


def test_training_is_deterministic_and_restores_torch_settings():
    torch = require_module("torch", "the dnn extra (torch) is not installed: pip install -e '.[dnn]'")
    require_module("sklearn", "the dnn extra (scikit-learn) is not installed: pip install -e '.[dnn]'")
    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    cfg = _dnn.TrainConfig(momentum=0.5, delay="workers:8", epochs=2)
    a = _dnn.train_async_msgd(cfg, seed=11, return_parameters=True)
    b = _dnn.train_async_msgd(cfg, seed=11, return_parameters=True)
    c = _dnn.train_async_msgd(cfg, seed=12, return_parameters=True)
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == before
    np.testing.assert_array_equal(a["parameters"], b["parameters"])
    assert a["val_acc"] == b["val_acc"] and a["val_acc_epochs"].tolist() == b["val_acc_epochs"].tolist()
    assert not np.array_equal(a["parameters"], c["parameters"])
    assert a["val_acc"] > 0.5 and len(a["val_acc_epochs"]) == 2


def test_staleness_changes_the_run_and_is_applied():
    require_module("torch", "the dnn extra (torch) is not installed: pip install -e '.[dnn]'")
    require_module("sklearn", "the dnn extra (scikit-learn) is not installed: pip install -e '.[dnn]'")
    fresh = _dnn.train_async_msgd(_dnn.TrainConfig(momentum=0.9, delay="const:0", epochs=1), 5, return_parameters=True)
    stale = _dnn.train_async_msgd(_dnn.TrainConfig(momentum=0.9, delay="const:7", epochs=1), 5, return_parameters=True)
    assert fresh["mean_delay"] == 0 and stale["mean_delay"] == 7 and stale["max_delay"] == 7
    assert not np.allclose(fresh["parameters"], stale["parameters"])
    # one worker: the workers law has no delay either, so the claim reuses const:0's runs for it
    one = _dnn.train_async_msgd(_dnn.TrainConfig(momentum=0.9, delay="workers:1", epochs=1), 5, return_parameters=True)
    np.testing.assert_array_equal(one["parameters"], fresh["parameters"])


def _ensemble_configs(delays, momenta=(0.1, 0.9), **kw):
    return [_dnn.TrainConfig(momentum=mu, delay=d, epochs=1, **kw) for d in delays for mu in momenta]


#: One run of the ensemble against :func:`_dnn.train_async_msgd` after one epoch (42 steps): the
#: batched products and the hand-written gradient add the same float32 terms in another order, so
#: each step differs by a few float32 roundings (eps 1.2e-7 relative) that training carries forward.
#: Measured differences are <= 1e-6 on parameters of size <= 1; 1e-5 leaves room for other CPUs'
#: kernels while a wrong gradient, momentum or delay moves the parameters by >= 1e-3.
ENSEMBLE_ATOL = 1e-5


def test_ensemble_matches_the_one_model_trainer():
    require_module("torch", "the dnn extra (torch) is not installed: pip install -e '.[dnn]'")
    require_module("sklearn", "the dnn extra (scikit-learn) is not installed: pip install -e '.[dnn]'")
    cfgs = _ensemble_configs(["const:0", "const:3", "workers:4", "const:100"])
    seeds = [3 + i for i in range(len(cfgs))]
    ens = _dnn.train_async_msgd_ensemble(cfgs, seeds, return_parameters=True)
    for cfg, seed, e in zip(cfgs, seeds, ens):
        r = _dnn.train_async_msgd(cfg, seed, return_parameters=True)
        np.testing.assert_allclose(e["parameters"], r["parameters"], rtol=0, atol=ENSEMBLE_ATOL)
        assert (e["mean_delay"], e["max_delay"], e["steps"], e["steps_done"]) == (
            r["mean_delay"],
            r["max_delay"],
            r["steps"],
            r["steps_done"],
        )
        assert e["n_parameters"] == r["n_parameters"] and e["diverged"] is r["diverged"] is False
        # accuracies are counts of 450 images: equal unless a rounding moves an image across a boundary
        assert abs(e["val_acc"] - r["val_acc"]) <= 1 / 450
        np.testing.assert_allclose([e["val_loss"], e["train_loss"]], [r["val_loss"], r["train_loss"]], rtol=1e-5)
    assert not np.allclose(ens[0]["parameters"], ens[1]["parameters"], atol=1e-3)  # momentum matters


def test_ensemble_run_does_not_depend_on_its_companions():
    """A set of runs trained as one group and as two groups: the same numbers, bit for bit."""
    require_module("torch", "the dnn extra (torch) is not installed: pip install -e '.[dnn]'")
    require_module("sklearn", "the dnn extra (scikit-learn) is not installed: pip install -e '.[dnn]'")
    cfgs = _ensemble_configs(["const:0", "workers:8", "const:7"], momenta=(0.3, 0.9))
    cfgs.append(_dnn.TrainConfig(momentum=0.9, delay="const:7", epochs=1, lr=50.0))  # diverges
    seeds = [20, 21, 20, 21, 22, 20, 23]
    whole = _dnn.train_async_msgd_ensemble(cfgs, seeds, return_parameters=True)
    split = _dnn.train_async_msgd_ensemble(cfgs[:3], seeds[:3], return_parameters=True)
    split += _dnn.train_async_msgd_ensemble(cfgs[3:], seeds[3:], return_parameters=True)
    for a, b in zip(whole, split):
        assert a.keys() == b.keys()
        for k in a.keys() - {"elapsed_s"}:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert [r["diverged"] for r in whole] == [False] * 6 + [True]


def test_ensemble_divergence_is_that_of_the_one_model_trainer():
    require_module("torch", "the dnn extra (torch) is not installed: pip install -e '.[dnn]'")
    require_module("sklearn", "the dnn extra (scikit-learn) is not installed: pip install -e '.[dnn]'")
    cfg = _dnn.TrainConfig(momentum=0.9, delay="const:7", epochs=2, lr=50.0)
    (e,) = _dnn.train_async_msgd_ensemble([cfg], [22])
    r = _dnn.train_async_msgd(cfg, 22)
    assert e["diverged"] and r["diverged"] and e["val_acc"] == r["val_acc"] and np.isnan(e["val_loss"])
    for k in ("steps_done", "mean_delay", "max_delay"):
        assert e[k] == r[k], k
    assert len(e["val_acc_epochs"]) == len(r["val_acc_epochs"])


def test_ensemble_validates_its_inputs():
    cfg = _dnn.TrainConfig(momentum=0.5, delay="const:0", epochs=1)
    with pytest.raises(DiffapproxError, match="seeds"):
        _dnn.train_async_msgd_ensemble([cfg, cfg], [1])
    with pytest.raises(DiffapproxError, match="configs"):
        _dnn.train_async_msgd_ensemble([cfg, _dnn.TrainConfig(momentum=0.5, delay="const:0", epochs=2)], [1, 2])
    with pytest.raises(DiffapproxError, match="configs"):
        _dnn.train_async_msgd_ensemble([], [])


def test_run_cell_through_the_claim():
    require_module("torch", "the dnn extra (torch) is not installed: pip install -e '.[dnn]'")
    require_module("sklearn", "the dnn extra (scikit-learn) is not installed: pip install -e '.[dnn]'")
    c = get_claim("dnn-tradeoff")
    cell = next(x for x in c.cells("quick", 0) if x.params["kind"] == "workers")
    cell = type(cell)(claim=cell.claim, key=cell.key, params=cell.params | {"epochs": 1}, seed=cell.seed)
    r1, r2 = c.run_cell(cell), c.run_cell(cell)
    n = len(cell.params["models"])
    assert r1["keys"] == [m["key"] for m in cell.params["models"]] and n == 15
    np.testing.assert_array_equal(r1["val_acc"], r2["val_acc"])
    assert r1["val_acc"].shape == r1["diverged"].shape == r1["mean_delay"].shape == (n,)
    assert r1["val_acc_epochs"].shape == (n, 1)
    # plain data only (checkpoints are JSON and .npz): numbers, strings, lists and numpy arrays
    plain = (int, float, str, list, np.ndarray)
    assert all(isinstance(v, plain) and (not isinstance(v, np.ndarray) or v.dtype != object) for v in r1.values())
    # each run is the one-model trainer's, to float rounding
    m = cell.params["models"][7]
    cfg = _dnn.TrainConfig(momentum=m["momentum"], delay=m["delay"], epochs=1)
    one = _dnn.train_async_msgd(cfg, cell.seed)
    assert abs(one["val_acc"] - r1["val_acc"][7]) <= 1 / 450 and one["mean_delay"] == r1["mean_delay"][7]
