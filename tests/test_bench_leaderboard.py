"""benchmarks/bench_leaderboard.py: the prediction regimes it gives each rule and the
references its ratios are taken against (fast: no solver runs)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from lpsched.adversarial import interval_trap
from lpsched.instance import Instance
from tests.bench_scripts import load_script

lb = load_script("bench_leaderboard")


@pytest.fixture
def inst() -> Instance:
    rng = np.random.default_rng(3)
    s = rng.integers(1, 6, 30)
    return Instance.from_arrays(60, s, rng.integers(1, 50, 30))


def test_blind_rules_run_once(inst):
    for algo in lb.BLIND:
        assert lb._regime_options(inst, algo, "exact", 0, "k") == {}
        for reg in lb.REGIMES[1:]:
            assert lb._regime_options(inst, algo, reg, 0, "k") is None


def test_interval_regimes(inst):
    iv = lb._regime_options(inst, "a-min", "iv0.25", 7, "k")
    lo, hi = np.array(iv["lower"]), np.array(iv["upper"])
    assert np.all((lo <= inst.decode) & (inst.decode <= hi))
    mid = np.array(lb._regime_options(inst, "mc-sf", "iv0.25", 7, "k")["predictions"])
    # the point rules see the geometric midpoint of the same intervals (rounding: +-1)
    assert np.all((lo - 1 <= mid) & (mid <= hi + 1)) and np.all(mid >= 1)
    assert lb._regime_options(inst, "mc-sf", "ln0.5", 7, "k") == {"prediction_noise": 0.5,
                                                                   "seed": 7}


def test_interval_trap_gets_its_own_intervals():
    trap, lower, upper = interval_trap(8, 4)
    got = lb._regime_options(trap, "a-max", "exact", 0, "adv:interval-trap,8/4")
    assert got == {"lower": lower, "upper": upper}


def test_spread():
    assert lb._spread(list(range(10)), 3) == [0, 4, 9]  # linspace(0, 9, 3) rounded
    assert lb._spread([1, 2], 5) == [1, 2] and lb._spread([1], 0) == []


def _row(algo, obj, ev="", status="feasible"):
    return {"section": "adversarial", "group": "adversarial", "instance": "sf-trap-M64",
            "n": "40", "memory": "64", "algorithm": algo, "regime": "exact",
            "objective": str(obj), "evictions": ev, "status": status}


def test_reference_ignores_preemptive_runs():
    from lpsched.adversarial import sf_trap_upper_bound

    ub = sf_trap_upper_bound(64)
    rows = [_row("a", ub + 10), _row("b", ub - 5, ev="3"), _row("c", ub - 1)]
    lb._add_refs(rows)
    # b evicted (resumed with progress: a relaxation) and is no reference; c is
    assert {r["ref"] for r in rows} == {ub - 1}
    assert rows[1]["ratio"] == pytest.approx((ub - 5) / (ub - 1), abs=1e-4)  # 4 decimals


def test_key_is_the_cache_key():
    row = {"algorithm": "mc-sf", "instance": "x", "regime": "ln0.5", "seed": 2,
           "options": "limit=3", "status": "feasible"}
    # the CSV gives strings back: the key of a row read back equals the key of the task
    assert lb.key(row) == lb.key({k: str(v) for k, v in row.items()}) \
        == ("mc-sf", "x", "ln0.5", "2", "limit=3")


def _task(algo, seed=0, fn="solve"):
    return {"fn": fn, "row": {"algorithm": algo, "instance": "i", "regime": "exact",
                              "seed": seed, "options": "limit=1"}}


def test_todo_runs_missing_rows_and_every_row_of_only():
    tasks = [_task("fcfs"), _task("fcfs", 1), _task("mc-sf"), _task("lower_bound(best)",
                                                                    fn="bound")]
    cache = {lb.key(tasks[0]["row"]): {}, lb.key(tasks[2]["row"]): {}}
    assert lb.todo(tasks, cache, set()) == [tasks[1], tasks[3]]  # resume: the missing ones
    # --only mc-sf: its cached row again, the missing bound, not fcfs's missing row
    assert lb.todo(tasks, cache, {"mc-sf"}) == [tasks[2], tasks[3]]
    # --only bound: the bounds again (cached or not), nothing else
    cache[lb.key(tasks[3]["row"])] = {}
    assert lb.todo(tasks, cache, {lb.BOUND}) == [tasks[3]]
    assert lb.todo(tasks, cache, {"mc-sf"}) == [tasks[2]]
    # --only-sections: the chosen algorithms' rows of those sections only
    rep = {**_task("mc-sf"), "row": {**_task("mc-sf")["row"], "section": "replay",
                                     "instance": "r"}}
    for t in tasks:
        t["row"]["section"] = "study"
    cache[lb.key(rep["row"])] = {}
    assert lb.todo([*tasks, rep], cache, {"mc-sf"}, ["replay"]) == [rep]
    assert lb.todo([*tasks, rep], cache, {"mc-sf"}) == [tasks[2], rep]


TINY = ["--sections", "study", "--study-per-set", "1", "--algos", "fcfs,mc-sf,vllm",
        "--seeds", "2", "--interval-seeds", "1", "--jobs", "1", "--no-plots"]


def _rows(out):
    return {lb.key(r): r for r in lb.read_rows(out.with_suffix(".csv"))}


def test_tiny_grid_resumes_and_merges_only(tmp_path, monkeypatch):
    monkeypatch.setattr(lb, "machine", lambda when="": "test machine")
    out = tmp_path / "lb"
    lb.main([*TINY, "--out", str(out)])
    first = _rows(out)
    # 3 instances: fcfs and mc-sf at exact + 3 sigmas x 2 seeds + 3 widths x 1, vllm once
    assert len(first) == 3 * (2 * (1 + 3 * 2 + 3) + 1)
    assert {r["regime"] for r in first.values() if r["algorithm"] == "vllm"} == {"none"}
    assert all(r["status"] in ("feasible", "optimal") for r in first.values())
    assert not out.with_suffix(".partial.csv").exists()
    # resume: nothing to run, nothing changes
    lb.main([*TINY, "--out", str(out)])
    assert _rows(out) == first
    # --only mc-sf: its rows are new (another run), the others kept as they were
    old_run = next(iter(first.values()))["run"]
    rows = out.with_suffix(".csv")
    kept = [r for r in lb.read_rows(rows) if r["algorithm"] != "mc-sf"]
    with rows.open("w", newline="") as fh:  # mark the cached mc-sf rows as old
        wr = csv.DictWriter(fh, fieldnames=lb.FIELDS)
        wr.writeheader()
        wr.writerows(kept + [{**r, "run": "old"} for r in first.values()
                             if r["algorithm"] == "mc-sf"])
    lb.main([*TINY, "--out", str(out), "--only", "mc-sf"])
    after = _rows(out)
    assert after.keys() == first.keys()
    assert {r["run"] for r in after.values() if r["algorithm"] == "mc-sf"} != {"old"}
    assert {r["run"] for r in after.values() if r["algorithm"] != "mc-sf"} == {old_run}
    # the same lengths, the same rule: the rerun reproduces the objectives
    assert all(after[k]["objective"] == first[k]["objective"] for k in first)
    md = out.with_suffix(".md").read_text()
    assert "1.0" in md and "| mc-sf |" in md and "(1." in md  # a seed range is shown


def test_unknown_only_name_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        lb.main([*TINY, "--out", str(tmp_path / "lb"), "--only", "no-such-rule"])
    assert exc.value.code == 2
    assert "no-such-rule" in capsys.readouterr().err


def test_adversarial_reference_prefers_a_proven_optimum():
    from lpsched.adversarial import sf_trap_upper_bound

    ub = sf_trap_upper_bound(64)
    rows = [_row("a", ub + 10), _row("milp", ub - 2, status="optimal"),
            _row("c", ub - 1)]
    lb._add_refs(rows)
    assert {(r["ref"], r["ref_kind"]) for r in rows} == {(ub - 2, "optimum (proven in run)")}


def test_limits_parse_and_reach_the_cache_key():
    import argparse

    assert lb._limits("wait=60, a-min=2.5") == {"wait": 60.0, "a-min": 2.5}
    with pytest.raises(argparse.ArgumentTypeError, match="ALG=SECONDS"):
        lb._limits("wait")
    args = argparse.Namespace(sections="adversarial", study_per_set=0, traces=[], trace_n=0,
                              search_time=3.0, run_time=10.0, bound_time=1.0, seeds=1,
                              interval_seeds=1, limits={"fcfs": 60.0})
    tasks = lb._step_tasks(args, [("fcfs", "policy"), ("sf", "policy")], "r")
    # a changed limit is another row: the old one is not reused for it
    assert {(t["row"]["algorithm"], t["row"]["options"], t["limit"]) for t in tasks} == {
        ("fcfs", "limit=60", 60.0), ("sf", "limit=10", 10.0)}


def test_seed_cell_and_seconds_ratios():
    by = {("mc-sf", "ln0.5", "0"): [1.1, 1.1], ("mc-sf", "ln0.5", "1"): [1.3, 1.3],
          ("mc-sf", "exact", "0"): [1.0, 4.0]}
    assert lb.seed_cell(by, "mc-sf", "exact") == "2.000"  # geometric mean of 1 and 4
    assert lb.seed_cell(by, "mc-sf", "ln0.5") == "1.200 (1.100-1.300)"  # mean, seeds' range
    assert lb.seed_cell(by, "sf", "exact") == ""

    def rep(algo, trace, load, e2el):
        return {"section": "replay", "algorithm": algo, "instance": trace, "group": load,
                "regime": "none" if algo == "vllm" else "exact", "seed": "0",
                "mean_e2el_ms": str(e2el)}
    rows = [rep("vllm", "a", "x1", 100), rep("vllm", "b", "x1", 400),
            rep("sf", "a", "x1", 50), rep("sf", "b", "x1", 400)]
    # each setting against vllm's in the same setting, not a pooled baseline
    assert lb.seconds_ratios(rows, "mean_e2el_ms")[("sf", "exact", "0")] == [0.5, 1.0]
