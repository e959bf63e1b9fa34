"""The PDF a person reads in ten minutes: the summary, then about a page per claim; tables in an appendix.

Rendered from the committed quick baseline (every claim's real statement, measurements, findings
and inconsistencies), with a two-panel figure drawn at each figure path it lists.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from _requires import require_module

from diffapprox.report import render_report

pypdf = require_module("pypdf", "pypdf comes with the dev extra: pip install -e '.[dev]'")

BASELINE = Path(__file__).resolve().parents[1] / "reports" / "baseline-quick.json"

#: Pages a claim may take on average without the appendix (the summary and reproducibility pages aside):
#: its page holds three deciding rows, a figure sized to the room left, findings, and its calibration and
#: history in brief; a claim with long findings spills onto a second page.
PAGES_PER_CLAIM = 1.5


def _run_dir(tmp_path: Path, claims: list[str] | None = None) -> Path:
    """A run directory holding the baseline's results.json (optionally a subset) and a figure per path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    doc = json.loads(BASELINE.read_text(encoding="utf-8"))
    if claims is not None:
        doc["claims"] = [c for c in doc["claims"] if c["id"] in claims]
    d = tmp_path / "run"
    d.mkdir()
    (d / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))  # the claims' usual two-panel size
    for ax in axes:
        ax.plot(range(10), range(10))
    for c in doc["claims"]:
        for rel in c.get("figures", []):
            if rel.endswith(".png"):
                (d / rel).parent.mkdir(parents=True, exist_ok=True)
                fig.savefig(d / rel, dpi=110)
    plt.close(fig)
    return d


def _claim_pages(reader) -> dict[str, int]:
    """Pages each claim takes, from the PDF outline."""
    marks = [(o.title, reader.get_destination_page_number(o)) for o in reader.outline]
    ends = [p for _, p in marks[1:]] + [len(reader.pages)]
    return {t.split(" \u2014 ")[0]: e - p for (t, p), e in zip(marks, ends)}


def test_quick_pdf_keeps_to_about_a_page_per_claim(tmp_path):
    d = _run_dir(tmp_path)
    n = len(json.loads((d / "results.json").read_text())["claims"])
    reader = pypdf.PdfReader(str(render_report(d, formats=("pdf",))["pdf"]))
    pages = _claim_pages(reader)
    claim_pages = sum(v for k, v in pages.items() if k != "Reproducibility")
    assert claim_pages <= PAGES_PER_CLAIM * n, pages
    assert reader.get_destination_page_number(reader.outline[0]) <= 2  # the summary table fits pages 1-2
    assert pages["Reproducibility"] <= 2
    first = reader.pages[reader.get_destination_page_number(reader.outline[0])].extract_text()
    assert "What decided it" in first and "Findings" in first
    assert "Appendix" not in "".join(p.extract_text() for p in reader.pages)


def test_appendix_holds_every_measurement_behind_the_flag(tmp_path):
    ids = ["async-error", "ou-optimum"]
    d = _run_dir(tmp_path, ids)
    short = pypdf.PdfReader(str(render_report(d, formats=("pdf",))["pdf"]))
    shutil.copy(d / "report.pdf", tmp_path / "short.pdf")
    long = pypdf.PdfReader(str(render_report(d, formats=("pdf",), pdf_appendix=True)["pdf"]))
    assert len(long.pages) > len(short.pages)
    text = "".join(p.extract_text() for p in long.pages).replace("\n", "").replace(" ", "")
    assert "Appendix:parametersandmeasurements" in text
    doc = json.loads((d / "results.json").read_text())
    ou = next(c for c in doc["claims"] if c["id"] == "ou-optimum")
    short_text = "".join(p.extract_text() for p in short.pages).replace("\n", "").replace(" ", "")
    names = [m["name"].replace(" ", "") for m in ou["measurements"]]
    assert sum(n in short_text for n in names) < len(names) / 2  # the claim page shows only what decided it
    assert all(n in text for n in names)
