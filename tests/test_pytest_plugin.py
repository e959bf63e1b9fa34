"""The pytest plugin: ``pytest --diffapprox PROFILE`` collects one item per claim and maps verdicts to outcomes.

Each run is a separate pytest process (``pytester.runpytest_subprocess``), as a user's CI would start it.
The toy claims of ``TOYS`` are registered by the run's own conftest.py: ``toy-pass`` PASSes, ``toy-undecided``
is INCONCLUSIVE (its interval straddles the band's edge), ``toy-broken`` cannot list its cells (ERROR).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

pytest_plugins = ["pytester"]

TOYS = """
import diffapprox as da
from diffapprox import stats as S


class _Toy(da.Claim):
    paper_ref = "toy"
    statement = "toy"
    about = "toolkit"
    ci = (0.9, 1.1)

    def parameters(self, profile):
        return {}

    def cells(self, profile, seed):
        return [self.make_cell("one", {}, seed, uses="core")]

    def run_cell(self, cell):
        return {"x": 1.0}

    def measure(self, profile, seed, results, prediction):
        return [S.measurement("row", 1.0, self.ci, 1.0, (0.8, 1.2), ci_fail=(0.5, 1.5), effect=0.1)]


@da.register
class Pass(_Toy):
    id = "toy-pass"
    uncalibrated = "toy"


@da.register
class Undecided(_Toy):
    id = "toy-undecided"
    uncalibrated = "toy"
    ci = (0.7, 1.1)


@da.register
class Broken(_Toy):
    id = "toy-broken"
    uncalibrated = "toy"

    def cells(self, profile, seed):
        raise RuntimeError("toy: no cells")
"""


def test_off_unless_asked_and_imports_nothing(pytester):
    pytester.makepyfile(
        test_user="""
        import sys

        def test_nothing_of_diffapprox_loaded():
            assert "diffapprox" not in sys.modules and "numba" not in sys.modules
        """
    )
    r = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    r.assert_outcomes(passed=1)


def _toys(pytester, *args):
    pytester.makeconftest(TOYS)
    ids = "toy-pass,toy-undecided,toy-broken"
    out = pytester.path / "run"
    return pytester.runpytest_subprocess(
        "--diffapprox",
        "quick",
        "--diffapprox-claims",
        ids,
        "--diffapprox-out",
        str(out),
        "-p",
        "no:cacheprovider",
        *args,
    )


def test_verdicts_map_to_outcomes(pytester):
    r = _toys(pytester, "-rxX")
    r.assert_outcomes(passed=1, xfailed=1, errors=1)
    r.stdout.fnmatch_lines(["*toy-broken could not run*toy: no cells*", "*toy-undecided*INCONCLUSIVE*row*"])


def test_strict_fails_an_inconclusive_claim(pytester):
    r = _toys(pytester, "--diffapprox-strict")
    r.assert_outcomes(passed=1, failed=1, errors=1)
    r.stdout.fnmatch_lines(["*toy-undecided*INCONCLUSIVE (--diffapprox-strict)*"])


def test_expect_file_accepts_a_known_verdict_and_fails_a_changed_one(pytester):
    pytester.makefile(".json", expect='{"toy-undecided": "INCONCLUSIVE", "toy-pass": "FAIL", "toy-broken": "ERROR"}')
    r = _toys(pytester, "--diffapprox-expect", "expect.json")
    r.assert_outcomes(passed=2, failed=1)
    r.stdout.fnmatch_lines(["*claim toy-pass (toy): PASS, expected FAIL*"])


@pytest.mark.parametrize(
    "args, text",
    [
        (["--diffapprox-claims", "toy-pass,nope"], "--diffapprox-claims: expected ids of *found nope*"),
        (["--diffapprox-expect", "missing.toml"], "--diffapprox-expect: expected a readable TOML or JSON file*"),
    ],
)
def test_bad_options_are_usage_errors(pytester, args, text):
    r = _toys(pytester, *args)
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines([f"*{text}"])


@pytest.mark.slow
def test_real_claims_junit_xml_and_expect_file(pytester):
    """The built-in claims on quick: norm-bound passes, traverse-time fails naming its deciding row; both in the
    JUnit XML; with an expect file saying traverse-time FAILs, the same run (resumed) passes."""
    out = pytester.path / "run"
    args = ["--diffapprox", "quick", "--diffapprox-claims", "norm-bound,traverse-time", "--diffapprox-out", str(out)]
    r = pytester.runpytest_subprocess(*args, "--junitxml=out.xml", "-p", "no:cacheprovider")
    r.assert_outcomes(passed=1, failed=1)
    cases = {tc.get("name"): tc for tc in ET.parse(pytester.path / "out.xml").getroot().iter("testcase")}
    assert set(cases) == {"norm-bound", "traverse-time"}
    assert not list(cases["norm-bound"])
    (failure,) = list(cases["traverse-time"])
    assert failure.tag == "failure" and "traverse_probability/" in failure.get("message")
    pytester.makefile(".toml", expect='[expect]\n"traverse-time" = "FAIL"\n')
    r = pytester.runpytest_subprocess(*args, "--diffapprox-expect", "expect.toml", "-p", "no:cacheprovider")
    r.assert_outcomes(passed=2)


def test_the_fixture_runs_one_claim(pytester):
    pytester.makeconftest(TOYS)
    pytester.makepyfile(
        test_mine="""
        from diffapprox.testing import assert_verdict

        def test_toy_pass(diffapprox_run):
            assert_verdict(diffapprox_run("toy-pass", profile="quick", seed=3), "PASS")
        """
    )
    r = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    r.assert_outcomes(passed=1)
