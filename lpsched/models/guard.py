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
  (the time is better spent improving the warm start), or
* (MILP in this process: ``engine="pulp"`` or ``isolate=False``) whose HiGHS could
  answer the deadline more than half the contract's slack late
  (:func:`stop_latency_refusal`).

They then return the warm-start schedule (improved by local search for the rest
of the time limit when the warm start is local search) with status ``time_limit``,
the combinatorial bound and a message that names the estimate
(:func:`guarded_result`). ``lpsched export`` refuses above the same memory cap, or
above :data:`DEFAULT_MAX_FILE_BYTES` of file, unless ``--force``.

Estimates (:func:`estimate_model_bytes`, :func:`estimate_cpsat_bytes`,
:func:`estimate_file_bytes`, :func:`estimate_build_seconds`) are linear in the
model's size, with constants fitted by ``benchmarks/bench_model_memory.py``
(results in ``benchmarks/results/model_memory.md``): peak RSS growth of a fresh
process that builds the model and runs the solver for 10 s, over 7-11 sizes per
kind from ``2 * 10^4`` to ``1.2 * 10^7`` non-zeros (time-indexed) and ``500`` to
``2.4 * 10^5`` units of :func:`cpsat_size` (CP-SAT), on ``mcsf_synthetic`` instances
and samples of the bundled conversation profile with arrivals. The fits (least
squares of the relative error) and the ratio estimate / measured over the cases:

=======================  =========================================  ===============
model                    peak memory estimate                       est. / measured
=======================  =========================================  ===============
MILP, highspy            75 B/nnz + 1500 B/column + 55 MB           0.49 - 1.26
MILP, ``engine=pulp``    300 B/nnz + 47 MB                          0.78 - 1.21
export (PuLP + writer)   300 B/nnz + 2000 B/column                  0.99 - 1.14
CP-SAT ``events``        3000 B/unit + 600 kB/request + 7 MB       0.75 - 1.23
CP-SAT ``cumulative``    2750 B/interval + 26 MB                    0.78 - 2.15
MPS / LP file            46 / 13.5 B/nnz + 242 / 58 B/column        0.97 - 1.02
=======================  =========================================  ===============

So an estimate can be about half the truth for mid-sized MILPs (whose search got
further in 10 s) and is otherwise within about 25%; searches longer than 10 s keep
allocating (HiGHS's node queue, CP-SAT's learnt clauses), which the guard does not
bound. Build-time estimates (``MILP_BUILD_SECONDS``, ``CPSAT_BUILD_SECONDS``) are
within about 50% on the same cases (machine load 3 on 2 cores); the build itself
also checks the deadline, so a wrong estimate costs time, never the time limit.
For the conversation trace: CP-SAT ``events`` on 1,000 requests is estimated at
about 5 GB (5.6 GB was measured before this guard) and refused by default.

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

__all__ = ["BUILD_SHARE", "DEFAULT_MAX_FILE_BYTES", "DEFAULT_MAX_MODEL_BYTES", "BuildStopped",
           "Refusal", "cpsat_bytes", "cpsat_ramp_size", "cpsat_size", "estimate_build_seconds",
           "estimate_cpsat_bytes", "estimate_cpsat_stop_seconds", "estimate_file_bytes",
           "estimate_model_bytes", "format_bytes", "guarded_result", "memory_refusal",
           "smallest_time_indexed_size", "stop_latency_refusal", "time_indexed_size",
           "time_refusal"]

DEFAULT_MAX_MODEL_BYTES = 2e9
"""Largest model (estimated peak resident bytes) the exact solvers and export build by default."""

DEFAULT_MAX_FILE_BYTES = 1e9
"""Largest file (estimated bytes) ``lpsched export`` writes without ``--force``."""

BUILD_SHARE = 0.5
"""A model whose estimated build time exceeds this share of the time left is not built."""

#: Peak resident bytes of the time-indexed model: ``a * nnz + b * columns + c``, by how it
#: is built (``highspy``: sparse arrays, HiGHS model and 10 s of MIP search; ``pulp``:
#: PuLP's Python objects, PuLP's HiGHS model and the search; ``export``: PuLP's objects and
#: the MPS/LP writer). Fitted by ``benchmarks/bench_model_memory.py`` (module docstring).
MILP_BYTES = {"highspy": (75.0, 1500.0, 55e6), "pulp": (300.0, 0.0, 47e6),
              "export": (300.0, 2000.0, 0.0)}

#: Build seconds of the time-indexed model, ``a * nnz + c``: ``highspy`` (sparse arrays and
#: HiGHS model; in the child process the solver adds what is left of the child's start,
#: :data:`lpsched.models.highs_process.CHILD_START_SECONDS`), ``pulp`` (PuLP's objects and
#: their load into HiGHS); measured on the 2-core benchmark machine under a load of about 3.
MILP_BUILD_SECONDS = {"highspy": (4e-7, 0.02), "pulp": (5.5e-6, 0.15)}

#: Seconds per memory non-zero that HiGHS may run in this process after the deadline
#: before its first interrupt check (phases before the root LP's first iteration): up to
#: 0.54 s at 160,000 and 1-4 s at 1.5 million non-zeros were measured.
HIGHS_STOP_LATENCY = 3.5e-6

#: CP-SAT peak resident bytes, ``a * size + b * n + c`` (:func:`cpsat_size`), over the build
#: and 10 s of search with one worker.
CPSAT_BYTES = {"events": (3000.0, 6e5, 7e6), "cumulative": (2750.0, 0.0, 26e6)}

#: CP-SAT build seconds per unit of :func:`cpsat_size`.
CPSAT_BUILD_SECONDS = {"events": 8.5e-5, "cumulative": 2.5e-5}

#: Seconds per unit of :func:`cpsat_size` that ``CpSolver.Solve`` takes to return after
#: ``StopSearch`` (or its own time limit), at any point of the search: 0.2-0.4 s at 15,000
#: and 1.7-2.9 s at 135,000 units (events), 0.5-1.1 s at 84,000 intervals (cumulative).
#: The solver stops its search that much before the deadline.
CPSAT_STOP_SECONDS = {"events": 2.5e-5, "cumulative": 1.5e-5}

#: File bytes per non-zero and per column of the exported MPS and LP files.
FILE_BYTES = {"mps": (46.0, 242.0), "lp": (13.5, 58.0)}

#: Largest relative error of the fits above on the benchmark's cases (memory by kind;
#: build time; file size), stated for the tests and the docstring.
MEMORY_ERROR = {"highspy": 0.55, "pulp": 0.25, "export": 0.05, "events": 0.3,
                "cumulative": 0.25}
BUILD_ERROR = 0.5
FILE_ERROR = 0.1


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


#: Bytes per step of the horizon that the time-indexed build allocates whatever the number
#: of columns (the per-step arrays of :func:`lpsched.models.arrays.memory_steps` and the
#: step-to-row map): they dominate when arrivals are far apart (arrivals of 10^12 steps).
HORIZON_BYTES = 56.0


def estimate_model_bytes(columns: int, nonzeros: int, engine: str = "highspy",
                         horizon: int = 0) -> float:
    """Estimated peak resident bytes of building and solving the time-indexed model with
    ``columns`` start variables and ``nonzeros`` memory non-zeros (engine ``highspy``,
    ``pulp`` or ``export``) over ``horizon`` steps (:data:`HORIZON_BYTES` each)."""
    a, b, c = MILP_BYTES[engine]
    return a * nonzeros + b * columns + c + HORIZON_BYTES * float(horizon)


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


def cpsat_ramp_size(instance: Instance, pieces: int) -> int:
    """Intervals of the redundant lower-ramp cumulative (``cpsat`` option ``ramp_pieces``):
    at most ``sum_i (min(pieces, o_i - 1) + 1)``, none when ``pieces == 0``. They are
    priced like the ``cumulative`` formulation's intervals (same kind of constraint)."""
    if pieces <= 0:
        return 0
    return int((np.minimum(pieces, instance.decode - 1) + 1).sum())


def cpsat_bytes(size: int, n: int, formulation: str = "events") -> float:
    """Estimated peak resident bytes of a CP-SAT model of ``size`` (:func:`cpsat_size`) for
    ``n`` requests: :data:`CPSAT_BYTES`."""
    a, b, c = CPSAT_BYTES[formulation]
    return a * size + b * n + c


def estimate_cpsat_bytes(instance: Instance, formulation: str = "events") -> float:
    """Estimated peak resident bytes of building the CP-SAT model and searching."""
    return cpsat_bytes(cpsat_size(instance, formulation), instance.n, formulation)


def estimate_cpsat_stop_seconds(size: int, formulation: str = "events") -> float:
    """Estimated seconds CP-SAT takes to return once stopped (:data:`CPSAT_STOP_SECONDS`)."""
    return CPSAT_STOP_SECONDS[formulation] * size


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
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= size:
            return f"{b / size:.1f} {unit}"
    return f"{b:.0f} B"


@dataclass(frozen=True)
class Refusal:
    """Why a model is not built: ``what`` (``"memory"``, ``"time"`` to build, or ``"stop"``:
    HiGHS in this process could overrun), the estimate and the cap it exceeds (bytes, or
    seconds)."""

    what: str
    estimate: float
    cap: float

    def message(self) -> str:
        if self.what == "memory":
            return (f"model not built: estimated {format_bytes(self.estimate)} exceeds "
                    f"max_model_bytes {format_bytes(self.cap)}")
        if self.what == "stop":
            return (f"model not solved in this process: HiGHS could stop up to "
                    f"{self.estimate:.1f} s after the deadline (before its first interrupt "
                    f"check), more than half the {self.cap:.1f} s slack of the time limit")
        return (f"model not built: estimated build time {self.estimate:.1f} s (with the "
                f"solver's start and stop) exceeds {BUILD_SHARE:.0%} of the {self.cap:.1f} s left")


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


def stop_latency_refusal(nonzeros: int, deadline: Deadline) -> Refusal | None:
    """A :class:`Refusal` (``what="stop"``) when HiGHS running in this process could stop
    more than half the contract's slack ``max(1 s, 5% of the limit)`` late
    (:data:`HIGHS_STOP_LATENCY`); never without a time limit."""
    if not deadline.limited:
        return None
    late = HIGHS_STOP_LATENCY * nonzeros
    slack = max(1.0, 0.05 * (deadline.seconds or 0.0))
    return Refusal("stop", late, slack) if late > 0.5 * slack else None


def guarded_result(name: str, instance: Instance, incumbent: np.ndarray, bound: float,
                   refusal: Refusal, t0: float, stats: dict[str, Any], note: str = "") -> Result:
    """The result of a solver that did not build its model: ``incumbent`` (the warm
    start, possibly improved), the combinatorial ``bound``, status ``time_limit`` and
    the reason (``note`` says how the incumbent was obtained)."""
    obj = int((incumbent + instance.decode - instance.arrival).sum())
    hint = {"memory": "raise max_model_bytes to build it anyway",
            "time": "give a longer time limit to build it",
            "stop": "use engine='highspy' with isolate unset, which solves it in a child process"
            }[refusal.what]
    msg = f"{refusal.message()} ({hint}); returning {note or 'the warm start'} and the " \
          "combinatorial bound"
    return Result(name, SolveStatus.TIME_LIMIT, obj, min(float(bound), float(obj)),
                  time.perf_counter() - t0, Schedule(instance, incumbent), message=msg,
                  stats={**stats, "model_built": False, "refused": refusal.what})
