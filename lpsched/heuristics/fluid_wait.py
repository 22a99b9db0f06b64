"""WAIT and Nested WAIT: threshold admission guided by a fluid model.

Ao, Luo, Simchi-Levi, Wang, *Optimizing LLM Inference: Fluid-Guided Online Scheduling
with Memory Constraints* (arXiv 2504.11320, 2025). Requests come in *types*; a fluid
model of the system under stationary arrivals gives the equilibrium batch and memory,
and from it per-type *thresholds*: WAIT (Waiting for Accumulated Inference
Threshold) lets the requests of a type accumulate until ``n_j`` of them wait, then
admits them together, which keeps the running batch near the fluid equilibrium and
away from memory overflows. Proven: both rules approach the fluid benchmark's
throughput asymptotically (heavy traffic, the paper's memory conditions); there is no
finite-instance ratio to test.

**WAIT** (output lengths known): the type of a request is its pair ``(s, o_hat)``
(prefill and predicted decode length; the truth by default). At decision time ``t``
the types are scanned by their oldest waiting request; a type whose waiting count
reaches ``threshold`` admits its requests, oldest first, while the look-ahead test of
:mod:`lpsched.heuristics.lookahead` passes (memory at every future completion step
``<= M``), stopping at the first misfit.

**Nested WAIT** (output lengths unknown): the decode is cut into *segments* with
boundaries ``b_1, 2 b_1, 4 b_1, ...`` (``b_1 = first_segment``); every new request is
in segment 1 and is assumed to end at ``b_1``; a request that reaches a boundary
without completing is re-classified on the fly into the next segment (its assumed
length doubles, exactly the simulator's re-prediction rule,
:func:`lpsched.heuristics.lookahead.repredicted`). Admission is WAIT's on the
segment-1 inventory, against the budget minus a *safety buffer* of
``buffer * M`` tokens that absorbs the growth of requests advancing to later segments.

Where we differ (all in ``docs/papers.md``): the paper's thresholds come from the
fluid model and the arrival rates; a single instance has no rates, so the threshold
is one option shared by every type (default 1). The paper's Nested WAIT also holds a
request at a segment boundary until that segment's inventory reaches its threshold
(the request keeps its cache while it waits); our simulator has no paused state, so
requests advance without waiting (each later segment's threshold is 1). When nothing
runs, the oldest type is admitted whatever its count (otherwise a last small group
would wait forever on a finite instance). Overflows (wrong predictions, Nested WAIT's
unknown lengths) go to the simulator's memory guard, which preempts the most recent
starts; they resume with their progress.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

import numpy as np

from lpsched.heuristics.baselines import LookaheadPolicy, policy_spec, run_policy
from lpsched.heuristics.lookahead import LookaheadProfile
from lpsched.instance import Instance
from lpsched.options import param
from lpsched.schedule import Result
from lpsched.simulate import SimState
from lpsched.stop import Deadline

_NEVER = 1 << 62

__all__ = ["ALGORITHMS", "NestedWaitParams", "WaitParams", "WaitPolicy", "nested_wait", "solve_nested_wait",
           "solve_wait", "wait"]


@dataclass(frozen=True)
class WaitParams:
    """Parameters of WAIT (Ao, Luo, Simchi-Levi, Wang 2025, arXiv 2504.11320)."""

    threshold: int = param(1, "int", "waiting requests of one type (prefill, predicted decode) "
                           "that trigger its admission", minimum=1)


@dataclass(frozen=True)
class NestedWaitParams:
    """Parameters of Nested WAIT (Ao, Luo, Simchi-Levi, Wang 2025, arXiv 2504.11320)."""

    threshold: int = param(1, "int", "waiting new requests that trigger an admission",
                           minimum=1)
    first_segment: int = param(16, "int", "decode steps of the first segment (boundaries "
                               "double after it)", minimum=1)
    buffer: float = param(0.05, "float", "safety buffer: fraction of M kept free at admission",
                          minimum=0, maximum=0.9)


class WaitPolicy(LookaheadPolicy):
    """WAIT, or Nested WAIT with ``first_segment`` set (module docstring).

    Parameters
    ----------
    threshold
        Waiting count of a type that triggers its admission.
    first_segment
        None: WAIT (types ``(s, o_hat)``, the predicted lengths). An integer: Nested
        WAIT (one type; every request assumed to end at the segment boundary).
    buffer
        Fraction of ``M`` kept free by the admission test.
    """

    def __init__(self, threshold: int = 1, first_segment: int | None = None,
                 buffer: float = 0.0):
        self.threshold = int(threshold)
        self.first_segment = first_segment
        self.buffer = float(buffer)
        self.name = "wait" if first_segment is None else "nested-wait"

    def reset(self, state: SimState) -> None:
        cap = state.memory - state.prefill
        keys: list[Any]
        if self.first_segment is None:
            o_hat = np.minimum(state.predicted, cap)
            keys = list(zip(state.prefill.tolist(), o_hat.tolist()))
        else:
            o_hat = np.minimum(np.full(len(cap), self.first_segment, dtype=np.int64), cap)
            keys = [0] * len(cap)
        ids: dict[Any, int] = {}
        self._type = [ids.setdefault(k, len(ids)) for k in keys]
        self._queues: dict[int, list[tuple[int, int]]] = {}
        self._arr = state.arrival.tolist()
        self._s, self._o = state.prefill, np.asarray(o_hat, dtype=np.int64)
        budget = state.memory - int(np.floor(self.buffer * state.memory))
        self._prof = LookaheadProfile(budget, self._s, self._o)

    def _push(self, positions) -> None:
        """Back to its type's queue, in arrival order (the hooks of
        :class:`~lpsched.heuristics.baselines.LookaheadPolicy` call it on an arrival or
        an eviction, and keep the look-ahead profile)."""
        for pos in positions:
            q = self._queues.setdefault(self._type[int(pos)], [])
            bisect.insort(q, (self._arr[int(pos)], int(pos)))

    def _heads(self, eligible_only: bool) -> list[int]:
        """Types with a waiting request (``eligible_only``: at least ``threshold``), by
        their oldest request."""
        out = [k for k, q in self._queues.items()
               if q and (not eligible_only or len(q) >= self.threshold)]
        out.sort(key=lambda k: self._queues[k][0])
        return out

    def _admit(self, ty: int, t: int, force: bool) -> list[int]:
        """Admit type ``ty``'s requests oldest first while they fit (``force``: its oldest
        even if it does not: nothing runs, and every request fits ``M`` alone)."""
        q, prof = self._queues[ty], self._prof
        got = prof.admit_prefix((pos for _a, pos in q), self._s, self._o, t)
        if not got and force:
            got = [q[0][1]]
            prof.add(got[0], t)
            prof.prepare(t)
        del q[:len(got)]
        if not q:
            del self._queues[ty]
        return got

    def decide(self, state: SimState) -> list[int]:
        t, prof = state.t, self._prof
        prof.prepare(t)
        chosen: list[int] = []
        if not state.running:  # idle: the oldest type goes whatever its count
            oldest = self._heads(False)[0]
            chosen = self._admit(oldest, t, force=True)
        types = self._heads(True)
        if not types:
            return chosen
        heads = np.asarray([self._queues[k][0][1] for k in types], dtype=np.int64)
        # a head that does not fit now cannot fit after more admissions at t (they only
        # add memory): test all heads at once, then admit in order among those that fit
        fits = prof.fits_many(self._s[heads], self._o[heads], t)
        for ty in (k for k, ok in zip(types, fits.tolist()) if ok):
            if ty in self._queues:
                chosen.extend(self._admit(ty, t, force=False))
        return chosen

    def next_decision(self, state: SimState) -> int:
        """The earliest step at which the head of a type at its threshold fits, if no
        arrival (which may bring a type to its threshold), completion or eviction comes
        first (:meth:`LookaheadProfile.earliest_fit_many`); never, with no such type."""
        types = self._heads(True)
        if not types:
            return _NEVER
        heads = np.asarray([self._queues[k][0][1] for k in types], dtype=np.int64)
        self._prof.prepare(state.t)
        return self._prof.earliest_fit_many(self._s[heads], self._o[heads], state.t)


def wait(threshold: int = WaitParams.threshold) -> WaitPolicy:
    """Policy factory of WAIT (registry, ``replay``)."""
    return WaitPolicy(WaitParams(threshold).threshold)


def nested_wait(threshold: int = NestedWaitParams.threshold,
                first_segment: int = NestedWaitParams.first_segment,
                buffer: float = NestedWaitParams.buffer) -> WaitPolicy:
    """Policy factory of Nested WAIT (registry, ``replay``)."""
    prm = NestedWaitParams(threshold, first_segment, buffer)
    return WaitPolicy(prm.threshold, prm.first_segment, prm.buffer)


def solve_wait(instance: Instance, *, deadline: Deadline | None = None,
               seed: int | None = None, threshold: int = WaitParams.threshold,
               **sim: Any) -> Result:
    """Registry entry: simulate WAIT; options: :class:`WaitParams` fields and the
    simulation's (:class:`~lpsched.heuristics.baselines.SimulationParams`).

    >>> from lpsched.instance import Instance, Request
    >>> inst = Instance(20, [Request("a", 2, 3), Request("b", 2, 3, arrival=1),
    ...                      Request("c", 1, 1, arrival=1)])
    >>> solve_wait(inst, threshold=2).schedule.starts.tolist()
    [0, 3, 6]
    """
    return run_policy(instance, wait(threshold), deadline=deadline, seed=seed, **sim)


def solve_nested_wait(instance: Instance, *, deadline: Deadline | None = None,
                      seed: int | None = None, threshold: int = NestedWaitParams.threshold,
                      first_segment: int = NestedWaitParams.first_segment,
                      buffer: float = NestedWaitParams.buffer, **sim: Any) -> Result:
    """Registry entry: simulate Nested WAIT (options: :class:`NestedWaitParams` fields and
    the simulation's; the rule reads no predicted lengths)."""
    return run_policy(instance, nested_wait(threshold, first_segment, buffer), deadline=deadline,
                      seed=seed, **sim)


_AO = "Ao, Luo, Simchi-Levi, Wang"

#: The registry's declarations of this module's algorithms (:mod:`lpsched.registry`).
ALGORITHMS = (
    policy_spec("wait", solve_wait, wait,
                "WAIT: per-type (prefill, predicted decode) queues admitted with the "
                "look-ahead test once threshold requests of the type wait",
                f"{_AO}, Optimizing LLM Inference: Fluid-Guided Online Scheduling with "
                "Memory Constraints, arXiv:2504.11320, 2025", WaitParams),
    policy_spec("nested-wait", solve_nested_wait, nested_wait,
                "Nested WAIT: lengths unknown; requests assumed to end at a doubling "
                "segment boundary, threshold admission under M minus a safety buffer",
                f"{_AO} 2025 (arXiv:2504.11320)", NestedWaitParams),
)
