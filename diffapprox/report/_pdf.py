"""The PDF report (reportlab platypus): the report a person reads in ten minutes.

Page 1 holds the summary table; then one page per claim: statement, verdict, the judged
measurements that decided it, one figure, findings, inconsistencies, calibration and history.
Every claim's parameters and full measurement table stay in the HTML report and
``results.json``; in the PDF they are an appendix behind a flag (``--pdf-appendix``).  The
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
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from . import _format as F
from ._html import MANY_MEASUREMENTS, figure_groups

if TYPE_CHECKING:
    from .._core.results import Measurement
    from .._core.results_file import ClaimRecord, Results

_FONT = "DiffapproxSans"
_FONT_BOLD = "DiffapproxSans-Bold"
_FONT_MONO = "DiffapproxMono"

#: Space (points) a section heading needs below it, else it starts the next page.
_HEADING_ROOM = 72

#: Tallest the one figure of a claim's page may be drawn (points): with the statement, the deciding
#: measurements and the findings, a claim keeps to about one page.
_FIG_PAGE_H = 260
_FIG_PAGE_MIN_H = 90
#: Characters of a rule change shown on a claim's page (the whole text in report.html and the appendix).
_HISTORY_CHANGE_CHARS = 90

#: Judged measurements shown on a claim's page (the key one first); the rest are in the appendix.
_DECIDING_ROWS = 3

#: Characters of the key measurement's note shown on a claim's page (how it was measured).
_KEY_NOTE_CHARS = 320


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
        title=ParagraphStyle("title", base, fontName=_FONT_BOLD, fontSize=16, leading=19, spaceAfter=2),
        sub=ParagraphStyle("sub", base, textColor=colors.HexColor("#59636e")),
        h1=ParagraphStyle("ClaimHeading", base, fontName=_FONT_BOLD, fontSize=15, leading=19, spaceAfter=4),
        h2=ParagraphStyle("h2", base, fontName=_FONT_BOLD, fontSize=11.5, leading=14, spaceBefore=8, spaceAfter=4),
        cell=ParagraphStyle("cell", base, fontSize=8, leading=10, spaceAfter=0),
        cellr=ParagraphStyle("cellr", base, fontSize=8, leading=10, spaceAfter=0, alignment=2),
        mono=ParagraphStyle("mono", base, fontName=_FONT_MONO, fontSize=7.5, leading=9.5, spaceAfter=0),
        note=ParagraphStyle("note", base, fontSize=7, leading=8.5, spaceAfter=0, textColor=colors.HexColor("#59636e")),
        small=ParagraphStyle("small", base, fontSize=7.5, leading=9.5, textColor=colors.HexColor("#59636e")),
        scope=ParagraphStyle("scope", base, fontName=_FONT_BOLD, fontSize=8.5, leading=10, spaceAfter=0),
        # the summary table's note under it: every abbreviation of its cells explained
        tnote=ParagraphStyle(
            "tnote", base, fontSize=6, leading=7.2, spaceAfter=0, textColor=colors.HexColor("#59636e")
        ),
        group=ParagraphStyle("group", base, fontName=_FONT_BOLD, fontSize=7.5, leading=8.5, spaceAfter=0),
        tcal=ParagraphStyle("tcal", base, fontSize=6, leading=7, spaceAfter=0, textColor=colors.HexColor("#59636e")),
        # the summary table's compact cells
        smono=ParagraphStyle("smono", base, fontName=_FONT_MONO, fontSize=7, leading=8.5, spaceAfter=0),
        tiny=ParagraphStyle("tiny", base, fontSize=6.5, leading=8, spaceAfter=0, textColor=colors.HexColor("#59636e")),
        tinyr=ParagraphStyle(
            "tinyr", base, fontSize=6.5, leading=8, spaceAfter=0, alignment=2, textColor=colors.HexColor("#59636e")
        ),
        sverdict=ParagraphStyle(
            "sverdict",
            base,
            fontName=_FONT_BOLD,
            fontSize=7,
            leading=8.5,
            spaceAfter=0,
            alignment=1,
            textColor=colors.white,
        ),
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
        # findings on a claim's page: a little smaller, so a claim keeps to about one page
        pbullet=ParagraphStyle("pbullet", base, fontSize=8, leading=10, spaceAfter=1.5, leftIndent=12, bulletIndent=2),
        sbullet=ParagraphStyle(
            "sbullet",
            base,
            fontSize=7.5,
            leading=9.5,
            spaceAfter=1,
            leftIndent=12,
            bulletIndent=2,
            textColor=colors.HexColor("#59636e"),
        ),
    )


def _p(text, style):
    from reportlab.platypus import Paragraph

    return Paragraph(escape(str(text)), style)


def _table(rows, widths, *, header=True, verdict_cells=(), long=False):
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


def _measurement_table(ms, st, width, *, notes: bool = True):
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph

    level = F.common_ci_level(ms)
    ci_head = "CI" if level is None else f"{100 * level:g}% CI"
    # without notes the names are the long column
    fr = (0.28, 0.10, 0.17, 0.10, 0.13, 0.08, 0.14) if notes else (0.32, 0.09, 0.14, 0.08, 0.11, 0.08, 0.18)
    if F.any_ci_fail(ms):  # the CI column holds the FAIL interval too: room from the names
        fr = (fr[0] - 0.07, fr[1], fr[2] + 0.05, fr[3] + 0.02, *fr[4:])
    w = [width * f for f in fr]
    if F.any_ci_fail(ms):
        ci_head += "\n/ FAIL CI"  # two lines: the column is narrow
    rows = [["measurement", "estimate", ci_head, "prediction", "tolerance", "effect", "verdict"]]
    cells = []
    for r, m in enumerate(ms, start=1):
        name = escape(m.name)
        if not m.judged:
            name += ' <font color="#59636e">(context only)</font>'
        first = [Paragraph(name, st["mono"])]
        if m.note and notes:
            first.append(_p(m.note, st["note"]))
        if F.fmt_needed_paths(m):
            first.append(_p(F.fmt_needed_paths(m), st["note"]))
        ci = F.fmt_ci(m.ci)
        if m.ci and level is None:
            ci += f" ({100 * m.ci_level:g}%)"
        texts = [
            F.fmt_estimate(m.estimate, m.ci),
            ci,
            F.fmt_num(m.prediction),
            F.fmt_tolerance(m.tolerance),
            F.fmt_effect(m),
        ]
        cols = [_short(t, st["cellr"], w[i + 1]) for i, t in enumerate(texts)]
        if m.judged and m.ci_fail is not None:  # the FAIL interval under the PASS one
            cols[1] = [_p(ci, st["cellr"]), _p(f"FAIL {F.fmt_ci(m.ci_fail)}", st["cellr"])]
        rows.append([first] + cols + [_short(m.verdict.value, st["verdict"], w[6])])
        cells.append((6, r, m.verdict.value))
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


def calibration_flowables(c: ClaimRecord, st, width: float) -> list:
    """The claim's calibration (null FAIL rate, power, replicates, stale flag) as a heading and a table.

    Self-contained: takes a validated claim of ``results.json``, the styles of :func:`_styles` and the
    frame width, and returns flowables to place anywhere in a claim's pages.
    """
    rows = [[_p(label, st["cell"]), _p(text, st["cell"])] for label, text in F.calibration_rows(c.calibration)]
    return [*_h2("Calibration (synthetic controls)", st), _table(rows, [width * 0.3, width * 0.7], header=False)]


def history_flowables(c: ClaimRecord, st, width: float) -> list:
    """The claim's dated rule changes with the old rule's verdict and its source; ``[]`` without history.

    Self-contained like :func:`calibration_flowables`; the old verdict cell is coloured like every verdict.
    """
    hist = F.history_rows(c.history)
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
    title = f"History (rule changes made after seeing results; the current rule is version {c.version})"
    return [*_h2(title, st), _table(rows, widths, verdict_cells=cells)]


def _section(title: str, body: list, st) -> list:
    """A heading kept with the first flowable under it (not a conditional page break: the height it
    asks for is what it takes, so a figure sized to the room left can count on it)."""
    from reportlab.platypus import KeepTogether

    head = _p(title, st["h2"])
    return [KeepTogether([head, body[0]]), *body[1:]] if body else [head]


def _calibration_history_brief(c: ClaimRecord, st) -> list:
    """Calibration and history as a few lines of small type, for a claim's page.

    The same facts as :func:`calibration_flowables` and :func:`history_flowables` (which the
    appendix shows as tables), written as running text: full-width lines take a third of the
    height of narrow table columns.
    """
    from reportlab.platypus import Paragraph

    cal = "; ".join(f"{escape(label)}: {escape(text)}" for label, text in F.calibration_rows(c.calibration, brief=True))
    out = [Paragraph(f"<b>Calibration.</b> {cal}.", st["small"])]
    hist = F.history_rows(c.history)
    if hist:
        items = []
        for v, date, change, _reason, old, _source in hist:
            colour = F.VERDICT_COLOURS[old][0] if old in F.VERDICT_COLOURS else "#59636e"
            if len(change) > _HISTORY_CHANGE_CHARS:
                change = change[: change.rfind(" ", 0, _HISTORY_CHANGE_CHARS)] + " \u2026"
            items.append(
                f"<b>v{escape(v)}</b> {escape(date)}: {escape(change)} (old rule: "
                f'<font color="{colour}"><b>{escape(old or F.DASH)}</b></font>)'
            )
        out.append(
            Paragraph(
                f"<b>History</b> (rule changes made after seeing results; the current rule is version {c.version}; "
                "each change in full, why it was made and where the old verdict comes from: report.html, or --pdf-appendix): "
                + "; ".join(items)
                + ".",
                st["small"],
            )
        )
    return _section("Calibration and history", out, st)


def _fit_figure(path: Path, width: float, st, after: list):
    """A figure as tall as the page leaves room for, given the flowables ``after`` it on the page.

    Between ``_FIG_PAGE_MIN_H`` and ``_FIG_PAGE_H`` points high (never wider than ``width``): a
    claim with short findings gets a large figure, one with long findings a smaller one, so the
    claim keeps to one page when it can.
    """
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Flowable

    try:
        data = path.read_bytes()
        iw, ih = ImageReader(io.BytesIO(data)).getSize()
    except Exception as exc:  # noqa: BLE001 - an unreadable image is said in the document, not a failed report
        return _p(f"Figure {path.name}: cannot be read ({type(exc).__name__}).", st["small"])

    class FitImage(Flowable):
        def wrap(self, aw, ah):
            need = 0.0
            for f in after:
                need += f.wrapOn(self.canv, aw, 1e6)[1] + f.getSpaceBefore() + f.getSpaceAfter()
            top = min(_FIG_PAGE_H, ih * min(1.0, width / iw))
            h = max(min(top, _FIG_PAGE_MIN_H), min(top, ah - need - 4))
            self.h, self.w = h, iw * h / ih
            return self.w, self.h

        def draw(self):
            self.canv.drawImage(ImageReader(io.BytesIO(data)), 0, 0, self.w, self.h)

    return FitImage()


def _deciding(c: ClaimRecord) -> list[Measurement]:
    """The judged measurements that decided the verdict (those sharing it), the key one first."""
    key = F.key_measurement(c)
    return sorted(F.deciding_measurements(c), key=lambda m: m is not key)  # stable: the claim's order after the key one


def _figure_story(c: ClaimRecord, out_dir: Path, st, width, after: list) -> list:
    """The claim's first figure (PNG), sized to the room ``after`` leaves; a line saying how many others exist."""
    from reportlab.platypus import Spacer

    groups = figure_groups(c.figures)
    if not groups:
        return []
    stem, files = groups[0]
    rel = files.get("png")
    if rel is None:
        block = [_p(f"Figure {stem}: no PNG version (see the HTML report).", st["small"])]
    elif not (out_dir / rel).is_file():
        block = [_p(f"Figure {rel}: file missing.", st["small"])]
    else:
        more = len(groups) - 1
        note = rel + (f" ({more} more figure{'s' if more > 1 else ''} in report.html)" if more else "")
        caption = _p(note, st["small"])
        block = [_fit_figure(out_dir / rel, width, st, [caption, *after]), caption]
    return [Spacer(1, 4), *block, Spacer(1, 2)]


def _claim_page(c: ClaimRecord, out_dir: Path, st, width, appendix: bool = False) -> list:
    """One page for a claim: statement, verdict, the judged measurements that decided it, one figure,
    findings, inconsistencies, calibration and history."""
    from reportlab.platypus import PageBreak, Paragraph

    story = [PageBreak()]
    bg = F.VERDICT_COLOURS[c.verdict.value][0]
    heading = Paragraph(f'{escape(c.id)} &#160; <font color="{bg}">{c.verdict}</font>', st["h1"])
    heading.outline_title = f"{c.id} \u2014 {c.verdict}"
    story.append(heading)
    scope = F.SCOPE_TITLES[F.claim_about(c)]
    story.append(
        _p(f"{c.paper_ref} · {scope} · rule version {c.version} · ran {F.fmt_seconds(c.elapsed_s)}", st["sub"])
    )
    story.append(_p(c.statement, st["body"]))
    story.append(_p(f"Measurements: {F.fmt_judged_context(c.measurements)}.", st["small"]))
    undecided = F.undecided_text(c)
    if undecided:
        story.append(_p(undecided, st["small"]))
    if c.combination_rule:
        story.append(_p(f"Combination rule: {c.combination_rule}", st["small"]))
    if c.error:
        story += _h2("Error", st)
        story.append(Paragraph(escape(c.error).replace("\n", "<br/>"), st["pre"]))
    rows = _deciding(c)
    if rows:
        shown = rows[:_DECIDING_ROWS]
        n_j = sum(1 for m in c.measurements if m.judged)
        story += _h2(f"What decided it ({len(rows)} of {n_j} judged measurement{'s' if n_j != 1 else ''})", st)
        story.append(_measurement_table(shown, st, width, notes=False))
        key = F.key_measurement(c)
        if key is not None and key.note:
            note = key.note
            if len(note) > _KEY_NOTE_CHARS:  # the whole note is in report.html and the appendix
                note = note[: note.rfind(" ", 0, _KEY_NOTE_CHARS)] + " \u2026 (the whole note in report.html)"
            story.append(_p(f"{key.name}: {note}", st["small"]))
        rest = [f"{len(rows) - len(shown)} more with the same verdict"] if len(rows) > len(shown) else []
        others = F.verdict_counts([m for m in c.measurements if m.judged and m not in rows])
        rest += [f"{n} other judged {v}" for v, n in others.items() if n]
        n_ctx = F.judged_context(c.measurements)[1]
        rest += [f"{n_ctx} context row{'s' if n_ctx != 1 else ''}"] if n_ctx else []
        if rest:
            story.append(
                _p(
                    "; ".join(rest)
                    + ": every measurement is in report.html and results.json"
                    + (" and in the appendix." if appendix else " (and in this PDF with --pdf-appendix)."),
                    st["small"],
                )
            )
    after = []
    findings = [s for s in c.findings if s != undecided]  # the undecided rows are named under the statement
    for items, title in ((findings, "Findings"), (c.inconsistencies, "Inconsistencies with the paper")):
        if items:
            after += _section(title, [Paragraph(escape(s), st["pbullet"], bulletText="•") for s in items], st)
    after += _calibration_history_brief(c, st)
    return story + _figure_story(c, out_dir, st, width, after) + after


def _appendix_story(results: Results, st, width) -> list:
    """Every claim's calibration and history tables, parameters and full measurement table (``--pdf-appendix``)."""
    from reportlab.platypus import PageBreak, Paragraph, Spacer

    story = [PageBreak(), _p("Appendix: parameters and measurements", st["h1"])]
    story.append(
        _p(
            "Every claim's parameters (grids, paths, steps, seeds) and every measurement, judged and context.",
            st["small"],
        )
    )
    for c in _ordered(results):
        story += _h2(f"{c.id} ({c.verdict})", st)
        story += calibration_flowables(c, st, width) + history_flowables(c, st, width)
        story.append(Paragraph("Parameters", st["small"]))
        if c.parameters:
            story.append(_table(_kv_rows(c.parameters, st), [width * 0.3, width * 0.7], header=False, long=True))
        else:
            story.append(_p(F.DASH, st["body"]))
        story.append(Spacer(1, 4))
        story.append(_p(f"Measurements ({F.fmt_judged_context(c.measurements)})", st["small"]))
        if c.measurements:
            story.append(_measurement_table(c.measurements, st, width))
        else:
            story.append(_p("No measurements.", st["body"]))
        story.append(Spacer(1, 6))
    return story


def _ordered(results: Results) -> list[ClaimRecord]:
    """The claims in the order of the summary: the paper's first, then other papers', then the toolkit's."""
    return [c for _, cs in F.group_claims(results.claims) for c in cs]


def _short_seconds(s) -> str:
    """``27.5 s``, ``3m09s``: a run time that fits the summary's narrow column."""
    if s is None:
        return F.DASH
    if s < 60:
        return F.fmt_seconds(s)
    m, sec = divmod(int(round(s)), 60)
    return f"{m}m{sec:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


def _key_cell(c: ClaimRecord, st):
    """The key measurement's name (monospace) and number in one flowing paragraph: a line less per row."""
    from reportlab.platypus import Paragraph

    m = F.key_measurement(c)
    if m is None:
        return _p("error" if c.error else F.DASH, st["tiny"])
    name = f'<font name="{_FONT_MONO}" color="#1f2328">{escape(m.name)}</font>'
    return Paragraph(f"{name}: {escape(F.fmt_key_number(m, with_name=False))}", st["tiny"])


def _counts_cell(c: ClaimRecord, st) -> list:
    """The summary's measurement cell: judged rows with their verdicts coloured, then the context rows."""
    from reportlab.platypus import Paragraph

    judged, n_ctx = F.judged_context(c.measurements)
    mc = F.verdict_counts(judged)
    split = "·".join(f'<font color="{F.VERDICT_COLOURS[v][0]}">{mc[v]}</font>' for v in F.VERDICTS[:3])
    cell = [Paragraph(f"{len(judged)} <font size=6.5>({split})</font>", st["cellr"])]
    if n_ctx:
        cell.append(_p(f"+{n_ctx} context", st["tinyr"]))
    return cell


def _scope_lines(claims, st) -> list:
    """One line per scope, the paper's claims counted first and on their own, verdicts in their colours."""
    from reportlab.platypus import Paragraph

    out = []
    for scope, cs in F.group_claims(claims):
        counts = F.verdict_counts(cs)
        n = len(cs)
        verdicts = ", ".join(
            f'<font color="{F.VERDICT_COLOURS[v][0]}"><b>{counts[v]} {v}</b></font>' for v in F.VERDICTS
        )
        out.append(
            Paragraph(f"{escape(F.SCOPE_TITLES[scope])}: {n} claim{'' if n == 1 else 's'}: {verdicts}", st["scope"])
        )
    return out


def _summary_note(cals: list) -> str:
    """The note under the summary table: the verdict rule, and the abbreviations its cells use (those that occur)."""
    new = [cal for cal in cals if not F.is_old_block(cal)]
    note = (
        "A row PASSes when its CI lies inside the band stated before measuring, FAILs when its FAIL interval "
        "(Bonferroni over the claim's judged rows) lies entirely outside, else INCONCLUSIVE; ERROR: the run broke. "
        "Judged rows decide the verdict (P·F·I: how many PASS, FAIL, INCONCLUSIVE); context rows decide nothing. "
        "Key number: the row that decided the verdict (the worst sharing it). Calibration, the claim's verdicts on "
        "controls of known truth: "
    )
    parts = [F.OC_ABBREVIATIONS] if new else []
    if len(new) < len(cals):
        parts.append("null FAIL rate with the truth on the band's edge (near 0) and power (near 1)")
    if any(cal.stale for cal in cals):
        parts.append("stale: the code changed since it was calibrated")
    if any(cal.smoke_run for cal in cals):
        parts.append("smoke: too few replicates to state the targets")
    return note + "; ".join(parts or [F.DASH]) + "."


def _summary_story(results: Results, st, width):
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Spacer

    claims = results.claims
    story = [
        _p("diffapprox validation report", st["title"]),
        _p(
            f"Async-MSGD diffusion-approximation claims · profile {results.profile or F.DASH} · "
            f"seed {F.DASH if results.seed is None else results.seed} · run time {F.fmt_seconds(results.elapsed_s)}",
            st["sub"],
        ),
    ]
    if not claims:
        story.append(_p("No claims in this run.", st["scope"]))
    # the verdict counts head the table, the paper's first (no section heading: page 1 holds the whole table)
    story += _scope_lines(claims, st)
    story.append(Spacer(1, 2))
    # compact rows (small type, the paper reference under the id, verdict counts as coloured numbers)
    # so that the table fits page 1; the claims grouped under what they are about
    legend = "·".join(f'<font color="{F.VERDICT_COLOURS[v][0]}">{v[0]}</font>' for v in F.VERDICTS[:3])
    cals = [c.calibration for c in claims if c.calibration is not None and c.calibration.calibrated]
    old_only = bool(cals) and all(F.is_old_block(cal) for cal in cals)  # as before calibrate/2: labels in the header
    rows = [
        [
            Paragraph('claim <font size=6.5 color="#59636e">· run time</font>', st["cell"]),
            _p("verdict", st["cell"]),
            _p("key number (decided the verdict)", st["cell"]),
            Paragraph("calibration<br/>null FAIL \u00b7 power" if old_only else "calibration (controls)", st["tiny"]),
            Paragraph(f"judged ({legend})<br/>+ context", st["tinyr"]),
        ]
    ]
    cells, spans = [], []
    for scope, cs in F.group_claims(claims):
        rows.append([_p(F.SCOPE_TITLES[scope], st["group"])] + [""] * 4)
        spans.append(len(rows) - 1)
        for c in cs:
            rows.append(
                [
                    [
                        Paragraph(
                            f'{escape(c.id)} <font name="{_FONT}" size=6 color="#59636e">'
                            f"· {_short_seconds(c.elapsed_s)}</font>",
                            st["smono"],
                        ),
                        _p(c.paper_ref, st["tiny"]),
                    ],
                    _p(c.verdict, st["sverdict"]),
                    _key_cell(c, st),
                    _p(F.calibration_cell(c.calibration, compact=old_only), st["tcal"]),
                    _counts_cell(c, st),
                ]
            )
            cells.append((1, len(rows) - 1, c.verdict.value))
    if not claims:
        rows.append([_p("No claims in this run.", st["cell"]), "", "", "", ""])
    table = _table(rows, [width * f for f in (0.24, 0.132, 0.288, 0.21, 0.13)], verdict_cells=cells, long=True)
    table.setStyle([("TOPPADDING", (0, 1), (-1, -1), 0.8), ("BOTTOMPADDING", (0, 1), (-1, -1), 0.8)])
    for r in spans:
        table.setStyle(
            [
                ("SPAN", (0, r), (-1, r)),
                ("TOPPADDING", (0, r), (-1, r), 2),
                ("BOTTOMPADDING", (0, r), (-1, r), 0.5),
                ("LINEBELOW", (0, r), (-1, r), 0.8, colors.HexColor("#8c959f")),
            ]
        )
    story.append(table)
    story.append(Spacer(1, 4))
    story.append(_p(_summary_note(cals), st["tnote"]))
    return story


def _repro_story(results: Results, st, width):
    from reportlab.platypus import PageBreak

    rows = [
        [_p("command", st["cell"]), _p(results.command_line or F.DASH, st["mono"])],
        [_p("profile", st["cell"]), _p(results.profile or F.DASH, st["mono"])],
        [_p("seed", st["cell"]), _p(F.DASH if results.seed is None else results.seed, st["mono"])],
        [_p("schema", st["cell"]), _p(results.schema, st["mono"])],
        [_p("total run time", st["cell"]), _p(F.fmt_seconds(results.elapsed_s), st["mono"])],
        [_p("calibration", st["cell"]), _p(F.calibration_file_text(results.calibration_file), st["cell"])],
    ]
    for k, v in results.run_facts().items():
        rows.append([_p(k.replace("_", " "), st["cell"]), _p(v if isinstance(v, str) else F.fmt_value(v), st["mono"])])
    rows += [[_p(f"run time {c.id}", st["cell"]), _p(F.fmt_seconds(c.elapsed_s), st["mono"])] for c in results.claims]
    story = [
        PageBreak(),
        _p("Reproducibility", st["h1"]),
        _table(rows, [width * 0.3, width * 0.7], header=False, long=True),
        *_h2("Environment", st),
    ]
    env = results.environment.to_json()
    story.append(
        _table(_kv_rows(env, st), [width * 0.3, width * 0.7], header=False, long=True)
        if env
        else _p(F.DASH, st["body"])
    )
    story.append(
        _p("Rendered by diffapprox from results.json alone; `diffapprox report DIR` rebuilds this file.", st["small"])
    )
    return story


def _run_timestamp(results: Results) -> tuple[int, ...] | None:
    """``(Y, M, D, h, m, s)`` UTC of ``started_utc`` in results.json, or None (then 2000-01-01, invariant)."""
    import datetime as dt

    v = results.started_utc
    if not isinstance(v, str):
        return None
    try:
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc)
    return (t.year, t.month, t.day, t.hour, t.minute, t.second)


def render_pdf(results: Results, out_dir: Path, *, appendix: bool = False) -> bytes:
    """Render validated ``results`` to PDF bytes (deterministic: ``invariant=1``).

    Page 1 is the summary table, then one page per claim (:func:`_claim_page`), then, with
    ``appendix``, every claim's parameters and full measurement table, then the reproducibility block.
    """
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
            f"diffapprox validation report · profile {results.profile or F.DASH}"
            f" · seed {F.DASH if results.seed is None else results.seed}",
        )
        canvas.drawRightString(doc.pagesize[0] - doc.rightMargin, 10 * mm, f"page {doc.page}")
        canvas.restoreState()

    buf = io.BytesIO()
    ids = [c.id for c in results.claims]
    doc = _Doc(
        buf,
        pagesize=A4,
        leftMargin=16 * mm,
        rightMargin=16 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"diffapprox validation report (profile {results.profile}, seed {results.seed})",
        author=f"diffapprox {__version__}",
        subject="Async-MSGD diffusion-approximation claims: " + ", ".join(ids),
        creator=f"diffapprox {__version__}",
        keywords=json.dumps(ids),
        invariant=1,
        lang="en",
    )
    width = doc.width
    story = _summary_story(results, st, width)
    for c in _ordered(results):
        story += _claim_page(c, out_dir, st, width, appendix)
    if appendix:
        story += _appendix_story(results, st, width)
    story += _repro_story(results, st, width)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
