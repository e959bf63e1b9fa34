"""HTML and PDF reports rendered from results.json alone, and ``diffapprox report DIR``."""

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from _requires import require_module, require_tool

from diffapprox import DiffapproxError
from diffapprox.report import load_results, render_report
from diffapprox.report._format import DASH, fmt_ci, fmt_estimate, fmt_num, fmt_seconds, fmt_tolerance

SAMPLE = Path(__file__).parent / "fixtures" / "results_sample"
IDS = ["ode_limit", "ou_stationary_variance", "delay_threshold", "dnn_tradeoff"]


@pytest.fixture
def out_dir(tmp_path):
    d = tmp_path / "run"
    shutil.copytree(SAMPLE, d, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return d


@pytest.fixture
def rendered(out_dir):
    return render_report(out_dir)


class _Collect(HTMLParser):
    """Tags with attributes, and the text of the summary table."""

    def __init__(self):
        super().__init__()
        self.tags = []
        self.summary_claims = []
        self._in_summary = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table" and a.get("id") == "summary-table":
            self._in_summary = True
        if self._in_summary and tag == "tr" and "data-claim" in a:
            self.summary_claims.append(a["data-claim"])

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_summary = False


# ---------------------------------------------------------------- formatting


def test_number_formatting():
    assert fmt_num(None) == DASH
    assert fmt_num(0.0) == "0"
    assert fmt_num(12) == "12"
    assert fmt_num(0.000123456) == "0.0001235"
    assert fmt_estimate(0.123456, [0.1200, 0.1269]) == "0.1235"
    assert fmt_ci([0.1200, 0.1269]) == "[0.1200, 0.1269]"
    assert fmt_estimate(41.0, [30.0, 55.0]) == "41"
    assert fmt_estimate(1.234e-9, [1e-9, 1.5e-9]) == "1.234e-09"
    assert fmt_ci([1.735e-18, 0.01885]) == "[0.0000, 0.0188]"  # below the CI's precision reads as zero
    assert fmt_ci(None) == DASH and fmt_ci([None, None]) == DASH
    assert fmt_tolerance([None, 0.05]) == "\u2264 0.05"
    assert fmt_tolerance([0.01, None]) == "\u2265 0.01"
    assert fmt_tolerance(None) == DASH
    assert fmt_seconds(0.42) == "0.42 s" and fmt_seconds(301) == "5 min 01 s" and fmt_seconds(None) == DASH


# ---------------------------------------------------------------- validation


def test_load_results_normalises(out_dir):
    res = load_results(out_dir)
    assert [c.id for c in res.claims] == IDS
    m = res.claims[1].measurements[-1]
    assert m.estimate is None and m.ci is None and m.judged is False


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: "{not json", "valid JSON"),
        (lambda d: json.dumps([1, 2]), "a JSON object"),
        (lambda d: json.dumps({**d, "schema": "other/9"}), "schema"),
        (lambda d: json.dumps({**d, "claims": {}}), "claims: expected a list"),
        (lambda d: json.dumps({**d, "claims": [{**d["claims"][0], "verdict": "MAYBE"}]}), "verdict"),
        (lambda d: json.dumps({**d, "claims": [d["claims"][0], d["claims"][0]]}), "unique ids"),
        (
            lambda d: json.dumps({**d, "claims": [{**d["claims"][0], "figures": ["../../etc/passwd.png"]}]}),
            "inside the output directory",
        ),
        (
            lambda d: json.dumps(
                {
                    **d,
                    "claims": [{**d["claims"][0], "measurements": [{"name": "x", "verdict": "PASS", "estimate": "1"}]}],
                }
            ),
            "estimate",
        ),
    ],
)
def test_load_results_refuses_bad_input(out_dir, mutate, match):
    p = out_dir / "results.json"
    p.write_text(mutate(json.loads(p.read_text(encoding="utf-8"))), encoding="utf-8")
    with pytest.raises(DiffapproxError, match=match):
        load_results(p)


def test_missing_results_json(tmp_path):
    with pytest.raises(DiffapproxError, match="results.json: expected an existing file"):
        render_report(tmp_path)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- HTML


def test_render_report_writes_both(out_dir, rendered):
    assert rendered == {"html": out_dir / "report.html", "pdf": out_dir / "report.pdf"}
    assert all(p.stat().st_size > 1000 for p in rendered.values())
    assert not list(out_dir.glob(".*.tmp")), "temporary files left behind"


def test_html_content(rendered):
    html = rendered["html"].read_text(encoding="utf-8")
    p = _Collect()
    p.feed(html)
    assert p.summary_claims == IDS
    # counts of verdicts
    for v in ("PASS", "FAIL", "INCONCLUSIVE", "ERROR"):
        assert f'data-verdict="{v}" data-count="1"' in html
    # one section per claim, with its statement, reference and verdict
    sections = [a.get("data-claim") for t, a in p.tags if t == "section" and "data-claim" in a]
    assert sections == IDS
    assert "Theorem 3.5, eq. (3.3)" in html and "Remark 3.11" in html
    # measurements: CI-aware digits, None as an em dash, one-sided tolerance
    assert "0.0123" in html and "[0.0101, 0.0146]" in html and "\u2264 0.05" in html and DASH in html
    # the long table is collapsed, its failing rows shown first
    assert "31 measurements: judged: 30 (25 PASS, 5 FAIL); context: 1" in html  # a context row's verdict: not counted
    assert "Not passing (5 of 30 judged)" in html  # the context-only INCONCLUSIVE is in the full table
    # findings, inconsistencies, error, missing figure
    assert "Assumption 2 fails" in html
    assert "drops a factor 1/(1-mu)" in html
    assert "ModuleNotFoundError: No module named &#39;torch&#39;" in html
    assert "missing.png</code>: file missing" in html
    # reproducibility block
    for s in (
        "diffapprox validate --profile=quick --seed=20240601 &#39;--out=reports/my sample&#39;",
        "2024-06-01T09:30:00Z",
        "LocalExecutor(threads=2)",
        "a4b5cb4d0c0ffee0000000000000000000000000",
        "Linux-6.1-x86_64",
        "numba",
        "1 h 05 min",
    ):
        assert s in html
    # autoescape: markup in a statement is text, not markup
    assert "<script>" not in html and "&lt;script&gt;alert(" in html


def test_html_is_self_contained(rendered):
    html = rendered["html"].read_text(encoding="utf-8")
    p = _Collect()
    p.feed(html)
    imgs = [a["src"] for t, a in p.tags if t == "img"]
    assert len(imgs) == 1 and imgs[0].startswith("data:image/png;base64,")
    for tag, a in p.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed", "base"), tag
        for attr in ("src", "href", "srcset", "action", "data", "poster"):
            v = a.get(attr) or ""
            assert v.startswith(("data:", "#")) or v == "", (tag, attr, v[:80])
    css = "".join(re.findall(r"<style>(.*?)</style>", html, flags=re.S))
    assert "url(" not in css and "@import" not in css


def test_html_prefers_png_and_falls_back_to_svg(out_dir):
    (out_dir / "figures/ode_limit/error_vs_time.png").unlink()
    html = render_report(out_dir, formats=("html",))["html"].read_text(encoding="utf-8")
    assert "data:image/svg+xml;base64," in html and "data:image/png" not in html


# ---------------------------------------------------------------- PDF


def test_pdf_text_pages_metadata(rendered):
    pypdf = require_module("pypdf", "pypdf comes with the dev extra: pip install -e '.[dev]'")
    reader = pypdf.PdfReader(str(rendered["pdf"]))
    n = len(reader.pages)
    assert n >= 1 + len(IDS)
    text = "\n".join(page.extract_text() for page in reader.pages)
    for cid in IDS:
        assert cid in text
    assert "Theorem 3.3, eq. (3.2)" in text and "α²/(2(1−μ)(λ1−λi))" in text
    # one section per claim, each starting a new page after the summary page: the outline says where
    outline = reader.outline
    assert [o.title for o in outline] == [
        "ode_limit \u2014 PASS",
        "ou_stationary_variance \u2014 FAIL",
        "delay_threshold \u2014 INCONCLUSIVE",
        "dnn_tradeoff \u2014 ERROR",
        "Reproducibility",
    ]
    starts = [reader.get_destination_page_number(o) for o in outline]
    assert starts[0] == 1 and all(a < b for a, b in zip(starts, starts[1:]))
    for cid, page in zip(IDS, starts):
        assert f"{cid}   " in reader.pages[page].extract_text()
    meta = reader.metadata
    assert meta["/CreationDate"] == "D:20240601093000+00'00'"  # started_utc, not the render time
    assert meta.title == "diffapprox validation report (profile quick, seed 20240601)"
    assert all(cid in meta.subject for cid in IDS)


def test_pdf_is_deterministic(out_dir, rendered, tmp_path):
    first = rendered["pdf"].read_bytes()
    other = tmp_path / "elsewhere"
    shutil.copytree(out_dir, other)
    (other / "report.pdf").unlink()
    assert render_report(other)["pdf"].read_bytes() == first
    assert render_report(out_dir)["pdf"].read_bytes() == first


def test_pdftoppm_renders_page_one(rendered, tmp_path):
    exe = require_tool(("pdftoppm",), "pdftoppm not found (Debian package poppler-utils; .ci/run installs it)")
    out = tmp_path / "page"
    proc = subprocess.run(
        [exe, "-r", "50", "-f", "1", "-l", "1", "-png", str(rendered["pdf"]), str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    pngs = list(tmp_path.glob("page*.png"))
    assert len(pngs) == 1 and pngs[0].read_bytes().startswith(b"\x89PNG") and pngs[0].stat().st_size > 2000


# ---------------------------------------------------------------- command line


@pytest.fixture(autouse=True)
def _only_report_command(request, monkeypatch):
    """Build the real CLI with only the report subcommand, independent of the others' state."""
    if "cli" in request.node.name:
        import diffapprox.cli

        monkeypatch.setattr(diffapprox.cli, "COMMANDS", ["report"])


def test_cli_report_rebuilds(out_dir, capsys):
    from diffapprox.cli import main

    assert main(["report", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "report.html" in out and "report.pdf" in out
    assert (out_dir / "report.html").is_file() and (out_dir / "report.pdf").is_file()


@pytest.mark.parametrize("damage", ["corrupt", "missing", "bad-schema"])
def test_cli_report_bad_results_leaves_reports_untouched(out_dir, rendered, capsys, damage):
    from diffapprox.cli import main

    before = {k: p.read_bytes() for k, p in rendered.items()}
    res = out_dir / "results.json"
    if damage == "corrupt":
        res.write_text('{"schema": "diffapprox.results/1", "claims": [', encoding="utf-8")
    elif damage == "missing":
        res.unlink()
    else:
        res.write_text(json.dumps({"schema": "nope", "claims": []}), encoding="utf-8")
    assert main(["report", str(out_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("diffapprox report: error: results.json") and err.count("\n") == 1
    assert {k: p.read_bytes() for k, p in rendered.items()} == before
    assert not list(out_dir.glob(".*.tmp"))


def test_cli_report_not_a_directory(tmp_path, capsys):
    from diffapprox.cli import main

    assert main(["report", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_cli_report_help(capsys):
    from diffapprox.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["report", "--help"])
    assert exc.value.code == 0
    assert "results.json" in capsys.readouterr().out


def test_pdf_without_start_time_uses_invariant_date(out_dir, tmp_path):
    pypdf = require_module("pypdf", "pypdf comes with the dev extra: pip install -e '.[dev]'")
    res = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    del res["started_utc"]
    (out_dir / "results.json").write_text(json.dumps(res), encoding="utf-8")
    first = render_report(out_dir, formats=("pdf",))["pdf"].read_bytes()
    assert render_report(out_dir, formats=("pdf",))["pdf"].read_bytes() == first
    assert pypdf.PdfReader(str(out_dir / "report.pdf")).metadata["/CreationDate"].startswith("D:20000101")
