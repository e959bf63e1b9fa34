"""The claims: one module per claim, each registered by id on import.

To add a claim, write ``validation/<name>.py`` with a :class:`diffapprox.Claim`
subclass decorated by :func:`diffapprox.register`, and import it below.
"""

import importlib

# Order here is the order of the reports.
_MODULES = [
    # filled in as claims land; a module that is missing is an error, not a silent skip
    "verdict_calibration",  # DESIGN.md §4: the verdict machinery tested on itself
    "figure1",  # Section 5.1 / Figure 1 (issue 5)
    "delay_threshold",  # Remark 3.11, Thms 3.3/3.5 (issue 5)
    "random_delay",  # Section 4 (issue 5)
    "async_speedup",  # Prop 3.6, Remarks 3.7, 3.11 (issue 5)
    "norm_bound",  # Lemma 3.1 (issue 5)
    "momentum_bias",  # Lemma 3.2 (issue 5)
    "async_error",  # Lemma 3.4 (issue 5)
    "ode_limit",  # Theorem 3.3: ODE (3.2) limit, order in eta
    "ou_optimum",  # Theorem 3.5, Prop 3.6: OU (3.3) near the optimum
    "saddle_escape",  # Theorem 3.9, Prop 3.10: escape from e2, T1 main vs appendix
    "traverse_time",  # Prop 3.8: Phase II time vs T2
    "phase3_time",  # Prop 3.6: Phase III time vs T3 (main / appendix)
    "dnn_tradeoff",  # Section 5.2 / Figure 2 (needs the dnn extra to run, not to import)
    "live_staleness",  # issue 7: live parameter server on Dask, measured staleness (needs the distributed extra)
]

for _m in _MODULES:
    importlib.import_module(f"validation.{_m}")
