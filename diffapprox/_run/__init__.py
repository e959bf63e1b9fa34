"""Running claims: the claim interface and registry, executors (local, Dask), runner, checkpoints, regression.

Layer 4: imports statistics, theory, engine and core; never a claim module.
"""
