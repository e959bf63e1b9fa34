"""What a test needs beyond the core install, and what happens when it is missing.

Outside CI a missing requirement skips the test and says what to install. Under CI (``CI=true``) a
skipped test would read as a passed one, so a missing requirement fails it instead: the README's install
command (``pip install -e '.[dev,dnn]'``) brings every Python extra, and ``.ci/run`` installs the system
tools (chromium, pdftoppm). The one exception is a system tool that ``.ci/run`` tried and failed to install:
it then sets ``DIFFAPPROX_SYSTEM_TOOLS=missing`` and says so on stderr, and those tests skip with the reason.
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType
from typing import NoReturn

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(reason: str, *, system_tool: bool = False) -> NoReturn:
    """Skip with ``reason``; under CI fail instead (see the module docstring)."""
    tools_missing = system_tool and os.environ.get("DIFFAPPROX_SYSTEM_TOOLS") == "missing"
    if under_ci() and not tools_missing:
        pytest.fail(f"missing under CI, where it is installed: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_module(name: str, reason: str) -> ModuleType:
    """The imported module ``name``, or :func:`unavailable` with ``reason``."""
    try:
        return importlib.import_module(name)
    except ImportError:
        unavailable(reason)


def require_tool(names: tuple[str, ...], reason: str) -> str:
    """The path of the first of ``names`` on PATH, or :func:`unavailable` with ``reason``."""
    for name in names:
        exe = shutil.which(name)
        if exe:
            return exe
    unavailable(reason, system_tool=True)
