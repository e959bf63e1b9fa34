"""Reports rendered from ``results.json`` alone: one self-contained HTML file and a PDF.

Layer 7: reads ``results.json`` and the figures beside it; never runs a claim.
"""

from ._render import HTML_NAME as HTML_NAME
from ._render import PDF_NAME as PDF_NAME
from ._render import SCHEMA as SCHEMA
from ._render import load_results as load_results
from ._render import render_html as render_html
from ._render import render_pdf as render_pdf
from ._render import render_report as render_report
from ._render import validate_results as validate_results

__all__ = [
    "SCHEMA",
    "HTML_NAME",
    "PDF_NAME",
    "load_results",
    "validate_results",
    "render_report",
    "render_html",
    "render_pdf",
]
