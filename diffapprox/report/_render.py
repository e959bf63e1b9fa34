"""Reports rendered from ``results.json`` alone: one self-contained HTML file and a PDF.

``render_report(out_dir)`` reads ``out_dir/results.json`` (validated by
:func:`load_results`), renders ``report.html`` (jinja2, figures embedded as data
URIs, no external request of any kind) and ``report.pdf`` (reportlab platypus,
byte-identical for identical results), and replaces both atomically: a bad
``results.json`` raises :class:`~diffapprox.DiffapproxError` before anything is
written, so an existing report is never half-overwritten.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from .._core.errors import DiffapproxError
from .._core.results import READABLE_SCHEMAS, RESULTS_SCHEMA
from . import _html, _pdf
from ._format import VERDICTS

__all__ = ["SCHEMA", "load_results", "validate_results", "render_report", "render_html", "render_pdf"]

#: The ``schema`` value this renderer reads.
SCHEMA = RESULTS_SCHEMA

#: Top-level keys rendered in their own place; any other key is listed as it is.
_KNOWN_KEYS = frozenset(
    {"schema", "profile", "seed", "command", "environment", "elapsed_s", "claims", "extra", "calibration_file"}
)

#: File names written next to ``results.json``.
HTML_NAME = "report.html"
PDF_NAME = "report.pdf"


def _num_or_none(x: Any) -> bool:
    return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool))


def _pair_or_none(x: Any) -> bool:
    return x is None or (isinstance(x, (list, tuple)) and len(x) == 2 and all(_num_or_none(v) for v in x))


def _clean(x: Any) -> Any:
    """Non-finite floats -> None (JSON written by others may carry NaN/Infinity)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def _check_figure(where: str, p: Any) -> str:
    if not isinstance(p, str) or not p:
        raise DiffapproxError(f"{where}.figures", "relative paths (strings)", p)
    pp = PurePosixPath(p.replace("\\", "/"))
    if pp.is_absolute() or ".." in pp.parts:
        raise DiffapproxError(f"{where}.figures", "paths inside the output directory", p)
    return pp.as_posix()


def _validate_measurement(where: str, m: Any) -> dict:
    if not isinstance(m, dict):
        raise DiffapproxError(where, "an object", type(m).__name__)
    if not isinstance(m.get("name"), str):
        raise DiffapproxError(f"{where}.name", "a string", m.get("name"))
    where = f"{where} ({m['name']})"
    if m.get("verdict") not in VERDICTS:
        raise DiffapproxError(f"{where}.verdict", f"one of {', '.join(VERDICTS)}", m.get("verdict"))
    for key in ("estimate", "prediction"):
        if not _num_or_none(m.get(key)):
            raise DiffapproxError(f"{where}.{key}", "a number or null", m.get(key))
    for key in ("ci", "tolerance"):
        if not _pair_or_none(m.get(key)):
            raise DiffapproxError(f"{where}.{key}", "[number|null, number|null] or null", m.get(key))
    if not _num_or_none(m.get("effect")):
        raise DiffapproxError(f"{where}.effect", "a number or null", m.get("effect"))
    out = dict(m)
    out.setdefault("effect", None)
    out["ci"] = list(m["ci"]) if m.get("ci") is not None else None
    out["tolerance"] = list(m["tolerance"]) if m.get("tolerance") is not None else None
    out.setdefault("estimate", None)
    out.setdefault("prediction", None)
    out.setdefault("ci_level", 0.95)
    # results/1 files name the judged flag "informative"; results/2 writes both keys
    out.setdefault("judged", m.get("informative", True))
    out.setdefault("note", "")
    return out


def _validate_rule_facts(where: str, c: dict) -> dict:
    """A claim's rule ``version``, ``history`` and ``calibration`` (absent in files written before they existed)."""
    history = c.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise DiffapproxError(f"{where}: history", "a list of objects", history)
    for h in history:
        if h.get("old_verdict") is not None and h["old_verdict"] not in VERDICTS:
            raise DiffapproxError(
                f"{where}: history.old_verdict", f"one of {', '.join(VERDICTS)} or null", h["old_verdict"]
            )
    version = c.get("version", len(history) + 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise DiffapproxError(f"{where}: version", "an integer", version)
    cal = c.get("calibration")
    if cal is not None and not isinstance(cal, dict):
        raise DiffapproxError(f"{where}: calibration", "an object or null", type(cal).__name__)
    return {"history": history, "version": version, "calibration": cal}


def _validate_claim(i: int, c: Any) -> dict:
    where = f"claims[{i}]"
    if not isinstance(c, dict):
        raise DiffapproxError(where, "an object", type(c).__name__)
    if not isinstance(c.get("id"), str) or not c["id"]:
        raise DiffapproxError(f"{where}.id", "a non-empty string", c.get("id"))
    where = f"claim {c['id']}"
    if c.get("verdict") not in VERDICTS:
        raise DiffapproxError(f"{where}: verdict", f"one of {', '.join(VERDICTS)}", c.get("verdict"))
    for key in ("paper_ref", "statement"):
        if not isinstance(c.get(key), str):
            raise DiffapproxError(f"{where}: {key}", "a string", c.get(key))
    ms = c.get("measurements")
    if not isinstance(ms, list):
        raise DiffapproxError(f"{where}: measurements", "a list", type(ms).__name__)
    params = c.get("parameters", {})
    if not isinstance(params, dict):
        raise DiffapproxError(f"{where}: parameters", "an object", type(params).__name__)
    figs = c.get("figures", [])
    if not isinstance(figs, list):
        raise DiffapproxError(f"{where}: figures", "a list", type(figs).__name__)
    for key in ("findings", "inconsistencies"):
        v = c.get(key, [])
        if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
            raise DiffapproxError(f"{where}: {key}", "a list of strings", v)
    if c.get("error") is not None and not isinstance(c["error"], str):
        raise DiffapproxError(f"{where}: error", "a string or null", c["error"])
    if not _num_or_none(c.get("elapsed_s")):
        raise DiffapproxError(f"{where}: elapsed_s", "a number", c.get("elapsed_s"))
    out = dict(c)
    out.update(_validate_rule_facts(where, c))
    out["measurements"] = [_validate_measurement(f"{where}: measurements[{j}]", m) for j, m in enumerate(ms)]
    out["parameters"] = params
    out["figures"] = [_check_figure(where, p) for p in figs]
    out.setdefault("findings", [])
    out.setdefault("inconsistencies", [])
    out.setdefault("error", None)
    out.setdefault("elapsed_s", None)
    out.setdefault("combination_rule", "")
    return out


def validate_results(results: Any) -> dict:
    """Check a parsed ``results.json`` against the contract and fill optional keys.

    Parameters
    ----------
    results : dict
        The parsed JSON.

    Returns
    -------
    dict
        A normalised copy: non-finite numbers become ``None``; optional keys
        (``profile``, ``seed``, ``command``, ``environment``, ``elapsed_s`` and the
        per-claim ``findings``, ``inconsistencies``, ``error``, ``figures``, ...)
        are present.

    Raises
    ------
    DiffapproxError
        Naming the first key that breaks the contract.
    """
    if not isinstance(results, dict):
        raise DiffapproxError("results.json", "a JSON object", type(results).__name__)
    results = _clean(results)
    if results.get("schema") not in READABLE_SCHEMAS:
        raise DiffapproxError("results.json: schema", " or ".join(map(repr, READABLE_SCHEMAS)), results.get("schema"))
    claims = results.get("claims")
    if not isinstance(claims, list):
        raise DiffapproxError("results.json: claims", "a list", type(claims).__name__)
    out = dict(results)
    out["claims"] = [_validate_claim(i, c) for i, c in enumerate(claims)]
    ids = [c["id"] for c in out["claims"]]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise DiffapproxError("results.json: claims", "unique ids", dup)
    env = out.get("environment")
    if env is None:
        out["environment"] = {}
    elif not isinstance(env, dict):
        raise DiffapproxError("results.json: environment", "an object", type(env).__name__)
    for key in ("profile", "seed", "command", "elapsed_s"):
        out.setdefault(key, None)
    if isinstance(out["command"], list):
        out["command"] = shlex.join(str(a) for a in out["command"])
    elif out["command"] is not None and not isinstance(out["command"], str):
        raise DiffapproxError("results.json: command", "a string or a list of strings", out["command"])
    cal = out.get("calibration_file")
    if cal is not None and not isinstance(cal, dict):
        raise DiffapproxError("results.json: calibration_file", "an object or null", type(cal).__name__)
    out["calibration_file"] = cal
    # other top-level facts (start time, executor, ...) are shown as they are in the reproducibility block
    out["extra"] = {k: v for k, v in results.items() if k not in _KNOWN_KEYS}
    return out


def load_results(path: str | os.PathLike) -> dict:
    """Read and validate ``results.json``.

    Parameters
    ----------
    path : str or path-like
        The file, or the output directory holding ``results.json``.

    Returns
    -------
    dict
        See :func:`validate_results`.

    Raises
    ------
    DiffapproxError
        When the file is missing, unreadable, not JSON, or breaks the contract.
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
    return validate_results(data)


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


def render_html(results: dict, out_dir: str | os.PathLike) -> str:
    """The self-contained HTML report of validated ``results`` (figures read from ``out_dir``)."""
    return _html.render_html(results, Path(out_dir))


def render_pdf(results: dict, out_dir: str | os.PathLike) -> bytes:
    """The PDF report of validated ``results``; identical results give identical bytes."""
    return _pdf.render_pdf(results, Path(out_dir))


def render_report(out_dir: str | os.PathLike, *, formats: tuple[str, ...] = ("html", "pdf")) -> dict[str, Path]:
    """Rebuild ``out_dir/report.html`` and ``out_dir/report.pdf`` from ``out_dir/results.json``.

    Both documents are rendered in memory first, then each is written to a
    temporary file in ``out_dir`` and moved into place with :func:`os.replace`.

    Parameters
    ----------
    out_dir : str or path-like
        A directory written by ``diffapprox validate``.
    formats : tuple of {"html", "pdf"}
        Which reports to write.

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
        rendered["pdf"] = (d / PDF_NAME, render_pdf(results, d))
    written: dict[str, Path] = {}
    for fmt, (path, data) in rendered.items():
        try:
            _atomic_write(path, data)
        except OSError as exc:
            raise DiffapproxError("DIR", "a writable directory", f"{d}: {exc.strerror or exc}") from None
        written[fmt] = path
    return written
