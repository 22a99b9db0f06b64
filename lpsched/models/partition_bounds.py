"""Bursts bounded one at a time: the sum of bounds over a partition of the requests.

Proof and measurements: ``formulations/trace_bounds.md`` (section "Bursts"). The optimum
is superadditive over any partition of the requests: an optimal schedule restricted to a
part is feasible for that part alone (each step holds no more), with the same completion
times, so ``OPT >= sum_parts OPT(part) >= sum_parts LB(part)``. The partition used here
is the finest *natural* one: in arrival order, a new group starts at a request that
arrives no earlier than every earlier request could have finished with no wait at all
(``a_i >= max_{j before i} (a_j + o_j)``). On bursty traces (the Azure code trace) the
groups are the bursts, small enough for the time-indexed LP whose start windows are
tight inside a burst; a group whose peaks fit in memory together (a single request,
say) is exactly its decode sum (all start on arrival). The groups' bounds come from a
caller-given function (``lower_bound(part, "best")``), so this module does not import
:mod:`lpsched.models.bounds`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lpsched.instance import Instance

__all__ = ["PartitionBound", "burst_groups", "partition_bound"]


def burst_groups(instance: Instance) -> list[np.ndarray]:
    """The request indices of each natural group (module docstring), in arrival order
    (ties by index): a group starts at request ``i`` when
    ``a_i >= max_{j before i} (a_j + o_j)``."""
    a, o = instance.arrival.astype(np.int64), instance.decode.astype(np.int64)
    order = np.argsort(a, kind="stable")
    end = np.maximum.accumulate(a[order] + o[order])
    starts = np.flatnonzero(np.r_[True, a[order][1:] >= end[:-1]])
    return np.split(order, starts[1:])


@dataclass(frozen=True)
class PartitionBound:
    """``value`` = sum of the groups' bounds; ``groups`` how many, ``bounded`` how many got
    their group bound (the others, cut off by the deadline, count their decode sum),
    ``largest`` the largest group's size, ``sources`` the group bounds' sources by count."""

    value: int
    groups: int
    bounded: int
    largest: int
    sources: dict[str, int]


def _part(instance: Instance, idx: np.ndarray) -> Instance:
    a = instance.arrival[idx]
    return Instance.from_arrays(instance.memory, instance.prefill[idx], instance.decode[idx],
                                a - a.min(), name=f"{instance.name}-burst")


def partition_bound(instance: Instance, group_bound: Callable[[Instance, float | None],
                                                              tuple[int, str]],
                    *, deadline: float | None = None,
                    min_groups: int = 2) -> PartitionBound | None:
    """``sum_g LB(g)`` over :func:`burst_groups` (valid by superadditivity, module
    docstring), or None with fewer than ``min_groups`` groups (one group is the instance).

    ``group_bound(part, time_limit)`` returns a proven lower bound on ``part``'s optimal
    ``sum (c_i - a_i)`` (arrivals shifted to start at 0, which changes no latency) and the
    name of its source. A group whose peaks ``s_i + o_i`` sum to at most ``M`` (one
    request, say) is its decode sum: all start on arrival. ``deadline`` (a
    :func:`time.perf_counter` instant) is shared out in proportion to the groups' sizes;
    a group reached after it counts its decode sum (still valid).
    """
    groups = burst_groups(instance)
    if len(groups) < min_groups:
        return None
    o = instance.decode.astype(np.int64)
    peak = instance.prefill.astype(np.int64) + o
    total, bounded, sources = 0, 0, {"decode": 0}
    free = [int(peak[g].sum()) <= instance.memory for g in groups]
    left_n = sum(g.size for g, f in zip(groups, free) if not f)
    for g, fits in zip(groups, free):
        if fits:  # all of them fit at once: each starts on arrival, exactly its decode
            total += int(o[g].sum())
            bounded += 1
            sources["decode"] += 1
            continue
        budget = None
        if deadline is not None:
            rest = deadline - time.perf_counter()
            if rest <= 0:
                total += int(o[g].sum())
                continue
            budget = rest * g.size / max(1, left_n)
        left_n -= g.size
        value, source = group_bound(_part(instance, g), budget)
        total += max(int(value), int(o[g].sum()))
        bounded += 1
        sources[source] = sources.get(source, 0) + 1
    return PartitionBound(total, len(groups), bounded, max(g.size for g in groups),
                          {k: v for k, v in sources.items() if v})
