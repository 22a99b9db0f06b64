"""The naive V1 model (``tests/oracle_vllm_v1.py``) with the plugin's hook: its waiting loop
sees only the offer of a :class:`~lpsched.integrations.driver.PolicyDriver`, asked for when
the loop first looks at the queue, and the driver hears what happened, exactly as
``lpsched.integrations.vllm`` wires it into vLLM's ``AsyncScheduler``. Stands in for vLLM
with the plugin where vLLM is not installed."""

from __future__ import annotations

from collections.abc import Sequence

from lpsched.integrations.driver import PolicyDriver
from tests.oracle_vllm_v1 import V1Limits, V1Oracle


class DrivenOracle(V1Oracle):
    """:class:`V1Oracle` whose admissions are offered by ``driver`` (request ids ``str(k)``);
    ``predicted`` are the output lengths the driver is told at arrival."""

    def __init__(self, prompts: Sequence[int], outputs: Sequence[int], arrivals: Sequence[int],
                 limits: V1Limits, driver: PolicyDriver, predicted: Sequence[int]):
        super().__init__(prompts, outputs, arrivals, limits)
        self.driver = driver
        self.pred = list(predicted)
        self.chunking = [False] * len(prompts)
        self._victims: list[int] = []
        self._admitted: dict[str, tuple[int, bool]] = {}

    def _schedule(self, t: int) -> dict[int, int]:
        for k in self.arrive.get(t, ()):
            self.driver.arrive(str(k), self.P[k], self.pred[k])
        running: dict[str, int | None] = {}
        finishing = []
        for r in self.running:
            ph = self.ph[r]
            if self.done[r]:
                continue
            if ph > 0 and self.c[r] + 2 - ph >= self.P[r] + self.O[r]:
                finishing.append(str(r))  # its last token is in flight
            else:
                running[str(r)] = None if self.chunking[r] else self.g[r] + ph
        self.driver.begin(running, [str(r) for r in self.waiting], finishing)
        self._victims, self._admitted = [], {}
        sched = super()._schedule(t)
        self.driver.end(self._admitted, [str(r) for r in self._victims])
        return sched

    def _preempt(self, r: int, t: int) -> None:
        super()._preempt(r, t)
        self._victims.append(r)

    def _after_schedule(self, sched: dict[int, int]) -> set[int]:
        sampled = super()._after_schedule(sched)
        for r in sched:
            self.chunking[r] = r not in sampled
        return sampled

    def _schedule_waiting(self, t: int, sched: dict[int, int], budget: int, thr: int) -> None:
        offer = None
        while budget > 0 and self.waiting and len(self.running) < self.lim.max_num_seqs:
            if offer is None:
                if not self.driver.waiting_known():
                    break
                offer = self.driver.offer()
            rid = next(offer, None)
            if rid is None:
                break
            r = int(rid)
            assert r in self.waiting and not self.stale[r], "offered a request that cannot run"
            g = self.g[r]
            new = self._admit(r, t, sched, budget, thr)
            if new is None:
                break
            budget -= new
            self._admitted[rid] = (g, new == self.P[r] + g)
