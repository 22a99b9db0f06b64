"""The one memory-feasibility checker, and schedule metrics.

Model (docs/design.md section 2): request ``i`` started at step ``p_i`` runs during
steps ``p_i+1 .. c_i`` with ``c_i = p_i + o_i`` and holds ``s_i + (t - p_i)``
KV tokens in step ``t``. A schedule is feasible when ``p_i >= a_i`` for all
``i`` and, for every step ``t >= 1``,

    m(t) = sum_{i : p_i < t <= c_i} (s_i + t - p_i) <= M.

Structure used here: writing ``w_i = s_i - p_i``, ``m(t) = W(t) + t * N(t)``
with ``N(t)`` the number of running requests and ``W(t)`` the sum of their
``w_i``. Between two consecutive completion steps no request leaves, so ``m`` is
non-decreasing on ``(c_(k), c_(k+1)]``: the maximum of ``m`` is attained at a
completion step, and it suffices to evaluate ``m`` at the ``n`` completion
steps. ``W`` and ``N`` at any set of query steps follow from prefix sums over the
sorted start and completion events, so a full check costs ``O(n log n)`` and is
vectorised with ``numpy``. The first violating step (which may lie strictly
between two completions, where memory first crosses ``M`` while still growing)
is found by bisection on the non-decreasing stretch that ends at the first
violating completion step.

Paged memory (``instance.block_size = b > 1``): a request holding ``x`` tokens
occupies ``b * ceil(x / b) = x + ((-x) mod b)``. For a run with ``w = s - p`` the
padding in step ``t`` is ``(v - t) mod b`` with ``v = (-w) mod b``, so
``m_b(t) = W(t) + t N(t) + sum_r N_r(t) * ((r - t) mod b)``, ``N_r`` counting the
running requests with ``v = r`` (prefix sums per residue class: ``O(R (n + k) log n)``
for ``k`` query steps, ``R <= min(b, n)`` the residues present). Each term is still
non-decreasing while its request runs, so the argument above (maximum at a
completion step, bisection for the first violation) holds unchanged.

Segmented runs (:attr:`Schedule.runs`): segment ``k`` of a preempted request is a
*piece* holding ``s + D_k + (t - p_k)`` in steps ``p_k+1 .. p_k+d_k``
(:meth:`Schedule.pieces`), i.e. exactly a request of prefill ``s + D_k`` and decode
``d_k`` started at ``p_k``; the checker evaluates the memory of all pieces, so every
step of every segment is covered, block rounding included.

Exact arithmetic: every integer of an instance and a schedule is within ``2**40``
(:mod:`lpsched.limits`), so each term above is below ``2**43`` in absolute value and
the sums fit int64 for up to ``2**19`` pieces whatever the data; beyond that, when the
actual values could reach ``2**62`` (:func:`lpsched.limits.fits_int64`), the sums are
taken over exact Python integers instead, so the verdict never depends on a wrap.
Only steps ``t >= 1`` count (the model's steps); starts before arrival (negative ones
included) are reported as an :class:`ArrivalViolation`, whatever their memory.

Restarts (:attr:`Schedule.restarts`): a killed attempt ``(q, e)`` of a restarted
request (progress discarded) is a piece ``(s, e, q)``: it held ``s + (t - q)`` in steps
``q+1 .. q+e``, so its memory is checked like any run's, and its start like a start
(not before the arrival).

Not seen: partial-prefill (chunked prefill) steps. With chunked prefill the engine
(:mod:`lpsched.engine`) admits a request at ``q`` and computes its prompt in chunks in
steps ``q+1 .. p``, holding the tokens computed so far, before its start ``p`` in the
model's sense (a prefill dropped by a preemption holds them and is then lost). The
schedule format (:class:`~lpsched.schedule.Schedule`: ``starts``, ``runs``,
``restarts``; docs/design.md section 5) has no field for those chunks: neither ``q``
nor the chunk sizes (they depend on the engine's token budget) are in it. So this
checker verifies the memory from each start (and of every segment and attempt) on, and
counts nothing for a request in the steps before its start; the memory of the chunk
steps is kept within ``M`` by the engine itself (its guard counts the blocks of the
prefill in progress in every step). Those steps hold fewer tokens than the request
holds from ``p`` on, but they add to the memory of the steps ``q+1 .. p``, which this
checker does not count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lpsched.errors import UsageError
from lpsched.instance import Instance
from lpsched.limits import cap_column, exact_sum, fits_int64
from lpsched.schedule import Schedule, ScheduleError, as_schedule

__all__ = [
    "ArrivalViolation",
    "CheckReport",
    "MemoryViolation",
    "check",
    "memory_at",
    "memory_profile",
]

#: Largest span of steps :func:`memory_profile` materialises (2^26: 0.5 GiB per array).
PROFILE_MAX_STEPS = 2**26


@dataclass(frozen=True)
class MemoryViolation:
    """The first step whose memory exceeds the budget."""

    step: int
    memory: int
    excess: int

    def __str__(self) -> str:
        return f"step {self.step}: memory {self.memory} exceeds the budget by {self.excess}"


@dataclass(frozen=True)
class ArrivalViolation:
    """A request that starts before it arrives (the first one, by position)."""

    request: str
    start: int
    arrival: int

    def __str__(self) -> str:
        return f"request {self.request!r} starts at step {self.start} before its arrival {self.arrival}"


@dataclass(frozen=True)
class CheckReport:
    """Feasibility and metrics of a schedule.

    ``objective`` is the total completion time ``sum_i (c_i - a_i)``;
    ``mean_utilisation`` is the mean of ``m(t)/M`` over steps ``1..makespan``;
    latencies are ``c_i - a_i`` in steps.
    """

    feasible: bool
    violation: MemoryViolation | None
    arrival_violation: ArrivalViolation | None
    steps_checked: int
    objective: int
    makespan: int
    peak_memory: int
    peak_step: int
    mean_utilisation: float
    latency: dict[str, float] = field(default_factory=dict)

    def reason(self) -> str:
        """One line saying why the schedule is infeasible ('' when feasible)."""
        parts = []
        if self.arrival_violation is not None:
            parts.append(str(self.arrival_violation))
        if self.violation is not None:
            parts.append(str(self.violation))
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "feasible": self.feasible,
            "violation": None if self.violation is None else vars(self.violation),
            "arrival_violation": None if self.arrival_violation is None
            else vars(self.arrival_violation),
            "objective": self.objective,
            "makespan": self.makespan,
            "peak_memory": self.peak_memory,
            "peak_step": self.peak_step,
            "mean_utilisation": self.mean_utilisation,
            "latency": dict(self.latency),
        }


ScheduleLike = Schedule | Mapping[str, int] | Sequence[int] | np.ndarray


class _Profile:
    """Prefix sums over start/end events: evaluates ``m(t)`` at any steps.

    Pieces ``(s, o, p)`` hold ``s + t - p`` tokens in steps ``p+1 .. p+o``; with
    ``block_size = b > 1`` each holds ``b * ceil((s + t - p) / b)`` (module docstring).
    """

    def __init__(self, s: np.ndarray, o: np.ndarray, p: np.ndarray, block_size: int = 1):
        w = s - p
        begin = p + 1  # first step occupied
        end = p + o + 1  # first step no longer occupied
        top = max(_magnitude(w), _magnitude(end), _magnitude(begin)) + int(block_size)
        self.wide = w.size > 0 and not fits_int64(w.size, 2 * top)
        if self.wide:  # sums of these could wrap int64: exact Python integers
            w = w.astype(object)
        ob = np.argsort(begin, kind="stable")
        oe = np.argsort(end, kind="stable")
        self.begin = begin[ob]
        self.end = end[oe]
        self.wb = np.concatenate(([0], np.cumsum(w[ob])))
        self.we = np.concatenate(([0], np.cumsum(w[oe])))
        self.b = int(block_size)
        self.classes: list[tuple[int, np.ndarray, np.ndarray]] = []
        if self.b > 1:
            v = (-w) % self.b
            for r in np.unique(v).tolist():
                mask = v == r
                self.classes.append((r, np.sort(begin[mask]), np.sort(end[mask])))

    def __call__(self, t: np.ndarray | int) -> np.ndarray:
        t = np.asarray(t, dtype=np.int64)
        if self.wide:
            t = t.astype(object)
        kb = np.searchsorted(self.begin, t, side="right")
        ke = np.searchsorted(self.end, t, side="right")
        out = (self.wb[kb] - self.we[ke]) + t * (kb - ke)
        for r, cb, ce in self.classes:
            active = np.searchsorted(cb, t, side="right") - np.searchsorted(ce, t, side="right")
            out = out + active * ((r - t) % self.b)
        return out


def _magnitude(x: np.ndarray) -> int:
    """``max |x|`` as a Python int (0 for an empty array)."""
    return max(abs(int(x.max())), abs(int(x.min()))) if x.size else 0


def _schedule(instance: Instance, schedule: ScheduleLike) -> Schedule:
    if not isinstance(instance, Instance):
        raise UsageError(f"the instance must be an lpsched.Instance, got "
                         f"{type(instance).__name__}")
    return as_schedule(instance, schedule)


def _profile(instance: Instance, schedule: ScheduleLike) -> tuple[Schedule, _Profile]:
    sched = _schedule(instance, schedule)
    held, steps, start = sched.pieces()
    return sched, _Profile(held, steps, start, instance.block_size)


def _block_area(held: np.ndarray, steps: np.ndarray, b: int) -> int:
    """``sum`` over pieces of ``sum_{x = held+1}^{held+steps} b ceil(x / b)`` (token-steps)."""
    def cum(x: np.ndarray) -> np.ndarray:  # sum_{y=1}^{x} b ceil(y / b), x = q b + r
        q = x // b  # (np.divmod has no loop for the exact object arrays below)
        r = x - q * b
        return b * b * q * (q + 1) // 2 + r * b * (q + 1)
    top = _magnitude(held + steps) + b
    if not fits_int64(held.size, top * top):  # ~x^2 / 2 per piece: exact Python integers
        held, steps = held.astype(object), steps.astype(object)
    return int((cum(held + steps) - cum(held)).sum())


def memory_at(instance: Instance, schedule: ScheduleLike,
              steps: Sequence[int] | np.ndarray) -> np.ndarray:
    """KV memory ``m(t)`` in each of ``steps`` (vectorised, ``O((n + k) log n)``; blocks
    and segmented runs included)."""
    t = cap_column(steps, "step", error=ScheduleError)
    return _profile(instance, schedule)[1](t)


def memory_profile(instance: Instance,
                   schedule: ScheduleLike) -> tuple[np.ndarray, np.ndarray]:
    """Memory in every step ``1..makespan``: ``(steps, memory)``; ``O(n + makespan)``
    (``O(R (n + makespan) log n)`` with blocks, module docstring)."""
    sched = _schedule(instance, schedule)
    s, o, p = sched.pieces()
    makespan = int((p + o).max())
    lo = int(min(1, (p + 1).min()))
    size = makespan - lo + 2
    if size > PROFILE_MAX_STEPS:
        raise ScheduleError(f"memory_profile: the schedule spans {size} steps, more than "
                            f"{PROFILE_MAX_STEPS}; use memory_at() at chosen steps")
    if instance.block_size > 1 or not fits_int64(s.size, max(_magnitude(s - p), size) * 2):
        steps = np.arange(1, makespan + 1, dtype=np.int64)
        return steps, _Profile(s, o, p, instance.block_size)(steps)
    cnt = np.zeros(size, dtype=np.int64)
    wsum = np.zeros(size, dtype=np.int64)
    np.add.at(cnt, p + 1 - lo, 1)
    np.add.at(cnt, p + o + 1 - lo, -1)
    np.add.at(wsum, p + 1 - lo, s - p)
    np.add.at(wsum, p + o + 1 - lo, -(s - p))
    steps = np.arange(lo, makespan + 1, dtype=np.int64)
    mem = np.cumsum(wsum)[:-1] + steps * np.cumsum(cnt)[:-1]
    keep = steps >= 1
    return steps[keep], mem[keep]


def _early_attempt(instance: Instance, sched: Schedule) -> ArrivalViolation | None:
    """The first restarted request (by position) whose first killed attempt starts before
    its arrival (:attr:`Schedule.restarts`; the final run is checked with the starts)."""
    pos, q, _e = sched.killed_attempts()
    early = np.flatnonzero(q < instance.arrival[pos])
    if not early.size:
        return None
    k = int(pos[early].min())
    first = int(q[np.flatnonzero(pos == k)[0]])
    return ArrivalViolation(instance.ids[k], first, int(instance.arrival[k]))


def _latency_stats(lat: np.ndarray) -> dict[str, float]:
    q = np.percentile(lat, [50, 90, 99])
    return {"mean": float(lat.mean()), "p50": float(q[0]), "p90": float(q[1]),
            "p99": float(q[2]), "max": float(lat.max())}


def check(instance: Instance, schedule: ScheduleLike) -> CheckReport:
    """Check a schedule against its instance and compute its metrics.

    Parameters
    ----------
    instance
        The instance.
    schedule
        A :class:`~lpsched.schedule.Schedule`, a mapping ``{request id: start step}``
        (the ``starts`` object of a schedule file) or start steps aligned with
        ``instance.ids``.

    Returns
    -------
    CheckReport
        ``feasible`` is True iff every request starts at or after its arrival
        and ``m(t) <= M`` in every step. ``violation`` is the *first* step with
        ``m(t) > M`` (with the memory there and the excess), if any. ``m(t)``
        counts the runs, segments and attempts of the schedule; the partial-prefill
        chunks of chunked prefill before a start are not part of a schedule and are
        not counted (module docstring: the engine verifies them).

    Examples
    --------
    >>> from lpsched.instance import Instance, Request
    >>> inst = Instance(6, [Request("a", 1, 2), Request("b", 1, 2)])
    >>> check(inst, [0, 0]).violation  # both run in steps 1-2: 2+2, then 3+3 = 6 <= 6
    >>> check(inst.replace(memory=5), [0, 0]).violation.step
    2
    >>> check(inst, {"a": 0, "b": 2}).objective  # keyed by request id
    6
    """
    sched, prof = _profile(instance, schedule)
    p, a = sched.starts, instance.arrival
    M = instance.memory
    c = sched.completions
    held, run_steps, run_start = sched.pieces()

    early = p < a
    arrival_violation = None
    if np.any(early):
        k = int(np.flatnonzero(early)[0])
        arrival_violation = ArrivalViolation(instance.ids[k], int(p[k]), int(a[k]))
    arrival_violation = arrival_violation or _early_attempt(instance, sched)

    q = np.sort(run_start + run_steps)  # distinct completion steps (np.unique hashes; sort + mask is faster)
    q = q[np.concatenate(([True], q[1:] != q[:-1]))]
    q = q[q >= 1]  # no completion at a step >= 1: nothing runs in the model's steps
    mem = prof(q)
    peak_memory, peak_step = 0, 0
    if q.size:
        k_peak = int(np.argmax(mem))
        peak_memory, peak_step = int(mem[k_peak]), int(q[k_peak])

    violation = None
    over = mem > M
    if np.any(over):
        j = int(np.flatnonzero(over)[0])
        hi = int(q[j])  # m(hi) > M
        lo = int(q[j - 1]) if j > 0 else int(min(0, run_start.min()))  # m <= M up to lo
        lo = max(lo, 0)
        # m is non-decreasing on (lo, hi]: bisect for the first step exceeding M.
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if int(prof(mid)) > M:
                hi = mid
            else:
                lo = mid
        m_hi = int(prof(hi))
        violation = MemoryViolation(hi, m_hi, m_hi - M)

    makespan = int(c.max())
    area = _block_area(held, run_steps, instance.block_size)
    lat = (c - a).astype(np.float64)
    return CheckReport(
        feasible=violation is None and arrival_violation is None,
        violation=violation,
        arrival_violation=arrival_violation,
        steps_checked=int(q.size),
        objective=exact_sum(c - a),
        makespan=makespan,
        peak_memory=peak_memory,
        peak_step=peak_step,
        mean_utilisation=area / (M * makespan) if makespan > 0 else 0.0,
        latency=_latency_stats(lat),
    )
