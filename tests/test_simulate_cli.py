"""`diffapprox simulate` on the command line: JSON contract, files, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from diffapprox.cli import main

KEYS = ["schema", "parameters", "times", "error", "h2_mean", "norm2_mean", "diverged", "timing"]
BASE = [
    "simulate",
    "--spectrum",
    "4,3,2,1",
    "--data",
    "gaussian",
    "--mu",
    "0.8",
    "--eta",
    "5e-4",
    "--delay",
    "const:20",
    "--batch",
    "1",
    "--paths",
    "6",
    "--steps",
    "2000",
    "--record-every",
    "100",
    "--start",
    "e2",
    "--seed",
    "1",
    "--threads",
    "2",
]


def test_json_to_stdout(capsys):
    assert main(BASE + ["--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc) == KEYS
    assert doc["schema"] == "diffapprox.simulate/1"
    n_rec = 2000 // 100 + 1
    assert len(doc["times"]) == n_rec and doc["times"][1] == pytest.approx(100 * 5e-4)
    assert set(doc["error"]) == {"mean", "q10", "q50", "q90"}
    assert all(len(v) == n_rec for v in doc["error"].values())
    assert np.array(doc["h2_mean"]).shape == (n_rec, 4)
    assert len(doc["norm2_mean"]) == n_rec and doc["diverged"] == 0
    p = doc["parameters"]
    assert p["mu"] == 0.8 and p["eta"] == 5e-4 and p["paths"] == 6 and p["steps"] == 2000
    assert p["delay"]["spec"] == "const:20" and p["seed"] == 1 and p["start"] == "e2"
    assert p["problem"]["eigenvalues"] == [4.0, 3.0, 2.0, 1.0]
    assert set(doc["timing"]) == {"compile_s", "run_s", "path_steps_per_s"}
    assert doc["error"]["q10"][0] == pytest.approx(1.0)  # start at e2: error 1


def test_json_and_npz_files(tmp_path, capsys):
    out, npz = tmp_path / "s.json", tmp_path / "s.npz"
    assert main(BASE + ["--json", str(out), "--npz", str(npz), "--passage", "0,0.5,1"]) == 0
    assert capsys.readouterr().out == ""
    doc = json.loads(out.read_text())
    with np.load(npz) as z:
        assert z["error"].shape == (6, 21) and z["h"].shape == (6, 21, 4)
        np.testing.assert_allclose(z["error"].mean(axis=0), doc["error"]["mean"])
        assert z["passage"].shape == (6, 1)
        assert json.loads(str(z["parameters"]))["passages"] == [[0, 0.5, 1]]


def test_same_seed_same_json(capsys):
    main(BASE)
    a = json.loads(capsys.readouterr().out)
    main(BASE[:-2] + ["--threads", "1"])
    b = json.loads(capsys.readouterr().out)
    assert a["error"] == b["error"] and a["h2_mean"] == b["h2_mean"]


@pytest.mark.parametrize(
    "change,param",
    [
        (["--mu", "1.0"], "mu"),
        (["--eta", "0"], "eta"),
        (["--eta", "nan"], "eta"),
        (["--spectrum", "1,1,0.5"], "spectrum"),
        (["--spectrum", "2,1,-1"], "spectrum"),
        (["--delay", "const:-3"], "delay"),
        (["--delay", "zipf:2"], "delay"),
        (["--paths", "0"], "paths"),
        (["--steps", "0"], "steps"),
        (["--data", "laplace"], "data"),
        (["--start", "e7"], "start"),
    ],
)
def test_bad_input_one_line_exit_2(change, param, capsys):
    argv = list(BASE)
    i = argv.index(change[0])
    argv[i + 1] = change[1]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and param in err and "Traceback" not in err


def test_non_spd_sigma_exit_2(capsys):
    argv = [a for a in BASE if a not in ("--spectrum", "4,3,2,1")]
    assert main(argv + ["--sigma", "1,2;2,1"]) == 2
    assert "positive definite" in capsys.readouterr().err


def test_subprocess_exit_code_and_no_traceback():
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "diffapprox.cli",
            "simulate",
            "--mu",
            "2",
            "--eta",
            "0.1",
            "--paths",
            "1",
            "--steps",
            "100",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "mu" in r.stderr and "Traceback" not in r.stderr
