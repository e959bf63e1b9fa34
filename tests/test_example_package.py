"""The third-party example package: its problem against its naive twin, and its claim found once installed.

The package is installed into a temporary target directory (``pip install --no-deps --target``), never
into the running environment; a subprocess with that directory on ``PYTHONPATH`` sees its claim
through the ``diffapprox.claims`` entry-point group.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import diffapprox as da

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "diffapprox-example"
SEED = 31


def test_least_squares_kernel_equals_its_naive_twin(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    from diffapprox_example.naive import naive_sgd
    from diffapprox_example.problem import least_squares

    pr = least_squares((1.0, -0.5), 0.5)
    r = da.simulate_algorithm(pr, da.sgd(0.05), steps=60, paths=3, x0=[3.0, 3.0], seed=SEED)
    for p in range(3):
        xi = da.engine.sample_noise(pr, seed=SEED, path=p, n=60)
        ref = naive_sgd(xi, [3.0, 3.0], (1.0, -0.5), 0.05)
        np.testing.assert_allclose(r.x[p], ref, rtol=0, atol=1e-12)


def _run(args, env, cwd):
    return subprocess.run([sys.executable, "-m", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_installed_into_a_target_its_claim_lists_validates_and_calibrates(tmp_path):
    target = tmp_path / "site"
    r = _run(
        ["pip", "install", "--no-deps", "--quiet", "--target", str(target), str(EXAMPLE)], dict(os.environ), tmp_path
    )
    assert r.returncode == 0, r.stderr
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    listed = _run(["diffapprox.cli", "claims"], env, tmp_path)
    assert listed.returncode == 0 and "example-least-squares" in listed.stdout, listed.stderr
    out = tmp_path / "run"
    args = ["diffapprox.cli", "validate", "--profile", "quick", "--claims", "example-least-squares", "--out", str(out)]
    v = _run([*args, "--no-progress"], env, tmp_path)
    assert v.returncode == 0, v.stdout + v.stderr
    claim = json.loads((out / "results.json").read_text())["claims"][0]
    assert claim["id"] == "example-least-squares" and claim["verdict"] in ("PASS", "INCONCLUSIVE", "FAIL")
    assert [m["name"] for m in claim["measurements"]] == ["mean_x1/k=40", "mean_x2/k=40"]
    assert "example-least-squares" in (out / "report.html").read_text(encoding="utf-8")
    # its controls run through its own cell code like a built-in claim's (a 40-replicate smoke run: edge on the
    # band's edge, exact at the prediction, each family a band plus the detectable effect beyond it, outside
    # half the effect beyond; the mutant plants eta = 0.9 eta into the prediction of the real simulator's paths)
    cal = tmp_path / "cal.json"
    args = ["diffapprox.cli", "calibrate", "--profile", "quick", "--claims", "example-least-squares", "--reps", "40"]
    c = _run([*args, "--jobs", "1", "--json", str(cal), "--no-progress"], env, tmp_path)
    assert c.returncode == 0, c.stdout + c.stderr
    (entry,) = json.loads(cal.read_text())["claims"]
    assert entry["id"] == "example-least-squares" and entry["calibrated"]
    s = entry["summary"]
    assert s["false_fail"]["rate"] <= 0.1 and s["worst_family_power"]["rate"] >= 0.6, entry
    assert s["confirm"]["rate"] >= 0.9 and s["false_pass"]["rate"] <= 0.1, entry
    assert s["mutants"]["eta=0.9eta"]["rate"] >= 0.9 and entry["sources"]["mutant"]["source"] == "simulator", entry
    # the running environment did not get the package
    assert "example-least-squares" not in da.all_claims()
