"""Per-path random streams for the numba kernels: path i's numbers depend only on (seed, i).

Every path has its own generators, keyed only by ``(seed, path)``, so results do
not depend on the number of threads nor on how paths are split into chunks:

* ``key = mix64(mix64(seed + GOLDEN) ^ path)``; ``mix64`` is SplitMix64's
  finaliser, a bijection of 64-bit words, so two paths of one seed never share
  a key.
* A SplitMix64 sequence started at ``key`` seeds, in this order, the xoshiro256+
  states of the path's streams: :data:`STREAM_DATA` (the samples ``Y_k``),
  :data:`STREAM_DELAY` (the delays ``tau_k``) and :data:`STREAM_START` (a random
  start).  Separate streams keep the delay draws from shifting the data draws.
* Normals come from a 256-layer ziggurat (Marsaglia & Tsang 2000) on the top
  bits of xoshiro256+ outputs, the table layout of NumPy's
  ``Generator.standard_normal``.
  Uniforms are ``(x >> 11) * 2^-53``.

All functions here are ``@njit`` helpers inlined into the kernels; the
generator state lives in local variables (registers) while a block is filled.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "STREAM_DATA",
    "STREAM_DELAY",
    "STREAM_START",
    "N_STREAMS",
    "path_key",
    "seed_streams",
    "normals",
    "uniforms",
    "xoshiro_reference",
]

STREAM_DATA, STREAM_DELAY, STREAM_START = 0, 1, 2
N_STREAMS = 3

_U = np.uint64
GOLDEN = _U(0x9E3779B97F4A7C15)
_M1 = _U(0xBF58476D1CE4E5B9)
_M2 = _U(0x94D049BB133111EB)
_S30, _S27, _S31 = _U(30), _U(27), _U(31)
_S17, _S45, _S19 = _U(17), _U(45), _U(19)
_S8, _S1, _S11 = _U(8), _U(1), _U(11)
_ONE = _U(1)
_BYTE = _U(0xFF)
_BITS9 = _U(0x1FF)
_S9 = _U(9)
_MASK52 = _U(0x000FFFFFFFFFFFFF)
_TWO_M53 = 2.0**-53

# ----------------------------------------------------------------------------- ziggurat tables
ZIG_R = 3.6541528853610088
ZIG_V = 4.92867323399e-3


def _zig_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ki (acceptance thresholds on 52-bit integers), wi (scales), fi (densities)."""
    m1 = 4503599627370496.0  # 2^52
    ki = np.zeros(256, dtype=np.uint64)
    wi = np.zeros(256)
    fi = np.zeros(256)
    dn = tn = ZIG_R
    vn = ZIG_V
    q = vn / math.exp(-0.5 * dn * dn)
    ki[0] = np.uint64(int((dn / q) * m1))
    ki[1] = 0
    wi[0] = q / m1
    wi[255] = dn / m1
    fi[0] = 1.0
    fi[255] = math.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = math.sqrt(-2.0 * math.log(vn / dn + math.exp(-0.5 * dn * dn)))
        ki[i + 1] = np.uint64(int((dn / tn) * m1))
        tn = dn
        fi[i] = math.exp(-0.5 * dn * dn)
        wi[i] = dn / m1
    for a in (ki, wi, fi):
        a.setflags(write=False)
    return ki, wi, fi


ZIG_KI, ZIG_WI, ZIG_FI = _zig_tables()
#: ``wi`` then ``-wi``, indexed by the low 9 bits of a draw (layer and sign): the sign is
#: applied by the multiplication, ``rabs * (-wi) == -(rabs * wi)`` exactly (IEEE rounding is
#: symmetric), which saves the conditional negation on the fast path.
ZIG_WIS = np.concatenate([ZIG_WI, -ZIG_WI])
ZIG_WIS.setflags(write=False)

# ----------------------------------------------------------------------------- splitmix / seeding


@njit(cache=True, inline="always")
def mix64(z):
    """SplitMix64 finaliser (a bijection of uint64)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def path_key(seed, path):
    """The 64-bit key of path ``path`` under ``seed`` (both uint64)."""
    return mix64(mix64(seed + GOLDEN) ^ path)


@njit(cache=True, inline="always")
def seed_streams(seed, path, st):
    """Fill ``st`` (N_STREAMS, 4) uint64 with the xoshiro256+ states of one path."""
    x = path_key(seed, path)
    for i in range(st.shape[0]):
        for j in range(4):
            x = x + GOLDEN
            st[i, j] = mix64(x)


# ----------------------------------------------------------------------------- xoshiro256+


@njit(cache=True, inline="always")
def _next(s0, s1, s2, s3):
    """One xoshiro256+ step: returns (output, new state)."""
    r = s0 + s3
    t = s1 << _S17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << _S45) | (s3 >> _S19)
    return r, s0, s1, s2, s3


@njit(cache=True, inline="always")
def _u01(r):
    """Uniform double in [0, 1) from the top 53 bits."""
    return np.float64(np.int64(r >> _S11)) * _TWO_M53


@njit(cache=True, inline="always")
def next_u64(st, i):
    """Draw one uint64 from stream row ``i`` of ``st`` (state updated in place)."""
    r, a, b, c, e = _next(st[i, 0], st[i, 1], st[i, 2], st[i, 3])
    st[i, 0] = a
    st[i, 1] = b
    st[i, 2] = c
    st[i, 3] = e
    return r


@njit(cache=True, inline="always")
def next_uniform(st, i):
    """Uniform double in [0, 1) from stream row ``i``."""
    return _u01(next_u64(st, i))


@njit(cache=True, fastmath=False)  # stated: see diffapprox._engine.kernel (compile order)
def _zig_slow(idx, rabs, x, s0, s1, s2, s3):
    """Wedge and tail of the ziggurat (about 1.2% of draws); may draw more."""
    while True:
        if idx == 0:  # tail beyond ZIG_R
            while True:
                r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
                xx = -(1.0 / ZIG_R) * math.log1p(-_u01(r))
                r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
                yy = -math.log1p(-_u01(r))
                if yy + yy > xx * xx:
                    if (rabs >> _S8) & _ONE:
                        return -(ZIG_R + xx), s0, s1, s2, s3
                    return ZIG_R + xx, s0, s1, s2, s3
        else:
            r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
            if (ZIG_FI[idx - 1] - ZIG_FI[idx]) * _u01(r) + ZIG_FI[idx] < math.exp(-0.5 * x * x):
                return x, s0, s1, s2, s3
        r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
        idx = np.int64(r & _BYTE)
        r = r >> _S8
        rabs = (r >> _S1) & _MASK52
        x = np.float64(np.int64(rabs)) * ZIG_WI[idx]
        if r & _ONE:
            x = -x
        if rabs < ZIG_KI[idx]:
            return x, s0, s1, s2, s3


@njit(cache=True, inline="always")
def _zig(s0, s1, s2, s3):
    """One standard normal (ziggurat) and the new state."""
    r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
    idx = np.int64(r & _BYTE)
    rabs = (r >> _S9) & _MASK52
    # = (-1)^(bit 8 of r) * rabs * wi[idx], the sign taken from the table
    x = np.float64(np.int64(rabs)) * ZIG_WIS[np.int64(r & _BITS9)]
    if rabs >= ZIG_KI[idx]:
        x, s0, s1, s2, s3 = _zig_slow(idx, rabs, x, s0, s1, s2, s3)
    return x, s0, s1, s2, s3


@njit(cache=True, inline="always")
def fill_normals(st, i, buf, start, n):
    """Write ``n`` standard normals into ``buf[start:start+n]`` (``start >= 0``) from stream row ``i``."""
    s0, s1, s2, s3 = st[i, 0], st[i, 1], st[i, 2], st[i, 3]
    end = start + n
    m = start
    while m + 1 < end:  # two per iteration (less loop overhead)
        x, s0, s1, s2, s3 = _zig(s0, s1, s2, s3)
        buf[np.uint64(m)] = x
        x, s0, s1, s2, s3 = _zig(s0, s1, s2, s3)
        buf[np.uint64(m + 1)] = x
        m += 2
    if m < end:
        x, s0, s1, s2, s3 = _zig(s0, s1, s2, s3)
        buf[m] = x
    st[i, 0] = s0
    st[i, 1] = s1
    st[i, 2] = s2
    st[i, 3] = s3


@njit(cache=True, inline="always")
def fill_signs(st, i, buf, start, n):
    """``n`` fair signs +-1.0 (64 per xoshiro output, low bits first)."""
    s0, s1, s2, s3 = st[i, 0], st[i, 1], st[i, 2], st[i, 3]
    r = _U(0)
    left = 0
    for m in range(start, start + n):
        if left == 0:
            r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
            left = 64
        buf[m] = 1.0 - 2.0 * np.float64(np.int64(r & _ONE))
        r = r >> _S1
        left -= 1
    st[i, 0] = s0
    st[i, 1] = s1
    st[i, 2] = s2
    st[i, 3] = s3


@njit(cache=True, inline="always")
def fill_uniform_pm1(st, i, buf, start, n, scale):
    """``n`` draws of ``scale * U``, U uniform on [-1, 1)."""
    s0, s1, s2, s3 = st[i, 0], st[i, 1], st[i, 2], st[i, 3]
    for m in range(start, start + n):
        r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
        buf[m] = scale * (2.0 * _u01(r) - 1.0)
    st[i, 0] = s0
    st[i, 1] = s1
    st[i, 2] = s2
    st[i, 3] = s3


# ----------------------------------------------------------------------------- test helpers


@njit(cache=True)
def _normals(seed, path, stream, n):
    st = np.empty((N_STREAMS, 4), dtype=np.uint64)
    seed_streams(seed, path, st)
    out = np.empty(n)
    fill_normals(st, stream, out, 0, n)
    return out


@njit(cache=True)
def _uniforms(seed, path, stream, n):
    st = np.empty((N_STREAMS, 4), dtype=np.uint64)
    seed_streams(seed, path, st)
    out = np.empty(n)
    for m in range(n):
        out[m] = next_uniform(st, stream)
    return out


@njit(cache=True)
def _states(seed, path):
    st = np.empty((N_STREAMS, 4), dtype=np.uint64)
    seed_streams(seed, path, st)
    return st


def normals(seed: int, path: int, n: int, stream: int = STREAM_DATA) -> np.ndarray:
    """The first ``n`` normals of one path's stream (what the kernel's Gaussian law draws)."""
    return _normals(np.uint64(seed), np.uint64(path), stream, n)


def uniforms(seed: int, path: int, n: int, stream: int = STREAM_DELAY) -> np.ndarray:
    """The first ``n`` uniforms on [0, 1) of one path's stream."""
    return _uniforms(np.uint64(seed), np.uint64(path), stream, n)


def states(seed: int, path: int) -> np.ndarray:
    """The initial xoshiro256+ states (N_STREAMS, 4) of one path."""
    return _states(np.uint64(seed), np.uint64(path))


def xoshiro_reference(state: tuple[int, int, int, int], n: int) -> list[int]:
    """Pure-Python xoshiro256+ (the published algorithm), for tests."""
    m = (1 << 64) - 1
    s0, s1, s2, s3 = (int(v) for v in state)
    out = []
    for _ in range(n):
        out.append((s0 + s3) & m)
        t = (s1 << 17) & m
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 45) | (s3 >> 19)) & m
    return out


def splitmix_reference(seed: int, path: int, n_streams: int = N_STREAMS) -> list[list[int]]:
    """Pure-Python version of :func:`seed_streams`, for tests."""
    m = (1 << 64) - 1

    def mix(z: int) -> int:
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        return z ^ (z >> 31)

    g = 0x9E3779B97F4A7C15
    x = mix(mix((seed + g) & m) ^ path)
    out = []
    for _ in range(n_streams):
        row = []
        for _ in range(4):
            x = (x + g) & m
            row.append(mix(x))
        out.append(row)
    return out
