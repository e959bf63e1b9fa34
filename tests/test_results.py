"""Typed results: ``results.json`` round-trips through :class:`diffapprox.Results`, bad input names the field."""

import copy
import json
import re
import shutil
import warnings
from pathlib import Path

import pytest

import diffapprox
from diffapprox import DiffapproxError, Measurement, Results, Verdict, load_results
from diffapprox._core.results_file import FRAME_COLUMNS, Calibration, ClaimRecord

ROOT = Path(__file__).parent.parent
BASELINE = ROOT / "reports" / "baseline-quick.json"
SAMPLE = Path(__file__).parent / "fixtures" / "results_sample"

#: Every committed results file (a fresh run's file is checked by test_fresh_run_round_trips).
COMMITTED = [BASELINE, SAMPLE / "results.json"]


def _read(p: Path) -> dict:
    return json.loads(p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name if p.parent.name == "reports" else "sample")
def test_committed_files_round_trip(path):
    d = _read(path)
    res = Results.from_json(d)
    assert res.to_json() == d
    # key order too: the file is written back as it was
    assert json.dumps(res.to_json()) == json.dumps(d)
    assert Results.from_json(res.to_json()) == res


def test_fresh_run_round_trips(tmp_path):
    """A results.json written by ``diffapprox validate`` (this version) reads and writes back unchanged."""
    from diffapprox.cli import main

    out = tmp_path / "run"
    assert main(["validate", "--profile", "quick", "--claims", "async-error", "--no-progress", "--out", str(out)]) == 0
    d = _read(out / "results.json")
    res = load_results(out)
    assert res.to_json() == d
    assert res.schema == diffapprox._core.results.RESULTS_SCHEMA
    assert [c.id for c in res.claims] == ["async-error"]


def test_older_schema_reads_informative_as_judged():
    d = _read(SAMPLE / "results.json")
    assert d["schema"] == "diffapprox.results/1"
    res = Results.from_json(d)
    rows = [(m.name, m.judged) for c in res.claims for m in c.measurements]
    flags = [m["informative"] for c in d["claims"] for m in c["measurements"]]
    assert [j for _, j in rows] == flags and False in flags
    c = res.claim("ode_limit")
    # keys absent from results/1 take their defaults
    assert c.version == 1 and c.history == () and c.calibration is None and c.about is None
    assert c.measurements[0].effect is None and c.measurements[0].ci_fail is None
    # written back as results/1: no ``judged`` key appears
    assert "judged" not in res.to_json()["claims"][0]["measurements"][0]
    # the complete form has every key of this version
    full = res.to_json(complete=True)["claims"][0]
    assert {"judged", "informative", "version", "history", "ci_fail", "needed_paths"} <= (
        set(full) | set(full["measurements"][0])
    )
    assert res.environment.versions["numpy"] == "1.26.4"


def test_typed_fields_of_the_baseline():
    res = Results.from_json(_read(BASELINE))
    assert res.profile == "quick" and res.seed == 20180330 and isinstance(res.elapsed_s, float)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", res.started_utc) and res.environment.git_commit
    assert res.command_line.startswith("diffapprox validate --profile=quick")
    c = res.claims[0]
    assert isinstance(c, ClaimRecord) and isinstance(c.verdict, Verdict)
    assert all(isinstance(m, Measurement) for m in c.measurements)
    assert isinstance(c.calibration, Calibration) and c.calibration.reps == 200
    with_history = [c for c in res.claims if c.history]
    assert with_history and all(c.version == len(c.history) + 1 for c in with_history)
    assert all(h.old_verdict in (None, *[v.value for v in Verdict]) for c in with_history for h in c.history)


def _claim0(d):
    return d["claims"][0]


def _m(d, j):
    return d["claims"][0]["measurements"][j]


BAD = [
    (lambda d: _m(d, 1).__setitem__("ci", "x"), r"claims\[0\]\.measurements\[1\]\.ci: expected a pair of numbers"),
    (lambda d: _m(d, 0).__setitem__("ci", [1, 2, 3]), r"claims\[0\]\.measurements\[0\]\.ci: expected a pair"),
    (lambda d: _m(d, 0).__setitem__("estimate", "1"), r"claims\[0\]\.measurements\[0\]\.estimate: expected a number"),
    (lambda d: _m(d, 0).__setitem__("verdict", "MAYBE"), r"claims\[0\]\.measurements\[0\]\.verdict: expected one of"),
    (lambda d: _m(d, 0).__setitem__("ci_fail", ["a", 1]), r"claims\[0\]\.measurements\[0\]\.ci_fail: expected a pair"),
    (lambda d: _m(d, 0).__setitem__("needed_paths", 1.5), r"measurements\[0\]\.needed_paths: expected an integer"),
    (lambda d: _m(d, 0).pop("name"), r"claims\[0\]\.measurements\[0\]\.name: expected a string"),
    (lambda d: _claim0(d).__setitem__("verdict", "OK"), r"claims\[0\]\.verdict: expected one of PASS"),
    (lambda d: _claim0(d).__setitem__("about", "blog"), r"claims\[0\]\.about: expected one of paper"),
    (lambda d: _claim0(d).__setitem__("measurements", {}), r"claims\[0\]\.measurements: expected a list"),
    (lambda d: _claim0(d).__setitem__("figures", ["/etc/passwd.png"]), r"figures\[0\]: expected a path inside"),
    (lambda d: _claim0(d).__setitem__("history", [{"date": "yesterday", "version": 2}]), r"history\[0\]"),
    (lambda d: _claim0(d).__setitem__("calibration", {"stale": "yes"}), r"claims\[0\]\.calibration\.stale"),
    (lambda d: _claim0(d).__setitem__("calibration", {"confirm": 0.9}), r"claims\[0\]\.calibration\.confirm"),
    (lambda d: d.__setitem__("schema", "other/9"), r"^schema: expected 'diffapprox\.results/1'"),
    (lambda d: d.__setitem__("claims", [d["claims"][0]] * 2), r"^claims: expected unique ids"),
    (lambda d: d.__setitem__("seed", "7"), r"^seed: expected an integer"),
]


@pytest.mark.parametrize("mutate, match", BAD)
def test_bad_input_names_the_field(mutate, match):
    d = _read(BASELINE)
    mutate(d)
    with pytest.raises(DiffapproxError, match=match) as exc:
        Results.from_json(d)
    assert "\n" not in str(exc.value)


def test_load_results_names_the_file_and_field(tmp_path):
    d = _read(BASELINE)
    d["claims"][3]["measurements"][2]["ci"] = "x"
    (tmp_path / "results.json").write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(DiffapproxError) as exc:
        load_results(tmp_path)
    assert str(exc.value) == (
        "results.json: claims[3].measurements[2].ci: expected a pair of numbers or nulls, found 'x'"
    )


def test_new_fields_read_and_write_back():
    """ci_fail, needed_paths, about and the new calibration blocks are read and round-trip."""
    d = _read(BASELINE)
    c = d["claims"][0]
    c["about"] = "paper"
    c["measurements"][0].update(ci_fail=[0.1, 0.9], needed_paths=12000)
    c["calibration"].update(confirm={"rate": 0.91, "ci": [0.86, 0.94]}, false_pass=None, new_key={"x": 1})
    res = Results.from_json(d)
    rc = res.claims[0]
    assert rc.about == "paper" and rc.measurements[0].ci_fail == (0.1, 0.9)
    assert rc.measurements[0].needed_paths == 12000
    assert rc.calibration.confirm["rate"] == 0.91 and rc.calibration.extra["new_key"] == {"x": 1}
    assert res.to_json() == d


def test_unknown_keys_are_kept():
    d = _read(BASELINE)
    d["future_fact"] = [1, 2]
    d["claims"][0]["future_claim_key"] = "x"
    d["claims"][0]["measurements"][0]["future_row_key"] = 3
    res = Results.from_json(d)
    assert res.extra == {"future_fact": [1, 2]} and res.claims[0].extra == {"future_claim_key": "x"}
    assert res.to_json() == d


def test_to_frame_columns_and_rows():
    res = Results.from_json(_read(BASELINE))
    df = res.to_frame()
    n = sum(len(c.measurements) for c in res.claims)
    assert list(df.columns) == list(FRAME_COLUMNS) and len(df) == n
    first = res.claims[0].measurements[0]
    row = df.iloc[0]
    assert row["claim"] == res.claims[0].id and row["measurement"] == first.name
    assert row["verdict"] == first.verdict.value and row["estimate"] == first.estimate
    assert (row["band_lo"], row["band_hi"]) == tuple(first.tolerance)
    assert df["ci_fail_lo"].notna().any()  # the baseline states FAIL intervals
    judged = df[df["judged"]]
    assert len(judged) == sum(len(c.judged) for c in res.claims)


def test_dict_access_warns_and_still_works():
    res = Results.from_json(_read(SAMPLE / "results.json"))
    with pytest.warns(DeprecationWarning, match="dict access to results is deprecated"):
        claims = res["claims"]
    assert claims[0]["id"] == "ode_limit" and claims[0]["measurements"][0]["judged"] is True
    with pytest.warns(DeprecationWarning):
        assert res.get("profile") == "quick"
    with pytest.warns(DeprecationWarning):
        assert "claims" in res.keys()
    with pytest.warns(DeprecationWarning):
        assert res.get("nothing", 3) == 3


def test_attribute_access_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = load_results(SAMPLE)
        assert res.claims[0].measurements[0].name and res.to_frame() is not None


def test_report_renders_from_results(tmp_path):
    """The report reads Results; a FAIL interval and the paths an INCONCLUSIVE row needs are shown."""
    from diffapprox.report import render_html, render_report

    d = tmp_path / "run"
    shutil.copytree(SAMPLE, d, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    raw = _read(d / "results.json")
    res = load_results(d)
    html = render_html(res, d)
    assert "FAIL CI" not in html and "paths would decide it" not in html
    new = copy.deepcopy(raw)
    ms = new["claims"][0]["measurements"]
    ms[0]["ci_fail"] = [0.0101, 0.0145]
    inconclusive = next(m for c in new["claims"] for m in c["measurements"] if m["verdict"] == "INCONCLUSIVE")
    inconclusive["needed_paths"] = 40000
    (d / "results.json").write_text(json.dumps(new), encoding="utf-8")
    html = render_html(load_results(d), d)
    assert "FAIL CI" in html and "[0.0101, 0.0145]" in html
    assert "about 40,000 paths would decide it" in html
    written = render_report(d)
    assert written["pdf"].stat().st_size > 1000
