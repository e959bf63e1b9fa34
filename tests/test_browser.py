"""The HTML report in a real headless browser (Debian's chromium, installed by ``.ci/run``).

Chromium loads a copy of the report with a small checking script appended; the
script writes what the page sees (summary-table claim ids, every image's
``naturalWidth``) into a DOM node that ``--dump-dom`` prints. The same run keeps
a net log (``--log-net-log``): every URL request the *page* starts (as opposed to
the browser's own update/time pings) is listed, and there must be none. A
planted copy with an external image and stylesheet proves the net-log check
can fail.
"""

import html as html_lib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from _requires import require_tool

from diffapprox.report import render_report

SAMPLE = Path(__file__).parent / "fixtures" / "results_sample"
IDS = ["ode_limit", "ou_stationary_variance", "delay_threshold", "dnn_tradeoff"]

#: Seconds a chromium run may take before the test fails.
CHROMIUM_TIMEOUT = 120

CHECK_SCRIPT = """<script>
window.addEventListener('load', function () {
  var rows = document.querySelectorAll('#summary-table tr[data-claim]');
  var ids = Array.prototype.map.call(rows, function (r) { return r.getAttribute('data-claim'); });
  var imgs = Array.prototype.map.call(document.images, function (i) {
    return {alt: i.alt, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight};
  });
  var sections = Array.prototype.map.call(document.querySelectorAll('section.claim'),
                                          function (s) { return s.getAttribute('data-claim'); });
  var out = document.createElement('pre');
  out.id = 'browser-checks';
  out.textContent = JSON.stringify({summary_ids: ids, sections: sections, images: imgs});
  document.body.appendChild(out);
});
</script>"""


def _chromium() -> str:
    return require_tool(
        ("chromium", "chromium-browser", "google-chrome"),
        "no chromium found on PATH: .ci/run installs Debian's chromium "
        "(apt-get install -y --no-install-recommends chromium)",
    )


def _page_requests(netlog: Path) -> list[str]:
    """URLs of requests started by the page (network isolation key / initiator is the file origin)."""
    text = netlog.read_text(encoding="utf-8")
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # chromium leaves the closing brackets off when it dies early
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    types = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    urls = []
    for ev in log.get("events", []):
        if types.get(ev["type"]) != "URL_REQUEST_START_JOB":
            continue
        p = ev.get("params", {})
        from_page = "file://" in p.get("network_isolation_key", "") or p.get("initiator") not in (None, "not an origin")
        if from_page and not p.get("url", "").startswith(("data:", "file:")):
            urls.append(p.get("url"))
    return urls


def _load(html_file: Path, work: Path) -> tuple[dict, list[str]]:
    """Open ``html_file`` with the checking script in headless chromium: (checks, page requests)."""
    exe = _chromium()
    page = work / f"checked-{html_file.name}"
    page.write_text(
        html_file.read_text(encoding="utf-8").replace("</body>", CHECK_SCRIPT + "</body>"), encoding="utf-8"
    )
    netlog = work / f"{html_file.stem}.netlog.json"
    profile = tempfile.mkdtemp(prefix="chromium-", dir=work)
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        f"--log-net-log={netlog}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.as_uri(),
    ]
    env = dict(os.environ, HOME=str(work))  # chromium writes caches under $HOME
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r'<pre id="browser-checks">(.*?)</pre>', proc.stdout, flags=re.S)
    assert m, f"the checking script did not run; stderr: {proc.stderr[-2000:]}"
    return json.loads(html_lib.unescape(m.group(1))), _page_requests(netlog)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("browser")
    out = d / "run"
    shutil.copytree(SAMPLE, out, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    render_report(out, formats=("html",))
    return d


@pytest.fixture(scope="module")
def loaded(work):
    return _load(work / "run" / "report.html", work)


def test_every_claim_in_summary_table(loaded):
    checks, _ = loaded
    assert checks["summary_ids"] == IDS
    assert checks["sections"] == IDS


def test_every_image_loads(loaded):
    checks, _ = loaded
    assert len(checks["images"]) == 1  # the sample has one figure (plus one reported missing)
    for img in checks["images"]:
        assert img["complete"] and img["width"] > 0 and img["height"] > 0, img


def test_no_request_leaves_the_file(loaded):
    _, requests = loaded
    assert requests == []


def test_planted_external_request_is_detected(work):
    """The net-log check is able to fail: external image and stylesheet are caught."""
    planted = work / "planted.html"
    html = (work / "run" / "report.html").read_text(encoding="utf-8")
    planted.write_text(
        html.replace(
            "</body>",
            '<img src="http://127.0.0.1:9/planted.png">'
            '<link rel="stylesheet" href="https://planted.invalid/x.css"></body>',
        ),
        encoding="utf-8",
    )
    checks, requests = _load(planted, work)
    assert sorted(requests) == ["http://127.0.0.1:9/planted.png", "https://planted.invalid/x.css"]
    assert any(img["width"] == 0 for img in checks["images"])  # the broken image is seen as broken
