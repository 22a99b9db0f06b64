"""The guards of the exact models: estimate a model's memory and build time before building it.

A time-indexed MILP has one column per (request, start step) and ``o_i`` memory
non-zeros per column; the CP-SAT completion-event model has a Boolean and two
constraints per pair of requests and a reified term per ordered pair. On real
traces (``n`` in the thousands) either is far larger than the machine (the
CP-SAT model of the first 1,000 requests of the conversation trace took 5.6 GB
before this guard) and takes far longer to build than a short time limit.
So the exact solvers estimate the size first and do not build a model

* whose estimated peak resident memory exceeds ``max_model_bytes`` (default
  :data:`DEFAULT_MAX_MODEL_BYTES`, 2 GB), or
* whose estimated build time exceeds :data:`BUILD_SHARE` of the time left
  (the time is better spent improving the warm start).

They then return the warm-start schedule (improved by local search for the rest
of the time limit when the warm start is local search) with status ``time_limit``,
the combinatorial bound and a message that names the estimate
(:func:`guarded_result`). ``lpsched export`` refuses above the same memory cap, or
above :data:`DEFAULT_MAX_FILE_BYTES` of file, unless ``--force``.

Estimates (:func:`estimate_model_bytes`, :func:`estimate_cpsat_bytes`,
:func:`estimate_file_bytes`, :func:`estimate_build_seconds`) are linear in the
model's size, with constants fitted by ``benchmarks/bench_model_memory.py``
(results in ``benchmarks/results/model_memory.md``): peak RSS growth of a fresh
process that builds the model and runs the solver for 2 s, over sizes from
``10^4`` to ``10^7`` non-zeros (MILP) and ``10^3`` to ``10^6`` pairs (CP-SAT).

==========================  ================================  =====================
model                       size measure                      fit (max rel. error)
==========================  ================================  =====================
MILP, ``engine=highspy``    ``nnz`` memory non-zeros          see module constants
MILP, ``engine=pulp``       ``nnz``                           (filled in by the
export (PuLP + writer)      ``nnz``                           calibration below)
CP-SAT ``events``           ``pairs + terms``
CP-SAT ``cumulative``       ``intervals``
==========================  ================================  =====================

The sizes are computable before any expensive step: the CP-SAT ones from the
instance alone, the MILP ones from the start windows; before the warm start the
MILP is sized with the smallest windows any upper bound can give
(:func:`smallest_time_indexed_size`), so a model that cannot fit under any warm
start is refused before time is spent on one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from lpsched.instance import Instance
from lpsched.models.windows import Windows
from lpsched.schedule import Result, Schedule, SolveStatus
from lpsched.stop import Deadline

__all__ = ["BUILD_SHARE", "BuildStopped", "DEFAULT_MAX_FILE_BYTES", "DEFAULT_MAX_MODEL_BYTES", "Refusal",
           "cpsat_size", "estimate_build_seconds", "estimate_cpsat_bytes",
           "estimate_file_bytes", "estimate_model_bytes", "format_bytes", "guarded_result",
           "memory_refusal", "smallest_time_indexed_size", "time_indexed_size", "time_refusal"]

DEFAULT_MAX_MODEL_BYTES = 2e9
"""Largest model (estimated peak resident bytes) the exact solvers and export build by default."""

DEFAULT_MAX_FILE_BYTES = 1e9
"""Largest file (estimated bytes) ``lpsched export`` writes without ``--force``."""

BUILD_SHARE = 0.5
"""A model whose estimated build time exceeds this share of the time left is not built."""

#: Peak resident bytes of the time-indexed model: ``a * nnz + b * columns + c``, by how it
#: is built (``highspy``: sparse arrays + HiGHS's copies + 2 s of MIP search;
#: ``pulp``: PuLP's Python objects + PuLP's HiGHS model; ``export``: PuLP's objects +
#: the MPS/LP writer).
MILP_BYTES = {"highspy": (60.0, 200.0, 2e7), "pulp": (600.0, 1500.0, 2e7),
              "export": (600.0, 1500.0, 2e7)}

#: Build seconds of the time-indexed model: ``a * nnz + c`` (``highspy`` in-process;
#: ``child`` adds the child process's start).
MILP_BUILD_SECONDS = {"highspy": (1.5e-7, 0.01), "child": (1.5e-7, 0.6),
                      "pulp": (4e-6, 0.05), "export": (4e-6, 0.05)}

#: CP-SAT peak resident bytes: ``events``: ``a * (pairs + terms) + c * n``;
#: ``cumulative``: ``a * intervals + c * n``.
CPSAT_BYTES = {"events": (2800.0, 20000.0), "cumulative": (1500.0, 20000.0)}

#: CP-SAT build seconds: ``a * (pairs + terms)`` (events) or ``a * intervals`` (cumulative).
CPSAT_BUILD_SECONDS = {"events": 3e-5, "cumulative": 1e-5}

#: File bytes per non-zero / per column of the exported MPS and LP files.
FILE_BYTES = {"mps": (40.0, 60.0), "lp": (25.0, 60.0)}


class BuildStopped(Exception):
    """A model build cut off because its deadline expired (the model is discarded)."""


def time_indexed_size(instance: Instance, windows: Windows) -> tuple[int, int]:
    """``(columns, nonzeros)`` of the time-indexed model on ``windows``: ``sum_i |W_i|`` and
    ``sum_i |W_i| o_i`` (memory non-zeros before the implied rows are dropped)."""
    sizes = windows.sizes
    return int(sizes.sum()), int((sizes * instance.decode).sum())


def smallest_time_indexed_size(instance: Instance, lb_rest: np.ndarray,
                               lower_bound: int) -> tuple[int, int]:
    """A lower bound on :func:`time_indexed_size` for *every* feasible warm start.

    The windows are ``|W_i| >= 1 + UB - LB(I \\ {i}) - o_i`` with ``UB >= OPT >= LB``
    for any feasible schedule's objective ``UB`` (``lpsched.models.windows``), so
    ``lower_bound`` (a valid bound on the optimum) in place of ``UB`` gives the
    smallest model any warm start can lead to.
    """
    sizes = np.maximum(1, 1 + int(lower_bound) - lb_rest - instance.decode)
    return int(sizes.sum()), int((sizes * instance.decode).sum())


def estimate_model_bytes(columns: int, nonzeros: int, engine: str = "highspy") -> float:
    """Estimated peak resident bytes of building and solving the time-indexed model with
    ``columns`` start variables and ``nonzeros`` memory non-zeros (engine ``highspy``,
    ``pulp`` or ``export``)."""
    a, b, c = MILP_BYTES[engine]
    return a * nonzeros + b * columns + c


def estimate_file_bytes(columns: int, nonzeros: int, fmt: str = "mps") -> float:
    """Estimated size of the exported file (``fmt`` ``mps`` or ``lp``)."""
    a, b = FILE_BYTES[fmt]
    return a * nonzeros + b * columns


def cpsat_size(instance: Instance, formulation: str = "events") -> int:
    """The size measure of the CP-SAT model, from the instance alone (``O(n log n)``).

    ``events``: the ``n (n - 1) / 2`` pair disjunctions (E1) plus the reified
    memory terms (E2), one per ordered pair ``(i, j)`` with ``s_i + 1 <= M - P_j``;
    ``cumulative``: the ``sum_i (o_i + 1)`` staircase intervals.
    """
    n = instance.n
    if formulation == "cumulative":
        return int((instance.decode + 1).sum())
    s_sorted = np.sort(instance.prefill)
    room = instance.memory - instance.peak  # M - P_j
    terms = np.searchsorted(s_sorted, room - 1, side="right")  # i with s_i <= room - 1
    own = instance.prefill <= room - 1  # i == j is not a term
    return n * (n - 1) // 2 + int(terms.sum() - own.sum())


def estimate_cpsat_bytes(instance: Instance, formulation: str = "events") -> float:
    """Estimated peak resident bytes of building the CP-SAT model and searching."""
    a, c = CPSAT_BYTES[formulation]
    return a * cpsat_size(instance, formulation) + c * instance.n


def estimate_build_seconds(kind: str, size: int) -> float:
    """Estimated seconds to build a model: ``kind`` a MILP path of
    :data:`MILP_BUILD_SECONDS` (``size`` = non-zeros) or ``cpsat-events`` /
    ``cpsat-cumulative`` (``size`` = :func:`cpsat_size`)."""
    if kind.startswith("cpsat-"):
        return CPSAT_BUILD_SECONDS[kind[len("cpsat-"):]] * size
    a, c = MILP_BUILD_SECONDS[kind]
    return a * size + c


def format_bytes(b: float) -> str:
    """``1.5 GB`` style."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= size:
            return f"{b / size:.1f} {unit}"
    return f"{b:.0f} B"


@dataclass(frozen=True)
class Refusal:
    """Why a model is not built: ``what`` (``"memory"`` or ``"time"``), the estimate and
    the cap it exceeds (bytes, or seconds)."""

    what: str
    estimate: float
    cap: float

    def message(self) -> str:
        if self.what == "memory":
            return (f"model not built: estimated {format_bytes(self.estimate)} exceeds "
                    f"max_model_bytes {format_bytes(self.cap)}")
        return (f"model not built: estimated build time {self.estimate:.1f} s exceeds "
                f"{BUILD_SHARE:.0%} of the {self.cap:.1f} s left")


def memory_refusal(estimate: float, cap: float) -> Refusal | None:
    """A :class:`Refusal` when the estimated bytes exceed ``cap``."""
    return Refusal("memory", float(estimate), float(cap)) if estimate > cap else None


def time_refusal(build_seconds: float, deadline: Deadline) -> Refusal | None:
    """A :class:`Refusal` when the estimated build time exceeds :data:`BUILD_SHARE` of
    what is left of ``deadline`` (never without a time limit)."""
    if not deadline.limited:
        return None
    left = deadline.remaining()
    return Refusal("time", float(build_seconds), left) if build_seconds > BUILD_SHARE * left \
        else None


def guarded_result(name: str, instance: Instance, incumbent: np.ndarray, bound: float,
                   refusal: Refusal, t0: float, stats: dict[str, Any], note: str = "") -> Result:
    """The result of a solver that did not build its model: ``incumbent`` (the warm
    start, possibly improved), the combinatorial ``bound``, status ``time_limit`` and
    the reason (``note`` says how the incumbent was obtained)."""
    obj = int((incumbent + instance.decode - instance.arrival).sum())
    hint = ("raise max_model_bytes to build it anyway" if refusal.what == "memory"
            else "give a longer time limit to build it")
    msg = f"{refusal.message()} ({hint}); returning {note or 'the warm start'} and the " \
          "combinatorial bound"
    key = "model_bytes_estimate" if refusal.what == "memory" else "build_seconds_estimate"
    return Result(name, SolveStatus.TIME_LIMIT, obj, min(float(bound), float(obj)),
                  time.perf_counter() - t0, Schedule(instance, incumbent), message=msg,
                  stats={**stats, key: round(refusal.estimate, 3), "model_built": False,
                         "refused": refusal.what})
