"""Optional experiments: the neural-network trade-off, the live parameter server, path diagnostics.

Layer 5: imports the running layer (for Dask), the engine and the core.
"""
