"""Drive one of lpsched's engine policies from another scheduler's state (no vLLM here).

lpsched's engine (:mod:`lpsched.engine`) asks a policy (:class:`~lpsched.engine.Policy`)
which waiting requests to admit, in which order, and tells it what happened. A serving
scheduler such as vLLM's does the same job with its own loop and limits; to deploy an
lpsched policy there, :class:`PolicyDriver` keeps the policy's view
(:class:`~lpsched.engine.SimState`) from what that scheduler knows, and calls the
policy's hooks exactly when and as the engine would:

* :meth:`PolicyDriver.arrive` when a request is added (prompt ``P`` tokens, predicted
  output length);
* :meth:`PolicyDriver.begin` before each scheduling step, with the running requests and
  their progress and the waiting ones in queue order: decision time ``t`` advances by
  one, finished requests are reported (``on_finish``), new ones revealed;
* :meth:`PolicyDriver.offer` when the scheduler is about to admit waiting requests (it
  is called at most once per step, and only in a step in which the engine would ask
  the policy: nothing preempted, token budget and sequence slots left, someone waits):
  the policy's ``decide``, as request ids;
* :meth:`PolicyDriver.end` after the step with what the scheduler admitted (fully or
  a first chunk) and preempted: ``on_evict``, ``on_refuse`` (offered, not admitted: of a
  list the whole rest, of an iterator the ones it pulled), ``on_resume``.

The policy sees the requests through a *live instance* (:mod:`lpsched.instance`) of the
requests not finished, positions in arrival order, prefill = the prompt (the memory
prefill ``P - 1`` under vLLM V1's KV accounting, and ``+ b - 1`` on the padded model for a
policy that is not block-aware: :class:`lpsched.engine.padded.PaddedView`), decode = the
prediction, arrival = arrival rank. It is rebuilt when requests arrive (or a waiting one
is withdrawn): a fresh policy gets the waiting requests (``on_arrival``, in queue order)
and the admitted ones with the start it had given them (``on_resume``). This is exact for
the policies whose state is a function of the waiting set, the running set with their
starts and the time, and re-formed at arrivals (every policy of
:data:`DEPLOYABLE`); :func:`lpsched.engine.run_engine` with the same limits decides the
same (``benchmarks/peer_vllm_plugin.py``, ``tests/integrations``).

A running request's *virtual start* (:class:`~lpsched.engine.SimState`) is ``t - D`` with
``D`` its output tokens so far (sampled or in flight).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lpsched.engine import EngineLimits, SimState
from lpsched.engine.padded import PaddedView
from lpsched.instance import Instance
from lpsched.registry import make_policy

__all__ = ["DEPLOYABLE", "PolicyDriver"]

#: lpsched policies that need only what a serving scheduler knows (prompt lengths,
#: progress, predicted output lengths) and whose state the live instance rebuilds exactly.
DEPLOYABLE = ("vllm", "fcfs", "sf", "mc-sf", "size-first", "sorted-f-online")

_SEQUENCES = (list, tuple, range, np.ndarray)


@dataclass
class _Req:
    seq: int
    prompt: int
    predicted: int


class PolicyDriver:
    """The policy ``name`` (options ``options``) on a KV cache of ``blocks`` blocks of
    ``block_size`` tokens under ``limits`` (module docstring).

    Parameters
    ----------
    name, options
        A policy of :data:`DEPLOYABLE` and its options (``lpsched algorithms NAME``).
    blocks, block_size
        Usable KV blocks (vLLM's ``num_blocks`` less its null block) and tokens per block.
    limits
        The engine limits the scheduler applies (for the policy's view and the memory
        prefill); default :meth:`EngineLimits.vllm_v1` (asynchronous) with ``block_size``.
    """

    def __init__(self, name: str, options: Mapping[str, Any] | None = None, *, blocks: int,
                 block_size: int, limits: EngineLimits | None = None):
        if name not in DEPLOYABLE:
            raise ValueError(f"lpsched: policy {name!r} cannot be deployed in a serving "
                             f"scheduler; choose one of {', '.join(DEPLOYABLE)}")
        self.name = name
        self.options = dict(options or {})
        make_policy(name, self.options)  # validate the options now
        self.block_size = int(block_size)
        self.memory = int(blocks) * self.block_size
        self.limits = limits or EngineLimits.vllm_v1(block_size=self.block_size)
        self.t = -1
        self._seq = 0
        self._reqs: dict[str, _Req] = {}
        self._new: list[str] = []  # arrived since the last begin()
        self._ids: list[str] = []  # position -> request id (live instance)
        self._pos: dict[str, int] = {}
        self._admitted: dict[str, int] = {}  # request id -> start the policy gave it
        self._waiting: set[str] = set()  # as the policy knows it
        self._offered: list[str] = []
        self._seq_offer = True
        self._policy: Any = None
        self._state: SimState | None = None
        self._running: dict[str, int] = {}
        self._finishing: set[str] = set()
        self.rebuilds = 0

    # -- events from the scheduler -----------------------------------------------------------
    def arrive(self, rid: str, prompt: int, predicted: int) -> None:
        """A request was added: ``prompt`` tokens, ``predicted`` output tokens (>= 1)."""
        if rid in self._reqs:
            raise ValueError(f"lpsched: request {rid!r} was added twice")
        if prompt < 1 or predicted < 1:
            raise ValueError(f"lpsched: request {rid!r}: need a prompt of at least one token "
                             f"and a predicted output length >= 1, got {prompt}, {predicted}")
        self._reqs[rid] = _Req(self._seq, int(prompt), int(predicted))
        self._seq += 1
        self._new.append(rid)

    def begin(self, running: Mapping[str, int | None], waiting: Sequence[str],
              finishing: Iterable[str] = ()) -> None:
        """Before a step: ``running`` maps each running request to its output tokens so far
        (None while its prompt is being prefilled in chunks); ``waiting`` lists the waiting
        requests in queue order; ``finishing`` are the running requests whose last token
        is in flight (asynchronous scheduling: they still hold their blocks in this step;
        the policy hears of their completion at the next step, as in lpsched's engine). A
        request that the policy had admitted and that is in none of them has finished; a
        waiting one that vanished was withdrawn."""
        self.t += 1
        t = self.t
        waiting_set = set(waiting)
        self._finishing = set(finishing)
        finished = [r for r in self._admitted if r not in running and r not in waiting_set
                    and r not in self._finishing]
        withdrawn = [r for r in self._waiting if r not in waiting_set and r not in running]
        for r in finished + withdrawn:
            self._admitted.pop(r, None)
            self._waiting.discard(r)
            self._reqs.pop(r, None)
        # requests the policy never saw (admitted past the waiting queue, e.g. vLLM's KV
        # connector queue) are the scheduler's own business: left out of the view
        self._running = {r: t - d for r, d in running.items()
                         if d is not None and r in self._admitted}
        arrived = [r for r in self._new if r in waiting_set]
        for r in self._new:
            if r not in waiting_set:  # withdrawn before it was seen, or not in our queue
                self._reqs.pop(r, None)
        self._new = []
        if arrived or withdrawn or (self._state is None and self._admitted):
            self._waiting.update(arrived)
            self._rebuild(waiting)
        elif self._state is not None:
            self._state.t = t
            self._sync_running()
            if finished:
                self._policy.on_finish(self._state, [self._pos[r] for r in finished])
        self._offered = []

    def offer(self) -> Iterator[str]:
        """The policy's ``decide``: the waiting requests to admit, in order (lazily)."""
        assert self._state is not None
        chosen = self._policy.decide(self._state)
        self._seq_offer = isinstance(chosen, _SEQUENCES)
        ids = self._ids
        if self._seq_offer:
            self._offered = [ids[int(p)] for p in chosen]
            return iter(list(self._offered))
        return self._pull(iter(chosen))

    def _pull(self, chosen: Iterator[int]) -> Iterator[str]:
        for p in chosen:
            rid = self._ids[int(p)]
            self._offered.append(rid)
            yield rid

    def end(self, admitted: Mapping[str, tuple[int, bool]], preempted: Iterable[str]) -> None:
        """After the step: ``admitted`` maps each request admitted from the waiting queue
        to (its output tokens, True if its whole prompt was scheduled, False for a first
        chunk); ``preempted`` lists the requests preempted in the step, latest at the
        front of the waiting queue last (a finishing request among them is reported
        finished)."""
        state, policy, pos, t = self._state, self._policy, self._pos, self.t
        if state is None:  # nothing live: nothing was offered, admitted or preempted
            return
        preempted = list(preempted)
        ended = [r for r in preempted if r in self._finishing and r in self._admitted]
        if ended:  # a victim whose last token was in flight: it finishes all the same
            for r in ended:
                del self._admitted[r]
            policy.on_finish(state, [pos[r] for r in ended])
        victims = [r for r in preempted if r in self._admitted]
        if victims:
            for r in victims:
                del self._admitted[r]
                self._waiting.add(r)
            self._sync_running()
            policy.on_evict(state, [pos[r] for r in victims])
        refused = [r for r in self._offered if r not in admitted]
        if refused:
            policy.on_refuse(state, [pos[r] for r in refused])
        resumed = []
        for r, (done, full) in admitted.items():
            if r not in pos:
                continue  # not the policy's (module docstring of begin)
            self._waiting.discard(r)
            self._admitted[r] = t - done if (full and done) else t
            if full:
                self._running[r] = t - done
                if done:
                    resumed.append(r)
        if resumed:
            self._sync_running()
            policy.on_resume(state, [pos[r] for r in resumed])
        self._offered = []

    # -- the policy's view ---------------------------------------------------------------------
    def _sync_running(self) -> None:
        """``state.running`` = the running requests' virtual starts."""
        state = self._state
        assert state is not None
        for p in list(state.running):
            state._remove(p)
        for r, start in self._running.items():
            state._add(self._pos[r], start)

    def _rebuild(self, waiting: Sequence[str]) -> None:
        """A fresh policy on the live instance (module docstring)."""
        self.rebuilds += 1
        live = sorted(set(self._admitted) | self._waiting, key=lambda r: self._reqs[r].seq)
        self._ids = live
        self._pos = {r: k for k, r in enumerate(live)}
        policy = make_policy(self.name, self.options)
        b = self.block_size
        pad = 0 if getattr(policy, "block_aware", False) or b == 1 else b - 1
        acc = 1 if self.limits.kv_accounting == "v1" else 0
        if not live:
            self._policy, self._state = policy, None
            return
        # the memory instance (prefill P - 1 under V1's accounting) with the predictions,
        # capped so that each request fits alone (padded too): the policy clips them so
        prefill = np.array([self._reqs[r].prompt for r in live], dtype=np.int64) - acc
        pred = np.array([self._reqs[r].predicted for r in live], dtype=np.int64)
        cap = self.memory - prefill - pad
        inst = Instance.from_arrays(self.memory, prefill, np.maximum(np.minimum(pred, cap), 1),
                                    np.arange(len(live)), ids=live, name="live",
                                    block_size=b)
        state = SimState(inst, pred, self.limits)
        state.t = self.t
        if pad:
            policy = PaddedView(policy)
        policy.reset(state)
        self._policy, self._state = policy, state
        queue = [self._pos[r] for r in waiting if r in self._waiting]
        if queue:
            policy.on_arrival(state, queue)
        admitted = [r for r in live if r in self._admitted]
        if admitted:  # the starts the policy had given them
            for r in admitted:
                state._add(self._pos[r], self._admitted[r])
            policy.on_resume(state, [self._pos[r] for r in admitted])
        self._sync_running()

    def waiting_known(self) -> bool:
        """True when the policy knows of a waiting request (else it is not asked)."""
        return bool(self._waiting)
