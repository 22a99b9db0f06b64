"""Schedules and solver results.

A :class:`Schedule` assigns each request of an instance an integer start step
``p_i >= a_i``; request ``i`` then runs during steps ``p_i+1 .. p_i+o_i`` and
completes at ``c_i = p_i + o_i`` (docs/design.md section 2).

A request that was preempted and resumed runs in *segments* (``runs``):
``((p_1, d_1), (p_2, d_2), ...)``, running steps ``p_k+1 .. p_k+d_k`` in segment
``k``, the segments in order and not overlapping (``p_{k+1} >= p_k + d_k``),
``d_k >= 1``, ``sum_k d_k = o_i`` and ``p_1 = p_i``. In step ``t`` of segment ``k``
it holds ``s_i + D_k + (t - p_k)`` tokens, ``D_k = d_1 + ... + d_{k-1}`` (its cache
is rebuilt at the resume, its progress kept); it completes at ``p_last + d_last``.
Each segment is thus a *piece* ``(s_i + D_k, d_k, p_k)`` that behaves like a
request of prefill ``s_i + D_k`` and decode ``d_k`` started at ``p_k``
(:meth:`Schedule.pieces`).

Every integer of a schedule (start steps, segment starts and lengths) lies within the cap
``|x| <= 2**40`` of :mod:`lpsched.limits`; a start before the request's arrival (negative
included) is accepted here and reported infeasible by the checker.

A request may also be *restarted* (``restarts``): attempts ``((q_1, e_1), ...)`` that
ran ``e_j`` steps from ``q_j`` and were then killed with their progress *discarded*
(the GSA rule of Feng, Yang, Zhang, arXiv 2601.22996; the cancellations of Chen, Ye,
Zhou, arXiv 2508.14544), unlike a preemption whose progress is kept. Each attempt is
a fresh run: it holds ``s_i + (t - q_j)`` in steps ``q_j+1 .. q_j+e_j``, a piece
``(s_i, e_j, q_j)``; ``1 <= e_j <= o_i - 1`` (an attempt that ran ``o_i`` steps would
have completed), the attempts in order and not overlapping, the last one ending by
``p_i``. ``p_i`` is then the start of the *final* run, the one that completes
(latency still counts from the arrival: ``c_i - a_i``).

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
from types import MappingProxyType
from typing import Any

import numpy as np

from lpsched.errors import InputError, UsageError
from lpsched.instance import Instance, InstanceError
from lpsched.limits import cap_column, cap_int, exact_sum, path_text, read_json_file

__all__ = ["Result", "Schedule", "ScheduleError", "SolveStatus", "as_schedule", "one_at_a_time",
           "read_schedule", "sequential_starts"]


class ScheduleError(InputError):
    """A schedule that does not fit its instance (missing/unknown ids, non-integer starts,
    values beyond the cap, malformed segments); names the source and the request."""


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


Runs = Mapping[int, Sequence[Sequence[int]]]
#: Killed attempts: a mapping as :data:`Runs`, or arrays ``(position, q, e)`` grouped by request.
Attempts = Runs | tuple[Any, Any, Any]


class Schedule:
    """Start steps for every request of an instance, and the segments of the requests
    that ran in more than one piece (immutable).

    ``starts[k]`` is the start step of ``instance.ids[k]``; ``runs`` (optional) maps a
    request *position* to its segments ``[(p_1, d_1), (p_2, d_2), ...]`` (module
    docstring); a one-segment entry ``[(p_k, o_k)]`` is the plain run and is dropped.
    Malformed segments raise :class:`ScheduleError` naming the request and the rule.
    """

    __slots__ = ("_instance", "_starts", "_runs", "_restarts", "_killed_map")

    def __init__(self, instance: Instance, starts: Sequence[int] | np.ndarray,
                 runs: Runs | None = None, restarts: Attempts | None = None):
        if not isinstance(instance, Instance):
            raise UsageError(f"Schedule() needs an lpsched.Instance, got "
                             f"{type(instance).__name__}")
        if starts is None or isinstance(starts, (str, bytes, Mapping)):
            raise UsageError("starts must be a sequence of start steps (Schedule.from_mapping "
                             f"takes a mapping), got {type(starts).__name__}")
        size = len(starts) if hasattr(starts, "__len__") else None
        if size is not None and size != instance.n:
            raise ScheduleError(
                f"schedule has {size} starts for an instance of {instance.n} requests")
        arr = cap_column(starts, "start", ids=instance.ids, error=ScheduleError)  # a copy
        if arr.shape != (instance.n,):
            raise ScheduleError(
                f"schedule has {arr.size} starts for an instance of {instance.n} requests")
        arr.setflags(write=False)
        self._instance = instance
        self._starts = arr
        self._runs = _validated_runs(instance, arr, runs or {})
        self._restarts = _validated_restarts(instance, arr, {} if restarts is None else restarts)
        self._killed_map: dict[int, tuple[tuple[int, int], ...]] | None = None

    @classmethod
    def from_mapping(cls, instance: Instance, starts: Mapping[str, Any], *,
                     source: str | None = None,
                     runs: Mapping[str, Any] | None = None,
                     restarts: Mapping[str, Any] | None = None) -> Schedule:
        """Build from ``{request id: start step}`` (every id present exactly once) and
        optionally ``{request id: [[p1, d1], [p2, d2], ...]}`` (the file's ``runs``, and
        its ``restarts``: the killed attempts)."""
        if not isinstance(instance, Instance):
            raise UsageError(f"Schedule.from_mapping() needs an lpsched.Instance, got "
                             f"{type(instance).__name__}")
        if not isinstance(starts, Mapping):
            raise UsageError(f"starts must be a mapping {{request id: start}}, got "
                             f"{type(starts).__name__}")
        if runs is not None and not isinstance(runs, Mapping):
            raise ScheduleError("runs must be an object {request id: [[start, steps], ...]}, "
                                f"got {type(runs).__name__}", source=source)
        unknown = [k for k in starts if k not in instance._index]  # noqa: SLF001
        if unknown:
            raise ScheduleError(f"not in instance {instance.name!r}", source=source,
                                request=str(unknown[0]))
        arr = np.empty(instance.n, dtype=np.int64)
        for k, rid in enumerate(instance.ids):
            if rid not in starts:
                raise ScheduleError("no start step in the schedule", source=source, request=rid)
            arr[k] = cap_int(starts[rid], "start", source=source, request=rid,
                             error=ScheduleError)
        by_pos = _by_position(instance, runs, source, "runs")
        killed = _by_position(instance, restarts, source, "restarts")
        try:
            return cls(instance, arr, by_pos, killed)
        except ScheduleError as exc:
            if not source:
                raise
            raise ScheduleError(exc.rule, source=source, request=exc.request) from None

    @property
    def instance(self) -> Instance:
        return self._instance

    @property
    def starts(self) -> np.ndarray:
        """Start steps ``p`` (read-only int64 array aligned with ``instance.ids``)."""
        return self._starts

    @property
    def runs(self) -> Mapping[int, tuple[tuple[int, int], ...]]:
        """``{position: ((p_1, d_1), ...)}`` of the requests that ran in several segments."""
        return MappingProxyType(self._runs)

    @property
    def completions(self) -> np.ndarray:
        """Completion steps ``c = p + o`` (``p_last + d_last`` for segmented runs)."""
        c = self._starts + self._instance.decode
        if self._runs:
            c = c.copy()
            for k, segs in self._runs.items():
                c[k] = segs[-1][0] + segs[-1][1]
        return c

    @property
    def objective(self) -> int:
        """Total completion time ``sum_i (c_i - a_i)``."""
        return exact_sum(self.completions - self._instance.arrival)

    @property
    def restarts(self) -> Mapping[int, tuple[tuple[int, int], ...]]:
        """``{position: ((q_1, e_1), ...)}``: the killed attempts (progress discarded) of
        the restarted requests (module docstring)."""
        if self._killed_map is None:
            pos, q, e = self._restarts
            out: dict[int, list[tuple[int, int]]] = {}
            for k, qq, ee in zip(pos.tolist(), q.tolist(), e.tolist()):
                out.setdefault(k, []).append((qq, ee))
            self._killed_map = {k: tuple(v) for k, v in out.items()}
        return MappingProxyType(self._killed_map)

    def killed_attempts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The killed attempts as arrays ``(position, start q, steps e)``, grouped by
        request in order (:attr:`restarts`; empty arrays when there is none)."""
        return self._restarts

    def pieces(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(held, steps, start)`` of every run piece: a plain request is one piece
        ``(s_i, o_i, p_i)``; segment ``k`` of a segmented one is ``(s_i + D_k, d_k, p_k)``
        and a killed attempt of a restarted one ``(s_i, e_j, q_j)`` (module docstring).
        In step ``t`` with ``start < t <= start + steps`` the piece holds
        ``held + t - start`` tokens."""
        held, steps, start = self._run_pieces()
        pos, q, e = self._restarts
        if not pos.size:
            return held, steps, start
        return (np.concatenate((held, self._instance.prefill[pos])),
                np.concatenate((steps, e)), np.concatenate((start, q)))

    def _run_pieces(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inst = self._instance
        if not self._runs:
            return inst.prefill, inst.decode, self._starts
        plain = np.ones(inst.n, dtype=bool)
        plain[list(self._runs)] = False
        extra = [(int(inst.prefill[k]) + done, d, p) for k, segs in self._runs.items()
                 for done, (p, d) in zip(_done_before(segs), segs)]
        ex = np.asarray(extra, dtype=np.int64).reshape(-1, 3)
        return (np.concatenate((inst.prefill[plain], ex[:, 0])),
                np.concatenate((inst.decode[plain], ex[:, 1])),
                np.concatenate((self._starts[plain], ex[:, 2])))

    def as_mapping(self) -> dict[str, int]:
        return dict(zip(self._instance.ids, self._starts.tolist()))

    def runs_mapping(self) -> dict[str, list[list[int]]]:
        """The file's ``runs`` object: ``{request id: [[p1, d1], [p2, d2], ...]}``."""
        ids = self._instance.ids
        return {ids[k]: [list(seg) for seg in segs] for k, segs in sorted(self._runs.items())}

    def restarts_mapping(self) -> dict[str, list[list[int]]]:
        """The file's ``restarts`` object: ``{request id: [[q1, e1], [q2, e2], ...]}``."""
        ids = self._instance.ids
        return {ids[k]: [list(a) for a in tries] for k, tries in sorted(self.restarts.items())}

    def order(self) -> np.ndarray:
        """Request positions by (start, position): the start order."""
        return np.lexsort((np.arange(self._instance.n), self._starts))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return (self._instance == other._instance and np.array_equal(self._starts, other._starts)
                and self._runs == other._runs
                and all(np.array_equal(a, b) for a, b in zip(self._restarts, other._restarts)))

    def __hash__(self) -> int:
        return hash((hash(self._instance), self._starts.tobytes(),
                     tuple(sorted(self._runs.items())),
                     tuple(a.tobytes() for a in self._restarts)))

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
        Algorithm-specific figures (nodes, iterations, evictions, ...): a read-only
        copy (:class:`types.MappingProxyType`) of the mapping given. A result is never
        changed in place: derive another with :func:`dataclasses.replace`, e.g.
        ``replace(res, stats={**res.stats, "note": 1})``.
    """

    algorithm: str
    status: SolveStatus
    objective: int | None = None
    lower_bound: float | None = None
    runtime: float = 0.0
    schedule: Schedule | None = None
    message: str = ""
    stats: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stats", MappingProxyType(dict(self.stats)))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # a mapping proxy does not pickle (process pools, Dask): pickle the plain dict
        return (Result, (self.algorithm, self.status, self.objective, self.lower_bound,
                         self.runtime, self.schedule, self.message, dict(self.stats)))

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
            **({"runs": self.schedule.runs_mapping()} if self.schedule is not None
               and self.schedule.runs else {}),
            **({"restarts": self.schedule.restarts_mapping()} if self.schedule is not None
               and self.schedule.restarts else {}),
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
        """Write the schedule file (docs/design.md section 5) atomically
        (:func:`lpsched.paths.write_text_atomic`: a failed write leaves ``path`` as it was
        and raises :class:`~lpsched.paths.OutputPathError` naming it)."""
        from lpsched.paths import write_text_atomic

        data = self.to_dict()
        if data["instance"] is None:
            data["instance"] = instance_name
        write_text_atomic(path, json.dumps(data, indent=1) + "\n", what="schedule file")


def as_schedule(instance: Instance, schedule: Any) -> Schedule:
    """A :class:`Schedule` of ``instance`` from a Schedule, a ``{request id: start}`` mapping
    (the schedule file's own shape) or start steps aligned with ``instance.ids``."""
    if isinstance(schedule, Schedule):
        if schedule.instance is not instance and schedule.instance != instance:
            raise ScheduleError("schedule belongs to a different instance")
        return schedule
    if not isinstance(instance, Instance):
        raise UsageError(f"the instance must be an lpsched.Instance, got "
                         f"{type(instance).__name__}")
    if isinstance(schedule, Mapping):
        return Schedule.from_mapping(instance, schedule)
    if schedule is None or isinstance(schedule, (str, bytes)) or not hasattr(schedule, "__len__"):
        raise UsageError("a schedule must be a Schedule, a {request id: start} mapping or a "
                         f"sequence of start steps, got {type(schedule).__name__}")
    return Schedule(instance, schedule)


def sequential_starts(instance: Instance, order: Sequence[int] | np.ndarray) -> np.ndarray:
    """Start steps that run the requests one at a time in ``order`` (each at or after arrival).

    Always feasible, because every request fits alone (``s_i + o_i <= M``): a trivial
    baseline and upper bound.
    """
    order = np.asarray(order, dtype=np.int64)
    starts = np.empty(instance.n, dtype=np.int64)
    starts[order] = one_at_a_time(instance.arrival[order], instance.decode[order], 0)
    return starts


def one_at_a_time(arrival: np.ndarray, duration: np.ndarray, t0: int) -> np.ndarray:
    """Start steps of requests run alone in the given order from step ``t0`` on: each
    when the previous one has finished (after its ``duration`` steps), not before its
    ``arrival``."""
    begin = np.empty(arrival.size, dtype=np.int64)
    t = int(t0)
    for j, (a, d) in enumerate(zip(arrival.tolist(), duration.tolist())):
        t = max(t, a)
        begin[j] = t
        t += d
    return begin


def _done_before(segs: Sequence[tuple[int, int]]) -> list[int]:
    """``D_k = d_1 + ... + d_{k-1}`` for each segment."""
    out, done = [], 0
    for _p, d in segs:
        out.append(done)
        done += d
    return out


def _int_pair(seg: Any, rid: str) -> tuple[int, int]:
    """A ``[start, steps]`` pair of integers within the cap (:class:`ScheduleError` if not)."""
    if not isinstance(seg, (list, tuple, np.ndarray)) or len(seg) != 2 or not all(
            isinstance(v, (int, float, np.integer, np.floating))
            and not isinstance(v, (bool, np.bool_)) for v in seg):
        shown = repr(seg) if len(repr(seg)) <= 60 else repr(seg)[:57] + "..."
        raise ScheduleError(f"runs must be a non-empty list of [start, steps] integer pairs, "
                            f"got {shown}", request=rid)
    return (cap_int(seg[0], "segment start", request=rid, error=ScheduleError),
            cap_int(seg[1], "segment steps", request=rid, error=ScheduleError))


def _validated_runs(instance: Instance, starts: np.ndarray,
                    runs: Runs) -> dict[int, tuple[tuple[int, int], ...]]:
    """``runs`` checked against the rules of the module docstring (one-piece entries
    equal to the plain run dropped); :class:`ScheduleError` naming the request."""
    out: dict[int, tuple[tuple[int, int], ...]] = {}
    if not isinstance(runs, Mapping):
        raise ScheduleError(f"runs must be a mapping {{position: segments}}, got "
                            f"{type(runs).__name__}")
    for k, segs in runs.items():
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < instance.n:
            raise ScheduleError(f"runs: {k!r} is not a request position of the instance")
        k = int(k)
        rid = instance.ids[k]
        if not isinstance(segs, (list, tuple)) or not segs:
            _int_pair(None, rid)  # raises
        pairs = [_int_pair(seg, rid) for seg in segs]
        if pairs[0][0] != int(starts[k]):
            raise ScheduleError(f"its first segment starts at {pairs[0][0]}, not at its start "
                                f"step {int(starts[k])}", request=rid)
        for j, (p, d) in enumerate(pairs):
            if d < 1:
                raise ScheduleError(f"segment {j + 1} runs {d} steps (>= 1)", request=rid)
            if j and p < pairs[j - 1][0] + pairs[j - 1][1]:
                raise ScheduleError(f"segment {j + 1} starts at {p}, before segment {j} ends at "
                                    f"{pairs[j - 1][0] + pairs[j - 1][1]}", request=rid)
        total, o = sum(d for _p, d in pairs), int(instance.decode[k])
        if total != o:
            raise ScheduleError(f"its segments run {total} steps, not its decode length {o}",
                                request=rid)
        if len(pairs) > 1:
            out[k] = tuple(pairs)
    return out


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
    """Read a schedule JSON file (docs/design.md section 5) for ``instance``; the JSON limits
    and the integer cap of :mod:`lpsched.limits` apply (:class:`InstanceError` naming the
    file and the request)."""
    src = path_text(path)
    data = read_json_file(path)
    if not isinstance(data, Mapping) or not isinstance(data.get("starts"), Mapping):
        raise InstanceError("a schedule file needs a 'starts' object", source=src)
    if not isinstance(data.get("runs", {}), Mapping):
        raise InstanceError("'runs' must be an object {id: [[start, steps], ...]}", source=src)
    if not isinstance(data.get("restarts", {}), Mapping):
        raise InstanceError("'restarts' must be an object {id: [[start, steps], ...]}",
                            source=src)
    try:
        return Schedule.from_mapping(instance, data["starts"], source=src, runs=data.get("runs"),
                                     restarts=data.get("restarts"))
    except ScheduleError as exc:
        raise InstanceError(exc.rule, source=src, request=exc.request) from None



def _by_position(instance: Instance, entries: Mapping[str, Any] | None,
                 source: str | None, field: str) -> dict[int, Any]:
    """The file's ``field`` (``runs`` or ``restarts``), ``{request id: value}``, re-keyed by
    request position (unknown ids refused)."""
    if entries is not None and not isinstance(entries, Mapping):
        raise ScheduleError(f"{field} must be an object {{request id: [[start, steps], ...]}}, "
                            f"got {type(entries).__name__}", source=source)
    out = {}
    for rid, value in (entries or {}).items():
        if rid not in instance._index:  # noqa: SLF001
            raise ScheduleError(f"{field} entry for a request not in instance {instance.name!r}",
                                source=source, request=str(rid))
        out[instance._index[rid]] = value  # noqa: SLF001
    return out


_NO_ATTEMPTS: tuple[np.ndarray, np.ndarray, np.ndarray] = (
    np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


def _validated_restarts(instance: Instance, starts: np.ndarray, restarts: Attempts
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``restarts`` checked against the rules of the module docstring, as flat arrays
    ``(position, q, e)`` grouped by request (vectorised: GSA records ~8 attempts per
    request); :class:`ScheduleError` naming the request and the rule. ``restarts`` is a
    mapping ``{position: [(q, e), ...]}`` or the three arrays themselves."""
    if isinstance(restarts, tuple):  # (position, q, e) arrays, grouped by request
        return _attempt_rules(instance, starts, *_attempt_arrays(instance, restarts))
    keys: list[int] = []
    flat: list[Any] = []
    for k, tries in sorted(restarts.items(), key=lambda kv: _position_key(instance, kv[0])):
        rid = instance.ids[int(k)]
        if not isinstance(tries, (list, tuple)) or not all(_pair_ok(a) for a in tries[:1]):
            raise ScheduleError(f"restarts must be a list of [start, steps] integer pairs, "
                                f"got {_shown(tries)}", request=rid)
        keys.extend([int(k)] * len(tries))
        flat.extend(tries)
    if not flat:
        return _NO_ATTEMPTS
    pairs = _int_pairs(flat)
    if pairs is None:  # locate the malformed pair for the message
        k = next(keys[i] for i, a in enumerate(flat) if not _pair_ok(a))
        raise ScheduleError(f"restarts must be a list of [start, steps] integer pairs, got "
                            f"{_shown(list(restarts[k]))}", request=instance.ids[k])
    return _attempt_rules(instance, starts, np.asarray(keys, dtype=np.int64),
                          pairs[:, 0].copy(), pairs[:, 1].copy())


def _attempt_arrays(instance: Instance, arrays: tuple[Any, ...]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(position, q, e)`` given as arrays: integers, one length, positions in range and
    grouped (non-decreasing)."""
    if len(arrays) != 3:
        raise ScheduleError("restarts as arrays must be (positions, starts, steps)")
    out = []
    for a in arrays:
        arr = np.asarray(a)
        if arr.ndim != 1 or arr.dtype.kind not in "iu" or arr.size != np.asarray(arrays[0]).size:
            raise ScheduleError("restarts as arrays must be three integer vectors of one length")
        out.append(np.array(arr, dtype=np.int64))
    pos = out[0]
    if pos.size and (pos.min() < 0 or pos.max() >= instance.n or np.any(np.diff(pos) < 0)):
        raise ScheduleError("restarts as arrays: positions must be request positions, grouped "
                            "in non-decreasing order")
    return out[0], out[1], out[2]


def _attempt_rules(instance: Instance, starts: np.ndarray, pos: np.ndarray, q: np.ndarray,
                   e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rules of the module docstring on flat attempt arrays (grouped by request)."""
    if not pos.size:
        return _NO_ATTEMPTS
    cap_column(q, "restart start", ids=[instance.ids[k] for k in pos.tolist()],
               error=ScheduleError)
    first = np.r_[True, pos[1:] != pos[:-1]]
    j = np.arange(pos.size) - np.maximum.accumulate(np.where(first, np.arange(pos.size), 0))
    o = instance.decode[pos]
    bad = np.flatnonzero((e < 1) | (e > o - 1))
    if bad.size:
        i = int(bad[0])
        raise ScheduleError(f"request {instance.ids[pos[i]]!r}: killed attempt {j[i] + 1} runs "
                            f"{e[i]} steps (must be 1 .. o - 1 = {o[i] - 1}: a run of o steps "
                            "completes)")
    end = q + e
    over = np.flatnonzero(~first[1:] & (q[1:] < end[:-1])) + 1
    if over.size:
        i = int(over[0])
        raise ScheduleError(f"request {instance.ids[pos[i]]!r}: killed attempt {j[i] + 1} starts "
                            f"at {q[i]}, before attempt {j[i]} ends at {end[i - 1]}")
    last = np.r_[first[1:], True]
    late = np.flatnonzero(last & (end > starts[pos]))
    if late.size:
        i = int(late[0])
        raise ScheduleError(f"request {instance.ids[pos[i]]!r}: its last killed attempt ends at "
                            f"{end[i]}, after its final start {int(starts[pos[i]])}")
    for a in (pos, q, e):
        a.setflags(write=False)
    return pos, q, e


def _position_key(instance: Instance, k: Any) -> int:
    """A restarts key checked to be a request position (:class:`ScheduleError` if not)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < instance.n:
        raise ScheduleError(f"restarts: {k!r} is not a request position of the instance")
    return int(k)


def _pair_ok(a: Any) -> bool:
    """Whether ``a`` is a ``[start, steps]`` pair of integers within the cap."""
    try:
        _int_pair(a, "")
    except ScheduleError:
        return False
    return True


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _int_pairs(flat: list[Any]) -> np.ndarray | None:
    """``flat`` as an ``(m, 2)`` int64 array of integer pairs, or None if any element is
    not an integer (bools refused, integral floats accepted)."""
    try:
        arr = np.asarray(flat)
    except (ValueError, TypeError):
        return None
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.dtype.kind not in "iuf":
        return None
    if arr.dtype.kind == "f":
        if not (np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
            return None
    elif any(type(v) is bool for a in flat for v in a):
        return None
    return arr.astype(np.int64)
