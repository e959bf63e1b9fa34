"""Reports count the paper's claims first and on their own, judged rows apart from context rows, and show
each claim's operating characteristics (calibrate/2) or, for older files, its null FAIL rate and power.

Rendered from ``fixtures/results_sample/results_paper_first.json`` (a results/2 file of seven claims given
out of scope order, one without ``about``) and from the older ``results.json`` beside it.
"""

import json
import re
import shutil
from pathlib import Path

import pytest
from _requires import require_module

from diffapprox import load_results
from diffapprox._core.results_file import Calibration, ClaimRecord
from diffapprox.cli.validate import summary_table
from diffapprox.report import render_report
from diffapprox.report import _format as F

SAMPLE = Path(__file__).parent / "fixtures" / "results_sample"
PAPER_FIRST = SAMPLE / "results_paper_first.json"
BASELINE = Path(__file__).resolve().parents[1] / "reports" / "baseline-quick.json"

#: The fixture's claims in report order: the paper's, other papers', the toolkit's (run order within each).
ORDER = [
    "norm-bound",
    "ode-limit",
    "ou-optimum",
    "delay-threshold",
    "sme-weak-order",
    "verdict-calibration",
    "live-staleness",
]
SCOPE_LINES = [
    "The paper: 4 claims: 2 PASS, 1 FAIL, 1 INCONCLUSIVE, 0 ERROR",
    "Other papers' approximations: 1 claim: 1 PASS, 0 FAIL, 0 INCONCLUSIVE, 0 ERROR",
    "The toolkit's own checks: 2 claims: 2 PASS, 0 FAIL, 0 INCONCLUSIVE, 0 ERROR",
]


def _doc() -> dict:
    return json.loads(PAPER_FIRST.read_text(encoding="utf-8"))


def _run_dir(tmp_path: Path, doc: dict | None = None) -> Path:
    d = tmp_path / "run"
    shutil.copytree(SAMPLE, d, ignore=shutil.ignore_patterns("*.py", "__pycache__", "results*.json"))
    (d / "results.json").write_text(json.dumps(doc if doc is not None else _doc()), encoding="utf-8")
    return d


def _pdf_pages(path: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """Each page's text with whitespace collapsed, and the outline as (title, page index)."""
    pypdf = require_module("pypdf", "pypdf comes with the dev extra: pip install -e '.[dev]'")
    reader = pypdf.PdfReader(str(path))
    pages = [" ".join(p.extract_text().split()) for p in reader.pages]
    return pages, [(o.title, reader.get_destination_page_number(o)) for o in reader.outline]


def _text(html: str) -> str:
    """The HTML's text, tags dropped and whitespace collapsed."""
    import html as html_lib

    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    d = _run_dir(tmp_path_factory.mktemp("paper-first"))
    return d, render_report(d)


# ---------------------------------------------------------------- scope and counts


def test_about_falls_back_to_the_known_ids_else_paper():
    def claim(cid, about=None):
        return ClaimRecord.from_json(
            {"id": cid, "paper_ref": "", "statement": "", "verdict": "PASS", "measurements": [], "about": about}
        )

    assert F.claim_about(claim("sme-weak-order")) == "literature"
    assert F.claim_about(claim("live-staleness")) == "toolkit"
    assert F.claim_about(claim("a-new-claim")) == "paper"
    assert F.claim_about(claim("sme-weak-order", "paper")) == "paper"  # a stated about wins over the id
    groups = F.group_claims([claim("verdict-calibration"), claim("x"), claim("exit-time"), claim("y")])
    assert [(s, [c.id for c in cs]) for s, cs in groups] == [
        ("paper", ["x", "y"]),
        ("literature", ["exit-time"]),
        ("toolkit", ["verdict-calibration"]),
    ]


def test_judged_rows_are_counted_apart_from_context_rows():
    res = load_results(PAPER_FIRST)
    norm = res.claim("norm-bound")
    # four context rows whose verdict is FAIL: counted as rows, never as FAILs
    assert F.fmt_judged_context(norm.measurements) == "judged: 3 (3 PASS); context: 4"
    assert F.fmt_judged_context(res.claim("ou-optimum").measurements) == "judged: 2 (1 PASS, 1 FAIL)"
    assert F.fmt_judged_context(()) == "no measurements"


def test_validate_summary_table_counts_the_paper_first():
    lines = summary_table(load_results(PAPER_FIRST)).splitlines()
    assert lines[:3] == SCOPE_LINES
    heads = [i for i, line in enumerate(lines) if line.endswith(":") and not line.startswith(" ")]
    assert [lines[i] for i in heads] == ["The paper:", "Other papers' approximations:", "The toolkit's own checks:"]
    rows = [line.split()[0] for line in lines[heads[0] :] if line.startswith("  ")]
    assert rows == ORDER
    norm = next(line for line in lines if line.strip().startswith("norm-bound"))
    assert "judged: 3 (3 PASS); context: 4" in norm and "FAIL" not in norm


def test_validate_summary_table_of_an_older_file():
    lines = summary_table(load_results(SAMPLE / "results.json")).splitlines()
    assert lines[0] == "The paper: 4 claims: 1 PASS, 1 FAIL, 1 INCONCLUSIVE, 1 ERROR"
    assert not any(line.startswith(("Other papers'", "The toolkit's")) for line in lines)
    assert "judged: 30 (25 PASS, 5 FAIL); context: 1" in summary_table(load_results(SAMPLE / "results.json"))


# ---------------------------------------------------------------- HTML


def test_html_groups_and_counts(rendered):
    _, paths = rendered
    html = paths["html"].read_text(encoding="utf-8")
    rows = re.findall(r'<tr data-claim="([^"]+)"', html)
    assert rows == ORDER
    assert re.findall(r'<section class="claim" id="[^"]+" data-claim="([^"]+)"', html) == ORDER
    assert re.findall(r'<h1 class="scope" id="scope-(\w+)"', html) == ["paper", "literature", "toolkit"]
    text = _text(html)
    counts = [text.index(" ".join(line.replace(":", ": ").replace(",", "").split())) for line in SCOPE_LINES]
    assert counts == sorted(counts)  # the paper's line first
    paper = re.search(r'id="counts-paper".*?</div>', html, flags=re.S).group(0)
    assert 'data-verdict="PASS" data-count="2"' in paper and 'data-verdict="FAIL" data-count="1"' in paper
    # judged apart from context, in the summary table and in the claim's section
    assert text.count("judged: 3 (3 PASS); context: 4") == 2
    assert "Measurements: judged: 3 (1 PASS, 2 INCONCLUSIVE); context: 4" in text


def test_html_both_intervals_undecided_rows_and_calibration(rendered):
    _, paths = rendered
    html = paths["html"].read_text(encoding="utf-8")
    text = _text(html)
    assert ">FAIL CI</th>" in html and "[1.310, 1.490]" in text
    # the undecided rows with the sample size each needs, once (not repeated under the findings)
    undecided = "tau_star/mu=0.5 (decided at about n = 12,800); tau_star/mu=0.9 (decided at about n = 51,200)"
    assert text.count(undecided) == 1
    ode = text[text.index("ode-limit INCONCLUSIVE Theorem 3.3") :]
    ode = ode[: ode.index("ou-optimum FAIL Theorem 3.5")]
    assert "no target: row tau_star/mu=0.9 lies on its band's edge under the limit" in ode
    assert "0.5% [0.1%, 2.8%] over 200 replicates; target ≤ 5%: met" in ode
    assert "family eta_order" in ode and "target ≥ 80% for every family: undecided" in ode
    assert "false PASS (outside" in ode and "edge: limit (exact samples of the ODE limit (3.2)" in ode
    norm = text[text.index("norm-bound PASS Lemma 3.1") : text.index("ode-limit INCONCLUSIVE Theorem 3.3")]
    assert "mutant dropped-factor (must give FAIL; rate of that verdict) 96.0% [86.5%, 98.9%]" in norm
    assert (
        "mutant corrected (must give not FAIL; rate of that verdict) 70.0% [56.2%, 80.9%] over 50 replicates (missed)"
        in norm
    )
    vc = text[text.index("verdict-calibration PASS toolkit") :]
    assert "legacy summaries yes: the controls are cell summaries written by the deprecated synthetic()" in vc
    # an older block renders as before: null FAIL rate and power
    dt = text[text.index("delay-threshold PASS Remark 3.11") : text.index("sme-weak-order PASS Li, Tai")]
    assert "null FAIL rate 0.0% [0.0%, 1.9%]" in dt and "power (FAIL rate under the alternative) 100.0%" in dt
    assert "false FAIL (edge" not in dt


# ---------------------------------------------------------------- PDF


def test_pdf_summary_page(rendered):
    _, paths = rendered
    pages, outline = _pdf_pages(paths["pdf"])
    first = pages[0]
    at = [first.index(line) for line in SCOPE_LINES]
    assert at == sorted(at)
    table = at[-1] + len(SCOPE_LINES[-1])
    heads = [first.index(h, table) for h in ("The paper", "Other papers' approximations", "The toolkit's own checks")]
    rows = [first.index(cid, heads[0]) for cid in ORDER]
    assert heads == sorted(heads) and rows == sorted(rows) and heads[1] < rows[4] < heads[2] < rows[5]
    # compact calibration cells (abbreviations explained under the table); an older block keeps its labels
    assert "FF 0.5% · conf 92% · pow 91% · FP 0% · mut 1/2 ✗" in first
    assert "conf (92%) · pow 85% ?" in first and "pow 62% ✗" in first and "legacy" in first
    assert "null FAIL 0.0% · power 100.0% · stale" in first
    assert "FF false FAIL rate" in first and "in parentheses: no target" in first
    # judged rows with their verdict split, context rows apart
    assert "+4 context" in first
    assert [t.split(" \u2014 ")[0] for t, _ in outline] == [*ORDER, "Reproducibility"]
    assert outline[0][1] == 1  # the summary table fits page 1


def test_pdf_claim_pages(rendered):
    _, paths = rendered
    pages, outline = _pdf_pages(paths["pdf"])
    page = {t.split(" \u2014 ")[0]: pages[i] for t, i in outline}
    assert "Measurements: judged: 3 (3 PASS); context: 4." in page["norm-bound"]
    assert "95% CI / FAIL CI" in page["ou-optimum"] and "FAIL [1.310, 1.490]" in page["ou-optimum"]
    ode = page["ode-limit"]
    assert "Undecided: 2 of 3 judged rows straddle a band edge" in ode and "n = 51,200" in ode
    assert "1 other judged PASS; 4 context rows" in ode
    assert "no target: row tau_star/mu=0.9 lies on its band's edge under the limit" in ode
    assert "control sources: edge: limit; family: model; exact: limit; outside: model;" in ode
    norm = page["norm-bound"]
    assert "mutant corrected (must give not FAIL): 70.0% [56.2%, 80.9%]" in norm
    assert "legacy summaries: yes" in page["verdict-calibration"]
    assert "null FAIL rate: 0.0% [0.0%, 1.9%]" in page["delay-threshold"]


def test_undecided_finding_is_shown_once(tmp_path):
    doc = _doc()
    ode = next(c for c in doc["claims"] if c["id"] == "ode-limit")
    ode["findings"] = ["Undecided: 2 of 3 judged rows straddle a band edge: as the runner wrote it", *ode["findings"]]
    d = _run_dir(tmp_path, doc)
    paths = render_report(d)
    text = _text(paths["html"].read_text(encoding="utf-8"))
    assert text.count("as the runner wrote it") == 1 and "decided at about n = 12,800" not in text
    pages, _ = _pdf_pages(paths["pdf"])
    assert " ".join(pages).count("as the runner wrote it") == 1


def test_pdf_with_only_older_blocks_renders_as_before(tmp_path):
    doc = _doc()
    old = next(c for c in doc["claims"] if c["id"] == "delay-threshold")["calibration"]
    for c in doc["claims"]:
        c["calibration"] = dict(old, stale=False)
    pages, _ = _pdf_pages(render_report(_run_dir(tmp_path, doc), formats=("pdf",))["pdf"])
    assert "null FAIL · power" in pages[0] and "0.0% · 100.0%" in pages[0]
    assert "FF " not in pages[0] and "FF false FAIL" not in pages[0]


def test_summary_fits_page_one_for_21_claims_with_calibrate2_blocks(tmp_path):
    """21 of the baseline's claims (real ids, references and key numbers), each with a calibrate/2 block: the
    summary takes at most two pages (it took one before both intervals and the blocks' rates were shown)."""
    doc = json.loads(BASELINE.read_text(encoding="utf-8"))
    blocks = [c["calibration"] for c in _doc()["claims"] if c["calibration"] and "false_fail" in c["calibration"]]
    doc["claims"] = doc["claims"][:21]
    for i, c in enumerate(doc["claims"]):
        c["calibration"] = blocks[i % len(blocks)]
        c["figures"] = []
    assert len(doc["claims"]) == 21
    pages, outline = _pdf_pages(render_report(_run_dir(tmp_path, doc), formats=("pdf",))["pdf"])
    assert outline[0][1] <= 2, "the summary table spilled onto page 3"
    assert "smoke" not in pages[0] or "too few replicates" in pages[0]


# ---------------------------------------------------------------- calibration blocks as rows


def test_calibration_rows_of_a_calibrate2_block_and_of_an_older_one():
    doc = _doc()
    new = Calibration.from_json(next(c for c in doc["claims"] if c["id"] == "norm-bound")["calibration"])
    old = Calibration.from_json(next(c for c in doc["claims"] if c["id"] == "delay-threshold")["calibration"])
    assert not F.is_old_block(new) and F.is_old_block(old)
    labels = [label for label, _ in F.calibration_rows(new)]
    assert labels[:4] == [
        "false FAIL (edge: every judged truth on its band's edge; the null FAIL rate)",
        "confirm (exact: the truth equal to the prediction; PASS rate)",
        "worst family power (family eta_order: FAIL rate with one row family beyond its band by its effect)",
        "false PASS (outside: every judged truth beyond its band's edge; PASS rate)",
    ]
    rows = dict(F.calibration_rows(new))
    assert rows["confirm (exact: the truth equal to the prediction; PASS rate)"].endswith("target ≥ 80%: met")
    brief = dict(F.calibration_rows(new, brief=True))
    assert brief["control sources"] == "edge: limit; family: model; exact: limit; outside: model"
    assert "Gaussian per-path errors" in rows["control sources"]
    assert F.calibration_cell(new) == "FF 0.5% · conf 92% · pow 91% · FP 0% · mut 1/2\u00a0✗"
    assert [label for label, _ in F.calibration_rows(old)][:2] == [
        "null FAIL rate",
        "power (FAIL rate under the alternative)",
    ]
    assert F.calibration_cell(old) == "null FAIL 0.0% · power 100.0% · stale"
    assert F.calibration_cell(old, compact=True) == "0.0% · 100.0% · stale"
    assert [F.fmt_rate_short(x) for x in (0.0, 0.005, 0.92, 0.925, None)] == ["0%", "0.5%", "92%", "92%", F.DASH]
