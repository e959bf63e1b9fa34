"""The PDF report (reportlab platypus): same content as the HTML report.

Page 1 holds the summary table; each claim starts on a new page (statement, the
measurement that decided the verdict, error, PNG figures, findings, inconsistencies,
parameters, measurements); the
reproducibility block closes the document. Text is real text (DejaVu Sans,
embedded as a subset, shipped with matplotlib), so it is searchable and paper
symbols (mu, eta, tau in Greek, <=, em dash) render. The document is built with
``invariant=1``: fixed creation date and document id, so the same results give
byte-identical PDFs.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from xml.sax.saxutils import escape

from . import _format as F
from ._html import MANY_MEASUREMENTS, figure_groups

_FONT = "DiffapproxSans"
_FONT_BOLD = "DiffapproxSans-Bold"
_FONT_MONO = "DiffapproxMono"

#: Space (points) a section heading needs below it, else it starts the next page.
_HEADING_ROOM = 72

#: Widest and tallest a figure may be drawn (points).
_FIG_MAX_H = 340


def _register_fonts() -> None:
    import matplotlib
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if _FONT in pdfmetrics.getRegisteredFontNames():
        return
    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(_FONT, str(ttf / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(_FONT_BOLD, str(ttf / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFont(TTFont(_FONT_MONO, str(ttf / "DejaVuSansMono.ttf")))
    addMapping(_FONT, 0, 0, _FONT)
    addMapping(_FONT, 1, 0, _FONT_BOLD)
    addMapping(_FONT, 0, 1, _FONT)
    addMapping(_FONT, 1, 1, _FONT_BOLD)


def _styles():
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("body", fontName=_FONT, fontSize=9.5, leading=12.5, spaceAfter=4)
    return dict(
        body=base,
        title=ParagraphStyle("title", base, fontName=_FONT_BOLD, fontSize=18, leading=22, spaceAfter=4),
        sub=ParagraphStyle("sub", base, textColor=colors.HexColor("#59636e")),
        h1=ParagraphStyle("ClaimHeading", base, fontName=_FONT_BOLD, fontSize=15, leading=19, spaceAfter=4),
        h2=ParagraphStyle("h2", base, fontName=_FONT_BOLD, fontSize=11.5, leading=14, spaceBefore=8, spaceAfter=4),
        cell=ParagraphStyle("cell", base, fontSize=8, leading=10, spaceAfter=0),
        cellr=ParagraphStyle("cellr", base, fontSize=8, leading=10, spaceAfter=0, alignment=2),
        mono=ParagraphStyle("mono", base, fontName=_FONT_MONO, fontSize=7.5, leading=9.5, spaceAfter=0),
        note=ParagraphStyle("note", base, fontSize=7, leading=8.5, spaceAfter=0, textColor=colors.HexColor("#59636e")),
        noter=ParagraphStyle(
            "noter", base, fontSize=7, leading=8.5, spaceAfter=0, alignment=2, textColor=colors.HexColor("#59636e")
        ),
        small=ParagraphStyle("small", base, fontSize=7.5, leading=9.5, textColor=colors.HexColor("#59636e")),
        verdict=ParagraphStyle(
            "verdict",
            base,
            fontName=_FONT_BOLD,
            fontSize=7.5,
            leading=9.5,
            spaceAfter=0,
            alignment=1,
            textColor=colors.white,
        ),
        pre=ParagraphStyle(
            "pre",
            base,
            fontName=_FONT_MONO,
            fontSize=7.5,
            leading=9.5,
            backColor=colors.HexColor("#f6f8fa"),
            borderPadding=4,
            spaceBefore=4,
            spaceAfter=8,
        ),
        bullet=ParagraphStyle("bullet", base, leftIndent=12, bulletIndent=2),
    )


def _p(text, style):
    from reportlab.platypus import Paragraph

    return Paragraph(escape(str(text)), style)


def _table(rows, widths, *, header=True, verdict_cells=(), zebra=False, long=False):
    from reportlab.lib import colors
    from reportlab.platypus import LongTable, Table, TableStyle

    cls = LongTable if long else Table
    t = cls(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    cmds = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.HexColor("#d1d9e0")),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if header:
        cmds.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f4")))
    for col, row, verdict in verdict_cells:
        cmds.append(("BACKGROUND", (col, row), (col, row), colors.HexColor(F.VERDICT_COLOURS[verdict][0])))
        cmds.append(("VALIGN", (col, row), (col, row), "MIDDLE"))
    t.setStyle(TableStyle(cmds))
    return t


def _h2(text, st):
    """A section heading that never ends a page (needs room for itself and a few lines)."""
    from reportlab.platypus import CondPageBreak

    return [CondPageBreak(_HEADING_ROOM), _p(text, st["h2"])]


def _verdict_cell(v, st):
    return _p(v, st["verdict"])


def _kv_rows(d: dict, st, prefix="") -> list:
    rows = []
    for k, v in d.items():
        if isinstance(v, dict) and v:
            rows += _kv_rows(v, st, f"{prefix}{k}.")
        else:
            rows.append([_p(f"{prefix}{k}", st["cell"]), _p(v if isinstance(v, str) else F.fmt_value(v), st["mono"])])
    return rows


def _short(text: str, style, width: float):
    """A plain string when it fits on one line (fast to lay out), else a wrapping Paragraph."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if stringWidth(text, style.fontName, style.fontSize) <= width - 7:
        return text
    return _p(text, style)


def _measurement_table(ms, st, width):
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph

    level = F.common_ci_level(ms)
    ci_head = "CI" if level is None else f"{100 * level:g}% CI"
    w = [width * f for f in (0.28, 0.10, 0.17, 0.10, 0.13, 0.08, 0.14)]
    rows = [["measurement", "estimate", ci_head, "prediction", "tolerance", "effect", "verdict"]]
    cells = []
    for r, m in enumerate(ms, start=1):
        name = escape(m["name"])
        if not m["judged"]:
            name += ' <font color="#59636e">(context only)</font>'
        first = [Paragraph(name, st["mono"])]
        if m["note"]:
            first.append(_p(m["note"], st["note"]))
        ci = F.fmt_ci(m["ci"])
        if m["ci"] and level is None:
            ci += f" ({100 * m['ci_level']:g}%)"
        texts = [
            F.fmt_estimate(m["estimate"], m["ci"]),
            ci,
            F.fmt_num(m["prediction"]),
            F.fmt_tolerance(m["tolerance"]),
            F.fmt_effect(m),
        ]
        rows.append(
            [first]
            + [_short(t, st["cellr"], w[i + 1]) for i, t in enumerate(texts)]
            + [_short(m["verdict"], st["verdict"], w[6])]
        )
        cells.append((6, r, m["verdict"]))
    t = _table(rows, w, verdict_cells=cells, long=len(ms) > MANY_MEASUREMENTS)
    # plain-string cells: same look as the paragraph styles
    t.setStyle(
        [
            ("FONT", (0, 0), (-1, -1), _FONT, 8, 10),
            ("ALIGN", (1, 0), (5, -1), "RIGHT"),
            ("FONT", (6, 1), (6, -1), _FONT_BOLD, 7.5, 9.5),
            ("TEXTCOLOR", (6, 1), (6, -1), colors.white),
            ("ALIGN", (6, 1), (6, -1), "CENTER"),
        ]
    )
    return t


def calibration_flowables(c: dict, st, width: float) -> list:
    """The claim's calibration (null FAIL rate, power, replicates, stale flag) as a heading and a table.

    Self-contained: takes a validated claim of ``results.json``, the styles of :func:`_styles` and the
    frame width, and returns flowables to place anywhere in a claim's pages.
    """
    rows = [[_p(label, st["cell"]), _p(text, st["cell"])] for label, text in F.calibration_rows(c["calibration"])]
    return [*_h2("Calibration (synthetic controls)", st), _table(rows, [width * 0.3, width * 0.7], header=False)]


def history_flowables(c: dict, st, width: float) -> list:
    """The claim's dated rule changes with the old rule's verdict and its source; ``[]`` without history.

    Self-contained like :func:`calibration_flowables`; the old verdict cell is coloured like every verdict.
    """
    hist = F.history_rows(c["history"])
    if not hist:
        return []
    head = [_p(h, st["cell"]) for h in F.HISTORY_HEAD]
    rows, cells = [head], []
    for r, (v, date, change, reason, old, source) in enumerate(hist, start=1):
        rows.append(
            [
                _p(v, st["cell"]),
                _p(date, st["cell"]),
                _p(change, st["cell"]),
                _p(reason, st["note"]),
                _verdict_cell(old, st) if old else _p(F.DASH, st["cell"]),
                _p(source, st["note"]),
            ]
        )
        if old:
            cells.append((4, r, old))
    widths = [width * f for f in (0.07, 0.11, 0.24, 0.24, 0.15, 0.19)]
    title = f"History (rule changes made after seeing results; the current rule is version {c['version']})"
    return [*_h2(title, st), _table(rows, widths, verdict_cells=cells)]


def _figure(path: Path, width: float, st):
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Image

    try:
        data = path.read_bytes()
        iw, ih = ImageReader(io.BytesIO(data)).getSize()
    except Exception as exc:  # noqa: BLE001 - an unreadable image is said in the document, not a failed report
        return _p(f"Figure {path.name}: cannot be read ({type(exc).__name__}).", st["small"])
    scale = min(width / iw, _FIG_MAX_H / ih, 1.0 if iw > width / 2 else width / 2 / iw)
    return Image(io.BytesIO(data), width=iw * scale, height=ih * scale, hAlign="LEFT")


def _claim_story(c: dict, out_dir: Path, st, width):
    from reportlab.platypus import KeepTogether, PageBreak, Paragraph, Spacer

    story = [PageBreak()]
    bg = F.VERDICT_COLOURS[c["verdict"]][0]
    heading = Paragraph(f'{escape(c["id"])} &#160; <font color="{bg}">{c["verdict"]}</font>', st["h1"])
    heading.outline_title = f"{c['id']} \u2014 {c['verdict']}"
    story.append(heading)
    story.append(_p(f"{c['paper_ref']} · rule version {c['version']} · ran {F.fmt_seconds(c['elapsed_s'])}", st["sub"]))
    story.append(_p(c["statement"], st["body"]))
    key = F.key_measurement(c)
    if key is not None:
        story.append(
            Paragraph(
                f'Verdict decided by <font name="{_FONT_MONO}">{escape(key["name"])}</font>: '
                f"{escape(F.fmt_key_number(key, with_name=False))} ({key['verdict']})",
                st["body"],
            )
        )
    if c["combination_rule"]:
        story.append(_p(f"Combination rule: {c['combination_rule']}", st["small"]))
    story += calibration_flowables(c, st, width)
    story += history_flowables(c, st, width)
    if c["error"]:
        story += _h2("Error", st)
        story.append(Paragraph(escape(c["error"]).replace("\n", "<br/>"), st["pre"]))
    # figures and findings first: a long measurement table would push them pages away from the verdict
    groups = figure_groups(c["figures"])
    if groups:
        # the heading travels with the first figure (platypus keepWithNext cannot see into KeepTogether)
        pending = [_p("Figures", st["h2"])]
        for stem, files in groups:
            rel = files.get("png")
            if rel is None:
                block = [_p(f"Figure {stem}: no PNG version (see the HTML report).", st["small"])]
            elif not (out_dir / rel).is_file():
                block = [_p(f"Figure {rel}: file missing.", st["small"])]
            else:
                block = [_figure(out_dir / rel, width, st), _p(rel, st["small"]), Spacer(1, 6)]
            story.append(KeepTogether(pending + block))
            pending = []
    for key, title in (("findings", "Findings"), ("inconsistencies", "Inconsistencies with the paper")):
        if c[key]:
            story += _h2(title, st)
            story += [Paragraph(escape(s), st["bullet"], bulletText="•") for s in c[key]]
    story += _h2("Parameters", st)
    if c["parameters"]:
        story.append(_table(_kv_rows(c["parameters"], st), [width * 0.3, width * 0.7], header=False))
    else:
        story.append(_p(F.DASH, st["body"]))
    counts = F.verdict_counts(c["measurements"])
    summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    story += _h2(f"Measurements ({len(c['measurements'])}{': ' + summary if summary else ''})", st)
    if c["measurements"]:
        story.append(_measurement_table(c["measurements"], st, width))
        story.append(Spacer(1, 4))
    else:
        story.append(_p("No measurements.", st["body"]))
    return story


def _key_cell(c: dict, st):
    m = F.key_measurement(c)
    if m is None:
        return _p("error" if c["error"] else F.DASH, st["note"])
    return [_p(m["name"], st["mono"]), _p(F.fmt_key_number(m, with_name=False), st["note"])]


def _summary_story(results: dict, st, width):
    from reportlab.platypus import Paragraph

    claims = results["claims"]
    n = len(claims)
    story = [
        _p("diffapprox validation report", st["title"]),
        _p(
            f"Async-MSGD diffusion-approximation claims · profile {results['profile'] or F.DASH} · "
            f"seed {F.DASH if results['seed'] is None else results['seed']} · {n} claim{'' if n == 1 else 's'} · "
            f"run time {F.fmt_seconds(results['elapsed_s'])}",
            st["sub"],
        ),
        _p("Summary", st["h2"]),
    ]
    counts = F.verdict_counts(claims)
    story.append(
        Paragraph(
            " &#160; ".join(
                f'<font color="{F.VERDICT_COLOURS[v][0]}"><b>{counts[v]} {v}</b></font>' for v in F.VERDICTS
            ),
            st["body"],
        )
    )
    rows = [
        [
            _p(h, st["cell"] if i < 5 else st["cellr"])
            for i, h in enumerate(
                [
                    "claim",
                    "paper reference",
                    "verdict",
                    "key number (decided the verdict)",
                    "calibration",
                    "measurements",
                    "time",
                ]
            )
        ]
    ]
    cells = []
    for r, c in enumerate(claims, start=1):
        mc = F.verdict_counts(c["measurements"])
        detail = ", ".join(f"{k} {v}" for v, k in mc.items() if k)
        rows.append(
            [
                _p(c["id"], st["mono"]),
                _p(c["paper_ref"], st["cell"]),
                _verdict_cell(c["verdict"], st),
                _key_cell(c, st),
                _p(F.calibration_cell(c["calibration"]), st["note"]),
                [_p(f"{len(c['measurements'])}", st["cellr"])] + ([_p(detail, st["noter"])] if detail else []),
                _p(F.fmt_seconds(c["elapsed_s"]), st["cellr"]),
            ]
        )
        cells.append((2, r, c["verdict"]))
    if not claims:
        rows.append([_p("No claims in this run.", st["cell"]), "", "", "", "", "", ""])
    story.append(
        _p(
            "A measurement PASSes when its whole confidence interval lies inside the tolerance band stated before "
            "measuring, FAILs when the interval lies entirely outside, and is INCONCLUSIVE otherwise; ERROR means "
            "the run broke. Each claim states how its measurements combine; the key number is the measurement "
            "that decided the claim's verdict (the worst of those sharing it). Calibration: the claim's FAIL rate on "
            "synthetic data where the paper holds exactly (null, near 0) and where every judged quantity is off by its "
            "stated effect (power, near 1); stale: the claim's code changed since it was calibrated.",
            st["small"],
        )
    )
    story.append(_p(F.calibration_file_text(results.get("calibration_file")), st["small"]))
    story.append(
        _table(rows, [width * f for f in (0.15, 0.11, 0.14, 0.25, 0.13, 0.14, 0.08)], verdict_cells=cells, long=True)
    )
    return story


def _repro_story(results: dict, st, width):
    from reportlab.platypus import PageBreak

    rows = [
        [_p("command", st["cell"]), _p(results["command"] or F.DASH, st["mono"])],
        [_p("profile", st["cell"]), _p(results["profile"] or F.DASH, st["mono"])],
        [_p("seed", st["cell"]), _p(F.DASH if results["seed"] is None else results["seed"], st["mono"])],
        [_p("schema", st["cell"]), _p(results["schema"], st["mono"])],
        [_p("total run time", st["cell"]), _p(F.fmt_seconds(results["elapsed_s"]), st["mono"])],
    ]
    for k, v in results["extra"].items():
        rows.append([_p(k.replace("_", " "), st["cell"]), _p(v if isinstance(v, str) else F.fmt_value(v), st["mono"])])
    rows += [
        [_p(f"run time {c['id']}", st["cell"]), _p(F.fmt_seconds(c["elapsed_s"]), st["mono"])]
        for c in results["claims"]
    ]
    story = [
        PageBreak(),
        _p("Reproducibility", st["h1"]),
        _table(rows, [width * 0.3, width * 0.7], header=False, long=True),
        *_h2("Environment", st),
    ]
    env = results["environment"]
    story.append(
        _table(_kv_rows(env, st), [width * 0.3, width * 0.7], header=False, long=True)
        if env
        else _p(F.DASH, st["body"])
    )
    story.append(
        _p("Rendered by diffapprox from results.json alone; `diffapprox report DIR` rebuilds this file.", st["small"])
    )
    return story


def _run_timestamp(results: dict) -> tuple[int, ...] | None:
    """``(Y, M, D, h, m, s)`` UTC of ``started_utc`` in results.json, or None (then 2000-01-01, invariant)."""
    import datetime as dt

    v = results.get("extra", {}).get("started_utc")
    if not isinstance(v, str):
        return None
    try:
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc)
    return (t.year, t.month, t.day, t.hour, t.minute, t.second)


def render_pdf(results: dict, out_dir: Path) -> bytes:
    """Render validated ``results`` to PDF bytes (deterministic: ``invariant=1``)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    from .._version import __version__

    _register_fonts()
    st = _styles()

    stamp = _run_timestamp(results)

    class _Doc(SimpleDocTemplate):
        def _makeCanvas(self, *args, **kwargs):  # creation date = the run's start, not the render time
            canv = super()._makeCanvas(*args, **kwargs)
            doc = getattr(canv, "_doc", None)
            if stamp is not None and hasattr(getattr(doc, "_timeStamp", None), "YMDhms"):
                doc._timeStamp.YMDhms = stamp
            return canv

        def afterFlowable(self, flowable):  # outline entry (PDF bookmark) per claim section
            if getattr(flowable, "style", None) is not None and flowable.style.name == "ClaimHeading":
                text = getattr(flowable, "outline_title", None) or flowable.getPlainText()
                key = f"sec{self.seq.nextf('heading')}"
                self.canv.bookmarkPage(key)
                self.canv.addOutlineEntry(text, key, level=0)

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(_FONT, 7.5)
        canvas.setFillColorRGB(0.35, 0.39, 0.43)
        canvas.drawString(
            doc.leftMargin,
            10 * mm,
            f"diffapprox validation report · profile {results['profile'] or F.DASH}"
            f" · seed {F.DASH if results['seed'] is None else results['seed']}",
        )
        canvas.drawRightString(doc.pagesize[0] - doc.rightMargin, 10 * mm, f"page {doc.page}")
        canvas.restoreState()

    buf = io.BytesIO()
    ids = [c["id"] for c in results["claims"]]
    doc = _Doc(
        buf,
        pagesize=A4,
        leftMargin=16 * mm,
        rightMargin=16 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"diffapprox validation report (profile {results['profile']}, seed {results['seed']})",
        author=f"diffapprox {__version__}",
        subject="Async-MSGD diffusion-approximation claims: " + ", ".join(ids),
        creator=f"diffapprox {__version__}",
        keywords=json.dumps(ids),
        invariant=1,
        lang="en",
    )
    width = doc.width
    story = _summary_story(results, st, width)
    for c in results["claims"]:
        story += _claim_story(c, out_dir, st, width)
    story += _repro_story(results, st, width)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
