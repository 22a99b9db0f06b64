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
the task definitions of this project (DESIGN.md section 2); FCFS and SF as named
in Wang, Ye, Zhou (2025) are the same orderings. With exact predictions the
admission test is exact, so the memory guard of :mod:`lpsched.simulate` never
evicts; with noisy predictions it may (counted in ``Result.stats``).

Registry functions ``solve_fcfs``, ``solve_sf``, ``solve_size_first`` and
``solve_mc_sf`` take the options

* ``predictions``: list of predicted decode lengths (integers >= 1), or
* ``prediction_noise``: ``sigma >= 0``, predictions ``max(1, round(o * exp(sigma Z)))``
  with standard normal ``Z`` drawn from ``seed`` (default 0);
* ``skip_idle``: bool, default True (see :func:`lpsched.simulate.simulate`).

``time_limit`` is accepted and ignored: each is a single simulation pass.
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np

from lpsched.heuristics.lookahead import LookaheadProfile
from lpsched.instance import Instance
from lpsched.schedule import Result, SolveStatus
from lpsched.simulate import (
    BasePolicy,
    SimState,
    noisy_predictions,
    simulate,
    validate_predictions,
)

__all__ = [
    "LookaheadPolicy",
    "fcfs",
    "mc_sf",
    "run_policy",
    "sf",
    "size_first",
    "solve_fcfs",
    "solve_mc_sf",
    "solve_sf",
    "solve_size_first",
]

_KEYS = ("arrival", "decode", "size")


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
    """

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
        self._order = order  # rank -> position
        self._s = state.prefill
        self._o = o_hat
        self._ranks: list[int] = []  # waiting ranks, ascending (best first)
        self._rank = np.empty(n, dtype=np.int64)
        self._rank[order] = pos
        self._rank_list = self._rank.tolist()
        self._cache: np.ndarray | None = None  # waiting positions, best first
        self._prof = LookaheadProfile(state.memory, state.prefill, o_hat)

    def _push(self, positions) -> None:
        rl = self._rank_list
        ranks = self._ranks
        if not ranks or len(positions) > 16:
            ranks.extend(rl[p] for p in positions)
            ranks.sort()
        else:
            for p in positions:
                bisect.insort(ranks, rl[p])
        self._cache = None

    def on_arrival(self, state: SimState, positions: list[int]) -> None:
        self._push(positions)

    def on_evict(self, state: SimState, positions: list[int]) -> None:
        self._prof.remove(positions)
        self._push(positions)

    def on_finish(self, state: SimState, positions: list[int]) -> None:
        self._prof.remove(positions)

    def _waiting_array(self) -> np.ndarray:
        if self._cache is None:
            self._cache = self._order[np.asarray(self._ranks, dtype=np.int64)]
        return self._cache

    # -- decisions ---------------------------------------------------------------------------
    def decide(self, state: SimState) -> list[int]:
        t = state.t
        prof = self._prof
        prof.prepare(t)
        chosen: list[int] = []
        if not self.backfill:
            ranks = self._ranks
            order = self._order
            s, o = self._s, self._o
            k = 0
            while k < len(ranks):
                pos = int(order[ranks[k]])
                if not prof.fits(int(s[pos]), int(o[pos]), t):
                    break
                prof.add(pos, t)
                prof.prepare(t)
                chosen.append(pos)
                k += 1
            if k:
                del ranks[:k]
                self._cache = None
            return chosen
        cand = self._waiting_array()
        s = self._s[cand]
        o = self._o[cand]
        lo = 0
        taken = []
        while lo < cand.size:
            ok = prof.fits_many(s[lo:], o[lo:], t)
            hit = np.flatnonzero(ok)
            if hit.size == 0:
                break
            j = lo + int(hit[0])
            pos = int(cand[j])
            prof.add(pos, t)
            prof.prepare(t)
            chosen.append(pos)
            taken.append(j)
            lo = j + 1  # earlier candidates failed and admissions only add memory
        if taken:
            keep = np.ones(cand.size, dtype=bool)
            keep[taken] = False
            self._ranks = [r for r, k in zip(self._ranks, keep.tolist()) if k]
            self._cache = cand[keep]
        return chosen

    def next_decision(self, state: SimState) -> int:
        """Earliest step at which this policy could start something (no events)."""
        t = state.t
        prof = self._prof
        if not self._ranks:
            return t + 1
        prof.prepare(t)
        if prof.overrun(t):
            return t + 1  # the view of an overdue request changes every step
        if self.backfill:
            cand = self._waiting_array()
            s = int(self._s[cand].min())  # a virtual candidate dominated by all
            o = int(self._o[cand].min())
        else:
            pos = int(self._order[self._ranks[0]])  # the gate: nothing passes it
            s, o = int(self._s[pos]), int(self._o[pos])
        return prof.earliest_fit(s, o, t)


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


_ALLOWED = {"predictions", "prediction_noise", "skip_idle"}


def run_policy(instance: Instance, policy: LookaheadPolicy, *, seed: int | None = None,
               **options: Any) -> Result:
    """Simulate ``policy`` on ``instance`` and wrap the outcome in a :class:`Result`."""
    unknown = set(options) - _ALLOWED
    if unknown:
        raise ValueError(f"{policy.name}: unknown option(s) {sorted(unknown)}; "
                         f"allowed: {sorted(_ALLOWED)}")
    preds = options.get("predictions")
    noise = options.get("prediction_noise")
    if preds is not None and noise is not None:
        raise ValueError(f"{policy.name}: give either 'predictions' or 'prediction_noise', not both")
    if preds is not None:
        o_hat = validate_predictions(instance, preds)
        mode = "given"
    elif noise is not None:
        o_hat = noisy_predictions(instance, noise, seed)
        mode = f"lognormal sigma={noise} seed={0 if seed is None else seed}"
    else:
        o_hat = None
        mode = "exact"
    sim = simulate(instance, policy, predictions=o_hat,
                   skip_idle=bool(options.get("skip_idle", True)))
    stats = sim.stats()
    stats["predictions"] = mode
    if o_hat is not None:
        err = o_hat - instance.decode
        stats["under_predicted"] = int((err < 0).sum())
        stats["over_predicted"] = int((err > 0).sum())
    return Result(algorithm=policy.name, status=SolveStatus.FEASIBLE,
                  objective=sim.schedule.objective, lower_bound=None, runtime=sim.runtime,
                  schedule=sim.schedule, stats=stats)


def _doc(policy: str) -> str:
    return (f"Registry entry: simulate {policy} on ``instance`` (see the module docstring for "
            "options); status ``feasible``, no lower bound.")


def solve_fcfs(instance: Instance, *, time_limit: float | None = None, seed: int | None = None,
               **options: Any) -> Result:
    return run_policy(instance, fcfs(), seed=seed, **options)


def solve_sf(instance: Instance, *, time_limit: float | None = None, seed: int | None = None,
             **options: Any) -> Result:
    return run_policy(instance, sf(), seed=seed, **options)


def solve_size_first(instance: Instance, *, time_limit: float | None = None,
                     seed: int | None = None, **options: Any) -> Result:
    return run_policy(instance, size_first(), seed=seed, **options)


def solve_mc_sf(instance: Instance, *, time_limit: float | None = None, seed: int | None = None,
                **options: Any) -> Result:
    return run_policy(instance, mc_sf(), seed=seed, **options)


for _f, _p in ((solve_fcfs, "FCFS"), (solve_sf, "SF"), (solve_size_first, "size-first"),
               (solve_mc_sf, "MC-SF")):
    _f.__doc__ = _doc(_p)

