"""diffapprox: do the diffusion-approximation claims about Async-MSGD hold?

The public API is this one page; implementation lives in private modules.
"""

from ._errors import DiffapproxError as DiffapproxError
from ._laws import CAP_MASS as CAP_MASS
from ._laws import DATA_LAWS as DATA_LAWS
from ._laws import DataLaw as DataLaw
from ._laws import DelayLaw as DelayLaw
from ._laws import data_law as data_law
from ._laws import delay_law as delay_law
from ._laws import trace_delay as trace_delay
from ._problem import StreamingPCA as StreamingPCA
from ._results import ClaimResult as ClaimResult
from ._simulate import Trajectory as Trajectory
from ._simulate import simulate as simulate
from ._results import Measurement as Measurement
from ._results import Verdict as Verdict
from ._results import combine_verdicts as combine_verdicts
from ._claims import Cell as Cell
from ._claims import Claim as Claim
from ._claims import ClaimOutput as ClaimOutput
from ._claims import all_claims as all_claims
from ._claims import get_claim as get_claim
from ._claims import register as register

__version__ = "0.1.0"

# limits and theory (issue 3)
from ._theory import Constants as Constants
from ._theory import T1 as T1
from ._theory import T2 as T2
from ._theory import T3 as T3
from ._theory import N1 as N1
from ._theory import N2 as N2
from ._theory import N3 as N3
from ._theory import N3_hat as N3_hat
from ._theory import N3_tilde as N3_tilde
from ._theory import lemma31_norm_bound as lemma31_norm_bound
from ._theory import lemma31_step_bound as lemma31_step_bound
from ._theory import tau_threshold_ode as tau_threshold_ode
from ._theory import tau_threshold_sde as tau_threshold_sde
from ._theory import why_undefined as why_undefined
from . import limits as limits
from ._theory import theory_summary as theory_summary
from .limits import ODELimit as ODELimit
from .limits import OULimit as OULimit
from .limits import EscapeTime as EscapeTime
from .limits import escape_time as escape_time
from .limits import ou_optimum as ou_optimum
from .limits import ou_saddle as ou_saddle
from .limits import stationary_variance as stationary_variance
from ._stability import spectral_radius as spectral_radius
from ._stability import critical_gain as critical_gain
from ._stability import largest_stable_delay as largest_stable_delay
from ._stability import max_stable_delay as max_stable_delay
from ._stability import max_stable_momentum as max_stable_momentum
from ._stability import design_delay as design_delay
from ._stability import advise as advise
from .report import load_results as load_results
from .report import render_report as render_report
from ._regression import compare_to_baseline as compare_to_baseline
from ._live import live as live
from ._live import LiveRun as LiveRun
from ._dask import DaskExecutor as DaskExecutor
