"""The memory guard of the exact models: estimate a model's size before building it.

A time-indexed MILP has one column per (request, start step) and ``o_i`` memory
non-zeros per column; the CP-SAT completion-event model has a Boolean and two
constraints per pair of requests and a reified term per ordered pair. On real
traces (``n`` in the thousands) either is far larger than the machine: the
CP-SAT model of the first 1,000 requests of the conversation trace took 5.6 GB.
So the exact solvers estimate the size first (:func:`estimate_model_bytes`,
:func:`estimate_cpsat_bytes`: bytes per non-zero / per pair measured on this
package's models, see ``docs/contract.md``) and, above ``max_model_bytes``
(default :data:`DEFAULT_MAX_MODEL_BYTES`, 2 GB), do not build the model: they
return the warm-start schedule with status ``time_limit``, the combinatorial
bound and a note that says why (:func:`guarded_result`). ``lpsched export``
uses the same estimate and refuses above the cap unless ``--force``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from lpsched.instance import Instance
from lpsched.schedule import Result, Schedule, SolveStatus

__all__ = ["BYTES_PER_NONZERO", "DEFAULT_MAX_MODEL_BYTES", "estimate_cpsat_bytes",
           "estimate_model_bytes", "format_bytes", "guarded_result"]

DEFAULT_MAX_MODEL_BYTES = 2e9
"""Largest model (estimated bytes) the exact solvers build by default."""

#: Resident bytes per memory-row non-zero of the time-indexed model, by how it is built
#: (sparse arrays + HiGHS's copies for ``highspy``; PuLP's Python objects for ``pulp``
#: and for the MPS/LP export).
BYTES_PER_NONZERO = {"highspy": 90.0, "pulp": 450.0}
BYTES_PER_COLUMN = {"highspy": 120.0, "pulp": 1200.0}

#: CP-SAT completion-event model: bytes per ordered pair of requests (one reified memory
#: term and half a disjunction each) and per request; cumulative model: per interval.
CPSAT_BYTES_PER_PAIR = 6000.0
CPSAT_BYTES_PER_REQUEST = 20000.0
CPSAT_BYTES_PER_INTERVAL = 1500.0


def estimate_model_bytes(columns: int, nonzeros: int, engine: str = "highspy") -> float:
    """Estimated resident bytes of the time-indexed model with ``columns`` start variables
    and ``nonzeros`` memory-row non-zeros, built by ``engine`` (``highspy`` or ``pulp``)."""
    return BYTES_PER_NONZERO[engine] * nonzeros + BYTES_PER_COLUMN[engine] * columns


def estimate_cpsat_bytes(instance: Instance, formulation: str = "events") -> float:
    """Estimated resident bytes of the CP-SAT model of ``instance`` (and of its search)."""
    n = instance.n
    if formulation == "cumulative":
        return CPSAT_BYTES_PER_INTERVAL * float((instance.decode + 1).sum()) \
            + CPSAT_BYTES_PER_REQUEST * n
    return CPSAT_BYTES_PER_PAIR * n * (n - 1) + CPSAT_BYTES_PER_REQUEST * n


def format_bytes(b: float) -> str:
    """``1.5 GB`` style."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= size:
            return f"{b / size:.1f} {unit}"
    return f"{b:.0f} B"


def guarded_result(name: str, instance: Instance, incumbent: np.ndarray, bound: float,
                   estimate: float, cap: float, t0: float, stats: dict[str, Any]) -> Result:
    """The result of a solver that did not build its model: the warm start, the
    combinatorial ``bound``, status ``time_limit`` and the reason."""
    obj = int((incumbent + instance.decode - instance.arrival).sum())
    msg = (f"model not built: estimated {format_bytes(estimate)} exceeds max_model_bytes "
           f"{format_bytes(cap)}; returning the warm start and the combinatorial bound "
           "(raise max_model_bytes to build it anyway)")
    return Result(name, SolveStatus.TIME_LIMIT, obj, min(float(bound), float(obj)),
                  time.perf_counter() - t0, Schedule(instance, incumbent), message=msg,
                  stats={**stats, "model_bytes_estimate": int(estimate), "model_built": False})
