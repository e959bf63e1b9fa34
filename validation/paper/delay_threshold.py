"""Claim ``delay-threshold``: deprecated alias of ``delay-scaling``, kept for one version.

On 2026-12-06 the claim was split in two: ``delay-sufficiency`` (Theorem 3.3: tau* at least the
sufficient delay) and ``delay-scaling`` (Remark 3.11 and the introduction: the exponents of tau*'s
shape).  The id ``delay-threshold`` stays registered for one version so that users' scripts naming it
keep running; it runs exactly as ``delay-scaling`` (same cells, same rows, same history).
"""

from __future__ import annotations

from .delay_scaling import DelayScaling


class DelayThreshold(DelayScaling):
    id = "delay-threshold"
    order = 32
    statement = (
        "Deprecated alias of delay-scaling (kept for one version; see also delay-sufficiency): "
        + DelayScaling.statement
    )
    #: Its controls are delay-scaling's (same cells, rows and code): calibrating both would spend the budget twice.
    uncalibrated = "deprecated alias of delay-scaling: its calibration is delay-scaling's"
