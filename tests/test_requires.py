"""The rule for missing test requirements: skip with the reason outside CI, fail under CI."""

from __future__ import annotations

import pytest
from _requires import require_module, require_tool, unavailable

ABSENT_MODULE = "diffapprox_no_such_module_for_tests"
ABSENT_TOOL = "diffapprox-no-such-tool-for-tests"


@pytest.fixture
def outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("DIFFAPPROX_SYSTEM_TOOLS", raising=False)


@pytest.fixture
def under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("DIFFAPPROX_SYSTEM_TOOLS", raising=False)


def test_outside_ci_a_missing_module_or_tool_skips_with_its_reason(outside_ci):
    with pytest.raises(pytest.skip.Exception, match="install the extra"):
        require_module(ABSENT_MODULE, "install the extra")
    with pytest.raises(pytest.skip.Exception, match="install the tool"):
        require_tool((ABSENT_TOOL,), "install the tool")


def test_under_ci_a_missing_module_or_tool_fails(under_ci):
    with pytest.raises(pytest.fail.Exception, match="missing under CI.*install the extra"):
        require_module(ABSENT_MODULE, "install the extra")
    with pytest.raises(pytest.fail.Exception, match="missing under CI.*install the tool"):
        require_tool((ABSENT_TOOL,), "install the tool")
    with pytest.raises(pytest.fail.Exception):
        unavailable("an extra")


def test_under_ci_a_tool_the_ci_script_could_not_install_skips(under_ci, monkeypatch):
    monkeypatch.setenv("DIFFAPPROX_SYSTEM_TOOLS", "missing")
    with pytest.raises(pytest.skip.Exception, match="install the tool"):
        require_tool((ABSENT_TOOL,), "install the tool")
    with pytest.raises(pytest.fail.Exception):  # Python extras come with the README's install: still required
        require_module(ABSENT_MODULE, "install the extra")


def test_what_is_present_is_returned(outside_ci):
    assert require_module("json", "never").dumps([1]) == "[1]"
    assert require_tool((ABSENT_TOOL, "sh"), "never").endswith("sh")
