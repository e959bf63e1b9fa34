"""The paper's closed-form predictions: T1, T2, T3, N1-N3, N3-hat/tilde, Lemma 3.1, delay thresholds.

Every function takes either a :class:`~diffapprox.StreamingPCA` or a plain
:class:`Constants` (the numbers the formulas use), plus scalars.  Each formula is
written *exactly as printed*, with every ``asymp``/``lesssim`` constant taken to be 1.

Where the paper prints a formula twice, both versions are implemented and keyed by
where they stand, ``version="main"`` (Sections 3-4) or ``version="appendix"``:

* T1: Prop. 3.10 has ``Phi^-1((1+nu/2)/2)``, A.9 has ``Phi^-1((1+nu)/2)`` (see
  :class:`~diffapprox.limits.EscapeTime`: the (1-nu/2)- vs the (1-nu)-quantile of the
  predicted escape time).
* T3: Prop. 3.6 has ``log(8 (1-mu) g delta^2 / ((1-mu) g eps - 4 eta phi))``, A.6 has
  ``log((1-mu) g delta^2 / ((1-mu) g eps - 2 eta phi))`` (g = lambda_1 - lambda_2).
  The derivation in A.6 (Markov bound <= 1/4 on
  ``(eta/eps)(phi/(2(1-mu)g) + delta^2/eta e^{-2gT/(1-mu)})``) actually solves to
  ``log(4 (1-mu) g delta^2 / ((1-mu) g eps - 2 eta phi))``: neither printed version.

When a log argument is <= 0 (or a quantity is infinite, e.g. C_d for unbounded data)
the formula is undefined: the function returns ``nan`` and :func:`why_undefined`
(or the ``notes`` of :func:`theory`) says why; nothing raises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


from .._core.errors import DiffapproxError, check_int, check_range
from .._engine.problem import StreamingPCA

__all__ = [
    "Constants",
    "T1",
    "T2",
    "T3",
    "N1",
    "N2",
    "N3",
    "N3_hat",
    "N3_tilde",
    "lemma31_norm_bound",
    "lemma31_step_bound",
    "tau_threshold_ode",
    "tau_threshold_sde",
    "why_undefined",
    "VERSIONS",
]

#: The places a twice-printed formula stands.
VERSIONS = ("main", "appendix")


@dataclass(frozen=True, slots=True, kw_only=True)
class Constants:
    """The problem constants the paper's formulas use (plain numbers).

    Attributes
    ----------
    lambda1, lambda2 : float
        Top two eigenvalues (Assumption 1), ``lambda1 > lambda2``.
    alpha12 : float
        ``alpha_12 = sqrt(E[Y_1^2 Y_2^2])`` (Theorem 3.5).
    phi : float
        ``sum_j alpha_1j^2`` (after Theorem 3.5).
    C_d : float
        ``sup ||X||`` (Assumption 2); ``inf`` when the data are unbounded.
    """

    lambda1: float
    lambda2: float
    alpha12: float
    phi: float
    C_d: float = math.inf

    def __post_init__(self) -> None:
        l1 = check_range("lambda1", self.lambda1, 0.0, lo_open=True)
        l2 = check_range("lambda2", self.lambda2, 0.0, lo_open=True)
        if not l1 > l2:
            raise DiffapproxError("lambda2", f"a number below lambda1={l1:g} (eigen-gap)", self.lambda2)
        check_range("alpha12", self.alpha12, 0.0, lo_open=True)
        check_range("phi", self.phi, 0.0, lo_open=True)
        c = float(self.C_d)
        if not (c > 0):
            raise DiffapproxError("C_d", "a positive number or inf", self.C_d)

    @property
    def gap(self) -> float:
        return self.lambda1 - self.lambda2

    @classmethod
    def of(cls, problem: "StreamingPCA | Constants") -> "Constants":
        """The constants of a problem (``C_d = inf`` when unbounded)."""
        if isinstance(problem, Constants):
            return problem
        if not isinstance(problem, StreamingPCA):
            raise DiffapproxError("problem", "a StreamingPCA or Constants", type(problem).__name__)
        lam = problem.eigenvalues
        cd = problem.C_d
        return cls(
            lambda1=float(lam[0]),
            lambda2=float(lam[1]),
            alpha12=float(problem.alpha[0, 1]),
            phi=problem.phi,
            C_d=math.inf if cd is None else float(cd),
        )


def _mu(mu):
    return check_range("mu", mu, 0.0, 1.0, hi_open=True)


def _pos(name, x):
    return check_range(name, x, 0.0, lo_open=True)


def _unit(name, x):
    return check_range(name, x, 0.0, 1.0, lo_open=True, hi_open=True)


def _version(v):
    if v not in VERSIONS:
        raise DiffapproxError("version", "main or appendix", v)
    return v


def _log(arg: float) -> float:
    return math.log(arg) if arg > 0 and math.isfinite(arg) else math.nan


def _phi_inv(p: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(p))


# ----------------------------------------------------------------------------- log arguments


def _t1_arg(c: Constants, mu, eta, delta, nu, version) -> float:
    z = _phi_inv((1.0 + nu / 2.0) / 2.0) if version == "main" else _phi_inv((1.0 + nu) / 2.0)
    return 2.0 * (1.0 - mu) * delta**2 * c.gap / (eta * z**2 * c.alpha12**2) + 1.0


def _t3_arg(c: Constants, mu, eta, delta, epsilon, version) -> tuple[float, float]:
    """(numerator, denominator) of T3's log argument."""
    g = c.gap
    if version == "main":
        return 8.0 * (1.0 - mu) * g * delta**2, (1.0 - mu) * g * epsilon - 4.0 * eta * c.phi
    return (1.0 - mu) * g * delta**2, (1.0 - mu) * g * epsilon - 2.0 * eta * c.phi


# ----------------------------------------------------------------------------- times


def T1(problem, *, mu: float, eta: float, delta: float, nu: float, version: str = "main") -> float:
    """Escape time from the saddle e_2, Prop. 3.10 (``main``) / A.9 (``appendix``).

    ``T1 = (1-mu)/(2 g) log(2 (1-mu) delta^2 g / (eta z^2 alpha_12^2) + 1)`` with
    ``g = lambda_1 - lambda_2`` and ``z = Phi^-1((1+nu/2)/2)`` (main) or
    ``Phi^-1((1+nu)/2)`` (appendix).  The argument is > 1, so T1 is always defined.
    """
    c = Constants.of(problem)
    mu, eta, delta, nu, version = _mu(mu), _pos("eta", eta), _unit("delta", delta), _unit("nu", nu), _version(version)
    return (1.0 - mu) / (2.0 * c.gap) * _log(_t1_arg(c, mu, eta, delta, nu, version))


def T2(problem, *, mu: float, delta: float) -> float:
    """Traverse time, Prop. 3.8 (= A.7): ``(1-mu)/(2 g) log((1-delta^2)/delta^2)``.

    Always defined for ``delta`` in (0, 1); it is <= 0 when ``delta^2 >= 1/2`` (returned as is).
    """
    c = Constants.of(problem)
    mu, delta = _mu(mu), _unit("delta", delta)
    return (1.0 - mu) / (2.0 * c.gap) * _log((1.0 - delta**2) / delta**2)


def T3(problem, *, mu: float, eta: float, delta: float, epsilon: float, version: str = "main") -> float:
    """Convergence time near the optimum, Prop. 3.6 (``main``) / A.6 (``appendix``).

    main:     ``(1-mu)/(2 g) log(8 (1-mu) g delta^2 / ((1-mu) g eps - 4 eta phi))``
    appendix: ``(1-mu)/(2 g) log(  (1-mu) g delta^2 / ((1-mu) g eps - 2 eta phi))``

    ``nan`` when the denominator is <= 0, i.e. ``eta >= (1-mu) g eps/(4 phi)`` (main) or
    ``/(2 phi)`` (appendix).  Note Prop. 3.6's own step size ``eta = (1-mu) eps g/phi``
    (constant 1) always lies there.
    """
    c = Constants.of(problem)
    mu, eta, delta, epsilon, version = (
        _mu(mu),
        _pos("eta", eta),
        _unit("delta", delta),
        _pos("epsilon", epsilon),
        _version(version),
    )
    num, den = _t3_arg(c, mu, eta, delta, epsilon, version)
    return (1.0 - mu) / (2.0 * c.gap) * (_log(num / den) if den > 0 else math.nan)


# ----------------------------------------------------------------------------- iteration complexities


def _gamma(gamma, hi):
    return check_range("gamma", gamma, 0.0, hi, lo_open=True)


def N1(problem, *, mu: float, eta: float, delta: float, nu: float, epsilon: float, gamma: float) -> float:
    """Effective iterations to escape (after Prop. 3.10), as printed:

    ``(lambda1 + C_d) phi^(1/2+gamma) / (2 (1-mu) g^(3/2+gamma) eps^(1/2+gamma)) * log(<T1 main argument>)``.

    Equals ``T1_main/(eta tau)`` with ``tau`` the SDE threshold and ``eta = eps g/phi``.
    ``nan`` for unbounded data (``C_d = inf``).
    """
    c = Constants.of(problem)
    mu, eta, delta, nu, epsilon, gamma = (
        _mu(mu),
        _pos("eta", eta),
        _unit("delta", delta),
        _unit("nu", nu),
        _pos("epsilon", epsilon),
        _gamma(gamma, 0.5),
    )
    e = 0.5 + gamma
    pre = (c.lambda1 + c.C_d) * c.phi**e / (2.0 * (1.0 - mu) * c.gap ** (1.0 + e) * epsilon**e)
    return pre * _log(_t1_arg(c, mu, eta, delta, nu, "main")) if math.isfinite(pre) else math.nan


def N2(problem, *, mu: float, delta: float, epsilon: float, gamma: float) -> float:
    """Effective iterations to traverse (after Prop. 3.8), as printed:

    ``lambda1 phi^gamma / (2 (1-mu) g^(1+gamma) eps^gamma) * log((1-delta^2)/delta^2)``
    (``= T2/(eta tau)`` with the ODE threshold, ``eta = eps g/phi``).
    """
    c = Constants.of(problem)
    mu, delta, epsilon, gamma = _mu(mu), _unit("delta", delta), _pos("epsilon", epsilon), _gamma(gamma, 1.0)
    pre = c.lambda1 * c.phi**gamma / (2.0 * (1.0 - mu) * c.gap ** (1.0 + gamma) * epsilon**gamma)
    return pre * _log((1.0 - delta**2) / delta**2)


def N3(problem, *, mu: float, eta: float, delta: float, epsilon: float, gamma: float) -> float:
    """Effective iterations to converge (after Prop. 3.6), as printed:

    ``(lambda1 + C_d) phi^(1/2+gamma) / ([(1-mu) g]^(3/2+gamma) eps^(1/2+gamma)) * log(<T3 main argument>)``.

    ``T3_main/(eta tau)`` with ``eta = (1-mu) eps g/phi`` gives the same with an extra
    factor 1/2; the printed form (no 1/2) is returned.  ``nan`` when the log argument
    is <= 0 or ``C_d = inf``.
    """
    c = Constants.of(problem)
    mu, eta, delta, epsilon, gamma = (
        _mu(mu),
        _pos("eta", eta),
        _unit("delta", delta),
        _pos("epsilon", epsilon),
        _gamma(gamma, 0.5),
    )
    e = 0.5 + gamma
    pre = (c.lambda1 + c.C_d) * c.phi**e / (((1.0 - mu) * c.gap) ** (1.0 + e) * epsilon**e)
    num, den = _t3_arg(c, mu, eta, delta, epsilon, "main")
    lg = _log(num / den) if den > 0 else math.nan
    return pre * lg if math.isfinite(pre) else math.nan


def N3_hat(problem, *, eta0: float, delta: float, epsilon: float, gamma: float) -> float:
    """Async-SGD (mu = 0) effective iterations, Remark 3.7, as printed:

    ``(lambda1 + C_d) phi^(1/2+gamma) / (g^(3/2+gamma) eps^(1/2+gamma)) * log(8 g delta^2/(g eps - 4 eta0 phi))``.

    ``eta0`` is the step size in the log (Prop. 3.6 defines ``eta0 = eps g/phi``, with
    which the argument is ``-8 delta^2/(3 eps) < 0``: pass the step size actually used).
    """
    c = Constants.of(problem)
    eta0, delta, epsilon, gamma = (
        _pos("eta0", eta0),
        _unit("delta", delta),
        _pos("epsilon", epsilon),
        _gamma(gamma, 0.5),
    )
    e = 0.5 + gamma
    pre = (c.lambda1 + c.C_d) * c.phi**e / (c.gap ** (1.0 + e) * epsilon**e)
    den = c.gap * epsilon - 4.0 * eta0 * c.phi
    lg = _log(8.0 * c.gap * delta**2 / den) if den > 0 else math.nan
    return pre * lg if math.isfinite(pre) else math.nan


def N3_tilde(problem, *, eta0: float, delta: float, epsilon: float) -> float:
    """MSGD effective iterations (Liu et al. 2018) quoted in Remark 3.7, as printed:

    ``phi / (eps g^2) * log(8 g delta^2/(g eps - 4 eta0 phi))``.
    """
    c = Constants.of(problem)
    eta0, delta, epsilon = _pos("eta0", eta0), _unit("delta", delta), _pos("epsilon", epsilon)
    den = c.gap * epsilon - 4.0 * eta0 * c.phi
    lg = _log(8.0 * c.gap * delta**2 / den) if den > 0 else math.nan
    return c.phi / (epsilon * c.gap**2) * lg


# ----------------------------------------------------------------------------- Lemma 3.1, thresholds


def lemma31_norm_bound(*, mu: float, eta: float, tau_max: int) -> float:
    """Lemma 3.1 with constants 1: ``||v_k||^2 <= 1 + tau_max eta/(1-mu)^2 + eta/(1-mu)^3``."""
    mu, eta = _mu(mu), _pos("eta", eta)
    tau_max = check_int("tau_max", tau_max, 0)
    return 1.0 + tau_max * eta / (1.0 - mu) ** 2 + eta / (1.0 - mu) ** 3


def lemma31_step_bound(problem, *, mu: float, eta: float) -> float:
    """Lemma 3.1: ``||v_{k+1} - v_k|| <= 2 C_d eta/(1-mu)`` (``inf`` for unbounded data)."""
    c = Constants.of(problem)
    mu, eta = _mu(mu), _pos("eta", eta)
    return 2.0 * c.C_d * eta / (1.0 - mu)


def tau_threshold_ode(problem, *, mu: float, eta: float, gamma: float) -> float:
    """ODE-regime delay threshold, Theorem 3.3 (and (4.1) for E[tau_k]): ``(1-mu)^2/(lambda1 eta^(1-gamma))``.

    ``gamma`` in [0, 1]; the paper's range is (0, 1].  For ``eta < 1`` the threshold
    decreases in gamma, so ``gamma = 0`` gives its supremum over the paper's range
    (approached, not attained).
    """
    c = Constants.of(problem)
    mu, eta, gamma = _mu(mu), _pos("eta", eta), check_range("gamma", gamma, 0.0, 1.0)
    return (1.0 - mu) ** 2 / (c.lambda1 * eta ** (1.0 - gamma))


def tau_threshold_sde(problem, *, mu: float, eta: float, gamma: float) -> float:
    """SDE-regime delay threshold, Lemma 3.4, Theorems 3.5/3.9, Remark 3.11:

    ``(1-mu)^2 / ((lambda1 + C_d) eta^(1/2-gamma))``, ``gamma`` in [0, 1/2] (paper: (0, 1/2];
    ``gamma = 0`` is the supremum over that range for ``eta < 1``, the ``(1-mu)^2/sqrt(eta)``
    of the introduction).
    ``nan`` for unbounded data (Assumption 2 fails, ``C_d = inf``).
    """
    c = Constants.of(problem)
    mu, eta, gamma = _mu(mu), _pos("eta", eta), check_range("gamma", gamma, 0.0, 0.5)
    if not math.isfinite(c.C_d):
        return math.nan
    return (1.0 - mu) ** 2 / ((c.lambda1 + c.C_d) * eta ** (0.5 - gamma))


# ----------------------------------------------------------------------------- explanations


def why_undefined(name: str, problem, **kw) -> str | None:
    """Why formula ``name`` (e.g. ``"T3"``) is ``nan`` at these arguments, or ``None`` if defined.

    ``kw`` are the formula's keyword arguments (``version`` included where it has one).
    """
    c = Constants.of(problem)
    unb = "C_d is infinite (unbounded data: Assumption 2 fails)"
    if name in ("N1", "N3", "N3_hat", "tau_threshold_sde") and not math.isfinite(c.C_d):
        return unb
    if name in ("T3", "N3"):
        num, den = _t3_arg(c, kw["mu"], kw["eta"], kw["delta"], kw["epsilon"], kw.get("version", "main"))
        if den <= 0:
            k = 4 if kw.get("version", "main") == "main" else 2
            return (
                f"log argument <= 0: (1-mu)(lambda1-lambda2) eps - {k} eta phi = {den:.6g} <= 0; "
                f"needs eta < (1-mu)(lambda1-lambda2) eps/({k} phi) = {(1 - kw['mu']) * c.gap * kw['epsilon'] / (k * c.phi):.6g}"
            )
    if name in ("N3_hat", "N3_tilde"):
        den = c.gap * kw["epsilon"] - 4.0 * kw["eta0"] * c.phi
        if den <= 0:
            return (
                f"log argument <= 0: (lambda1-lambda2) eps - 4 eta0 phi = {den:.6g} <= 0; "
                f"needs eta0 < (lambda1-lambda2) eps/(4 phi) = {c.gap * kw['epsilon'] / (4 * c.phi):.6g}"
            )
    if name in ("T2", "N2"):
        d2 = kw["delta"] ** 2
        if (1 - d2) / d2 <= 0:  # pragma: no cover - delta < 1 is validated
            return "log argument <= 0"
    return None


# ----------------------------------------------------------------------------- everything for one problem
