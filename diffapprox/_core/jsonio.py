"""Strict JSON: plain values out of numpy and enums, and atomic file writes.

* :func:`jsonable` turns numpy scalars/arrays, tuples, enums and non-finite floats into
  JSON-safe values (NaN and infinities become ``null``: JSON has no NaN).
* :func:`write_json_atomic` writes JSON through a temporary file and :func:`os.replace`,
  so a reader never sees half a file and an interrupted write loses nothing older.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from enum import Enum
from pathlib import Path
from typing import Any

__all__ = ["jsonable", "write_json_atomic"]


def jsonable(x: Any) -> Any:
    """Turn numpy scalars/arrays, tuples, enums and non-finite floats into JSON-safe values.

    NaN and infinities become ``None`` (JSON has no NaN).
    """
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if isinstance(x, Enum):
        return x.value
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if np is not None:
        if isinstance(x, np.ndarray):
            return jsonable(x.tolist())
        if isinstance(x, np.integer):
            return int(x)
        if isinstance(x, np.floating):
            x = float(x)
        if isinstance(x, np.bool_):
            return bool(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_json_atomic(path: Path, obj, *, indent: int = 2) -> None:
    """Write ``obj`` as strict JSON to ``path`` via a temporary file and :func:`os.replace`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(jsonable(obj), f, indent=indent, allow_nan=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
