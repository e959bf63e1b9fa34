"""Synthetic controls: a claim's ``measure`` step run on cell summaries whose truth is known.

For each replicate ``r`` and kind (``null``, ``alternative``, ``limit``), the claim draws cell
summaries at its own sizes (:meth:`~diffapprox.Claim.synthetic`) from a generator seeded by
``derive_seed(seed, claim id, kind, r)``, and :meth:`~diffapprox.Claim.measure` judges them.  The
rates of FAIL / INCONCLUSIVE / PASS / ERROR over the replicates, for the claim's verdict and for
each judged row, say whether the verdicts can be trusted: under the null a claim should rarely
FAIL, under the alternative it should FAIL (``diffapprox.stats.NULL_FAIL_TARGET``,
``POWER_TARGET``).  Samples of the limit itself are a finding about the paper, not a target.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .._core.results import Verdict, combine_verdicts
from .._core.seeds import derive_seed
from .. import stats
from .claims import CONTROL_KINDS, Claim

__all__ = ["Rates", "ControlRun", "run_controls"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rates:
    """Verdict counts over replicates, with the Wilson CI of the FAIL rate."""

    fail: int
    inconclusive: int
    passed: int
    error: int
    reps: int
    fail_ci: tuple[float, float]

    @classmethod
    def of(cls, verdicts: list[Verdict], level: float = 0.95) -> Rates:
        c = Counter(Verdict(v) for v in verdicts)
        n = len(verdicts)
        ci = stats.proportion_ci(c[Verdict.FAIL], n, level).ci if n else (float("nan"), float("nan"))
        return cls(
            fail=c[Verdict.FAIL],
            inconclusive=c[Verdict.INCONCLUSIVE],
            passed=c[Verdict.PASS],
            error=c[Verdict.ERROR],
            reps=n,
            fail_ci=(float(ci[0]), float(ci[1])),
        )

    def to_json(self) -> dict:
        n = max(self.reps, 1)
        return {
            "fail": self.fail / n,
            "inconclusive": self.inconclusive / n,
            "pass": self.passed / n,
            "error": self.error / n,
            "reps": self.reps,
            "fail_ci": list(self.fail_ci),
        }


@dataclass(slots=True, kw_only=True)
class ControlRun:
    """Claim-level and per-row verdicts of one kind of control over ``reps`` replicates."""

    kind: str
    claim: list[Verdict] = field(default_factory=list)
    rows: dict[str, list[Verdict]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _one(claim: Claim, profile: str, kind: str, seed: int, r: int) -> tuple[Verdict, dict[str, Verdict], str | None]:
    rng = np.random.default_rng(derive_seed(seed, claim.id, kind, r))
    try:
        results = claim.synthetic(profile, kind, rng)
        if results is None:
            return None, {}, None
        ms = claim.measure(profile, derive_seed(seed, claim.id, kind, r, "measure"), results, claim.predict(profile))
    except Exception as exc:  # noqa: BLE001 - a control that breaks is counted as ERROR, with its message
        return Verdict.ERROR, {}, f"{type(exc).__name__}: {exc}"
    judged = [m for m in ms if m.judged]
    return combine_verdicts([m.verdict for m in judged]), {m.name: m.verdict for m in judged}, None


def run_controls(claim: Claim, profile: str, kind: str, reps: int, seed: int) -> ControlRun | None:
    """Push ``reps`` replicates of the ``kind`` control through ``claim.measure``; ``None`` if it has none."""
    if kind not in CONTROL_KINDS:
        raise ValueError(f"kind: expected one of {CONTROL_KINDS}, found {kind!r}")
    run = ControlRun(kind=kind)
    for r in range(reps):
        v, rows, err = _one(claim, profile, kind, seed, r)
        if v is None:
            return None
        run.claim.append(v)
        for name, rv in rows.items():
            run.rows.setdefault(name, []).append(rv)
        if err is not None:
            run.errors.append(err)
    return run
