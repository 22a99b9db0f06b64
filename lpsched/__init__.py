"""lpsched: optimization solvers for LLM serving.

KV-cache-constrained scheduling (exact models, bounds, heuristics, one checker
and one simulator) and attention-FFN disaggregation sizing.
"""

from lpsched.check import CheckReport, check
from lpsched.instance import Instance, InstanceError, Request, load, read_json, read_trace
from lpsched.options import Option, OptionError
from lpsched.registry import register, unregister
from lpsched.schedule import Result, Schedule, SolveStatus
from lpsched.solve import solve
from lpsched.stop import Deadline

__all__ = [
    "CheckReport",
    "Deadline",
    "Instance",
    "InstanceError",
    "Option",
    "OptionError",
    "Request",
    "Result",
    "Schedule",
    "SolveStatus",
    "check",
    "load",
    "read_json",
    "read_trace",
    "register",
    "solve",
    "unregister",
]

__version__ = "0.1.0"
