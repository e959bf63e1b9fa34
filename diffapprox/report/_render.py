"""Reports rendered from ``results.json`` alone: one self-contained HTML file and a PDF.

``render_report(out_dir)`` reads ``out_dir/results.json`` (checked once, by
:meth:`~diffapprox.Results.from_json`, through :func:`load_results`), renders ``report.html`` (jinja2, figures embedded as data
URIs, no external request of any kind) and ``report.pdf`` (reportlab platypus,
byte-identical for identical results), and replaces both atomically: a bad
``results.json`` raises :class:`~diffapprox.DiffapproxError` before anything is
written, so an existing report is never half-overwritten.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .._core.errors import DiffapproxError
from .._core.results import RESULTS_SCHEMA
from .._core.results_file import Results
from . import _html, _pdf

__all__ = ["SCHEMA", "load_results", "validate_results", "render_report", "render_html", "render_pdf"]

#: The ``schema`` value this renderer reads.
SCHEMA = RESULTS_SCHEMA

#: File names written next to ``results.json``.
HTML_NAME = "report.html"
PDF_NAME = "report.pdf"


def validate_results(results: Any) -> Results:
    """Check a parsed ``results.json`` against the contract: :meth:`Results.from_json`.

    Raises
    ------
    DiffapproxError
        Naming the first field that breaks the contract.
    """
    return Results.from_json(results)


def load_results(path: str | os.PathLike) -> Results:
    """Read and check ``results.json``.

    Parameters
    ----------
    path : str or path-like
        The file, or the output directory holding ``results.json``.

    Returns
    -------
    Results
        Typed and frozen: ``results.claims[0].measurements[0].estimate``; ``results.to_frame()``
        gives the measurements as a pandas table.  Dict access (``results["claims"]``) still works
        for one version, with a :class:`DeprecationWarning`.

    Raises
    ------
    DiffapproxError
        When the file is missing, unreadable, not JSON, or breaks the contract (the message names
        the field, e.g. ``claims[3].measurements[2].ci``).
    """
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DiffapproxError("results.json", "an existing file", str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DiffapproxError("results.json", "a readable UTF-8 file", f"{p}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DiffapproxError(
            "results.json", "valid JSON", f"{p}: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    try:
        return Results.from_json(data)
    except DiffapproxError as exc:  # say which file
        if exc.param.startswith("results.json"):
            raise
        raise DiffapproxError(f"results.json: {exc.param}", exc.expected, exc.found) from None


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def render_html(results: Results, out_dir: str | os.PathLike) -> str:
    """The self-contained HTML report of ``results`` (figures read from ``out_dir``)."""
    return _html.render_html(results, Path(out_dir))


def render_pdf(results: Results, out_dir: str | os.PathLike, *, appendix: bool = False) -> bytes:
    """The PDF report of ``results``; identical results give identical bytes.

    ``appendix`` adds every claim's parameters and full measurement table after the claim pages.
    """
    return _pdf.render_pdf(results, Path(out_dir), appendix=appendix)


def render_report(
    out_dir: str | os.PathLike, *, formats: tuple[str, ...] = ("html", "pdf"), pdf_appendix: bool = False
) -> dict[str, Path]:
    """Rebuild ``out_dir/report.html`` and ``out_dir/report.pdf`` from ``out_dir/results.json``.

    Both documents are rendered in memory first, then each is written to a
    temporary file in ``out_dir`` and moved into place with :func:`os.replace`.

    Parameters
    ----------
    out_dir : str or path-like
        A directory written by ``diffapprox validate``.
    formats : tuple of {"html", "pdf"}
        Which reports to write.
    pdf_appendix : bool
        Add every claim's parameters and full measurement table to the PDF (always in the HTML).

    Returns
    -------
    dict
        ``{"html": Path, "pdf": Path}`` (the formats written).

    Raises
    ------
    DiffapproxError
        When ``out_dir`` is not a directory, ``results.json`` is missing or
        invalid, or the reports cannot be written.
    """
    d = Path(out_dir)
    if not d.is_dir():
        raise DiffapproxError("DIR", "an existing output directory", str(d))
    bad = [f for f in formats if f not in ("html", "pdf")]
    if bad:
        raise DiffapproxError("formats", "'html' and/or 'pdf'", bad)
    results = load_results(d / "results.json")
    rendered: dict[str, tuple[Path, bytes]] = {}
    if "html" in formats:
        rendered["html"] = (d / HTML_NAME, render_html(results, d).encode("utf-8"))
    if "pdf" in formats:
        rendered["pdf"] = (d / PDF_NAME, render_pdf(results, d, appendix=pdf_appendix))
    written: dict[str, Path] = {}
    for fmt, (path, data) in rendered.items():
        try:
            _atomic_write(path, data)
        except OSError as exc:
            raise DiffapproxError("DIR", "a writable directory", f"{d}: {exc.strerror or exc}") from None
        written[fmt] = path
    return written
