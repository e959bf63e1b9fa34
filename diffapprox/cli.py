"""The ``diffapprox`` command (DESIGN.md §6).

Each subcommand lives in its own module ``diffapprox/_cmd_<name>.py`` exposing
``add_parser(subparsers)`` (which registers the subcommand and sets ``func``) and
keeps heavy imports inside its run function, so ``--help`` is fast.

Exit codes: 0 ran (whatever the verdicts), 1 a ``--baseline`` regression,
2 bad input (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ._errors import DiffapproxError

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = [
    "simulate",
    "report",
    "validate",
    "theory",
    "live",
]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="diffapprox",
        description="Checks, by simulation and statistics, the diffusion-approximation claims "
        "about asynchronous momentum SGD on streaming PCA (Liu, Li, Shi, Zhou, Zhao).",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"diffapprox {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"diffapprox._cmd_{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except DiffapproxError as exc:
        sys.stderr.write(f"diffapprox {args.command}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"diffapprox {args.command}: interrupted\n")
        return 130
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
