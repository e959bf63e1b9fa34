"""Data laws and delay laws.

Data laws are written in the eigenbasis of Sigma (the kernels simulate h = Q^T v): a law draws
``Y = Q^T X`` with ``E[Y Y^T] = Lambda`` and known fourth moments, so that the
constants of Assumptions 1-2 of the paper are exact:

* ``alpha[i, j] = sqrt(E[Y_i^2 Y_j^2])``   (Theorem 3.5, eq. 3.3),
* ``C_d = sup ||X||``                        (Assumption 2; ``None`` when unbounded).

Delay laws give the staleness ``tau_k`` of eq. (2.1).  Each law reports its mean,
its maximum (``None`` when unbounded) and, for the kernel, an integer code plus a
float parameter vector (``code``, ``params``) and the history ``cap`` the kernel
keeps.  Unbounded laws are capped where the mass beyond the cap is below
:data:`CAP_MASS` (1e-9); the cap and that mass are reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._core.errors import DiffapproxError, check_int, check_range

__all__ = [
    "DataLaw",
    "DATA_LAWS",
    "data_law",
    "DelayLaw",
    "delay_law",
    "CAP_MASS",
    "trace_delay",
]

# ----------------------------------------------------------------------------- data laws


@dataclass(frozen=True, slots=True, kw_only=True)
class DataLaw:
    """A zero-mean law of ``Y`` in the eigenbasis with ``E[Y Y^T] = diag(lam)``.

    Attributes
    ----------
    name : str
        ``gaussian``, ``rademacher``, ``sphere`` or ``cube``.
    code : int
        Integer used by the numba kernel to pick its sampler.
    description : str
        The law, in one line.
    """

    name: str
    code: int
    description: str

    def fourth_moments(self, lam: np.ndarray) -> np.ndarray:
        """``E[Y_i^2 Y_j^2]`` as a (d, d) array, in closed form.

        Parameters
        ----------
        lam : ndarray, shape (d,)
            Eigenvalues of Sigma.
        """
        lam = np.asarray(lam, dtype=float)
        d = lam.size
        outer = np.outer(lam, lam)
        if self.name == "gaussian":
            # Y_i = sqrt(l_i) Z_i: E Z^4 = 3.
            m = outer.copy()
            np.fill_diagonal(m, 3.0 * lam**2)
        elif self.name == "rademacher":
            # Y_i = +-sqrt(l_i): Y_i^2 = l_i exactly.
            m = outer.copy()
        elif self.name == "sphere":
            # Y = sqrt(d) Lambda^{1/2} r, r uniform on S^{d-1}:
            # E r_i^2 r_j^2 = 1/(d(d+2)) (i != j), E r_i^4 = 3/(d(d+2)).
            m = outer * (d / (d + 2.0))
            np.fill_diagonal(m, 3.0 * d / (d + 2.0) * lam**2)
        elif self.name == "cube":
            # Y_i = sqrt(3 l_i) U_i, U_i uniform on [-1, 1]: E U^2 = 1/3, E U^4 = 1/5.
            m = outer.copy()
            np.fill_diagonal(m, 9.0 / 5.0 * lam**2)
        else:  # pragma: no cover - guarded by data_law()
            raise DiffapproxError("data", f"one of {sorted(DATA_LAWS)}", self.name)
        return m

    def alpha(self, lam: np.ndarray) -> np.ndarray:
        """``alpha[i, j] = sqrt(E[Y_i^2 Y_j^2])`` (paper, Theorem 3.5)."""
        return np.sqrt(self.fourth_moments(lam))

    def bound(self, lam: np.ndarray) -> float | None:
        """``C_d = sup ||Y||`` (Assumption 2); ``None`` for an unbounded law."""
        lam = np.asarray(lam, dtype=float)
        if self.name == "gaussian":
            return None
        if self.name == "rademacher":
            return float(math.sqrt(lam.sum()))  # ||Y||^2 = sum l_i always
        if self.name == "sphere":
            return float(math.sqrt(lam.size * lam.max()))  # d sum l_i r_i^2 <= d l_1
        if self.name == "cube":
            return float(math.sqrt(3.0 * lam.sum()))  # corners of the cube
        raise DiffapproxError("data", f"one of {sorted(DATA_LAWS)}", self.name)  # pragma: no cover

    def sample(self, lam: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of ``Y`` with NumPy (for tests and Monte Carlo checks), shape (n, d)."""
        lam = np.asarray(lam, dtype=float)
        d = lam.size
        s = np.sqrt(lam)
        if self.name == "gaussian":
            return rng.standard_normal((n, d)) * s
        if self.name == "rademacher":
            return rng.choice([-1.0, 1.0], size=(n, d)) * s
        if self.name == "sphere":
            z = rng.standard_normal((n, d))
            r = z / np.linalg.norm(z, axis=1, keepdims=True)
            return math.sqrt(d) * r * s
        if self.name == "cube":
            return math.sqrt(3.0) * rng.uniform(-1.0, 1.0, size=(n, d)) * s
        raise DiffapproxError("data", f"one of {sorted(DATA_LAWS)}", self.name)  # pragma: no cover


#: Kernel codes of the data laws (``DataLaw.code``).
DATA_GAUSSIAN, DATA_RADEMACHER, DATA_SPHERE, DATA_CUBE = 0, 1, 2, 3

DATA_LAWS: dict[str, DataLaw] = {
    law.name: law
    for law in (
        DataLaw(
            name="gaussian",
            code=DATA_GAUSSIAN,
            description="Y_j = sqrt(lambda_j) Z_j, Z_j iid N(0,1) (unbounded: Assumption 2 fails)",
        ),
        DataLaw(name="rademacher", code=DATA_RADEMACHER, description="Y_j = +-sqrt(lambda_j), independent fair signs"),
        DataLaw(
            name="sphere", code=DATA_SPHERE, description="Y = sqrt(d) Lambda^(1/2) r, r uniform on the unit sphere"
        ),
        DataLaw(name="cube", code=DATA_CUBE, description="Y_j = sqrt(3 lambda_j) U_j, U_j iid uniform on [-1, 1]"),
    )
}


def data_law(name: str | DataLaw) -> DataLaw:
    """Look a data law up by name (``gaussian``, ``rademacher``, ``sphere``, ``cube``)."""
    if isinstance(name, DataLaw):
        return name
    try:
        return DATA_LAWS[str(name).strip().lower()]
    except KeyError:
        raise DiffapproxError("data", f"one of {', '.join(DATA_LAWS)}", name) from None


# ----------------------------------------------------------------------------- delay laws

#: Largest probability mass an unbounded delay law may put beyond the kernel's cap.
CAP_MASS = 1e-9

#: Kernel codes of the delay laws (``DelayLaw.code``).
DELAY_CONST, DELAY_UNIFORM, DELAY_GEOMETRIC, DELAY_WORKERS, DELAY_TRACE = 0, 1, 2, 3, 4


def _geometric_cap(q: float) -> int:
    """Smallest c with P(tau > c) = q^(c+1) < CAP_MASS for P(tau = k) = (1-q) q^k."""
    if q <= 0.0:
        return 0
    c = max(0, int(math.ceil(math.log(CAP_MASS) / math.log(q))) - 1)
    while q ** (c + 1) >= CAP_MASS:
        c += 1
    return c


@dataclass(frozen=True, slots=True, kw_only=True)
class DelayLaw:
    """Law of the staleness ``tau_k`` in eq. (2.1).

    Attributes
    ----------
    spec : str
        The canonical text form (``const:20``, ``uniform:0,40``, ``geometric:20``,
        ``workers:4``, ``workers:4@1,1,1,0.25`` for unequal speeds).
    code : int
        Kernel sampler id.
    params : ndarray of float
        Kernel sampler parameters (meaning depends on ``code``).
    mean : float
        ``E[tau_k]`` (stationary mean for ``workers``).
    max : int or None
        ``sup tau_k``, ``None`` when unbounded.
    cap : int
        Largest delay the kernel can apply (history it keeps is ``cap + 1``).
        Equal to ``max`` for bounded laws.
    mass_beyond_cap : float
        ``P(tau_k > cap)``: 0 for bounded laws, < 1e-9 otherwise.  The kernel
        clips delays at ``cap``.
    """

    spec: str
    code: int
    params: np.ndarray = field(repr=False)
    mean: float
    max: int | None
    cap: int
    mass_beyond_cap: float
    trace: np.ndarray | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return self.spec.split(":", 1)[0]

    def describe(self) -> dict:
        """JSON-ready summary (spec, mean, max, cap, mass beyond cap)."""
        return {
            "spec": self.spec,
            "mean": self.mean,
            "max": self.max,
            "cap": self.cap,
            "mass_beyond_cap": self.mass_beyond_cap,
        }

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` consecutive delays ``tau_0..tau_{n-1}`` of one path with NumPy (tests, DNN claim).

        For ``workers`` this runs the queue from its start (all workers read h_0),
        so early delays equal k, as the history convention h_{-i} = h_0 implies.
        Delays are clipped at :attr:`cap`, as in the kernel.
        """
        if self.code == DELAY_CONST:
            out = np.full(n, int(self.params[0]), dtype=np.int64)
        elif self.code == DELAY_UNIFORM:
            out = rng.integers(int(self.params[0]), int(self.params[1]) + 1, size=n)
        elif self.code == DELAY_GEOMETRIC:
            p = self.params[0]
            out = rng.geometric(p, size=n) - 1
        elif self.code == DELAY_WORKERS:
            w = self.params / self.params.sum()
            who = rng.choice(w.size, size=n, p=w)
            # tau_k = updates since the writer's previous write (k itself at its first write): group
            # the update indices by writer (stable sort keeps them increasing) and difference them.
            k = np.argsort(who, kind="stable")
            prev = np.empty(n, dtype=np.int64)
            prev[:1] = -1
            prev[1:] = np.where(who[k[1:]] == who[k[:-1]], k[:-1], -1)
            out = np.empty(n, dtype=np.int64)
            out[k] = k - prev - 1
        elif self.code == DELAY_TRACE:
            tr = self.trace
            out = tr[np.arange(n) % tr.size]
        else:  # pragma: no cover
            raise DiffapproxError("delay", "a known delay law", self.spec)
        return np.minimum(out.astype(np.int64), self.cap)


def _parse_ints(param: str, text: str) -> list[int]:
    try:
        vals = [float(t) for t in text.split(",") if t.strip() != ""]
    except ValueError:
        raise DiffapproxError(param, "comma-separated integers", text) from None
    return [check_int(param, v) for v in vals]


def delay_law(spec: str | int | DelayLaw) -> DelayLaw:
    """Parse a delay law.

    Parameters
    ----------
    spec : str, int or DelayLaw
        * ``const:T`` (or a bare integer ``T``): tau_k = T.
        * ``uniform:A,B``: tau_k uniform on the integers {A, ..., B}.
        * ``geometric:M``: P(tau = k) = p (1-p)^k, p = 1/(M+1), mean M (paper Section 4,
          unbounded; capped with mass beyond the cap < 1e-9).
        * ``workers:M`` or ``workers:M@r1,...,rM``: M workers with exponential compute
          times (rates r, default all 1) applying gradients to one server; tau_k = number
          of updates applied between the writing worker's read and its write.  By
          memorylessness, the writer of each update is worker m with probability
          r_m / sum(r), independently; stationary staleness of an equal-rate pool is
          geometric with mean M - 1.

    Raises
    ------
    DiffapproxError
        Unknown law, negative delay, non-integer where an integer is needed.
    """
    if isinstance(spec, DelayLaw):
        return spec
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        spec = f"const:{int(spec)}"
    if not isinstance(spec, str):
        raise DiffapproxError("delay", "a delay law such as const:20", spec)
    text = spec.strip().lower()
    if ":" not in text:
        try:
            float(text)
        except ValueError:
            raise DiffapproxError("delay", "const:T, uniform:A,B, geometric:M or workers:M", spec) from None
        text = f"const:{text}"
    kind, arg = text.split(":", 1)
    if kind == "const":
        (t,) = _parse_ints("delay", arg)[:1] or [None]
        if t is None or t < 0:
            raise DiffapproxError("delay", "const:T with an integer T >= 0", spec)
        return DelayLaw(
            spec=f"const:{t}",
            code=DELAY_CONST,
            params=np.array([t], float),
            mean=float(t),
            max=t,
            cap=t,
            mass_beyond_cap=0.0,
        )
    if kind == "uniform":
        vals = _parse_ints("delay", arg)
        if len(vals) != 2 or vals[0] < 0 or vals[1] < vals[0]:
            raise DiffapproxError("delay", "uniform:A,B with integers 0 <= A <= B", spec)
        a, b = vals
        return DelayLaw(
            spec=f"uniform:{a},{b}",
            code=DELAY_UNIFORM,
            params=np.array([a, b], float),
            mean=(a + b) / 2.0,
            max=b,
            cap=b,
            mass_beyond_cap=0.0,
        )
    if kind == "geometric":
        m = check_range("delay", arg, 0.0)
        if m == 0:
            return delay_law("const:0")
        p = 1.0 / (m + 1.0)
        cap = _geometric_cap(1.0 - p)
        return DelayLaw(
            spec=f"geometric:{m:g}",
            code=DELAY_GEOMETRIC,
            params=np.array([p]),
            mean=m,
            max=None,
            cap=cap,
            mass_beyond_cap=(1.0 - p) ** (cap + 1),
        )
    if kind == "workers":
        if "@" in arg:
            m_txt, r_txt = arg.split("@", 1)
        else:
            m_txt, r_txt = arg, ""
        (m,) = _parse_ints("delay", m_txt)[:1] or [None]
        if m is None or m < 1:
            raise DiffapproxError("delay", "workers:M with an integer M >= 1", spec)
        if r_txt:
            try:
                rates = np.array([float(t) for t in r_txt.split(",")])
            except ValueError:
                raise DiffapproxError("delay", "workers:M@r1,...,rM with positive rates", spec) from None
            if rates.size != m or not np.all(np.isfinite(rates)) or np.any(rates <= 0):
                raise DiffapproxError("delay", f"workers:M@r1,...,rM with {m} positive rates", spec)
        else:
            rates = np.ones(m)
        w = rates / rates.sum()
        if m == 1:
            return DelayLaw(
                spec="workers:1", code=DELAY_WORKERS, params=rates, mean=0.0, max=0, cap=0, mass_beyond_cap=0.0
            )
        # Worker m's gap between two of its writes is geometric: P(tau >= c+1) = (1-w_m)^(c+1);
        # the stationary staleness is the size-biased mixture over writers, mean sum_m w_m (1/w_m - 1) = M - 1.
        mean = float(sum(wi * (1.0 / wi - 1.0) for wi in w))
        cap = _geometric_cap(1.0 - float(w.min()))
        mass = float(sum(wi * (1.0 - wi) ** (cap + 1) for wi in w))
        tag = f"workers:{m}" if r_txt == "" else f"workers:{m}@" + ",".join(f"{r:g}" for r in rates)
        return DelayLaw(spec=tag, code=DELAY_WORKERS, params=rates, mean=mean, max=None, cap=cap, mass_beyond_cap=mass)
    raise DiffapproxError("delay", "const:T, uniform:A,B, geometric:M or workers:M", spec)


def trace_delay(trace: np.ndarray, label: str = "trace") -> DelayLaw:
    """A delay law that replays recorded delays ``trace`` (cycled if shorter than the run)."""
    tr = np.asarray(trace)
    if tr.ndim != 1 or tr.size == 0 or not np.all(np.isfinite(tr)) or np.any(tr < 0):
        raise DiffapproxError("delay", "a non-empty 1-d trace of integers >= 0", f"array of shape {tr.shape}")
    tr = tr.astype(np.int64)
    mx = int(tr.max())
    return DelayLaw(
        spec=f"trace:{label}",
        code=DELAY_TRACE,
        params=np.zeros(0),
        mean=float(tr.mean()),
        max=mx,
        cap=mx,
        mass_beyond_cap=0.0,
        trace=tr,
    )
