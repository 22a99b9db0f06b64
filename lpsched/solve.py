"""The one entry point: ``solve(instance, algorithm=..., time_limit=...) -> Result``.

What :func:`solve` guarantees, for every registered algorithm (``docs/contract.md``):

* **Checked input.** The instance (an :class:`~lpsched.instance.Instance`), the
  algorithm name, ``time_limit`` (a finite number > 0, or None), ``seed`` (None or an
  integer in ``[0, 2**31 - 1]``, the range HiGHS and CP-SAT take) and every option
  (against the algorithm's declaration, :mod:`lpsched.options`) are checked before any
  work; a bad one raises an :class:`~lpsched.errors.LpschedError` naming it:
  ``UsageError`` (a ``TypeError``: not an instance), ``TimeLimitError``, ``OptionError``
  (also for the seed) or ``UnknownAlgorithm`` (all three ``ValueError``;
  ``UnknownAlgorithm`` is also a ``KeyError``, as it was).
* **One time budget.** ``time_limit`` becomes one :class:`~lpsched.stop.Deadline`
  handed to the algorithm, which gives shares of it to its stages; the call
  returns within ``L + max(1 s, 5% of L)``.
* **Verified schedules.** Every schedule is re-verified by the shared checker
  (:func:`lpsched.check.check`); an infeasible one turns the result into status
  ``error`` with the checker's reason, never passed on. The objective is always
  recomputed from the schedule.
* **Honest status.** ``optimal`` only with a lower bound equal to the objective;
  a lower bound above a verified objective is an ``error``. An algorithm that
  raises gives status ``error`` with the exception's text (no traceback reaches
  the caller); an interrupted or stopped run gives ``time_limit``.
* **Paged memory.** With ``instance.block_size > 1`` an algorithm gets the instance
  itself (policies, user algorithms), or the padded instance of :mod:`lpsched.paging`
  (heuristics: its schedule is re-attached to the paged instance, its bound dropped),
  or refuses with ``UnsupportedInstance`` (exact models); see ``AlgorithmSpec.block_mode``.
* **Ctrl-C.** In the main thread, the first SIGINT cancels the deadline: the
  search stops as at its time limit and the best schedule so far is returned with
  status ``time_limit`` and ``stats["interrupted"] = True``. A second SIGINT
  raises ``KeyboardInterrupt`` as usual.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from lpsched import registry
from lpsched.check import check
from lpsched.errors import UsageError
from lpsched.instance import Instance, InstanceError
from lpsched.options import OptionError, UnsupportedInstance
from lpsched.paging import planning_instance, rebased
from lpsched.schedule import (
    Result,
    Schedule,
    ScheduleError,
    SolveStatus,
    as_schedule,
    sequential_starts,
)
from lpsched.stop import Deadline, check_time_limit

__all__ = ["as_schedule", "solve"]

#: Exceptions that mean "your input is wrong": raised to the caller, not turned into a result.
INPUT_ERRORS = (OptionError, InstanceError, ScheduleError, UnsupportedInstance)


def solve(
    instance: Instance,
    algorithm: str = "mc-sf",
    *,
    time_limit: float | None = None,
    seed: int | None = None,
    **options: Any,
) -> Result:
    """Solve ``instance`` with ``algorithm`` and return a checked :class:`Result`.

    Parameters
    ----------
    instance
        A validated :class:`~lpsched.instance.Instance`.
    algorithm
        A registry name (``lpsched algorithms`` lists them), e.g. ``"fcfs"``,
        ``"mc-sf"``, ``"local-search"``, ``"milp"``.
    time_limit
        Wall-time limit in seconds for the whole call (None: no limit; searches
        then use their documented default budgets). Finite and > 0.
    seed
        Random seed for randomised algorithms (None: their default, deterministic).
    **options
        The algorithm's declared options (``lpsched algorithms NAME`` lists them);
        an unknown name is refused.

    Examples
    --------
    >>> from lpsched import Instance, Request, solve
    >>> inst = Instance(10, [Request("a", 2, 3), Request("b", 1, 4)])
    >>> res = solve(inst, "mc-sf")
    >>> res.status.value, res.objective
    ('feasible', 7)
    >>> solve(inst, "mc-sf", threds=1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lpsched.options.OptionError: mc-sf: unknown option 'threds'; valid options: ...
    """
    t0 = time.perf_counter()
    time_limit = check_time_limit(time_limit)
    deadline = Deadline(time_limit)  # the first call's import of a solver library counts too
    if not isinstance(instance, Instance):
        raise UsageError(f"solve() needs an lpsched.Instance, got {type(instance).__name__}")
    spec = registry.get(algorithm)
    seed = _checked_seed(seed)
    options = spec.validate(options)
    func = spec.load()
    work = planning_instance(instance, spec.name, spec.block_mode)
    with _sigint_cancels(deadline):
        try:
            raw = func(work, deadline=deadline, seed=seed, **options)
        except INPUT_ERRORS:
            raise
        except Exception as exc:  # noqa: BLE001 - a failing algorithm is a result, not a crash
            raw = Result(spec.name, SolveStatus.ERROR,
                         message=f"{spec.name} failed: {type(exc).__name__}: {exc}")
        result = _as_result(spec.name, work, raw)
        if work is not instance:
            result = rebased(result, instance)
        result = _verified(spec.name, instance, result)
    runtime = time.perf_counter() - t0
    stats = dict(result.stats)
    stats["time_limit"] = time_limit
    if deadline.cancelled:
        stats["interrupted"] = True
        note = "interrupted (Ctrl-C): the best schedule found so far"
        status = result.status
        if status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL) and not _proven(result):
            status = SolveStatus.TIME_LIMIT
        result = dataclasses.replace(result, status=status,
                                     message="; ".join(m for m in (note, result.message) if m))
    return dataclasses.replace(result, runtime=runtime, algorithm=spec.name, stats=stats)


#: Largest seed: HiGHS's ``random_seed`` and CP-SAT's are 32-bit signed integers.
MAX_SEED = 2**31 - 1


def _checked_seed(seed: Any) -> int | None:
    """``seed`` as an int in ``[0, MAX_SEED]`` or None (:class:`OptionError` otherwise)."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise OptionError(f"seed must be an integer or None, got {type(seed).__name__} "
                          f"{seed!r:.40}")
    if not 0 <= int(seed) <= MAX_SEED:
        raise OptionError(f"seed must be in [0, 2^31 - 1 = {MAX_SEED}], got {int(seed)!r:.40}")
    return int(seed)


def _real(x: Any) -> bool:
    """A real number that is not NaN (a bound of ``-inf`` is valid, if useless)."""
    return (isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)
            and not (isinstance(x, (float, np.floating)) and x != x))


def _proven(res: Result) -> bool:
    return (res.objective is not None and res.lower_bound is not None
            and res.lower_bound >= res.objective - 1e-9)


def _as_result(name: str, instance: Instance, raw: Any) -> Result:
    """A user algorithm may return a Result, a Schedule, a mapping or start steps."""
    if isinstance(raw, Result):
        return raw
    if raw is None:
        return Result(name, SolveStatus.ERROR, message=f"{name} returned nothing")
    try:
        sched = as_schedule(instance, raw)
    except (ScheduleError, TypeError, ValueError) as exc:
        return Result(name, SolveStatus.ERROR,
                      message=f"{name} returned {type(raw).__name__}, not a schedule: {exc}")
    return Result(name, SolveStatus.FEASIBLE, schedule=sched)


def _verified(name: str, instance: Instance, result: Result) -> Result:
    """Re-check the schedule; make the status honest; fall back when a stop found nothing."""
    if result.schedule is None:
        if result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
            return dataclasses.replace(result, status=SolveStatus.ERROR,
                                       message=f"{name} reported {result.status} without a "
                                               "schedule")
        if result.status is SolveStatus.TIME_LIMIT:
            order = np.lexsort((np.arange(instance.n), instance.arrival))
            starts = sequential_starts(instance, order)
            note = "no schedule was found in time: the sequential fallback (arrival order)"
            result = dataclasses.replace(
                result, schedule=Schedule(instance, starts),
                message="; ".join(m for m in (result.message, note) if m),
                stats={**result.stats, "fallback": "sequential"})
        else:
            return result
    assert result.schedule is not None  # (set just above when it was missing)
    report = check(instance, result.schedule)
    if not report.feasible:
        return dataclasses.replace(result, status=SolveStatus.ERROR, objective=None,
                                   message=f"{name} returned an infeasible schedule: "
                                           f"{report.reason()}")
    obj = report.objective
    lb = result.lower_bound
    if lb is not None and not _real(lb):
        return dataclasses.replace(result, status=SolveStatus.ERROR, objective=obj,
                                   message=f"{name} reported lower bound {lb!r:.40}, not a number")
    if lb is not None and lb > obj + 1e-6:
        return dataclasses.replace(result, status=SolveStatus.ERROR, objective=obj,
                                   message=f"{name} reported lower bound {lb} above its own "
                                           f"feasible objective {obj}")
    status = result.status
    if status is SolveStatus.OPTIMAL and (lb is None or lb < obj - 1e-9):
        status = SolveStatus.FEASIBLE  # never 'optimal' without a bound that proves it
    return dataclasses.replace(result, objective=obj, status=status)


@contextlib.contextmanager
def _sigint_cancels(deadline: Deadline) -> Iterator[None]:
    """While solving in the main thread with Python's default SIGINT handler, the first
    Ctrl-C cancels ``deadline`` (the search stops and returns what it has); the second
    raises ``KeyboardInterrupt``."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return

    def handler(signum, frame):  # noqa: ARG001 - signal handler signature
        if deadline.cancelled:
            raise KeyboardInterrupt
        deadline.cancel("interrupted")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
