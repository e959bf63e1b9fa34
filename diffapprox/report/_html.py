"""The HTML report: one self-contained file rendered by a jinja2 template.

Figures are embedded as base64 data URIs (PNG preferred, SVG when no PNG exists;
an SVG inside ``<img>`` cannot run scripts or fetch anything); CSS is inline;
there are no scripts, fonts, stylesheets or images fetched from anywhere, so the
file opens from disk, offline, and can be mailed as it is.
"""

from __future__ import annotations

import base64
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from . import _format as F

if TYPE_CHECKING:
    from .._core.results_file import ClaimRecord, Results

#: Claims with more measurements than this get a collapsed ``<details>`` table.
MANY_MEASUREMENTS = 20

#: Figures larger than this are not embedded (a note says so) to keep the file mailable.
MAX_FIGURE_BYTES = 20 * 2**20

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_TEMPLATES = Path(__file__).parent / "templates"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        num=F.fmt_num,
        estimate=F.fmt_estimate,
        ci=F.fmt_ci,
        tolerance=F.fmt_tolerance,
        seconds=F.fmt_seconds,
        value=F.fmt_value,
        keynum=lambda m: F.fmt_key_number(m, with_name=False),
        effect=F.fmt_effect,
        needed=F.fmt_needed_paths,
        verdict_counts=F.fmt_verdict_counts,
    )
    env.globals.update(common_ci_level=F.common_ci_level, any_ci_fail=F.any_ci_fail)
    env.globals.update(VERDICTS=F.VERDICTS, COLOURS=F.VERDICT_COLOURS, DASH=F.DASH)
    return env


def figure_groups(paths: list[str]) -> list[tuple[str, dict[str, str]]]:
    """Group figure paths by stem: ``[(stem_path, {"png": path, "svg": path}), ...]`` in first-seen order."""
    groups: dict[str, dict[str, str]] = {}
    for p in paths:
        stem, dot, ext = p.rpartition(".")
        key = stem if dot else p
        groups.setdefault(key, {})[ext.lower() if dot else ""] = p
    return list(groups.items())


def _embed(out_dir: Path, stem: str, files: dict[str, str]) -> dict:
    """One figure as ``{"name", "path", "src" or None, "problem"}``."""
    for ext, mime in (("png", "image/png"), ("svg", "image/svg+xml")):
        rel = files.get(ext)
        if rel is None:
            continue
        path = out_dir / rel
        try:
            size = path.stat().st_size
            if size > MAX_FIGURE_BYTES:
                return dict(name=Path(stem).name, path=rel, src=None, problem=f"not embedded: {size / 2**20:.1f} MiB")
            data = path.read_bytes()
        except OSError:
            if ext == "png" and "svg" in files:
                continue  # the SVG version may still be there
            return dict(name=Path(stem).name, path=rel, src=None, problem="file missing")
        if ext == "png" and not data.startswith(_PNG_MAGIC):
            return dict(name=Path(stem).name, path=rel, src=None, problem="not a PNG file")
        if ext == "svg" and b"<svg" not in data[:4096]:
            return dict(name=Path(stem).name, path=rel, src=None, problem="not an SVG file")
        uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        return dict(name=Path(stem).name, path=rel, src=uri, problem=None)
    return dict(name=Path(stem).name, path=", ".join(files.values()), src=None, problem="no PNG or SVG version")


#: Claims with more parameter entries than this get them in a collapsed ``<details>``.
MANY_PARAMETERS = 25


def _leaves(d) -> int:
    """Rows a nested parameter dict renders to."""
    return sum(_leaves(v) if isinstance(v, dict) and v else 1 for v in d.values()) if isinstance(d, dict) else 1


def _claim_view(claim: ClaimRecord, out_dir: Path) -> dict:
    """The claim's fields and what the template shows of them."""
    ms = claim.measurements
    undecided = F.undecided_text(claim)
    return dict(
        {f.name: getattr(claim, f.name) for f in fields(claim) if not f.name.startswith("_")},
        verdict=claim.verdict.value,
        anchor="claim-" + "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in claim.id),
        counts=F.verdict_counts(ms),
        key=F.key_measurement(claim),
        n_measurements=len(ms),
        collapse=len(ms) > MANY_MEASUREMENTS,
        not_passing=[m for m in ms if m.verdict != "PASS" and m.judged],
        n_context=sum(1 for m in ms if not m.judged),
        n_judged=sum(1 for m in ms if m.judged),
        judged_context=F.fmt_judged_context(ms),
        about=F.claim_about(claim),
        undecided=undecided,
        other_findings=[s for s in claim.findings if s != undecided],
        n_params=_leaves(claim.parameters),
        embedded=[_embed(out_dir, stem, files) for stem, files in figure_groups(list(claim.figures))],
        calibration_cell=F.calibration_cell(claim.calibration),
        calibration_rows=F.calibration_rows(claim.calibration),
        history_rows=F.history_rows(claim.history),
    )


def render_html(results: Results, out_dir: Path) -> str:
    """Render :class:`~diffapprox.Results` (see :func:`diffapprox.load_results`) to an HTML string."""
    from .._version import __version__

    groups = [
        dict(
            scope=scope,
            title=F.SCOPE_TITLES[scope],
            counts=F.verdict_counts(cs),
            claims=[_claim_view(c, out_dir) for c in cs],
        )
        for scope, cs in F.group_claims(results.claims)
    ]
    claims = [c for g in groups for c in g["claims"]]  # the paper's claims first
    template = _environment().get_template("report.html.j2")
    return template.render(
        results=dict(
            profile=results.profile,
            seed=results.seed,
            schema=results.schema,
            elapsed_s=results.elapsed_s,
            command=results.command_line,
            extra=results.run_facts(),
            environment=results.environment.to_json(),
        ),
        claims=claims,
        groups=groups,
        counts=F.verdict_counts(results.claims),
        oc_abbreviations=F.OC_ABBREVIATIONS,
        version=__version__,
        many=MANY_MEASUREMENTS,
        many_params=MANY_PARAMETERS,
        calibration_file=F.calibration_file_text(results.calibration_file),
        history_head=F.HISTORY_HEAD,
    )
