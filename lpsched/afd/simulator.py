"""Step-synchronous simulator of an rA-1F bundle with continuous replenishment.

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
window per second per device (``r + 1`` devices), with ``n_layers`` times the
per-layer stage times per step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lpsched.afd.workload import Workload

__all__ = ["SimResult", "simulate", "sweep", "ADMISSIONS"]

ADMISSIONS = ("random", "round-robin", "least-load")


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
    throughput_per_instance: float  # tokens/s per device
    tokens_per_s: float  # tokens/s of the bundle
    idle_attention: float
    idle_ffn: float
    breakdown: dict  # mean per-step stage times (ms per layer)
    mean_load: float  # mean KV tokens per attention instance in the window
    trace: dict = field(default_factory=dict, repr=False)

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


def simulate(model, workload: Workload | None = None, r: int = 1, B: int = 256,
             n_requests: int = 10000, seed: int | None = 0, admission: str = "random",
             micro_batches: int | None = None, start: str = "stationary",
             warmup: int | None = None, requests=None, record: bool = False,
             drain: bool = True) -> SimResult:
    """Simulate an rA-1F bundle until every request completes (see module doc).

    ``model`` has ``t_A(T, B)``, ``t_C(B)``, ``t_F(N)`` (ms per layer) and
    ``n_layers`` (:class:`~lpsched.afd.timing.StepTimeModel`).  ``requests`` replays a
    given ``(prefill, decode)`` stream (e.g. a trace) instead of sampling.
    ``drain=False`` stops at the first step a slot cannot be refilled (the end of the
    measurement window) instead of running every request to completion: the measured
    figures are identical, the totals (``tokens_total``, ``completed``) then cover only
    the simulated steps."""
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
    r, B = int(r), int(B)
    rng = np.random.default_rng(seed)
    P, D = _stream(workload, requests, n_requests, rng)
    n = P.size
    S = r * B
    m = micro_batches or 1
    G = r * m  # load groups (instance x micro-batch)
    gsize = B // m
    slot_group = np.arange(S) // gsize
    slot_inst = np.arange(S) // B

    # slot state: load during step k is base + k; the slot frees at the start of step end
    base = np.zeros(S, dtype=np.int64)
    NEVER = np.iinfo(np.int64).max
    end = np.full(S, NEVER, dtype=np.int64)  # empty slots never free
    from_stream = np.zeros(S, dtype=bool)
    dlen = np.zeros(S, dtype=np.int64)
    ptr = 0
    if start == "fresh":
        k0 = min(S, n)
        base[:k0] = P[:k0]
        end[:k0] = D[:k0]
        from_stream[:k0] = True
        dlen[:k0] = D[:k0]
        ptr = k0
        if warmup is None:
            warmup = int(round(float(D.mean())))
    else:
        p0, d0, age = _stationary_init(S, workload, P, D, rng)
        base[:] = p0 + age  # load at step 0 is P + age
        end[:] = d0 - age
        warmup = 0 if warmup is None else warmup
    active = end < NEVER
    g_base = np.bincount(slot_group, weights=base * active, minlength=G).astype(np.int64)
    g_active = np.bincount(slot_group, weights=active, minlength=G).astype(np.int64)

    cap = 1024
    loads = np.zeros((cap, G), dtype=np.int64)
    acts = np.zeros((cap, G), dtype=np.int64)
    k = 0
    first_empty = None
    completed = 0
    decode_completed = 0
    rr_ptr = 0
    while True:
        free = np.flatnonzero(end == k)
        if free.size == 1:  # scalar fast path (the common case at small r)
            s1 = int(free[0])
            g1 = int(slot_group[s1])
            completed += 1
            if from_stream[s1]:
                decode_completed += int(dlen[s1])
            g_base[g1] -= base[s1]
            if ptr < n:
                p1, d1 = int(P[ptr]), int(D[ptr])
                ptr += 1
                base[s1] = p1 - k
                end[s1] = k + d1
                dlen[s1] = d1
                from_stream[s1] = True
                g_base[g1] += p1 - k
                if admission == "round-robin":
                    rr_ptr = (rr_ptr + 1) % r
            else:
                if first_empty is None:
                    first_empty = k
                base[s1] = 0
                end[s1] = NEVER
                g_active[g1] -= 1
                if not g_active.any() or not drain:
                    break
        elif free.size:
            completed += free.size
            decode_completed += int(dlen[free][from_stream[free]].sum())
            fg = slot_group[free]
            g_base -= np.bincount(fg, weights=base[free], minlength=G).astype(np.int64)
            take = min(free.size, n - ptr)
            if take < free.size and first_empty is None:
                first_empty = k
            if admission == "random":
                order = rng.permutation(free.size)
            elif admission == "round-robin":
                fi = slot_inst[free]
                rank = np.arange(free.size) - np.searchsorted(fi, fi)
                order = np.lexsort(((fi - rr_ptr) % r, rank))
                rr_ptr = (rr_ptr + take) % r
            else:  # least-load: lightest instance first, paired with the longest prompt
                inst_load = (g_base + k * (g_active - np.bincount(fg, minlength=G))
                             ).reshape(r, m).sum(1)
                order = np.argsort(inst_load[slot_inst[free]], kind="stable")
            filled = free[order[:take]]
            emptied = free[order[take:]]
            newP, newD = P[ptr:ptr + take], D[ptr:ptr + take]
            if admission == "least-load" and take > 1:
                srt = np.argsort(-newP, kind="stable")
                newP, newD = newP[srt], newD[srt]
            ptr += take
            base[filled] = newP - k
            end[filled] = k + newD
            dlen[filled] = newD
            from_stream[filled] = True
            g_base += np.bincount(slot_group[filled], weights=base[filled], minlength=G
                                  ).astype(np.int64)
            if emptied.size:
                base[emptied] = 0
                end[emptied] = NEVER
                g_active -= np.bincount(slot_group[emptied], minlength=G)
            if not g_active.any() or (first_empty is not None and not drain):
                break
        # event skipping: nothing changes until the next completion, and the loads
        # grow by one token per active slot per step in between
        nxt = int(end.min())
        if nxt > cap:
            while cap < nxt:
                cap *= 2
            loads = np.resize(loads, (cap, G))
            acts = np.resize(acts, (cap, G))
        if nxt == k + 1:
            loads[k] = g_base + k * g_active
            acts[k] = g_active
        else:
            loads[k:nxt] = g_base + np.arange(k, nxt)[:, None] * g_active
            acts[k:nxt] = g_active
        k = nxt
    K = k
    loads, acts = loads[:K].astype(float), acts[:K].astype(float)
    tokens_step = acts.sum(1)
    k_end = first_empty if first_empty is not None else K
    if warmup >= k_end:
        raise ValueError(f"warm-up of {warmup} steps leaves no measurement window "
                         f"(stream exhausted at step {k_end}); use more requests")

    # stage times (ms per layer)
    tA = np.where(acts > 0, model.t_A(loads, acts), 0.0)  # (K, G)
    inst_act = acts.reshape(K, r, m)
    tC = np.where(inst_act > 0, model.t_C(inst_act), 0.0)  # (K, r, m)
    ffn_tokens = inst_act.sum(1)  # (K, m)
    tF = np.where(ffn_tokens > 0, model.t_F(ffn_tokens), 0.0)  # (K, m)
    tA3 = tA.reshape(K, r, m)
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
    busyF = float(tF[w].sum())
    if micro_batches is None:  # sums of non-negative slack terms: exact, never < 0
        idleA = float((tau[w, None] - tA3[w, :, 0]).sum()) / (r * elapsed)
        idleF = float((tau[w] - tF[w, 0]).sum()) / elapsed
    else:
        idleA = 1.0 - busyA / (r * elapsed)
        idleF = 1.0 - busyF / elapsed
    per_s = 1e3 / model.n_layers
    thr_bundle = tokens / elapsed * per_s
    breakdown = {
        "tau": float(tau[w].mean()),
        "t_A_max": float(tA3[w].sum(2).max(1).mean()),
        "t_A_mean": float(tA3[w].sum(2).mean()),
        "t_C": float(tC[w].sum(2).max(1).mean()),
        "t_F": float(tF[w].sum(1).mean()),
        "unit": "ms per layer per step",
    }
    trace = {}
    if record:
        trace = {"tau": tau, "tA": tA3.sum(2), "tF": tF.sum(1), "tokens": tokens_step,
                 "loads": loads.reshape(K, r, m).sum(2)}
    return SimResult(
        r=r, B=B, admission=admission, micro_batches=micro_batches, steps=k_end - warmup,
        total_steps=K, window=(int(warmup), int(k_end)), elapsed_ms=elapsed, tokens=tokens,
        tokens_total=int(tokens_step.sum()), completed=completed,
        decode_completed=decode_completed,
        throughput_per_instance=thr_bundle / (r + 1), tokens_per_s=thr_bundle,
        idle_attention=idleA, idle_ffn=idleF,
        breakdown=breakdown, mean_load=float(loads[w].reshape(-1, r, m).sum(2).mean()),
        trace=trace)


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
