"""The limits of Async-MSGD: ODE (3.2) and the OU SDEs (3.3), (A.2) with the escape-time law."""

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
