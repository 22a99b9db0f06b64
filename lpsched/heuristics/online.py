"""Online Sorted-F and LP-guided policies for the event simulator.

Online (requests revealed at arrival) versions of the strong heuristics, run by
the one event simulator (:func:`lpsched.simulate.simulate`) as policies. Each
policy keeps a *priority queue* of the waiting requests and admits requests in
that order with the look-ahead test of MC-SF (:class:`lpsched.heuristics.
lookahead.LookaheadProfile`: a request is started at ``t`` only if the predicted
memory at every future completion step stays ``<= M``), stopping at the first
request that does not fit (no overtaking: the order is the policy).

The queue (exact rule)
----------------------
The queue is the Sorted-F greedy formation of the waiting set ``W``
(:class:`lpsched.heuristics.batches.BatchQueue`, computed with the *predicted*
decode lengths, clipped to ``M - s``): batch ``B_1`` is the least-``F``
candidate of ``W``, ``B_2`` that of ``W - B_1``, and so on, each batch sorted by
predicted decode length (ties by position), the batches in **formation order**.

* It is re-formed from scratch when ``W`` grows (an arrival or an eviction),
  never when requests start or finish, so it is stable between such events:
  requests that start leave its head, the rest keeps its place.
* Batches are formed only as far as admission reads the queue (admission stops
  at the first misfit, the wake-up time needs only the head), so one event
  costs ``O(|thetas| k log n)`` for prefixes of length ``k``, not ``O(|W|)``;
  a run costs ``O(n log n)`` for a fixed budget ``M``.

Until this version the batches of the whole waiting set were formed at every
event and then sorted by ascending ``F`` (the offline Sorted-F order,
:func:`~lpsched.heuristics.batches.form_batches`), which costs ``O(|W|)`` per
event, ``O(n^2)`` under load. Formation order differs from that only where a
later batch has a smaller ``F`` than an earlier one, which the exact min-F rule
never produces (``F`` is non-decreasing along the exact greedy) and the prefix
candidates produce rarely; the first batch is in both the least-``F`` candidate
of the whole waiting set. ``benchmarks/results/online_scaling.md`` compares the
two orders on the Azure conversation trace (objective and time).

Policies
--------
* ``sorted-f-online`` (also ``sorted-f-cont`` with arrivals): that queue;
* ``sorted-lp-online``: the first ``window`` requests of the queue are
  re-ordered by the ordering LP (:func:`lpsched.heuristics.ordering_lp.ordering_lp`)
  of those requests as a backlog (fractional completion times), the rest keep
  the Sorted-F order - a receding-horizon LP, re-solved when the queue is
  re-formed *and* its window holds other requests (in another order) than at
  the last solve: the LP order of a window is cached by the window's contents;
* ``lp-swap-online``: as ``sorted-lp-online``, then the LP order of that window
  is improved by passes of adjacent pairwise swaps
  (:func:`lpsched.heuristics.local_search.adjacent_swaps`, the step of offline
  LP-Swap), each swap evaluated by decoding the window's requests as a backlog
  of their own (the serial earliest-start decoder) and kept when it strictly
  lowers their total completion time; at most ``swap_passes`` passes per
  re-solve.

Time budget of the LP policies. The simulator gives the re-solves 90% of its
deadline (``budget``, :meth:`SortedFPolicy.bind_deadline`), whether the run comes
from :func:`lpsched.solve`, :func:`lpsched.simulate.simulate` or ``lpsched
replay``, and drains at the deadline. A
re-solve is skipped (the window keeps the Sorted-F order, the cheap fallback)
when the budget has expired or when the time left beyond a projection of what
the rest of the run needs without LPs (time per revealed request so far,
outside the LPs, times the requests not yet revealed, doubled) is less than
twice the longest re-solve so far; each LP and its swaps get the time left
beyond that projection. ``Result.stats`` counts
``lp_solves``, ``lp_cached``, ``lp_skipped``, ``lp_failed`` (the LP did not solve,
also when its window's default horizon is above the serial decoder's memory guard,
status ``memory`` of :func:`~lpsched.heuristics.ordering_lp.ordering_lp`: the window
keeps the Sorted-F order) and ``lp_seconds`` and says when the fallback was used
(``lp_fallback``); LP-Swap counts the windows whose swap passes the budget cut
(``swaps_cut``). A run with skipped re-solves or cut passes reports status
``time_limit``. Without a time limit no re-solve is skipped.

Wake-ups between events use the look-ahead profile's ``earliest_fit`` for the
head of the queue, exactly as the FCFS/MC-SF policies.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lpsched.heuristics.baselines import policy_spec, run_policy
from lpsched.heuristics.batches import DEFAULT_THETAS, BatchQueue
from lpsched.heuristics.lookahead import LookaheadProfile, async_lengths
from lpsched.instance import Instance
from lpsched.options import param
from lpsched.schedule import Result, SolveStatus
from lpsched.simulate import BasePolicy, SimState
from lpsched.stop import Deadline

__all__ = ["ALGORITHMS", "LPSwapPolicy", "LpSwapOnlineParams", "SortedFPolicy", "SortedLPPolicy",
           "WindowParams", "run_order_policy", "solve_lp_swap_online", "solve_sorted_f_online",
           "solve_sorted_lp_online"]


@dataclass(frozen=True)
class WindowParams:
    """The options of the online Sorted-LP policy (:class:`SortedLPPolicy`)."""

    window: int = param(20, "int", "requests re-ordered by the LP at each re-solve", minimum=1)
    max_columns: int = param(5_000, "int", "columns of each window LP", minimum=1)


@dataclass(frozen=True)
class LpSwapOnlineParams(WindowParams):
    """The options of the online LP-Swap policy (:class:`LPSwapPolicy`)."""

    swap_passes: int = param(5, "int", "passes of adjacent swaps per re-solve", minimum=0)


class SortedFPolicy(BasePolicy):
    """Admit waiting requests in the Sorted-F queue order (module docstring); stop at the
    first misfit. Subclasses re-arrange the head of the queue in :meth:`arrange`."""

    name = "sorted-f-online"
    #: budget of the expensive re-solves (90% of the run's deadline, set by
    #: :meth:`bind_deadline` when :func:`lpsched.simulate.simulate` starts; none by default)
    budget: Deadline = Deadline.none()

    def bind_deadline(self, deadline: Deadline) -> None:
        """Give the re-solves 90% of the simulation's ``deadline`` (the drain has the rest)."""
        self.budget = deadline.share(0.9) if deadline.limited else deadline

    def __init__(self, thetas: Sequence[float] = DEFAULT_THETAS, exact_batches: bool = False):
        self.thetas = tuple(thetas)
        self.exact_batches = bool(exact_batches)

    def reset(self, state: SimState) -> None:
        self._s = state.prefill
        self._o = np.minimum(state.predicted, state.memory - state.prefill)
        self._M = state.memory
        self._n = len(state.prefill)
        # the profile plans with the engine's holding time (async: one step more); the
        # Sorted-F order and the LP keep the predicted lengths
        self._o_plan = async_lengths(state, self._o)
        self._prof = LookaheadProfile(state.memory, state.prefill, self._o_plan)
        self._queue = BatchQueue(state.memory, state.prefill, self._o, self.thetas,
                                 self.exact_batches)
        self._dirty = False
        self._revealed = 0
        self.recomputes = 0

    def on_arrival(self, state: SimState, positions: list[int]) -> None:
        self._revealed += len(positions)
        self._queue.add(positions)
        self._dirty = True

    def on_evict(self, state: SimState, positions: list[int]) -> None:
        self._prof.remove(positions)
        self._queue.add(positions)
        self._dirty = True

    def on_resume(self, state: SimState, positions: list[int]) -> None:
        for pos in positions:  # its virtual start: the progress it kept
            self._prof.add(pos, state.running[pos])

    def on_finish(self, state: SimState, positions: list[int]) -> None:
        self._prof.remove(positions)

    def arrange(self) -> None:
        """Hook, called once after the queue was re-formed: re-order its head."""

    def _refresh(self) -> None:
        if self._dirty:
            self._dirty = False
            self.arrange()
            self.recomputes += 1

    def decide(self, state: SimState) -> Sequence[int]:
        self._refresh()
        chosen = self._prof.admit_prefix(self._queue, self._s, self._o_plan, state.t)
        if chosen:
            self._queue.pop_front(len(chosen))
        return chosen

    def next_decision(self, state: SimState) -> int:
        t = state.t
        self._refresh()
        pos = self._queue.first()
        if pos is None:
            return t + 1
        prof = self._prof
        prof.prepare(t)
        if prof.overrun(t):
            return t + 1
        return prof.earliest_fit(int(self._s[pos]), int(self._o_plan[pos]), t)

    def stats(self) -> dict[str, Any]:
        """Figures for ``Result.stats``."""
        return {"order_recomputes": self.recomputes,
                "batches_formed": self._queue.batches_formed}


class SortedLPPolicy(SortedFPolicy):
    """Sorted-F queue with its first ``window`` requests re-ordered by the ordering LP."""

    name = "sorted-lp-online"
    CACHE = 64  # window orders remembered

    def __init__(self, window: int = WindowParams.window,
                 max_columns: int = WindowParams.max_columns):
        super().__init__()
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = int(window)
        self.max_columns = int(max_columns)

    def reset(self, state: SimState) -> None:
        import lpsched.heuristics.ordering_lp  # noqa: F401  (imported now, not timed as a re-solve)

        super().reset(state)
        self._cache: OrderedDict[tuple[int, ...], list[int]] = OrderedDict()
        self.lp_solves = self.lp_cached = self.lp_skipped = self.lp_failed = 0
        self.lp_seconds = self._lp_longest = 0.0
        self._started = self.budget.now()

    def arrange(self) -> None:
        head = self._queue.head(self.window)
        if len(head) < 2:
            return
        key = tuple(head)
        order = self._cache.get(key)
        if order is not None:
            self.lp_cached += 1
            self._cache.move_to_end(key)
        else:
            lp_deadline = self._lp_deadline()
            if lp_deadline is None:  # out of budget: the Sorted-F order (cheap fallback)
                self.lp_skipped += 1
                return
            t0 = time.perf_counter()
            order = self._solve(np.asarray(head, dtype=np.int64), lp_deadline)
            took = time.perf_counter() - t0
            self.lp_seconds += took
            self._lp_longest = max(self._lp_longest, took)
            if order is None:
                return
            self._cache[key] = order
            if len(self._cache) > self.CACHE:
                self._cache.popitem(last=False)
        self._queue.replace_front(order)

    def _lp_deadline(self) -> Deadline | None:
        """The deadline of the next re-solve, or None to skip it (module docstring)."""
        budget = self.budget
        if budget.expired():
            return None
        if not budget.limited:
            return budget
        revealed = max(self._revealed, 1)
        per_request = max(budget.now() - self._started - self.lp_seconds, 0.0) / revealed
        spare = budget.remaining() - 2.0 * per_request * (self._n - self._revealed)
        if spare <= 2.0 * self._lp_longest:
            return None
        return budget.share(1.0, at_most=spare)

    def _solve(self, head: np.ndarray, lp_deadline: Deadline) -> list[int] | None:
        from lpsched.heuristics.ordering_lp import lp_order, ordering_lp

        sub = Instance.from_arrays(self._M, self._s[head], self._o[head])
        lp = ordering_lp(sub, max_columns=self.max_columns,
                         deadline=lp_deadline)
        self.lp_solves += 1
        if lp.status != "optimal":
            self.lp_failed += 1
            return None
        return head[self.improve(sub, lp_order(sub, lp), lp_deadline)].tolist()

    def improve(self, sub: Instance, order: np.ndarray, deadline: Deadline) -> np.ndarray:
        """Hook: the final order of the window (``sub``'s positions); Sorted-LP keeps it."""
        return order

    def stats(self) -> dict[str, Any]:
        out = super().stats()
        out.update(lp_solves=self.lp_solves, lp_cached=self.lp_cached,
                   lp_skipped=self.lp_skipped, lp_failed=self.lp_failed,
                   lp_seconds=round(self.lp_seconds, 4))
        if self.lp_skipped:
            out["lp_fallback"] = (f"time budget: {self.lp_skipped} re-solves skipped, their "
                                  "windows kept the Sorted-F order")
        return out


class LPSwapPolicy(SortedLPPolicy):
    """Online LP-Swap: the Sorted-LP window order improved by adjacent pairwise swaps."""

    name = "lp-swap-online"

    def __init__(self, window: int = LpSwapOnlineParams.window,
                 max_columns: int = LpSwapOnlineParams.max_columns,
                 swap_passes: int = LpSwapOnlineParams.swap_passes):
        super().__init__(window, max_columns)
        if swap_passes < 0:
            raise ValueError(f"swap_passes must be >= 0, got {swap_passes}")
        self.swap_passes = int(swap_passes)

    def reset(self, state: SimState) -> None:
        super().reset(state)
        self.swaps = self.swaps_cut = 0

    def improve(self, sub: Instance, order: np.ndarray, deadline: Deadline) -> np.ndarray:
        from lpsched.heuristics.local_search import adjacent_swaps

        out, _p, _obj, st = adjacent_swaps(sub, order, backfill=False,
                                           max_passes=self.swap_passes, deadline=deadline)
        self.swaps += st["swaps"]
        self.swaps_cut += bool(st["cut"])
        return out

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "swaps": self.swaps, "swaps_cut": self.swaps_cut}


def run_order_policy(instance: Instance, policy: SortedFPolicy, deadline: Deadline | None,
                     seed: int | None, prediction_options: dict[str, Any]) -> Result:
    """Simulate ``policy`` (:func:`lpsched.heuristics.baselines.run_policy`): its re-solves
    get 90% of the simulator's deadline (``deadline`` less its reserve;
    :meth:`SortedFPolicy.bind_deadline`), the simulator drains at that deadline.

    Status ``time_limit`` when the simulator drained, and also when the time budget
    skipped LP re-solves or cut swap passes (the run is then not the full policy;
    the message says how many), else ``feasible``."""
    deadline = Deadline.coerce(deadline)
    res = run_policy(instance, policy, deadline=deadline.for_search(), seed=seed,
                     **prediction_options)
    stats = {**res.stats, **policy.stats()}
    budget_cut = [f"{stats[k]} {what}" for k, what in (
        ("lp_skipped", "LP re-solves skipped"), ("swaps_cut", "swap passes cut"))
        if stats.get(k)]
    if budget_cut and res.status is SolveStatus.FEASIBLE:  # the time budget shaped the run
        note = "time budget: " + ", ".join(budget_cut)
        return dataclasses.replace(res, status=SolveStatus.TIME_LIMIT, stats=stats,
                                   message=f"{res.message}; {note}" if res.message else note)
    return dataclasses.replace(res, stats=stats)


def solve_sorted_f_online(instance: Instance, *, deadline: Deadline | None = None,
                          seed: int | None = None, **simulation: Any) -> Result:
    """Simulate the online Sorted-F policy (options: the simulation's,
    :class:`~lpsched.heuristics.baselines.SimulationParams`)."""
    return run_order_policy(instance, SortedFPolicy(), deadline, seed, simulation)


def solve_sorted_lp_online(instance: Instance, *, deadline: Deadline | None = None,
                           seed: int | None = None, window: int = WindowParams.window,
                           max_columns: int = WindowParams.max_columns,
                           **simulation: Any) -> Result:
    """Simulate the online receding-horizon Sorted-LP policy (``window`` requests per LP)."""
    return run_order_policy(instance, SortedLPPolicy(window, max_columns), deadline, seed,
                            simulation)


def solve_lp_swap_online(instance: Instance, *, deadline: Deadline | None = None,
                         seed: int | None = None, window: int = LpSwapOnlineParams.window,
                         max_columns: int = LpSwapOnlineParams.max_columns,
                         swap_passes: int = LpSwapOnlineParams.swap_passes,
                         **simulation: Any) -> Result:
    """Simulate the online LP-Swap policy: ``window`` requests per LP, then at most
    ``swap_passes`` passes of adjacent swaps over the window's LP order."""
    return run_order_policy(instance, LPSwapPolicy(window, max_columns, swap_passes), deadline,
                            seed, simulation)


_WYZ = "Wang, Ye, Zhou 2025; online adaptation ours"

#: The registry's declarations of this module's algorithms (:mod:`lpsched.registry`).
ALGORITHMS = (
    policy_spec("sorted-f-online", solve_sorted_f_online, SortedFPolicy,
                "Online Sorted-F policy in the event simulator: Sorted-F order of the waiting "
                "requests (predicted lengths), look-ahead admission, no overtaking", _WYZ),
    policy_spec("sorted-lp-online", solve_sorted_lp_online, SortedLPPolicy,
                "Online receding-horizon Sorted-LP policy: the first window of the online "
                "Sorted-F order re-ordered by the ordering LP at every arrival", _WYZ,
                WindowParams),
    policy_spec("lp-swap-online", solve_lp_swap_online, LPSwapPolicy,
                "Online LP-Swap policy: the online Sorted-LP window order improved by "
                "adjacent pairwise swaps (window decoded as a backlog) at every arrival", _WYZ,
                LpSwapOnlineParams),
)
