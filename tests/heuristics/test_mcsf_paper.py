"""MC-SF against a literal, step-by-step transcription of the paper's rule.

Jaillet et al. (2025), MC-SF: at every step ``t`` the running set ``S`` keeps running;
the waiting (arrived, unstarted) requests are scanned by ascending output length and
request ``i`` joins the new set ``U`` if, for **every** step ``t'`` in
``[t+1, t + max_{j in U+i} o_j]``,

    sum_{j in S, t'-p_j <= o_j} (s_j + t' - p_j) + sum_{j in U+i, t'-t <= o_j} (s_j + t' - t) <= M;

the scan stops at the first request that fails. The reference below scans every step
(no event skipping, no peak-only test, no prefix-minimum shortcuts), so it checks the
speed-ups of :mod:`lpsched.heuristics.baselines` and the simulator against the rule
itself (docs/mcsf_paper_comparison.md). Ties: arrival step, then position, as documented.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings

from lpsched import solve
from lpsched.check import check
from lpsched.generators import mcsf_synthetic
from tests.strategies import examples, instances


def mcsf_literal(memory: int, s, o, a) -> list[int]:
    """Start steps of MC-SF by the rule above, one step at a time."""
    n = len(s)
    start = [-1] * n
    order = sorted(range(n), key=lambda i: (o[i], a[i], i))
    t = 0
    while min(start) < 0:
        running = [j for j in range(n) if start[j] >= 0 and start[j] + o[j] > t]
        new: list[int] = []
        for i in order:
            if start[i] >= 0 or a[i] > t:
                continue
            cand = new + [i]
            fits = True
            for tp in range(t + 1, t + max(o[j] for j in cand) + 1):
                mem = sum(s[j] + tp - start[j] for j in running if tp - start[j] <= o[j])
                mem += sum(s[j] + tp - t for j in cand if tp - t <= o[j])
                if mem > memory:
                    fits = False
                    break
            if not fits:
                break  # MC-SF stops at the first misfit (no backfilling)
            new.append(i)
        for i in new:
            start[i] = t
        t += 1
    return start


@settings(max_examples=examples(300))
@given(inst=instances(max_n=8, max_memory=40, max_decode=15))
def test_mcsf_equals_literal_rule(inst):
    res = solve(inst, "mc-sf")
    ref = mcsf_literal(inst.memory, inst.prefill.tolist(), inst.decode.tolist(),
                       inst.arrival.tolist())
    assert res.schedule.starts.tolist() == ref
    assert check(inst, ref).feasible


def test_mcsf_equals_literal_rule_on_paper_family():
    """The paper's synthetic family at its size (n = 40): same starts, same objective."""
    inst = mcsf_synthetic(40, 1)
    ref = mcsf_literal(inst.memory, inst.prefill.tolist(), inst.decode.tolist(),
                       inst.arrival.tolist())
    res = solve(inst, "mc-sf")
    assert res.schedule.starts.tolist() == ref
    rep = check(inst, ref)
    assert rep.feasible and rep.objective == res.objective == int(
        (np.asarray(ref) + inst.decode).sum())
