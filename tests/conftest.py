"""Test-session settings: the seeds every stochastic test uses are reported, in the header and on failure.

Every stochastic test runs from a fixed seed, stated as a module constant whose name contains
``SEED`` (or as a literal at the call).  The header lists the module constants; a failing test's
report repeats its module's seeds, so a failure can be rerun exactly.  Tests marked ``slow`` (long
statistical runs) are part of the README's test command; ``-m "not slow"`` leaves them out.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _module_seeds(module) -> dict[str, int]:
    return {
        k: v
        for k, v in vars(module).items()
        if "SEED" in k and k.isupper() and isinstance(v, int) and not isinstance(v, bool)
    }


def pytest_report_header(config):
    import numba

    return [
        f"diffapprox: numba threads {numba.config.NUMBA_NUM_THREADS} "
        f"(NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'unset')}); results do not depend on it",
        "diffapprox: fixed seeds per module are listed after the run (SEED constants) and with each failure",
    ]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    seen: dict[str, dict[str, int]] = {}
    for item in getattr(terminalreporter, "_diffapprox_items", []):
        mod = getattr(item, "module", None)
        if mod is not None and mod.__name__ not in seen:
            seeds = _module_seeds(mod)
            if seeds:
                seen[mod.__name__] = seeds
    if seen:
        terminalreporter.write_line(
            "seeds: "
            + "; ".join(f"{m}: " + ", ".join(f"{k}={v}" for k, v in s.items()) for m, s in sorted(seen.items()))
        )


def pytest_collection_modifyitems(session, config, items):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter._diffapprox_items = list(items)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and getattr(item, "module", None) is not None:
        seeds = _module_seeds(item.module)
        if seeds:
            report.sections.append(("seeds", ", ".join(f"{k}={v}" for k, v in seeds.items())))
