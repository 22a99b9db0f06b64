"""WAIT and Nested WAIT: admission by thresholds derived from the fluid model.

Ao, Luo, Simchi-Levi, Wang, *Optimizing LLM Inference: Fluid-Guided Online Scheduling
with Memory Constraints* (arXiv 2504.11320, 2025). Sources and what each rule rests on:
``docs/papers.md`` (section "Ao, Luo, Simchi-Levi, Wang"), where [paper] marks the
paper's abstract/first page, [code] the authors' public Vidur fork
(``Luoxiaogan/vidur_or``: ``calculate_total_limit.py`` and the replica schedulers
``booking_limit`` = WAIT, ``modified_booking_limit`` = WAIT without mutual waiting,
``general_nested_booking_limit`` = Nested WAIT), [ours] our choices.

**Fluid thresholds** [code ``calculate_booking_limits``]. Types ``j`` (prefill
``s_j``, decode ``o_j``) arrive at rates ``lambda_j``. A *total limit* ``L`` (running
requests over all types and stages) is split over the types in proportion to the stage
slots they need, ``L_j = L lambda_j o_j / sum_k lambda_k o_k``, and each of a type's
``o_j`` stages gets ``n_j = max(1, floor(L_j / o_j)) = max(1, floor(L lambda_j / sum_k
lambda_k o_k))`` requests: the fluid equilibrium ``n_j = lambda_j tau``
(:func:`lpsched.fluid.fluid_equilibrium`) at the iteration time ``tau = L / sum lambda o``
for which the batch holds ``L``. Default ``L`` [ours, from the fluid model]: the
equilibrium batch at which memory binds, ``L = M sum lambda o / sum lambda A``, so
``sum_j n_j A_j <= M``; the authors' scripts pass ``L`` by hand (their ``total_limit``).

**WAIT** (lengths known; types ``(s, o_hat)``). At each step (one iteration) type ``j``
admits at most ``cap_j = min(n_j, max(floor(L_j), n_j) - r_j)`` of its waiting requests,
oldest first (``r_j``: its running requests; the ``max`` is ours: the authors' code would
never admit a type whose budget ``L_j`` is below one request, which every type is when
the types are an instance's distinct pairs). ``launch="any"`` [code ``modified_booking_limit``]:
admissions happen at a step when some type has ``cap_j >= 1`` waiting requests (at least
``cap_j``), and then every type admits ``min(cap_j, waiting_j)``; ``launch="all"``
[code ``booking_limit``, the strict rule]: only when every type of the mix has ``n_j``
waiting, and each admits ``n_j``. With at most ``n_j`` starts of type ``j`` per step, each
of its stages holds at most ``n_j`` requests and the memory is at most ``sum_j n_j A_j``:
the thresholds alone keep it within ``M`` (rounding ``n_j`` up to 1 aside).

**Nested WAIT** (lengths unknown) [code ``general_nested_booking_limit``]. The decode is
cut into segments at the distinct decode lengths ``d_1 < ... < d_m`` of the mix: segment
``i`` holds stages ``d_{i-1}+1 .. d_i`` (``d_0 = 0``); the requests still decoding there
arrive at ``Lambda_i = sum_{o_j > d_{i-1}} lambda_j``. Segment ``i`` gets
``L_i = L c_i Lambda_i / sum_k c_k Lambda_k`` (``c_i = d_i - d_{i-1}`` stages) and each
of its stages ``n^(i) = ceil(L_i / c_i)``. A new request is admitted into segment 1 when
``cap = min(n^(1), max(floor(L_1), 1) - r_1)`` (``r_1``: running requests past stage 0
and still in segment 1; the ``max`` is ours, for ``L_1 < 1``) new requests wait; ``cap``
of them are admitted, oldest first. ``L`` defaults to the memory-binding batch of the
budget ``M - buffer``.

**Engine differences** [ours]. The authors' schedulers hold the *whole* batch (no
iteration runs) until the thresholds are met, and Nested WAIT holds a request at a
segment boundary until that segment's start inventory reaches ``n^(i)``, keeping its
cache. Our engine runs every admitted request at every step and has no paused state, so
the thresholds gate *admission* only and requests advance through later segments
without waiting. As a guard against rounding (``n_j >= 1``), wrong predictions and Nested
WAIT's unknown lengths, admissions also pass the look-ahead test of
:mod:`lpsched.heuristics.lookahead` (Nested WAIT: every request assumed to end at
``d_1``, re-predicted by doubling when it outlives that, against ``M - buffer``);
overflows go to the engine's guard (the most recent starts are preempted and resume with
their progress). The rates are the instance's type shares (the paper takes them as
known; the absolute rate cancels out of ``n_j`` once ``L`` is memory-derived). When
nothing runs and no type can launch, every type admits up to its cap ``cap_j`` without
the launch condition (an *idle flush*; if the look-ahead guard refuses them all, the
oldest waiting request goes alone). A finite instance has a last group that would
otherwise wait forever; the authors' scripts drop it (``force_clear``), which we may not.
The flush only acts when the server is idle, which under the heavy traffic the paper
studies is rare; on a batch instance it lets WAIT start everything its thresholds allow
at step 0 (admitting only the oldest request, our previous drain, serialised a batch with
large memory: up to 3.85 times the optimum in ``paper_ratios.md``'s ``large`` setting).
``threshold`` replaces every ``n_j`` (and ``n^(1)``) by one
constant (the previous rule; ``L_j`` caps then off).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

import numpy as np

from lpsched.fluid import areas, instance_mix
from lpsched.heuristics.baselines import LookaheadPolicy, policy_spec, run_policy
from lpsched.heuristics.lookahead import LookaheadProfile, async_lengths
from lpsched.instance import Instance
from lpsched.options import param
from lpsched.schedule import Result
from lpsched.simulate import SimState
from lpsched.stop import Deadline

_NEVER = 1 << 62

__all__ = ["ALGORITHMS", "NestedWaitParams", "Segments", "WaitParams", "WaitPolicy",
           "fluid_total_limit", "nested_segments", "nested_wait", "solve_nested_wait",
           "solve_wait", "wait", "wait_thresholds"]


# -- the paper's formulas ---------------------------------------------------------------------
def fluid_total_limit(prefill, decode, rates, memory: float) -> float:
    """``L = M sum_j lambda_j o_j / sum_j lambda_j A_j``: the fluid batch (running requests)
    at which the equilibrium memory ``sum_j n_j A_j`` equals ``M`` [ours, from the fluid
    model of :mod:`lpsched.fluid`].

    >>> fluid_total_limit([2, 3], [4, 1], [2.0, 1.0], 100)   # A = 18, 4: 100 * 9 / 40
    22.5
    """
    lam = np.asarray(rates, dtype=np.float64)
    lo = float(lam @ np.asarray(decode, dtype=np.float64))
    la = float(lam @ areas(prefill, decode).astype(np.float64))
    return float(memory) * lo / la


def wait_thresholds(decode, rates, total_limit: float) -> tuple[np.ndarray, np.ndarray]:
    """WAIT's per-type budgets and thresholds [code ``calculate_booking_limits``]:
    ``L_j = L lambda_j o_j / sum_k lambda_k o_k`` and ``n_j = max(1, floor(L_j / o_j))``.

    >>> L, n = wait_thresholds([4, 1], [2.0, 1.0], 18.0)    # sum lambda o = 9
    >>> L.tolist(), n.tolist()
    ([16.0, 2.0], [4, 2])
    """
    lam = np.asarray(rates, dtype=np.float64)
    o = np.asarray(decode, dtype=np.float64)
    budget = float(total_limit) * lam * o / float(lam @ o)
    n = np.maximum(np.floor(budget / o + 1e-9), 1).astype(np.int64)
    return budget, n


@dataclass(frozen=True)
class Segments:
    """Nested WAIT's segments (:func:`nested_segments`): segment ``i`` holds decode stages
    ``ends[i-1]+1 .. ends[i]`` (``ends[-1] = 0``), arrival mass ``mass[i] = Lambda_i``,
    budget ``budget[i] = L_i`` and per-stage threshold ``per_stage[i] = n^(i)``."""

    ends: np.ndarray
    mass: np.ndarray
    budget: np.ndarray
    per_stage: np.ndarray


def nested_segments(decode, rates, total_limit: float) -> Segments:
    """Nested WAIT's segments and thresholds [code ``calculate_nested_booking_limits``]:
    boundaries at the distinct decode lengths ``d_1 < ... < d_m``, ``c_i = d_i - d_{i-1}``
    stages, ``Lambda_i = sum_{o_j > d_{i-1}} lambda_j``, ``L_i = L c_i Lambda_i / sum_k c_k
    Lambda_k``, ``n^(i) = ceil(L_i / c_i)``.

    >>> seg = nested_segments([4, 1, 4], [1.0, 1.0, 2.0], 18.0)   # d = 1, 4
    >>> seg.ends.tolist(), seg.mass.tolist(), seg.budget.tolist(), seg.per_stage.tolist()
    ([1, 4], [4.0, 3.0], [5.538461538461538, 12.461538461538462], [6, 5])
    """
    lam = np.asarray(rates, dtype=np.float64)
    o = np.asarray(decode, dtype=np.int64)
    ends = np.unique(o)
    prev = np.concatenate([[0], ends[:-1]])
    count = (ends - prev).astype(np.float64)
    mass = np.array([float(lam[o > p].sum()) for p in prev.tolist()])
    weight = count * mass
    budget = float(total_limit) * weight / float(weight.sum())
    per_stage = np.ceil(budget / count - 1e-9).astype(np.int64)
    return Segments(ends, mass, budget, np.maximum(per_stage, 1))


# -- parameters -------------------------------------------------------------------------------
_LAUNCH = ("any", "all")


@dataclass(frozen=True)
class WaitParams:
    """Parameters of WAIT (Ao, Luo, Simchi-Levi, Wang 2025, arXiv 2504.11320)."""

    total_limit: int | None = param(
        None, "int", "L: running requests over all types and stages that the thresholds "
        "n_j = max(1, floor(L lambda_j / sum lambda o)) share out; default: the fluid batch "
        "at which memory binds, M sum lambda o / sum lambda A", minimum=1, nullable=True)
    launch: str = param("any", "str", "'any': admit when some type reaches its threshold "
                        "(authors' modified WAIT); 'all': only when every type has n_j "
                        "waiting (strict WAIT)", choices=_LAUNCH)
    threshold: int | None = param(None, "int", "one constant threshold for every type instead "
                                  "of the fluid n_j (the previous rule)", minimum=1,
                                  nullable=True)


@dataclass(frozen=True)
class NestedWaitParams:
    """Parameters of Nested WAIT (Ao, Luo, Simchi-Levi, Wang 2025, arXiv 2504.11320)."""

    total_limit: int | None = param(
        None, "int", "L shared out over the segments; default: the fluid batch at which the "
        "budget M - buffer binds", minimum=1, nullable=True)
    buffer: float = param(0.05, "float", "safety buffer: fraction of M kept free (thresholds "
                          "and the admission guard use M - floor(buffer M))",
                          minimum=0, maximum=0.9)
    threshold: int | None = param(None, "int", "one constant threshold instead of the fluid "
                                  "n^(1) (the previous rule)", minimum=1, nullable=True)


# -- the policy -------------------------------------------------------------------------------
class WaitPolicy(LookaheadPolicy):
    """WAIT (``nested=False``) or Nested WAIT (``nested=True``); module docstring.

    Parameters
    ----------
    nested
        False: WAIT, types ``(s, o_hat)``. True: Nested WAIT, lengths unread (one queue).
    total_limit
        ``L``; None: the fluid batch at which the budget binds.
    launch
        WAIT's launch rule, ``"any"`` or ``"all"``.
    buffer
        Fraction of ``M`` kept free (Nested WAIT).
    threshold
        A constant threshold replacing the fluid ones (and their budgets).
    """

    def __init__(self, nested: bool = False, total_limit: int | None = None,
                 launch: str = "any", buffer: float = 0.0, threshold: int | None = None):
        if launch not in _LAUNCH:
            raise ValueError(f"launch must be one of {_LAUNCH}, got {launch!r}")
        self.nested = bool(nested)
        self.total_limit = total_limit
        self.launch = launch
        self.buffer = float(buffer)
        self.threshold = threshold
        self.name = "nested-wait" if nested else "wait"

    def reset(self, state: SimState) -> None:
        inst = state.instance
        budget_m = state.memory - int(np.floor(self.buffer * state.memory))
        cap = state.memory - state.prefill
        if self.nested:
            self._reset_nested(inst, budget_m, cap)
        else:
            self._reset_wait(inst, np.minimum(state.predicted, cap), budget_m)
        self._queues: dict[int, list[tuple[int, int]]] = {}
        self._arr = state.arrival.tolist()
        self._s = state.prefill
        self._o = async_lengths(state, self._o)  # the guard's profile: async holds one step more
        self._prof = LookaheadProfile(budget_m, self._s, self._o)
        self._last = -1  # the last step with admissions (at most one launch per step)

    def _reset_wait(self, inst: Instance, o_hat: np.ndarray, memory: int) -> None:
        s_t, o_t, p = instance_mix(inst, o_hat)
        L = (fluid_total_limit(s_t, o_t, p, memory) if self.total_limit is None
             else float(self.total_limit))
        budget, n = wait_thresholds(o_t, p, L)
        if self.threshold is not None:
            n = np.full(len(n), int(self.threshold), dtype=np.int64)
            budget = np.full(len(n), np.inf)
        self.total_limit_used, self.n, self.budget = L, n, budget
        index = {(int(a), int(b)): j for j, (a, b) in enumerate(zip(s_t, o_t))}
        self._type = [index[(int(a), int(b))] for a, b in zip(inst.prefill, o_hat)]
        self._type_arr = np.asarray(self._type, dtype=np.int64)
        self._o = np.asarray(o_hat, dtype=np.int64)

    def _reset_nested(self, inst: Instance, memory: int, cap: np.ndarray) -> None:
        s_t, o_t, p = instance_mix(inst)  # the length distribution, known a priori
        L = (fluid_total_limit(s_t, o_t, p, memory) if self.total_limit is None
             else float(self.total_limit))
        self.segments = seg = nested_segments(o_t, p, L)
        d1 = int(seg.ends[0])
        n1 = int(seg.per_stage[0]) if self.threshold is None else int(self.threshold)
        b1 = float(seg.budget[0]) if self.threshold is None else np.inf
        self.total_limit_used, self.n, self.budget = L, np.array([n1]), np.array([b1])
        self._d1 = d1
        self._type = [0] * inst.n
        self._o = np.minimum(np.full(inst.n, d1, dtype=np.int64), cap)

    def _push(self, positions) -> None:
        """Back to its type's queue, in arrival order (the hooks of
        :class:`~lpsched.heuristics.baselines.LookaheadPolicy` call it on an arrival or
        an eviction, and keep the look-ahead profile)."""
        for pos in positions:
            q = self._queues.setdefault(self._type[int(pos)], [])
            bisect.insort(q, (self._arr[int(pos)], int(pos)))

    # -- thresholds ------------------------------------------------------------------------
    def _occupied(self, tys: np.ndarray, state: SimState) -> np.ndarray:
        """``r_j`` of the types ``tys``: their running requests (WAIT), or (Nested WAIT, one
        type) the requests past stage 0 and still in segment 1 (``0 < t - start < d_1``)."""
        if self.nested:
            t, d1 = state.t, self._d1
            r1 = sum(1 for st in state.running.values() if 0 < t - st < d1)
            return np.full(tys.size, r1, dtype=np.int64)
        run = np.fromiter(state.running, dtype=np.int64, count=len(state.running))
        return np.bincount(self._type_arr[run], minlength=len(self.n))[tys]

    def _caps(self, state: SimState, flush: bool = False) -> dict[int, int]:
        """``cap_j = min(n_j, max(floor(L_j), n_j) - r_j)`` of the types that may admit now
        (empty: no launch now); ``flush``: every type with a positive cap, launched or not
        (the idle flush of :meth:`decide`)."""
        tys = np.fromiter(self._queues, dtype=np.int64, count=len(self._queues))
        n = self.n[tys].astype(np.int64)
        room = self.budget[tys]
        occ = self._occupied(tys, state)
        # [ours] a budget below n_j (a rare type: L_j < 1 with the finest classes)
        # would never admit the type; it may hold n_j requests, as n_j >= 1 rounds up
        # (Nested WAIT: at least one, else the authors' floor(L_1) as it stands)
        least = np.ones_like(n) if self.nested else n
        finite = np.isfinite(room)
        floor_room = np.floor(np.where(finite, room, 0.0)).astype(np.int64)
        free = np.where(finite, np.maximum(floor_room, least) - occ, n)
        cap_arr = np.minimum(n, free)
        caps = dict(zip(tys.tolist(), cap_arr.tolist()))
        if flush:
            return {ty: c for ty, c in caps.items() if c >= 1}
        if not self.nested and self.launch == "all":
            ready = all(len(self._queues.get(j, ())) >= int(self.n[j]) for j in range(len(self.n)))
            return {ty: int(self.n[ty]) for ty in caps} if ready else {}
        fired = any(c >= 1 and len(self._queues[ty]) >= c for ty, c in caps.items())
        return {ty: c for ty, c in caps.items() if c >= 1} if fired else {}

    def _admit_caps(self, caps: dict[int, int], t: int) -> list[int]:
        """Admit each type up to its cap, types by their oldest request. A type whose oldest
        request does not fit now is skipped without a scan (one vectorised test): the
        admissions before it only add memory, so it would not fit later in the step."""
        order = self._fitting(sorted(caps, key=lambda k: self._queues[k][0]), t)
        chosen: list[int] = []
        while order:
            ty, order = order[0], order[1:]
            got = self._admit(ty, caps[ty], t)
            if got:
                chosen.extend(got)
                order = self._fitting(order, t)
        return chosen

    def _fitting(self, tys: list[int], t: int) -> list[int]:
        """The types of ``tys`` (order kept) whose oldest waiting request fits now."""
        if not tys:
            return tys
        heads = np.fromiter((self._queues[k][0][1] for k in tys), dtype=np.int64,
                            count=len(tys))
        self._prof.prepare(t)
        ok = self._prof.fits_many(self._s[heads], self._o[heads], t)
        return [k for k, good in zip(tys, ok.tolist()) if good]

    def _admit(self, ty: int, count: int, t: int) -> list[int]:
        """Admit up to ``count`` of type ``ty``'s requests, oldest first, while they pass the
        look-ahead guard."""
        q = self._queues[ty]
        got = self._prof.admit_prefix((pos for _a, pos in q[:count]), self._s, self._o, t)
        del q[:len(got)]
        if not q:
            del self._queues[ty]
        return got

    def decide(self, state: SimState) -> list[int]:
        t, prof = state.t, self._prof
        prof.prepare(t)
        if not self._queues or self._last == t:
            return []
        chosen = self._admit_caps(self._caps(state), t)
        if not chosen and not state.running:  # idle flush [ours]: every type up to its cap
            chosen.extend(self._admit_caps(self._caps(state, flush=True), t))
        if not chosen and not state.running:  # the guard refused them all: the oldest alone
            ty = min(self._queues, key=lambda k: self._queues[k][0])
            q = self._queues[ty]
            pos = q.pop(0)[1]
            if not q:
                del self._queues[ty]
            prof.add(pos, t)
            prof.prepare(t)
            chosen = [pos]
        if chosen:
            self._last = t
        return chosen

    def next_decision(self, state: SimState) -> int:
        """The next step at which a launch may happen without an arrival, completion or
        eviction (the engine stops at those): the next step if a type can launch (the
        guard permitting), else (Nested WAIT) the next time a request leaves segment 1."""
        t = state.t
        if not self._queues:
            return _NEVER
        caps = self._caps(state)
        if caps:
            heads = np.asarray([self._queues[k][0][1] for k in caps], dtype=np.int64)
            self._prof.prepare(t)
            return max(t + 1, self._prof.earliest_fit_many(self._s[heads], self._o[heads], t))
        if self.nested:
            leave = [st + self._d1 for st in state.running.values() if t - st < self._d1]
            return max(t + 1, min(leave)) if leave else _NEVER
        return _NEVER


def wait(total_limit: int | None = WaitParams.total_limit, launch: str = WaitParams.launch,
         threshold: int | None = WaitParams.threshold) -> WaitPolicy:
    """Policy factory of WAIT (registry, ``replay``)."""
    prm = WaitParams(total_limit, launch, threshold)
    return WaitPolicy(False, prm.total_limit, prm.launch, 0.0, prm.threshold)


def nested_wait(total_limit: int | None = NestedWaitParams.total_limit,
                buffer: float = NestedWaitParams.buffer,
                threshold: int | None = NestedWaitParams.threshold) -> WaitPolicy:
    """Policy factory of Nested WAIT (registry, ``replay``)."""
    prm = NestedWaitParams(total_limit, buffer, threshold)
    return WaitPolicy(True, prm.total_limit, "any", prm.buffer, prm.threshold)


def solve_wait(instance: Instance, *, deadline: Deadline | None = None,
               seed: int | None = None, total_limit: int | None = WaitParams.total_limit,
               launch: str = WaitParams.launch, threshold: int | None = WaitParams.threshold,
               **sim: Any) -> Result:
    """Registry entry: simulate WAIT; options: :class:`WaitParams` fields and the
    simulation's (:class:`~lpsched.heuristics.baselines.SimulationParams`).

    >>> from lpsched.instance import Instance, Request
    >>> inst = Instance(20, [Request("a", 2, 3), Request("b", 2, 3, arrival=1),
    ...                      Request("c", 1, 1, arrival=1)])
    >>> solve_wait(inst, threshold=2).schedule.starts.tolist()
    [0, 3, 3]
    """
    return run_policy(instance, wait(total_limit, launch, threshold), deadline=deadline,
                      seed=seed, **sim)


def solve_nested_wait(instance: Instance, *, deadline: Deadline | None = None,
                      seed: int | None = None,
                      total_limit: int | None = NestedWaitParams.total_limit,
                      buffer: float = NestedWaitParams.buffer,
                      threshold: int | None = NestedWaitParams.threshold, **sim: Any) -> Result:
    """Registry entry: simulate Nested WAIT (options: :class:`NestedWaitParams` fields and
    the simulation's; the rule reads no predicted lengths)."""
    return run_policy(instance, nested_wait(total_limit, buffer, threshold), deadline=deadline,
                      seed=seed, **sim)


_AO = "Ao, Luo, Simchi-Levi, Wang"

#: The registry's declarations of this module's algorithms (:mod:`lpsched.registry`).
ALGORITHMS = (
    policy_spec("wait", solve_wait, wait,
                "WAIT: per-type (prefill, predicted decode) thresholds n_j from the fluid "
                "model; at most n_j starts of a type per step, admitted once a type reaches "
                "its threshold",
                f"{_AO}, Optimizing LLM Inference: Fluid-Guided Online Scheduling with "
                "Memory Constraints, arXiv:2504.11320, 2025", WaitParams),
    policy_spec("nested-wait", solve_nested_wait, nested_wait,
                "Nested WAIT: lengths unknown; segments at the mix's decode lengths, "
                "fluid per-stage thresholds, admission into segment 1 under M minus a "
                "safety buffer",
                f"{_AO} 2025 (arXiv:2504.11320)", NestedWaitParams),
)
