"""Style is part of the test command: ``ruff check`` and ``ruff format --check`` (settings in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    exe = shutil.which("ruff")
    if exe is None:
        pytest.fail("ruff is not installed: it comes with the dev extra (pip install -e '.[dev]')")
    return [exe]


@pytest.mark.parametrize("args", [["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]])
def test_ruff(args):
    r = subprocess.run(_ruff() + args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"ruff {' '.join(args)}:\n{r.stdout}{r.stderr}"


def test_every_noqa_says_why():
    """A ``# noqa`` names its rule and gives the reason after it."""
    bad = []
    for f in [
        *ROOT.glob("diffapprox/**/*.py"),
        *ROOT.glob("validation/**/*.py"),
        *ROOT.glob("tests/**/*.py"),
        *ROOT.glob("benchmarks/*.py"),
        *ROOT.glob("examples/**/*.py"),
    ]:
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if "# noqa" in line and f.name != Path(__file__).name:
                why = line.split("# noqa", 1)[1]
                if not why.startswith(":") or " - " not in why:
                    bad.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bad, "unexplained noqa:\n" + "\n".join(bad)


#: Claims are short steps: no function in validation/ longer than this, no loop statements nested deeper than two.
MAX_CLAIM_FUNCTION_LINES = 40
MAX_CLAIM_LOOP_DEPTH = 2


def _loop_depth(node, depth=0) -> int:
    import ast

    here = depth + isinstance(node, (ast.For, ast.AsyncFor, ast.While))  # statements; comprehensions are expressions
    return max([here, *(_loop_depth(c, here) for c in ast.iter_child_nodes(node))])


def test_claim_functions_are_short_steps():
    import ast

    bad = []
    for f in sorted((ROOT / "validation").rglob("*.py")):
        for n in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = n.end_lineno - n.lineno + 1
                if length > MAX_CLAIM_FUNCTION_LINES:
                    bad.append(f"{f.relative_to(ROOT)}:{n.lineno} {n.name}: {length} lines")
                depth = max((_loop_depth(s) for s in n.body), default=0)
                if depth > MAX_CLAIM_LOOP_DEPTH:
                    bad.append(f"{f.relative_to(ROOT)}:{n.lineno} {n.name}: loops nested {depth} deep")
    assert not bad, "\n".join(bad)
