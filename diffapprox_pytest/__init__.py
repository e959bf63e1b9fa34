"""The pytest plugin of diffapprox: ``pytest --diffapprox PROFILE`` runs the registered claims as tests.

Installed with the package (entry point ``pytest11``); it is off unless ``--diffapprox`` is given, and
until then imports nothing of diffapprox (no numba, no claim).  With it, one test item per registered
claim (built-in and other packages') is collected; the selected claims run together in one packed run
(``diffapprox validate``) at the first item, resumable in ``--diffapprox-out``, and each item reports
its claim:

* PASS passes; FAIL fails, with the rows that decided it (estimate, intervals, band) as the message;
* INCONCLUSIVE is an expected failure (``xfail``) with its reason, a failure under ``--diffapprox-strict``;
* ERROR is a test error (the claim could not run).

``--diffapprox-expect FILE`` (TOML or JSON: claim id -> expected verdict) turns each listed claim's
item into "the verdict is the expected one": a known finding about a paper (a claim that FAILs) keeps a
CI green until it moves, and fails it when it does.  ``--diffapprox-claims ID,...`` selects claims; the
usual ``-k`` works on the claim ids too.  The fixture ``diffapprox_run`` runs one claim at a
profile from a test of your own.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

_PROFILES = ("quick", "standard", "paper")
_VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR")


def pytest_addoption(parser) -> None:
    g = parser.getgroup("diffapprox", "diffapprox claims as tests")
    g.addoption(
        "--diffapprox",
        metavar="PROFILE",
        choices=_PROFILES,
        default=None,
        help="run the registered diffapprox claims as tests at this profile (quick, standard or paper)",
    )
    g.addoption("--diffapprox-claims", metavar="ID,...", default=None, help="only these claim ids")
    g.addoption(
        "--diffapprox-out",
        metavar="DIR",
        default=None,
        help="output directory of the run (results.json, reports); an interrupted run resumes there",
    )
    g.addoption(
        "--diffapprox-expect",
        metavar="FILE",
        default=None,
        help="TOML or JSON mapping claim id -> expected verdict: an item passes when its verdict is the expected one",
    )
    g.addoption(
        "--diffapprox-strict", action="store_true", help="an INCONCLUSIVE claim fails instead of being an xfail"
    )
    g.addoption("--diffapprox-seed", metavar="N", type=int, default=20180330, help="master seed (default: 20180330)")


def pytest_configure(config) -> None:
    if config.getoption("diffapprox") is None:
        return
    config.pluginmanager.register(_DiffapproxRun(config), "diffapprox-run")


def _read_expect(path: str | None) -> dict[str, str]:
    """``claim id -> verdict`` from a TOML or JSON file; a usage error naming the option otherwise."""
    if path is None:
        return {}
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() == ".toml":
            import tomllib

            doc = tomllib.loads(text)
        else:
            doc = json.loads(text)
    except (OSError, ValueError) as exc:
        raise pytest.UsageError(
            f"--diffapprox-expect: expected a readable TOML or JSON file, found {p} ({exc})"
        ) from None
    doc = doc.get("expect", doc) if isinstance(doc, dict) else doc
    if not isinstance(doc, dict) or not all(isinstance(v, str) and v.upper() in _VERDICTS for v in doc.values()):
        raise pytest.UsageError(
            f"--diffapprox-expect: expected a mapping of claim ids to one of {', '.join(_VERDICTS)}, found {p}"
        )
    return {str(k): v.upper() for k, v in doc.items()}


class _DiffapproxRun:
    """The run behind the claim items: options checked at configure time, claims run once at the first item."""

    def __init__(self, config):
        self.profile = config.getoption("diffapprox")
        self.strict = bool(config.getoption("diffapprox_strict"))
        self.seed = int(config.getoption("diffapprox_seed"))
        if self.seed < 0:
            raise pytest.UsageError(f"--diffapprox-seed: expected an integer >= 0, found {self.seed}")
        self.expect = _read_expect(config.getoption("diffapprox_expect"))
        text = config.getoption("diffapprox_claims")
        self.only = None if text is None else [s.strip() for s in text.split(",") if s.strip()]
        if self.only is not None and not self.only:
            raise pytest.UsageError(f"--diffapprox-claims: expected comma-separated claim ids, found {text!r}")
        out = config.getoption("diffapprox_out")
        self.out = Path(out) if out else Path(tempfile.mkdtemp(prefix=f"diffapprox-{self.profile}-"))
        self.results: dict[str, dict] | None = None

    def claim_ids(self) -> list[str]:
        from diffapprox._run.claims import all_claims

        known = list(all_claims())
        if self.only is None:
            return known
        unknown = [c for c in self.only if c not in known]
        if unknown:
            raise pytest.UsageError(
                f"--diffapprox-claims: expected ids of {', '.join(known)}, found {', '.join(unknown)}"
            )
        return [c for c in known if c in self.only]

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session, config, items) -> None:
        from diffapprox._run.claims import all_claims

        unknown = [c for c in self.expect if c not in all_claims()]
        if unknown:
            raise pytest.UsageError(f"--diffapprox-expect: expected registered claim ids, found {', '.join(unknown)}")
        ids = self.claim_ids()
        items.extend(ClaimItem.from_parent(session, name=cid, nodeid=f"diffapprox::{cid}", run=self) for cid in ids)

    def result(self, claim_id: str, session) -> dict:
        if self.results is None:
            self.results = self._run([i.name for i in session.items if isinstance(i, ClaimItem)])
        return self.results[claim_id]

    def _run(self, ids: list[str]) -> dict[str, dict]:
        from diffapprox.cli import main

        self.out.mkdir(parents=True, exist_ok=True)
        args = ["validate", "--profile", self.profile, "--claims", ",".join(ids), "--seed", str(self.seed)]
        args += ["--out", str(self.out), "--no-progress"]
        if (self.out / "cells").is_dir():
            args.append("--resume")
        code = main(args)
        path = self.out / "results.json"
        if code not in (0, 1) or not path.is_file():
            raise RuntimeError(f"diffapprox validate exited {code} ({' '.join(args)}): no results.json in {self.out}")
        doc = json.loads(path.read_text(encoding="utf-8"))
        return {c["id"]: c for c in doc["claims"]}


class ClaimFailure(AssertionError):
    """A claim's verdict is not the one its test accepts; the message names the deciding rows."""


class ClaimError(Exception):
    """A claim that could not run (verdict ERROR)."""


class ClaimItem(pytest.Item):
    """One registered claim, judged by its verdict."""

    def __init__(self, *, run: _DiffapproxRun, **kw):
        super().__init__(**kw)
        self.run = run
        self.result: dict | None = None

    def setup(self) -> None:
        self.result = self.run.result(self.name, self.session)
        if self.result["verdict"] == "ERROR" and self.run.expect.get(self.name) != "ERROR":
            raise ClaimError(f"claim {self.name} could not run: {(self.result.get('error') or '').strip()}")

    def runtest(self) -> None:
        from diffapprox.testing import deciding_rows

        r = self.result
        verdict, want = r["verdict"], self.run.expect.get(self.name)
        head = f"claim {self.name} ({r.get('paper_ref', '')}): {verdict}"
        rows = "\n  ".join(deciding_rows(r))
        if want is not None:
            if verdict != want:
                raise ClaimFailure(f"{head}, expected {want}\n  {rows}")
            return
        if verdict == "FAIL":
            raise ClaimFailure(f"{head}\n  {rows}")
        if verdict == "INCONCLUSIVE":
            if self.run.strict:
                raise ClaimFailure(f"{head} (--diffapprox-strict)\n  {rows}")
            pytest.xfail(f"{head}: undecided rows: " + "; ".join(deciding_rows(r, limit=2)))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (ClaimFailure, ClaimError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"diffapprox claim {self.name} ({self.run.profile})"


@pytest.fixture
def diffapprox_run(tmp_path_factory):
    """Run one claim at a profile from a test: ``diffapprox_run("my-claim", profile="quick", seed=1)``.

    Returns the claim's entry of ``results.json`` (a dict: verdict, measurements, ...), ready for
    :func:`diffapprox.testing.assert_verdict`.  The run (results, reports) is kept in a temporary
    directory of the test session.
    """

    def run(claim_id: str, profile: str = "quick", seed: int = 20180330) -> dict:
        from diffapprox.cli import main

        out = tmp_path_factory.mktemp("diffapprox-run")
        args = ["validate", "--profile", profile, "--claims", claim_id, "--seed", str(seed)]
        code = main([*args, "--out", str(out), "--no-progress"])
        path = out / "results.json"
        if code != 0 or not path.is_file():
            raise RuntimeError(f"diffapprox validate exited {code} for claim {claim_id!r} ({profile}, seed {seed})")
        (claim,) = json.loads(path.read_text(encoding="utf-8"))["claims"]
        return claim

    return run
