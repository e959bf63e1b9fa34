"""The front door: a small top level, each name in one public home, moved names still resolve with a warning."""

import importlib
import types
from collections import Counter

import pytest

import diffapprox

#: The public modules, each with its own ``__all__``; a name lives in one of them only.
HOMES = ("diffapprox", "diffapprox.limits", "diffapprox.stats", "diffapprox.engine")

#: The most names the top level may show (what ``dir(diffapprox)`` lists, dunders and submodules aside).
MAX_TOP_LEVEL = 40


def _public_top_level() -> list[str]:
    return [
        n for n in dir(diffapprox) if not n.startswith("_") and not isinstance(getattr(diffapprox, n), types.ModuleType)
    ]


def test_top_level_is_small():
    names = _public_top_level()
    assert len(names) <= MAX_TOP_LEVEL, names
    assert sorted(names) == sorted(diffapprox.__all__)


def test_top_level_has_the_front_door():
    for n in ("simulate", "theory_summary", "Problem", "ALGORITHMS", "Claim", "Cell", "ClaimOutput", "Findings"):
        assert n in diffapprox.__all__
    for n in ("HistoryEntry", "Measurement", "Verdict", "register", "get_claim", "all_claims", "derive_seed"):
        assert n in diffapprox.__all__
    for n in ("load_results", "Results", "DiffapproxError"):
        assert n in diffapprox.__all__


@pytest.mark.parametrize("home", HOMES)
def test_every_name_of_all_resolves(home):
    mod = importlib.import_module(home)
    assert len(set(mod.__all__)) == len(mod.__all__), "a name listed twice"
    for n in mod.__all__:
        assert hasattr(mod, n), f"{home}.{n}"


def test_no_name_has_two_homes():
    counts = Counter(n for home in HOMES for n in importlib.import_module(home).__all__)
    assert [n for n, k in counts.items() if k > 1] == []


MOVED = sorted(diffapprox._MOVED.items())


@pytest.mark.parametrize("name, home", MOVED, ids=[n for n, _ in MOVED])
def test_moved_name_warns_and_resolves(name, home):
    with pytest.warns(DeprecationWarning, match=rf"diffapprox\.{name} moved to {home}\.{name}"):
        obj = getattr(diffapprox, name)
    assert obj is getattr(importlib.import_module(home), name)
    assert name not in dir(diffapprox)


def test_moved_names_cover_the_old_top_level():
    """Every name the top level exported before the move is still reachable from it (moved or kept)."""
    old_limits = {"EscapeTime", "ODELimit", "OULimit", "escape_time", "ou_optimum", "ou_saddle", "stationary_variance"}
    old_engine = {"simulate_algorithm", "StreamingPCA", "pca_problem", "DaskExecutor", "compare_to_baseline", "live"}
    for n in old_limits | old_engine | {"render_report", "T1", "Constants", "finite_step_prediction"}:
        assert n in diffapprox.__all__ or n in diffapprox._MOVED, n


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = diffapprox.no_such_name
