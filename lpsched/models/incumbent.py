"""A cheap feasible schedule (upper bound) used to warm-start and bound the exact models.

Serial schedule generation: take the requests in a priority order and give each
the earliest start ``p >= a_i`` such that the memory of the already placed
requests plus its own ramp ``s_i + t - p`` stays ``<= M`` in every step
``t = p+1..p+o_i``. Because every request fits alone (``s_i + o_i <= M``, checked
when the instance is built) such a start always exists, so the result is always
feasible. Several orders are tried (arrival order, shortest decode first,
smallest memory area first, smallest peak first, earliest possible completion
first; duplicates dropped) and the best objective is kept.

Cost and time limit: the earliest start is searched from the request's arrival,
so one order costs about ``n`` times the mean queueing delay (0.01 s for the
n = 40-60 synthetic instances, about 1 s for the first 1,000 requests of the
conversation trace at ``M = 16384``, quadratic beyond). Every function here takes
a :class:`~lpsched.stop.Deadline`: the orders are tried until it expires, and if
not even one finished, the sequential schedule (``O(n)``) is the fallback.

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
from lpsched.heuristics.serial import MAX_SERIAL_BYTES, serial_bytes
from lpsched.instance import Instance
from lpsched.options import OptionError
from lpsched.schedule import sequential_starts
from lpsched.stop import Deadline

__all__ = ["MAX_SERIAL_BYTES", "WARM_STARTS", "best_serial_schedule", "improve_schedule",
           "serial_bytes", "serial_incumbent", "serial_orders", "serial_schedule",
           "solver_incumbent",
           "warm_start", "warm_start_budget"]

WARM_STARTS = ("serial", "local-search")
"""Warm-start methods of the exact solvers (option ``warm_start``)."""


def serial_schedule(instance: Instance, order: np.ndarray | list[int], *,
                    deadline: Deadline | None = None) -> np.ndarray | None:
    """Starts from inserting the requests in ``order`` at their earliest feasible start.

    Returns the start vector aligned with ``instance.ids`` (always feasible), or
    None when ``deadline`` expired first (it is checked every 16 requests). The
    earliest start is found by the jump search of
    :meth:`lpsched.heuristics.serial.DenseProfile.earliest_jump` over the memory
    profile of the requests placed so far; its cost grows with the queueing delay
    (about 1 s per order for the first 1,000 requests of the conversation trace at
    ``M = 16384``), which is why :func:`best_serial_schedule` takes a deadline.
    """
    from lpsched.heuristics.serial import DenseProfile  # scipy.ndimage: not for the MILP child

    s, o, a = instance.prefill.tolist(), instance.decode.tolist(), instance.arrival.tolist()
    profile = DenseProfile(instance.memory, int(instance.decode.max()))
    starts = np.zeros(instance.n, dtype=np.int64)
    for k, i in enumerate(np.asarray(order, dtype=np.int64).tolist()):
        if deadline is not None and k % 16 == 0 and deadline.expired():
            return None
        p = profile.earliest_jump(s[i], o[i], a[i])
        profile.add(s[i], o[i], p)
        starts[i] = p
    return starts


def serial_orders(instance: Instance) -> list[tuple[str, np.ndarray]]:
    """The priority orders tried by :func:`best_serial_schedule`, cheapest-first, without
    duplicates (offline, arrival order is shortest-decode order, and so on)."""
    s, o, a = instance.prefill, instance.decode, instance.arrival
    idx = np.arange(instance.n)
    keys = [
        ("arrival", (a, o, idx)),        # arrival, then shortest decode
        ("decode", (o, idx)),            # shortest decode first
        ("area", (instance.area, idx)),  # smallest memory area first
        ("peak", (s + o, idx)),          # smallest peak first
        ("completion", (a + o, idx)),    # earliest possible completion first
    ]
    out: list[tuple[str, np.ndarray]] = []
    for name, key in keys:
        order = np.lexsort(tuple(reversed(key)))
        if not any(np.array_equal(order, seen) for _, seen in out):
            out.append((name, order))
    return out


def best_serial_schedule(instance: Instance, *,
                         deadline: Deadline | None = None) -> tuple[np.ndarray, int]:
    """The best of the serial schedules of :func:`serial_orders`: ``(starts, objective)``;
    checker-verified.

    With a ``deadline`` the orders are tried until it expires (an order cut off is
    dropped). If not even the first one finished, the result is the sequential
    schedule in arrival order (one request at a time,
    :func:`lpsched.schedule.sequential_starts`, ``O(n)``): always feasible, because
    every request fits alone.
    """
    starts, obj, _ = serial_incumbent(instance, deadline)
    return starts, obj


def serial_incumbent(instance: Instance,
                     deadline: Deadline | None = None) -> tuple[np.ndarray, int, str]:
    """:func:`best_serial_schedule` and where it came from: ``(starts, objective, source)``
    with ``source`` ``"serial"`` or ``"sequential"`` (no order finished in time)."""
    o, a = instance.decode, instance.arrival
    best: np.ndarray | None = None
    best_obj, source = 0, "serial"
    for _, order in serial_orders(instance):
        p = serial_schedule(instance, order, deadline=deadline)
        if p is None:
            break
        obj = int((p + o - a).sum())
        if best is None or obj < best_obj:
            best, best_obj = p, obj
    if best is None:
        best = sequential_starts(instance, np.lexsort((np.arange(instance.n), a)))
        best_obj, source = int((best + o - a).sum()), "sequential"
    rep = check(instance, best)
    if not rep.feasible:  # pragma: no cover - guarded by construction
        raise RuntimeError(f"serial schedule infeasible: {rep.reason()}")
    return best, best_obj, source


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


#: Share of the warm-start budget given to the serial schedules when the method is
#: local search (which gets the rest).
SERIAL_SHARE = 0.1

def warm_start(instance: Instance, method: str = "local-search", *,
               budget: Deadline | float = 2.0, seed: int | None = None) -> tuple[np.ndarray, dict]:
    """A feasible start vector for the exact solvers and what it cost: ``(starts, stats)``.

    ``"serial"``: :func:`best_serial_schedule` until ``budget`` (a deadline or
    seconds). ``"local-search"``: the serial schedules for :data:`SERIAL_SHARE` of
    the budget, then the registry's ``local-search`` (started from the best of its
    default initial heuristics) until the budget ends; it stops earlier at a local
    optimum, which on small instances makes it deterministic for a fixed ``seed``.
    The better of the two is returned. ``stats`` has ``warm_start`` (the method),
    ``warm_start_objective``, ``warm_start_from`` (which schedule won: ``serial``,
    ``sequential`` when no serial order finished in time, or ``local-search``) and
    ``warm_start_time`` (seconds).
    """
    if method not in WARM_STARTS:
        raise OptionError(f"unknown warm_start {method!r}; choose one of {', '.join(WARM_STARTS)}")
    budget = Deadline.coerce(budget)
    t0 = time.perf_counter()
    if serial_bytes(instance) > MAX_SERIAL_BYTES:  # dense per-step profiles would not fit
        best = sequential_starts(instance, np.lexsort((np.arange(instance.n), instance.arrival)))
        return best, {"warm_start": method, "warm_start_from": "sequential",
                      "warm_start_objective": int((best + instance.decode
                                                   - instance.arrival).sum()),
                      "warm_start_refused": f"serial schedules need about "
                                            f"{serial_bytes(instance) / 1e9:.3g} GB",
                      "warm_start_time": round(time.perf_counter() - t0, 4)}
    serial = budget if method == "serial" else budget.share(SERIAL_SHARE)
    best, best_obj, source = serial_incumbent(instance, serial)
    if method == "local-search" and budget.remaining() > 0:
        better = improve_schedule(instance, None, budget, seed)
        if better is not None and better[1] < best_obj:
            (best, best_obj), source = better, "local-search"
    return best, {"warm_start": method, "warm_start_objective": int(best_obj),
                  "warm_start_from": source,
                  "warm_start_time": round(time.perf_counter() - t0, 4)}


def improve_schedule(instance: Instance, starts: np.ndarray | None, deadline: Deadline,
                     seed: int | None) -> tuple[np.ndarray, int] | None:
    """The registry's ``local-search`` until ``deadline``, from ``starts`` (None: from its
    default initial heuristics): ``(starts, objective)`` checker-verified, or None (also
    when its dense per-step profiles would exceed :data:`MAX_SERIAL_BYTES`)."""
    from lpsched import registry

    if serial_bytes(instance) > MAX_SERIAL_BYTES:
        return None

    opts = {} if starts is None else {"start": starts}
    res = registry.run("local-search", instance, deadline=deadline, seed=seed, **opts)
    if res.schedule is None:
        return None
    rep = check(instance, res.schedule.starts)
    if not rep.feasible:  # pragma: no cover - local search output is verified
        raise RuntimeError(f"local-search warm start infeasible: {rep.reason()}")
    return res.schedule.starts.astype(np.int64), int(rep.objective)


def solver_incumbent(instance: Instance, incumbent: Any, method: str, deadline: Deadline,
                     share: float | None, seed: int | None, *,
                     budget: Deadline | None = None) -> tuple[np.ndarray, dict]:
    """The exact solvers' starting schedule and its stats: the user's ``incumbent``
    if given (``{"warm_start": "given"}``), else :func:`warm_start` until ``budget``
    (default :func:`warm_start_budget` of ``deadline`` and ``share``)."""
    if incumbent is not None:
        from lpsched.solve import as_schedule

        starts = as_schedule(instance, incumbent).starts
        rep = check(instance, starts)
        if not rep.feasible:
            raise OptionError(f"option 'incumbent': the given incumbent is infeasible: "
                              f"{rep.reason()}")
        return starts, {"warm_start": "given"}
    if budget is None:
        budget = warm_start_budget(deadline, share)
    return warm_start(instance, method, budget=budget, seed=seed)
