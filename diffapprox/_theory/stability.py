"""Exact linear stability of delayed momentum (beyond the paper).

Linearised at the optimum, the mean field of eq. (2.1) decouples into scalar modes,
each following the delayed heavy-ball recursion

    x_{k+1} = (1+mu) x_k - mu x_{k-1} - a x_{k-tau}.                                  (S.1)

**The modes.**  In the eigenbasis the mean-field map of (2.1) is
``h_{k+1} = h_k + mu (h_k - h_{k-1}) + eta G(h_{k-tau})`` with
``G(w) = Lambda w - (w^T Lambda w) w`` (``E[Y Y^T] = Lambda``).  At ``w = e_1 + e``:
``Lambda w = lambda_1 e_1 + Lambda e`` and ``w^T Lambda w = lambda_1 + 2 lambda_1 e_1 + O(e^2)``,
so ``(w^T Lambda w) w = lambda_1 e_1 + lambda_1 e + 2 lambda_1 e_1 e_1 + O(e^2)`` and

    G(e_1 + e) = sum_{i>=2} (lambda_i - lambda_1) e_i e_i  -  2 lambda_1 e_1 e_1 + O(e^2).

Hence the Jacobian of ``eta G`` at ``e_1`` is ``-diag(2 lambda_1, lambda_1 - lambda_2, ...)
eta``: the d-1 *transverse* modes ``a_i = eta (lambda_1 - lambda_i)`` (rotation towards
e_i) and the *radial* mode ``a = 2 eta lambda_1`` (the norm of h, restored by the
projection term ``-(w^T Lambda w) w``).  :func:`mean_field_jacobian` checks this by finite
differences.  The radial gain is the largest, so it binds first.

**The characteristic polynomial** of (S.1) is, with ``D = max(tau + 1, 2)``,

    z^(tau+1) - (1+mu) z^tau + mu z^(tau-1) + a = 0        (tau >= 1),
    z^2 - (1+mu-a) z + mu = 0                               (tau = 0, heavy ball),

and the mode decays iff all roots lie inside the unit circle (:func:`spectral_radius`).

**The exact boundary** (used by :func:`critical_gain` and :func:`largest_stable_delay`).
Write the equation as ``z^(tau-1) (z-1)(z-mu) = -a``.  For ``a -> 0+`` the roots are
inside (0, mu, and 1 - a/(1-mu)).  A root crosses the unit circle at ``z = e^{i theta}``
only if ``|q(theta)| = a`` and ``psi(theta) = (tau-1) theta + arg q(theta) = pi (mod 2 pi)``,
``q(theta) = (e^{i theta} - 1)(e^{i theta} - mu)``.  On ``(0, pi]``, ``|q|`` increases from 0
to ``2(1+mu)`` and ``psi = (tau - 1/2) theta + pi/2 + atan2(sin theta, cos theta - mu)``
increases from ``pi/2`` to ``(tau+1) pi``; so the first crossing, as ``a`` grows, is at the
unique ``theta_c`` in ``(0, pi]`` with ``psi = pi``, and

    stable  <=>  0 < a < a_c(mu, tau) = |q(theta_c)|.

For tau = 0 this gives ``theta_c = pi``, ``a_c = 2(1+mu)`` (the heavy-ball condition);
for mu = 0 it gives Levin-May's ``2 sin(pi/(2(2 tau+1)))``.  ``psi`` increases with tau
at fixed theta, so ``theta_c`` and ``a_c`` *decrease strictly* in tau: stability in tau is
monotone (stable up to a largest delay, unstable beyond).  Tests confirm this against
the roots and direct iteration.

**Random delays.**  The analysis is for a constant delay.  For a random delay law the
advisor uses :func:`design_delay`: the maximum of a bounded law, else the ``quantile``
(default 0.9) of the stationary staleness (geometric / worker pool).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._core.errors import DiffapproxError, check_int, check_range
from .._engine.laws import DELAY_GEOMETRIC, DELAY_WORKERS, DelayLaw, delay_law
from .._engine.problem import StreamingPCA
from .finite_step import stationary_error
from .paper import Constants

__all__ = [
    "characteristic_polynomial",
    "spectral_radius",
    "critical_gain",
    "is_stable",
    "largest_stable_delay",
    "Mode",
    "modes",
    "StabilityReport",
    "max_stable_delay",
    "max_stable_momentum",
    "mean_field_jacobian",
    "design_delay",
    "iterate_mode",
    "ADVISE_MOMENTA",
]

#: Momenta at which ``advise`` reports the finite-step stationary error (those below its largest stable one).
ADVISE_MOMENTA = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)


def _mu(mu):
    return check_range("mu", mu, 0.0, 1.0, hi_open=True)


def characteristic_polynomial(mu: float, a: float, tau: int) -> np.ndarray:
    """Coefficients (highest degree first) of the characteristic polynomial of (S.1).

    Returns
    -------
    ndarray, shape (max(tau+1, 2) + 1,)
        ``c[m]`` multiplies ``z^(D-m)``; ``c[0] = 1``, ``c[1] -= 1+mu``, ``c[2] += mu``,
        ``c[tau+1] += a`` (x_{k+1-m} <-> z^(D-m)).
    """
    mu, a = _mu(mu), check_range("a", a)
    tau = check_int("tau", tau, 0)
    D = max(tau + 1, 2)
    c = np.zeros(D + 1)
    c[0] = 1.0
    c[1] -= 1.0 + mu
    c[2] += mu
    c[tau + 1] += a
    return c


def spectral_radius(mu: float, a: float, tau: int) -> float:
    """Largest root modulus of the characteristic polynomial (numpy roots, O(tau^3)).

    The mode decays iff this is < 1.
    """
    return float(np.max(np.abs(np.roots(characteristic_polynomial(mu, a, tau)))))


def _psi(theta: float, mu: float, tau: int) -> float:
    return (tau - 0.5) * theta + 0.5 * math.pi + math.atan2(math.sin(theta), math.cos(theta) - mu)


def _qabs(theta: float, mu: float) -> float:
    c = math.cos(theta)
    return math.sqrt(max(0.0, (2.0 - 2.0 * c) * (1.0 + mu * mu - 2.0 * mu * c)))


def critical_gain(mu: float, tau: int) -> float:
    """``a_c(mu, tau)``: (S.1) is stable iff ``0 < a < a_c`` (exact; see module docstring)."""
    from scipy.optimize import brentq

    mu = _mu(mu)
    tau = check_int("tau", tau, 0)
    if tau == 0:
        return 2.0 * (1.0 + mu)
    # psi(0+) = pi/2 < pi <= psi(pi) = (tau+1) pi; psi is increasing.  Bracket near 0 at
    # theta ~ pi/(2 tau) scale so brentq is well-conditioned for large tau.
    hi = min(math.pi, 4.0 * math.pi / (2.0 * tau + 1.0))
    while _psi(hi, mu, tau) < math.pi:  # pragma: no cover - 4 pi/(2tau+1) always suffices
        hi = min(math.pi, 2.0 * hi)
    theta = brentq(
        lambda t: _psi(t, mu, tau) - math.pi, 1e-300, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500
    )
    return _qabs(theta, mu)


def is_stable(mu: float, a: float, tau: int) -> bool:
    """Whether mode (S.1) decays, by the exact boundary ``0 < a < critical_gain(mu, tau)``."""
    a = check_range("a", a)
    return 0.0 < a < critical_gain(mu, tau)


def largest_stable_delay(mu: float, a: float) -> int | None:
    """Largest ``tau`` with (S.1) stable; ``None`` if unstable even at ``tau = 0``.

    ``a_c(mu, tau)`` decreases strictly in tau, so the stable delays are ``0..tau*``;
    found by doubling then bisection on :func:`critical_gain`.
    """
    mu = _mu(mu)
    a = check_range("a", a, 0.0, lo_open=True)
    if not a < critical_gain(mu, 0):
        return None
    lo, hi = 0, 1
    while a < critical_gain(mu, hi):
        lo, hi = hi, 2 * hi
        if hi > 2**52:  # pragma: no cover - a would have to be ~1e-16
            raise DiffapproxError("a", "a gain above 1e-15", a)
    while hi - lo > 1:  # invariant: stable at lo, unstable at hi
        mid = (lo + hi) // 2
        if a < critical_gain(mu, mid):
            lo = mid
        else:
            hi = mid
    return lo


def iterate_mode(mu: float, a: float, tau: int, steps: int, x0: float = 1.0) -> np.ndarray:
    """Direct iteration of (S.1) from ``x_k = x0`` for all ``k <= 0`` (history convention of Thm 3.3).

    Returns ``x_0..x_steps`` (shape (steps+1,)).
    """
    mu, a = _mu(mu), check_range("a", a)
    tau, steps = check_int("tau", tau, 0), check_int("steps", steps, 1)
    hist = tau + 1
    x = np.full(steps + 1 + hist, float(x0))
    o = hist  # x[o + k] is x_k
    for k in range(steps):
        x[o + k + 1] = (1.0 + mu) * x[o + k] - mu * x[o + k - 1] - a * x[o + k - tau]
    return x[o:]


@dataclass(frozen=True, slots=True, kw_only=True)
class Mode:
    """A linear mode of the mean field at the optimum: ``name`` and gain ``a`` of (S.1)."""

    name: str
    a: float
    formula: str


def modes(problem: StreamingPCA, eta: float) -> list[Mode]:
    """Radial mode ``2 eta lambda_1`` and transverse modes ``eta (lambda_1 - lambda_i)``, i = 2..d.

    Names: ``radial``, ``transverse_2`` .. ``transverse_d`` (the paper's 1-based index).
    """
    if not isinstance(problem, StreamingPCA):
        raise DiffapproxError("problem", "a StreamingPCA", type(problem).__name__)
    eta = check_range("eta", eta, 0.0, lo_open=True)
    lam = problem.eigenvalues
    out = [Mode(name="radial", a=2.0 * eta * float(lam[0]), formula="2 eta lambda1")]
    for i in range(1, problem.d):
        out.append(
            Mode(name=f"transverse_{i + 1}", a=eta * float(lam[0] - lam[i]), formula=f"eta (lambda1 - lambda{i + 1})")
        )
    return out


def mean_field_jacobian(problem: StreamingPCA, eta: float, step: float = 1e-6) -> np.ndarray:
    """Finite-difference Jacobian of ``w -> eta (Lambda w - (w^T Lambda w) w)`` at ``e_1`` (d x d).

    By the derivation above it is ``-diag(2 eta lambda1, eta (lambda1-lambda2), ...)``.
    """
    lam = problem.eigenvalues
    d = problem.d

    def g(w):
        return eta * (lam * w - np.dot(lam * w, w) * w)

    e1 = np.zeros(d)
    e1[0] = 1.0
    jac = np.empty((d, d))
    for j in range(d):
        dv = np.zeros(d)
        dv[j] = step
        jac[:, j] = (g(e1 + dv) - g(e1 - dv)) / (2.0 * step)
    return jac


@dataclass(frozen=True, slots=True, kw_only=True)
class StabilityReport:
    """Largest stable constant delay per mode and overall (the minimum).

    ``None`` means unstable even without delay.
    """

    mu: float
    eta: float
    overall: int | None
    per_mode: dict = field(default_factory=dict)
    gains: dict = field(default_factory=dict)
    binding: str = ""

    def as_dict(self) -> dict:
        return {
            "overall": self.overall,
            "per_mode": dict(self.per_mode),
            "gains": dict(self.gains),
            "binding_mode": self.binding,
        }


def max_stable_delay(problem: StreamingPCA, *, mu: float, eta: float) -> StabilityReport:
    """Largest constant delay keeping every mode of the linearised mean field stable."""
    mu = _mu(mu)
    ms = modes(problem, eta)
    per = {m.name: largest_stable_delay(mu, m.a) for m in ms}
    vals = [(v if v is not None else -1, n) for n, v in per.items()]
    low, name = min(vals)
    return StabilityReport(
        mu=mu,
        eta=float(eta),
        overall=None if low < 0 else low,
        per_mode=per,
        gains={m.name: m.a for m in ms},
        binding=name,
    )


def max_stable_momentum(problem: StreamingPCA, *, eta: float, tau: int, grid: int = 2000) -> dict:
    """Largest momentum ``mu`` in [0, 1) keeping all modes stable at constant delay ``tau``.

    Stability holds iff ``max_mode a < a_c(mu, tau)``, and the radial gain ``2 eta lambda1``
    is the largest.  ``a_c`` need not be monotone in mu, so the whole grid
    ``mu = 0, 1/grid, ...`` is scanned, then the top stable-to-unstable transition is refined by
    bisection to 1e-12.

    Returns
    -------
    dict
        ``mu_max`` (float, or None if mu = 0 is already unstable), ``interval`` (True when
        every grid point below ``mu_max`` is stable), ``a`` (binding gain), ``tau``.
    """
    from scipy.optimize import brentq

    tau = check_int("tau", tau, 0)
    grid = check_int("grid", grid, 10)
    a = max(m.a for m in modes(problem, eta))
    mus = np.arange(grid) / grid
    ok = np.array([a < critical_gain(float(m), tau) for m in mus])
    if not ok.any():
        return {"mu_max": None, "interval": False, "a": a, "tau": tau}
    top = int(np.nonzero(ok)[0][-1])
    if top == grid - 1:
        # stable up to mu = 1 - 1/grid; bisect on [mu_top, 1)
        lo, hi = float(mus[top]), 1.0 - 1e-15
        if a < critical_gain(hi, tau):
            return {"mu_max": hi, "interval": bool(ok[: top + 1].all()), "a": a, "tau": tau}
    else:
        lo, hi = float(mus[top]), float(mus[top + 1])
    mu_max = brentq(lambda m: critical_gain(m, tau) - a, lo, hi, xtol=1e-13)
    return {"mu_max": float(mu_max), "interval": bool(ok[: top + 1].all()), "a": a, "tau": tau}


def design_delay(law: str | int | DelayLaw, quantile: float = 0.9) -> int:
    """The constant delay the stability analysis uses for a delay law.

    Constant law: its value.  Bounded law: its maximum.  Unbounded law (geometric,
    worker pool): the smallest ``c`` with ``P(tau <= c) >= quantile`` under the
    stationary staleness (``geometric: q^(c+1)`` tail; ``workers``: the mixture
    ``sum_m w_m (1 - w_m)^(c+1)``).
    """
    law = delay_law(law)
    quantile = check_range("quantile", quantile, 0.0, 1.0, lo_open=True, hi_open=True)
    if law.max is not None:
        return int(law.max)
    if law.code == DELAY_GEOMETRIC:
        q = 1.0 - float(law.params[0])

        def tail(c):
            return q ** (c + 1)
    elif law.code == DELAY_WORKERS:
        w = law.params / law.params.sum()

        def tail(c):
            return float(np.sum(w * (1.0 - w) ** (c + 1)))
    else:  # pragma: no cover - every unbounded law is geometric or workers
        raise DiffapproxError("delay", "a bounded, geometric or workers law", law.spec)
    c = 0
    while tail(c) > 1.0 - quantile:
        c += 1
    return c


# ----------------------------------------------------------------------------- momentum advisor


def advise(
    problem: StreamingPCA,
    *,
    eta: float,
    workers: int,
    gamma: float = 0.0,
    delay: str | int | DelayLaw | None = None,
    quantile: float = 0.9,
) -> dict:
    """Largest momentum for ``workers`` asynchronous workers, by stability and by the paper.

    The delay is ``tau = workers - 1`` (each of M workers computes on an iterate that is
    about M-1 updates old) unless ``delay`` gives a law, in which case
    :func:`design_delay` (maximum, or the ``quantile`` of an unbounded law) is used.

    (a) *Linear stability* (exact, beyond the paper): the largest mu in [0, 1) with every
        mode of (S.1) stable at delay tau (:func:`max_stable_momentum`).
    (b) *The paper's thresholds*, solved for mu with constants 1:
        SDE regime (Thm 3.5, Remark 3.11) ``tau <= (1-mu)^2/((lambda1 + C_d) eta^(1/2-gamma))``
        <=> ``mu <= 1 - sqrt(tau (lambda1 + C_d) eta^(1/2-gamma))``;
        ODE regime (Thm 3.3) ``tau <= (1-mu)^2/(lambda1 eta^(1-gamma))``
        <=> ``mu <= 1 - sqrt(tau lambda1 eta^(1-gamma))``.
        ``gamma = 0`` (default) is the supremum over the paper's ranges (0, 1/2] and (0, 1]
        for eta < 1, i.e. the most permissive reading.  ``None`` when no mu in [0, 1)
        satisfies the condition (or C_d is infinite, for the SDE one); 1.0 (tau = 0) means
        every mu in [0, 1).

    (c) *The stationary error* ``E[1 - h_1^2/||h||^2]`` near the optimum of the OU limit (3.3), the
        linear and the finite-step models (:func:`~diffapprox.finite_step_prediction`, beyond the
        paper) at the delay law ``delay`` (``const:tau`` without one), at the momenta of (b) and at
        the momenta of :data:`ADVISE_MOMENTA` below (a)'s (at (a)'s own momentum, on the stability
        boundary, it diverges).

    Returns
    -------
    dict
        JSON-ready: ``tau``, ``delay_rule``, ``stability`` {``mu_max``, ``interval``, ``binding_gain``,
        ``formula``}, ``paper`` {``sde``, ``ode``: {``mu_max``, ``formula``}}, ``stationary_error``
        {``delay``, ``definition``, ``at`` {``paper_sde``, ``paper_ode``: {``mu``, ``ou``, ``linear``,
        ``finite_step``, ``note``} or None}, ``grid`` [{``mu``, ...}]}.
    """
    eta = check_range("eta", eta, 0.0, lo_open=True)
    workers = check_int("workers", workers, 1)
    gamma = check_range("gamma", gamma, 0.0, 0.5)
    # checked even when unused (no --delay, or a bounded law): a bad value is a user error either way
    quantile = check_range("quantile", quantile, 0.0, 1.0, lo_open=True, hi_open=True)
    if delay is None:
        tau, rule = workers - 1, f"tau = workers - 1 = {workers - 1} (constant)"
        law = delay_law(tau)
    else:
        law = delay_law(delay)
        tau = design_delay(law, quantile)
        rule = (
            f"tau = {tau}: "
            + (
                "the value of the constant law"
                if law.kind == "const"
                else "the maximum of the bounded law"
                if law.max is not None
                else f"the {quantile:g}-quantile of the stationary staleness"
            )
            + f" ({law.spec})"
        )
    c = Constants.of(problem)
    stab = max_stable_momentum(problem, eta=eta, tau=tau)

    def solve(k: float) -> float | None:
        if not math.isfinite(k):
            return None
        m = 1.0 - math.sqrt(tau * k)
        return m if m >= 0.0 else None

    sde = solve((c.lambda1 + c.C_d) * eta ** (0.5 - gamma))
    ode = solve(c.lambda1 * eta ** (1.0 - gamma))
    out = {
        "tau": tau,
        "delay_rule": rule,
        "eta": eta,
        "gamma": gamma,
        "stability": {
            "mu_max": stab["mu_max"],
            "interval": stab["interval"],
            "binding_gain": stab["a"],
            "formula": (
                "largest mu with 2 eta lambda1 < a_c(mu, tau), a_c the exact stability boundary of "
                "x_{k+1} = (1+mu) x_k - mu x_{k-1} - a x_{k-tau} (radial mode binds)"
            ),
        },
        "paper": {
            "sde": {
                "mu_max": sde,
                "formula": "mu <= 1 - sqrt(tau (lambda1 + C_d) eta^(1/2-gamma))  (Thm 3.5, Remark 3.11)",
                "note": None if math.isfinite(c.C_d) else "C_d infinite (unbounded data): no delay is covered",
            },
            "ode": {"mu_max": ode, "formula": "mu <= 1 - sqrt(tau lambda1 eta^(1-gamma))  (Thm 3.3)"},
        },
        "stationary_error": _advise_errors(problem, eta, law, stab["mu_max"], {"paper_sde": sde, "paper_ode": ode}),
    }
    return out


def _advise_errors(problem: StreamingPCA, eta: float, law: DelayLaw, mu_max: float | None, at: dict) -> dict:
    """(c) of :func:`advise`: the stationary errors at the reported momenta and on :data:`ADVISE_MOMENTA`."""

    def one(mu):
        if mu is None or not 0.0 <= mu < 1.0:
            return None
        return {"mu": mu, **stationary_error(problem, mu=mu, eta=eta, delay=law)}

    grid = [m for m in ADVISE_MOMENTA if mu_max is not None and m < mu_max]
    return {
        "delay": law.spec,
        "definition": "E[1 - h_1^2/||h||^2] near the optimum: eta sum_{i>=2} E[h_i^2]/eta / E||h||^2 of the OU "
        "limit (3.3), the linear and the finite-step model of eq. (2.1) at this delay law (null where the model "
        "is not stable or breaks down)",
        "at": {name: one(mu) for name, mu in at.items()},
        "grid": [one(m) for m in grid],
    }
