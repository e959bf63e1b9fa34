"""Theory: the paper's formulas, exact linear stability, and the limits (ODE (3.2), OU (3.3), (A.2)).

Layer 2: imports the engine and the core.
"""
