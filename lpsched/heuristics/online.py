"""Online Sorted-F and LP-guided policies for the event simulator.

Online (requests revealed at arrival) versions of the strong heuristics, run by
the one event simulator (:func:`lpsched.simulate.simulate`) as policies. Each
policy keeps a *priority order* of the waiting requests, recomputed only when
the waiting set changes by an arrival or an eviction (never when requests start
or finish, so the order is stable between events), and admits requests in that
order with the look-ahead test of MC-SF (:class:`lpsched.heuristics.lookahead.
LookaheadProfile`: a request is started at ``t`` only if the predicted memory
at every future completion step stays ``<= M``), stopping at the first request
that does not fit (no overtaking: the order is the policy).

* ``sorted-f-online``: the order is the Sorted-F batch order
  (:func:`lpsched.heuristics.sorted_f.form_batches`) of the waiting requests,
  computed with the *predicted* decode lengths;
* ``sorted-lp-online``: the first ``window`` waiting requests of that order are
  re-ordered by the ordering LP (:func:`lpsched.heuristics.lp_guided.ordering_lp`)
  of those requests as a backlog (fractional completion times), the rest keep
  the Sorted-F order - a receding-horizon LP re-solved at every arrival;
* ``lp-swap-online``: as ``sorted-lp-online``, then the LP order of that window
  is improved by passes of adjacent pairwise swaps
  (:func:`lpsched.heuristics.lp_guided.adjacent_swaps`, the step of offline
  LP-Swap), each swap evaluated by decoding the window's requests as a backlog
  of their own (the serial earliest-start decoder) and kept when it strictly
  lowers their total completion time; at most ``swap_passes`` passes per
  re-solve, no time limit inside a decision (deterministic).

Predictions larger than ``M - s`` are clipped (they are known to be wrong),
as in the baselines. Wake-ups between events use the look-ahead profile's
``earliest_fit`` for the head of the order, exactly as the FCFS/MC-SF policies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lpsched.heuristics.lookahead import LookaheadProfile
from lpsched.heuristics.sorted_f import DEFAULT_THETAS, batch_order, form_batches
from lpsched.instance import Instance
from lpsched.schedule import Result
from lpsched.simulate import BasePolicy, SimState
from lpsched.stop import Deadline

__all__ = ["LPSwapPolicy", "OrderPolicy", "SortedFPolicy", "SortedLPPolicy", "run_order_policy",
           "solve_lp_swap_online", "solve_sorted_f_online", "solve_sorted_lp_online"]


class OrderPolicy(BasePolicy):
    """Admit waiting requests in a recomputed priority order; stop at the first misfit."""

    name = "order-policy"
    #: budget of the expensive re-solves (set by the registry entry; none by default)
    budget: Deadline = Deadline.none()

    def rank(self, positions: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def reset(self, state: SimState) -> None:
        self._s = state.prefill
        self._o = np.minimum(state.predicted, state.memory - state.prefill)
        self._M = state.memory
        self._prof = LookaheadProfile(state.memory, state.prefill, self._o)
        self._waiting: set[int] = set()
        self._queue: list[int] = []
        self._dirty = False
        self.recomputes = 0

    def on_arrival(self, state: SimState, positions: list[int]) -> None:
        self._waiting.update(positions)
        self._dirty = True

    def on_evict(self, state: SimState, positions: list[int]) -> None:
        self._prof.remove(positions)
        self._waiting.update(positions)
        self._dirty = True

    def on_finish(self, state: SimState, positions: list[int]) -> None:
        self._prof.remove(positions)

    def _refresh(self) -> None:
        if self._dirty:
            pos = np.fromiter(sorted(self._waiting), dtype=np.int64, count=len(self._waiting))
            self._queue = [int(p) for p in self.rank(pos)] if pos.size else []
            self._dirty = False
            self.recomputes += 1

    def decide(self, state: SimState) -> Sequence[int]:
        self._refresh()
        t = state.t
        q = self._queue
        chosen = self._prof.admit_prefix(q, self._s, self._o, t)
        if chosen:
            del q[:len(chosen)]
            self._waiting.difference_update(chosen)
        return chosen

    def next_decision(self, state: SimState) -> int:
        t = state.t
        self._refresh()
        if not self._queue:
            return t + 1
        prof = self._prof
        prof.prepare(t)
        if prof.overrun(t):
            return t + 1
        pos = self._queue[0]
        return prof.earliest_fit(int(self._s[pos]), int(self._o[pos]), t)


class SortedFPolicy(OrderPolicy):
    """Sorted-F order of the waiting requests (predicted decode lengths)."""

    name = "sorted-f-online"

    def __init__(self, thetas: Sequence[float] = DEFAULT_THETAS, exact_batches: bool = False):
        self.thetas = tuple(thetas)
        self.exact_batches = bool(exact_batches)

    def rank(self, positions: np.ndarray) -> np.ndarray:
        sub = Instance.from_arrays(self._M, self._s[positions], self._o[positions])
        return positions[batch_order(form_batches(sub, thetas=self.thetas,
                                                  exact_batches=self.exact_batches))]


class SortedLPPolicy(SortedFPolicy):
    """Sorted-F order with its first ``window`` requests re-ordered by the ordering LP."""

    name = "sorted-lp-online"

    def __init__(self, window: int = 20, max_columns: int = 5_000):
        super().__init__()
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = int(window)
        self.max_columns = int(max_columns)
        self.lp_solves = 0
        self.lp_skipped = 0

    def rank(self, positions: np.ndarray) -> np.ndarray:
        from lpsched.heuristics.ordering_lp import lp_order, ordering_lp

        base = super().rank(positions)
        head = base[: self.window]
        if head.size < 2:
            return base
        if self.budget.expired():  # out of budget: the Sorted-F order (cheap fallback)
            self.lp_skipped += 1
            return base
        sub = Instance.from_arrays(self._M, self._s[head], self._o[head])
        lp = ordering_lp(sub, max_columns=self.max_columns,
                         time_limit=self.budget.solver_seconds())
        self.lp_solves += 1
        if lp.status != "optimal":
            return base
        return np.concatenate([head[self.improve(sub, lp_order(sub, lp))], base[self.window:]])

    def improve(self, sub: Instance, order: np.ndarray) -> np.ndarray:
        """Hook: the final order of the window (``sub``'s positions); Sorted-LP keeps it."""
        return order


class LPSwapPolicy(SortedLPPolicy):
    """Online LP-Swap: the Sorted-LP window order improved by adjacent pairwise swaps."""

    name = "lp-swap-online"

    def __init__(self, window: int = 20, max_columns: int = 5_000, swap_passes: int = 5):
        super().__init__(window, max_columns)
        if swap_passes < 0:
            raise ValueError(f"swap_passes must be >= 0, got {swap_passes}")
        self.swap_passes = int(swap_passes)
        self.swaps = 0

    def improve(self, sub: Instance, order: np.ndarray) -> np.ndarray:
        from lpsched.heuristics.local_search import adjacent_swaps

        out, _p, _obj, st = adjacent_swaps(sub, order, backfill=False,
                                           max_passes=self.swap_passes, deadline=self.budget)
        self.swaps += st["swaps"]
        return out


def run_order_policy(instance: Instance, policy: OrderPolicy, deadline: Deadline | None, seed: int | None,
         prediction_options: dict[str, Any]) -> Result:
    from lpsched.heuristics.baselines import run_policy

    deadline = Deadline.coerce(deadline)
    # the expensive re-solves stop at 90% of the budget; the simulator drains at its end
    policy.budget = deadline.share(0.9) if deadline.limited else deadline
    res = run_policy(instance, policy, deadline=deadline.for_search(), seed=seed,
                     **prediction_options)
    res.stats["order_recomputes"] = policy.recomputes
    if isinstance(policy, SortedLPPolicy):
        res.stats["lp_solves"] = policy.lp_solves
        res.stats["lp_skipped"] = policy.lp_skipped
    if isinstance(policy, LPSwapPolicy):
        res.stats["swaps"] = policy.swaps
    return res


def solve_sorted_f_online(instance: Instance, *, deadline: Deadline | None = None,
                          seed: int | None = None, predictions: Any = None,
                          prediction_noise: float | None = None,
                          skip_idle: bool = True) -> Result:
    """Simulate the online Sorted-F policy (options: ``predictions``, ``prediction_noise``)."""
    return run_order_policy(instance, SortedFPolicy(), deadline, seed,
                {"predictions": predictions, "prediction_noise": prediction_noise,
                 "skip_idle": skip_idle})


def solve_sorted_lp_online(instance: Instance, *, deadline: Deadline | None = None,
                           seed: int | None = None, window: int = 20, max_columns: int = 5_000,
                           predictions: Any = None, prediction_noise: float | None = None,
                           skip_idle: bool = True) -> Result:
    """Simulate the online receding-horizon Sorted-LP policy (``window`` requests per LP)."""
    return run_order_policy(instance, SortedLPPolicy(window, max_columns), deadline, seed,
                {"predictions": predictions, "prediction_noise": prediction_noise,
                 "skip_idle": skip_idle})


def solve_lp_swap_online(instance: Instance, *, deadline: Deadline | None = None,
                         seed: int | None = None, window: int = 20, max_columns: int = 5_000,
                         swap_passes: int = 5, predictions: Any = None,
                         prediction_noise: float | None = None, skip_idle: bool = True) -> Result:
    """Simulate the online LP-Swap policy: ``window`` requests per LP, then at most
    ``swap_passes`` passes of adjacent swaps over the window's LP order."""
    return run_order_policy(instance, LPSwapPolicy(window, max_columns, swap_passes), deadline, seed,
                {"predictions": predictions, "prediction_noise": prediction_noise,
                 "skip_idle": skip_idle})
