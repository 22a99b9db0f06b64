"""Independent brute-force oracle for tiny instances (tests only).

Enumerates every start vector with ``a_i <= p_i`` and ``p_i + o_i - a_i`` no
larger than the objective of the sequential arrival-order schedule (which is
feasible because every request fits alone, so no optimal schedule has a single
latency above it), keeps the memory-feasible ones using a plain per-step scan,
and returns the minimum total completion time. Written without any code from
the package under test.
"""

from __future__ import annotations

import itertools


def naive_memory(prefill, decode, starts):
    """Memory in every step 1..makespan by direct summation: dict step -> memory."""
    makespan = max(p + o for p, o in zip(starts, decode))
    mem = {}
    for t in range(1, makespan + 1):
        m = 0
        for s, o, p in zip(prefill, decode, starts):
            if p < t <= p + o:
                m += s + t - p
        mem[t] = m
    return mem


def naive_feasible(memory, prefill, decode, arrival, starts):
    if any(p < a for p, a in zip(starts, arrival)):
        return False
    return all(m <= memory for m in naive_memory(prefill, decode, starts).values())


def sequential_objective(prefill, decode, arrival):
    order = sorted(range(len(decode)), key=lambda i: (arrival[i], i))
    t, total = 0, 0
    for i in order:
        t = max(t, arrival[i]) + decode[i]
        total += t - arrival[i]
    return total


def brute_force_optimum(memory, prefill, decode, arrival=None):
    """(optimum, starts) by exhaustive enumeration; for n <= 4 and short decodes."""
    n = len(decode)
    arrival = list(arrival) if arrival is not None else [0] * n
    ub = sequential_objective(prefill, decode, arrival)
    ranges = [range(a, a + ub - o + 1) for a, o in zip(arrival, decode)]
    best, best_starts = None, None
    for starts in itertools.product(*ranges):
        obj = sum(p + o - a for p, o, a in zip(starts, decode, arrival))
        if best is not None and obj >= best:
            continue
        if obj > ub:
            continue
        if naive_feasible(memory, prefill, decode, arrival, starts):
            best, best_starts = obj, starts
    return best, best_starts


def predicted_end(p: int, o_hat: int, t: int, cap: int) -> int:
    """Plain re-prediction rule (lpsched.heuristics.lookahead.repredicted): a request
    started at ``p`` with prediction ``o_hat`` still running at decision ``t`` is predicted
    to end at ``p + o_hat`` if that is after ``t``; else its prediction is doubled until
    it ends after ``t``, capped at ``cap`` but never ending before ``t + 1``."""
    if p + o_hat > t:
        return p + o_hat
    o = o_hat
    while p + o <= t:
        o = o + o
    return p + max(min(o, cap), t - p + 1)


def naive_scan(memory, prefill, decode, arrival, starts, runs=None, block_size=1):
    """The checker's verdict by a direct per-step scan, in exact Python integers.

    ``runs`` maps a request position to its segments ``[(p_1, d_1), ...]`` (a request
    preempted and resumed: in step ``t`` of segment ``k`` it holds
    ``s + d_1 + ... + d_{k-1} + (t - p_k)`` tokens); with ``block_size = b`` a request
    holding ``x`` tokens occupies ``b * ceil(x / b)``. Only the occupied steps ``t >= 1``
    are scanned (memory is 0 elsewhere), so starts near ``2**40`` cost no more than
    starts near 0. Returns ``(feasible, objective, first_violated_step, memory_there,
    first_early_request)`` with ``None`` for no violation / no early start.
    """
    runs = runs or {}
    pieces = []  # (held, first step, last step, start)
    completion = []
    for i, (s, o, p) in enumerate(zip(prefill, decode, starts)):
        segs = runs.get(i) or [(p, o)]
        done = 0
        for q, d in segs:
            pieces.append((s + done, q + 1, q + d, q))
            done += d
        completion.append(segs[-1][0] + segs[-1][1])
    steps = set()
    for _held, lo, hi, _q in pieces:
        steps.update(range(max(lo, 1), hi + 1))
    first = None
    mem_there = None
    for t in sorted(steps):
        m = 0
        for held, lo, hi, q in pieces:
            if lo <= t <= hi:
                x = held + t - q
                m += -(-x // block_size) * block_size
        if m > memory:
            first, mem_there = t, m
            break
    early = next((i for i, (p, a) in enumerate(zip(starts, arrival)) if p < a), None)
    objective = sum(c - a for c, a in zip(completion, arrival))
    return first is None and early is None, objective, first, mem_there, early
