"""What a policy sees and what it returns: :class:`SimState` and the :class:`Policy` protocol.

A policy decides *order and admission*; the engine (:mod:`lpsched.engine.loop`) owns the
limits (:class:`~lpsched.engine.limits.EngineLimits`) and the clock. At a decision time
``t`` (the boundary before step ``t+1``) the policy sees the time, the waiting requests,
the running ones with their progress, the memory free in step ``t+1`` and the limits
(:class:`SimState`), and returns the waiting requests to admit, in order
(:meth:`Policy.decide`); a preempting policy may also name running requests to give up
(:meth:`Policy.preempt`). It never sees true decode lengths.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import mul
from typing import Protocol, runtime_checkable

import numpy as np

from lpsched.engine.clock import StepTimeClock
from lpsched.engine.limits import PAPERS, EngineLimits
from lpsched.heuristics.lookahead import repredicted
from lpsched.instance import Instance

__all__ = ["BasePolicy", "Policy", "SimState", "SimulationError"]


class SimulationError(RuntimeError):
    """A policy broke the engine's protocol (bad admission, stall)."""


class SimState:
    """What a policy may see at a decision time (read it, do not modify it).

    Attributes
    ----------
    t
        The decision time; requests started now occupy memory from step ``t+1``.
    time
        The engine's clock at ``t`` (seconds in a timed run, ``t`` in the step model).
    memory
        The budget ``M``.
    block_size
        The KV block size ``b`` memory is counted in (1 unless the policy is block-aware
        and the instance is paged).
    limits
        The engine's :class:`~lpsched.engine.limits.EngineLimits`.
    prefill, arrival
        Instance columns indexed by request position (``prefill`` is the *memory* prefill:
        ``s - 1`` under vLLM V1's accounting). In a timed run ``arrival`` holds the step at
        which each request was revealed (unrevealed ones: a large number, in arrival order).
    predicted
        Predicted decode lengths ``o_hat`` (the truth when no prediction was given).
    running
        ``{position: start step}`` of the requests decoding in step ``t+1``. For a resumed
        request this is its *virtual start* ``p_k - D`` (``D`` decode steps done before
        its current segment): it holds ``s + t - start`` tokens in step ``t`` and
        completes at ``start + o``, exactly as a request started then.
    waiting
        Positions of the arrived requests not admitted and not finished.
    done
        ``{position: D}`` for the waiting requests preempted with ``D`` decode steps done:
        resumed at ``t`` such a request holds ``s + D + 1`` tokens in step ``t+1`` (its
        cache is recomputed) and runs ``o - D`` more steps.
    prefilling
        ``{position: tokens computed}`` of the request whose prefill is being chunked
        (at most one; chunked prefill only): admitted, neither running nor waiting.
    compute
        Prompt tokens each request computes when it starts (by position; a resumed one
        computes ``compute + D``): the prompt, while ``prefill`` is what it holds.
    tokens_left
        In :meth:`Policy.decide`: the token budget the step's admissions may still use
        (the budget less one token per running decode and the chunk of a prefill
        finishing now; chunked prefill cuts the last admission to it); None without a
        budget.
    """

    __slots__ = ("t", "_clock", "memory", "block_size", "limits", "prefill", "arrival",
                 "predicted", "running", "waiting", "done", "prefilling", "compute",
                 "tokens_left", "_wsum", "_n_run",
                 "_res", "_extra", "_zmem", "instance", "_shifts", "_rkey", "_rval")

    def __init__(self, instance: Instance, predicted: np.ndarray,
                 limits: EngineLimits = PAPERS, arrival: np.ndarray | None = None):
        self.instance = instance
        self.t = 0
        self._clock: StepTimeClock | None = None  # a timed run's clock
        self.memory = instance.memory
        self.block_size = instance.block_size
        self.limits = limits
        self.prefill = instance.prefill
        self.arrival = instance.arrival if arrival is None else arrival
        self.predicted = predicted
        self.running: dict[int, int] = {}
        self.waiting: set[int] = set()
        self.done: dict[int, int] = {}
        self.prefilling: dict[int, int] = {}
        self.compute: np.ndarray = instance.prefill
        self.tokens_left: int | None = None
        self._wsum = 0  # sum over running of (s - p)
        self._n_run = 0
        self._res = [0] * self.block_size  # running requests by (p - s) mod b (b > 1)
        self._extra = 0  # tokens (block-rounded) the prefill in progress holds next step
        self._zmem = 0  # tokens (block-rounded) of finished requests not yet released (async)
        b = self.block_size
        self._shifts = [[(r - k) % b for r in range(b)] for k in range(b)] if b > 1 else []
        self._rkey = -1  # (u mod b) of the cached rounding term, -1: stale
        self._rval = 0

    @property
    def time(self) -> float:
        """The clock at ``t``: seconds in a timed run (exact; asking costs the steps the
        clock had deferred), ``t`` in the step model."""
        return float(self.t) if self._clock is None else self._clock.exact_now()

    def _add(self, pos: int, start: int) -> None:
        self.running[pos] = start
        w = int(self.prefill[pos]) - start
        self._wsum += w
        self._n_run += 1
        if self.block_size > 1:
            self._res[-w % self.block_size] += 1
            self._rkey = -1

    def _remove(self, pos: int) -> int:
        start = self.running.pop(pos)
        w = int(self.prefill[pos]) - start
        self._wsum -= w
        self._n_run -= 1
        if self.block_size > 1:
            self._res[-w % self.block_size] -= 1
            self._rkey = -1
        return start

    def memory_in(self, u: int) -> int:
        """KV memory of the admitted requests in step ``u >= t+1`` if none of them
        finished: ``sum (s + u - start)`` over the running ones, each rounded up to
        blocks (``O(b)``), plus what the prefill in progress holds in step ``t+1``."""
        lin = self._wsum + u * self._n_run + self._extra + self._zmem
        b = self.block_size
        if b == 1:
            return lin
        k = u % b
        if self._rkey != k:
            self._rval = sum(map(mul, self._res, self._shifts[k]))
            self._rkey = k
        return lin + self._rval

    @property
    def memory_next(self) -> int:
        """KV tokens the admitted requests hold in step ``t+1`` (exact, no prediction)."""
        return self.memory_in(self.t + 1)

    @property
    def free_next(self) -> int:
        """``M - memory_next``: what requests started now may use in step ``t+1``."""
        return self.memory - self.memory_next

    def memory_now(self, pos: int) -> int:
        """KV tokens running request ``pos`` holds in step ``t`` (before block rounding)."""
        return int(self.prefill[pos]) + self.t - self.running[pos]

    def predicted_remaining(self, pos: int) -> int:
        """Predicted decode steps left for running ``pos`` (at least 1: it has not finished);
        past its prediction it is re-predicted
        (:func:`lpsched.heuristics.lookahead.repredicted`, cap ``M - s``)."""
        p, o_hat = self.running[pos], int(self.predicted[pos])
        cap = self.memory - int(self.prefill[pos])
        return p + repredicted(min(o_hat, cap), self.t - p, cap) - self.t


@runtime_checkable
class Policy(Protocol):
    """The policy protocol (:class:`BasePolicy` gives the defaults).

    * ``decide(state) -> ordered waiting positions to admit now``. The engine admits
      them in that order while its limits allow (free blocks above the watermark,
      ``max_num_seqs``, the token budget, chunking the last prefill when chunked prefill
      is on) and stops at the first that does not fit; those it did not admit are handed
      back with ``on_refuse`` (the rest of a list or tuple; of an iterator, the one it
      pulled). An iterator is consumed lazily, one position per admission.
    * ``preempt(state) -> running positions to give up`` before the admissions (recompute:
      they go back to waiting with their progress); only called on a policy that defines
      it. Besides, the engine preempts the most recently admitted request whenever a
      running request needs a block that is not there (and down to ``clear_to(state)``
      tokens when the policy defines that method).
    * ``cancel(state) -> running positions to kill`` before the preemptions: their
      progress and memory are discarded, they go back to waiting (``on_evict``; no entry
      in ``state.done``) and their next start is a fresh run; each killed run is an
      attempt of :attr:`lpsched.schedule.Schedule.restarts`. Only called on a policy
      that defines it; a request that resumed with kept progress cannot be cancelled.
    * ``next_decision(state) -> step``: the engine may skip the decision times before it
      (it still stops at every arrival, completion and preemption; see
      :mod:`lpsched.engine.loop`).
    * Notifications with lists of positions: ``on_arrival``, ``on_finish``, ``on_evict``
      (preempted or cancelled: back to waiting), ``on_resume`` (a preempted request started again),
      ``on_refuse`` (admissions the engine did not make: back to waiting).
    * ``reset(state)`` once before the run; ``bind_deadline(deadline)`` (optional) with
      the run's :class:`~lpsched.stop.Deadline`.
    * ``block_aware``: True if it counts paged memory itself (``state.block_size``);
      any other policy is run on the padded instance of :mod:`lpsched.paging`.
    """

    name: str
    block_aware: bool

    def reset(self, state: SimState) -> None: ...
    def on_arrival(self, state: SimState, positions: list[int]) -> None: ...
    def on_finish(self, state: SimState, positions: list[int]) -> None: ...
    def on_evict(self, state: SimState, positions: list[int]) -> None: ...
    def on_resume(self, state: SimState, positions: list[int]) -> None: ...
    def on_refuse(self, state: SimState, positions: list[int]) -> None: ...
    def decide(self, state: SimState) -> Iterable[int]: ...
    def next_decision(self, state: SimState) -> int: ...


class BasePolicy:
    """No-op hooks; ``next_decision`` asks to be called at every step; a refused admission
    is handled as an eviction (``on_refuse`` calls ``on_evict``)."""

    name: str = "policy"
    block_aware: bool = False

    def bind_deadline(self, deadline) -> None:
        pass

    def reset(self, state: SimState) -> None:
        pass

    def on_arrival(self, state: SimState, positions: list[int]) -> None:
        pass

    def on_finish(self, state: SimState, positions: list[int]) -> None:
        pass

    def on_evict(self, state: SimState, positions: list[int]) -> None:
        pass

    def on_resume(self, state: SimState, positions: list[int]) -> None:
        pass

    def on_refuse(self, state: SimState, positions: list[int]) -> None:
        self.on_evict(state, positions)

    def decide(self, state: SimState) -> Sequence[int] | Iterable[int]:  # pragma: no cover
        raise NotImplementedError

    def next_decision(self, state: SimState) -> int:
        return state.t + 1
