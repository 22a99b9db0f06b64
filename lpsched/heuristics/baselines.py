"""Baseline scheduling policies: FCFS, SF, size-first and MC-SF, run by the simulator.

All four share one admission rule, the look-ahead test of
:mod:`lpsched.heuristics.lookahead`: at decision time ``t`` a waiting request
``k`` may start only if, with the predicted decode lengths, the memory at every
future completion step of (running + already admitted + ``k``) up to ``k``'s own
completion stays ``<= M``. Running requests are never preempted by the policy.
They differ in the order in which waiting requests are scanned and in what
happens at the first candidate that does not fit:

* **MC-SF** (memory-constrained shortest-first; Jaillet, Jiang, Mellou, Molinaro,
  Podimata, Zhou, *Online Scheduling for LLM Inference with KV Cache
  Constraints*, 2025): ascending predicted decode length; stop at the first
  misfit.
* **FCFS**: arrival order; stop at the first misfit (head-of-line blocking).
* **SF** (shortest-first): ascending predicted decode length; skip misfits and
  keep scanning (backfilling).
* **size-first**: ascending ``s + o_hat``; skip misfits (backfilling).

Ties are broken by arrival step, then by position in the instance. Predictions
above ``M - s`` are clipped to ``M - s`` (every request satisfies ``s + o <= M``). These follow
the task definitions of this project (``docs/design.md``); FCFS and SF as named
in Wang, Ye, Zhou (2025) are the same orderings. With exact predictions the
admission test is exact, so the memory guard of :mod:`lpsched.simulate` never
evicts; with noisy predictions it may (counted in ``Result.stats``).

Registry functions ``solve_fcfs``, ``solve_sf``, ``solve_size_first`` and
``solve_mc_sf`` take the options

* ``predictions``: list of predicted decode lengths (integers >= 1), or
* ``prediction_noise``: ``sigma >= 0``, predictions ``max(1, round(o * exp(sigma Z)))``
  with standard normal ``Z`` drawn from ``seed`` (default 0);
* ``skip_idle``: bool, default True (see :func:`lpsched.simulate.simulate`).

Each is a single simulation pass; when the ``deadline`` of :func:`lpsched.solve` expires
first, the rest of the run is drained (one request at a time, arrival order) and the
status is ``time_limit``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lpsched.heuristics.lookahead import LookaheadProfile, async_lengths
from lpsched.instance import Instance
from lpsched.options import OptionError, param
from lpsched.registry import AlgorithmSpec
from lpsched.schedule import Result, SolveStatus
from lpsched.simulate import (
    BasePolicy,
    SimState,
    noisy_predictions,
    simulate,
    validate_predictions,
)
from lpsched.stop import Deadline

__all__ = [
    "ALGORITHMS",
    "LookaheadPolicy",
    "SimulationParams",
    "fcfs",
    "mc_sf",
    "policy_spec",
    "predictions_for",
    "run_policy",
    "sf",
    "size_first",
    "solve_fcfs",
    "solve_mc_sf",
    "solve_sf",
    "solve_size_first",
]

_KEYS = ("arrival", "decode", "size")
_BIG = 1 << 62


class _RankedSet:
    """A set of request positions kept sorted by a fixed global order.

    Held as a sorted Python list of ranks (``bisect`` inserts and deletes, memory
    moves in C) read from ``head`` on, so that starting the first requests only
    moves ``head``. The head of the order is read without materialising the set
    (:meth:`first`, iteration).
    """

    __slots__ = ("order", "rank", "_order", "_rank", "_ranks", "_head")

    def __init__(self, order: np.ndarray):
        self.order = order  # rank -> position
        self.rank = np.empty(order.size, dtype=np.int64)
        self.rank[order] = np.arange(order.size)
        self._order: list[int] = order.tolist()
        self._rank: list[int] = self.rank.tolist()
        self._ranks: list[int] = []
        self._head = 0

    def __len__(self) -> int:
        return len(self._ranks) - self._head

    def insert(self, positions) -> None:
        rank, ranks, head = self._rank, self._ranks, self._head
        new = sorted(rank[int(p)] for p in positions)
        if len(new) > 8:
            ranks[head:] = sorted(ranks[head:] + new)  # a merge of two sorted runs
        else:
            for r in new:
                bisect.insort(ranks, r, head)

    def remove(self, positions) -> None:
        rank, ranks, head = self._rank, self._ranks, self._head
        for p in positions:
            del ranks[bisect.bisect_left(ranks, rank[int(p)], head)]

    def drop_first(self, k: int) -> None:
        self._head += k
        if self._head > 1024 and 2 * self._head > len(self._ranks):
            del self._ranks[:self._head]
            self._head = 0

    def first(self) -> int:
        return self._order[self._ranks[self._head]]

    def __iter__(self):
        """The positions in order (do not change the set while iterating)."""
        order, ranks = self._order, self._ranks
        for i in range(self._head, len(ranks)):
            yield order[ranks[i]]



class _RecordTree:
    """Prefix-minimum records of a value over the members of a fixed order.

    A min segment tree over the ranks of a fixed order (leaf ``r``: the value of the
    request of rank ``r`` while it is a member, else ``+inf``). :meth:`records`
    lists, from rank ``lo`` on, the members whose value is below ``thr`` and below
    every member before them: each found by one descent (:meth:`first_below`,
    ``O(log n)``), so a scan costs ``O(R log n)`` for ``R`` records instead of
    ``O(|W|)`` for the whole waiting set ``W``.
    """

    __slots__ = ("_size", "_val", "_t")

    def __init__(self, values_by_rank: np.ndarray):
        size = 1
        while size < max(int(values_by_rank.size), 1):
            size *= 2
        self._size = size
        self._val: list[int] = values_by_rank.tolist()
        self._t: list[int] = [_BIG] * (2 * size)

    def set(self, r: int, member: bool) -> None:
        t = self._t
        i = r + self._size
        t[i] = self._val[r] if member else _BIG
        i >>= 1
        while i:
            a, b = t[2 * i], t[2 * i + 1]
            t[i] = a if a < b else b
            i >>= 1

    def first_below(self, lo: int, thr: int) -> int:
        """The smallest member rank ``>= lo`` whose value is ``< thr``, or -1."""
        t, size = self._t, self._size
        if lo >= size:
            return -1
        i = lo + size
        while True:
            if t[i] < thr:
                while i < size:
                    i = 2 * i if t[2 * i] < thr else 2 * i + 1
                return i - size
            while i & 1:  # a right child: climb until a left child (or past the root)
                i >>= 1
            if i == 0:
                return -1
            i += 1

    def records(self, lo: int = 0, thr: int = _BIG) -> list[int]:
        """Member ranks ``>= lo`` whose value is below ``thr`` and all members before."""
        out = []
        r = self.first_below(lo, thr)
        while r >= 0:
            out.append(r)
            r = self.first_below(r + 1, self._val[r])
        return out


class LookaheadPolicy(BasePolicy):
    """Scan waiting requests in a fixed priority order, admit with the look-ahead test.

    Parameters
    ----------
    key
        ``"arrival"`` (FCFS), ``"decode"`` (predicted ``o_hat``) or ``"size"``
        (``s + o_hat``); ties by arrival, then position.
    backfill
        False: stop at the first misfit. True: skip it and keep scanning.
    name
        Display name.

    Speed-ups that do not change the outcome (the tests compare against plain
    scans): a request ``b`` dominated by a request ``a`` scanned before it
    (``s_a <= s_b`` and ``o_a <= o_b``) fits only if ``a`` does, so with
    backfilling only requests not dominated by an earlier failed one are tested.
    Under the ``decode`` order these are the records of the prefix minimum of
    ``s``; under the ``size`` order every strict dominator comes first, so they
    are the Pareto-minimal waiting requests (kept in a second order, by
    ``(o_hat, s, priority)``). The records are read from a min segment tree over
    the scan order (:class:`_RecordTree`), ``O(log n)`` per record, so a decision
    costs ``O(R log n)`` for ``R`` records rather than ``O(|W|)`` (the full
    conversation trace at ``M = 16384``: 11 s CPU for ``sf``, against 17 s when the
    waiting set was scanned; 250-335 us per decision from 2,000 to 19,366 requests).

    Chunked prefill (:attr:`chunk_aware`, engine limits with ``chunked_prefill``, the
    engine's ``state.tokens_left`` told): the
    engine admits in order while the step's token budget lasts
    (``state.tokens_left``) and cuts the last admission to what is left; that request
    computes its other chunks in the next steps (``budget - N(u)`` tokens at decision
    ``u``, ``N(u)`` the requests predicted to run past ``u``) and starts decoding only
    at the decision ``x`` before its last chunk. Its look-ahead test is then made at
    ``x`` (conditions A and B of :mod:`lpsched.heuristics.lookahead` with start ``x``)
    and, for the steps ``t+1 .. x`` in which it holds at most its prefill ``s``,
    ``peak(t+1, x) + s <= M``; it enters the profile with start ``x`` and is the last
    admission of the decision. When it starts, the profile is re-anchored at the engine's
    start (``state.running``, at the next call). Without a budget nothing changes.
    With asynchronous scheduling (:attr:`async_aware`, ``limits.async_scheduling``,
    vLLM V1's ``vllm serve``)
    a request whose last token is computed in step ``c`` still holds its blocks in step
    ``c+1``; the look-ahead then counts each request as running ``o_hat + 1`` steps (at
    most ``M - s``): its memory in that extra step is overstated by one token.
    """

    #: Asynchronous scheduling counted (one more step per request; on by default).
    #: False: the papers' count, kept for ``benchmarks/bench_lookahead_chunked.py``.
    async_aware: bool = True
    #: Chunked prefill starts predicted (off by default: the deployed policy,
    #: :class:`lpsched.integrations.driver.PolicyDriver`, is not told the step's token
    #: budget, ``state.tokens_left``, and must decide as the engine does; with it on and
    #: no budget told, the admission step is the start, as before).
    chunk_aware: bool = False

    def __init__(self, key: str, backfill: bool, name: str | None = None):
        if key not in _KEYS:
            raise ValueError(f"key must be one of {_KEYS}, got {key!r}")
        self.key = key
        self.backfill = backfill
        self.name = name or f"lookahead-{key}{'-backfill' if backfill else ''}"

    # -- state -------------------------------------------------------------------------------
    def reset(self, state: SimState) -> None:
        n = len(state.prefill)
        pos = np.arange(n)
        # Every request satisfies s + o <= M (the instance guarantees it), so a larger
        # prediction is known to be wrong: clip it, or the request could never start.
        o_hat = np.minimum(state.predicted, state.memory - state.prefill)
        if self.key == "arrival":
            primary = state.arrival
        elif self.key == "decode":
            primary = o_hat
        else:
            primary = state.prefill + o_hat
        order = np.lexsort((pos, state.arrival, primary))
        self._s = state.prefill
        # asynchronous scheduling: a request holds its blocks one step after its last
        # token (class docstring): the look-ahead counts one more step, at most M - s
        self._o = async_lengths(state, o_hat) if self.async_aware else o_hat
        self._tail = int(self._o is not o_hat)
        self._wait = _RankedSet(order)
        self._pareto_set: _RankedSet | None = None
        self._tree: _RecordTree | None = None  # records of s in the scan order (backfill)
        if self.backfill and self.key != "decode":
            self._pareto_set = _RankedSet(np.lexsort((self._wait.rank, state.prefill, o_hat)))
        if self.backfill:
            scan = self._wait if self._pareto_set is None else self._pareto_set
            self._scan = scan
            self._tree = _RecordTree(state.prefill[scan.order])
        self._prof = LookaheadProfile(state.memory, state.prefill, self._o)
        self._state = state
        self._tok: int | None = None  # chunked prefill: tokens left in this decision
        self._pending: dict[int, int] = {}  # admitted with a later start: position -> start

    def _push(self, positions) -> None:
        self._wait.insert(positions)
        if self._pareto_set is not None:
            self._pareto_set.insert(positions)
        if self._tree is not None:
            rank = self._scan.rank
            for p in positions:
                self._tree.set(int(rank[int(p)]), True)

    def on_arrival(self, state: SimState, positions: list[int]) -> None:
        self._push(positions)

    def on_evict(self, state: SimState, positions: list[int]) -> None:
        self._prof.remove(positions)
        self._push(positions)
        self._unpend(positions)

    def on_resume(self, state: SimState, positions: list[int]) -> None:
        for pos in positions:  # its virtual start: the progress it kept
            self._prof.add(pos, state.running[pos])

    def on_finish(self, state: SimState, positions: list[int]) -> None:
        self._prof.remove(positions)
        self._unpend(positions)

    def _unpend(self, positions: list[int]) -> None:
        pending = getattr(self, "_pending", None)  # None: a subclass with its own reset
        if pending:
            for pos in positions:
                pending.pop(pos, None)

    # -- chunked prefill ---------------------------------------------------------------------
    def _sync(self, state: SimState) -> None:
        """Re-anchor the requests admitted with a predicted start once the engine started
        them (their virtual start in ``state.running``)."""
        prof = self._prof
        for pos, x in list(self._pending.items()):
            if pos in state.prefilling:
                continue
            del self._pending[pos]
            start = state.running.get(pos)
            if start is not None and start != x:
                prof.add(pos, start)

    def _full(self, pos: int) -> int:
        """Prompt tokens ``pos`` computes when admitted (its progress recomputed too)."""
        return int(self._state.compute[pos]) + self._state.done.get(pos, 0)

    def _start_of(self, pos: int, t: int) -> int:
        """The decision time before the step that computes the last prefill chunk of
        ``pos`` admitted now (``t`` if it fits in the tokens left; class docstring)."""
        tok = self._tok
        rem = self._full(pos) - (_BIG if tok is None else tok)
        if rem <= 0:
            return t
        budget = int(self._state.limits.max_num_batched_tokens or 0)
        prof, u = self._prof, t + 1
        while True:
            c = max(budget - prof.running_after(u + self._tail), 1)
            if rem <= c:
                return u
            rem -= c
            u += 1

    def _fits_at(self, pos: int, t: int) -> bool:
        """The look-ahead test of ``pos`` admitted now, at the start it will get."""
        prof, s, o = self._prof, int(self._s[pos]), int(self._o[pos])
        x = self._start_of(pos, t)
        if x == t:
            return prof.fits(s, o, t)
        return prof.fits(s, o, x) and prof.peak(t + 1, x) + s <= prof.M

    def _take(self, pos: int, t: int) -> None:
        """Add admitted ``pos`` to the profile (at its start) and spend its tokens."""
        x = t if self._tok is None else self._start_of(pos, t)
        self._prof.add(pos, x)
        self._prof.prepare(t)
        if self._tok is not None:
            if x > t:
                self._pending[pos] = x
                self._tok = 0  # the engine admits nothing after a cut prefill
            else:
                self._tok -= self._full(pos)

    def _fits_vec(self, idx: np.ndarray, t: int) -> np.ndarray:
        """:meth:`LookaheadProfile.fits_many` of ``idx``, the chunked ones at their start."""
        ok = self._prof.fits_many(self._s[idx], self._o[idx], t)
        if self._tok is not None:
            for j in range(idx.size):
                if self._start_of(int(idx[j]), t) > t:
                    ok[j] = self._fits_at(int(idx[j]), t)
        return ok

    def _admit_prefix_chunked(self, t: int) -> list[int]:
        """:meth:`LookaheadProfile.admit_prefix` with the starts of chunked prefill."""
        chosen: list[int] = []
        for pos in self._wait:
            if self._tok is not None and self._tok <= 0:
                break
            if not self._fits_at(pos, t):
                break
            self._take(pos, t)
            chosen.append(pos)
        return chosen

    def _chunked(self, state: SimState) -> bool:
        self._state = state
        return (self.chunk_aware and getattr(self, "_pending", None) is not None
                and state.limits.chunked_prefill
                and state.limits.max_num_batched_tokens is not None)

    # -- decisions ---------------------------------------------------------------------------
    def decide(self, state: SimState) -> list[int]:
        t = state.t
        prof = self._prof
        chunked = self._chunked(state)
        if chunked:
            self._sync(state)
        self._tok = state.tokens_left if chunked else None
        prof.prepare(t)
        chosen: list[int] = []
        s_all, o_all = self._s, self._o
        if not self.backfill:
            chosen = (prof.admit_prefix(self._wait, s_all, o_all, t) if self._tok is None
                      else self._admit_prefix_chunked(t))
            if chosen:
                self._wait.drop_first(len(chosen))
            return chosen
        if self.key == "decode":
            chosen = self._decide_records(t)
        else:
            chosen = self._decide_pareto(t)
        if chosen:
            self._wait.remove(chosen)
        return chosen

    def _backfill_tree(self) -> _RecordTree:
        """The record tree of the backfilling scans (built by :meth:`reset` with backfill)."""
        if self._tree is None:  # pragma: no cover - the scans run only with backfill
            raise RuntimeError(f"{self.name}: a backfilling scan without backfill")
        return self._tree

    def _pareto(self) -> _RankedSet:
        """The Pareto-candidate set of the size-order backfilling scan (:meth:`reset`)."""
        if self._pareto_set is None:  # pragma: no cover - built whenever backfill and size key
            raise RuntimeError(f"{self.name}: a Pareto scan without its candidate set")
        return self._pareto_set

    def _decide_records(self, t: int) -> list[int]:
        """Backfilling scan by ascending o_hat, testing prefix-minimum records of s only."""
        prof, tree, order = self._prof, self._backfill_tree(), self._wait.order
        s_all, o_all = self._s, self._o
        lo = 0
        s_failed = _BIG  # smallest prefill among the candidates that failed so far
        chosen = []
        while self._tok is None or self._tok > 0:
            recs = tree.records(lo, s_failed)
            if not recs:
                break
            idx = order[np.asarray(recs, dtype=np.int64)]
            hit = np.flatnonzero(prof.fits_many(s_all[idx], o_all[idx], t)
                                 if self._tok is None else self._fits_vec(idx, t))
            if hit.size == 0:
                break
            h = int(hit[0])
            pos = int(idx[h])
            self._take(pos, t)
            chosen.append(pos)
            if h > 0:  # the records before it failed (and so did what they dominate)
                s_failed = min(s_failed, int(s_all[idx[:h]].min()))
            tree.set(recs[h], False)
            lo = recs[h] + 1  # everything before it failed; admissions only add memory
        return chosen

    def _front_positions(self) -> np.ndarray:
        """Waiting requests not dominated by another (decode order: the prefix-minimum
        records of s, a superset of that front; size order: exactly the Pareto-minimal
        ones, ties: the best priority kept)."""
        recs = self._backfill_tree().records()
        return self._scan.order[np.asarray(recs, dtype=np.int64)]

    def _decide_pareto(self, t: int) -> list[int]:
        """Backfilling scan by priority, testing the Pareto-minimal requests only."""
        prof, pareto, tree = self._prof, self._pareto(), self._backfill_tree()
        rank = self._wait.rank
        chosen = []
        last = -1
        while len(pareto) and (self._tok is None or self._tok > 0):
            front = self._front_positions()
            front = front[rank[front] > last]  # the others failed already
            if front.size == 0:
                break
            ok = (prof.fits_many(self._s[front], self._o[front], t) if self._tok is None
                  else self._fits_vec(front, t))
            if not ok.any():
                break
            fit = front[ok]
            pos = int(fit[np.argmin(rank[fit])])
            last = int(rank[pos])
            self._take(pos, t)
            chosen.append(pos)
            pareto.remove([pos])
            tree.set(int(pareto.rank[pos]), False)
        return chosen

    def next_decision(self, state: SimState) -> int:
        """Earliest step at which this policy could start something if no arrival,
        completion or eviction happens first (exact, see the module docstring)."""
        t = state.t
        prof = self._prof
        if not len(self._wait):
            return t + 1
        chunked = self._chunked(state)
        if chunked:
            self._sync(state)
        prof.prepare(t)
        if not self.backfill:
            pos = self._wait.first()  # the gate: nothing passes it
            x = prof.earliest_fit(int(self._s[pos]), int(self._o[pos]), t)
            return x if not chunked else max(t + 1, x - self._lead([pos]))
        # Backfilling: something can start only when some waiting request fits, and a
        # dominated request (s, o both >=) fits no earlier than its dominator.
        front = self._front_positions()
        x = prof.earliest_fit_many(self._s[front], self._o[front], t)
        return x if not chunked else max(t + 1, x - self._lead(front))

    def _lead(self, positions) -> int:
        """Chunked prefill: most steps between the admission of one of ``positions`` and
        its start while nothing is admitted: with no prefill in progress now (else the
        engine steps at ``t+1`` anyway) every chunk until then gets at least
        ``budget - |R|`` tokens, so a request that starts at ``x`` is admitted no earlier
        than ``x - (ceil(full / (budget - |R|)) - 1)``."""
        room = int(self._state.limits.max_num_batched_tokens or 0) - len(self._prof)
        if room <= 0:
            return _BIG
        full = max(self._full(int(p)) for p in positions)
        return -(-full // room) - 1


@dataclass(frozen=True)
class SimulationParams:
    """The simulation's options of every simulated policy (:func:`run_policy`): what the
    policy is told about the decode lengths, and how the simulator steps."""

    predictions: Sequence[int] | None = param(
        None, "ints", "predicted decode length of each request (by position), integers >= 1; "
        "default: the true lengths", minimum=1)
    prediction_noise: float | None = param(
        None, "float", "draw predictions o*exp(sigma Z), Z ~ N(0,1) seeded by seed: sigma",
        minimum=0)
    skip_idle: bool = param(True, "bool", "jump over steps where the policy provably starts "
                            "nothing (False: call it every step; same schedule, slower)")


def fcfs() -> LookaheadPolicy:
    """First-come-first-served, look-ahead admission, stops at the first misfit."""
    return LookaheadPolicy("arrival", backfill=False, name="fcfs")


def sf() -> LookaheadPolicy:
    """Shortest predicted decode first, look-ahead admission, backfills."""
    return LookaheadPolicy("decode", backfill=True, name="sf")


def size_first() -> LookaheadPolicy:
    """Smallest ``s + o_hat`` first, look-ahead admission, backfills."""
    return LookaheadPolicy("size", backfill=True, name="size-first")


def mc_sf() -> LookaheadPolicy:
    """MC-SF (Jaillet et al. 2025): shortest predicted decode first, stops at the first misfit."""
    return LookaheadPolicy("decode", backfill=False, name="mc-sf")


def predictions_for(instance: Instance, predictions: Any, prediction_noise: float | None,
                    seed: int | None, who: str) -> tuple[np.ndarray | None, str]:
    """The predicted decode lengths a policy sees, and how they were made (for the stats)."""
    if predictions is not None and prediction_noise is not None:
        raise OptionError(f"{who}: give either 'predictions' or 'prediction_noise', not both")
    if predictions is not None:
        return validate_predictions(instance, predictions), "given"
    if prediction_noise is not None:
        return (noisy_predictions(instance, prediction_noise, seed),
                f"lognormal sigma={prediction_noise} seed={0 if seed is None else seed}")
    return None, "exact"


def run_policy(instance: Instance, policy: BasePolicy, *, deadline: Deadline | None = None,
               seed: int | None = None, predictions: Any = SimulationParams.predictions,
               prediction_noise: float | None = SimulationParams.prediction_noise,
               skip_idle: bool = SimulationParams.skip_idle) -> Result:
    """Simulate ``policy`` on ``instance`` and wrap the outcome in a :class:`Result`.

    Status ``feasible``, or ``time_limit`` when ``deadline`` expired during the
    simulation (the rest was drained after the running requests, in arrival order,
    :func:`lpsched.simulate.simulate`).
    """
    o_hat, mode = predictions_for(instance, predictions, prediction_noise, seed, policy.name)
    sim = simulate(instance, policy, predictions=o_hat, skip_idle=bool(skip_idle),
                   deadline=deadline)
    stats = sim.stats()
    stats["predictions"] = mode
    if o_hat is not None:
        err = o_hat - instance.decode
        stats["under_predicted"] = int((err < 0).sum())
        stats["over_predicted"] = int((err > 0).sum())
    status = SolveStatus.FEASIBLE if sim.drain_step is None else SolveStatus.TIME_LIMIT
    msg = "" if sim.drain_step is None else (
        f"time limit reached at step {sim.drain_step}: {sim.drained} requests ran after it in "
        "arrival order (fallback: packed batches with exact lengths, else one at a time)")
    return Result(algorithm=policy.name, status=status,
                  objective=sim.schedule.objective, lower_bound=None, runtime=sim.runtime,
                  schedule=sim.schedule, stats=stats, message=msg)


def _registry_entry(make: Callable[[], LookaheadPolicy], label: str) -> Callable[..., Result]:
    """The registry function ``solve_<policy>`` of a policy factory."""

    def entry(instance: Instance, *, deadline: Deadline | None = None, seed: int | None = None,
              predictions: Any = SimulationParams.predictions,
              prediction_noise: float | None = SimulationParams.prediction_noise,
              skip_idle: bool = SimulationParams.skip_idle) -> Result:
        return run_policy(instance, make(), deadline=deadline, seed=seed,
                          predictions=predictions, prediction_noise=prediction_noise,
                          skip_idle=skip_idle)

    entry.__name__ = entry.__qualname__ = f"solve_{make.__name__}"
    entry.__doc__ = (f"Registry entry: simulate {label} on ``instance`` (options: see the "
                     "module docstring); status ``feasible``, no lower bound.")
    return entry


solve_fcfs = _registry_entry(fcfs, "FCFS")
solve_sf = _registry_entry(sf, "SF")
solve_size_first = _registry_entry(size_first, "size-first")
solve_mc_sf = _registry_entry(mc_sf, "MC-SF")


def policy_spec(name: str, entry: Callable[..., Result], factory: Callable[..., BasePolicy],
                summary: str, source: str = "", params: type | None = None) -> AlgorithmSpec:
    """The registry declaration of a simulated policy: ``entry`` its solve function,
    ``factory`` builds the policy from the fields of ``params`` (its own parameters
    dataclass, if any); the simulation's options (:class:`SimulationParams`) follow."""
    own = (params,) if params is not None else ()
    return AlgorithmSpec(name, entry, "policy", summary, source,
                         params=(*own, SimulationParams), policy=factory)


#: The registry's declarations of this module's algorithms (:mod:`lpsched.registry`).
ALGORITHMS = (
    policy_spec("fcfs", solve_fcfs, fcfs, "First-come-first-served with look-ahead memory "
                "admission (head-of-line blocking)"),
    policy_spec("sf", solve_sf, sf, "Shortest decode length first with look-ahead admission "
                "(backfills)"),
    policy_spec("size-first", solve_size_first, size_first, "Smallest total size "
                "prefill+decode first with look-ahead admission"),
    policy_spec("mc-sf", solve_mc_sf, mc_sf, "Memory-constrained shortest-first: admit by "
                "ascending predicted decode while memory at every future completion step "
                "fits; stop at first misfit", "Jaillet et al., Online Scheduling for LLM "
                "Inference with KV Cache Constraints, 2025"),
)
