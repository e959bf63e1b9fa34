"""Input and output shared by the subcommands.

* :func:`parse_floats` reads the comma-separated number lists of every subcommand.
* :func:`add_problem_arguments` and :func:`problem_from_args`: ``--spectrum`` and ``--data``, the
  streaming-PCA problem of ``theory``, ``advise`` and ``live``.
* :func:`parse_claim_ids` reads ``--claims ID,...`` of ``validate`` and ``calibrate``.
* :func:`text_table` lays out the plain-text tables that ``validate`` and ``calibrate`` print.
* :func:`emit_json` is what a subcommand's ``--json FILE`` does: ``-`` is stdout,
  anything else an atomic write whose failure is one :class:`DiffapproxError`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .._core.errors import DiffapproxError
from .._core.jsonio import jsonable, write_json_atomic

__all__ = ["parse_floats", "add_problem_arguments", "problem_from_args", "parse_claim_ids", "text_table", "emit_json"]


def parse_floats(param: str, text: str) -> list[float]:
    """``"4,3,2,1"`` -> ``[4.0, 3.0, 2.0, 1.0]``; a non-number is an error naming ``param``."""
    try:
        return [float(t) for t in text.split(",") if t.strip() != ""]
    except ValueError:
        raise DiffapproxError(param, "comma-separated numbers", text) from None


def add_problem_arguments(p) -> None:
    """Add ``--spectrum`` and ``--data`` (a streaming-PCA problem given by its eigenvalues) to parser ``p``."""
    p.add_argument("--spectrum", default="4,3,2,1", help="eigenvalues, comma-separated (default 4,3,2,1)")
    p.add_argument("--data", default="gaussian", help="gaussian, rademacher, sphere or cube")


def problem_from_args(args):
    """The :class:`~diffapprox.StreamingPCA` of ``--spectrum`` and ``--data``."""
    from .._engine.problem import StreamingPCA

    return StreamingPCA(spectrum=parse_floats("spectrum", args.spectrum), data=args.data)


def parse_claim_ids(text: str | None) -> list[str] | None:
    """``"a, b"`` -> ``["a", "b"]``, every id registered; ``None`` (no ``--claims``: all claims) stays None.

    An empty list or an unknown id is one :class:`DiffapproxError`, raised before anything runs.
    """
    if text is None:
        return None
    ids = [s.strip() for s in text.split(",") if s.strip()]
    if not ids:
        raise DiffapproxError("--claims", "a comma-separated list of claim ids", text)
    from .._run.claims import get_claim

    for i in ids:
        get_claim(i)
    return ids


def text_table(head: tuple[str, ...], rows: list[tuple[str, ...]], *, right: tuple[int, ...] = ()) -> list[str]:
    """Lines of a plain-text table: the head, a dashed rule, the rows; columns as wide as their widest cell.

    Cells are left-aligned, but the row cells of the columns in ``right`` are right-aligned.
    """
    w = [max([len(head[i])] + [len(r[i]) for r in rows]) for i in range(len(head))]

    def line(cells, right=()):
        return "  ".join(x.rjust(w[i]) if i in right else x.ljust(w[i]) for i, x in enumerate(cells)).rstrip()

    return [line(head), "  ".join("-" * x for x in w), *(line(r, right) for r in rows)]


def emit_json(obj, dest: str, *, param: str = "--json", indent: int = 2) -> None:
    """Write ``obj`` to stdout (``dest == "-"``) or atomically to the file ``dest``."""
    if dest == "-":
        sys.stdout.write(json.dumps(jsonable(obj), indent=indent, allow_nan=False) + "\n")
        return
    try:
        write_json_atomic(Path(dest), obj, indent=indent)
    except OSError as exc:
        raise DiffapproxError(param, "a writable file", f"{dest} ({exc.strerror})") from None
