"""Schedules and solver results.

A :class:`Schedule` assigns each request of an instance an integer start step
``p_i >= a_i``; request ``i`` then runs during steps ``p_i+1 .. p_i+o_i`` and
completes at ``c_i = p_i + o_i`` (docs/design.md section 2).

Every algorithm returns a :class:`Result` (objective, lower bound, status,
runtime, schedule), and the schedule JSON of docs/design.md section 5 is written by
:meth:`Result.to_dict`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from lpsched.instance import Instance, InstanceError

__all__ = ["Result", "Schedule", "ScheduleError", "SolveStatus", "as_schedule", "read_schedule",
           "sequential_starts"]


class ScheduleError(ValueError):
    """A schedule that does not fit its instance (missing/unknown ids, non-integer starts)."""


class SolveStatus(str, Enum):
    """Outcome of a solve.

    * ``optimal``: the objective is proven optimal (a bound equal to it exists);
    * ``feasible``: a checked feasible schedule, optimality not proven (heuristics);
    * ``time_limit``: a solver stopped at its time limit; it reports its best
      schedule (if any) and its bound;
    * ``infeasible``: proven infeasible;
    * ``error``: the algorithm failed; see ``Result.message``.
    """

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    TIME_LIMIT = "time_limit"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


class Schedule:
    """Start steps for every request of an instance (immutable).

    ``starts[k]`` is the start step of ``instance.ids[k]``.
    """

    __slots__ = ("_instance", "_starts")

    def __init__(self, instance: Instance, starts: Sequence[int] | np.ndarray):
        arr = np.asarray(starts)
        if arr.shape != (instance.n,):
            raise ScheduleError(
                f"schedule has {arr.size} starts for an instance of {instance.n} requests")
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
                arr = arr.astype(np.int64)
            else:
                raise ScheduleError("start steps must be integers")
        arr = np.array(arr, dtype=np.int64)
        arr.setflags(write=False)
        self._instance = instance
        self._starts = arr

    @classmethod
    def from_mapping(cls, instance: Instance, starts: Mapping[str, Any], *,
                     source: str | None = None) -> Schedule:
        """Build from ``{request id: start step}``; every id must be present exactly once."""
        where = f"{source}: " if source else ""
        unknown = [k for k in starts if k not in instance._index]  # noqa: SLF001
        if unknown:
            raise ScheduleError(f"{where}request {unknown[0]!r}: not in instance {instance.name!r}")
        arr = np.empty(instance.n, dtype=np.int64)
        for k, rid in enumerate(instance.ids):
            if rid not in starts:
                raise ScheduleError(f"{where}request {rid!r}: no start step in the schedule")
            v = starts[rid]
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer)) or (
                    isinstance(v, float) and not v.is_integer()):
                raise ScheduleError(f"{where}request {rid!r}: start must be an integer, got {v!r}")
            arr[k] = int(v)
        return cls(instance, arr)

    @property
    def instance(self) -> Instance:
        return self._instance

    @property
    def starts(self) -> np.ndarray:
        """Start steps ``p`` (read-only int64 array aligned with ``instance.ids``)."""
        return self._starts

    @property
    def completions(self) -> np.ndarray:
        """Completion steps ``c = p + o``."""
        return self._starts + self._instance.decode

    @property
    def objective(self) -> int:
        """Total completion time ``sum_i (c_i - a_i)``."""
        inst = self._instance
        return int((self._starts + inst.decode - inst.arrival).sum())

    def as_mapping(self) -> dict[str, int]:
        return dict(zip(self._instance.ids, self._starts.tolist()))

    def order(self) -> np.ndarray:
        """Request positions by (start, position): the start order."""
        return np.lexsort((np.arange(self._instance.n), self._starts))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return self._instance == other._instance and np.array_equal(self._starts, other._starts)

    def __hash__(self) -> int:
        return hash((hash(self._instance), self._starts.tobytes()))

    def __repr__(self) -> str:
        return f"Schedule(instance={self._instance.name!r}, objective={self.objective})"


@dataclass(frozen=True)
class Result:
    """What every algorithm returns.

    Attributes
    ----------
    algorithm
        Registry name of the algorithm (e.g. ``"mc-sf"``).
    status
        A :class:`SolveStatus`.
    objective
        Total completion time of ``schedule`` (None without a schedule).
    lower_bound
        A proven lower bound on the optimum, or None.
    runtime
        Wall time in seconds.
    schedule
        The best schedule found (checker-verified by :func:`lpsched.solve`), or None.
    message
        Human-readable detail (error text, solver notes).
    stats
        Algorithm-specific figures (nodes, iterations, evictions, ...).
    """

    algorithm: str
    status: SolveStatus
    objective: int | None = None
    lower_bound: float | None = None
    runtime: float = 0.0
    schedule: Schedule | None = None
    message: str = ""
    stats: Mapping[str, Any] = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        """Relative gap ``(objective - lower_bound) / objective`` or None."""
        if self.objective is None or self.lower_bound is None or self.objective <= 0:
            return None
        return max(0.0, (self.objective - self.lower_bound) / self.objective)

    @property
    def feasible(self) -> bool:
        return self.schedule is not None

    def to_dict(self) -> dict[str, Any]:
        """The schedule JSON of docs/design.md section 5."""
        lb = self.lower_bound
        if lb is not None and float(lb).is_integer():
            lb = int(lb)
        out: dict[str, Any] = {
            "instance": self.schedule.instance.name if self.schedule is not None else None,
            "algorithm": self.algorithm,
            "starts": self.schedule.as_mapping() if self.schedule is not None else {},
            "objective": self.objective,
            "lower_bound": lb,
            "status": str(self.status),
            "runtime_s": round(float(self.runtime), 6),
        }
        if self.message:
            out["message"] = self.message
        if self.stats:
            out["stats"] = _jsonable(self.stats)
        return out

    def write(self, path: str | os.PathLike[str], instance_name: str | None = None) -> None:
        data = self.to_dict()
        if data["instance"] is None:
            data["instance"] = instance_name
        Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def as_schedule(instance: Instance, schedule: Any) -> Schedule:
    """A :class:`Schedule` of ``instance`` from a Schedule, a ``{request id: start}`` mapping
    (the schedule file's own shape) or start steps aligned with ``instance.ids``."""
    if isinstance(schedule, Schedule):
        if schedule.instance is not instance and schedule.instance != instance:
            raise ScheduleError("schedule belongs to a different instance")
        return schedule
    if isinstance(schedule, Mapping):
        return Schedule.from_mapping(instance, schedule)
    return Schedule(instance, schedule)


def sequential_starts(instance: Instance, order: Sequence[int] | np.ndarray) -> np.ndarray:
    """Start steps that run the requests one at a time in ``order`` (each at or after arrival).

    Always feasible, because every request fits alone (``s_i + o_i <= M``): a trivial
    baseline and upper bound.
    """
    starts = np.empty(instance.n, dtype=np.int64)
    t = 0
    for k in order:
        t = max(t, int(instance.arrival[k]))
        starts[k] = t
        t += int(instance.decode[k])
    return starts


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def read_schedule(path: str | os.PathLike[str], instance: Instance) -> Schedule:
    """Read a schedule JSON file (docs/design.md section 5) for ``instance``."""
    src = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InstanceError(f"cannot read file: {exc.strerror or exc}", source=src) from None
    except json.JSONDecodeError as exc:
        raise InstanceError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                            source=src) from None
    if not isinstance(data, Mapping) or not isinstance(data.get("starts"), Mapping):
        raise InstanceError("a schedule file needs a 'starts' object", source=src)
    try:
        return Schedule.from_mapping(instance, data["starts"], source=src)
    except ScheduleError as exc:
        raise InstanceError(str(exc).removeprefix(f"{src}: "), source=src) from None
