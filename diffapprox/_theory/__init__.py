"""Theory: the paper's formulas, exact linear stability, and the limits (ODE (3.2), OU (3.3), (A.2)); for any
problem and algorithm, the SMEs of order 1 and 2, exact laws of linear recursions and first-passage times.

Layer 2: imports the engine and the core.
"""
