"""``diffapprox report DIR``: rebuild DIR/report.html and DIR/report.pdf from DIR/results.json."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="re-render DIR/report.html and DIR/report.pdf from DIR/results.json",
        description="Rebuild the self-contained HTML report and the PDF report of a validation run from "
        "its results.json alone (nothing is re-run). A missing or invalid results.json is an error "
        "(exit code 2) and leaves existing reports untouched.",
    )
    p.add_argument("dir", metavar="DIR", help="output directory of `diffapprox validate` (holds results.json)")
    p.add_argument(
        "--format",
        choices=("all", "html", "pdf"),
        default="all",
        help="which report to write (default: both)",
    )
    p.add_argument(
        "--pdf-appendix",
        action="store_true",
        help="append every claim's parameters and full measurement table to report.pdf "
        "(they are always in report.html and results.json)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    from ..report import render_report

    formats = ("html", "pdf") if args.format == "all" else (args.format,)
    t0 = time.perf_counter()
    written = render_report(args.dir, formats=formats, pdf_appendix=args.pdf_appendix)
    dt = time.perf_counter() - t0
    for path in written.values():
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    print(f"rendered in {dt:.2f} s")
    return 0
