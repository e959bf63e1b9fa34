"""Public simulator of Async-MSGD for streaming PCA (paper eq. 2.1) and its result, :class:`Trajectory`.

The numba kernel (``diffapprox._engine.kernel``) does no checking; :func:`simulate`
validates everything once, allocates the outputs, calls it and wraps the records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .._core.errors import DiffapproxError, check_int, check_range
from .laws import DelayLaw, delay_law
from .problem import StreamingPCA

__all__ = ["simulate", "Trajectory", "SCHEMA"]

#: Schema tag of :meth:`Trajectory.summary` (the JSON of ``diffapprox simulate``).
SCHEMA = "diffapprox.simulate/1"
#: Largest record array (h) the wrapper allocates without being told ``record_h=False``.
_MAX_RECORD_BYTES = 4 << 30


class _Mask(np.ndarray):
    """A boolean array that can also be called (``traj.finite`` and ``traj.finite()`` agree)."""

    def __call__(self) -> np.ndarray:
        return np.asarray(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Trajectory:
    """Records of P independent Async-MSGD paths, every ``R`` steps, in the eigenbasis.

    Attributes
    ----------
    times : ndarray, shape (n_rec,)
        ``t = k * eta`` at each record.
    steps_at : ndarray of int, shape (n_rec,)
        ``k = 0, R, 2R, ..., steps``.
    error : ndarray, shape (paths, n_rec)
        ``1 - h_1^2 / ||h||^2``.
    norm2 : ndarray, shape (paths, n_rec)
        ``||h||^2``.
    h : ndarray, shape (paths, n_rec, d), or None
        The iterates (``record_h=False`` leaves them out).
    diverged : ndarray of bool, shape (paths,)
        The path's ``||h||`` left ``bound`` or became non-finite; it was frozen at
        its last state within the bound, which the later records repeat.
    diverged_step : ndarray of int, shape (paths,)
        First step ``k`` whose iterate was out of bounds (the frozen state is
        ``h_{k-1}``); -1 for paths that did not diverge.
    passage : ndarray of int64, shape (paths, n_passages)
        First step at which each requested passage happened; -1 if never.
    parameters : dict
        Everything the run used, resolved and JSON-ready.
    timing : dict
        ``compile_s`` (numba compile or cache load on the first call, else 0),
        ``run_s``, ``path_steps_per_s`` (run only).
    """

    times: np.ndarray
    steps_at: np.ndarray
    error: np.ndarray
    norm2: np.ndarray
    h: np.ndarray | None
    diverged: np.ndarray
    diverged_step: np.ndarray
    passage: np.ndarray
    parameters: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)

    @property
    def finite(self) -> np.ndarray:
        """Boolean mask (paths,) of the paths that did not diverge.

        A boolean array; calling it (``traj.finite()``) returns the same mask.
        """
        return (~self.diverged).view(_Mask)

    @property
    def paths(self) -> int:
        return int(self.error.shape[0])

    def summary(self) -> dict:
        """The JSON document of ``diffapprox simulate`` (schema ``diffapprox.simulate/1``).

        Statistics (error quantiles, means of h_i^2 and ||h||^2) are over the paths
        that did not diverge; they are ``None`` when every path diverged.
        """
        from .._core.jsonio import jsonable

        ok = ~self.diverged
        if ok.any():
            e = self.error[ok]
            q10, q50, q90 = np.quantile(e, [0.1, 0.5, 0.9], axis=0)
            err = {"mean": e.mean(axis=0), "q10": q10, "q50": q50, "q90": q90}
            n2m = self.norm2[ok].mean(axis=0)
            h2m = None if self.h is None else (self.h[ok] ** 2).mean(axis=0)
        else:
            nones = [None] * self.times.size
            err = {"mean": nones, "q10": nones, "q50": nones, "q90": nones}
            n2m = nones
            h2m = None
        return jsonable(
            {
                "schema": SCHEMA,
                "parameters": self.parameters,
                "times": self.times,
                "error": err,
                "h2_mean": h2m,
                "norm2_mean": n2m,
                "diverged": int(self.diverged.sum()),
                "timing": self.timing,
            }
        )


# ----------------------------------------------------------------------------- validation


def _start(start: Any, d: int, paths: int) -> tuple[np.ndarray, bool, Any]:
    """(h0 (paths, d), random?, JSON description)."""
    if isinstance(start, str):
        s = start.strip().lower()
        if s == "random":
            return np.zeros((paths, d)), True, "random"
        if s.startswith("e"):
            try:
                i = int(s[1:])
            except ValueError:
                i = 0
            if 1 <= i <= d:
                h0 = np.zeros((paths, d))
                h0[:, i - 1] = 1.0
                return h0, False, s
        raise DiffapproxError("start", f"e1..e{d}, random, or a vector of length {d}", start)
    try:
        a = np.array(start, dtype=float)
    except (TypeError, ValueError):
        raise DiffapproxError("start", f"e1..e{d}, random, or a vector of length {d}", start) from None
    if a.shape == (d,):
        h0 = np.broadcast_to(a, (paths, d)).copy()
        desc = a.tolist()
    elif a.shape == (paths, d):
        h0 = a.copy()
        desc = f"explicit array of shape ({paths}, {d})"
    else:
        raise DiffapproxError(
            "start", f"a vector of shape ({d},) or an array of shape ({paths}, {d})", f"shape {a.shape}"
        )
    if not np.all(np.isfinite(h0)):
        raise DiffapproxError("start", "finite entries", "NaN or inf")
    if np.any(np.sum(h0 * h0, axis=1) == 0.0):
        raise DiffapproxError("start", "a non-zero vector", "a zero vector")
    return np.ascontiguousarray(h0), False, desc


def _passages(passages: Sequence, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    pc, pl, ps, desc = [], [], [], []
    try:
        items = list(passages)
    except TypeError:
        raise DiffapproxError("passages", "a sequence of (coordinate, level, direction)", passages) from None
    for item in items:
        try:
            c, lv, s = item
        except (TypeError, ValueError):
            raise DiffapproxError("passages", "(coordinate, level, direction) triples", item) from None
        c = check_int("passages coordinate", c, 0, d - 1)
        lv = check_range("passages level", lv, 0.0, 1.0)
        if isinstance(s, bool) or s not in (1, -1):
            raise DiffapproxError("passages direction", "+1 (rise to the level) or -1 (fall to it)", s)
        pc.append(c)
        pl.append(lv)
        ps.append(int(s))
        desc.append([c, lv, int(s)])
    return (np.array(pc, dtype=np.int64), np.array(pl, dtype=np.float64), np.array(ps, dtype=np.int64), desc)


def _threads(threads: int | None) -> int | None:
    if threads is None:
        return None
    import numba

    return check_int("threads", threads, 1, int(numba.config.NUMBA_NUM_THREADS))


def delay_arrays(law: DelayLaw) -> tuple[np.ndarray, np.ndarray]:
    """The kernels' ``dpar`` (float64) and ``dtrace`` (int64) of a delay law, never empty."""
    dpar = np.ascontiguousarray(law.params, dtype=np.float64) if len(law.params) else np.zeros(1)
    dtrace = np.ascontiguousarray(law.trace, dtype=np.int64) if law.trace is not None else np.zeros(1, np.int64)
    return dpar, dtrace


# ----------------------------------------------------------------------------- simulate


def simulate(
    problem: StreamingPCA,
    *,
    mu: float,
    eta: float,
    steps: int,
    paths: int,
    delay: str | int | DelayLaw = "const:0",
    batch: int = 1,
    record_every: int = 100,
    start: Any = "e2",
    seed: int = 0,
    path_offset: int = 0,
    threads: int | None = None,
    bound: float = 1e6,
    record_h: bool = True,
    passages: Sequence = (),
) -> Trajectory:
    """Simulate ``paths`` independent runs of Async-MSGD (paper eq. 2.1) in the eigenbasis.

    ``h_{k+1} = h_k + mu (h_k - h_{k-1}) + eta (I - w w^T) (1/B sum_b Y_b Y_b^T) w`` with
    ``w = h_{k - tau_k}``, ``Y_b`` drawn from ``problem``'s data law in the eigenbasis
    (``h = Q^T v``), and histories ``h_{-i} = h_0`` (Theorem 3.3; so no initial momentum).

    Parameters
    ----------
    problem : StreamingPCA
    mu : float
        Momentum, in [0, 1).
    eta : float
        Step size, > 0.
    steps : int
        Number of steps K >= 1; must be a multiple of ``record_every``.
    paths : int
        Number of paths P >= 1.
    delay : str, int or DelayLaw
        ``const:T``, ``uniform:A,B``, ``geometric:M``, ``workers:M[@rates]`` or a
        :func:`~diffapprox.trace_delay`.  Delays are clipped at the law's ``cap``.
    batch : int
        Minibatch size B >= 1 (average of B outer products).
    record_every : int
        R: records at steps 0, R, 2R, ..., steps (``steps // R + 1`` records).
    start : str or array_like
        ``"e1"``..``"ed"``, ``"random"`` (uniform on the unit sphere, drawn from the
        path's own stream), a (d,) vector or a (paths, d) array, in the eigenbasis
        and used as given (not normalised).
    seed : int
        In [0, 2^64).  Path ``i`` uses a stream that depends only on
        ``(seed, path_offset + i)``: results are bit-identical for any ``threads``
        and any split of the paths into chunks.
    path_offset : int
        Global index of the first path.
    threads : int or None
        Numba threads (None: numba's current setting); restored afterwards.
    bound : float
        A path whose ``||h||`` exceeds ``bound`` or turns non-finite is flagged
        diverged and frozen at its last state within the bound.
    record_h : bool
        Keep the iterates ``h`` in the records.
    passages : sequence of (c, L, s)
        For each, the first step ``k >= 0`` with ``h_c^2 / ||h_k||^2 >= L`` (``s = +1``)
        or ``<= L`` (``s = -1``), checked every step; ``c`` is 0-based.

    Returns
    -------
    Trajectory

    Raises
    ------
    DiffapproxError
        Any invalid input (one-line message naming the parameter and the rule).
    """
    from . import kernel as _kernel

    if not isinstance(problem, StreamingPCA):
        raise DiffapproxError("problem", "a StreamingPCA", type(problem).__name__)
    mu = check_range("mu", mu, 0.0, 1.0, hi_open=True)
    eta = check_range("eta", eta, 0.0, None, lo_open=True)
    law = delay_law(delay)
    steps = check_int("steps", steps, 1)
    paths = check_int("paths", paths, 1)
    batch = check_int("batch", batch, 1)
    record_every = check_int("record_every", record_every, 1)
    if steps % record_every:
        raise DiffapproxError("steps", f"a multiple of record_every={record_every}", steps)
    seed = check_int("seed", seed, 0, 2**64 - 1)
    path_offset = check_int("path_offset", path_offset, 0, 2**62)
    bound = check_range("bound", bound, 0.0, None, lo_open=True)
    if bound * bound == float("inf"):
        raise DiffapproxError("bound", "a number whose square is finite", bound)
    nthreads = _threads(threads)
    d = problem.d
    h0, random_start, start_desc = _start(start, d, paths)
    pc, pl, ps, pass_desc = _passages(passages, d)
    n_rec = steps // record_every + 1
    record_h = bool(record_h)
    if record_h and paths * n_rec * d * 8 > _MAX_RECORD_BYTES:
        raise DiffapproxError(
            "record_h",
            f"False for records over {_MAX_RECORD_BYTES >> 30} GiB",
            f"{paths * n_rec * d * 8 / 2**30:.1f} GiB of h",
        )

    sl = np.sqrt(problem.eigenvalues).astype(np.float64)
    dpar, dtrace = delay_arrays(law)
    rec_err = np.empty((paths, n_rec))
    rec_n2 = np.empty((paths, n_rec))
    rec_h = np.empty((paths, n_rec, d if record_h else 0))
    div_step = np.full(paths, -1, dtype=np.int64)
    pout = np.full((paths, pc.size), -1, dtype=np.int64)
    noy = np.zeros((0, 0, 0, 0))
    not_ = np.zeros((0, 0), dtype=np.int64)

    def call(P, K, h0_, e, n2, hh, ds, po):
        _kernel.simulate_paths(
            sl,
            int(problem.law.code),
            mu,
            eta,
            K,
            batch,
            record_every if K == steps else 1,
            h0_,
            random_start,
            np.uint64(seed),
            path_offset,
            int(law.code),
            dpar,
            dtrace,
            int(law.cap),
            bound * bound,
            pc,
            pl,
            ps,
            e,
            n2,
            hh,
            record_h,
            ds,
            po,
            noy,
            not_,
        )

    import numba

    old = numba.get_num_threads()
    try:
        if nthreads is not None:
            numba.set_num_threads(nthreads)
        used = numba.get_num_threads()
        compile_s = 0.0
        if not _kernel.simulate_paths.overloads:
            # first call in this process: compile (or load from the on-disk cache) on a tiny run
            t0 = time.perf_counter()
            call(
                1,
                1,
                h0[:1].copy(),
                np.empty((1, 2)),
                np.empty((1, 2)),
                np.empty((1, 2, rec_h.shape[2])),
                np.full(1, -1, dtype=np.int64),
                np.full((1, pc.size), -1, dtype=np.int64),
            )
            compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        call(paths, steps, h0, rec_err, rec_n2, rec_h, div_step, pout)
        run_s = time.perf_counter() - t0
    finally:
        numba.set_num_threads(old)

    steps_at = np.arange(n_rec, dtype=np.int64) * record_every
    parameters = {
        # alpha (d x d) is left out: it follows from the eigenvalues and the data law
        "problem": {k: v for k, v in problem.describe().items() if k != "alpha"},
        "mu": mu,
        "eta": eta,
        "steps": steps,
        "paths": paths,
        "delay": law.describe(),
        "batch": batch,
        "record_every": record_every,
        "start": start_desc,
        "seed": seed,
        "path_offset": path_offset,
        "threads": used,
        "bound": bound,
        "record_h": record_h,
        "passages": pass_desc,
        "rng": "xoshiro256+ per path (SplitMix64 from (seed, path)), 256-layer ziggurat normals",
    }
    timing = {"compile_s": compile_s, "run_s": run_s, "path_steps_per_s": paths * steps / run_s if run_s > 0 else None}
    return Trajectory(
        times=steps_at * eta,
        steps_at=steps_at,
        error=rec_err,
        norm2=rec_n2,
        h=rec_h if record_h else None,
        diverged=div_step >= 0,
        diverged_step=div_step,
        passage=pout,
        parameters=parameters,
        timing=timing,
    )
