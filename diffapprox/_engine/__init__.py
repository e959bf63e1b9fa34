"""Engine: random streams, data and delay laws, the streaming-PCA problem, numba kernels and ``simulate``;
the problem/algorithm protocol (any ``g(x, xi)`` under SGD, heavy-ball, Async-MSGD, SVAG), its generic
kernel, reference problems and ``simulate_algorithm``.

Layer 1: imports only :mod:`diffapprox._core`.
"""
