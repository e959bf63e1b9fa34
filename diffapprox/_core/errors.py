"""The package's single error class.

Every problem with user input is raised once, at the boundary, as
:class:`DiffapproxError` (a ``ValueError``) with a one-line message naming the
parameter and the rule: ``"mu: expected a number in [0, 1), found 1.2"``.
The command line turns it into one line on stderr and exit code 2.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["DiffapproxError", "check_finite", "check_range", "check_int"]


class DiffapproxError(ValueError):
    """Bad input to diffapprox: the message names the parameter and the rule."""

    def __init__(self, param: str, expected: str, found: Any):
        self.param = param
        self.expected = expected
        self.found = found
        super().__init__(f"{param}: expected {expected}, found {found!r}")


def check_finite(param: str, value: float) -> float:
    """Return ``float(value)``, raising if it is not a finite real number."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DiffapproxError(param, "a finite number", value) from None
    if not math.isfinite(x):
        raise DiffapproxError(param, "a finite number", value)
    return x


def check_range(
    param: str,
    value: float,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """Finite number in the interval given by ``lo``/``hi`` (closed unless ``*_open``)."""
    x = check_finite(param, value)
    left = "-inf" if lo is None else f"{lo:g}"
    right = "inf" if hi is None else f"{hi:g}"
    desc = f"a number in {'(' if lo_open or lo is None else '['}{left}, {right}{')' if hi_open or hi is None else ']'}"
    if lo is not None and (x < lo or (lo_open and x == lo)):
        raise DiffapproxError(param, desc, value)
    if hi is not None and (x > hi or (hi_open and x == hi)):
        raise DiffapproxError(param, desc, value)
    return x


def check_int(param: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """Integer (bools refused) within ``[lo, hi]``."""
    if isinstance(value, bool):
        raise DiffapproxError(param, "an integer", value)
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise DiffapproxError(param, "an integer", value) from None
    if not math.isfinite(f) or f != int(f):
        raise DiffapproxError(param, "an integer", value)
    n = int(f)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        rng = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
        raise DiffapproxError(param, rng, value)
    return n
