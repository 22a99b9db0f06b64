"""The one entry point: ``solve(instance, algorithm=..., time_limit=...) -> Result``.

Every schedule an algorithm returns is verified here by the shared checker
(:func:`lpsched.check.check`) before it reaches the caller: an infeasible
schedule turns the result into status ``error`` with the checker's reason, and
the objective is always recomputed from the schedule.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from lpsched import registry
from lpsched.check import check
from lpsched.instance import Instance
from lpsched.schedule import Result, SolveStatus

__all__ = ["solve"]


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
        ``"sf"``, ``"size-first"``, ``"mc-sf"``.
    time_limit
        Wall-time limit in seconds for algorithms that search (None: their default).
    seed
        Random seed for randomised algorithms (None: their default, deterministic).
    **options
        Algorithm-specific options, passed through.

    Examples
    --------
    >>> from lpsched import Instance, Request, solve
    >>> inst = Instance(10, [Request("a", 2, 3), Request("b", 1, 4)])
    >>> res = solve(inst, "mc-sf")
    >>> res.status.value, res.objective
    ('feasible', 7)
    """
    spec = registry.get(algorithm)
    func = spec.load()
    if time_limit is not None and time_limit <= 0:
        raise ValueError(f"time_limit must be > 0, got {time_limit}")
    t0 = time.perf_counter()
    result = func(instance, time_limit=time_limit, seed=seed, **options)
    runtime = time.perf_counter() - t0
    changes: dict[str, Any] = {"runtime": runtime, "algorithm": spec.name}
    if result.schedule is not None:
        report = check(instance, result.schedule)
        if not report.feasible:
            return dataclasses.replace(
                result, status=SolveStatus.ERROR, runtime=runtime, algorithm=spec.name,
                message=f"{spec.name} returned an infeasible schedule: {report.reason()}")
        changes["objective"] = report.objective
        if result.lower_bound is not None and result.lower_bound > report.objective + 1e-6:
            return dataclasses.replace(
                result, status=SolveStatus.ERROR, runtime=runtime, algorithm=spec.name,
                objective=report.objective,
                message=f"{spec.name} reported lower bound {result.lower_bound} above its own "
                        f"feasible objective {report.objective}")
    elif result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        return dataclasses.replace(result, status=SolveStatus.ERROR, runtime=runtime,
                                   algorithm=spec.name,
                                   message=f"{spec.name} reported {result.status} without a schedule")
    return dataclasses.replace(result, **changes)
