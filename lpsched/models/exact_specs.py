"""The declarations of the exact solvers ``milp`` and ``cpsat``: their options and specs.

Every other algorithm declares its spec in its own module (:mod:`lpsched.registry`).
These two are declared here, beside :mod:`lpsched.models.time_indexed` and
:mod:`lpsched.models.cpsat`, because those import PuLP, HiGHS and OR-Tools at once
(about 0.6 s and 1 s): ``lpsched algorithms`` and option checking read this light module,
and the solver module is imported when the solver runs.

The options shared by both (the warm start, the memory guard, threads, symmetry
breaking) are declared once, in :class:`WarmStartParams`, and consumed once, by
:class:`lpsched.models.stages.ExactSolve`. Adding a warm-start option is one field here
and its use in :mod:`lpsched.models.stages`.

>>> MilpParams().threads, CpsatParams(formulation="cumulative").formulation
(1, 'cumulative')
>>> prm, rest = MilpParams.split({"threads": 2, "presolve": "on"})
>>> prm.threads, rest
(2, {'presolve': 'on'})
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lpsched.models.guard import DEFAULT_MAX_MODEL_BYTES
from lpsched.options import param
from lpsched.registry import AlgorithmSpec

__all__ = ["ALGORITHMS", "CpsatParams", "MilpParams", "WarmStartParams"]


@dataclass(frozen=True)
class WarmStartParams:
    """The options every exact model shares (:class:`lpsched.models.stages.ExactSolve`)."""

    incumbent: Any = param(None, "schedule", "a feasible schedule: horizon, MIP start/hint "
                           "(default: warm_start)")
    warm_start: str = param("local-search", "str", "how to get the starting schedule",
                            choices=("local-search", "serial"))
    warm_start_time: float | None = param(None, "float", "seconds for the warm start (part of "
                                          "the time limit; default 10% of it, at most 10 s)",
                                          minimum=0)
    symmetry_breaking: bool = param(True, "bool", "order identical requests (valid: "
                                    "relabelling)")
    threads: int = param(1, "int", "solver threads (1: deterministic)", minimum=1)
    max_model_bytes: float = param(DEFAULT_MAX_MODEL_BYTES, "float", "memory guard: a model "
                                   "estimated above this peak memory (bytes, default 2e9) is "
                                   "not built; the warm start, improved by local search, is "
                                   "returned with status time_limit", minimum=0)

    @classmethod
    def split(cls, options: Mapping[str, Any], base: WarmStartParams | None = None,
              ) -> tuple[Any, dict[str, Any]]:
        """``options`` split into this class's fields (over ``base``, default the defaults)
        and the rest (the solver's own parameters, passed through by name)."""
        names = {f.name for f in dataclasses.fields(cls)}
        mine = {k: v for k, v in options.items() if k in names}
        rest = {k: v for k, v in options.items() if k not in names}
        start = base if base is not None else cls()
        if not isinstance(start, cls):
            raise TypeError(f"params must be a {cls.__name__}, got {type(start).__name__}")
        return dataclasses.replace(start, **mine), rest


@dataclass(frozen=True)
class MilpParams(WarmStartParams):
    """The options of :func:`lpsched.models.time_indexed.solve_milp` (HiGHS options by
    name besides)."""

    engine: str = param("highspy", "str", "load the model straight into highspy, or through "
                        "PuLP", choices=("highspy", "pulp"))
    msg: bool = param(False, "bool", "print the HiGHS log")
    tail_families: int = param(0, "int", "disjoint-tail clique families added as valid "
                               "inequalities", minimum=0)
    isolate: bool | None = param(None, "bool", "solve in a child process killed at the hard "
                                 "deadline or on Ctrl-C (default: models above 50,000 "
                                 "non-zeros)")


@dataclass(frozen=True)
class CpsatParams(WarmStartParams):
    """The options of :func:`lpsched.models.cpsat.solve_cpsat` (``CpSolverParameters``
    fields by name besides)."""

    formulation: str = param("events", "str", "memory constraints",
                             choices=("events", "cumulative"))
    tail_families: int | None = param(None, "int", "redundant disjoint-tail NoOverlap "
                                      "families (default 8 for cumulative, 0 for events)",
                                      minimum=0)
    ramp_pieces: int = param(0, "int", "redundant cumulative of lower memory staircases, that "
                             "many pieces per request (0: none)", minimum=0)
    log: bool = param(False, "bool", "print the CP-SAT search log")


#: The registry's declarations of the exact models (:mod:`lpsched.registry`); the solve
#: functions are imported on first use.
ALGORITHMS = (
    AlgorithmSpec("milp", "lpsched.models.time_indexed:solve_milp", "exact",
                  "Time-indexed MILP (PuLP model, HiGHS); bound and gap read from HiGHS",
                  "Sousa & Wolsey 1992 time-indexed formulation; formulations/time-indexed.md",
                  params=MilpParams, passthrough="lpsched.models._highs:HIGHS_OPTIONS"),
    AlgorithmSpec("cpsat", "lpsched.models.cpsat:solve_cpsat", "exact",
                  "CP-SAT (OR-Tools): memory at completion steps + pairwise overlap "
                  "disjunctions (formulation=cumulative: staircase intervals)",
                  "formulations/cpsat.md",
                  params=CpsatParams, passthrough="lpsched.models.cpsat:CPSAT_PARAMETERS"),
)
