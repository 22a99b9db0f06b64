"""A naive, independent model of vLLM 0.33.0's V1 scheduler (FCFS), for tests without vLLM.

Written from the rules read in vLLM 0.33.0 (``vllm/v1/core/sched/scheduler.py``
``Scheduler.schedule`` and ``update_from_output``, ``vllm/v1/core/kv_cache_manager.py``
``allocate_slots``, ``vllm/v1/core/sched/async_scheduler.py``, ``vllm/v1/engine/core.py``
``step_with_batch_queue``); no vLLM code. It reproduces every recording of
``benchmarks/results/peer_vllm`` decision for decision (``tests/test_peer_vllm.py``), so it can
stand in for vLLM when lpsched's engine is checked on many random instances.

Scope: FCFS, no prefix caching, no speculative decoding, no KV connector, one sampled token
per step, ``max_model_len`` never binding. Per step ``t = 1, 2, ...`` (``b`` = block size,
``F`` = free blocks, a request with prompt ``P``, ``g`` outputs, ``c`` computed tokens):

1. arrivals with arrival step ``t - 1`` join the back of the waiting queue;
2. running requests in admission order, while the token budget is positive: ``n = P + g
   (+ placeholders) - c`` new tokens (1 for a decode), cut to the budget; it needs
   ``ceil((c + n) / b) - held`` new blocks; while they exceed ``F`` the *last* running request
   is preempted (all blocks freed, ``c = 0``, to the front of the waiting queue), until it fits
   or the request preempted itself;
3. only if nobody was preempted: waiting requests from the front while the budget is positive
   and fewer than ``max_num_seqs`` run: ``n = min(P + g, budget)``; admitted iff
   ``ceil((P + g) / b) + W <= F`` (whole prompt, ``scheduler_reserve_full_isl``) and
   ``ceil(n / b) + W <= F``, ``W`` the watermark blocks when some request runs, else stop;
4. every scheduled request with ``c >= P + g`` samples a token; at ``g = o`` it finishes and
   frees its blocks. Synchronous: outputs of step ``t`` are applied before step ``t + 1``.
   Asynchronous: after the schedule of step ``t + 1``, with output placeholders; a request
   whose last token is in flight is skipped in the running loop (so its blocks are free one
   step later), and a preempted request's in-flight output is still delivered.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class V1Limits:
    """The scheduler's settings (names as in vLLM's ``SchedulerConfig``); ``blocks`` excludes
    vLLM's null block; ``watermark_blocks = int(watermark * (blocks + 1))`` in vLLM."""

    block_size: int
    blocks: int
    max_num_seqs: int
    max_num_batched_tokens: int
    watermark_blocks: int = 0
    long_prefill_token_threshold: int = 0
    reserve_full_isl: bool = True
    asynchronous: bool = False


@dataclass
class V1Decisions:
    """Per request index: first scheduled step, preemption steps, completion step; per step
    the number of scheduled tokens (steps numbered from 1)."""

    first: dict[int, int] = field(default_factory=dict)
    preempted: dict[int, list[int]] = field(default_factory=dict)
    finished: dict[int, int] = field(default_factory=dict)
    step_tokens: list[int] = field(default_factory=list)


class V1Oracle:
    """One run of the model of the module docstring on prompts ``P``, outputs ``O`` and arrival
    steps ``A`` (lists of equal length; ``P + O <= blocks * block_size`` for each request)."""

    def __init__(self, prompts: Sequence[int], outputs: Sequence[int], arrivals: Sequence[int],
                 limits: V1Limits):
        n = len(prompts)
        self.P, self.O, self.lim = list(prompts), list(outputs), limits
        self.c, self.g, self.ph = [0] * n, [0] * n, [0] * n
        self.inflight, self.stale, self.held = [0] * n, [0] * n, [0] * n
        self.done = [False] * n
        self.free = limits.blocks
        self.waiting: deque[int] = deque()
        self.running: list[int] = []
        self.out = V1Decisions(preempted={k: [] for k in range(n)})
        self.arrive: dict[int, list[int]] = {}
        for k in sorted(range(n), key=lambda k: (arrivals[k], k)):
            self.arrive.setdefault(arrivals[k] + 1, []).append(k)

    def run(self, max_steps: int = 10**7) -> V1Decisions:
        pending: deque[tuple[int, dict[int, int], set[int]]] = deque()
        t = 0
        while len(self.out.finished) < len(self.P):
            t += 1
            if t > max_steps:
                raise RuntimeError(f"not finished after {max_steps} steps")
            self.waiting.extend(self.arrive.get(t, ()))
            sched = self._schedule(t)
            pending.appendleft((t, sched, self._after_schedule(sched)))
            self.out.step_tokens.append(sum(sched.values()))
            if len(pending) == (2 if self.lim.asynchronous else 1):
                self._update(*pending.pop())
        return self.out

    def _threshold(self) -> int:
        many = len(self.running) + len(self.waiting) > 1
        return self.lim.long_prefill_token_threshold if many else 0

    def _schedule(self, t: int) -> dict[int, int]:
        sched: dict[int, int] = {}
        thr = self._threshold()
        budget = self.lim.max_num_batched_tokens
        budget, preempted = self._schedule_running(t, sched, budget, thr)
        if not preempted:
            self._schedule_waiting(t, sched, budget, thr)
        return sched

    def _schedule_running(self, t: int, sched: dict[int, int], budget: int,
                          thr: int) -> tuple[int, bool]:
        P, c, b, preempted, i = self.P, self.c, self.lim.block_size, False, 0
        while i < len(self.running) and budget > 0:
            r = self.running[i]
            if self.ph[r] > 0 and c[r] + 2 - self.ph[r] >= P[r] + self.O[r]:
                i += 1  # its last token is in flight (async)
                continue
            new = P[r] + self.g[r] + self.ph[r] - c[r]
            new = min(thr if 0 < thr < new else new, budget)
            need = _cdiv(c[r] + new, b) - self.held[r]
            while need > self.free:
                victim = self.running.pop()
                self._preempt(victim, t)
                preempted = True
                if victim == r:
                    return budget, True
            self.held[r] += need
            self.free -= need
            sched[r] = new
            budget -= new
            i += 1
        return budget, preempted

    def _preempt(self, r: int, t: int) -> None:
        self.free += self.held[r]
        self.held[r] = self.c[r] = self.ph[r] = 0
        self.stale[r] = self.inflight[r]
        self.waiting.appendleft(r)
        self.out.preempted[r].append(t)

    def _schedule_waiting(self, t: int, sched: dict[int, int], budget: int, thr: int) -> None:
        skipped = []
        while budget > 0 and self.waiting and len(self.running) < self.lim.max_num_seqs:
            r = self.waiting[0]
            if self.stale[r] > 0:  # its output of before the preemption is in flight
                skipped.append(self.waiting.popleft())
                continue
            new = self._admit(r, t, sched, budget, thr)
            if new is None:
                break
            budget -= new
        self.waiting.extendleft(reversed(skipped))

    def _admit(self, r: int, t: int, sched: dict[int, int], budget: int, thr: int) -> int | None:
        """Admit waiting ``r`` if it fits (the tokens scheduled), else None (nothing changes)."""
        b = self.lim.block_size
        tokens = self.P[r] + self.g[r]
        new = min(thr if 0 < thr < tokens else tokens, budget)
        wm = self.lim.watermark_blocks if self.running else 0
        if self.lim.reserve_full_isl and _cdiv(tokens, b) + wm > self.free:
            return None
        if _cdiv(new, b) + wm > self.free:
            return None
        self.waiting.remove(r)
        self.running.append(r)
        self.out.first.setdefault(r, t)
        self.held[r] = _cdiv(new, b)
        self.free -= self.held[r]
        sched[r] = new
        return new

    def _after_schedule(self, sched: dict[int, int]) -> set[int]:
        sampled = set()
        for r, new in sched.items():
            self.c[r] += new
            self.inflight[r] += new
            if self.c[r] >= self.P[r] + self.g[r] + self.ph[r]:
                sampled.add(r)
                self.ph[r] += self.lim.asynchronous
        return sampled

    def _update(self, t: int, sched: dict[int, int], sampled: set[int]) -> None:
        for r, new in sched.items():
            self.inflight[r] -= new
            stale = self.stale[r] > 0
            self.stale[r] -= new if stale else 0
            if self.done[r] or r not in sampled:
                continue
            self.g[r] += 1
            if not stale and self.ph[r] > 0:
                self.ph[r] -= 1
            if self.g[r] == self.O[r]:
                self._finish(r, t)

    def _finish(self, r: int, t: int) -> None:
        self.done[r] = True
        self.out.finished[r] = t
        self.free += self.held[r]
        self.held[r] = 0
        if r in self.running:
            self.running.remove(r)
        else:
            self.waiting.remove(r)
