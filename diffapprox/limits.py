"""The limits of Async-MSGD: ODE (3.2) and the OU SDEs (3.3), (A.2) with the escape-time law; SMEs of any algorithm."""

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
