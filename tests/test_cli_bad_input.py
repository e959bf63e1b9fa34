"""Bad input on every subcommand: one line on stderr naming the parameter, exit 2, nothing touched.

Exit code 2 = bad input: one line naming the parameter, existing results untouched.
Each case runs ``diffapprox.cli.main`` in-process.  The working directory is a fresh
``tmp_path`` holding a few existing files (an old JSON summary, a run directory with a
report); after the failing command the whole tree must be byte-for-byte the same, so a
bad call neither creates nor overwrites anything.

argparse's ``type=float`` accepts ``nan`` and ``inf``: those cases check that the
boundary validation (``diffapprox._core.errors.check_range``) still refuses them.
"""

from __future__ import annotations

import re

import pytest

from diffapprox import cli

SIM = ["simulate", "--mu", "0.5", "--eta", "1e-3", "--paths", "2", "--steps", "100"]
THEORY = ["theory", "--mu", "0.5", "--eta", "1e-3"]
ADVISE = ["advise", "--eta", "1e-3", "--workers", "4"]
LIVE = ["live", "--mu", "0.5", "--eta", "1e-3", "--workers", "2", "--steps", "10"]
VALIDATE = ["validate", "--profile", "quick", "--claims", "ode-limit", "--out", "{tmp}/new-run"]

#: (case id, argv, parameter name the error line must contain).  ``{tmp}`` is the test's directory;
#: ``{tmp}/afile`` is an existing regular file, so ``{tmp}/afile/x`` can never be written (even by root).
CASES = [
    # --- simulate -------------------------------------------------------------
    ("simulate-mu-1", SIM + ["--mu", "1.0"], "mu"),
    ("simulate-mu-negative", SIM + ["--mu", "-0.1"], "mu"),
    ("simulate-mu-nan", SIM + ["--mu", "nan"], "mu"),
    ("simulate-mu-not-a-number", SIM + ["--mu", "abc"], "--mu"),
    ("simulate-eta-0", SIM + ["--eta", "0"], "eta"),
    ("simulate-eta-negative", SIM + ["--eta", "-1e-3"], "eta"),
    ("simulate-eta-nan", SIM + ["--eta", "nan"], "eta"),
    ("simulate-eta-inf", SIM + ["--eta", "inf"], "eta"),
    ("simulate-no-eigengap", SIM + ["--spectrum", "2,2,1"], "spectrum"),
    ("simulate-spectrum-nan", SIM + ["--spectrum", "4,nan,1"], "spectrum"),
    ("simulate-spectrum-inf", SIM + ["--spectrum", "4,inf,1"], "spectrum"),
    ("simulate-spectrum-negative", SIM + ["--spectrum", "4,3,-1"], "spectrum"),
    ("simulate-sigma-nan", SIM + ["--sigma", "1,nan;nan,1"], "sigma"),
    ("simulate-delay-negative", SIM + ["--delay", "const:-1"], "delay"),
    ("simulate-delay-uniform-negative", SIM + ["--delay", "uniform:-2,3"], "delay"),
    ("simulate-delay-geometric-nan", SIM + ["--delay", "geometric:nan"], "delay"),
    ("simulate-unknown-data-law", SIM + ["--data", "cauchy"], "data"),
    ("simulate-bound-nan", SIM + ["--bound", "nan"], "bound"),
    ("simulate-start-nan", SIM + ["--start", "1,nan,0,0"], "start"),
    ("simulate-passage-nan", SIM + ["--passage", "0,nan,1"], "passages"),
    ("simulate-paths-0", SIM + ["--paths", "0"], "paths"),
    ("simulate-steps-negative", SIM + ["--steps", "-1"], "steps"),
    ("simulate-unwritable-json", SIM + ["--json", "{tmp}/afile/x.json"], "--json"),
    ("simulate-unwritable-npz", SIM + ["--npz", "{tmp}/afile/x.npz"], "--npz"),
    # --- theory ---------------------------------------------------------------
    ("theory-mu-1", THEORY + ["--mu", "1.0"], "mu"),
    ("theory-mu-nan", THEORY + ["--mu", "nan"], "mu"),
    ("theory-eta-0", THEORY + ["--eta", "0"], "eta"),
    ("theory-eta-nan", THEORY + ["--eta", "nan"], "eta"),
    ("theory-eta-inf", THEORY + ["--eta", "inf"], "eta"),
    ("theory-eta-minus-inf", THEORY + ["--eta", "-inf"], "eta"),  # read as a value, not an option
    ("theory-no-eigengap", THEORY + ["--spectrum", "2,2,1"], "spectrum"),
    ("theory-spectrum-nan", THEORY + ["--spectrum", "4,nan,1"], "spectrum"),
    ("theory-tau-negative", THEORY + ["--tau", "-1"], "tau"),
    ("theory-unknown-data-law", THEORY + ["--data", "cauchy"], "data"),
    ("theory-delta-nan", THEORY + ["--delta", "nan"], "delta"),
    ("theory-nu-inf", THEORY + ["--nu", "inf"], "nu"),
    ("theory-epsilon-nan", THEORY + ["--epsilon", "nan"], "epsilon"),
    ("theory-gamma-nan", THEORY + ["--gamma", "nan"], "gamma"),
    ("theory-h0-nan", THEORY + ["--h0", "1,nan,0,0"], "h0"),
    ("theory-times-nan", THEORY + ["--times", "0,nan"], "times"),
    ("theory-times-negative", THEORY + ["--times", "-1"], "times"),
    ("theory-unwritable-json", THEORY + ["--json", "{tmp}/afile/x.json"], "--json"),
    # --- advise ---------------------------------------------------------------
    ("advise-eta-0", ADVISE + ["--eta", "0"], "eta"),
    ("advise-eta-nan", ADVISE + ["--eta", "nan"], "eta"),
    ("advise-no-eigengap", ADVISE + ["--spectrum", "2,2,1"], "spectrum"),
    ("advise-spectrum-nan", ADVISE + ["--spectrum", "4,nan,1"], "spectrum"),
    ("advise-workers-0", ADVISE + ["--workers", "0"], "workers"),
    ("advise-unknown-data-law", ADVISE + ["--data", "cauchy"], "data"),
    ("advise-delay-negative", ADVISE + ["--delay", "const:-2"], "delay"),
    ("advise-gamma-nan", ADVISE + ["--gamma", "nan"], "gamma"),
    ("advise-quantile-nan", ADVISE + ["--delay", "geometric:3", "--quantile", "nan"], "quantile"),
    ("advise-quantile-unused-but-bad", ADVISE + ["--quantile", "1.5"], "quantile"),
    ("advise-unwritable-json", ADVISE + ["--json", "{tmp}/afile/x.json"], "--json"),
    # --- validate -------------------------------------------------------------
    ("validate-unknown-claim", VALIDATE + ["--claims", "no-such-claim"], "claims"),
    ("validate-bad-profile", VALIDATE + ["--profile", "huge"], "--profile"),
    ("validate-unwritable-out", VALIDATE + ["--out", "{tmp}/afile/x"], "--out"),
    ("validate-out-is-a-file", VALIDATE + ["--out", "{tmp}/afile"], "--out"),
    ("validate-out-holds-a-run", VALIDATE + ["--out", "{tmp}/run"], "--out"),
    ("validate-seed-negative", VALIDATE + ["--seed", "-1"], "--seed"),
    ("validate-threads-0", VALIDATE + ["--threads", "0"], "--threads"),
    ("validate-bad-executor", VALIDATE + ["--executor", "threads"], "--executor"),
    ("validate-executor-and-dask", VALIDATE + ["--executor", "sequential", "--workers", "2"], "--executor"),
    ("validate-corrupt-baseline", VALIDATE + ["--baseline", "{tmp}/run/results.json"], "--baseline"),
    ("validate-missing-baseline", VALIDATE + ["--baseline", "{tmp}/none.json"], "--baseline"),
    # --- claims ---------------------------------------------------------------
    ("claims-unknown-option", ["claims", "--bogus"], "--bogus"),
    # --- report ---------------------------------------------------------------
    ("report-corrupt-results", ["report", "{tmp}/run"], "results.json"),
    ("report-results-not-an-object", ["report", "{tmp}/listrun"], "results.json"),
    ("report-missing-dir", ["report", "{tmp}/no-such-dir"], "DIR"),
    ("report-bad-format", ["report", "{tmp}/run", "--format", "docx"], "--format"),
    # --- live (fails at the boundary, before any cluster starts) ---------------
    ("live-mu-1.5", LIVE + ["--mu", "1.5"], "mu"),
    ("live-mu-nan", LIVE + ["--mu", "nan"], "mu"),
    ("live-eta-0", LIVE + ["--eta", "0"], "eta"),
    ("live-eta-nan", LIVE + ["--eta", "nan"], "eta"),
    ("live-no-eigengap", LIVE + ["--spectrum", "2,2,1"], "spectrum"),
    ("live-spectrum-nan", LIVE + ["--spectrum", "4,nan,1"], "spectrum"),
    ("live-unknown-data-law", LIVE + ["--data", "cauchy"], "data"),
    ("live-workers-0", LIVE + ["--workers", "0"], "workers"),
    ("live-steps-0", LIVE + ["--steps", "0"], "steps"),
    ("live-compute-ms-nan", LIVE + ["--compute-ms", "nan"], "compute-ms"),
    ("live-slow-worker-nan", LIVE + ["--slow-worker", "nan"], "slow_worker"),
    ("live-unwritable-json", LIVE + ["--json", "{tmp}/afile/x.json"], "--json"),
]

#: Every subcommand of the command-line contract.
SUBCOMMANDS = ["simulate", "theory", "advise", "validate", "claims", "report", "live"]


def _tree(root):
    """Every path under ``root`` with its bytes (None for directories)."""
    return {p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes()) for p in root.rglob("*")}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A directory with files a bad command must not touch; also the working directory."""
    (tmp_path / "afile").write_text("keep me\n")
    (tmp_path / "old.json").write_text('{"schema": "old"}\n')
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text("{not json")
    (run / "report.html").write_text("<html>old report</html>\n")
    (tmp_path / "listrun").mkdir()
    (tmp_path / "listrun" / "results.json").write_text("[1, 2]\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CI", "true")
    return tmp_path


def _invoke(argv):
    try:
        return cli.main(argv)
    except SystemExit as exc:  # argparse errors exit from inside parse_args
        return exc.code


@pytest.mark.parametrize("argv, param", [pytest.param(a, p, id=i) for i, a, p in CASES])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(workdir, capsys, argv, param):
    before = _tree(workdir)
    code = _invoke([a.replace("{tmp}", str(workdir)) for a in argv])
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, (code, err)
    assert len(lines) == 1, err
    assert "Traceback" not in err and "error" in lines[0]
    assert "expected one argument" not in lines[0]  # a negative number must reach the boundary check
    # the parameter is named as a word, bare or as its --option (not merely inside another word)
    assert re.search(rf"(?<![\w-])(?:--)?{re.escape(param)}(?![\w-])", lines[0]), lines[0]
    assert _tree(workdir) == before


def test_existing_output_file_survives_a_bad_call(workdir, capsys):
    """``--json`` pointing at an existing file: a bad value elsewhere must not truncate it."""
    old = (workdir / "old.json").read_bytes()
    for argv in (SIM + ["--mu", "nan"], THEORY + ["--eta", "nan"], ADVISE + ["--eta", "-1"], LIVE + ["--mu", "2"]):
        assert _invoke(argv + ["--json", str(workdir / "old.json")]) == 2
        assert (workdir / "old.json").read_bytes() == old
    capsys.readouterr()


@pytest.mark.parametrize("sub", [None, *SUBCOMMANDS])
def test_help(capsys, sub):
    argv = ["--help"] if sub is None else [sub, "--help"]
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    out, err = capsys.readouterr()
    assert e.value.code == 0 and err == ""
    assert out.startswith("usage: diffapprox" + ("" if sub is None else f" {sub}"))
    if sub is None:
        for s in SUBCOMMANDS:
            assert s in out


#: Claim ids fixed by issues 4 and 5 (the contract).
CONTRACT_IDS = [
    "ode-limit",
    "ou-optimum",
    "saddle-escape",
    "traverse-time",
    "phase3-time",
    "verdict-calibration",
    "figure1",
    "delay-threshold",
    "random-delay",
    "async-speedup",
    "norm-bound",
    "momentum-bias",
    "async-error",
]


def test_claims_lists_every_contract_id_with_ref_and_statement(capsys):
    import json

    from diffapprox._run.claims import all_claims

    assert cli.main(["claims", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(CONTRACT_IDS) <= set(rows)
    assert set(all_claims()) == set(rows)
    for r in rows.values():
        assert r["paper_ref"].strip() and r["statement"].strip(), r
    assert cli.main(["claims"]) == 0
    text = capsys.readouterr().out.splitlines()
    for cid, r in rows.items():
        line = next(ln for ln in text if ln.split()[0] == cid)
        assert r["paper_ref"] in line and r["statement"] in line
