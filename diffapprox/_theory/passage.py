"""Mean first-passage times of one-dimensional gradient diffusions: exact quadrature and Kramers' law.

For ``dX = -U'(X) dt + sqrt(2D) dB`` started at ``a`` and stopped at the first passage over
``b > a`` (the process is free below ``a``, where ``U`` grows), the mean first-passage time is
(Gardiner, Handbook of Stochastic Methods, eq. 5.2.158 with a reflecting end at -infinity)::

    T(a -> b) = (1/D) int_a^b exp(U(y)/D) int_{-inf}^y exp(-U(z)/D) dz dy.

Kramers' formula (Kramers 1940; Haenggi, Talkner, Borkovec 1990, eq. 4.7b) approximates the
passage from a well bottom ``a`` over a barrier top ``s`` for ``D << U(s) - U(a)``::

    T_K = 2 pi / sqrt(U''(a) |U''(s)|) exp((U(s) - U(a))/D).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.integrate import cumulative_simpson

from .._core.errors import DiffapproxError, check_int, check_range

__all__ = ["mfpt_quadrature", "kramers_time"]


def mfpt_quadrature(
    U: Callable[[np.ndarray], np.ndarray], D: float, a: float, b: float, *, lower: float, n: int = 200_001
) -> float:
    """``T(a -> b)`` by the double integral above, on a grid (composite Simpson, ``n`` points).

    Parameters
    ----------
    U : callable
        The potential, vectorised.
    D : float
        Diffusion coefficient (noise ``sqrt(2D) dB``).
    a, b : float
        Start and target, ``a < b``.
    lower : float
        Where the inner integral starts: far enough left that ``exp(-U/D)`` is negligible there.
    n : int
        Grid points on ``[lower, b]``.
    """
    D = check_range("D", D, 0.0, None, lo_open=True)
    n = check_int("n", n, 101)
    if not lower < a < b:
        raise DiffapproxError("a, b", "lower < a < b", (lower, a, b))
    y = np.linspace(lower, b, n)
    u = np.asarray(U(y), dtype=float)
    shift = float(u.min())
    inner = cumulative_simpson(np.exp(-(u - shift) / D), x=y, initial=0.0)
    # exp(U/D) * inner, with the shift cancelled: exp((U - shift)/D) * exp(-(U - shift) ...) stays finite
    integrand = np.exp((u - shift) / D) * inner / D
    full = cumulative_simpson(integrand, x=y, initial=0.0)
    return float(full[-1] - np.interp(a, y, full))


def kramers_time(barrier: float, curv_well: float, curv_top: float, D: float) -> float:
    """Kramers' ``2 pi / sqrt(U''(a) |U''(s)|) exp(barrier / D)``."""
    D = check_range("D", D, 0.0, None, lo_open=True)
    return 2.0 * math.pi / math.sqrt(curv_well * abs(curv_top)) * math.exp(barrier / D)
