"""Sorted-F (Wang, Ye and Zhou, 2025) - batch and continuous versions.

Source: M. Wang, Y. Ye, Z. Zhou, "LLM Serving Optimization with Variable Prefill
and Decode Lengths", arXiv:2508.06133 (2025).

The batches (the F-metric ``F(X) = sum_{i in X} o_i / |X|^2``, the greedy
min-F rule, its candidate family and the exact knapsack variant
``exact_batches=True``) are formed by :mod:`lpsched.heuristics.batches`
(:func:`~lpsched.heuristics.batches.form_batches`). This module runs them.

Two ways to run the batches (both kept, both measured in ``benchmarks/``):

* ``sorted-f`` (batch-synchronous, the paper's model): batch ``j+1`` starts when
  every request of batch ``j`` has finished;
* ``sorted-f-cont`` (continuous): the requests are taken in the same order
  (batch by batch, ascending ``F``; inside a batch by decode length) and each
  starts at the earliest step at which memory allows, never before the request
  ahead of it (:func:`lpsched.heuristics.serial.decode_order`), so a new batch
  fills memory as soon as parts of the previous one complete.

Arrivals: ``sorted-f`` becomes release-aware
(:func:`~lpsched.heuristics.batches.release_aware_batches`: each batch is
formed, when the previous one ends, from the requests that have arrived by
then); ``sorted-f-cont`` runs the online Sorted-F policy in the event simulator
(:mod:`lpsched.heuristics.online`), which sees only arrived requests and keeps
the greedy batches of the waiting set in formation order (the module docstring
there says why).

Cost: ``O(|thetas| n log n)`` for both, offline and with arrivals.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lpsched.heuristics.baselines import SimulationParams
from lpsched.heuristics.batches import (
    DEFAULT_THETAS,
    batch_order,
    form_batches,
    release_aware_batches,
)
from lpsched.heuristics.online import SortedFPolicy, run_order_policy
from lpsched.heuristics.serial import decode_order_within, refuse_large_profile
from lpsched.instance import Instance
from lpsched.options import OptionError, param
from lpsched.registry import AlgorithmSpec
from lpsched.schedule import Result, Schedule, SolveStatus
from lpsched.stop import Deadline

__all__ = ["ALGORITHMS", "SortedFContParams", "SortedFParams", "solve_sorted_f",
           "solve_sorted_f_cont"]


@dataclass(frozen=True)
class SortedFParams:
    """The options of Sorted-F (:func:`solve_sorted_f`)."""

    thetas: Sequence[float] = param(DEFAULT_THETAS, "floats", "Lagrangian weights of the "
                                    "candidate orders o + theta s", minimum=0, maximum=1)
    exact_batches: bool = param(False, "bool", "minimise F exactly by a knapsack DP (small "
                                "instances)")


@dataclass(frozen=True)
class SortedFContParams(SortedFParams):
    """The options of continuous Sorted-F (:func:`solve_sorted_f_cont`), besides the
    simulation's (:class:`~lpsched.heuristics.baselines.SimulationParams`, with arrivals)."""

    backfill: bool = param(False, "bool", "offline: a later request may start before an "
                           "earlier one when it fits")
    clairvoyant: bool = param(False, "bool", "with arrivals: decode the offline order with "
                              "known release dates instead of the online policy")


def _batch_sync_starts(instance: Instance, batches: Sequence[np.ndarray]) -> np.ndarray:
    """Each batch starts when the previous one has finished (and its requests arrived)."""
    o, a = instance.decode, instance.arrival
    starts = np.zeros(instance.n, dtype=np.int64)
    t = 0
    for b in batches:
        t = max(t, int(a[b].max()))
        starts[b] = t
        t += int(o[b].max())
    return starts


def _result(name: str, instance: Instance, starts: np.ndarray, t0: float, stats: dict) -> Result:
    c = starts + instance.decode
    return Result(algorithm=name, status=SolveStatus.FEASIBLE,
                  objective=int((c - instance.arrival).sum()), lower_bound=None,
                  runtime=time.perf_counter() - t0, schedule=Schedule(instance, starts),
                  stats=stats)


def solve_sorted_f(instance: Instance, *, deadline: Deadline | None = None,
                   seed: int | None = None, thetas: Sequence[float] = SortedFParams.thetas,
                   exact_batches: bool = SortedFParams.exact_batches) -> Result:
    """Sorted-F, batch-synchronous: batches in ascending ``F``, each after the previous ends."""
    t0 = time.perf_counter()
    if instance.offline:
        batches = form_batches(instance, thetas=thetas, exact_batches=exact_batches)
        starts = _batch_sync_starts(instance, batches)
    else:
        batches, bstarts = release_aware_batches(instance, thetas=thetas,
                                                 exact_batches=exact_batches)
        starts = np.zeros(instance.n, dtype=np.int64)
        for b, tb in zip(batches, bstarts):
            starts[b] = tb
    return _result("sorted-f", instance, starts, t0,
                   {"batches": len(batches), "exact_batches": exact_batches,
                    "release_aware": not instance.offline})


def solve_sorted_f_cont(instance: Instance, *, deadline: Deadline | None = None,
                        seed: int | None = None,
                        thetas: Sequence[float] = SortedFContParams.thetas,
                        exact_batches: bool = SortedFContParams.exact_batches,
                        backfill: bool = SortedFContParams.backfill,
                        clairvoyant: bool = SortedFContParams.clairvoyant,
                        predictions: Any = SimulationParams.predictions,
                        prediction_noise: float | None = SimulationParams.prediction_noise,
                        skip_idle: bool = SimulationParams.skip_idle) -> Result:
    """Sorted-F, continuous: the Sorted-F order, each request started as early as memory allows.

    ``backfill=False`` (default) keeps starts non-decreasing along the order;
    ``backfill=True`` lets a later request start before an earlier one when it
    fits (exact earliest start against all placed requests).

    With arrivals, the continuous version is the online Sorted-F policy run by
    the event simulator (:mod:`lpsched.heuristics.online`; ``predictions``,
    ``prediction_noise`` and ``skip_idle`` go there); ``clairvoyant=True`` instead
    decodes the offline order with the release dates known in advance (much
    worse: the F-order ignores arrival times).
    """
    t0 = time.perf_counter()
    online = not instance.offline and not clairvoyant
    policy_opts = {"predictions": predictions, "prediction_noise": prediction_noise,
                   "skip_idle": skip_idle}
    if online:
        if backfill:
            raise OptionError("sorted-f-cont: 'backfill' applies to the offline decode; with "
                              "arrivals the online policy runs (pass clairvoyant=True to "
                              "decode the offline order instead)")
        res = run_order_policy(instance, SortedFPolicy(thetas, exact_batches), deadline, seed,
                               policy_opts)
        return dataclasses.replace(res, algorithm="sorted-f-cont",
                                   stats={**res.stats, "mode": "online policy (simulator)"})
    if predictions is not None or prediction_noise is not None:
        raise OptionError("sorted-f-cont: predictions apply to the online policy (instances "
                          "with arrivals, clairvoyant=False); this run decodes true lengths")
    refuse_large_profile("sorted-f-cont", instance)
    batches = form_batches(instance, thetas=thetas, exact_batches=exact_batches)
    order = batch_order(batches)
    starts, decoded = decode_order_within(instance, order, deadline,
                                          order_preserving=not backfill)
    res = _result("sorted-f-cont", instance, starts, t0,
                  {"batches": len(batches), "exact_batches": exact_batches, "backfill": backfill,
                   "decoded": decoded})
    if decoded < order.size:  # cut by the deadline: the rest was packed in batches
        res = dataclasses.replace(res, status=SolveStatus.TIME_LIMIT)
    return res


#: The registry's declarations of this module's algorithms (:mod:`lpsched.registry`).
ALGORITHMS = (
    AlgorithmSpec("sorted-f", solve_sorted_f, "heuristic",
                  "Sorted-F: greedy min-F memory-feasible batches (F = sum o / |X|^2), run in "
                  "ascending F, each batch after the previous one ends",
                  "Wang, Ye, Zhou, LLM Serving Optimization with Variable Prefill and Decode "
                  "Lengths, arXiv:2508.06133, 2025", params=SortedFParams),
    AlgorithmSpec("sorted-f-cont", solve_sorted_f_cont, "heuristic",
                  "Continuous Sorted-F: the Sorted-F order, each request started at the earliest "
                  "step memory allows (no waiting for the batch to end)",
                  "Wang, Ye, Zhou 2025 (arXiv:2508.06133); continuous decoding ours",
                  params=(SortedFContParams, SimulationParams)),
)
