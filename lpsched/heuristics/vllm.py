"""The ``vllm`` policy: vLLM's default scheduling rule, in the one simulator.

Source (read for this module; public code of the vLLM project):

* ``vllm/core/scheduler.py`` (the V0 scheduler, ``Scheduler._schedule_default``,
  ``_schedule_prefills``, ``_schedule_running``; vLLM repository at commit
  ``0054e1fa0f8a``, a snapshot of the V0 engine; the index it was read from attaches no
  release tag to it) and the V0 block managers (``BlockSpaceManager.__init__``:
  ``watermark: float = 0.01``, ``watermark_blocks = int(watermark * num_gpu_blocks)``;
  ``can_allocate``: ``OK`` iff ``free - required >= watermark_blocks``): admission;
* ``vllm/v1/core/sched/scheduler.py`` (the V1 scheduler, ``Scheduler.schedule``, at
  commit ``00024d314514``): preemption of ``self.running.pop()`` when
  ``allocate_slots`` fails, recompute, no new admissions in a step that preempted
  (``if not preempted_reqs``), the waiting loop stopped at ``max_num_seqs`` running,
  and a resumed request's prefill of ``num_tokens`` (prompt plus generated tokens).

The rule, as modelled here (one simulator step = one engine iteration in which every
running request decodes one token; ``b = instance.block_size``, vLLM's default is 16,
set it in the instance; ``B = M // b`` blocks in all):

1. **Preemption** (``_schedule_running``; ``self.running.pop()`` in V1): when the running
   requests need more than ``B`` blocks in the next step (a request needs a new block
   when its token count crosses a multiple of ``b``), the most recently admitted
   running request is preempted, repeatedly, until the rest fit. It loses its cache
   (``PreemptionMode.RECOMPUTE``; ``num_computed_tokens = 0`` in V1) and goes back to the
   *front* of the waiting queue (``waiting.extendleft(preempted)``; ``prepend_request``),
   keeping the tokens it generated. This is exactly the simulator's memory guard
   (:mod:`lpsched.simulate`: most recent start first, on the exact block memory;
   ``b * blocks > M`` iff ``blocks > M // b``), so the policy leaves it to the guard and
   puts the victims at the front of its queue (:meth:`VLLMPolicy.on_evict`).
2. **Admission** (``_schedule_prefills``): the waiting queue in arrival order (preempted
   requests at its front); the head is admitted while ``free_blocks - need >=
   watermark_blocks`` (``can_allocate``; ``watermark_blocks = int(watermark * B)``,
   ``watermark`` 0.01 by default), ``need = ceil((s + D + 1) / b)`` the blocks of its
   first step (``D`` tokens generated before a preemption: a resumed request's prompt is
   its prompt plus them), the running count stays ``<= max_num_seqs`` (256) and the
   prefill tokens ``s + D`` of this step's admissions stay ``<= max_num_batched_tokens``
   (``SchedulingBudget.can_schedule``); the first that does not fit stops the admission
   (``break``: no overtaking). In a step where a request was preempted nothing is
   admitted (V1: ``if not preempted_reqs``).

Deviations, all forced by the model: V0 runs a step with prefills *without* the decodes
(prefill-first); here prefill and decodes share the step, as in V1 and with chunked
prefill. ``max_num_batched_tokens`` defaults to ``max(2048, max_i (s_i + o_i))``, V0's
``max(max_model_len, 2048)`` with ``max_model_len`` the longest request. vLLM refuses
(``FINISHED_IGNORED``) a prompt that exceeds the token budget or can never be allocated
beside the watermark; every request must run here, so such a request is admitted
alone, as the head of the queue, when nothing else is admitted in its step (budget) or
nothing runs (watermark). The rule uses no predicted lengths; ``predictions`` change
nothing.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from lpsched.heuristics.baselines import run_policy
from lpsched.instance import Instance
from lpsched.schedule import Result
from lpsched.simulate import BasePolicy, SimState
from lpsched.stop import Deadline

__all__ = ["VLLMPolicy", "solve_vllm"]

_FAR = 1 << 62


class VLLMPolicy(BasePolicy):
    """vLLM's default rule (module docstring): FCFS admission by free blocks above a
    watermark and the per-step limits, recompute preemption of the latest admitted.

    Parameters
    ----------
    watermark
        Fraction of the blocks kept free at admission (vLLM ``CacheConfig`` 0.01).
    max_num_seqs
        Most requests running at once (vLLM ``SchedulerConfig`` 256).
    max_num_batched_tokens
        Most prefill tokens admitted per step; None: ``max(2048, max_i (s_i + o_i))``.
    """

    name = "vllm"
    block_aware = True

    def __init__(self, watermark: float = 0.01, max_num_seqs: int = 256,
                 max_num_batched_tokens: int | None = None):
        self.watermark = float(watermark)
        self.max_num_seqs = int(max_num_seqs)
        self.max_num_batched_tokens = max_num_batched_tokens

    def reset(self, state: SimState) -> None:
        b = state.block_size
        self._b = b
        self._blocks = state.memory // b
        self._watermark_blocks = int(self.watermark * self._blocks)
        peak = int((state.prefill + state.instance.decode).max())
        self._budget = (max(2048, peak) if self.max_num_batched_tokens is None
                        else int(self.max_num_batched_tokens))
        self._queue: deque[int] = deque()
        self._preempted_at = -1
        self._budget_stop = False

    def on_arrival(self, state: SimState, positions: list[int]) -> None:
        self._queue.extend(positions)  # the simulator reveals them in arrival order

    def on_evict(self, state: SimState, positions: list[int]) -> None:
        for pos in positions:  # latest victim first: the earliest admitted ends in front
            self._queue.appendleft(pos)
        self._preempted_at = state.t

    def decide(self, state: SimState) -> list[int]:
        self._budget_stop = False
        if state.t == self._preempted_at:
            return []
        b, queue = self._b, self._queue
        free = self._blocks - state.memory_next // b
        seqs = len(state.running)
        tokens = 0
        chosen: list[int] = []
        while queue and seqs < self.max_num_seqs:
            pos = queue[0]
            prompt = int(state.prefill[pos]) + state.done.get(pos, 0)
            need = -(-(prompt + 1) // b)
            alone_ok = not chosen and not state.running
            if free - need < self._watermark_blocks and not (alone_ok and need <= free):
                break
            if tokens + prompt > self._budget and chosen:
                self._budget_stop = True  # next step has a fresh budget
                break
            queue.popleft()
            chosen.append(pos)
            free -= need
            seqs += 1
            tokens += prompt
        return chosen

    def next_decision(self, state: SimState) -> int:
        """Without a completion, an arrival or a preemption the free blocks only shrink
        and the running count stays, so a head stopped by them still does not fit: call
        again at the next such event (the simulator visits them); next step after a
        preemption or when the token budget of this step stopped the admission."""
        if state.t == self._preempted_at or self._budget_stop:
            return state.t + 1
        return _FAR


def solve_vllm(instance: Instance, *, deadline: Deadline | None = None, seed: int | None = None,
               watermark: float = 0.01, max_num_seqs: int = 256,
               max_num_batched_tokens: int | None = None, predictions: Any = None,
               prediction_noise: float | None = None, skip_idle: bool = True) -> Result:
    """Registry entry: simulate :class:`VLLMPolicy` on ``instance`` (block size from the
    instance); status ``feasible`` (``time_limit`` when drained), no lower bound."""
    policy = VLLMPolicy(watermark, max_num_seqs, max_num_batched_tokens)
    return run_policy(instance, policy, deadline=deadline, seed=seed, predictions=predictions,
                      prediction_noise=prediction_noise, skip_idle=skip_idle)
