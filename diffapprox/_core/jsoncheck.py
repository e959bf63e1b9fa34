"""Checks of parsed JSON values, each returning the value or raising :class:`DiffapproxError` naming ``where``.

Used by the readers of ``results.json`` (:mod:`diffapprox._core.results`, :mod:`diffapprox._core.results_file`):
messages read ``claims[3].measurements[2].ci: expected a pair of numbers or nulls, found 'x'``.
"""

from __future__ import annotations

import math
from pathlib import PurePosixPath
from typing import Any

from .errors import DiffapproxError


def _clean(x: Any) -> Any:
    """Non-finite floats -> None (JSON written by other tools may carry NaN/Infinity)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _obj(where: str, x: Any) -> dict:
    if not isinstance(x, dict):
        raise DiffapproxError(where, "an object", x if isinstance(x, (str, int, float)) else type(x).__name__)
    return x


def _obj_or_none(where: str, x: Any) -> dict | None:
    return None if x is None else _obj(where, x)


def _str(where: str, x: Any, *, empty: bool = True) -> str:
    if not isinstance(x, str) or (not empty and not x):
        raise DiffapproxError(where, "a string" if empty else "a non-empty string", x)
    return x


def _str_or_none(where: str, x: Any) -> str | None:
    if x is not None and not isinstance(x, str):
        raise DiffapproxError(where, "a string or null", x)
    return x


def _num(where: str, x: Any) -> float | None:
    if x is not None and not _is_num(x):
        raise DiffapproxError(where, "a number or null", x)
    return x


def _int(where: str, x: Any) -> int:
    if not isinstance(x, int) or isinstance(x, bool):
        raise DiffapproxError(where, "an integer", x)
    return x


def _bool(where: str, x: Any) -> bool:
    if not isinstance(x, bool):
        raise DiffapproxError(where, "true or false", x)
    return x


def _bool_or_none(where: str, x: Any) -> bool | None:
    return None if x is None else _bool(where, x)


def _pair(where: str, x: Any) -> tuple | None:
    if x is None:
        return None
    if not isinstance(x, (list, tuple)) or len(x) != 2 or not all(v is None or _is_num(v) for v in x):
        raise DiffapproxError(where, "a pair of numbers or nulls", x)
    return (x[0], x[1])


def _choice(where: str, x: Any, values: tuple[str, ...]) -> str:
    if x not in values:
        raise DiffapproxError(where, f"one of {', '.join(values)}", x)
    return x


def _strings(where: str, x: Any) -> tuple[str, ...]:
    if not isinstance(x, list) or not all(isinstance(s, str) for s in x):
        raise DiffapproxError(where, "a list of strings", x)
    return tuple(x)


def _figure(where: str, p: Any) -> str:
    if not isinstance(p, str) or not p:
        raise DiffapproxError(where, "a relative path (a string)", p)
    pp = PurePosixPath(p.replace("\\", "/"))
    if pp.is_absolute() or ".." in pp.parts:
        raise DiffapproxError(where, "a path inside the output directory", p)
    return pp.as_posix()


def _list(where: str, x: Any) -> list:
    if not isinstance(x, list):
        raise DiffapproxError(where, "a list", type(x).__name__)
    return x
