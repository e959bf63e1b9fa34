"""Public simulator of any problem under any algorithm of the registry, and its result :class:`Paths`.

:func:`simulate_algorithm` validates once, allocates, calls the generic kernel
(:mod:`diffapprox._engine.generic`) and wraps the records.  Streaming PCA under Async-MSGD
(SVAG l = 1) is handed to :func:`~diffapprox.simulate` and its own kernel, unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._core.errors import DiffapproxError, check_int, check_range
from .protocol import Algorithm, Problem
from .simulate import _MAX_RECORD_BYTES, _threads, delay_arrays, simulate

__all__ = ["Paths", "simulate_algorithm", "sample_noise"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Paths:
    """Records of P independent paths of one algorithm on one problem.

    Attributes
    ----------
    times : ndarray, shape (n_rec,)
        ``t = j eta / l`` of each record (``j`` in steps of the run: SVAG(l) runs ``l`` steps per base step).
    x : ndarray, shape (paths, n_rec, d)
        The iterates (``record=False``: shape (paths, 0, d)).
    diverged : ndarray of bool, shape (paths,)
    diverged_step : ndarray of int64, shape (paths,)
        First step of the run (``eta / l`` each) whose iterate left the bound; -1 if none.
    passage_step : ndarray of int64, shape (paths,)
        First step of the run at which the watched passage happened; -1 if never (censored).
    passage_time : ndarray, shape (paths,)
        ``passage_step * eta / l``; NaN if never.
    parameters : dict
    timing : dict
        ``run_s`` and ``path_steps_per_s`` (of the run's steps).
    """

    times: np.ndarray
    x: np.ndarray
    diverged: np.ndarray
    diverged_step: np.ndarray
    passage_step: np.ndarray
    passage_time: np.ndarray
    parameters: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)

    @property
    def paths(self) -> int:
        return int(self.x.shape[0])

    @property
    def finite(self) -> np.ndarray:
        """Mask (paths,) of the paths that did not diverge."""
        return ~self.diverged


def _x0(x0: Any, d: int, paths: int) -> np.ndarray:
    try:
        a = np.array(x0, dtype=float)
    except (TypeError, ValueError):
        raise DiffapproxError("x0", f"a vector of length {d} or an array ({paths}, {d})", x0) from None
    if a.shape == (d,) or (d == 1 and a.shape == ()):
        a = np.broadcast_to(a.reshape(d), (paths, d))
    if a.shape != (paths, d):
        raise DiffapproxError("x0", f"a vector of length {d} or an array ({paths}, {d})", f"shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise DiffapproxError("x0", "finite entries", "NaN or inf")
    return np.ascontiguousarray(a, dtype=np.float64)


def _passage(passage: Any, d: int) -> tuple[int, float, float, list | None]:
    if passage is None:
        return -1, 0.0, 1.0, None
    try:
        c, lv, s = passage
    except (TypeError, ValueError):
        raise DiffapproxError("passage", "a (coordinate, level, direction) triple", passage) from None
    c = check_int("passage coordinate", c, 0, d - 1)
    lv = check_range("passage level", lv)
    if isinstance(s, bool) or s not in (1, -1):
        raise DiffapproxError("passage direction", "+1 (rise to the level) or -1 (fall to it)", s)
    return c, lv, float(s), [c, lv, int(s)]


def _pca(problem: Problem, alg: Algorithm, steps, paths, x0, record_every, seed, path_offset, threads, bound):
    """Async-MSGD on streaming PCA through :func:`~diffapprox.simulate` (the streaming-PCA kernel)."""
    if steps % record_every:
        raise DiffapproxError("steps", f"a multiple of record_every={record_every}", steps)
    tr = simulate(
        problem.pca, mu=alg.mu, eta=alg.eta, steps=steps, paths=paths, delay=alg.delay,
        record_every=record_every, start=x0, seed=seed, path_offset=path_offset, threads=threads, bound=bound,
    )  # fmt: skip
    none = np.full(paths, -1, dtype=np.int64)
    return tr.times, tr.h, tr.diverged_step, none, tr.timing.get("run_s", 0.0)


def _generic(problem, alg, steps, paths, x0, record_every, seed, path_offset, threads, bound, psg, stop, record):
    from . import generic as _g

    L = alg.ell
    n_rec = steps * L // record_every + 1 if record else 0
    if n_rec * paths * problem.dim * 8 > _MAX_RECORD_BYTES:
        raise DiffapproxError("record", f"False for records over {_MAX_RECORD_BYTES >> 30} GiB", n_rec * paths)
    law = alg.delay
    dpar, dtrace = delay_arrays(law)
    rec = np.empty((paths, n_rec, problem.dim))
    div = np.full(paths, -1, dtype=np.int64)
    pas = np.full(paths, -1, dtype=np.int64)
    c1, c2 = alg.coefficients
    args = (problem.grad, problem.noise, problem.par.copy(), problem.noise_dim, x0, alg.step, alg.mu, c1, c2, steps * L)
    args += (record_every, np.uint64(seed), path_offset, int(law.code), dpar, dtrace, int(law.cap))
    args += (np.zeros((0, 0), np.int64), bound * bound, psg[0], psg[1], psg[2], bool(stop), rec, div, pas)
    nthreads = _threads(threads)
    import numba

    old = numba.get_num_threads()
    try:
        if nthreads is not None:
            numba.set_num_threads(nthreads)
        t0 = time.perf_counter()
        _g.run_paths(*args)
        run_s = time.perf_counter() - t0
    finally:
        numba.set_num_threads(old)
    times = np.arange(steps * L // record_every + 1) * record_every * alg.step
    return times, rec, div, pas, run_s


def simulate_algorithm(
    problem: Problem,
    algorithm: Algorithm,
    *,
    steps: int,
    paths: int,
    x0: Any,
    record_every: int = 1,
    seed: int = 0,
    path_offset: int = 0,
    threads: int | None = None,
    bound: float = 1e6,
    passage: Any = None,
    stop_at_passage: bool = False,
    record: bool = True,
) -> Paths:
    """Simulate ``paths`` independent runs of ``algorithm`` on ``problem``.

    The recursion is that of :mod:`diffapprox._engine.protocol`; ``x_{-i} = x_0`` (no initial momentum).

    Parameters
    ----------
    problem : Problem
    algorithm : Algorithm
        From the registry (:func:`~diffapprox.sgd`, :func:`~diffapprox.heavy_ball`,
        :func:`~diffapprox.async_msgd`, wrapped or not by :func:`~diffapprox.svag`).
    steps : int
        Steps of the base algorithm (time ``steps * eta``); SVAG(l) runs ``l * steps`` steps of ``eta / l``.
    paths : int
    x0 : array_like, shape (d,) or (paths, d)
    record_every : int
        Records every ``record_every`` steps of the run (of ``eta / l`` each); ``steps`` must be a
        multiple of it for streaming PCA.
    seed : int
        In [0, 2^64); path ``i``'s numbers depend only on ``(seed, path_offset + i)``.
    path_offset : int
    threads : int or None
        Numba threads (speed only; results do not depend on it).
    bound : float
        A path whose ``||x||`` exceeds ``bound`` (or turns non-finite) is flagged diverged and frozen.
    passage : (coordinate, level, direction) or None
        Watch the first step with ``direction * (x[coordinate] - level) >= 0``.
    stop_at_passage : bool
        End each path at its passage (``steps`` is then the cap; paths that never pass are censored).
    record : bool
        Keep the records of x (False: only divergence and passage).

    Returns
    -------
    Paths

    Raises
    ------
    DiffapproxError
        Any invalid input (one line naming the parameter).
    """
    if not isinstance(problem, Problem):
        raise DiffapproxError("problem", "a Problem", type(problem).__name__)
    if not isinstance(algorithm, Algorithm):
        raise DiffapproxError("algorithm", "an Algorithm", type(algorithm).__name__)
    steps = check_int("steps", steps, 1, 2**40)
    paths = check_int("paths", paths, 1)
    record_every = check_int("record_every", record_every, 1)
    seed = check_int("seed", seed, 0, 2**64 - 1)
    path_offset = check_int("path_offset", path_offset, 0, 2**62)
    bound = check_range("bound", bound, 0.0, None, lo_open=True)
    if bound * bound == float("inf"):
        raise DiffapproxError("bound", "a number whose square is finite", bound)
    x = _x0(x0, problem.dim, paths)
    psg = _passage(passage, problem.dim)
    pca = problem.pca is not None and algorithm.ell == 1 and psg[3] is None
    if pca and record:
        times, rec, div, pas, run_s = _pca(
            problem, algorithm, steps, paths, x, record_every, seed, path_offset, threads, bound
        )
    else:
        args = (problem, algorithm, steps, paths, x, record_every, seed, path_offset, threads, bound, psg)
        times, rec, div, pas, run_s = _generic(*args, stop_at_passage, record)
    params = {
        "problem": problem.describe(),
        **algorithm.describe(),
        "steps": steps,
        "run_steps": steps * algorithm.ell,
        "paths": paths,
        "record_every": record_every,
        "seed": seed,
        "path_offset": path_offset,
        "bound": bound,
        "passage": psg[3],
        "stop_at_passage": bool(stop_at_passage),
        "kernel": "streaming-PCA kernel (simulate)" if pca and record else "generic kernel",
    }
    run = steps * algorithm.ell * paths
    timing = {"run_s": run_s, "path_steps_per_s": run / run_s if run_s > 0 else None}
    ptime = np.where(pas >= 0, pas * algorithm.step, np.nan)
    return Paths(
        times=times,
        x=rec,
        diverged=div >= 0,
        diverged_step=div,
        passage_step=pas,
        passage_time=ptime,
        parameters=params,
        timing=timing,
    )


def sample_noise(problem: Problem, *, seed: int, path: int, n: int, stream: str = "noise") -> np.ndarray:
    """The first ``n`` draws xi (n, noise_dim) that path ``path`` makes (``stream="svag"``: SVAG's second draws).

    For naive twins: a slow NumPy loop fed these draws must reproduce the kernel.
    """
    from . import generic as _g
    from .rng import STREAM_DATA

    if stream not in ("noise", "svag"):
        raise DiffapproxError("stream", "'noise' or 'svag'", stream)
    row = STREAM_DATA if stream == "noise" else _g.STREAM_SVAG
    seed = check_int("seed", seed, 0, 2**64 - 1)
    path = check_int("path", path, 0, 2**63)
    n = check_int("n", n, 0)
    return _g.sample_noise(
        problem.noise, problem.par.copy(), problem.noise_dim, np.uint64(seed), np.uint64(path), n, row
    )
