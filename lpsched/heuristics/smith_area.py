"""Smith-area: the order of the memory-area bound, decoded earliest-start with a short look-back.

The memory-area and mean-busy-time bounds (:mod:`lpsched.models.combinatorial`)
read memory as one machine of speed ``M`` and request ``i`` as a job of size
``A_i = s_i o_i + o_i (o_i + 1) / 2`` (its token-steps); their optimum is
Smith's rule with unit weights: ascending ``A_i`` (Smith 1956). This heuristic
takes that order and lets the serial scheme of :mod:`lpsched.heuristics.serial`
place each request at the earliest step at which it fits, never earlier than
``lookback`` steps before the latest start so far
(:class:`~lpsched.heuristics.serial.SerialDecoder`): ``lookback = 0`` is the
queue discipline of continuous Sorted-F; a positive look-back lets a small
request fill memory left free before the request ahead of it started (the
residual slack a completion leaves when the next request's ramp does not fit),
and unbounded look-back is full backfilling. On the trace backlogs
(``benchmarks/results/trace_bounds.md``) ``lookback`` of a few hundred steps
gets all but 0.1-0.2% of full backfilling's gain at 1-2% of its cost.

With arrivals the order is decoded release-aware (a request never waits for a
listed-earlier request that has not arrived; the look-back does not apply).
Cost: ``O(n log n)`` plus the decode, ``O(makespan + sum_i o_i)`` vectorised
work for ``lookback = 0`` and about ``lookback / mean(o)`` times more otherwise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from lpsched.heuristics.serial import decode_order_within, refuse_large_profile
from lpsched.instance import Instance
from lpsched.options import param
from lpsched.registry import AlgorithmSpec
from lpsched.schedule import Result, Schedule, SolveStatus
from lpsched.stop import Deadline

__all__ = ["ALGORITHMS", "SmithAreaParams", "area_order", "solve_smith_area"]

DEFAULT_LOOKBACK = 256


@dataclass(frozen=True)
class SmithAreaParams:
    """The option of :func:`solve_smith_area`."""

    lookback: int = param(DEFAULT_LOOKBACK, "int", "steps before the latest start so far at "
                          "which a request may still start (0: queue order; offline only)",
                          minimum=0)


def area_order(instance: Instance) -> np.ndarray:
    """Positions in ascending memory area ``A_i`` (ties: shorter decode, then position)."""
    return np.lexsort((np.arange(instance.n), instance.decode, instance.area))


def solve_smith_area(instance: Instance, *, deadline: Deadline | None = None,
                     seed: int | None = None,
                     lookback: int = SmithAreaParams.lookback) -> Result:
    """Ascending memory area, earliest-start decoding with ``lookback`` steps of backfill."""
    t0 = time.perf_counter()
    refuse_large_profile("smith-area", instance)
    order = area_order(instance)
    offline = instance.offline
    starts, decoded = decode_order_within(instance, order, deadline,
                                          release_aware=not offline,
                                          lookback=lookback if offline else 0)
    c = starts + instance.decode
    status = SolveStatus.TIME_LIMIT if decoded < order.size else SolveStatus.FEASIBLE
    return Result(algorithm="smith-area", status=status,
                  objective=int((c - instance.arrival).sum()), lower_bound=None,
                  runtime=time.perf_counter() - t0, schedule=Schedule(instance, starts),
                  stats={"lookback": lookback if offline else 0, "decoded": decoded,
                         "release_aware": not offline})


#: The registry's declaration of this module's algorithm (:mod:`lpsched.registry`).
ALGORITHMS = (
    AlgorithmSpec("smith-area", solve_smith_area, "heuristic",
                  "Smith's rule on memory areas (ascending s*o + o(o+1)/2, the order of the "
                  "area bound), earliest-start decoding with a bounded look-back",
                  "Smith 1956 (order); lpsched/heuristics/smith_area.py",
                  params=SmithAreaParams),
)
