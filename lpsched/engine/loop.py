"""The engine loop: one loop for the papers' step model and for serving in seconds.

Time model
----------
A request admitted with its whole prefill at decision time ``p`` (the boundary before step
``p+1``) runs in steps ``p+1 .. p+o`` and holds ``s + (t - p)`` KV tokens in step ``t``
(``s`` the memory prefill: the prompt under the papers' accounting, the prompt minus one
under vLLM V1's, :mod:`lpsched.engine.limits`). With chunked prefill a prompt may take
several steps: a request admitted at ``q`` computes chunks in steps ``q+1, ...`` (holding
the tokens computed so far) and *starts* in the papers' sense at the decision time ``p``
before the step that computes its last chunk and emits its first token.

Decision times
--------------
At a decision time ``t`` the engine, in this order,

1. retires the requests that completed (``p + o <= t``) and tells the policy (``on_finish``);
2. reveals the requests that arrived (step model: ``a <= t``; in seconds: arrival time at
   or before the end of step ``t``) and tells the policy (``on_arrival``);
3. continues the prefill in progress (its next chunk: the budget left after one token per
   running decode);
4. lets a cancelling policy kill running requests (``cancel``: their progress and memory
   are discarded, they wait again and restart from scratch; each killed run is recorded
   as an attempt in :attr:`Schedule.restarts <lpsched.schedule.Schedule.restarts>`),
   lets a preempting policy give up running requests (``preempt``), then runs the *memory
   guard*: while the true memory of step ``t+1`` exceeds ``M`` (then the policy's
   ``clear_to`` target, if any, keeping one request) it preempts the most recently admitted
   request (the prefill in progress first). A preempted request keeps its decode progress
   ``D`` and is recomputed when resumed (``s + D`` prompt tokens; vLLM's recompute);
   in ``state.running`` a resumed request has the *virtual start* ``t - D``;
5. if some request waits and the limits leave room, asks the policy (``decide``) and admits
   its choices in order while the limits allow (:mod:`lpsched.engine.limits`), stopping at
   the first that does not fit (handed back with ``on_refuse``);
6. moves to the next decision time: the earliest of the next completion, the next step at
   which the running set could outgrow ``M``, the policy's ``next_decision`` (when some
   request waits), the next step when a prefill is in progress or the token budget stopped
   an admission, and the next arrival; the clock (:mod:`lpsched.engine.clock`) costs the
   steps in between. With nothing to run it jumps to the next arrival.

Skipping is exact under the protocol: a policy may only return a later ``next_decision``
when it can prove it would admit (and cancel) nothing before it as long as no arrival,
completion or preemption happens; a policy that cancels is asked while requests run even
when none waits (``skip_idle=False`` calls it at every step; the tests compare).
In the step model completions are reported at the next decision time when nothing waits
(the policy could not act on them); a timed run stops at every completion (the batch
changes). The oldest running request is never preempted by the guard (alone it holds at
most ``s + o <= M``), so every request completes.

Deadline (drain)
----------------
With a ``deadline`` that expires at a decision time ``t`` the policy is not called again:
the running requests go on (the guard's rule applied to their true memory), and the rest
(preempted ones resume with their progress) start after them in arrival order, in packed
batches of arrived requests whose peaks (in blocks) fit in ``M`` together when the policy
saw the true lengths, else one at a time (:func:`lpsched.engine.drain.drain`).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable

import numpy as np

from lpsched.engine.clock import StepTimeClock, UnitClock
from lpsched.engine.limits import PAPERS, EngineLimits
from lpsched.engine.policy import Policy, SimState, SimulationError
from lpsched.engine.records import SimulationResult, validate_predictions
from lpsched.instance import Instance
from lpsched.schedule import Schedule
from lpsched.stop import Deadline

__all__ = ["Engine"]

_SEQUENCES = (list, tuple, range, np.ndarray)
_BIG = 1 << 60


class Engine:
    """One run of the engine (module docstring).

    Parameters
    ----------
    instance
        The memory model: ``instance.prefill`` is what a request holds (the memory prefill),
        ``instance.block_size`` the block size the engine counts in. In a timed run its
        ``arrival`` column only orders the requests (``arrival_s`` gives the times).
    policy
        A :class:`~lpsched.engine.policy.Policy`, already bound to the run's deadline.
    limits
        The engine's limits; ``limits.block_size`` is ignored here (the instance's counts).
    compute_prefill
        Prompt tokens each request computes (default ``instance.prefill``).
    clock
        :class:`UnitClock` (default) or :class:`StepTimeClock`.
    arrival_s
        Arrival times for a :class:`StepTimeClock` (non-decreasing in position order is
        not required; ties keep position order).
    kv_pad
        Tokens each running request holds in ``instance`` beyond what it computed (the
        ``b - 1`` of the padded instance, :mod:`lpsched.paging`): a timed run's decode
        steps read ``kv_pad`` fewer KV tokens per request than the memory count.
    """

    def __init__(self, instance: Instance, policy: Policy, *,
                 predictions: Iterable[int] | np.ndarray | None = None,
                 limits: EngineLimits = PAPERS, skip_idle: bool = True,
                 deadline: Deadline | None = None, compute_prefill: np.ndarray | None = None,
                 clock: UnitClock | StepTimeClock | None = None,
                 arrival_s: np.ndarray | None = None, kv_pad: int = 0):
        self.t0 = time.perf_counter()
        self.instance = instance
        self.policy = policy
        self.limits = limits
        self.skip_idle = skip_idle
        self.deadline = deadline
        self.clock: UnitClock | StepTimeClock = clock if clock is not None else UnitClock()
        self.tclock = self.clock if isinstance(self.clock, StepTimeClock) else None
        self.timed = self.tclock is not None
        n = self.n = instance.n
        self.M = instance.memory
        self.b = instance.block_size
        pred = instance.decode if predictions is None else validate_predictions(instance,
                                                                                  predictions)
        self.exact_lengths = bool(np.array_equal(pred, instance.decode))  # for the drain
        self.arr_steps: np.ndarray | None = None
        self.arrival_s: np.ndarray | None = None
        if self.timed:
            if arrival_s is None or len(arrival_s) != n:
                raise ValueError("a timed run needs one arrival time per request")
            key = np.asarray(arrival_s, dtype=np.float64)
            arr_order = np.lexsort((np.arange(n), key))
            self.arr_steps = np.full(n, _BIG, dtype=np.int64)
            self.arr_steps[arr_order] = _BIG + np.arange(n)
            self.arr_times = key[arr_order].tolist()
            self.arrival_s = key
        else:
            arr_order = np.lexsort((np.arange(n), instance.arrival))
            self.arr_times = instance.arrival[arr_order].tolist()
        self.state = SimState(instance, pred, limits, self.arr_steps)
        if self.tclock is not None:
            self.state._clock = self.tclock
            self.tclock.bind(self.M, limits.max_num_seqs or n)
        policy.reset(self.state)
        self.s = instance.prefill.tolist()
        comp = instance.prefill if compute_prefill is None else compute_prefill
        self.state.compute = np.asarray(comp, dtype=np.int64)
        self.s_comp = self.state.compute.tolist()
        self.delta = [m + 1 - c for m, c in zip(self.s, self.s_comp)]  # partial: holds C + delta
        self.o = instance.decode.tolist()
        self.arr_pos = arr_order.tolist()
        self.ptr = 0  # arrivals revealed: arr_pos[:ptr]
        self.starts = [-1] * n
        self.first_admit = [-1] * n
        self.prog = [0] * n
        self.seg_start = [-1] * n
        self.segments: dict[int, list[tuple[int, int]]] = {}
        self.run_id = [0] * n  # incremented on every start: tells stale heap entries apart
        self.completions: list[tuple[int, int, int]] = []  # (true completion, pos, run id)
        self.lifo: list[tuple[int, int]] = []  # (pos, run id) in start order
        self.evicted_runs: list[tuple[int, int, int]] = []
        self.preempt_events: list[tuple[int, int]] = []
        self.restarts: dict[int, list[tuple[int, int]]] = {}  # killed attempts (q, e)
        self.cancel_events: list[tuple[int, int]] = []
        self.recomputed = self.resumes = self.deferred = self.refused = 0
        self.calls = self.visits = 0
        self.drained = 0
        self.drain_step: int | None = None
        self.clear_to = getattr(policy, "clear_to", None)
        self.policy_preempt = getattr(policy, "preempt", None)
        self.policy_cancel = getattr(policy, "cancel", None)
        self.budget = limits.max_num_batched_tokens
        self.chunked = limits.chunked_prefill
        self.max_seqs = limits.max_num_seqs
        self.wm_tokens = limits.watermark_blocks(self.M) * limits.block_size
        # the prefill in progress (chunked prefill): position, tokens computed, next chunk
        self.partial = -1
        self.p_done = 0
        self.p_chunk = 0
        self.force_next = False
        self.async_ = limits.async_scheduling
        self.zombies: dict[int, tuple[int, int]] = {}  # async: finished, blocks not released
        self.preempted_now = False
        # work of the step after the current decision time (timed runs)
        self.fill: list[float] = [0, 0.0, 0, 0]  # rows, prefill_sq, emitting fills, starts
        self.fill_kv = 0
        # tokens a running request holds in ``instance`` but does not compute: the
        # padding of a policy that plans on the padded instance (b - 1); not read by
        # decode attention, so not costed
        self.kv_pad = int(kv_pad)

    # -- memory --------------------------------------------------------------------------------
    def _blocks(self, tokens: int) -> int:
        b = self.b
        return -(-tokens // b) * b

    # -- starting and preempting ---------------------------------------------------------------
    def start(self, pos: int, t: int) -> None:
        """Start (or resume, with its progress kept) ``pos`` at ``t``: from step ``t+1`` it
        decodes (its whole prefill, or the last chunk, is computed in step ``t+1``)."""
        done = self.prog[pos]
        if self.starts[pos] < 0:
            self.starts[pos] = t
        if done:
            self.state.done.pop(pos, None)
            self.recomputed += self.s_comp[pos] + done  # its cache is rebuilt
            self.resumes += 1
        self.seg_start[pos] = t
        self.run_id[pos] += 1
        self.state._add(pos, t - done)  # virtual start: holds s + done + (u - t) in step u
        heapq.heappush(self.completions, (t - done + self.o[pos], pos, self.run_id[pos]))
        self.lifo.append((pos, self.run_id[pos]))

    def preempt(self, pos: int, t: int) -> None:
        """Stop running ``pos`` at ``t`` (its segment ends); it keeps its progress."""
        self.state._remove(pos)
        p = self.seg_start[pos]
        d = t - p
        self.run_id[pos] += 1  # its completion entry becomes stale
        if d == 0:  # started at t and put back: no segment, no recompute
            if self.prog[pos]:
                self.recomputed -= self.s_comp[pos] + self.prog[pos]
                self.resumes -= 1
                self.state.done[pos] = self.prog[pos]
            else:
                self.starts[pos] = -1
            return
        self.segments.setdefault(pos, []).append((p, d))
        self.evicted_runs.append((pos, p, d))
        self.prog[pos] += d
        self.state.done[pos] = self.prog[pos]

    def cancel(self, pos: int, t: int) -> None:
        """Kill the run of ``pos`` at ``t``: its progress and memory are discarded and it
        waits again; the next start is a fresh run (prefill ``s``, decode from zero). A run
        of ``e >= 1`` steps is recorded as the attempt ``(q, e)``, ``q`` its start."""
        if self.prog[pos]:
            raise SimulationError(f"policy {self.policy.name!r} cancelled request position "
                                  f"{pos} at step {t}, but it resumed with kept progress "
                                  "(a preempted run cannot be discarded)")
        self.state._remove(pos)
        self.run_id[pos] += 1  # its completion entry becomes stale
        q = self.seg_start[pos]
        if t > q:
            self.restarts.setdefault(pos, []).append((q, t - q))
        self.starts[pos] = -1  # the start of the final run is set when it restarts
        self.cancel_events.append((pos, t))

    def _drop_partial(self, t: int) -> int:
        """Preempt the prefill in progress (its chunks are lost; progress kept)."""
        pos = self.partial
        c = self.p_chunk  # this step's chunk does not run
        u = self.p_done - c
        self.fill[0] -= max(c, 1)
        self.fill[1] -= (u + c) * (u + c + 1.0) - u * (u + 1.0)
        self.partial = -1
        self.state.prefilling.clear()
        self.state._extra = 0
        if self.prog[pos]:
            self.state.done[pos] = self.prog[pos]
        self.preempt_events.append((pos, t))
        return pos

    def _live(self, pos: int, rid: int) -> bool:
        return self.run_id[pos] == rid and pos in self.state.running

    # -- the phases --------------------------------------------------------------------------
    def retire(self, t: int) -> None:
        """1. Retire the requests that truly completed by ``t``; tell the policy. With
        asynchronous scheduling one completing at ``t`` keeps its blocks for step ``t+1``
        (it is released at the next decision time)."""
        completions = self.completions
        state = self.state
        finished = list(self.zombies)
        if finished:
            self.zombies.clear()
            state._zmem = 0
        while completions and completions[0][0] <= t:
            c, pos, rid = heapq.heappop(completions)
            if not self._live(pos, rid):
                continue  # stale: that run was preempted
            start = state._remove(pos)
            if self.async_ and c == t:
                mem = self._blocks(self.s[pos] + c - start)  # its size in its last step
                self.zombies[pos] = (rid, mem)
                state._zmem += mem
            else:
                finished.append(pos)
        if finished:
            self.policy.on_finish(state, finished)

    def reveal(self, t: int) -> None:
        """2. Reveal the requests that arrived by now; tell the policy."""
        ptr, n, times, now = self.ptr, self.n, self.arr_times, self.clock.now
        if ptr < n and times[ptr] <= now:
            k = ptr
            while k < n and times[k] <= now:
                k += 1
            new = self.arr_pos[ptr:k]
            self.ptr = k
            if self.arr_steps is not None:
                self.arr_steps[new] = t
            self.state.waiting.update(new)
            self.policy.on_arrival(self.state, new)

    def continue_prefill(self, t: int) -> None:
        """3. The next chunk of the prefill in progress: the budget left after one token
        per running decode (vLLM V1: running requests first, the partial one is last)."""
        pos = self.partial
        if pos < 0:
            return
        full = self.s_comp[pos] + self.prog[pos]
        u = self.p_done  # computed in the earlier steps
        assert self.budget is not None  # a partial prefill needs a budget
        c = min(full - u, self.budget - self.state._n_run)
        self.p_chunk = c
        if u + c >= full:  # the last chunk: it starts in the papers' sense
            self.partial = -1
            self.state.prefilling.clear()
            self.state._extra = 0
            self._fill(pos, c, u, last=True)
            self.start(pos, t)
        else:
            self._fill(pos, c, u, last=False)
            self.p_done = u + c
            self.state.prefilling[pos] = u + c
            self.state._extra = self._blocks(u + c + self.delta[pos])

    def guard(self, t: int) -> None:
        """4. The policy's own cancellations and preemptions, then while the true memory
        of step ``t+1`` exceeds ``M`` (then the policy's ``clear_to`` target, keeping one
        request), preempt the most recent admission (the prefill in progress first)."""
        state = self.state
        victims: list[int] = []
        if self.policy_cancel is not None and state.running:
            for pos in self.policy_cancel(state):
                pos = int(pos)
                if pos not in state.running:
                    raise SimulationError(f"policy {self.policy.name!r} cancelled request "
                                          f"position {pos} at step {t}, but it is not running")
                self._unfill(pos, t)
                self.cancel(pos, t)
                victims.append(pos)
        if self.policy_preempt is not None and (state.running or self.partial >= 0):
            for pos in self.policy_preempt(state):
                pos = int(pos)
                if pos == self.partial:
                    victims.append(self._drop_partial(t))
                elif pos in state.running:
                    self._unfill(pos, t)
                    self.preempt(pos, t)
                    self.preempt_events.append((pos, t))
                    victims.append(pos)
                else:
                    raise SimulationError(f"policy {self.policy.name!r} preempted request "
                                          f"position {pos} at step {t}, but it is not running")
        if state.memory_in(t + 1) > self.M:
            target = self.M if self.clear_to is None else min(self.M, int(self.clear_to(state)))
            if self.partial >= 0:
                victims.append(self._drop_partial(t))
            while state.memory_in(t + 1) > self.M or (
                    state._n_run > 1 and state.memory_in(t + 1) > target):
                pos, rid = self.lifo.pop()
                if pos in self.zombies and self.zombies[pos][0] == rid:
                    self._drop_zombie(pos, t)
                    continue
                if not self._live(pos, rid):
                    continue
                self._unfill(pos, t)
                self.preempt(pos, t)
                self.preempt_events.append((pos, t))
                victims.append(pos)
        if victims:
            state.waiting.update(victims)
            self.policy.on_evict(state, victims)
            self.preempted_now = True

    def _drop_zombie(self, pos: int, t: int) -> None:
        """Async: the preemption victim is a request whose last token is in flight; it
        releases its blocks and still finishes (vLLM delivers the in-flight token)."""
        _rid, mem = self.zombies.pop(pos)
        self.state._zmem -= mem
        self.preempt_events.append((pos, t))
        self.preempted_now = self.force_next = True  # its blocks are free next step
        self.policy.on_finish(self.state, [pos])

    def _fill(self, pos: int, c: int, u: int, last: bool) -> None:
        """Record a prefill chunk of ``c`` tokens after ``u`` computed, in step ``t+1``."""
        fill = self.fill
        fill[0] += max(c, 1)
        fill[1] += (u + c) * (u + c + 1.0) - u * (u + 1.0)
        if last:
            fill[2] += 1
            fill[3] += 1
            self.fill_kv += self.s[pos] + self.prog[pos] + 1

    def _unfill(self, pos: int, t: int) -> None:
        """A request started at ``t`` is put back: its fill does not run in step ``t+1``."""
        if self.seg_start[pos] == t and pos in self.state.running:
            full = self.s_comp[pos] + self.prog[pos]
            c = self.p_chunk if self.first_admit[pos] < t and self.p_chunk else full
            u = full - c
            self.fill[0] -= max(c, 1)
            self.fill[1] -= (u + c) * (u + c + 1.0) - u * (u + 1.0)
            self.fill[2] -= 1
            self.fill[3] -= 1
            self.fill_kv -= self.s[pos] + self.prog[pos] + 1

    def decide(self, t: int) -> None:
        """5. If some request waits and the limits leave room, admit the policy's choices
        in order while they fit (module docstring)."""
        state = self.state
        if not state.waiting or self.partial >= 0 or (self.async_ and self.preempted_now):
            return
        seqs_left = _BIG if self.max_seqs is None else (
            self.max_seqs - state._n_run - len(self.zombies))
        if self.budget is None:
            tokens_left = _BIG
        else:
            tokens_left = self.budget - (
                state._n_run - int(self.fill[3]) + int(self.fill[0]) if self.chunked else 0)
        if seqs_left <= 0:
            return
        if tokens_left <= 0:
            self.force_next = True
            return
        self.calls += 1
        policy = self.policy
        state.tokens_left = None if self.budget is None else tokens_left
        chosen = policy.decide(state)
        admitted, resumed, refused = self._admit(chosen, t, seqs_left, tokens_left)
        if refused:
            self.refused += len(refused)
            self.deferred += sum(1 for p in refused if self.prog[p])
            policy.on_refuse(state, refused)
        if admitted and state.memory_in(t + 1) > self.M:  # pragma: no cover - the engine's
            raise SimulationError(  # own check of step t+1 (prefill chunks included)
                f"engine: memory of step {t + 1} is {state.memory_in(t + 1)} > M = {self.M}")
        if (not admitted and not state.running and self.partial < 0 and not self.zombies
                and self.ptr >= self.n):
            raise SimulationError(
                f"policy {policy.name!r} stalled at step {t}: {len(state.waiting)} requests "
                "wait, nothing runs and nothing will arrive")
        if resumed:
            policy.on_resume(state, resumed)

    def _admit(self, chosen: Iterable[int], t: int, seqs_left: int, tokens_left: int
               ) -> tuple[int, list[int], list[int]]:
        """Admit ``chosen`` in order while the limits allow; returns the number admitted,
        the resumed ones and the ones handed back (the first that did not fit and, of a
        list, the rest)."""
        state = self.state
        waiting = state.waiting
        room = self.M - state.memory_in(t + 1)
        nothing_runs = state._n_run == 0 and not self.zombies  # V1: bool(self.running)
        s_comp, prog, delta, b, chunked = self.s_comp, self.prog, self.delta, self.b, self.chunked
        admitted = 0
        resumed: list[int] = []
        k = -1
        for pos in chosen:
            k += 1
            pos = int(pos)
            if chunked and tokens_left <= 0:  # V1: admissions while budget > 0
                self.force_next = True
                return admitted, resumed, self._rest(chosen, k, pos)
            if pos not in waiting:
                raise SimulationError(
                    f"policy {self.policy.name!r} started request position {pos} at step "
                    f"{t}, but it {self._why_not_waiting(pos, t)}")
            full = c = s_comp[pos] + prog[pos]
            if seqs_left <= 0:
                return admitted, resumed, self._rest(chosen, k, pos)
            if full > tokens_left:
                if chunked:
                    c = tokens_left
                elif admitted:  # the next step has a fresh budget
                    self.force_next = True
                    return admitted, resumed, self._rest(chosen, k, pos)
            # vLLM V1 (scheduler_reserve_full_isl): the admission needs blocks for the
            # whole prompt, even when only a first chunk is scheduled (and held).
            need = -(-(full + delta[pos]) // b) * b
            if need > room - (0 if (nothing_runs and not admitted) else self.wm_tokens):
                return admitted, resumed, self._rest(chosen, k, pos)
            waiting.discard(pos)
            if self.first_admit[pos] < 0:
                self.first_admit[pos] = t
            admitted += 1
            seqs_left -= 1
            if c < full:  # the last admission of the step, cut to the budget left
                self._start_partial(pos, c)
                rest = [int(p) for p in list(chosen)[k + 1:]] \
                    if isinstance(chosen, _SEQUENCES) else []  # they wait for the next step
                return admitted, resumed, rest
            room -= need
            tokens_left -= c
            self._fill(pos, c, 0, last=True)
            self.start(pos, t)
            if prog[pos]:
                resumed.append(pos)
        return admitted, resumed, []

    def _start_partial(self, pos: int, c: int) -> None:
        """``pos`` becomes the prefill in progress with a first chunk of ``c`` tokens."""
        state = self.state
        self.partial, self.p_done, self.p_chunk = pos, c, c
        state.prefilling[pos] = c
        state._extra = self._blocks(c + self.delta[pos])
        state.done.pop(pos, None)
        self._fill(pos, c, 0, last=False)
        self.force_next = True

    @staticmethod
    def _rest(chosen, k: int, pos: int) -> list[int]:
        if type(chosen) is list or isinstance(chosen, _SEQUENCES):
            return [int(p) for p in list(chosen)[k:]]
        return [pos]

    def _why_not_waiting(self, pos: int, t: int) -> str:
        if pos in self.state.running or pos == self.partial:
            return "is running"
        if 0 <= pos < self.n and pos not in set(self.arr_pos[:self.ptr]):
            return "has not arrived"
        return "is not waiting"

    def _guard_step(self) -> int:
        """The last decision time before the running set's memory can exceed ``M``
        (exact for ``b = 1``; with blocks, from the bound ``+ N (b - 1)``: earlier)."""
        state = self.state
        room = self.M - state._wsum - state._n_run * (state.block_size - 1)
        return room // state._n_run

    def next_time(self, t: int) -> int | None:
        """6. The next decision time after ``t`` (module docstring), None when all is done."""
        state = self.state
        waiting, completions = state.waiting, self.completions
        more = self.ptr < self.n
        busy = state._n_run > 0 or self.partial >= 0
        if not busy and not waiting and not more:
            return None
        nxt: int | None = t + 1 if (self.partial >= 0 or self.force_next
                                    or (self.zombies and waiting)) else None
        if state._n_run:
            guard = self._guard_step()
            nxt = guard if nxt is None else min(nxt, guard)
        if waiting or (self.policy_cancel is not None and state._n_run):
            want = self.policy.next_decision(state) if self.skip_idle else t + 1
            want = max(int(want), t + 1)
            nxt = want if nxt is None else min(nxt, want)
        if completions and (waiting or not more or self.timed):
            nxt = completions[0][0] if nxt is None else min(nxt, completions[0][0])
        arrival = self.arr_times[self.ptr] if more else None
        if nxt is None:
            assert arrival is not None  # something waits for an arrival
            return self.clock.idle(t, arrival)
        nxt = max(nxt, t + 1)
        if not self.timed:
            return self.clock.advance(t, nxt, arrival)
        fill = self.fill
        n_run = state._n_run
        pad = self.kv_pad
        lin = state._wsum + (t + 1) * n_run
        first = (n_run - fill[3] + fill[0], lin - self.fill_kv - pad * (n_run - fill[3]),
                 fill[1], n_run - fill[3] + fill[2])
        return self.clock.advance(t, nxt, arrival, first, n_run, state._wsum - pad * n_run)

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> SimulationResult:
        from lpsched.engine.drain import drain

        deadline = self.deadline
        if not self.n:
            raise ValueError("the engine needs at least one request")
        t: int | None = self.clock.start(self.arr_times[0])
        state = self.state
        while t is not None:
            self.visits += 1
            state.t = t
            if deadline is not None and deadline.expired():
                drain(self, t)
                break
            if self.fill_kv or self.fill[0]:
                self.fill = [0, 0.0, 0, 0]
                self.fill_kv = 0
            self.force_next = self.preempted_now = False
            if self.zombies or (self.completions and self.completions[0][0] <= t):
                self.retire(t)
            if self.ptr < self.n and self.arr_times[self.ptr] <= self.clock.now:
                self.reveal(t)
            if self.partial >= 0:
                self.continue_prefill(t)
            self.guard(t)
            if state.waiting:
                self.decide(t)
            t = self.next_time(t)
        return self.result()

    def result(self) -> SimulationResult:
        """Retire the last completions (tell the policy) and build the result."""
        finished = list(self.zombies)
        self.zombies.clear()
        self.state._zmem = 0
        while self.completions:
            _c, pos, rid = heapq.heappop(self.completions)
            if self._live(pos, rid):
                self.state._remove(pos)
                finished.append(pos)
        if finished:
            self.policy.on_finish(self.state, finished)
        runs = {pos: segs + [(self.seg_start[pos], self.o[pos] - self.prog[pos])]
                for pos, segs in self.segments.items()}
        inst = self.instance
        arr_steps = inst.arrival
        if self.arr_steps is not None:
            arr_steps = self.arr_steps.copy()
            inst = Instance.from_arrays(inst.memory, inst.prefill, inst.decode, arr_steps,
                                        ids=inst.ids, name=inst.name, metadata=inst.metadata,
                                        block_size=inst.block_size)
        sched = Schedule(inst, np.asarray(self.starts, dtype=np.int64), runs,
                         {pos: tuple(tries) for pos, tries in self.restarts.items()})
        steps = int(sched.completions.max())
        clock = step_s = None
        if self.tclock is not None:
            from lpsched.engine.drain import timed_tail

            self.tclock.finish()
            timed_tail(self, sched, steps)
            clock = np.asarray(self.tclock.ends[:steps + 1])
            step_s = np.asarray(self.tclock.durs[:steps])
        ev = np.asarray(self.evicted_runs, dtype=np.int64).reshape(-1, 3)
        return SimulationResult(
            schedule=sched, evictions=len(self.preempt_events),
            recomputed_tokens=self.recomputed, resumes=self.resumes,
            policy_calls=self.calls, decision_times=self.visits,
            steps=steps, runtime=time.perf_counter() - self.t0,
            evicted_runs=ev, deferred_resumes=self.deferred, drained=self.drained,
            drain_step=self.drain_step, refused=self.refused,
            first_admit=np.asarray(self.first_admit, dtype=np.int64),
            arrival_steps=np.asarray(arr_steps, dtype=np.int64),
            preemption_events=np.asarray(self.preempt_events, dtype=np.int64).reshape(-1, 2),
            cancellations=len(self.cancel_events),
            cancelled_steps=sum(e for tries in self.restarts.values() for _q, e in tries),
            clock=clock, arrival_s=self.arrival_s, step_seconds=step_s, limits=self.limits)
