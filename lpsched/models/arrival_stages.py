"""The stages of ``lower_bound(..., "best")`` for instances with arrivals (issue 22).

:func:`partition_stage`: the burst partition bound (:mod:`lpsched.models.partition_bounds`);
:func:`lazy_stage`: the time-indexed LP by column generation (:mod:`lpsched.models.lazy_lp`)
where the windowed LP is too large. Proofs and measurements:
``formulations/trace_bounds.md``. Called by :func:`lpsched.models.bounds.lower_bound`,
which passes itself to :func:`partition_stage` (this module does not import it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from lpsched.instance import Instance
from lpsched.models.combinatorial import fractional_bound
from lpsched.models.lazy_lp import MAX_PRICED_STARTS, lazy_lp_bound
from lpsched.models.partition_bounds import burst_groups, partition_bound
from lpsched.models.release_bounds import ramp_horizon
from lpsched.models.windows import Windows

__all__ = ["lazy_fits", "lazy_stage", "partition_stage"]

Progress = Callable[[str], None]


def lazy_fits(instance: Instance, w: Windows) -> bool:
    """Whether :func:`lpsched.models.lazy_lp.lazy_lp_bound` prices few enough starts."""
    H = int((w.incumbent + instance.decode).max())
    return float(np.maximum(H - instance.arrival + 1, 1).sum()) <= MAX_PRICED_STARTS


def lazy_stage(instance: Instance, w: Windows, t0: float, time_limit: float | None,
               threads: int, parts: dict[str, Any], note: Progress
               ) -> tuple[dict[str, int], dict[str, Any]]:
    """``best`` with arrivals, when the windowed LP is too large: the time-indexed LP by
    column generation (:mod:`lpsched.models.lazy_lp`; prices on the steps up to the
    incumbent's makespan, seeded with its columns) until the time limit, in place of the
    bucket LP (which on traces stayed at the decode bound: buckets of 900-93,000 steps).
    Memory rows summed over buckets of :func:`_first_width` steps first, then a quarter
    as wide, down to single steps, while time is left; the best bound is kept."""
    H = int((w.incumbent + instance.decode).max())
    deadline = None if time_limit is None else t0 + time_limit
    best: Any = None
    width = _first_width(H)
    while True:  # coarse buckets converge fast; refine while time is left
        note(f"time-indexed LP by column generation ({H} steps, buckets of {width})")
        lz = lazy_lp_bound(instance, H, starts=w.incumbent, deadline=deadline,
                           threads=threads, width=width)
        if lz is not None and (best is None or lz.bound > best[0].bound):
            best = (lz, width)
        if width == 1 or (deadline is not None and time.perf_counter() >= deadline):
            break
        width = max(1, width // 4)
    details: dict[str, Any] = {**parts, "lp_status": "refused" if best is None else
                               ("optimal" if best[0].converged and best[1] == 1
                                else "time_limit")}
    if best is None:
        return {}, details
    lz, width = best
    value = fractional_bound(lz.bound)
    details.update(lazy_lp=value, lazy_rounds=lz.rounds, lazy_columns=lz.columns,
                   lazy_width=width, lp_bound=value)
    return {"lazy_lp": value}, details


def _first_width(horizon: int) -> int:
    """The first bucket width of the column-generation LP: the power of 4 that leaves at
    most about 128 buckets (1 up to 128 steps)."""
    width = 1
    while horizon > 128 * width:
        width *= 4
    return width


def partition_stage(instance: Instance, parts: dict[str, Any], cheap: dict[str, int],
                    note: Progress, time_limit: float | None, t0: float,
                    best: Callable[[Instance, float | None], Any]) -> None:
    """The burst partition bound (:mod:`lpsched.models.partition_bounds`) with half of the
    time left (90% when the whole instance is too large for the column-generation LP),
    each burst bounded by ``best``; into ``parts`` and ``cheap`` when there are
    two bursts or more and none holds more than half of the requests (one burst is the
    instance itself; a burst of most of it loses the queue it inherits, and the
    release-date bound of the whole instance sees that)."""
    groups = burst_groups(instance)
    if len(groups) < 2 or max(g.size for g in groups) > instance.n // 2:
        return  # one burst holds most requests: its bound is about the instance's
    note("burst partition bound")
    # half of the time, or 90% when the whole instance's LP by column generation would
    # price too many starts (the bucket LP left for it stayed at the decode bound on traces)
    share = 0.5 if float(np.maximum(ramp_horizon(instance) - instance.arrival, 1).sum()) \
        <= MAX_PRICED_STARTS else 0.9
    deadline = None if time_limit is None else t0 + time_limit * share

    def group(sub: Instance, tl: float | None) -> tuple[int, str]:
        b = best(sub, tl)
        return b.value, str(b.details.get("source", b.method))

    pb = partition_bound(instance, group, deadline=deadline)
    if pb is not None:
        cheap["partition"] = parts["partition"] = pb.value
        parts["partition_groups"] = f"{pb.bounded}/{pb.groups} (largest {pb.largest})"
