"""Paged KV memory (``block_size``): instance format, checker, solve and the simulator.

The checker is compared with a plain per-step scan written here (``naive_memory``),
independent of the prefix-sum/residue-class code of :mod:`lpsched.check`.
"""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched import registry
from lpsched.check import check, memory_at, memory_profile
from lpsched.instance import Instance, InstanceError, Request, read_json, write_json
from lpsched.options import UnsupportedInstance
from lpsched.paging import padded_instance
from lpsched.schedule import SolveStatus
from lpsched.simulate import simulate
from lpsched.solve import solve
from tests.strategies import examples, paged_instances, schedules


def naive_memory(inst: Instance, starts, runs=None) -> dict[int, int]:
    """Memory of every step, by a plain scan over requests and their segments."""
    b = inst.block_size
    runs = runs or {}
    mem: dict[int, int] = {}
    for k in range(inst.n):
        s, o = int(inst.prefill[k]), int(inst.decode[k])
        segs = runs.get(k, [(int(starts[k]), o)])
        done = 0
        for p, d in segs:
            for t in range(p + 1, p + d + 1):
                x = s + done + (t - p)
                mem[t] = mem.get(t, 0) + b * math.ceil(x / b)
            done += d
    return mem


def naive_verdict(inst: Instance, starts, runs=None) -> tuple[bool, int | None]:
    mem = naive_memory(inst, starts, runs)
    over = sorted(t for t, m in mem.items() if m > inst.memory and t >= 1)
    early = any(int(p) < int(a) for p, a in zip(starts, inst.arrival))
    return (not over and not early), (over[0] if over else None)


# -- instance format ------------------------------------------------------------------------

def test_block_size_default_keeps_the_format():
    inst = Instance(10, [Request("a", 2, 3)])
    assert inst.block_size == 1 and "block_size" not in inst.to_dict()
    assert "block_size" not in repr(inst)


def test_block_size_round_trip(tmp_path):
    inst = Instance(40, [Request("a", 3, 5), Request("b", 1, 9, arrival=2)], block_size=16,
                    name="paged")
    path = tmp_path / "paged.json"
    write_json(inst, path)
    assert json.loads(path.read_text())["block_size"] == 16
    back = read_json(path)
    assert back == inst and back.block_size == 16
    assert pickle.loads(pickle.dumps(inst)).block_size == 16
    assert inst.subset([1]).block_size == 16
    assert inst.replace(memory=48).block_size == 16
    assert inst.replace(block_size=1) != inst
    assert inst.peak.tolist() == [16, 16]


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "16", None])
def test_block_size_refused(tmp_path, bad):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"memory": 40, "block_size": bad,
                                "requests": [{"id": "a", "prefill": 1, "decode": 2}]}))
    with pytest.raises(InstanceError, match="block_size"):
        read_json(path)


def test_peak_in_blocks_refused_naming_the_request():
    Instance(32, [Request("a", 3, 13)], block_size=16)  # 16 tokens = one block
    with pytest.raises(InstanceError, match=r"request 'b'.*17 tokens, 32 in blocks of 16"):
        Instance(31, [Request("a", 3, 13), Request("b", 3, 14)], block_size=16)


# -- checker ------------------------------------------------------------------------------

def test_block_rounding_by_hand():
    inst = Instance(16, [Request("a", 3, 2), Request("b", 4, 1)], block_size=8)
    # step 1: a holds 4 (8), b holds 5 (8): 16; step 2: a holds 5 (8)
    assert memory_at(inst, [0, 0], [1, 2]).tolist() == [16, 8]
    assert check(inst, [0, 0]).feasible
    rep = check(inst.replace(memory=15), [0, 0])
    assert not rep.feasible and rep.violation.step == 1 and rep.violation.memory == 16


@settings(max_examples=examples(300))
@given(data=st.data())
def test_checker_matches_naive_scan_with_blocks(data):
    inst = data.draw(paged_instances())
    starts = data.draw(schedules(inst, max_delay=8))
    rep = check(inst, starts)
    ok, first = naive_verdict(inst, starts)
    assert rep.feasible == ok
    assert (rep.violation.step if rep.violation else None) == first
    mem = naive_memory(inst, starts)
    assert rep.peak_memory == max(mem.values())
    steps, prof = memory_profile(inst, starts)
    assert prof.tolist() == [mem.get(int(t), 0) for t in steps]
    assert rep.mean_utilisation == pytest.approx(sum(mem.values()) / (inst.memory * rep.makespan))


# -- solve and the simulator -----------------------------------------------------------------

ALGORITHMS = registry.algorithm_names()


@pytest.mark.parametrize("algo", ALGORITHMS)
@settings(max_examples=examples(6))
@given(inst=paged_instances(max_block=6, max_n=6, max_memory=40, max_decode=8))
def test_every_algorithm_on_paged_instances(algo, inst):
    """Exact models refuse a paged instance; the others give checker-verified schedules
    (or, when a padded request does not fit alone, refuse naming it)."""
    spec = registry.get(algo)
    if inst.block_size > 1 and spec.block_mode == "refused":
        with pytest.raises(UnsupportedInstance, match="paged KV memory"):
            solve(inst, algo, time_limit=0.5)
        return
    padded_ok = bool(np.all(inst.prefill + inst.decode + inst.block_size - 1 <= inst.memory))
    if spec.block_mode == "padded" and not padded_ok or (
            spec.kind == "policy" and not padded_ok and algo != "vllm"):
        with pytest.raises(UnsupportedInstance, match="padded model"):
            solve(inst, algo, time_limit=0.5)
        return
    if algo == "dp" and inst.n > 16:
        return
    res = solve(inst, algo, time_limit=0.5)
    assert res.status is not SolveStatus.ERROR, res.message
    ok, _ = naive_verdict(inst, res.schedule.starts, dict(res.schedule.runs))
    assert ok
    if inst.block_size > 1 and spec.block_mode == "padded":
        assert res.lower_bound is None and res.stats["block_model"] == "padded"


def test_padded_instance_refuses_naming_the_request():
    inst = Instance(16, [Request("a", 1, 2), Request("big", 3, 13)], block_size=8)
    with pytest.raises(UnsupportedInstance, match=r"request 'big'.*3 \+ 13|request 'big'"):
        padded_instance(inst, "mc-sf")
    assert padded_instance(inst.replace(block_size=1), "x") is not None


@pytest.mark.parametrize("policy", ["fcfs", "mc-sf", "sorted-f-online"])
def test_simulator_pads_a_policy_that_is_not_block_aware(policy):
    from lpsched.generators import random_instance

    base = random_instance(30, 120, 5, max_decode=30, max_arrival=80)
    inst = base.replace(memory=base.memory + 8, block_size=8)
    res = simulate(inst, policy)
    ref = simulate(padded_instance(inst, policy), policy)
    assert res.schedule.starts.tolist() == ref.schedule.starts.tolist()
    assert res.schedule.instance is inst and res.stats()["block_model"] == "padded"
    assert check(inst, res.schedule).feasible


def test_bounds_relax_blocks_and_models_refuse():
    from lpsched.models.arrays import time_indexed_arrays
    from lpsched.models.bounds import lower_bound
    from lpsched.models.cpsat import build_cpsat

    base = Instance(24, [Request("a", 3, 5), Request("b", 6, 4), Request("c", 2, 7)])
    inst = base.replace(block_size=4)
    bound = lower_bound(inst, "combinatorial")
    assert bound.value == lower_bound(base, "combinatorial").value
    assert bound.details["relaxed_block_size"] == 4
    best = min(solve(inst, a, time_limit=1).objective for a in ("mc-sf", "local-search"))
    assert bound.value <= best
    for build in (time_indexed_arrays, build_cpsat):
        with pytest.raises(UnsupportedInstance, match="block_size 4"):
            build(inst)


def test_registry_run_pads_as_solve_does():
    inst = Instance(40, [Request("a", 3, 9), Request("b", 6, 4), Request("c", 2, 7)],
                    block_size=8)
    res = registry.run("sorted-f-cont", inst)
    assert res.schedule.instance is inst and res.stats["block_model"] == "padded"
    assert check(inst, res.schedule).feasible


# -- segmented runs ------------------------------------------------------------------------

from lpsched.schedule import Result, Schedule, ScheduleError, read_schedule  # noqa: E402
from tests.strategies import segmented_schedules  # noqa: E402


def test_runs_by_hand():
    inst = Instance(20, [Request("a", 3, 4), Request("b", 2, 2)], block_size=4)
    sched = Schedule.from_mapping(inst, {"a": 0, "b": 2}, runs={"a": [[0, 1], [3, 3]]})
    # a: step 1 holds 4; resumed at 3 it holds 3 + 1 + 1 = 5 (8) in step 4, 6, 7 (8) after
    assert memory_at(inst, sched, [1, 2, 3, 4, 5, 6]).tolist() == [4, 0, 4, 8 + 4, 8, 8]
    assert sched.completions.tolist() == [6, 4]
    assert sched.objective == 10
    assert check(inst, sched).objective == 10
    small = inst.replace(memory=11)
    assert check(small, Schedule(small, sched.starts, sched.runs)).violation.step == 4


@pytest.mark.parametrize("segs, rule", [
    ([[1, 2], [3, 2]], "first segment starts at 1"),
    ([[0, 2], [1, 2]], "segment 2 starts at 1, before segment 1 ends at 2"),
    ([[0, 0], [1, 4]], "runs 0 steps"),
    ([[0, 2], [3, 3]], "run 5 steps, not its decode length 4"),
    ([[0, "x"]], "integer pairs"),
    ("nope", "integer pairs"),
])
def test_malformed_runs_refused(segs, rule):
    inst = Instance(20, [Request("a", 3, 4), Request("b", 2, 2)])
    with pytest.raises(ScheduleError, match=rf"request 'a'.*{rule}"):
        Schedule.from_mapping(inst, {"a": 0, "b": 0}, runs={"a": segs})


def test_runs_file_round_trip(tmp_path):
    inst = Instance(20, [Request("a", 3, 4), Request("b", 2, 2)], block_size=2)
    sched = Schedule.from_mapping(inst, {"a": 0, "b": 0}, runs={"a": [[0, 1], [3, 3]]})
    res = Result("x", SolveStatus.FEASIBLE, objective=sched.objective, schedule=sched)
    assert res.to_dict()["runs"] == {"a": [[0, 1], [3, 3]]}
    path = tmp_path / "s.json"
    res.write(path)
    assert read_schedule(path, inst) == sched
    plain = Schedule(inst, [0, 0], {0: [(0, 4)]})  # one segment: the plain run, dropped
    assert not plain.runs and "runs" not in Result("x", SolveStatus.FEASIBLE,
                                                   schedule=plain).to_dict()
    path.write_text(json.dumps({"starts": {"a": 0, "b": 0}, "runs": {"zz": [[0, 4]]}}))
    with pytest.raises(InstanceError, match="'zz'"):
        read_schedule(path, inst)


@settings(max_examples=examples(400))
@given(data=st.data())
def test_checker_matches_naive_scan_on_segmented_runs(data):
    """Random block sizes and random preempted schedules, accepted and rejected alike."""
    inst = data.draw(paged_instances(max_decode=10))
    starts, runs = data.draw(segmented_schedules(inst))
    sched = Schedule(inst, starts, runs)
    rep = check(inst, sched)
    ok, first = naive_verdict(inst, starts, runs)
    assert rep.feasible == ok
    assert (rep.violation.step if rep.violation else None) == first
    mem = naive_memory(inst, starts, runs)
    assert rep.peak_memory == max(mem.values())
    steps, prof = memory_profile(inst, sched)
    assert prof.tolist() == [mem.get(int(t), 0) for t in steps]
    ends = {k: segs[-1][0] + segs[-1][1] for k, segs in runs.items()}
    c = [ends.get(k, starts[k] + int(inst.decode[k])) for k in range(inst.n)]
    assert rep.objective == sum(ci - int(a) for ci, a in zip(c, inst.arrival))
    assert rep.makespan == max(c)


@settings(max_examples=examples(60))
@given(data=st.data())
def test_both_verdicts_occur(data):
    """The generator is not one-sided: the same strategy yields accepted schedules too."""
    inst = data.draw(paged_instances(max_n=2, max_decode=4))
    starts, runs = data.draw(segmented_schedules(inst))
    seq = sorted(range(inst.n), key=lambda k: starts[k])
    # run them one after another, keeping each request's segment structure shifted
    t, new_starts, new_runs = 0, list(starts), {}
    for k in seq:
        t = max(t, int(inst.arrival[k]))
        segs = runs.get(k, [(starts[k], int(inst.decode[k]))])
        shift = t - segs[0][0]
        new_starts[k] = t
        if k in runs:
            new_runs[k] = [(p + shift, d) for p, d in segs]
        t = segs[-1][0] + segs[-1][1] + shift
    assert check(inst, Schedule(inst, new_starts, new_runs)).feasible
    assert naive_verdict(inst, new_starts, new_runs)[0]


# -- the simulator: preemption with resume, re-prediction ------------------------------------

from lpsched.heuristics.lookahead import repredicted  # noqa: E402
from lpsched.simulate import noisy_predictions  # noqa: E402
from lpsched.stop import Deadline  # noqa: E402
from tests.fakeclock import FakeClock  # noqa: E402
from tests.strategies import instances  # noqa: E402


def _recomputed(inst, runs):
    total = 0
    for pos, segs in runs.items():
        done = 0
        for k, (_p, d) in enumerate(segs):
            total += int(inst.prefill[pos]) + done if k else 0
            done += d
    return total


@settings(max_examples=examples(150))
@given(inst=instances(max_n=8, max_memory=30, max_decode=12, max_arrival=6),
       policy=st.sampled_from(["fcfs", "mc-sf", "sf", "sorted-f-online"]),
       sigma=st.sampled_from([0.5, 1.0]), ticks=st.integers(3, 60))
def test_preempted_runs_resume_and_drain_verified(inst, policy, sigma, ticks):
    """Under-predicted lengths and a deadline that expires mid-run: every preempted
    request resumes with its progress (also in the drain), the segments pass the naive
    scan, and the recompute count matches the segments."""
    preds = noisy_predictions(inst, sigma, seed=ticks)
    res = simulate(inst, policy, predictions=preds,
                   deadline=Deadline(ticks, clock=FakeClock()))
    sched = res.schedule
    ok, _ = naive_verdict(inst, sched.starts, dict(sched.runs))
    assert ok and check(inst, sched).feasible
    assert res.evictions == sum(len(v) - 1 for v in sched.runs.values())
    assert res.recomputed_tokens == _recomputed(inst, sched.runs)


def test_repredicted_rule():
    assert [repredicted(3, e, 50) for e in (0, 2, 3, 5, 6, 11, 12, 40, 49)] == \
        [3, 3, 6, 6, 12, 12, 24, 48, 50]


def test_no_ping_pong_on_overdue_requests():
    """M=40, long=(10, 28) predicted 1, short=(2, 8) arriving at 20. The old rule saw
    long as ending next step at every t >= 1: MC-SF admitted short at 20, the guard
    evicted it at 24, 26 and 27 (3 evictions, measured on 53747fd). Re-predicted, long
    is expected to run to 0 + min(32, 30) = 30 at t = 20, short does not fit before, and
    starts at 28 when long ends: no preemption."""
    inst = Instance(40, [Request("long", 10, 28), Request("short", 2, 8, arrival=20)])
    res = simulate(inst, "mc-sf", predictions=[1, 8])
    assert res.evictions == 0 and res.schedule.starts.tolist() == [0, 28]


def test_cli_block_size(tmp_path, capsys):
    from lpsched.cli import main

    out = tmp_path / "s.json"
    assert main(["solve", "tiny-3", "--block-size", "2", "--algo", "vllm", "--out",
                 str(out)]) == 0
    assert "block size 2" in capsys.readouterr().out
    assert main(["check", "tiny-3", str(out), "--block-size", "2"]) == 0
    assert main(["solve", "tiny-3", "--block-size", "0", "--algo", "vllm"]) == 2
    assert "block_size must be an integer >= 1" in capsys.readouterr().err
    assert main(["solve", "tiny-3", "--block-size", "2", "--algo", "cpsat"]) == 2
    assert "not supported by the exact models" in capsys.readouterr().err


@pytest.mark.parametrize("algo", [a for a in ALGORITHMS if registry.get(a).block_mode != "refused"])
def test_every_heuristic_and_policy_on_one_paged_instance(algo):
    """A fixed paged instance (b = 8) where every padded request fits alone: a verified
    schedule from every algorithm that is not an exact model, block rounding included."""
    from lpsched.generators import random_instance

    base = random_instance(25, 200, 7, max_decode=40, max_arrival=60)
    inst = base.replace(memory=base.memory + 8, block_size=8)
    res = solve(inst, algo, time_limit=1.0)
    assert res.status is not SolveStatus.ERROR, res.message
    ok, _ = naive_verdict(inst, res.schedule.starts, dict(res.schedule.runs))
    assert ok and check(inst, res.schedule).feasible
    mode = registry.get(algo).block_mode
    assert res.stats.get("block_model") == ("padded" if algo != "vllm" else None)
    assert mode in ("padded", "native")
