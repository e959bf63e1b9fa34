"""The limits of Async-MSGD: ODE (3.2) and the OU SDEs (3.3), (A.2) with the escape-time law."""

from .ode import ODELimit as ODELimit
from .ode import ode_closed_form as ode_closed_form
from .ode import ode_drift as ode_drift
from .ode import ode_solve_ivp as ode_solve_ivp
from .sde import EscapeTime as EscapeTime
from .sde import OULimit as OULimit
from .sde import escape_time as escape_time
from .sde import ou_optimum as ou_optimum
from .sde import ou_saddle as ou_saddle
from .sde import stationary_variance as stationary_variance
