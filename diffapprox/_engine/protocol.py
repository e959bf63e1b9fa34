"""Bring your own algorithm: problems, algorithms and the algorithm registry.

A *problem* says what a stochastic gradient is; an *algorithm* says how iterates use it.
Every algorithm here is one recursion, run by the generic kernel
(:mod:`diffapprox._engine.generic`)::

    w_k     = x_{k - tau_k}                                  (tau_k = 0 unless asynchronous)
    G_k     = g(w_k, xi_k)                                   (plain)
    G_k     = c1 g(w_k, xi_k) + c2 g(w_k, xi'_k)             (SVAG(l), c_{1,2} = (1 +- sqrt(2l - 1))/2)
    x_{k+1} = x_k + mu (x_k - x_{k-1}) - (eta / l) G_k       (x_{-i} = x_0, so no initial momentum)

SGD is ``mu = 0, tau = 0``; heavy-ball momentum is ``tau = 0``; Async-MSGD (paper eq. 2.1, written
for a descent direction) takes any delay law of :func:`~diffapprox.simulate`.  SVAG(l) (Li, Malladi
and Arora, NeurIPS 2021, eq. 4) runs ``l`` times the steps at step ``eta / l``; ``l = 1`` is the
plain algorithm, bit for bit (the second draw ``xi'`` has its own per-path stream and is not drawn).

A user's problem gives, as numba functions (``numba.njit``; compiled here to the signatures below):

* ``grad(x, xi, par, out)``: writes the stochastic gradient ``g(x, xi)`` (d,) into ``out``;
* ``noise(state, par, xi)``: writes one draw of ``xi`` (noise_dim,) into ``xi``, taking its random
  numbers from ``state``, the engine's per-path xoshiro256+ stream, with :func:`stream_normal`,
  :func:`stream_uniform`, :func:`stream_sign` (never numba's global ``np.random``): path ``i``'s
  numbers then depend only on ``(seed, i)``, whatever the threads or the chunking of paths;
* ``par``: a float64 vector of the problem's constants, passed to both.

What is known in closed form is stated beside: the mean gradient and its Hessian (numba, used by
the SDE scheme of :mod:`diffapprox.limits`), ``Sigma(x)`` (the covariance of ``g(x, xi)``), test
functions ``phi`` and, for a gradient ``H (x - c) + S xi``, the :class:`LinearModel` whose SME and
whose recursion have exact laws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from numba import njit, types

from .._core.errors import DiffapproxError, check_int, check_range
from . import rng as _rng
from .laws import DelayLaw, delay_law

__all__ = [
    "GRAD_SIGNATURE",
    "NOISE_SIGNATURE",
    "DRIFT_SIGNATURE",
    "HESSIAN_SIGNATURE",
    "stream_normal",
    "stream_uniform",
    "stream_sign",
    "TestFunction",
    "LinearModel",
    "Problem",
    "Algorithm",
    "ALGORITHMS",
    "algorithm",
    "sgd",
    "heavy_ball",
    "async_msgd",
    "svag",
    "NOISE_LAWS",
]

_VEC = types.float64[::1]
#: ``grad(x, xi, par, out)``: the stochastic gradient g(x, xi) written into ``out`` (d,).
GRAD_SIGNATURE = types.void(_VEC, _VEC, _VEC, _VEC)
#: ``noise(state, par, xi)``: one draw of xi (noise_dim,) from the per-path stream ``state`` (4,) uint64.
NOISE_SIGNATURE = types.void(types.uint64[::1], _VEC, _VEC)
#: ``mean_grad(x, par, out)``: the mean gradient grad f(x) written into ``out`` (d,).
DRIFT_SIGNATURE = types.void(_VEC, _VEC, _VEC)
#: ``hessian(x, par, out)``: the Hessian of f at x written into ``out`` (d, d).
HESSIAN_SIGNATURE = types.void(_VEC, _VEC, types.float64[:, ::1])

#: Laws of a :class:`LinearModel`'s noise coordinates: iid, mean 0, variance 1.
NOISE_LAWS = ("gaussian", "rademacher")


# ----------------------------------------------------------------------------- streams for samplers
@njit(cache=True, inline="always")
def stream_normal(state):
    """One standard normal from a per-path stream ``state`` ((4,) uint64, updated in place).

    The 256-layer ziggurat of :mod:`diffapprox._engine.rng` (the normals of the streaming-PCA kernel).
    """
    x, a, b, c, e = _rng._zig(state[0], state[1], state[2], state[3])
    state[0] = a
    state[1] = b
    state[2] = c
    state[3] = e
    return x


@njit(cache=True, inline="always")
def stream_uniform(state):
    """One uniform double in [0, 1) from a per-path stream ``state`` (top 53 bits of one output)."""
    r, a, b, c, e = _rng._next(state[0], state[1], state[2], state[3])
    state[0] = a
    state[1] = b
    state[2] = c
    state[3] = e
    return _rng._u01(r)


@njit(cache=True, inline="always")
def stream_sign(state):
    """One fair sign +-1.0 from a per-path stream ``state`` (the top bit of one output)."""
    r, a, b, c, e = _rng._next(state[0], state[1], state[2], state[3])
    state[0] = a
    state[1] = b
    state[2] = c
    state[3] = e
    return 1.0 - 2.0 * np.float64(np.int64(r >> np.uint64(63)))


# ----------------------------------------------------------------------------- test functions
@dataclass(frozen=True, slots=True, kw_only=True)
class TestFunction:
    """A test function ``phi`` of the weak error, with what is known about it.

    Attributes
    ----------
    name : str
        Used in measurement names (``phi=<name>``).
    f : callable
        ``x (..., d) -> (...)``, vectorised NumPy.
    gradient, hessian : callable or None
        ``x (..., d) -> (..., d)`` and ``(..., d, d)``: the Taylor terms of a control variate.
    gaussian_mean : callable or None
        ``(m (..., d), C (..., d, d)) -> E phi(X)`` for ``X ~ N(m, C)``, in closed form.
    degree : int or None
        Polynomial degree (``None``: not a polynomial).
    form : tuple or None
        ``("quadratic", Q, b, c)`` or ``("cosine", u)`` when phi is one of those closed forms (the
        exact laws of linear recursions use it).
    description : str
    """

    __test__ = False  # not a pytest class

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    gradient: Callable | None = None
    hessian: Callable | None = None
    gaussian_mean: Callable | None = None
    degree: int | None = None
    form: tuple | None = None
    description: str = ""


def quadratic_test_function(name: str, Q, b=None, c: float = 0.0, description: str = "") -> TestFunction:
    """``phi(x) = 1/2 x^T Q x + b.x + c`` (Q symmetric), with ``E phi = phi(m) + 1/2 tr(Q C)`` under N(m, C)."""
    Q = np.array(Q, dtype=float)
    Q = 0.5 * (Q + Q.T)
    b = np.zeros(Q.shape[0]) if b is None else np.asarray(b, dtype=float)

    def f(x):
        return 0.5 * np.einsum("...i,ij,...j->...", x, Q, x) + x @ b + c

    def grad(x):
        return x @ Q + b

    def hess(x):
        return np.broadcast_to(Q, np.shape(x)[:-1] + Q.shape)

    def gmean(m, C):
        return f(m) + 0.5 * np.einsum("ij,...ji->...", Q, C)

    form = ("quadratic", Q, b, float(c))
    return TestFunction(
        name=name, f=f, gradient=grad, hessian=hess, gaussian_mean=gmean, degree=2, form=form, description=description
    )


def cosine_test_function(name: str, u, description: str = "") -> TestFunction:
    """``phi(x) = cos(u.x)``, with ``E phi = cos(u.m) exp(-u^T C u / 2)`` under N(m, C)."""
    u = np.asarray(u, dtype=float)

    def f(x):
        return np.cos(x @ u)

    def grad(x):
        return -np.sin(x @ u)[..., None] * u

    def hess(x):
        return -np.cos(x @ u)[..., None, None] * np.outer(u, u)

    def gmean(m, C):
        return np.cos(m @ u) * np.exp(-0.5 * np.einsum("i,...ij,j->...", u, C, u))

    return TestFunction(
        name=name, f=f, gradient=grad, hessian=hess, gaussian_mean=gmean, form=("cosine", u), description=description
    )


# ----------------------------------------------------------------------------- linear gradients
@dataclass(frozen=True, slots=True, kw_only=True)
class LinearModel:
    """A stochastic gradient linear in x with additive noise: ``g(x, xi) = H (x - c) + S xi``.

    ``f(x) = 1/2 (x - c)^T H (x - c)`` (up to a constant), ``Sigma = S S^T`` (constant), and xi has
    iid coordinates of mean 0 and variance 1 from ``law``.  Every algorithm of the registry is then
    a linear recursion, and its SME an Ornstein-Uhlenbeck process: both laws are exact
    (:mod:`diffapprox.limits`).

    Attributes
    ----------
    H : ndarray, shape (d, d)
        Symmetric.
    center : ndarray, shape (d,)
    S : ndarray, shape (d, m)
    law : {"gaussian", "rademacher"}
    """

    H: np.ndarray
    center: np.ndarray
    S: np.ndarray
    law: str = "gaussian"

    def __post_init__(self):
        H = np.array(self.H, dtype=float, ndmin=2)
        if H.ndim != 2 or H.shape[0] != H.shape[1] or not np.all(np.isfinite(H)):
            raise DiffapproxError("H", "a finite square matrix", f"shape {H.shape}")
        if not np.allclose(H, H.T, rtol=1e-12, atol=1e-12):
            raise DiffapproxError("H", "a symmetric matrix", "an asymmetric one")
        d = H.shape[0]
        c = np.array(self.center, dtype=float).reshape(-1)
        if c.shape != (d,):
            raise DiffapproxError("center", f"a vector of length {d}", f"shape {c.shape}")
        S = np.array(self.S, dtype=float, ndmin=2)
        if S.ndim != 2 or S.shape[0] != d or not np.all(np.isfinite(S)):
            raise DiffapproxError("S", f"a finite matrix with {d} rows", f"shape {S.shape}")
        if self.law not in NOISE_LAWS:
            raise DiffapproxError("law", f"one of {', '.join(NOISE_LAWS)}", self.law)
        for name, a in (("H", H), ("center", c), ("S", S)):
            a.setflags(write=False)
            object.__setattr__(self, name, a)

    @property
    def d(self) -> int:
        return int(self.H.shape[0])

    @property
    def m(self) -> int:
        return int(self.S.shape[1])

    @property
    def sigma(self) -> np.ndarray:
        """``Sigma = S S^T``, the covariance of g(x, xi) (d, d)."""
        return self.S @ self.S.T

    def characteristic(self, s: np.ndarray) -> np.ndarray:
        """``E exp(i s xi_j)`` of one noise coordinate (real: the laws are symmetric)."""
        s = np.asarray(s, dtype=float)
        return np.exp(-0.5 * s * s) if self.law == "gaussian" else np.cos(s)

    def describe(self) -> dict:
        return {"H": self.H.tolist(), "center": self.center.tolist(), "S": self.S.tolist(), "law": self.law}


# ----------------------------------------------------------------------------- problems
def _compile(param: str, fn: Any, sig, text: str) -> Any:
    """``fn`` compiled to ``sig`` (a numba dispatcher), or a DiffapproxError naming ``param``."""
    if not hasattr(fn, "compile") or not hasattr(fn, "py_func"):
        raise DiffapproxError(param, f"a numba.njit function {text}", type(fn).__name__)
    try:
        if tuple(sig.args) not in fn.overloads:
            fn.compile(sig)
    except Exception as exc:  # noqa: BLE001 - any numba typing failure is bad user input, reported in one line
        msg = " ".join(str(exc).split())[:160]
        raise DiffapproxError(param, f"a numba function {text}", f"one numba cannot compile: {msg}") from None
    return fn


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """A stochastic-gradient problem: dimension, ``g(x, xi)``, its noise sampler, and what is known.

    Attributes
    ----------
    name : str
    dim : int
        d, the dimension of x.
    noise_dim : int
        The length of one draw xi.
    grad : numba function
        ``grad(x, xi, par, out)`` (:data:`GRAD_SIGNATURE`).
    noise : numba function
        ``noise(state, par, xi)`` (:data:`NOISE_SIGNATURE`), drawing only from ``state``.
    par : ndarray, shape (p,)
        Constants passed to ``grad`` and ``noise`` (float64).
    mean_grad, hessian : numba function or None
        ``grad f`` (:data:`DRIFT_SIGNATURE`) and its Jacobian (:data:`HESSIAN_SIGNATURE`), where known.
    noise_cov : callable or None
        ``x (d,) -> Sigma(x) (d, d)``, the covariance of ``g(x, xi)``, where known.
    test_functions : dict of str -> TestFunction
    linear : LinearModel or None
        Set when ``g(x, xi) = H (x - c) + S xi`` (exact laws of the recursion and of its SME).
    reference : str
        Where the problem comes from (source and equation).
    pca : object or None
        The :class:`~diffapprox.StreamingPCA` this problem is, for dispatch to its own kernel.
    """

    name: str
    dim: int
    noise_dim: int
    grad: Any = field(repr=False)
    noise: Any = field(repr=False)
    par: np.ndarray = field(default_factory=lambda: np.zeros(1), repr=False)
    mean_grad: Any = field(default=None, repr=False)
    hessian: Any = field(default=None, repr=False)
    noise_cov: Callable | None = field(default=None, repr=False)
    test_functions: dict = field(default_factory=dict, repr=False)
    linear: LinearModel | None = field(default=None, repr=False)
    reference: str = ""
    pca: Any = field(default=None, repr=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise DiffapproxError("name", "a non-empty string", self.name)
        check_int("dim", self.dim, 1)
        check_int("noise_dim", self.noise_dim, 1)
        par = np.array(self.par, dtype=np.float64).reshape(-1)
        if par.size == 0:
            par = np.zeros(1)
        if not np.all(np.isfinite(par)):
            raise DiffapproxError("par", "finite numbers", "NaN or inf")
        par.setflags(write=False)
        object.__setattr__(self, "par", par)
        _compile("grad", self.grad, GRAD_SIGNATURE, "grad(x, xi, par, out) on float64 vectors")
        _compile("noise", self.noise, NOISE_SIGNATURE, "noise(state, par, xi), state a uint64 stream")
        if self.mean_grad is not None:
            _compile("mean_grad", self.mean_grad, DRIFT_SIGNATURE, "mean_grad(x, par, out)")
        if self.hessian is not None:
            _compile("hessian", self.hessian, HESSIAN_SIGNATURE, "hessian(x, par, out) with out (d, d)")
        for k, v in self.test_functions.items():
            if not isinstance(v, TestFunction) or v.name != k:
                raise DiffapproxError("test_functions", "a dict name -> TestFunction of that name", k)
        if self.linear is not None and (self.linear.d != self.dim or self.linear.m != self.noise_dim):
            raise DiffapproxError("linear", f"a LinearModel with d={self.dim}, m={self.noise_dim}", self.linear.d)

    def sigma(self, x) -> np.ndarray:
        """``Sigma(x)``, the covariance of g(x, xi) (d, d)."""
        if self.linear is not None:
            return self.linear.sigma
        if self.noise_cov is None:
            raise DiffapproxError("problem", "a problem that states Sigma(x) (noise_cov)", self.name)
        return np.asarray(self.noise_cov(np.asarray(x, dtype=float)), dtype=float)

    def test_function(self, name: str) -> TestFunction:
        if name not in self.test_functions:
            raise DiffapproxError("phi", f"one of {', '.join(self.test_functions) or '(none stated)'}", name)
        return self.test_functions[name]

    def describe(self) -> dict:
        out = {"name": self.name, "dim": self.dim, "noise_dim": self.noise_dim, "reference": self.reference}
        out["test_functions"] = sorted(self.test_functions)
        if self.linear is not None:
            out["linear"] = self.linear.describe()
        return out


# ----------------------------------------------------------------------------- algorithms
@dataclass(frozen=True, slots=True, kw_only=True)
class Algorithm:
    """One algorithm of the registry (see the module docstring for its recursion).

    Attributes
    ----------
    kind : {"sgd", "heavy_ball", "async_msgd"}
    eta : float
        Step size of the base algorithm (SVAG(l) steps ``eta / l``).
    mu : float
        Momentum in [0, 1) (0 for SGD).
    delay : DelayLaw
        Staleness law (``const:0`` unless asynchronous), in steps of the run.
    ell : int
        SVAG factor l (1: the plain algorithm).
    """

    kind: str
    eta: float
    mu: float = 0.0
    delay: DelayLaw = field(default_factory=lambda: delay_law("const:0"))
    ell: int = 1

    def __post_init__(self):
        if self.kind not in ALGORITHMS:
            raise DiffapproxError("algorithm", f"one of {', '.join(ALGORITHMS)}", self.kind)
        object.__setattr__(self, "eta", check_range("eta", self.eta, 0.0, None, lo_open=True))
        object.__setattr__(self, "mu", check_range("mu", self.mu, 0.0, 1.0, hi_open=True))
        object.__setattr__(self, "delay", delay_law(self.delay))
        object.__setattr__(self, "ell", check_int("ell", self.ell, 1, 2**20))
        if self.kind == "sgd" and self.mu != 0.0:
            raise DiffapproxError("mu", "0 for sgd (use heavy_ball)", self.mu)
        if self.kind != "async_msgd" and self.delay.cap != 0:
            raise DiffapproxError("delay", "const:0 unless the algorithm is async_msgd", self.delay.spec)

    @property
    def step(self) -> float:
        """The step of the run, ``eta / l``."""
        return self.eta / self.ell

    @property
    def coefficients(self) -> tuple[float, float]:
        """SVAG's ``(c1, c2) = ((1 + sqrt(2l - 1))/2, (1 - sqrt(2l - 1))/2)``; ``(1, 0)`` for l = 1."""
        if self.ell == 1:
            return 1.0, 0.0
        s = math.sqrt(2.0 * self.ell - 1.0)
        return 0.5 * (1.0 + s), 0.5 * (1.0 - s)

    @property
    def name(self) -> str:
        return self.kind if self.ell == 1 else f"svag({self.ell}, {self.kind})"

    def describe(self) -> dict:
        return {
            "algorithm": self.name,
            "eta": self.eta,
            "mu": self.mu,
            "delay": self.delay.describe(),
            "l": self.ell,
            "step": self.step,
        }


def sgd(eta: float) -> Algorithm:
    """SGD: ``x_{k+1} = x_k - eta g(x_k, xi_k)``."""
    return Algorithm(kind="sgd", eta=eta)


def heavy_ball(eta: float, mu: float) -> Algorithm:
    """Heavy-ball momentum: ``x_{k+1} = x_k + mu (x_k - x_{k-1}) - eta g(x_k, xi_k)``."""
    return Algorithm(kind="heavy_ball", eta=eta, mu=mu)


def async_msgd(eta: float, mu: float, delay: str | int | DelayLaw = "const:0") -> Algorithm:
    """Async-MSGD (paper eq. 2.1): heavy-ball with the gradient at ``x_{k - tau_k}``, any delay law of ``simulate``."""
    return Algorithm(kind="async_msgd", eta=eta, mu=mu, delay=delay)


def svag(base: Algorithm, ell: int) -> Algorithm:
    """SVAG(l) of ``base`` (Li, Malladi, Arora 2021): step ``eta/l``, ``l`` times the steps, two draws per step.

    The delay law is kept as given (it counts steps of the run): to keep the delay *time* fixed,
    give ``base`` a delay law scaled by ``l``.
    """
    if not isinstance(base, Algorithm):
        raise DiffapproxError("base", "an Algorithm", type(base).__name__)
    if base.ell != 1:
        raise DiffapproxError("base", "a plain algorithm (l = 1)", base.name)
    return Algorithm(kind=base.kind, eta=base.eta, mu=base.mu, delay=base.delay, ell=ell)


#: The algorithm registry: name -> constructor (``svag`` wraps any of them).
ALGORITHMS: dict[str, Callable[..., Algorithm]] = {"sgd": sgd, "heavy_ball": heavy_ball, "async_msgd": async_msgd}


def algorithm(name: str, **kwargs) -> Algorithm:
    """The algorithm ``name`` of :data:`ALGORITHMS` with its parameters, e.g. ``algorithm("heavy_ball", eta=0.1, mu=0.9)``."""
    if name not in ALGORITHMS:
        raise DiffapproxError("algorithm", f"one of {', '.join(ALGORITHMS)}", name)
    try:
        return ALGORITHMS[name](**kwargs)
    except TypeError as exc:
        raise DiffapproxError("algorithm parameters", f"the parameters of {name}", str(exc)) from None
