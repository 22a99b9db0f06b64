"""A cheap feasible schedule (upper bound) used to warm-start and bound the exact models.

Serial schedule generation: take the requests in a priority order and give each
the earliest start ``p >= a_i`` such that the memory of the already placed
requests plus its own ramp ``s_i + t - p`` stays ``<= M`` in every step
``t = p+1..p+o_i``. Because every request fits alone (``s_i + o_i <= M``, checked
when the instance is built) such a start always exists, so the result is always
feasible. Several orders are tried (shortest decode first, smallest memory area
first, smallest peak first, arrival order) and the best objective is kept.

This is a deliberately simple upper bound for the exact models (horizon and
warm start); the strong heuristics live in :mod:`lpsched.heuristics`.
:func:`warm_start` picks the exact solvers' starting schedule: the serial one, or
the local search of :mod:`lpsched.heuristics.local_search` run for a share of the
solver's time limit (default), whichever is better.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from lpsched.check import check
from lpsched.instance import Instance
from lpsched.options import OptionError
from lpsched.stop import Deadline

__all__ = ["WARM_STARTS", "serial_schedule", "best_serial_schedule", "warm_start",
           "warm_start_budget", "solver_incumbent"]

WARM_STARTS = ("serial", "local-search")
"""Warm-start methods of the exact solvers (option ``warm_start``)."""


def serial_schedule(instance: Instance, order: np.ndarray | list[int]) -> np.ndarray:
    """Starts from inserting the requests in ``order`` at their earliest feasible start.

    Returns the start vector aligned with ``instance.ids`` (always feasible).
    """
    s, o, a = instance.prefill, instance.decode, instance.arrival
    M = instance.memory
    horizon = int(a.max() + o.sum() + 2)
    slack = np.full(horizon + int(o.max()) + 2, M, dtype=np.int64)  # slack[t] = M - m(t)
    starts = np.zeros(instance.n, dtype=np.int64)
    for i in order:
        si, oi, ai = int(s[i]), int(o[i]), int(a[i])
        need = si + np.arange(1, oi + 1)  # memory of i in its d-th step, d = 1..o_i
        # scan candidate starts p = ai, ai+1, ... in blocks (window slack[p+1 .. p+oi]);
        # the tail of ``slack`` is all M, so a start is always found
        lo, block = ai, max(64, 4 * oi)
        while True:
            seg = slack[lo + 1:lo + block + oi]
            win = np.lib.stride_tricks.sliding_window_view(seg, oi)
            ok = np.all(win >= need, axis=1)
            if ok.any():
                p = lo + int(np.argmax(ok))
                break
            lo += win.shape[0]
            if lo + oi >= slack.size:  # pragma: no cover - impossible, see above
                raise RuntimeError("serial_schedule: no feasible start found")
        slack[p + 1:p + oi + 1] -= need
        starts[i] = p
    return starts


def best_serial_schedule(instance: Instance) -> tuple[np.ndarray, int]:
    """The best of several serial schedules: ``(starts, objective)``; checker-verified."""
    s, o, a = instance.prefill, instance.decode, instance.arrival
    idx = np.arange(instance.n)
    keys = [
        (a, o, idx),            # arrival, then shortest decode
        (o, idx),               # shortest decode first
        (instance.area, idx),   # smallest memory area first
        (s + o, idx),           # smallest peak first
        (a + o, idx),           # earliest possible completion first
    ]
    best, best_obj = None, None
    for key in keys:
        order = np.lexsort(tuple(reversed(key)))
        p = serial_schedule(instance, order)
        obj = int((p + o - a).sum())
        if best_obj is None or obj < best_obj:
            best, best_obj = p, obj
    rep = check(instance, best)
    if not rep.feasible:  # pragma: no cover - guarded by construction
        raise RuntimeError(f"serial schedule infeasible: {rep.reason()}")
    return best, int(best_obj)


def warm_start_budget(deadline: Deadline, share: float | None = None) -> Deadline:
    """The warm start's deadline: ``share`` seconds if set, else 10% of the time left
    capped at 10 s (2 s when there is no time limit); never past ``deadline``."""
    if share is not None:
        if not share >= 0:
            raise OptionError(f"warm_start_time must be >= 0 seconds, got {share!r}")
        return deadline.share(at_most=float(share))
    if not deadline.limited:
        return deadline.share(at_most=2.0)
    return deadline.share(0.1, at_most=10.0)


def warm_start(instance: Instance, method: str = "local-search", *,
               budget: Deadline | float = 2.0, seed: int | None = None) -> tuple[np.ndarray, dict]:
    """A feasible start vector for the exact solvers and what it cost: ``(starts, stats)``.

    ``"serial"``: :func:`best_serial_schedule`. ``"local-search"``: the registry's
    ``local-search`` (started from the best of its default initial heuristics)
    until ``budget`` (a deadline or seconds); it stops earlier at a local optimum,
    which on small instances makes it deterministic for a fixed ``seed``. The better
    of the two is returned (the serial schedule is always computed; it is cheap).
    ``stats`` has ``warm_start`` (the method), ``warm_start_objective``,
    ``warm_start_from`` (which schedule won) and ``warm_start_time`` (seconds).
    """
    if method not in WARM_STARTS:
        raise OptionError(f"unknown warm_start {method!r}; choose one of {', '.join(WARM_STARTS)}")
    budget = Deadline.coerce(budget)
    t0 = time.perf_counter()
    best, best_obj = best_serial_schedule(instance)
    source = "serial"
    if method == "local-search" and budget.remaining() > 0:
        from lpsched import registry

        res = registry.run("local-search", instance, deadline=budget, seed=seed)
        if res.schedule is not None and res.objective < best_obj:
            rep = check(instance, res.schedule.starts)
            if not rep.feasible:  # pragma: no cover - local search output is verified
                raise RuntimeError(f"local-search warm start infeasible: {rep.reason()}")
            best, best_obj, source = res.schedule.starts.astype(np.int64), int(rep.objective), \
                "local-search"
    return best, {"warm_start": method, "warm_start_objective": int(best_obj),
                  "warm_start_from": source,
                  "warm_start_time": round(time.perf_counter() - t0, 4)}


def solver_incumbent(instance: Instance, incumbent: Any, method: str, deadline: Deadline,
                     share: float | None, seed: int | None) -> tuple[np.ndarray, dict]:
    """The exact solvers' starting schedule and its stats: the user's ``incumbent``
    if given (``{"warm_start": "given"}``), else :func:`warm_start` until
    :func:`warm_start_budget`."""
    if incumbent is not None:
        from lpsched.solve import as_schedule

        starts = as_schedule(instance, incumbent).starts
        rep = check(instance, starts)
        if not rep.feasible:
            raise OptionError(f"option 'incumbent': the given incumbent is infeasible: "
                              f"{rep.reason()}")
        return starts, {"warm_start": "given"}
    return warm_start(instance, method, budget=warm_start_budget(deadline, share), seed=seed)
