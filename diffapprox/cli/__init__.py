"""The ``diffapprox`` command.

Each subcommand lives in its own module ``diffapprox/cli/<name>.py`` exposing
``add_parser(subparsers)`` (which registers the subcommand and sets ``func``) and
keeps heavy imports inside its run function, so ``--help`` is fast.

Exit codes: 0 ran (whatever the verdicts), 1 a ``--baseline`` regression,
2 bad input (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys

from .._core.errors import DiffapproxError

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = [
    "simulate",
    "report",
    "validate",
    "calibrate",
    "claims",
    "theory",
    "advise",
    "live",
]


#: What argparse should read as a negative number, not an option: it only knows -1 and -.5,
#: so ``--eta -1e-3`` or ``--mu -inf`` failed with "expected one argument" instead of reaching
#: the boundary check that names the rule.
_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER  # argparse's (private) hook for this

    def error(self, message: str):  # argparse's hook
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="diffapprox",
        description="Checks, by simulation and statistics, the diffusion-approximation claims "
        "about asynchronous momentum SGD on streaming PCA (Liu, Li, Shi, Zhou, Zhao).",
    )
    from .._version import __version__

    parser.add_argument("--version", action="version", version=f"diffapprox {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"diffapprox.cli.{name}").add_parser(sub)
    return parser


#: Options naming a file a subcommand writes (``-`` = stdout); checked before any work.
_OUTPUT_FILES = ("json", "npz")


def _check_output_files(args: argparse.Namespace) -> None:
    """Refuse an output file that cannot be written, before any simulation runs.

    Subcommands write their JSON (and ``--npz``) only at the end; a bad path found
    then would cost the whole run and end in a traceback.  Existing files are not
    touched here (nothing is opened for writing).
    """
    for name in _OUTPUT_FILES:
        path = getattr(args, name, None)
        if not isinstance(path, str) or path == "-":
            continue
        parent = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(path):
            raise DiffapproxError(f"--{name}", "a file path, not a directory", path)
        if not os.path.isdir(parent):
            raise DiffapproxError(f"--{name}", "a file in an existing directory", path)
        if not os.access(parent, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
            raise DiffapproxError(f"--{name}", "a writable file", path)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_output_files(args)
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
