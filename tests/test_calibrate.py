"""``diffapprox calibrate`` and what ``validate`` does with its output, on toy claims with known answers.

The toy claims are registered with :func:`diffapprox.register` at module level (so that worker
processes, which import this module by name, find the same classes).  ``test-calibrate-mean`` judges two
sample means against a prediction with a two-sided band; its null draws the means at the
prediction, its alternative beyond the band's edge by the stated effect, so the claim-level null
FAIL rate is at most 5% (Bonferroni over its two rows) and its power about 0.8 per row, above 0.95
for the claim (it FAILs when either row does).
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
from diffapprox import Claim, HistoryEntry, Verdict
from diffapprox import stats as S
from diffapprox._run import calibrate as C
from diffapprox._run.runner import history_json, run_claims
from diffapprox.cli import main

SEED = 20261129  # master seed of every control run here
CAL_SEED = 7  # seed of the calibrate runs that validate reads

N = 4000  # draws behind each toy mean
BAND = 0.1  # toy band: prediction +- BAND
ROWS = ("a", "b")
LEVEL = S.row_level(len(ROWS))
SE = 1.0 / math.sqrt(N)  # the toy data are N(truth, 1)
EFFECT = S.detectable_effect(SE, level=LEVEL)
K_SE = 4.0  # tolerance of rate checks, in binomial standard errors


def _mean_row(name: str, summary: dict, prediction: float, judged: bool = True, band: float = BAND):
    z = norm.ppf(0.5 + LEVEL / 2)
    m, se = summary["mean"], summary["sd"] / math.sqrt(summary["n"])
    return S.measurement(
        name,
        m,
        (m - z * se, m + z * se),
        prediction,
        S.absolute_band(prediction, band),
        level=LEVEL,
        judged=judged,
        effect=EFFECT if judged else None,
    )


@da.register
class ToyMean(Claim):
    """Two means of N(truth, 1) draws against the prediction 1 +- BAND."""

    id = "test-calibrate-mean"
    paper_ref = "toy (test_calibrate)"
    statement = "two means equal 1 within 0.1"
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

    def run_cell(self, cell):
        x = np.random.default_rng(cell.seed).normal(cell.params["truth"], 1.0, N)
        return {"mean": float(x.mean()), "sd": float(x.std(ddof=1)), "n": N}

    def predict(self, profile):
        return {"mean": 1.0}

    def measure(self, profile, seed, results, prediction):
        p = prediction["mean"]
        ms = [_mean_row(f"mean/{k}", results[k], p) for k in ROWS]
        ms.append(_mean_row("old/mean/a", results["a"], p, judged=False, band=0.02))
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
    """ToyMean whose alternative breaks on every third replicate."""

    id = "test-calibrate-broken"
    history = ()

    def synthetic(self, profile, kind, rng):
        if kind == "limit":
            return None
        if kind == "alternative" and rng.integers(3) == 0:
            raise RuntimeError("toy failure")
        return super().synthetic(profile, kind, rng)


def _rates_keys(r):
    assert set(r) == {"fail", "inconclusive", "pass", "error", "reps", "fail_ci"}
    assert r["fail"] + r["inconclusive"] + r["pass"] + r["error"] == pytest.approx(1.0)


def _strip(doc):
    """The claims of a calibrate document without their run times."""
    return [{k: v for k, v in c.items() if k != "elapsed_s"} for c in doc["claims"]]


def _calibrate(ids, reps=60, jobs=1):
    return C.calibrate([da.get_claim(i) for i in ids], profile="quick", reps=reps, seed=SEED, jobs=jobs, progress=False)


def test_calibrate_schema_rates_and_targets():
    doc = _calibrate(["test-calibrate-mean", "test-calibrate-uncalibrated", "test-calibrate-broken"])
    assert doc["schema"] == "diffapprox.calibrate/1"
    assert (doc["profile"], doc["reps"], doc["seed"], doc["smoke_run"]) == ("quick", 60, SEED, True)
    mean, unc, broken = doc["claims"]
    assert [c["id"] for c in doc["claims"]] == [
        "test-calibrate-mean",
        "test-calibrate-uncalibrated",
        "test-calibrate-broken",
    ]
    # test-calibrate-mean: null rarely FAILs (<= 5% by Bonferroni; 0 here), the alternative FAILs (claim power ~0.96)
    for kind in ("null", "alternative", "limit"):
        _rates_keys(mean[kind])
        assert mean[kind]["reps"] == 60
    assert mean["null"]["fail"] <= 0.05 + K_SE * math.sqrt(0.05 * 0.95 / 60)
    assert mean["alternative"]["fail"] >= 0.96 - K_SE * math.sqrt(0.96 * 0.04 / 60)
    # the limit control sits inside the band (truth 1.05): no FAIL, and reported without a target
    assert mean["limit"]["fail"] == 0.0
    assert [m["name"] for m in mean["measurements"]] == ["mean/a", "mean/b"]  # judged rows only
    for m in mean["measurements"]:
        _rates_keys(m["null"])
        _rates_keys(m["alternative"])
        # per row: power of detectable_effect is 0.8
        assert abs(m["alternative"]["fail"] - 0.8) <= K_SE * math.sqrt(0.8 * 0.2 / 60)
    # targets are the CI rule on the claim-level counts
    n_fail = round(mean["null"]["fail"] * 60)
    assert mean["targets"]["null_fail"] == C.target_state(n_fail, 60, "null")
    assert mean["targets"]["power"] == C.target_state(round(mean["alternative"]["fail"] * 60), 60, "power")
    # a claim without controls says why
    assert unc["calibrated"] is False and unc["reason"] == "toy: no sampler of its statistic"
    assert unc["null"] is None and unc["measurements"] == [] and unc["targets"] is None
    # a control that breaks is counted as ERROR, with its message; no limit control -> null
    assert 0 < broken["alternative"]["error"] < 1 and broken["errors"][0].startswith(
        "alternative: RuntimeError: toy failure (replicates "
    )
    assert broken["limit"] is None
    json.dumps(doc, allow_nan=False)  # strict JSON


def test_target_states_follow_the_ci_rule():
    # Wilson 95% CIs: 0/200 -> [0, 0.019] met; 30/200 -> [0.107, 0.207] missed; 8/200 -> [0.020, 0.077] undecided
    assert [C.target_state(k, 200, "null") for k in (0, 30, 8)] == ["met", "missed", "undecided"]
    # 190/200 -> [0.91, 0.97] met; 120/200 -> [0.53, 0.66] missed; 165/200 -> [0.77, 0.87] undecided
    assert [C.target_state(k, 200, "power") for k in (190, 120, 165)] == ["met", "missed", "undecided"]


def test_rates_do_not_depend_on_jobs_or_blocks():
    """Replicate r draws from derive_seed(seed, claim, kind, r): 2 worker processes give the same rates."""
    one = _calibrate(["test-calibrate-mean"], reps=30, jobs=1)
    two = _calibrate(["test-calibrate-mean"], reps=30, jobs=2)
    assert _strip(one) == _strip(two)
    assert C._blocks(30, 2) != C._blocks(30, 1)  # different blocks, same answer
    # and the same as run_controls, the one-process loop behind it
    run = C.run_controls(da.get_claim("test-calibrate-mean"), "quick", "null", 30, SEED)
    assert C.Rates.of(run.claim).to_json() == one["claims"][0]["null"]


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
    entry = cal_doc["claims"][0]
    assert cal["null_fail"] == {
        "rate": entry["null"]["fail"],
        "ci": entry["null"]["fail_ci"],
        "reps": 20,
        "target": entry["targets"]["null_fail"],
    }
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
    for text in ("Calibration and history", "null FAIL rate", "History", "band widened from", "effect"):
        assert text in pdf, text
    assert "earlier run: commit 0000000" in pdf and "toy: no sampler of its statistic" in pdf


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
