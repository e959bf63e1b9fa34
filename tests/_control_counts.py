"""Binomial count bounds for tests that run a claim's controls a few times.

A control replicate's claim verdict is a Bernoulli draw; the tests below bound how many FAILs a correct
claim may give (a false FAIL has probability at most ``stats.FAIL_FAMILY_ALPHA`` per replicate) and how
few a moved truth may give (at power ``power``), each wrong with probability at most ``alpha``.
"""

from __future__ import annotations

from scipy.stats import binom

from diffapprox import Verdict, stats
from diffapprox._run.calibrate import run_controls

#: Probability that a correct claim fails one of the count checks.
TEST_ALPHA = 0.001


def most_false_fails(reps: int, alpha: float = TEST_ALPHA, rate: float = stats.FAIL_FAMILY_ALPHA) -> int:
    """Largest FAIL count allowed: P(count > most) < ``alpha`` at a false-FAIL ``rate``."""
    return int(binom.isf(alpha, reps, rate))


def least_fails(reps: int, power: float = 0.8, alpha: float = TEST_ALPHA) -> int:
    """Smallest FAIL count allowed at ``power``: P(count < least) <= ``alpha`` (at least 1)."""
    return max(int(binom.ppf(alpha, reps, power)), 1)


def control_fails(claim, profile: str, kind: str, reps: int, seed: int) -> tuple[int, dict]:
    """Run control ``kind`` ``reps`` times through the claim's own code: (claim FAIL count, rows that FAILed)."""
    run = run_controls(claim, profile, kind, reps, seed)
    assert not run.errors, run.errors
    return run.claim.count(Verdict.FAIL), {k: v for k, v in run.rows.items() if Verdict.FAIL in v}
