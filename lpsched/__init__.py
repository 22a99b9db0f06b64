"""lpsched: optimization solvers for LLM serving.

KV-cache-constrained scheduling (exact models, bounds, heuristics, one checker
and one simulator) and attention-FFN disaggregation sizing.

The names below are imported on first use (PEP 562), so that ``import lpsched``
is cheap: the ``lpsched`` command installs its signal handlers before numpy,
scipy or a solver library is loaded (:mod:`lpsched.interrupts`). ``lpsched.check``
and ``lpsched.solve`` are the functions, as with eager imports (the submodules
are ``sys.modules["lpsched.check"]`` and ``sys.modules["lpsched.solve"]``).
"""

from __future__ import annotations

import importlib
import sys
import types

# first: when this is the `lpsched` command starting, a signal from now on exits 130/143
# without a traceback (lpsched.interrupts; a library import installs nothing)
from lpsched import interrupts as _interrupts  # noqa: F401

TYPE_CHECKING = False  # not typing's: `import lpsched` stays cheap (module docstring)
if TYPE_CHECKING:
    from typing import Any

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

#: Public name -> the module that defines it.
_HOME = {
    "CheckReport": "lpsched.check", "check": "lpsched.check",
    "Instance": "lpsched.instance", "InstanceError": "lpsched.instance",
    "Request": "lpsched.instance", "load": "lpsched.instance", "read_json": "lpsched.instance",
    "read_trace": "lpsched.instance",
    "Option": "lpsched.options", "OptionError": "lpsched.options",
    "register": "lpsched.registry", "unregister": "lpsched.registry",
    "Result": "lpsched.schedule", "Schedule": "lpsched.schedule",
    "SolveStatus": "lpsched.schedule",
    "solve": "lpsched.solve",
    "Deadline": "lpsched.stop",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'lpsched' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """Keeps ``lpsched.check`` and ``lpsched.solve`` the functions: importing the
    submodule of the same name would otherwise set the package attribute to it."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _HOME.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
