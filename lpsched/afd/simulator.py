"""Step-synchronous simulator of an xA-yF bundle (rA-1F at ``y = 1``) with continuous
replenishment.

Model (docs/design.md section 3).  ``r`` attention instances hold ``B`` request slots
each.  A request that starts in a slot at step ``s`` holds ``P + (t - s)`` KV tokens
during step ``t`` and leaves after ``D`` steps (one output token per step); its slot
is refilled at the start of the next step with the next request of the stream
(workload samples or a trace replayed in order).  Which free slot gets which new
request is the *admission* policy:

* ``random``       a uniformly random matching (equivalent to in-place replenishment);
* ``round-robin``  new requests visit the instances with free slots cyclically;
* ``least-load``   the longest new prompts go to the instances with the lowest
                   current KV load (prefill is known at admission, decode is not).

Step timing, per decode step ``k`` with per-instance loads ``T_{i,k}``:

* ``micro_batches=None`` (the seed model's fully pipelined bundle): attention,
  communication (each way) and FFN overlap across steps, so the step lasts
  ``tau_k = max(max_i t_A(T_{i,k}, B_i), t_C(B), t_F(N_k))`` - the FFN waits for the
  slowest attention instance (barrier);
* ``micro_batches=m >= 1``: each instance's slots are split into ``m`` micro-batches
  that flow A -> C -> F -> C; a micro-batch's next step may start only when its
  previous FFN output has come back, attention instances and the FFN process one
  micro-batch at a time, the link is full duplex (one transfer per direction at a
  time per instance).  ``m = 1`` is the non-overlapped bundle; ``m = 2`` is
  ping-pong pipelining.  Times follow the max-plus recurrence
  ``A_{i,k,j} = max(freeA_i, ret_{k-1,j}) + t_A``, ``F_{k,j} = max(freeF,
  max_i A_{i,k,j} + t_C) + t_F``, ``ret_{k,j} = F_{k,j} + t_C``.

Accounting.  Busy time of attention instance ``i`` is the sum of its ``t_A``, of the
FFN the sum of its ``t_F``; idle fraction = 1 - busy / (devices x elapsed) over the
measurement window.  The window excludes warm-up and drain: with ``start=
"stationary"`` (default) every slot begins in the renewal process's stationary state
(a length-biased request of the workload at a uniform age), so no warm-up is needed;
with ``start="fresh"`` all slots start new requests at step 0 and the first
``warmup`` steps (default: the mean decode length) are excluded.  Drain - the steps
after the request stream runs out and the first slot stays empty - is simulated (so
that every request completes) but excluded.  Throughputs: tokens produced in the
window per second per device (``r + y`` devices), with ``n_layers`` times the
per-layer stage times per step.

xA-yF (``model`` a :class:`~lpsched.afd.topology.BundleModel` with ``ffn_devices = y``):
the FFN stage time is the model's ``t_F`` (per-device kernel plus the stage's
collective); with ``routing="random"`` (expert parallel) every step draws the rows of
each of the ``y`` devices from a multinomial (generator seeded apart from the request
stream, so the load trajectory does not depend on ``y``) and the stage lasts as long as
its busiest device.  FFN busy time is the devices' mean kernel time plus the collective.

KV capacity (``kv_capacity`` tokens per attention instance, default unlimited): a free
slot admits the next request of the stream only if its prompt fits in the instance's
KV cache (current load + prompt <= capacity); otherwise the slot waits empty and the
request stays at the head of the queue (it may fit a later free slot).  Between two
completions every load only grows, so a waiting slot is examined again at the next
step at which some request completes (with the freed slots, in slot order, under the
admission policy); when the stream runs out, waiting slots stay empty (the window
ends).  Decode growth after admission is not preempted: ``kv["overflow"]`` is the
fraction of instance-steps in the window whose load exceeds the capacity,
``kv["blocked_slot_steps"]`` the slot-steps spent waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lpsched.afd.workload import Workload

__all__ = ["SimResult", "simulate", "sweep", "sweep_pair", "ADMISSIONS"]

ADMISSIONS = ("random", "round-robin", "least-load")
_NEVER = np.iinfo(np.int64).max  # end step of an empty slot: it never frees


@dataclass(frozen=True)
class SimResult:
    r: int
    B: int
    admission: str
    micro_batches: int | None
    steps: int  # steps in the measurement window
    total_steps: int
    window: tuple[int, int]
    elapsed_ms: float  # window length, ms per layer
    tokens: int  # tokens produced in the window
    tokens_total: int  # tokens produced over the whole run (incl. warm-up and drain)
    completed: int  # requests completed (incl. initial in-flight ones)
    decode_completed: int  # sum of decode lengths of completed stream requests
    throughput_per_instance: float  # tokens/s per device (r attention + y FFN devices)
    tokens_per_s: float  # tokens/s of the bundle
    idle_attention: float
    idle_ffn: float
    breakdown: dict  # mean per-step stage times (ms per layer)
    mean_load: float  # mean KV tokens per attention instance in the window
    trace: dict = field(default_factory=dict, repr=False)
    ffn_devices: int = 1  # y
    kv: dict = field(default_factory=dict)  # KV-capacity figures when a capacity is given

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d.pop("trace")
        d["window"] = list(self.window)
        return d


def _stream(workload, requests, n_requests, rng):
    if requests is not None:
        P = np.asarray(requests[0], dtype=np.int64)
        D = np.asarray(requests[1], dtype=np.int64)
        if P.shape != D.shape or P.ndim != 1:
            raise ValueError("requests must be two equal-length 1-D arrays (prefill, decode)")
        if (P < 0).any() or (D < 1).any():
            raise ValueError("requests need prefill >= 0 and decode >= 1")
        return P, D
    if not isinstance(workload, Workload):
        raise ValueError("give a Workload or requests=(prefill, decode)")
    if n_requests < 1:
        raise ValueError(f"n_requests must be >= 1, got {n_requests}")
    return workload.sample(n_requests, rng)


def _stationary_init(n, workload, P, D, rng):
    """``n`` in-flight requests in the stationary state: length-biased ``(P, D)``
    (probability proportional to ``D``) at a uniform age ``0..D-1``."""
    if isinstance(workload, Workload):
        pp, dd = workload.sample(max(20 * n, 20000), rng)
    else:
        pp, dd = P, D
    w = dd / dd.sum()
    idx = rng.choice(dd.size, size=n, p=w)
    p0, d0 = pp[idx], dd[idx]
    age = (rng.random(n) * d0).astype(np.int64)
    return p0, d0, age


@dataclass
class _Trajectory:
    """Per-step loads and active slots of every load group (instance x micro-batch)."""

    loads: np.ndarray  # (K, G) KV tokens
    acts: np.ndarray  # (K, G) active slots
    r: int
    m: int
    K: int
    k_end: int  # first step a slot could not be refilled (end of the window)
    warmup: int
    completed: int
    decode_completed: int
    blocked: int  # slot-steps a free slot stayed empty because the next prompt did not fit


class _Slots:
    """The ``r B`` request slots and the event loop that records their loads.

    A slot's load during step ``k`` is ``base + k``; it frees at the start of step
    ``end``.  Between completions nothing changes but every active slot's load grows by
    one token per step, so the loop jumps from one completion to the next."""

    def __init__(self, P, D, r, B, m, start, workload, rng, warmup):
        self.P, self.D, self.n, self.r, self.m, self.rng = P, D, P.size, r, m, rng
        S = r * B
        self.G = r * m
        self.slot_group = np.arange(S) // (B // m)
        self.slot_inst = np.arange(S) // B
        self.base = np.zeros(S, dtype=np.int64)
        self.end = np.full(S, _NEVER, dtype=np.int64)
        self.from_stream = np.zeros(S, dtype=bool)
        self.dlen = np.zeros(S, dtype=np.int64)
        self.waiting = np.zeros(S, dtype=bool)  # empty, the head request did not fit (KV)
        self.wait_since = np.zeros(S, dtype=np.int64)
        self.n_wait = 0
        self.ptr = 0
        if start == "fresh":
            k0 = min(S, self.n)
            self.base[:k0] = P[:k0]
            self.end[:k0] = D[:k0]
            self.from_stream[:k0] = True
            self.dlen[:k0] = D[:k0]
            self.ptr = k0
            if warmup is None:
                warmup = int(round(float(D.mean())))
        else:
            p0, d0, age = _stationary_init(S, workload, P, D, rng)
            self.base[:] = p0 + age  # load at step 0 is P + age
            self.end[:] = d0 - age
            warmup = 0 if warmup is None else warmup
        self.warmup = warmup
        active = self.end < _NEVER
        self.g_base = np.bincount(self.slot_group, weights=self.base * active,
                                  minlength=self.G).astype(np.int64)
        self.g_active = np.bincount(self.slot_group, weights=active,
                                    minlength=self.G).astype(np.int64)
        self.completed = self.decode_completed = self.blocked = 0
        self.rr_ptr = 0
        self.first_empty: int | None = None

    def run(self, admission: str, drain: bool, kv_capacity: float | None) -> _Trajectory:
        cap = 1024
        loads = np.zeros((cap, self.G), dtype=np.int64)
        acts = np.zeros((cap, self.G), dtype=np.int64)
        k = 0
        while True:
            free = np.flatnonzero(self.end == k)
            if kv_capacity is not None and free.size == 1 and not self.n_wait:
                stop = self._refill_capped_one(int(free[0]), k, admission, drain, kv_capacity)
            elif kv_capacity is not None and free.size:
                stop = self._refill_capped(free, k, admission, drain, kv_capacity)
            elif free.size == 1:  # scalar fast path (the common case at small r)
                stop = self._refill_one(int(free[0]), k, admission, drain)
            elif free.size:
                stop = self._refill_many(free, k, admission, drain)
            else:
                stop = False
            if stop:
                break
            # event skipping: loads grow by one token per active slot per step
            nxt = int(self.end.min())
            if nxt > cap:
                while cap < nxt:
                    cap *= 2
                loads = np.resize(loads, (cap, self.G))
                acts = np.resize(acts, (cap, self.G))
            if nxt == k + 1:
                loads[k] = self.g_base + k * self.g_active
                acts[k] = self.g_active
            else:
                loads[k:nxt] = self.g_base + np.arange(k, nxt)[:, None] * self.g_active
                acts[k:nxt] = self.g_active
            k = nxt
        K = k
        return _Trajectory(loads[:K].astype(float), acts[:K].astype(float), self.r, self.m, K,
                           self.first_empty if self.first_empty is not None else K,
                           self.warmup, self.completed, self.decode_completed, self.blocked)

    def _complete(self, slots: np.ndarray) -> None:
        """Count the completions of the occupied ``slots`` and remove their load."""
        self.completed += slots.size
        self.decode_completed += int(self.dlen[slots][self.from_stream[slots]].sum())
        fg = self.slot_group[slots]
        self.g_base -= np.bincount(fg, weights=self.base[slots], minlength=self.G).astype(np.int64)

    def _refill_one(self, s1: int, k: int, admission: str, drain: bool) -> bool:
        g1 = int(self.slot_group[s1])
        self.completed += 1
        if self.from_stream[s1]:
            self.decode_completed += int(self.dlen[s1])
        self.g_base[g1] -= self.base[s1]
        if self.ptr < self.n:
            p1, d1 = int(self.P[self.ptr]), int(self.D[self.ptr])
            self.ptr += 1
            self.base[s1] = p1 - k
            self.end[s1] = k + d1
            self.dlen[s1] = d1
            self.from_stream[s1] = True
            self.g_base[g1] += p1 - k
            if admission == "round-robin":
                self.rr_ptr = (self.rr_ptr + 1) % self.r
            return False
        if self.first_empty is None:
            self.first_empty = k
        self.base[s1] = 0
        self.end[s1] = _NEVER
        self.g_active[g1] -= 1
        return not self.g_active.any() or not drain

    def _order(self, free: np.ndarray, k: int, admission: str, inst_load=None) -> np.ndarray:
        """The order in which the free slots take the next requests (module doc)."""
        if admission == "random":
            return self.rng.permutation(free.size)
        if admission == "round-robin":
            fi = self.slot_inst[free]
            rank = np.arange(free.size) - np.searchsorted(fi, fi)
            return np.lexsort(((fi - self.rr_ptr) % self.r, rank))
        # least-load: lightest instance first
        return np.argsort(inst_load[self.slot_inst[free]], kind="stable")

    def _refill_many(self, free: np.ndarray, k: int, admission: str, drain: bool) -> bool:
        G, r, m = self.G, self.r, self.m
        self._complete(free)
        fg = self.slot_group[free]
        take = min(free.size, self.n - self.ptr)
        if take < free.size and self.first_empty is None:
            self.first_empty = k
        inst_load = None
        if admission == "least-load":  # paired with the longest new prompts below
            inst_load = (self.g_base + k * (self.g_active - np.bincount(fg, minlength=G))
                         ).reshape(r, m).sum(1)
        order = self._order(free, k, admission, inst_load)
        if admission == "round-robin":
            self.rr_ptr = (self.rr_ptr + take) % r
        filled = free[order[:take]]
        emptied = free[order[take:]]
        newP, newD = self.P[self.ptr:self.ptr + take], self.D[self.ptr:self.ptr + take]
        if admission == "least-load" and take > 1:
            srt = np.argsort(-newP, kind="stable")
            newP, newD = newP[srt], newD[srt]
        self.ptr += take
        self.base[filled] = newP - k
        self.end[filled] = k + newD
        self.dlen[filled] = newD
        self.from_stream[filled] = True
        self.g_base += np.bincount(self.slot_group[filled], weights=self.base[filled],
                                   minlength=G).astype(np.int64)
        if emptied.size:
            self.base[emptied] = 0
            self.end[emptied] = _NEVER
            self.g_active -= np.bincount(self.slot_group[emptied], minlength=G)
        return not self.g_active.any() or (self.first_empty is not None and not drain)

    def _refill_capped(self, free: np.ndarray, k: int, admission: str, drain: bool,
                       capacity: float) -> bool:
        """Refill under a KV capacity per instance (module doc): the freed slots and the
        waiting ones, in admission order, each take the head request if its prompt fits."""
        G, r, m = self.G, self.r, self.m
        self._complete(free)
        self.g_active -= np.bincount(self.slot_group[free], minlength=G)
        self.base[free] = 0
        cand = free
        if self.n_wait:
            wait = np.flatnonzero(self.waiting)
            self.blocked += int((k - self.wait_since[wait] - 1).sum())  # the steps in between
            self.waiting[wait] = False
            self.n_wait = 0
            cand = np.union1d(free, wait)
        inst_load = (self.g_base + k * self.g_active).reshape(r, m).sum(1)
        order = self._order(cand, k, admission, inst_load) if cand.size > 1 else [0]
        admitted = 0
        for s in cand[order]:
            i, g = self.slot_inst[s], self.slot_group[s]
            self.end[s] = _NEVER
            if self.ptr >= self.n:
                if self.first_empty is None:
                    self.first_empty = k
                continue
            p1 = int(self.P[self.ptr])
            if inst_load[i] + p1 > capacity:
                self._wait(s, k)
                continue
            self._admit(s, g, p1, k)
            inst_load[i] += p1
            admitted += 1
        if admission == "round-robin":
            self.rr_ptr = (self.rr_ptr + admitted) % r
        if self.ptr >= self.n and self.n_wait:  # nothing left for the waiting slots
            self.waiting[:] = False
            self.n_wait = 0
            if self.first_empty is None:
                self.first_empty = k
        return not self.g_active.any() or (self.first_empty is not None and not drain)

    def _admit(self, s: int, g: int, p1: int, k: int) -> None:
        """Start the stream's next request (prefill ``p1``) in slot ``s`` of group ``g`` at ``k``."""
        d1 = int(self.D[self.ptr])
        self.ptr += 1
        self.base[s] = p1 - k
        self.end[s] = k + d1
        self.dlen[s] = d1
        self.from_stream[s] = True
        self.g_base[g] += p1 - k
        self.g_active[g] += 1

    def _wait(self, s: int, k: int) -> None:
        self.waiting[s] = True
        self.wait_since[s] = k
        self.blocked += 1
        self.n_wait += 1

    def _refill_capped_one(self, s1: int, k: int, admission: str, drain: bool,
                           capacity: float) -> bool:
        """:meth:`_refill_capped` for one freed slot and none waiting (the common case)."""
        g1, m = int(self.slot_group[s1]), self.m
        self.completed += 1
        if self.from_stream[s1]:
            self.decode_completed += int(self.dlen[s1])
        self.g_base[g1] -= self.base[s1]
        self.g_active[g1] -= 1
        self.base[s1] = 0
        self.end[s1] = _NEVER
        if self.ptr >= self.n:
            if self.first_empty is None:
                self.first_empty = k
            return not self.g_active.any() or not drain
        lo = int(self.slot_inst[s1]) * m
        load = int((self.g_base[lo:lo + m] + k * self.g_active[lo:lo + m]).sum())
        p1 = int(self.P[self.ptr])
        if load + p1 > capacity:
            self._wait(s1, k)
            return False
        self._admit(s1, g1, p1, k)
        if admission == "round-robin":
            self.rr_ptr = (self.rr_ptr + 1) % self.r
        return False


def _check(r, B, admission, micro_batches, start, kv_capacity) -> None:
    if int(r) != r or r < 1:
        raise ValueError(f"r must be a positive integer, got {r}")
    if int(B) != B or B < 1:
        raise ValueError(f"batch size B must be a positive integer, got {B}")
    if admission not in ADMISSIONS:
        raise ValueError(f"unknown admission {admission!r}; use one of {', '.join(ADMISSIONS)}")
    if micro_batches is not None and (micro_batches < 1 or B % micro_batches):
        raise ValueError(f"micro_batches must be >= 1 and divide B={B}, got {micro_batches}")
    if start not in ("stationary", "fresh"):
        raise ValueError("start must be 'stationary' or 'fresh'")
    if kv_capacity is not None and not kv_capacity > 0:
        raise ValueError(f"kv_capacity must be > 0 tokens, got {kv_capacity}")


def _trajectory(workload, r, B, n_requests, seed, admission, micro_batches, start, warmup,
                requests, drain, kv_capacity) -> _Trajectory:
    _check(r, B, admission, micro_batches, start, kv_capacity)
    r, B = int(r), int(B)
    rng = np.random.default_rng(seed)
    P, D = _stream(workload, requests, n_requests, rng)
    if kv_capacity is not None and (P > kv_capacity).any():
        raise ValueError(f"{int((P > kv_capacity).sum())} request(s) have a prompt longer than "
                         f"the KV capacity of {kv_capacity:g} tokens: they could never start")
    slots = _Slots(P, D, r, B, micro_batches or 1, start, workload, rng, warmup)
    tr = slots.run(admission, drain, kv_capacity)
    if tr.warmup >= tr.k_end:
        raise ValueError(f"warm-up of {tr.warmup} steps leaves no measurement window "
                         f"(stream exhausted at step {tr.k_end}); use more requests")
    return tr


def _routing_rng(seed):
    """Generator of the expert routing draws, independent of the request stream's."""
    return np.random.default_rng(None if seed is None else [int(seed), 0x5EED])


def _stage_times(model, tr: _Trajectory, rng) -> tuple[np.ndarray, ...]:
    """Attention ``(K, r, m)``, link ``(K, r, m)``, FFN stage and FFN busy ``(K, m)``."""
    K, r, m = tr.K, tr.r, tr.m
    tA = np.where(tr.acts > 0, model.t_A(tr.loads, tr.acts), 0.0)  # (K, G)
    inst_act = tr.acts.reshape(K, r, m)
    tC = np.where(inst_act > 0, model.t_C(inst_act), 0.0)
    ffn_tokens = inst_act.sum(1)  # (K, m)
    y = getattr(model, "ffn_devices", 1)
    if y > 1 and model.routing == "random" and model.parallel == "ep":
        rows = np.rint(ffn_tokens * model.base.rows_per_token).astype(np.int64)
        counts = rng.multinomial(rows.ravel(), np.full(y, 1.0 / y)).reshape(K, m, y)
        dev = np.where(counts > 0, model.t_F_device(counts), 0.0)
        coll = model.t_collective(ffn_tokens)
        tF = np.where(ffn_tokens > 0, dev.max(2) + coll, 0.0)
        busyF = np.where(ffn_tokens > 0, dev.mean(2) + coll, 0.0)
    else:
        tF = np.where(ffn_tokens > 0, model.t_F(ffn_tokens), 0.0)
        busyF = tF
    return tA.reshape(K, r, m), tC, tF, busyF


def _result(model, tr: _Trajectory, B, admission, micro_batches, record, kv_capacity,
            rng) -> SimResult:
    """Time the trajectory with ``model`` and account the measurement window."""
    r, K, warmup, k_end = tr.r, tr.K, tr.warmup, tr.k_end
    y = getattr(model, "ffn_devices", 1)
    tA3, tC, tF, busyF_step = _stage_times(model, tr, rng)
    tokens_step = tr.acts.sum(1)
    if micro_batches is None:
        tau = np.maximum.reduce([tA3[:, :, 0].max(1), tC[:, :, 0].max(1), tF[:, 0]])
        t_end = np.cumsum(tau)
        t_start = t_end - tau
        win_start, win_end = t_start[warmup], t_end[k_end - 1]
    else:
        step_done = _pipeline(tA3, tC, tF)
        win_start = step_done[warmup - 1] if warmup > 0 else 0.0
        win_end = step_done[k_end - 1]
        tau = np.diff(np.concatenate([[0.0], step_done]))
    elapsed = float(win_end - win_start)
    w = slice(warmup, k_end)
    tokens = int(tokens_step[w].sum())
    busyA = float(tA3[w].sum())
    if micro_batches is None:  # sums of non-negative slack terms: exact, never < 0
        idleA = float((tau[w, None] - tA3[w, :, 0]).sum()) / (r * elapsed)
        idleF = float((tau[w] - busyF_step[w, 0]).sum()) / elapsed
    else:
        idleA = 1.0 - busyA / (r * elapsed)
        idleF = 1.0 - float(busyF_step[w].sum()) / elapsed
    thr_bundle = tokens / elapsed * (1e3 / model.n_layers)
    breakdown = {
        "tau": float(tau[w].mean()),
        "t_A_max": float(tA3[w].sum(2).max(1).mean()),
        "t_A_mean": float(tA3[w].sum(2).mean()),
        "t_C": float(tC[w].sum(2).max(1).mean()),
        "t_F": float(tF[w].sum(1).mean()),
        "unit": "ms per layer per step",
    }
    inst_load = tr.loads.reshape(K, r, tr.m).sum(2)
    kv = {}
    if kv_capacity is not None:
        lw = inst_load[w]
        kv = {"capacity": float(kv_capacity), "overflow": float(np.mean(lw > kv_capacity)),
              "max_load_fraction": float(lw.max() / kv_capacity),
              "mean_load_fraction": float(lw.mean() / kv_capacity),
              "blocked_slot_steps": int(tr.blocked)}
    trace = {}
    if record:
        trace = {"tau": tau, "tA": tA3.sum(2), "tF": tF.sum(1), "tokens": tokens_step,
                 "loads": inst_load}
    return SimResult(
        r=r, B=B, admission=admission, micro_batches=micro_batches, steps=k_end - warmup,
        total_steps=K, window=(int(warmup), int(k_end)), elapsed_ms=elapsed, tokens=tokens,
        tokens_total=int(tokens_step.sum()), completed=tr.completed,
        decode_completed=tr.decode_completed,
        throughput_per_instance=thr_bundle / (r + y), tokens_per_s=thr_bundle,
        idle_attention=idleA, idle_ffn=idleF, breakdown=breakdown,
        mean_load=float(inst_load[w].mean()), trace=trace, ffn_devices=int(y), kv=kv)


def simulate(model, workload: Workload | None = None, r: int = 1, B: int = 256,
             n_requests: int = 10000, seed: int | None = 0, admission: str = "random",
             micro_batches: int | None = None, start: str = "stationary",
             warmup: int | None = None, requests=None, record: bool = False,
             drain: bool = True, kv_capacity: float | None = None) -> SimResult:
    """Simulate an xA-yF bundle (``r`` = x attention instances; ``y`` = the model's
    ``ffn_devices``, 1 for a plain step model) until every request completes (module doc).

    ``model`` has ``t_A(T, B)``, ``t_C(B)``, ``t_F(N)`` (ms per layer) and
    ``n_layers`` (:class:`~lpsched.afd.timing.StepTimeModel` or
    :class:`~lpsched.afd.topology.BundleModel`).  ``requests`` replays a
    given ``(prefill, decode)`` stream (e.g. a trace) instead of sampling.
    ``drain=False`` stops at the first step a slot cannot be refilled (the end of the
    measurement window) instead of running every request to completion: the measured
    figures are identical, the totals (``tokens_total``, ``completed``) then cover only
    the simulated steps.  ``kv_capacity``: KV tokens per attention instance (admission
    control, module doc)."""
    tr = _trajectory(workload, r, B, n_requests, seed, admission, micro_batches, start, warmup,
                     requests, drain, kv_capacity)
    return _result(model, tr, int(B), admission, micro_batches, record, kv_capacity,
                   _routing_rng(seed))


def _pipeline(tA: np.ndarray, tC: np.ndarray, tF: np.ndarray) -> np.ndarray:
    """Completion time of every step (its last micro-batch back at the attention side)
    under the micro-batch max-plus recurrence (module doc).  ``tA, tC``: (K, r, m);
    ``tF``: (K, m)."""
    K, r, m = tA.shape
    freeA = np.zeros(r)
    freeSend = np.zeros(r)
    freeRecv = np.zeros(r)
    freeF = 0.0
    ret = np.zeros(m)  # when micro-batch j's previous output is back
    done = np.empty(K)
    for k in range(K):
        a_k, c_k, f_k = tA[k], tC[k], tF[k]
        for j in range(m):
            a_end = np.maximum(freeA, ret[j]) + a_k[:, j]
            freeA = a_end
            s_end = np.maximum(freeSend, a_end) + c_k[:, j]
            freeSend = s_end
            f_end = max(freeF, float(s_end.max())) + f_k[j]
            freeF = f_end
            back = np.maximum(freeRecv, f_end) + c_k[:, j]
            freeRecv = back
            ret[j] = float(back.max())
        done[k] = ret.max()
    return done


def sweep(model, workload: Workload | None = None, r_values=range(1, 33), B: int = 256,
          n_requests: int = 10000, seed: int | None = 0, **kwargs) -> dict:
    """Simulate every ``r`` (common random numbers: the same seed for each ``r``) and
    return the per-r results and the simulation-optimal ``r_best``.  The drain is not
    simulated unless ``drain=True`` is passed."""
    kwargs.setdefault("drain", False)  # the drain is outside the window: skip it
    results = [simulate(model, workload, r=r, B=B, n_requests=n_requests, seed=seed, **kwargs)
               for r in r_values]
    best = max(results, key=lambda s: s.throughput_per_instance)
    return {"results": results, "r_best": best.r,
            "throughput_best": best.throughput_per_instance}


def sweep_pair(models: dict, workload: Workload | None = None, x_values=range(1, 17),
               B: int = 256, n_requests: int = 10000, seed: int | None = 0,
               admission: str = "random", micro_batches: int | None = None,
               start: str = "stationary", warmup: int | None = None, requests=None,
               drain: bool = False, kv_capacity: float | None = None) -> dict:
    """Simulate every ``(x, y)``: ``models`` maps ``y`` to its xA-yF step model.

    The load trajectory of ``x`` instances does not depend on ``y``, so it is simulated
    once per ``x`` (the same seed for every ``x``: common random numbers, as in
    :func:`sweep`) and timed with every model.  Returns ``results`` keyed ``(x, y)``,
    the simulation-optimal ``best`` pair and its throughput per device."""
    results = {}
    for x in x_values:
        tr = _trajectory(workload, x, B, n_requests, seed, admission, micro_batches, start,
                         warmup, requests, drain, kv_capacity)
        for y, mdl in models.items():
            results[(int(x), int(y))] = _result(mdl, tr, int(B), admission, micro_batches,
                                                False, kv_capacity, _routing_rng(seed))
    best = max(results, key=lambda k: results[k].throughput_per_instance)
    return {"results": results, "best": best,
            "throughput_best": results[best].throughput_per_instance}
