"""The simulation engine, public: data and delay laws, reference problems, the generic simulator's
building blocks (paths, noise, test functions, signatures), the optional experiments (neural-network
trade-off, live parameter server, diagnostics) and the ways claims are run (Dask executor, cell
seeds, the ``--baseline`` regression).

The everyday entry points (:func:`diffapprox.simulate`, :func:`diffapprox.simulate_algorithm`, the
algorithm registry and :class:`diffapprox.Problem`) are at the top of ``diffapprox``.
"""

# data and delay laws
from ._engine.laws import CAP_MASS as CAP_MASS
from ._engine.laws import DATA_LAWS as DATA_LAWS
from ._engine.laws import DataLaw as DataLaw
from ._engine.laws import DelayLaw as DelayLaw
from ._engine.laws import data_law as data_law
from ._engine.laws import delay_law as delay_law
from ._engine.laws import trace_delay as trace_delay

# problems: the paper's streaming PCA and reference problems named by source
from ._engine.problem import StreamingPCA as StreamingPCA
from ._engine.problems import double_well as double_well
from ._engine.problems import li_tai_e_quadratic as li_tai_e_quadratic
from ._engine.problems import linear_problem as linear_problem
from ._engine.problems import pca_problem as pca_problem

# simulation outputs and the generic simulator's building blocks
from ._engine.simulate import Trajectory as Trajectory
from ._engine.iterate import Paths as Paths
from ._engine.iterate import sample_noise as sample_noise
from ._engine.protocol import DRIFT_SIGNATURE as DRIFT_SIGNATURE
from ._engine.protocol import GRAD_SIGNATURE as GRAD_SIGNATURE
from ._engine.protocol import HESSIAN_SIGNATURE as HESSIAN_SIGNATURE
from ._engine.protocol import NOISE_SIGNATURE as NOISE_SIGNATURE
from ._engine.protocol import TestFunction as TestFunction
from ._engine.protocol import cosine_test_function as cosine_test_function
from ._engine.protocol import quadratic_test_function as quadratic_test_function

# running claims: per-cell seeds, the Dask executor, the regression against a baseline
from ._run.claims import cell_seed as cell_seed
from ._run.dask import DaskExecutor as DaskExecutor
from ._run.regression import compare_to_baseline as compare_to_baseline

# optional experiments (their heavy imports happen on first use)
from ._experiments.diagnostics import path_diagnostics as path_diagnostics
from ._experiments.dnn import TrainConfig as TrainConfig
from ._experiments.dnn import mlp_description as mlp_description
from ._experiments.dnn import train_async_msgd as train_async_msgd
from ._experiments.dnn import train_async_msgd_ensemble as train_async_msgd_ensemble
from ._experiments.live import LiveRun as LiveRun
from ._experiments.live import live as live
from ._experiments.live import staleness_pmf as staleness_pmf

__all__ = [
    "CAP_MASS",
    "DATA_LAWS",
    "DataLaw",
    "DelayLaw",
    "data_law",
    "delay_law",
    "trace_delay",
    "StreamingPCA",
    "double_well",
    "li_tai_e_quadratic",
    "linear_problem",
    "pca_problem",
    "Trajectory",
    "Paths",
    "sample_noise",
    "DRIFT_SIGNATURE",
    "GRAD_SIGNATURE",
    "HESSIAN_SIGNATURE",
    "NOISE_SIGNATURE",
    "TestFunction",
    "cosine_test_function",
    "quadratic_test_function",
    "cell_seed",
    "DaskExecutor",
    "compare_to_baseline",
    "path_diagnostics",
    "TrainConfig",
    "mlp_description",
    "train_async_msgd",
    "train_async_msgd_ensemble",
    "LiveRun",
    "live",
    "staleness_pmf",
]
