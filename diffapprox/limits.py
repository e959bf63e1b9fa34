"""The paper's theory, public: the limits of Async-MSGD (ODE (3.2), the OU SDEs (3.3), (A.2) and the
escape-time law), SMEs of any algorithm, the paper's constants and thresholds (Theorems 3.1-3.3,
Lemma 3.1), exact linear stability and the finite-step predictions."""

# the limits of Async-MSGD: ODE (3.2), OU SDEs (3.3) and (A.2), escape time
from ._theory.ode import ODELimit as ODELimit
from ._theory.ode import ode_closed_form as ode_closed_form
from ._theory.ode import ode_drift as ode_drift
from ._theory.ode import ode_solve_ivp as ode_solve_ivp
from ._theory.sde import EscapeTime as EscapeTime
from ._theory.sde import OULimit as OULimit
from ._theory.sde import escape_time as escape_time
from ._theory.sde import ou_optimum as ou_optimum
from ._theory.sde import ou_saddle as ou_saddle
from ._theory.sde import stationary_variance as stationary_variance

# any problem and algorithm: SMEs (orders 1 and 2), exact linear recursions, first-passage times
from ._theory.linear import LinearRecursion as LinearRecursion
from ._theory.linear import discrete_lyapunov as discrete_lyapunov
from ._theory.linear import linear_recursion as linear_recursion
from ._theory.passage import kramers_time as kramers_time
from ._theory.passage import mfpt_quadrature as mfpt_quadrature
from ._theory.sme import SME as SME
from ._theory.sme import SchemeCheck as SchemeCheck
from ._theory.sme import WeakErrorPlan as WeakErrorPlan
from ._theory.sme import plan_weak_errors as plan_weak_errors
from ._theory.sme import sme as sme
from ._theory.sme import sme_expectation as sme_expectation
from ._theory.sme import sme_paths as sme_paths

# the paper's constants, phase times and delay thresholds
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

# exact linear stability of the delayed momentum recursion
from ._theory.stability import critical_gain as critical_gain
from ._theory.stability import design_delay as design_delay
from ._theory.stability import largest_stable_delay as largest_stable_delay
from ._theory.stability import max_stable_delay as max_stable_delay
from ._theory.stability import max_stable_momentum as max_stable_momentum
from ._theory.stability import spectral_radius as spectral_radius

# finite-step predictions (step size not sent to zero)
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

__all__ = [
    "ODELimit",
    "ode_closed_form",
    "ode_drift",
    "ode_solve_ivp",
    "EscapeTime",
    "OULimit",
    "escape_time",
    "ou_optimum",
    "ou_saddle",
    "stationary_variance",
    "LinearRecursion",
    "discrete_lyapunov",
    "linear_recursion",
    "kramers_time",
    "mfpt_quadrature",
    "SME",
    "SchemeCheck",
    "WeakErrorPlan",
    "plan_weak_errors",
    "sme",
    "sme_expectation",
    "sme_paths",
    "N1",
    "N2",
    "N3",
    "N3_hat",
    "N3_tilde",
    "T1",
    "T2",
    "T3",
    "Constants",
    "lemma31_norm_bound",
    "lemma31_step_bound",
    "tau_threshold_ode",
    "tau_threshold_sde",
    "why_undefined",
    "critical_gain",
    "design_delay",
    "largest_stable_delay",
    "max_stable_delay",
    "max_stable_momentum",
    "spectral_radius",
    "FiniteStepPrediction",
    "ModeMoments",
    "delay_pmf",
    "finite_step_prediction",
    "linear_prediction",
    "linear_second_moment",
    "linear_variance_grid",
    "mode_moments",
    "stationary_variance_finite_step",
    "stationary_variance_linear",
]
