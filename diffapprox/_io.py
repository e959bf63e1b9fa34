"""Shared input/output of the command line and the runner.

* :func:`parse_floats` reads the comma-separated number lists of every subcommand.
* :func:`write_json_atomic` writes JSON through a temporary file and :func:`os.replace`,
  so a reader never sees half a file and an interrupted write loses nothing older.
* :func:`emit_json` is what a subcommand's ``--json FILE`` does: ``-`` is stdout,
  anything else an atomic write whose failure is one :class:`DiffapproxError`.

JSON here is strict: numpy values and NaN/inf are turned into plain numbers and
``null`` by :func:`diffapprox._results.jsonable` first.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from ._errors import DiffapproxError
from ._results import jsonable

__all__ = ["parse_floats", "write_json_atomic", "emit_json"]


def parse_floats(param: str, text: str) -> list[float]:
    """``"4,3,2,1"`` -> ``[4.0, 3.0, 2.0, 1.0]``; a non-number is an error naming ``param``."""
    try:
        return [float(t) for t in text.split(",") if t.strip() != ""]
    except ValueError:
        raise DiffapproxError(param, "comma-separated numbers", text) from None


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


def emit_json(obj, dest: str, *, param: str = "--json", indent: int = 2) -> None:
    """Write ``obj`` to stdout (``dest == "-"``) or atomically to the file ``dest``."""
    if dest == "-":
        sys.stdout.write(json.dumps(jsonable(obj), indent=indent, allow_nan=False) + "\n")
        return
    try:
        write_json_atomic(Path(dest), obj, indent=indent)
    except OSError as exc:
        raise DiffapproxError(param, "a writable file", f"{dest} ({exc.strerror})") from None
