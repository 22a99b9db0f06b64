"""The MC-SF paper's benchmark policies (lpsched/heuristics/protection.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched import solve
from lpsched.check import check
from lpsched.instance import Instance, Request
from lpsched.options import OptionError
from lpsched.simulate import simulate
from tests.strategies import examples, instances


def plain_protection(inst: Instance, alpha: float, beta: float):
    """Step-by-step reference: arrival-order admission while m(t+1) <= floor((1-alpha)M)
    (the head alone always), on an overflow of M preempt the most recent start until
    m(t+1) <= floor((1-beta)M) or one request is left; a preempted request keeps its
    progress D and resumes holding s + D + 1 tokens. Returns (first starts, preempted
    segments [pos, segment start, steps run])."""
    s, o, a = inst.prefill.tolist(), inst.decode.tolist(), inst.arrival.tolist()
    M, n = inst.memory, inst.n
    limit, clear = math.floor((1 - alpha) * M), math.floor((1 - beta) * M)
    starts, evicted = [-1] * n, []
    prog = [0] * n
    running: list[tuple[int, int]] = []  # (pos, segment start) in start order
    waiting: list[int] = []
    done = 0

    def held(q, p, u):  # tokens of q (segment started at p) in step u
        return s[q] + prog[q] + u - p

    t = min(a)
    while done < n:
        for q, p in [r for r in running if r[1] + o[r[0]] - prog[r[0]] <= t]:
            running.remove((q, p))
            done += 1
        waiting += [k for k in range(n) if a[k] == t]
        mem = sum(held(q, p, t + 1) for q, p in running)
        if mem > M:
            while mem > M or (len(running) > 1 and mem > clear):
                q, p = running.pop()
                mem -= held(q, p, t + 1)
                evicted.append([q, p, t - p])
                prog[q] += t - p
                waiting.append(q)
        waiting.sort(key=lambda k: (a[k], k))
        while waiting:
            q = waiting[0]
            if mem + s[q] + prog[q] + 1 > limit and running:
                break
            waiting.pop(0)
            running.append((q, t))
            if starts[q] < 0:
                starts[q] = t
            mem += s[q] + prog[q] + 1
        t += 1
    return starts, evicted


@settings(max_examples=examples(150))
@given(inst=instances(max_n=7, max_memory=30, max_decode=15),
       alpha=st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]),
       beta=st.sampled_from([0.0, 0.1, 0.3, 1.0]), skip=st.booleans())
def test_protection_matches_plain_reference_and_checker(inst, alpha, beta, skip):
    name = "alpha-protection" if beta == 0 else "alpha-beta-clearing"
    opts = {"alpha": alpha} if beta == 0 else {"alpha": alpha, "beta": beta}
    res = simulate(inst, name, options=opts, skip_idle=skip)
    starts, evicted = plain_protection(inst, alpha, beta)
    assert res.schedule.starts.tolist() == starts
    assert res.evicted_runs.tolist() == evicted
    assert check(inst, res.schedule).feasible
    sol = solve(inst, name, **opts)
    assert sol.schedule.starts.tolist() == starts
    assert sol.stats["evictions"] == len(evicted)


@settings(max_examples=examples(80))
@given(inst=instances(max_n=8), noise=st.sampled_from([None, 0.5]),
       seed=st.integers(0, 3))
def test_mc_benchmark_is_fcfs(inst, noise, seed):
    a = solve(inst, "mc-benchmark", seed=seed, prediction_noise=noise)
    b = solve(inst, "fcfs", seed=seed, prediction_noise=noise)
    assert a.schedule.starts.tolist() == b.schedule.starts.tolist()
    assert a.algorithm == "mc-benchmark"


def test_alpha_protection_hand_computed():
    """M = 10, alpha = 0.2: limit 8. r0 (s=3, o=4) starts at 0 (4 in step 1); r1 (s=3)
    would make step 1 hold 4+4 = 8 <= 8: starts too; r2 (s=1) would add 2 > 8: waits.
    Steps 1, 2 hold 8, 10; step 3 would hold 6+6 = 12 > 10, so at t=2 the guard evicts
    r1 (the most recent start) after 2 steps."""
    inst = Instance(10, [Request("r0", 3, 4), Request("r1", 3, 4), Request("r2", 1, 1)])
    res = simulate(inst, "alpha-protection", options={"alpha": 0.2})
    assert res.evicted_runs.tolist()[0] == [1, 0, 2]
    assert check(inst, res.schedule).feasible
    assert res.schedule.starts.tolist() == plain_protection(inst, 0.2, 0.0)[0]


def test_beta_clearing_clears_below_target_but_keeps_one():
    """With beta = 1 (target 0) an overflow leaves only the oldest request running."""
    inst = Instance(12, [Request(f"r{k}", 2, 6) for k in range(4)])
    res = simulate(inst, "alpha-beta-clearing", options={"alpha": 0.0, "beta": 1.0})
    first = res.evicted_runs.tolist()
    t_ev = first[0][1] + first[0][2]
    same_time = [r for r in first if r[1] + r[2] == t_ev]
    assert len(same_time) >= 2  # cleared several at once, not just back under M
    assert check(inst, res.schedule).feasible


def test_options_declared_and_checked():
    inst = Instance(10, [Request("a", 1, 2)])
    with pytest.raises(OptionError):
        solve(inst, "alpha-protection", alpha=1.5)
    with pytest.raises(OptionError):
        solve(inst, "alpha-protection", beta=0.1)  # beta belongs to alpha-beta-clearing
    res = solve(inst, "alpha-beta-clearing", alpha=0.3, beta=0.2)
    assert res.status.value == "feasible" and res.objective == 2
    assert np.array_equal(res.schedule.starts, [0])
