"""GSA and GBA: geometric phases with restarts (non-clairvoyant) and geometric batches.

Feng, Yang, Zhang, *Competitive Non-Clairvoyant KV-Cache Scheduling for LLM Inference*
(arXiv 2601.22996, 2026). Each rule below is marked **[paper]** where the paper's
abstract states it and **[ours]** where we chose: only the abstract (and the opening
of the HTML version) could be read from this environment, in two sessions; the
algorithm boxes, theorems with their conditions and the experiment section could not
(``docs/papers.md`` lists what was searched). No author code was found.

Setting [paper]: offline batch (every request at step 0), total completion time,
memory growing one token per decoded token under a hard budget ``M`` (our model
exactly); GSA is non-clairvoyant (a decode length is unknown until the request
completes), GBA its clairvoyant counterpart.

**GSA** (Geometric Slicing Algorithm). [paper] "a geometric phase structure that
periodically restarts jobs to bound memory exposure, combined with a staggered pipeline
mechanism that enables high concurrency by smoothing aggregate memory consumption".
[ours] Phases ``k = 0, 1, 2, ...`` with the *slice* ``L_k = ceil(L_0 * base^k)`` (strictly
increasing; ``base = 2``, ``L_0 = 1`` by default). In phase ``k`` every unfinished request
gets one *attempt* of at most ``c_i = min(L_k, M - s_i)`` decode steps (a slice with
``s_i + L_k > M`` is capped: the request could not hold more, and the capped attempt
surely completes). An attempt not complete after ``c_i`` steps is *killed*: its progress
and its memory are discarded, and the request waits for the next phase (a *restart*,
recorded in :attr:`lpsched.schedule.Schedule.restarts` and verified by the checker; the
attempt held its memory while it ran). A request of length ``o`` thus completes in the
first phase with ``c_i >= o``, and no attempt ever holds more than ``s_i + c_i``: the
bounded *memory exposure*. Within a phase the attempts form a *staggered pipeline*:
they are scanned in a fixed order (ascending prefill, then position; option ``order``:
arrival) and each starts at the earliest step at which, with every running attempt
assumed to run its full slice, the memory at every future step stays ``<= M`` (the
look-ahead test of :mod:`lpsched.heuristics.lookahead` with the slice as the length);
a request that does not fit stops the scan (no overtaking). Equal slices started one
after another end one after another, so the running attempts are at different ages
and their total memory is smoothed (a synchronous batch would peak at
``sum (s_i + L_k)``). Phase ``k+1`` starts when the last attempt of phase ``k`` has ended
(a barrier). Memory never exceeds ``M``: an attempt's true usage is at most its assumed
one. The rule reads a decode length only when an attempt ends, to learn whether it
completed (``tests/heuristics/test_feng.py`` checks that a length GSA cannot yet have
observed changes nothing).

**GBA** (Geometric Batching Algorithm). [paper] the clairvoyant counterpart from the
same framework. [ours] The requests are grouped in geometric classes of decode length,
class ``k`` holding ``L_{k-1} < o <= L_k`` (``o <= L_0``: class 0); the classes run one
after another in increasing ``k`` (a barrier between classes), each as a staggered
pipeline of its requests with their *true* lengths, scanned by ascending decode, prefill,
position (nothing is killed).

Guarantees [paper]: GSA at most 61.92-competitive (32 in the large-memory regime), GBA a
10.67-approximation (6.75 with large memory), against the optimal schedule, offline
batch. The large-memory condition could not be read; the tests use ``M >= 4 n
max(s + o)`` [ours]. The guarantees are proven for the paper's rules; ours are measured
against them (``tests/heuristics/test_feng.py`` on random instances with proven optima,
``benchmarks/bench_paper_feng.py`` on real traces against proven lower bounds), not
proven.

With arrivals (outside the paper's setting) [ours], a phase takes the arrived unfinished
requests of the lowest pending level at its start; the others wait for the next phase.
Time limit [ours]: the unfinished requests run one at a time after the current step.

Cost: ``O(n log n)`` per phase plus the look-ahead tests, ``O(log n)`` each;
``O(log_base(max o))`` phases.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from lpsched.heuristics.lookahead import LookaheadProfile
from lpsched.instance import Instance
from lpsched.options import param
from lpsched.registry import AlgorithmSpec
from lpsched.schedule import Result, Schedule, SolveStatus, one_at_a_time
from lpsched.stop import Deadline

__all__ = ["ALGORITHMS", "GbaParams", "GsaParams", "gba_classes", "geometric_slices", "solve_gba",
           "solve_gsa"]


@dataclass(frozen=True)
class GsaParams:
    """Parameters of GSA (Feng, Yang, Zhang 2026, arXiv 2601.22996); their names and
    defaults are ours (the paper's could not be read; module docstring)."""

    base: float = param(2.0, "float", "growth factor of the slice from one phase to the next",
                        minimum=1.01)
    first_slice: int = param(1, "int", "slice of phase 0 (decode steps of each attempt)",
                             minimum=1)
    order: str = param("prefill", "str", "scan order of a phase's requests (non-clairvoyant: "
                       "prefill ascending, or arrival)", choices=("prefill", "arrival"))


@dataclass(frozen=True)
class GbaParams:
    """Parameters of GBA (Feng, Yang, Zhang 2026, arXiv 2601.22996); names and defaults
    ours, as for :class:`GsaParams`."""

    base: float = param(2.0, "float", "ratio of the decode-length classes", minimum=1.01)
    first_slice: int = param(1, "int", "upper end of class 0 (decode lengths <= it)",
                             minimum=1)


def geometric_slices(first: int, base: float, longest: int) -> list[int]:
    """The slices ``L_k = ceil(first * base^k)``, strictly increasing, up to the first one
    ``>= longest``.

    >>> geometric_slices(1, 2.0, 10)
    [1, 2, 4, 8, 16]
    >>> geometric_slices(3, 1.5, 7)
    [3, 5, 7]
    """
    out = [int(first)]
    k = 1
    while out[-1] < longest:
        nxt = max(out[-1] + 1, math.ceil(first * base ** k - 1e-9))
        out.append(int(nxt))
        k += 1
    return out


def gba_classes(decode: np.ndarray, first: int, base: float) -> np.ndarray:
    """The GBA class of each decode length: the index of the first slice
    (:func:`geometric_slices`) that is ``>= o``.

    >>> gba_classes(np.array([1, 2, 3, 4, 5, 9]), 1, 2.0).tolist()
    [0, 1, 2, 2, 3, 4]
    """
    cuts = np.asarray(geometric_slices(first, base, int(decode.max(initial=1))))
    return np.searchsorted(cuts, decode, side="left")


@dataclass
class _Phase:
    """The attempts of one phase: who, in which order, each with its length bound."""

    members: list[int]
    bound: np.ndarray  # per position: the steps an attempt is assumed to run (its slice)


def _pipeline(inst: Instance, phase: _Phase, t0: int, true_len: np.ndarray,
              deadline: Deadline) -> tuple[dict[int, int], int]:
    """Run one phase as a staggered pipeline from step ``t0``.

    Each member starts at the earliest step at which the look-ahead test (every running
    attempt assumed to run ``bound`` steps) passes, in ``members`` order, no overtaking.
    An attempt really runs ``min(true_len, bound)`` steps (killed at ``bound``). Returns
    ``{position: start}`` of the members that started and the step at which the last
    attempt has ended. When ``deadline`` expires no further member starts (the caller
    finishes the rest).
    """
    prof = LookaheadProfile(inst.memory, inst.prefill, phase.bound)
    s, bound, length = inst.prefill.tolist(), phase.bound.tolist(), true_len.tolist()
    ends: list[tuple[int, int]] = []  # heap of (true end, position)
    starts: dict[int, int] = {}
    t, j, last, members = t0, 0, t0, phase.members
    while j < len(members) or ends:
        done = []
        while ends and ends[0][0] <= t:
            done.append(heapq.heappop(ends)[1])
        prof.remove(done)
        if deadline.expired():
            break
        prof.prepare(t)
        while j < len(members):
            pos = members[j]
            if ends and not prof.fits(s[pos], bound[pos], t):
                break
            prof.add(pos, t)
            prof.prepare(t)
            starts[pos] = t
            heapq.heappush(ends, (t + min(length[pos], bound[pos]), pos))
            last = max(last, t + min(length[pos], bound[pos]))
            j += 1
        if not ends:  # every member has started and ended
            break
        nxt = ends[0][0]
        if j < len(members):
            nxt = min(nxt, prof.earliest_fit(s[members[j]], bound[members[j]], t))
            nxt = max(t + 1, nxt)
        t = nxt
    return starts, last


def _finish_alone(inst: Instance, rest: list[int], t: int, starts: np.ndarray) -> None:
    """The deadline expired: the unfinished requests run one at a time from ``t``
    (arrival order; always feasible, every request fits alone)."""
    rest = sorted(rest, key=lambda k: (int(inst.arrival[k]), k))
    order = np.asarray(rest, dtype=np.int64)
    starts[order] = one_at_a_time(inst.arrival[order], inst.decode[order], t)


def _result(name: str, inst: Instance, starts: np.ndarray, killed: dict[int, list],
            phases: int, cut: bool) -> Result:
    keys = [k for k in sorted(killed) for _ in killed[k]]
    tries = [a for k in sorted(killed) for a in killed[k]]
    arr = np.asarray(tries, dtype=np.int64).reshape(-1, 2)
    sched = Schedule(inst, starts, restarts=(np.asarray(keys, dtype=np.int64), arr[:, 0],
                                             arr[:, 1]))
    stats = {"phases": phases, "restarts": len(tries),
             "restarted_requests": sum(1 for v in killed.values() if v),
             "wasted_steps": int(arr[:, 1].sum())}
    return Result(algorithm=name, status=SolveStatus.TIME_LIMIT if cut else SolveStatus.FEASIBLE,
                  objective=sched.objective, schedule=sched, stats=stats,
                  message="time limit: the rest ran one at a time" if cut else "")


def _pending(inst: Instance, level: np.ndarray, left: set[int], t: int) -> tuple[int, int]:
    """``(t, lowest level)`` of the next phase: at ``t`` if some unfinished request has
    arrived, else at the next arrival."""
    arrived = [k for k in left if inst.arrival[k] <= t]
    if not arrived:
        t = int(min(inst.arrival[k] for k in left))
        arrived = [k for k in left if inst.arrival[k] <= t]
    return t, int(min(level[k] for k in arrived))


def solve_gsa(instance: Instance, *, deadline: Deadline | None = None,
              seed: int | None = None, base: float = GsaParams.base,
              first_slice: int = GsaParams.first_slice, order: str = GsaParams.order) -> Result:
    """Registry entry: GSA (module docstring); the options are the fields of
    :class:`GsaParams` (their defaults are read from it).

    The rule never reads ``instance.decode`` except to learn, when an attempt ends,
    whether it completed (the non-clairvoyant protocol).

    >>> from lpsched.instance import Instance, Request
    >>> inst = Instance(12, [Request("a", 1, 3), Request("b", 2, 1)])
    >>> res = solve_gsa(inst)
    >>> res.schedule.starts.tolist(), dict(res.schedule.restarts), res.objective
    ([3, 0], {0: ((0, 1), (1, 2))}, 7)
    """
    prm = GsaParams(base, first_slice, order)
    deadline = Deadline.coerce(deadline).for_search()
    inst, n = instance, instance.n
    M, s, o = inst.memory, inst.prefill, inst.decode
    slices = geometric_slices(prm.first_slice, prm.base, int((M - s).max()))
    level = np.zeros(n, dtype=np.int64)
    starts = np.zeros(n, dtype=np.int64)
    killed: dict[int, list] = {k: [] for k in range(n)}
    left, t, phases = set(range(n)), 0, 0
    key = s if prm.order == "prefill" else inst.arrival
    while left:
        if deadline.expired():
            _finish_alone(inst, list(left), t, starts)
            return _result("gsa", inst, starts, killed, phases, True)
        t, k = _pending(inst, level, left, t)
        members = sorted((p for p in left if level[p] == k and inst.arrival[p] <= t),
                         key=lambda p: (int(key[p]), p))
        bound = np.minimum(slices[min(k, len(slices) - 1)], M - s)
        got, t = _pipeline(inst, _Phase(members, bound), t, o, deadline)
        phases += 1
        for pos, p in got.items():
            if o[pos] <= bound[pos]:
                starts[pos] = p
                left.discard(pos)
            else:
                killed[pos].append((p, int(bound[pos])))
                level[pos] = k + 1
    return _result("gsa", inst, starts, killed, phases, False)


def solve_gba(instance: Instance, *, deadline: Deadline | None = None,
              seed: int | None = None, base: float = GbaParams.base,
              first_slice: int = GbaParams.first_slice) -> Result:
    """Registry entry: GBA (module docstring); the options are the fields of
    :class:`GbaParams`.

    >>> from lpsched.instance import Instance, Request
    >>> inst = Instance(12, [Request("a", 1, 3), Request("b", 2, 1), Request("c", 1, 4)])
    >>> res = solve_gba(inst)
    >>> res.schedule.starts.tolist(), res.objective
    ([1, 0, 1], 10)
    """
    prm = GbaParams(base, first_slice)
    deadline = Deadline.coerce(deadline).for_search()
    inst, n = instance, instance.n
    o = inst.decode
    level = gba_classes(o, prm.first_slice, prm.base)
    starts = np.zeros(n, dtype=np.int64)
    left, t, phases = set(range(n)), 0, 0
    while left:
        if deadline.expired():
            _finish_alone(inst, list(left), t, starts)
            return _result("gba", inst, starts, {}, phases, True)
        t, k = _pending(inst, level, left, t)
        members = sorted((p for p in left if level[p] == k and inst.arrival[p] <= t),
                         key=lambda p: (int(o[p]), int(inst.prefill[p]), p))
        got, t = _pipeline(inst, _Phase(members, o), t, o, deadline)
        phases += 1
        for pos, p in got.items():
            starts[pos] = p
            left.discard(pos)
    return _result("gba", inst, starts, {}, phases, False)


#: The registry's declarations of this module's algorithms (:mod:`lpsched.registry`).
ALGORITHMS = (
    AlgorithmSpec("gsa", solve_gsa, "heuristic",
                  "GSA (non-clairvoyant): geometric phases, each request one attempt of the "
                  "phase's slice, killed and restarted (progress lost) if unfinished; "
                  "staggered look-ahead pipeline (<= 61.92-competitive, offline batch)",
                  "Feng, Yang, Zhang, Competitive Non-Clairvoyant KV-Cache Scheduling for LLM "
                  "Inference, arXiv:2601.22996, 2026", params=GsaParams),
    AlgorithmSpec("gba", solve_gba, "heuristic",
                  "GBA (clairvoyant): geometric decode-length classes run in increasing order, "
                  "each as a staggered look-ahead pipeline (<= 10.67-approximation)",
                  "Feng, Yang, Zhang 2026 (arXiv:2601.22996)", params=GbaParams),
)
