"""The architecture, enforced: layers only import downward, no import cycles, claims use public names.

Every module's AST is walked, imports inside functions included, and each import is resolved to
the module it loads (``from . import x`` is the submodule ``x`` when there is one).  The layers,
lowest first::

    _core, _version  <-  _engine  <-  _theory, limits  <-  stats  <-  _run  <-  _experiments, engine
        <-  diffapprox_claims (the claims, folder validation/)  <-  report  <-  cli

The public namespace ``diffapprox/__init__.py`` re-exports from every layer below the command
line, so no module of the package may import it (claims may: that is what it is for), and claims
may import only public modules (``diffapprox``, ``diffapprox.stats``, ``diffapprox.limits``,
``diffapprox.engine``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The source folder validation/ installs as the package diffapprox_claims (pyproject.toml's package-dir).
CLAIMS = "diffapprox_claims"

#: Layer rank by module prefix (longest prefix wins); a module may import only ranks <= its own.
LAYERS = {
    "diffapprox._core": 0,
    "diffapprox._version": 0,
    "diffapprox._engine": 1,
    "diffapprox._theory": 2,
    "diffapprox.limits": 2,
    "diffapprox.stats": 3,
    "diffapprox._run": 4,
    "diffapprox._experiments": 5,
    "diffapprox.engine": 5,
    CLAIMS: 6,
    "diffapprox.report": 7,
    "diffapprox.testing": 7,
    "diffapprox.cli": 8,
    "diffapprox.__main__": 8,  # python -m diffapprox: the command line
    "diffapprox_pytest": 9,
}
FACADE = "diffapprox"
#: What a claim module may import from the package.
PUBLIC = {"diffapprox", "diffapprox.stats", "diffapprox.limits", "diffapprox.engine"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "validation":
        parts[0] = CLAIMS
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    files = [*(ROOT / "diffapprox").rglob("*.py"), *(ROOT / "validation").rglob("*.py")]
    files += [*(ROOT / "diffapprox_pytest").rglob("*.py")]
    return {_module_name(f): f for f in files}


MODULES = _modules()


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(mod: str) -> set[str]:
    """The package modules ``mod`` imports, anywhere in its body."""
    path = MODULES[mod]
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(mod, is_pkg, node)
            # ``from pkg import name``: the submodule when there is one, else the package itself
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in MODULES:  # ``import a.b.c`` of a non-module attribute: its module
                t = t.rpartition(".")[0]
            if t and t != mod:
                out.add(t)
    return out


GRAPH = {m: imports_of(m) for m in MODULES}


def rank(mod: str) -> int | None:
    best = None
    for prefix, r in LAYERS.items():
        if (mod == prefix or mod.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, r)
    return None if best is None else best[1]


def test_every_module_has_a_layer():
    unplaced = [m for m in MODULES if m != FACADE and rank(m) is None]
    assert not unplaced, f"modules outside every layer (add them to LAYERS): {unplaced}"


def test_layers_only_import_downward():
    bad = []
    for mod, targets in GRAPH.items():
        if mod == FACADE:
            continue
        for t in targets:
            if t == FACADE:
                if not mod.startswith(CLAIMS):
                    bad.append(f"{mod} imports the public namespace {FACADE} (import the defining module)")
                continue
            if rank(t) > rank(mod):
                bad.append(f"{mod} (layer {rank(mod)}) imports {t} (layer {rank(t)})")
    assert not bad, "upward imports:\n" + "\n".join(sorted(bad))


def test_the_public_namespace_does_not_import_claims_or_the_command_line():
    bad = [t for t in GRAPH[FACADE] if rank(t) is not None and rank(t) in (LAYERS[CLAIMS], LAYERS["diffapprox.cli"])]
    assert not bad


def test_claims_use_public_names_only():
    bad = [
        f"{m} imports {t}"
        for m, ts in GRAPH.items()
        if m.startswith(CLAIMS)
        for t in ts
        if t.startswith("diffapprox") and not t.startswith(CLAIMS) and t not in PUBLIC
    ]
    assert not bad, "claims importing private modules:\n" + "\n".join(sorted(bad))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


def test_the_checker_sees_cycles_and_upward_imports():
    # the checks above are only as good as the resolver and the cycle finder: both on known input
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert rank("diffapprox._engine.kernel") == 1 and rank("diffapprox.cli.validate") == 8
    assert "diffapprox._core.errors" in GRAPH["diffapprox._engine.laws"]
    assert "diffapprox.report._format" in GRAPH["diffapprox.report._html"]  # ``from . import _format``


@pytest.mark.parametrize("mod", sorted(m for m in MODULES if m.startswith("diffapprox.") and m.count(".") == 1))
def test_subpackages_say_what_they_hold(mod):
    """Each top-level module or subpackage opens with a docstring (the tree is the architecture)."""
    assert ast.get_docstring(ast.parse(MODULES[mod].read_text(encoding="utf-8")))


def test_the_claims_install_under_their_own_name(tmp_path):
    """The folder validation/ installs as diffapprox_claims; no top-level module "validation" is installed."""
    import subprocess
    import sys

    code = (
        "import importlib.util, diffapprox_claims.paper, diffapprox_claims.literature, diffapprox_claims.toolkit; "
        "print(importlib.util.find_spec('validation') is None)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
