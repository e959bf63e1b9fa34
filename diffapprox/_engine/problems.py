"""Reference problems in the protocol of :mod:`diffapprox._engine.protocol`, named by source and equation.

* :func:`linear_problem`: ``g(x, xi) = H (x - c) + S xi``, xi iid Gaussian or Rademacher (the
  quadratics of the SME, SVAG and stationary-covariance claims);
* :func:`li_tai_e_quadratic`: Li, Tai and E (JMLR 2019, Section 5.1), ``f_gamma(x) = 1/2 |x - gamma|^2 - d/2``,
  ``E gamma = 0``, ``E gamma gamma^T = I``, so ``g(x, gamma) = x - gamma``, ``f(x) = 1/2 |x|^2``;
* :func:`double_well`: ``U(x) = (x^2 - 1)^2 / 4`` with additive Gaussian gradient noise of standard
  deviation ``sigma`` (Kramers 1940; SGD at step eta is the Euler scheme of
  ``dX = -U'(X) dt + sqrt(2D) dB`` with ``D = eta sigma^2 / 2``);
* :func:`pca_problem`: streaming PCA (paper eq. 1.4, update 2.1), whose Async-MSGD dispatches to the
  streaming-PCA kernel; the generic kernel runs it under SVAG(l).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._core.errors import DiffapproxError, check_range
from .laws import DATA_CUBE, DATA_GAUSSIAN, DATA_RADEMACHER, DATA_SPHERE
from .problem import StreamingPCA
from .protocol import (
    LinearModel,
    Problem,
    TestFunction,
    cosine_test_function,
    quadratic_test_function,
    stream_normal,
    stream_sign,
    stream_uniform,
)

__all__ = ["linear_problem", "li_tai_e_quadratic", "double_well", "pca_problem", "DOUBLE_WELL_REFERENCE"]

LAW_CODES = {"gaussian": 0, "rademacher": 1}

# The numba functions below are compiled to the protocol's signatures when a Problem is built
# (:class:`~diffapprox._engine.protocol.Problem` compiles them), not when this module is imported.


# ----------------------------------------------------------------------------- linear: g = H (x - c) + S xi
# par = [d, m, law, H (d*d, row-major), c (d), S (d*m, row-major)]
@njit(cache=True)
def _linear_grad(x, xi, par, out):
    d = np.int64(par[0])
    m = np.int64(par[1])
    h0 = 3
    c0 = h0 + d * d
    s0 = c0 + d
    for i in range(d):
        a = 0.0
        for j in range(d):
            a += par[h0 + i * d + j] * (x[j] - par[c0 + j])
        for j in range(m):
            a += par[s0 + i * m + j] * xi[j]
        out[i] = a


@njit(cache=True)
def _linear_noise(state, par, xi):
    if par[2] == 0.0:
        for j in range(xi.shape[0]):
            xi[j] = stream_normal(state)
    else:
        for j in range(xi.shape[0]):
            xi[j] = stream_sign(state)


@njit(cache=True)
def _linear_mean_grad(x, par, out):
    d = np.int64(par[0])
    c0 = 3 + d * d
    for i in range(d):
        a = 0.0
        for j in range(d):
            a += par[3 + i * d + j] * (x[j] - par[c0 + j])
        out[i] = a


@njit(cache=True)
def _linear_hessian(x, par, out):
    d = np.int64(par[0])
    for i in range(d):
        for j in range(d):
            out[i, j] = par[3 + i * d + j]


def linear_problem(
    H, center, S, law: str = "gaussian", *, name: str = "linear", test_functions=None, reference: str = ""
) -> Problem:
    """``g(x, xi) = H (x - c) + S xi`` with xi iid ``law`` (mean 0, variance 1): a quadratic with additive noise.

    Parameters
    ----------
    H : array_like, shape (d, d)
        Symmetric Hessian of ``f(x) = 1/2 (x - c)^T H (x - c)``.
    center : array_like, shape (d,)
    S : array_like, shape (d, m)
        Noise matrix: ``Sigma = S S^T``.
    law : {"gaussian", "rademacher"}
    test_functions : dict of str -> TestFunction, optional
        Default: ``{"f": f}``.
    """
    lin = LinearModel(H=H, center=center, S=S, law=law)
    par = np.concatenate([[lin.d, lin.m, LAW_CODES[lin.law]], lin.H.ravel(), lin.center, lin.S.ravel()])
    if test_functions is None:
        f = quadratic_test_function("f", lin.H, -lin.H @ lin.center, 0.5 * lin.center @ lin.H @ lin.center)
        test_functions = {"f": f}
    return Problem(
        name=name,
        dim=lin.d,
        noise_dim=lin.m,
        grad=_linear_grad,
        noise=_linear_noise,
        par=par,
        mean_grad=_linear_mean_grad,
        hessian=_linear_hessian,
        test_functions=dict(test_functions),
        linear=lin,
        reference=reference or "g(x, xi) = H (x - c) + S xi, xi iid mean 0 variance 1",
    )


def li_tai_e_quadratic(d: int = 3, gamma: str = "gaussian") -> Problem:
    """The quadratic of Li, Tai and E (JMLR 2019, Section 5.1): ``f_gamma(x) = 1/2 |x - gamma|^2 - d/2``.

    ``g(x, gamma) = x - gamma``, ``f(x) = E f_gamma(x) = 1/2 |x|^2``, ``Sigma = I``; gamma is Gaussian or
    Rademacher (same two moments).  Test functions: ``f`` and ``cos1 = cos(x_1)``.
    """
    eye = np.eye(d)
    tf = {
        "f": quadratic_test_function("f", eye, description="f(x) = 1/2 |x|^2"),
        "cos1": cosine_test_function("cos1", eye[0], description="cos(x_1)"),
    }
    return linear_problem(
        eye,
        np.zeros(d),
        -eye,
        gamma,
        name=f"li-tai-e/gamma={gamma}",
        test_functions=tf,
        reference="Li, Tai, E (JMLR 2019) Section 5.1: f_gamma(x) = 1/2 |x - gamma|^2 - d/2",
    )


# ----------------------------------------------------------------------------- double well
DOUBLE_WELL_REFERENCE = "U(x) = (x^2 - 1)^2 / 4, Kramers (1940); barrier Delta U = 1/4, U''(+-1) = 2, U''(0) = -1"


@njit(cache=True)
def _dw_grad(x, xi, par, out):
    out[0] = x[0] * (x[0] * x[0] - 1.0) + par[0] * xi[0]


@njit(cache=True)
def _dw_noise(state, par, xi):
    xi[0] = stream_normal(state)


@njit(cache=True)
def _dw_mean_grad(x, par, out):
    out[0] = x[0] * (x[0] * x[0] - 1.0)


@njit(cache=True)
def _dw_hessian(x, par, out):
    out[0, 0] = 3.0 * x[0] * x[0] - 1.0


def double_well(sigma: float) -> Problem:
    """``g(x, xi) = U'(x) + sigma xi``, ``U(x) = (x^2 - 1)^2/4``, xi standard normal (d = 1)."""
    sigma = check_range("sigma", sigma, 0.0)
    return Problem(
        name=f"double-well/sigma={sigma:g}",
        dim=1,
        noise_dim=1,
        grad=_dw_grad,
        noise=_dw_noise,
        par=np.array([sigma]),
        mean_grad=_dw_mean_grad,
        hessian=_dw_hessian,
        noise_cov=lambda x: np.array([[sigma * sigma]]),
        test_functions={"x": TestFunction(name="x", f=lambda x: x[..., 0], degree=1, description="x")},
        reference=DOUBLE_WELL_REFERENCE,
    )


# ----------------------------------------------------------------------------- streaming PCA
# par = [law code, sqrt(lambda_1), ..., sqrt(lambda_d)]; xi = Y (d,), the sample in the eigenbasis
@njit(cache=True)
def _pca_grad(w, y, par, out):
    # descent direction of (2.1): h_{k+1} = h_k + mu (h_k - h_{k-1}) + eta (s Y - s^2 w), s = Y.w
    s = 0.0
    for j in range(w.shape[0]):
        s += y[j] * w[j]
    ss = s * s
    for j in range(w.shape[0]):
        out[j] = ss * w[j] - s * y[j]


@njit(cache=True)
def _pca_noise(state, par, y):
    d = y.shape[0]
    code = np.int64(par[0])
    if code == DATA_GAUSSIAN or code == DATA_SPHERE:
        for j in range(d):
            y[j] = stream_normal(state)
        if code == DATA_SPHERE:  # sqrt(d) r, r uniform on the unit sphere
            q = 0.0
            for j in range(d):
                q += y[j] * y[j]
            f = math.sqrt(d) / math.sqrt(q)
            for j in range(d):
                y[j] *= f
    elif code == DATA_RADEMACHER:
        for j in range(d):
            y[j] = stream_sign(state)
    else:  # cube: sqrt(3) U, U uniform on [-1, 1)
        for j in range(d):
            y[j] = math.sqrt(3.0) * (2.0 * stream_uniform(state) - 1.0)
    for j in range(d):
        y[j] *= par[1 + j]


def pca_problem(pca: StreamingPCA) -> Problem:
    """Streaming PCA (paper eq. 1.4) in the protocol, in the eigenbasis: ``g(w, Y) = (Y.w)^2 w - (Y.w) Y``.

    Async-MSGD on this problem (SVAG l = 1) runs the streaming-PCA kernel through
    :func:`~diffapprox.simulate`: same results, same speed.  The generic kernel runs the rest
    (SVAG(l), l > 1), drawing Y one sample at a time from the same data stream (for the Gaussian
    law, the same numbers as the streaming-PCA kernel).
    """
    if not isinstance(pca, StreamingPCA):
        raise DiffapproxError("pca", "a StreamingPCA", type(pca).__name__)
    if pca.law.code not in (DATA_GAUSSIAN, DATA_RADEMACHER, DATA_SPHERE, DATA_CUBE):
        raise DiffapproxError("pca", "a data law the generic sampler knows", pca.law.name)
    par = np.concatenate([[pca.law.code], np.sqrt(pca.eigenvalues)])
    return Problem(
        name=f"streaming-pca/{pca.law.name}/spectrum={','.join(f'{v:g}' for v in pca.eigenvalues)}",
        dim=pca.d,
        noise_dim=pca.d,
        grad=_pca_grad,
        noise=_pca_noise,
        par=par,
        reference="paper eq. (1.4), update (2.1) in the eigenbasis",
        pca=pca,
    )
