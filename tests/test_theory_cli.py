"""``diffapprox theory`` and ``diffapprox advise`` from the command line."""

import json

import pytest

from diffapprox.cli import main

THEORY_ARGS = [
    "theory",
    "--spectrum",
    "4,3,2,1",
    "--data",
    "gaussian",
    "--mu",
    "0.8",
    "--eta",
    "5e-4",
    "--delta",
    "0.1",
    "--nu",
    "0.1",
    "--epsilon",
    "0.05",
    "--gamma",
    "0.25",
    "--h0",
    "0.5,0.5,0.5,0.5",
    "--times",
    "0,0.5,1,2",
    "--json",
    "-",
]
ISSUE_KEYS = {
    "schema",
    "eigenvalues",
    "alpha",
    "phi",
    "C_d",
    "stationary_variance",
    "T1",
    "T2",
    "T3",
    "N1",
    "N2",
    "N3",
    "tau_threshold",
    "max_stable_delay",
    "ode",
}


def run(capsys, argv):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_theory_json_contract(capsys):
    code, out, _ = run(capsys, THEORY_ARGS)
    assert code == 0
    doc = json.loads(out)
    assert ISSUE_KEYS <= set(doc)
    assert doc["schema"] == "diffapprox.theory/1"
    assert doc["C_d"] is None and doc["stationary_variance"][0] is None
    assert doc["stationary_variance"][1:] == pytest.approx([30.0, 10.0, 10.0 / 3.0], rel=1e-12)
    assert set(doc["T1"]) == set(doc["T3"]) == {"main", "appendix"}
    assert isinstance(doc["T2"], float)
    assert set(doc["tau_threshold"]) >= {"ode", "sde"}
    assert set(doc["max_stable_delay"]["per_mode"]) == {"radial", "transverse_2", "transverse_3", "transverse_4"}
    assert doc["max_stable_delay"]["overall"] == min(doc["max_stable_delay"]["per_mode"].values())
    assert doc["ode"]["times"] == [0, 0.5, 1, 2] and len(doc["ode"]["h"]) == 4 and len(doc["ode"]["h"][0]) == 4
    # every null formula says why, under its JSON path
    for key in ("T3.main", "T3.appendix", "N1", "N3", "tau_threshold.sde"):
        assert key in doc["notes"]
    nulls = {
        f"{k}.{kk}"
        for k, v in doc.items()
        if isinstance(v, dict) and k not in ("notes", "parameters")
        for kk, vv in v.items()
        if vv is None
    } | {k for k, v in doc.items() if v is None and k != "C_d"}
    assert nulls <= set(doc["notes"]), nulls - set(doc["notes"])


def test_theory_bounded_data_has_sde_threshold(capsys, tmp_path):
    dest = tmp_path / "t.json"
    argv = [a if a != "gaussian" else "rademacher" for a in THEORY_ARGS[:-1]] + [str(dest)]
    code, _, _ = run(capsys, argv)
    doc = json.loads(dest.read_text())
    assert code == 0 and doc["C_d"] > 0 and doc["tau_threshold"]["sde"] > 0 and doc["N1"] > 0


def test_advise_text_and_json(capsys):
    code, out, _ = run(
        capsys, ["advise", "--spectrum", "4,3,2,1", "--eta", "5e-4", "--workers", "8", "--data", "rademacher"]
    )
    assert code == 0
    assert "(a) linear stability" in out and "(b) paper, SDE regime" in out and "tau = workers - 1 = 7" in out
    code, out, _ = run(capsys, ["advise", "--eta", "5e-4", "--workers", "8", "--json", "-"])
    doc = json.loads(out)
    assert doc["tau"] == 7 and 0 < doc["stability"]["mu_max"] < 1
    assert doc["paper"]["sde"]["mu_max"] is None  # gaussian: C_d infinite
    assert 0 < doc["paper"]["ode"]["mu_max"] < doc["stability"]["mu_max"]


@pytest.mark.parametrize(
    "argv",
    [
        ["theory", "--mu", "1.2", "--eta", "1e-3"],
        ["theory", "--mu", "0.5", "--eta", "1e-3", "--spectrum", "1,1"],
        ["theory", "--mu", "0.5", "--eta", "1e-3", "--h0", "1,0"],
        ["advise", "--eta", "1e-3", "--workers", "0"],
        ["advise", "--eta", "1e-3", "--workers", "4", "--gamma", "0.7"],
    ],
)
def test_bad_input_exit_2(capsys, argv):
    code, out, err = run(capsys, argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and "error:" in err
