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

Public homes, each name in one of them only (each module's ``__all__`` lists its names):

* ``diffapprox``         simulate, the theory summary, the algorithm protocol and registry, claims and
  their parts, results, the error class (this page);
* ``diffapprox.limits``  the paper's theory: limits, SMEs, constants and thresholds, stability, finite-step predictions;
* ``diffapprox.stats``   intervals, fits, verdict rules;
* ``diffapprox.engine``  laws, problems, the generic simulator's building blocks, experiments, executors;
* ``diffapprox.report``  HTML and PDF reports.

Names that used to be here and moved still resolve for one version, with a ``DeprecationWarning``
naming their new home. The claims (package ``diffapprox_claims``, source folder ``validation/``)
use only these public modules.
"""

from ._version import __version__ as __version__

# errors, the verdict data model, results
from ._core.errors import DiffapproxError as DiffapproxError
from ._core.results import ClaimResult as ClaimResult
from ._core.results import HistoryEntry as HistoryEntry
from ._core.results import Measurement as Measurement
from ._core.results import Verdict as Verdict
from ._core.results import combine_verdicts as combine_verdicts
from ._core.results_file import Results as Results
from ._core.seeds import derive_seed as derive_seed

# simulation and the algorithm protocol (bring your own problem and algorithm)
from ._engine.iterate import simulate_algorithm as simulate_algorithm
from ._engine.protocol import ALGORITHMS as ALGORITHMS
from ._engine.protocol import Algorithm as Algorithm
from ._engine.protocol import LinearModel as LinearModel
from ._engine.protocol import Problem as Problem
from ._engine.protocol import algorithm as algorithm
from ._engine.protocol import async_msgd as async_msgd
from ._engine.protocol import heavy_ball as heavy_ball
from ._engine.protocol import sgd as sgd
from ._engine.protocol import stream_normal as stream_normal
from ._engine.protocol import stream_sign as stream_sign
from ._engine.protocol import stream_uniform as stream_uniform
from ._engine.protocol import svag as svag
from ._engine.simulate import simulate as simulate

# theory: what the paper predicts for a problem, and how much momentum to keep
from ._theory.stability import advise as advise
from ._theory.summary import theory_summary as theory_summary

# claims
from ._run.claims import Cell as Cell
from ._run.claims import Claim as Claim
from ._run.claims import ClaimOutput as ClaimOutput
from ._run.claims import Control as Control
from ._run.claims import ControlSource as ControlSource
from ._run.claims import Mutant as Mutant
from ._run.claims import Findings as Findings
from ._run.claims import all_claims as all_claims
from ._run.claims import get_claim as get_claim
from ._run.claims import register as register

# public modules
from . import engine as engine
from . import limits as limits
from . import stats as stats
from . import report as report
from .report import load_results as load_results

__all__ = [
    "DiffapproxError",
    "ClaimResult",
    "HistoryEntry",
    "Measurement",
    "Verdict",
    "combine_verdicts",
    "Results",
    "load_results",
    "derive_seed",
    "simulate",
    "simulate_algorithm",
    "ALGORITHMS",
    "Algorithm",
    "LinearModel",
    "Problem",
    "algorithm",
    "async_msgd",
    "heavy_ball",
    "sgd",
    "stream_normal",
    "stream_sign",
    "stream_uniform",
    "svag",
    "advise",
    "theory_summary",
    "Cell",
    "Claim",
    "ClaimOutput",
    "Control",
    "ControlSource",
    "Mutant",
    "Findings",
    "all_claims",
    "get_claim",
    "register",
]

#: Names that moved from the top level, and their new home (resolved by ``__getattr__`` with a warning).
_MOVED = {
    **dict.fromkeys(engine.__all__, "diffapprox.engine"),
    **dict.fromkeys(limits.__all__, "diffapprox.limits"),
    "render_report": "diffapprox.report",
}


def __getattr__(name: str):
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module 'diffapprox' has no attribute {name!r}")
    import importlib
    import warnings

    warnings.warn(
        f"diffapprox.{name} moved to {home}.{name}: import it from {home} "
        "(the top-level name goes in the next version)",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(home), name)
