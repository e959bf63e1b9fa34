"""Engine: random streams, data and delay laws, the streaming-PCA problem, numba kernels and ``simulate``.

Layer 1: imports only :mod:`diffapprox._core`.
"""
