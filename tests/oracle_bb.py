"""A faster independent oracle for tiny instances: depth-first branch and bound (tests only).

Requests are placed one by one (index order) at every start ``a_i <= p_i`` with
``p_i + o_i - a_i`` at most the sequential arrival-order objective (any single
latency of an optimal schedule is at most that, see ``tests/oracle.py``); a
per-step memory array is updated incrementally and a branch is cut as soon as a
step exceeds ``M`` or the partial objective plus the remaining decode lengths
cannot beat the best found. Written without any code from the package.
"""

from __future__ import annotations


def bb_optimum(memory, prefill, decode, arrival=None):
    """(optimum, starts) of a tiny instance by exhaustive branch and bound."""
    n = len(decode)
    arrival = list(arrival) if arrival is not None else [0] * n
    order = sorted(range(n), key=lambda i: (arrival[i], i))
    t, ub = 0, 0
    for i in order:
        t = max(t, arrival[i]) + decode[i]
        ub += t - arrival[i]
    horizon = max(arrival) + ub + max(decode) + 2
    mem = [0] * (horizon + 1)
    best = [ub + 1, None]
    starts = [0] * n
    rest = [sum(decode[k:]) for k in range(n)] + [0]

    def place(k, partial):
        if k == n:
            if partial < best[0]:
                best[0], best[1] = partial, tuple(starts)
            return
        s, o, a = prefill[k], decode[k], arrival[k]
        for p in range(a, a + ub - o + 1):
            if partial + (p + o - a) + rest[k + 1] >= best[0]:
                break  # later starts only cost more
            ok = all(mem[p + d] + s + d <= memory for d in range(1, o + 1))
            if not ok:
                continue
            for d in range(1, o + 1):
                mem[p + d] += s + d
            starts[k] = p
            place(k + 1, partial + p + o - a)
            for d in range(1, o + 1):
                mem[p + d] -= s + d

    place(0, 0)
    return best[0], best[1]
