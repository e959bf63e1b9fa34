"""diffapprox: do the diffusion approximations of asynchronous momentum SGD hold at real step sizes?

The public API is this one page; the implementation lives in private subpackages, one per layer
(each imports only the layers above it in this list):

* ``_core``        the error class, strict JSON, the verdict data model;
* ``_engine``      random streams, data and delay laws, the streaming-PCA problem, kernels, ``simulate``;
* ``_theory``      the paper's formulas, exact linear stability, the limits (public as ``diffapprox.limits``);
* ``stats``        every interval, fit and verdict rule (public module);
* ``_run``         the claim interface and registry, executors (local, Dask), runner, regression;
* ``_experiments`` optional experiments: neural-network trade-off, live parameter server, diagnostics;
* ``report``       ``results.json`` -> HTML and PDF (public module);
* ``cli``          the ``diffapprox`` command.

The claims themselves live in the ``diffapprox_claims`` package (source folder ``validation/``) and use only the names below.
"""

from ._version import __version__ as __version__

# core: errors and the verdict data model
from ._core.errors import DiffapproxError as DiffapproxError
from ._core.results import ClaimResult as ClaimResult
from ._core.results import HistoryEntry as HistoryEntry
from ._core.results import Measurement as Measurement
from ._core.results import Verdict as Verdict
from ._core.results import combine_verdicts as combine_verdicts
from ._core.seeds import derive_seed as derive_seed

# engine: laws, problem, simulation
from ._engine.laws import CAP_MASS as CAP_MASS
from ._engine.laws import DATA_LAWS as DATA_LAWS
from ._engine.laws import DataLaw as DataLaw
from ._engine.laws import DelayLaw as DelayLaw
from ._engine.laws import data_law as data_law
from ._engine.laws import delay_law as delay_law
from ._engine.laws import trace_delay as trace_delay
from ._engine.problem import StreamingPCA as StreamingPCA
from ._engine.simulate import Trajectory as Trajectory
from ._engine.simulate import simulate as simulate

# engine: bring your own algorithm (problems, the algorithm registry, the generic simulator)
from ._engine.iterate import Paths as Paths
from ._engine.iterate import sample_noise as sample_noise
from ._engine.iterate import simulate_algorithm as simulate_algorithm
from ._engine.problems import double_well as double_well
from ._engine.problems import li_tai_e_quadratic as li_tai_e_quadratic
from ._engine.problems import linear_problem as linear_problem
from ._engine.problems import pca_problem as pca_problem
from ._engine.protocol import ALGORITHMS as ALGORITHMS
from ._engine.protocol import DRIFT_SIGNATURE as DRIFT_SIGNATURE
from ._engine.protocol import GRAD_SIGNATURE as GRAD_SIGNATURE
from ._engine.protocol import HESSIAN_SIGNATURE as HESSIAN_SIGNATURE
from ._engine.protocol import NOISE_SIGNATURE as NOISE_SIGNATURE
from ._engine.protocol import Algorithm as Algorithm
from ._engine.protocol import LinearModel as LinearModel
from ._engine.protocol import Problem as Problem
from ._engine.protocol import TestFunction as TestFunction
from ._engine.protocol import algorithm as algorithm
from ._engine.protocol import async_msgd as async_msgd
from ._engine.protocol import cosine_test_function as cosine_test_function
from ._engine.protocol import heavy_ball as heavy_ball
from ._engine.protocol import quadratic_test_function as quadratic_test_function
from ._engine.protocol import sgd as sgd
from ._engine.protocol import stream_normal as stream_normal
from ._engine.protocol import stream_sign as stream_sign
from ._engine.protocol import stream_uniform as stream_uniform
from ._engine.protocol import svag as svag

# theory: the paper's formulas, stability and limits
from ._theory.paper import N1 as N1
from ._theory.paper import N2 as N2
from ._theory.paper import N3 as N3
from ._theory.paper import N3_hat as N3_hat
from ._theory.paper import N3_tilde as N3_tilde
from ._theory.paper import T1 as T1
from ._theory.paper import T2 as T2
from ._theory.paper import T3 as T3
from ._theory.paper import Constants as Constants
from ._theory.paper import lemma31_norm_bound as lemma31_norm_bound
from ._theory.paper import lemma31_step_bound as lemma31_step_bound
from ._theory.paper import tau_threshold_ode as tau_threshold_ode
from ._theory.paper import tau_threshold_sde as tau_threshold_sde
from ._theory.paper import why_undefined as why_undefined
from ._theory.stability import advise as advise
from ._theory.stability import critical_gain as critical_gain
from ._theory.stability import design_delay as design_delay
from ._theory.stability import largest_stable_delay as largest_stable_delay
from ._theory.stability import max_stable_delay as max_stable_delay
from ._theory.stability import max_stable_momentum as max_stable_momentum
from ._theory.stability import spectral_radius as spectral_radius
from ._theory.summary import theory_summary as theory_summary
from ._theory.finite_step import FiniteStepPrediction as FiniteStepPrediction
from ._theory.finite_step import ModeMoments as ModeMoments
from ._theory.finite_step import delay_pmf as delay_pmf
from ._theory.finite_step import finite_step_prediction as finite_step_prediction
from ._theory.finite_step import linear_prediction as linear_prediction
from ._theory.finite_step import linear_second_moment as linear_second_moment
from ._theory.finite_step import linear_variance_grid as linear_variance_grid
from ._theory.finite_step import mode_moments as mode_moments
from ._theory.finite_step import stationary_variance_finite_step as stationary_variance_finite_step
from ._theory.finite_step import stationary_variance_linear as stationary_variance_linear
from . import limits as limits
from .limits import EscapeTime as EscapeTime
from .limits import ODELimit as ODELimit
from .limits import OULimit as OULimit
from .limits import escape_time as escape_time
from .limits import ou_optimum as ou_optimum
from .limits import ou_saddle as ou_saddle
from .limits import stationary_variance as stationary_variance

# statistics
from . import stats as stats

# running claims
from ._run.claims import Cell as Cell
from ._run.claims import Claim as Claim
from ._run.claims import ClaimOutput as ClaimOutput
from ._run.claims import Findings as Findings
from ._run.claims import all_claims as all_claims
from ._run.claims import cell_seed as cell_seed
from ._run.claims import get_claim as get_claim
from ._run.claims import register as register
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

# reports
from .report import load_results as load_results
from .report import render_report as render_report
