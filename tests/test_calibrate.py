"""``diffapprox calibrate`` and what ``validate`` does with its output, on toy claims with known answers.

The toy claims are registered with :func:`diffapprox.register` at module level (so that worker
processes, which import this module by name, find the same classes).  ``test-calibrate-mean`` judges two
sample means of N(truth, 1) draws against a prediction with a two-sided band, by the one decision rule
(95% PASS interval, Bonferroni FAIL interval at family level 0.01).  Its controls draw the per-path
draws themselves and run its own ``summarize`` and ``measure``: ``edge`` (truth 1.1, the upper edge:
false FAIL at most 1%), ``exact`` (truth 1: confirm about 1), ``family:a`` / ``family:b`` (one row
beyond the edge by its effect: power about 0.8), ``outside`` (half the effect beyond: false PASS about
0) and the mutant ``prediction=1.2`` on the real simulator (FAIL about 1).  ``test-calibrate-legacy``
still writes summaries with the deprecated ``synthetic``.
"""

from __future__ import annotations

import json
import math
import textwrap

import numpy as np
import pytest
from _requires import require_module
from scipy.stats import norm

import diffapprox as da
from diffapprox import Claim, Control, ControlSource, HistoryEntry, Mutant, Verdict
from diffapprox import stats as S
from diffapprox._run import calibrate as C
from diffapprox._run.runner import history_json, run_claims
from diffapprox.cli import main

SEED = 20261129  # master seed of every control run here
CAL_SEED = 7  # seed of the calibrate runs that validate reads

N = 4000  # draws behind each toy mean
BAND = 0.1  # toy band: prediction +- BAND
ROWS = ("a", "b")
LEVEL = S.row_level(len(ROWS))  # the legacy toy's one interval
FAIL_LEVEL = S.fail_level(len(ROWS))
SE = 1.0 / math.sqrt(N)  # the toy data are N(truth, 1)
EFFECT = S.detectable_effect(SE, level=FAIL_LEVEL)
K_SE = 4.0  # tolerance of rate checks, in binomial standard errors


def _ci(m: float, se: float, level: float) -> tuple[float, float]:
    z = norm.ppf(0.5 + level / 2)
    return (m - z * se, m + z * se)


def _mean_row(name: str, summary: dict, prediction: float, judged: bool = True, band: float = BAND):
    m, se = summary["mean"], summary["sd"] / math.sqrt(summary["n"])
    return S.measurement(
        name,
        m,
        _ci(m, se, S.PASS_LEVEL),
        prediction,
        S.absolute_band(prediction, band),
        ci_fail=_ci(m, se, FAIL_LEVEL) if judged else None,
        n=summary["n"],
        judged=judged,
        effect=EFFECT if judged else None,
    )


@da.register
class ToyMean(Claim):
    """Two means of N(truth, 1) draws against the prediction 1 +- BAND."""

    id = "test-calibrate-mean"
    paper_ref = "toy (test_calibrate)"
    statement = "two means equal 1 within 0.1"
    about = "toolkit"
    history = (
        HistoryEntry(
            date="2026-11-28",
            version=2,
            change="band widened from +-0.02 to +-0.1",
            reason="toy: the narrow band was tighter than the data's precision",
            old_rows=("old/",),
        ),
        HistoryEntry(
            date="2026-11-29",
            version=3,
            change="second row added",
            reason="toy",
            old_verdict="INCONCLUSIVE",
            old_source="earlier run: commit 0000000, profile quick, seed 1",
        ),
    )

    def parameters(self, profile):
        return {"n": N, "band": BAND}

    def cells(self, profile, seed):
        return [self.make_cell(k, {"truth": 1.0}, seed, uses="core") for k in ROWS]

    def simulate_cell(self, cell):
        return np.random.default_rng(cell.seed).normal(cell.params["truth"], 1.0, N)

    def summarize(self, cell, x):
        return {"mean": float(x.mean()), "sd": float(x.std(ddof=1)), "n": int(x.size)}

    def predict(self, profile):
        return {"mean": 1.0}

    def measure(self, profile, seed, results, prediction):
        p = prediction["mean"]
        ms = [_mean_row(f"mean/{k}", results[k], p) for k in ROWS]
        ms.append(_mean_row("old/mean/a", results["a"], p, judged=False, band=0.02))
        return ms

    def families(self, profile):
        return {k: (f"mean/{k}",) for k in ROWS}

    def control_sources(self, profile):
        model = ControlSource(source="model", model="N(truth, 1) draws, truth set by the control")
        return {k: model for k in ("edge", "exact", "family", "outside")}

    def control_data(self, cell, control, rng):
        truth = control.truth(exact=1.0, band=(1 - BAND, 1 + BAND), effect=EFFECT, direction=1, family=cell.key)
        return rng.normal(truth, 1.0, N)

    def mutants(self, profile):
        note = "prediction 1.2: the truth 1 lies 0.1 below the band [1.1, 1.3], beyond the effect"
        return {"prediction=1.2": Mutant(expect="FAIL", note=note)}

    def mutate(self, profile, name, prediction):
        return {**prediction, "mean": 1.2}


@da.register
class ToyLegacy(Claim):
    """The same two means, calibrated by the deprecated synthetic() (summaries written directly)."""

    id = "test-calibrate-legacy"
    paper_ref = "toy (test_calibrate)"
    statement = "two means equal 1 within 0.1"

    def parameters(self, profile):
        return {"n": N, "band": BAND}

    def cells(self, profile, seed):
        return [self.make_cell(k, {"truth": 1.0}, seed, uses="core") for k in ROWS]

    def run_cell(self, cell):
        x = np.random.default_rng(cell.seed).normal(cell.params["truth"], 1.0, N)
        return {"mean": float(x.mean()), "sd": float(x.std(ddof=1)), "n": N}

    def measure(self, profile, seed, results, prediction):
        ms = []
        for k in ROWS:
            m = results[k]["mean"]
            ms.append(S.measurement(f"mean/{k}", m, _ci(m, SE, LEVEL), 1.0, S.absolute_band(1.0, BAND), level=LEVEL))
        return ms

    def synthetic(self, profile, kind, rng):
        truth = {"null": 1.0, "alternative": 1.0 + BAND + EFFECT, "limit": 1.0 + BAND / 2}[kind]
        return {k: {"mean": float(rng.normal(truth, SE)), "sd": 1.0, "n": N} for k in ROWS}


@da.register
class ToyUncalibrated(Claim):
    id = "test-calibrate-uncalibrated"
    paper_ref = "toy"
    statement = "a claim without controls"
    uncalibrated = "toy: no sampler of its statistic"

    def parameters(self, profile):
        return {}

    def cells(self, profile, seed):
        return []

    def measure(self, profile, seed, results, prediction):
        return []


@da.register
class ToyBroken(ToyMean):
    """ToyMean whose family controls break on every third replicate, and without an outside control."""

    id = "test-calibrate-broken"
    history = ()

    def control_sources(self, profile):
        return {k: v for k, v in super().control_sources(profile).items() if k != "outside"}

    def control_data(self, cell, control, rng):
        if control.kind == "family" and cell.key == "a" and rng.integers(3) == 0:
            raise RuntimeError("toy failure")
        return super().control_data(cell, control, rng)

    def mutants(self, profile):
        return {}


def _rates_keys(r):
    assert set(r) == {"fail", "inconclusive", "pass", "error", "reps", "fail_ci", "pass_ci"}
    assert r["fail"] + r["inconclusive"] + r["pass"] + r["error"] == pytest.approx(1.0)


def _strip(doc):
    """The claims of a calibrate document without their run times."""
    return [{k: v for k, v in c.items() if k != "elapsed_s"} for c in doc["claims"]]


def _calibrate(ids, reps=60, jobs=1, **kw):
    claims = [da.get_claim(i) for i in ids]
    return C.calibrate(claims, profile="quick", reps=reps, seed=SEED, jobs=jobs, progress=False, **kw)


def _bin_tol(p: float, n: int) -> float:
    return K_SE * math.sqrt(p * (1 - p) / n)


def test_calibrate_schema_controls_and_operating_characteristics():
    with pytest.warns(DeprecationWarning, match="test-calibrate-legacy"):
        doc = _calibrate(
            ["test-calibrate-mean", "test-calibrate-uncalibrated", "test-calibrate-broken", "test-calibrate-legacy"]
        )
    assert doc["schema"] == "diffapprox.calibrate/2"
    assert (doc["profile"], doc["reps"], doc["mutant_reps"], doc["seed"], doc["smoke_run"]) == (
        "quick",
        60,
        50,
        SEED,
        True,
    )
    mean, unc, broken, legacy = doc["claims"]
    # the controls of a claim through its own cell code: each with its source
    assert list(mean["controls"]) == ["edge", "exact", "family:a", "family:b", "outside", "mutant:prediction=1.2"]
    assert mean["sources"]["exact"]["source"] == "model" and mean["sources"]["mutant"]["source"] == "simulator"
    assert mean["families"] == {"a": ["mean/a"], "b": ["mean/b"]} and mean["about"] == "toolkit"
    for name, c in mean["controls"].items():
        _rates_keys(c["claim"])
        assert set(c["rows"]) == {"mean/a", "mean/b"}  # judged rows only
        assert c["claim"]["reps"] == (50 if name.startswith("mutant") else 60)
    s = mean["summary"]
    # edge: a row FAILs only when its Bonferroni FAIL interval misses the truth on one side (<= 0.25% each)
    assert s["false_fail"]["rate"] <= 0.01 + _bin_tol(0.01, 60)
    # exact: truth 1, 0.1 inside both edges, 95% CIs of half-width 0.031: PASS nearly always
    assert s["confirm"]["rate"] >= 0.99 - _bin_tol(0.99, 60) and s["confirm"]["state"] == "met"
    # family: one row beyond its edge by the effect stated for power 0.8 at the FAIL level
    assert s["worst_family_power"]["family"] in ("a", "b")
    for fam in ("a", "b"):
        r = mean["controls"][f"family:{fam}"]
        assert abs(r["claim"]["fail"] - 0.8) <= _bin_tol(0.8, 60)
        assert r["families"][fam]["fail"] == r["claim"]["fail"]  # the claim FAILs exactly when the moved family does
        assert r["rows"][f"mean/{'b' if fam == 'a' else 'a'}"]["fail"] == 0.0  # the other row stays at exact
    # outside: half the effect beyond the edge; a PASS needs the whole 95% CI inside: about never
    assert s["false_pass"]["rate"] <= 0.01 + _bin_tol(0.01, 60) and s["false_pass"]["worst_row"] in ("mean/a", "mean/b")
    mut = s["mutants"]["prediction=1.2"]
    assert mut["expect"] == "FAIL" and mut["rate"] == 1.0 and mut["state"] == "met" and mut["reps"] == 50
    # targets by the CI rule on the claim-level counts
    k = round(s["false_fail"]["rate"] * 60)
    assert s["false_fail"]["state"] == C.target_state(k, 60, "null")
    # a claim without controls says why
    assert unc["calibrated"] is False and unc["reason"] == "toy: no sampler of its statistic"
    assert unc["controls"] == {} and unc["summary"] is None
    # a control that breaks is counted as ERROR, with its message; no outside control -> no false PASS
    assert 0 < broken["controls"]["family:a"]["claim"]["error"] < 1 and broken["errors"][0].startswith(
        "family:a: RuntimeError: toy failure (replicates "
    )
    assert "outside" not in broken["controls"] and broken["summary"]["false_pass"] is None
    # the deprecated synthetic(): null as edge, alternative as family:all, limit as exact; flagged legacy
    assert legacy["legacy"] is True and list(legacy["controls"]) == ["edge", "family:all", "exact"]
    assert legacy["sources"]["edge"]["source"] == "summary"
    assert legacy["controls"]["family:all"]["claim"]["fail"] >= 0.96 - _bin_tol(0.96, 60)
    json.dumps(doc, allow_nan=False)  # strict JSON


def test_controls_run_the_claims_own_cell_code(monkeypatch):
    """No control writes a summary: every replicate's summaries come from the claim's summarize()."""
    calls = []
    orig = ToyMean.summarize

    def spy(self, cell, x):
        calls.append((cell.key, x.size))
        return orig(self, cell, x)

    monkeypatch.setattr(ToyMean, "summarize", spy)
    C.run_controls(da.get_claim("test-calibrate-mean"), "quick", "family:b", 3, SEED)
    assert calls == [("a", N), ("b", N)] * 3


def test_control_truths():
    band, eff = (0.9, 1.1), 0.05
    t = {
        k: Control.parse(k).truth(exact=1.0, band=band, effect=eff, direction=1, family="a")
        for k in ("edge", "exact", "outside", "family:a", "family:b")
    }
    assert t == {
        "edge": 1.1,
        "exact": 1.0,
        "outside": pytest.approx(1.125),
        "family:a": pytest.approx(1.15),
        "family:b": 1.0,
    }
    assert Control.parse("family:a").name == "family:a" and Control.parse("mutant:x=1").mutant == "x=1"
    low = Control(kind="edge").truth(exact=0.9, band=(0.75, 1.0), effect=0.03, direction=-1)
    assert low == 0.75
    with pytest.raises(da.DiffapproxError, match="control"):
        Control.parse("nonsense")
    with pytest.raises(da.DiffapproxError, match="direction"):
        Control(kind="edge").truth(exact=1.0, band=band, effect=eff, direction=0)


def test_target_states_follow_the_ci_rule():
    # Wilson 95% CIs: 0/200 -> [0, 0.019] met; 30/200 -> [0.107, 0.207] missed; 8/200 -> [0.020, 0.077] undecided
    assert [C.target_state(k, 200, "null") for k in (0, 30, 8)] == ["met", "missed", "undecided"]
    # 190/200 -> [0.91, 0.97] met; 120/200 -> [0.53, 0.66] missed; 165/200 -> [0.77, 0.87] undecided
    assert [C.target_state(k, 200, "power") for k in (190, 120, 165)] == ["met", "missed", "undecided"]
    # confirm and mutants: the point estimate against 0.8
    assert [C.target_state(k, 50, "confirm") for k in (40, 39)] == ["met", "missed"]


def test_rates_do_not_depend_on_jobs_blocks_or_resumption(tmp_path):
    """Replicate r draws from derive_seed(seed, claim, control, r): 2 processes, or blocks reloaded from
    checkpoints, give the same rates."""
    one = _calibrate(["test-calibrate-mean"], reps=30, jobs=1, mutant_reps=4)
    two = _calibrate(["test-calibrate-mean"], reps=30, jobs=2, mutant_reps=4, checkpoint_dir=tmp_path)
    assert _strip(one) == _strip(two)
    assert C._blocks(30, 2) != C._blocks(30, 1)  # different blocks, same answer
    kept = sorted(p.name for p in (tmp_path / "test-calibrate-mean").iterdir())
    assert kept and all(name.endswith(".json") for name in kept)
    # a resumed run reads the kept blocks (a corrupt one is recomputed) and gives the same document
    (tmp_path / "test-calibrate-mean" / kept[0]).write_text("not json")
    again = _calibrate(["test-calibrate-mean"], reps=30, jobs=1, mutant_reps=4, checkpoint_dir=tmp_path)
    assert _strip(again) == _strip(one)
    # and the same as run_controls, the one-process loop behind it
    run = C.run_controls(da.get_claim("test-calibrate-mean"), "quick", "edge", 30, SEED)
    assert C.Rates.of(run.claim).to_json() == one["claims"][0]["controls"]["edge"]["claim"]


def test_kinds_select_the_controls():
    doc = _calibrate(["test-calibrate-mean"], reps=5, kinds=["exact", "mutant"], mutant_reps=2)
    assert list(doc["claims"][0]["controls"]) == ["exact", "mutant:prediction=1.2"]
    with pytest.raises(da.DiffapproxError, match="kinds"):
        _calibrate(["test-calibrate-mean"], reps=5, kinds=["null"])


def test_verdict_calibration_is_not_calibrated_by_the_command():
    doc = _calibrate(["verdict-calibration"], reps=1)
    (c,) = doc["claims"]
    assert c["calibrated"] is False and "rules themselves" in c["reason"]


# --------------------------------------------------------------------------- stale flag
def _write_pkg(root, helper_value: int):
    pkg = root / "toypkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "_deep.py").write_text(f"VALUE = {helper_value}\n")
    (pkg / "_helper.py").write_text("from ._deep import VALUE\n")
    (pkg / "unrelated.py").write_text("X = 1\n")
    (pkg / "claim.py").write_text(
        textwrap.dedent(
            """
            import diffapprox as da
            from . import _helper


            class Pkg(da.Claim):
                id = "toy-pkg"
                paper_ref = "toy"
                statement = "toy"

                def measure(self, profile, seed, results, prediction):
                    from toypkg._helper import VALUE  # imports inside functions count too
                    return []
            """
        )
    )


def test_source_hash_covers_the_claim_and_its_helpers(tmp_path, monkeypatch):
    _write_pkg(tmp_path, 1)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    mod = importlib.import_module("toypkg.claim")
    claim = mod.Pkg()
    assert list(C.source_modules(claim)) == ["toypkg._deep", "toypkg._helper", "toypkg.claim"]
    doc = {
        "schema": C.CALIBRATE_SCHEMA,
        "profile": "quick",
        "reps": 200,
        "seed": 1,
        "date": "2026-11-29",
        "claims": [{"id": "toy-pkg", "calibrated": True, "source_hash": C.claim_source_hash(claim)}],
    }
    assert C.claim_calibration(claim, doc, "quick")["stale"] is False
    (tmp_path / "toypkg" / "unrelated.py").write_text("X = 2\n")  # not imported: not covered
    assert C.claim_calibration(claim, doc, "quick")["stale"] is False
    (tmp_path / "toypkg" / "_deep.py").write_text("VALUE = 2\n")  # imported by a helper: covered
    assert C.claim_calibration(claim, doc, "quick")["stale"] is True
    # a claim missing from the file, and no file at all
    other = {**doc, "claims": []}
    assert C.claim_calibration(claim, other, "quick")["reason"] == "not in the calibration file"
    assert C.claim_calibration(claim, None, "quick") is None


# --------------------------------------------------------------------------- history
def test_history_recomputes_the_old_verdict_on_the_same_data(tmp_path):
    claim = da.get_claim("test-calibrate-mean")
    doc = run_claims([claim], profile="quick", seed=SEED, out=tmp_path, progress=False)
    (c,) = doc["claims"]
    assert c["version"] == 3 and len(c["history"]) == 2
    old = next(m for m in c["measurements"] if m["name"] == "old/mean/a")
    h1, h2 = c["history"]
    assert h1["old_verdict"] == old["verdict"]  # the context row, combined as if judged
    assert h1["old_source"] == "recomputed on the same data (rows old/mean/a)"
    assert (h2["old_verdict"], h2["old_source"]) == (
        "INCONCLUSIVE",
        "earlier run: commit 0000000, profile quick, seed 1",
    )
    assert c["calibration"] is None and doc["calibration_file"]["path"] is None


def test_history_when_nothing_matches_or_the_claim_did_not_run():
    claim = da.get_claim("test-calibrate-mean")
    ms = [
        S.measurement("old/x", 1.0, (0.9, 1.1), 1.0, (0.0, 2.0)),
        S.measurement("old/y", 1.0, (0.9, 3.1), 1.0, (0.0, 2.0)),
    ]
    h = history_json(claim, ms)[0]
    assert h["old_verdict"] == "INCONCLUSIVE" and h["old_source"] == "recomputed on the same data (rows old/x, old/y)"
    h = history_json(claim, [S.measurement("new", 1.0, (0.9, 1.1), 1.0, (0.0, 2.0))])[0]
    assert h["old_verdict"] is None and h["old_source"].startswith("not recomputed: no measurement starts with old/")
    assert history_json(claim, None)[0]["old_source"] == "not recomputed: the claim did not run"


def test_every_registered_claim_states_its_history_in_order():
    for claim in da.all_claims().values():
        versions = [e.version for e in claim.history]
        assert versions == list(range(2, len(versions) + 2)), claim.id
        dates = [e.date for e in claim.history]
        assert dates == sorted(dates), claim.id


# --------------------------------------------------------------------------- command line and validate
def test_calibrate_cli_json_and_table(tmp_path, capsys):
    out = tmp_path / "cal.json"
    args = [
        "calibrate",
        "--claims",
        "test-calibrate-mean,test-calibrate-uncalibrated",
        "--profile",
        "quick",
        "--reps",
        "20",
    ]
    assert main([*args, "--seed", str(CAL_SEED), "--jobs", "1", "--json", str(out)]) == 0
    cap = capsys.readouterr()
    doc = json.loads(out.read_text())
    assert doc["schema"] == C.CALIBRATE_SCHEMA and doc["environment"]["diffapprox"] == da.__version__
    assert (
        "test-calibrate-mean" in cap.out
        and "smoke run" in cap.out
        and "test-calibrate-uncalibrated: toy: no sampler" in cap.out
    )
    assert "calibrate: test-calibrate-mean:" in cap.err  # progress and per-claim seconds on stderr
    assert main([*args, "--seed", str(CAL_SEED), "--jobs", "1", "--json", "-", "--no-progress"]) == 0
    cap = capsys.readouterr()
    again = json.loads(cap.out)  # stdout holds the JSON alone
    assert cap.err == ""
    assert _strip(again) == _strip(doc)


@pytest.mark.parametrize(
    "args, param",
    [
        (["--reps", "0"], "--reps"),
        (["--seed", "-1"], "--seed"),
        (["--jobs", "0"], "--jobs"),
        (["--claims", "test-calibrate-mean,nope"], "claims"),
        (["--claims", " , "], "--claims"),
        (["--json", "/nonexistent-dir/cal.json"], "--json"),
    ],
)
def test_calibrate_bad_input(args, param, tmp_path, capsys):
    out = ["--json", str(tmp_path / "cal.json")] if "--json" not in args else []
    assert main(["calibrate", "--profile", "quick", "--reps", "2", *out, *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and param in err
    assert not list(tmp_path.iterdir())  # nothing written


def test_calibrate_bad_profile_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["calibrate", "--profile", "huge"])
    assert e.value.code == 2 and capsys.readouterr().err.count("\n") == 1


@pytest.fixture(scope="module")
def calibration_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cal") / "calibration-quick.json"
    args = [
        "calibrate",
        "--claims",
        "test-calibrate-mean,test-calibrate-uncalibrated",
        "--profile",
        "quick",
        "--reps",
        "20",
    ]
    assert main([*args, "--seed", str(CAL_SEED), "--jobs", "1", "--json", str(path), "--no-progress"]) == 0
    return path


def _validate(tmp_path, *extra):
    out = tmp_path / "run"
    args = [
        "validate",
        "--profile",
        "quick",
        "--claims",
        "test-calibrate-mean,test-calibrate-uncalibrated",
        "--out",
        str(out),
    ]
    assert main([*args, "--no-progress", *extra]) == 0
    return out, json.loads((out / "results.json").read_text())


def test_validate_writes_calibration_and_history(tmp_path, calibration_file, capsys):
    out, doc = _validate(tmp_path, "--calibration", str(calibration_file))
    cal_doc = json.loads(calibration_file.read_text())
    assert doc["calibration_file"]["path"] == str(calibration_file) and doc["calibration_file"]["reps"] == 20
    mean, unc = doc["claims"]
    cal = mean["calibration"]
    assert {"profile", "reps", "seed", "date", "null_fail", "alternative_fail", "stale"} <= set(cal)
    assert (cal["profile"], cal["reps"], cal["seed"], cal["date"]) == ("quick", 20, CAL_SEED, cal_doc["date"])
    assert cal["stale"] is False and cal["calibrated"] is True and cal["smoke_run"] is True
    ff = cal_doc["claims"][0]["summary"]["false_fail"]
    assert cal["false_fail"] == ff and cal["confirm"]["reps"] == 20 and cal["worst_family_power"]["family"] in ROWS
    assert cal["null_fail"] == {"rate": ff["rate"], "ci": ff["ci"], "reps": 20, "target": ff["state"]}
    assert unc["calibration"]["calibrated"] is False and unc["calibration"]["reason"].startswith("toy:")
    assert mean["version"] == 3 and mean["history"][0]["old_source"].startswith("recomputed on the same data")
    # both reports show calibration, history and each judged row's effect
    html = (out / "report.html").read_text(encoding="utf-8")
    for text in ("Calibration", "null FAIL rate", "band widened from +-0.02 to +-0.1", "recomputed on the same data"):
        assert text in html, text
    assert "rule version 3" in html and f"{EFFECT:.4g}" in html and ">effect</th>" in html
    assert str(calibration_file) in html
    pypdf = require_module("pypdf", "pypdf comes with the dev extra: pip install -e '.[dev]'")
    pdf = " ".join(p.extract_text() for p in pypdf.PdfReader(out / "report.pdf").pages)
    pdf = " ".join(pdf.split())
    # the claim's page: calibration and history in brief (their tables are in the --pdf-appendix)
    for text in ("Calibration and history", "false FAIL (edge)", "History", "band widened from", "effect"):
        assert text in pdf, text
    assert "(old rule: " in pdf and "toy: no sampler of its statistic" in pdf
    assert "earlier run: commit 0000000" in html  # where an old verdict comes from: report.html and the appendix


def test_validate_without_a_calibration_file_says_so(tmp_path):
    _, doc = _validate(tmp_path, "--calibration", str(tmp_path / "missing.json"))
    assert doc["calibration_file"]["path"] is None and "not found" in doc["calibration_file"]["note"]
    assert all(c["calibration"] is None for c in doc["claims"])


def test_validate_refuses_a_file_that_is_not_a_calibration(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "diffapprox.results/2", "claims": []}))
    args = ["validate", "--profile", "quick", "--claims", "test-calibrate-mean", "--out", str(tmp_path / "run")]
    assert main([*args, "--calibration", str(bad)]) == 2
    assert "--calibration" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_regression_ignores_calibration_history_and_version(tmp_path):
    from diffapprox._run.regression import compare_to_baseline

    _, doc = _validate(tmp_path)
    base = json.loads(json.dumps(doc))
    for c in base["claims"]:
        c.update(calibration={"stale": True}, history=[], version=1)
    base["calibration_file"] = {"path": "elsewhere"}
    assert compare_to_baseline(doc, base) == []


def test_report_reads_results_without_calibration_or_history(tmp_path):
    """results.json written before calibration and history existed still renders."""
    from diffapprox.report import render_report

    _, doc = _validate(tmp_path)
    del doc["calibration_file"]
    for c in doc["claims"]:
        for k in ("calibration", "history", "version"):
            del c[k]
        for m in c["measurements"]:
            del m["effect"]
    out = tmp_path / "old"
    out.mkdir()
    (out / "results.json").write_text(json.dumps(doc))
    render_report(out)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Calibration: not recorded" in html and "rule version 1" in html


def test_claim_result_version_is_checked():
    from diffapprox import ClaimResult, DiffapproxError

    with pytest.raises(DiffapproxError, match="version"):
        ClaimResult(
            id="x", paper_ref="p", statement="s", verdict=Verdict.PASS, parameters={}, measurements=[], version=2
        )
