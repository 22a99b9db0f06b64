"""Inputs cannot fool or crash the checker (issue 19, item 3): the integer cap of
:mod:`lpsched.limits` wherever instances and schedules are read, the JSON and CSV limits,
starts before arrival, and the package's own errors on API misuse (item 8)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

import lpsched
from lpsched import Instance, Request, Result, Schedule, SolveStatus, check, library, solve
from lpsched.check import memory_at, memory_profile
from lpsched.cli import main
from lpsched.errors import InstanceError, LpschedError, UnknownInstance, UsageError
from lpsched.limits import INTEGER_CAP, JSON_MAX_DEPTH
from lpsched.options import OptionError
from lpsched.registry import UnknownAlgorithm, register, unregister
from lpsched.schedule import ScheduleError, read_schedule
from lpsched.stop import TimeLimitError
from tests.oracle import naive_scan

CAP = INTEGER_CAP
INT64_MAX = 2**63 - 1
VIDUR = "arrived_at,num_prefill_tokens,num_decode_tokens\n"


def write(path, data):
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def run_cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    return rc, err


def one_line_error(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lpsched: error: "), err
    return lines[0]


# -- the cap ------------------------------------------------------------------------------------


def test_cap_is_two_to_the_forty_and_documented():
    assert INTEGER_CAP == 2**40
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    for doc in ("README.md", "docs/design.md"):
        assert "2^40" in (root / doc).read_text(encoding="utf-8"), doc


@pytest.mark.parametrize("field", ["prefill", "decode", "arrival"])
@pytest.mark.parametrize("value", [CAP + 1, INT64_MAX, 2**63, 10**30, 1e30, -(CAP + 1)])
def test_request_fields_beyond_the_cap_are_refused_everywhere(tmp_path, field, value):
    row = {"prefill": 1, "decode": 1, "arrival": 0, field: value}
    match = rf"request 'a'.*{field} .* exceeds the cap 2\^40 = {CAP}"
    with pytest.raises(InstanceError, match=match):
        Request("a", row["prefill"], row["decode"], row["arrival"])
    with pytest.raises(InstanceError, match=match):
        Instance(CAP, [{"id": "a", **row}])
    with pytest.raises(InstanceError, match=match):
        Instance.from_arrays(CAP, [row["prefill"]], [row["decode"]], [row["arrival"]], ids=["a"])
    path = write(tmp_path / "i.json", {"memory": CAP, "requests": [{"id": "a", **row}]})
    with pytest.raises(InstanceError, match=match):
        lpsched.load(path)


@pytest.mark.parametrize("value", [CAP + 1, INT64_MAX, 10**30, 1e30])
def test_memory_and_block_size_beyond_the_cap_are_refused(value):
    with pytest.raises(InstanceError, match=r"memory .* exceeds the cap 2\^40"):
        Instance(value, [Request("a", 1, 1)])
    with pytest.raises(InstanceError, match=r"block_size .* exceeds the cap 2\^40"):
        Instance(10, [Request("a", 1, 1)], block_size=value)


def test_issue_prefill_near_int64_no_longer_wraps_the_peak_check(tmp_path, capsys):
    path = write(tmp_path / "big.json", {"memory": 10, "requests": [
        {"id": "a", "prefill": INT64_MAX, "decode": 2}]})
    rc, err = run_cli(capsys, "info", path)
    assert rc == 2
    line = one_line_error(err)
    assert "request 'a'" in line and "prefill 9223372036854775807" in line and str(CAP) in line


def test_issue_1e30_and_10_pow_30_are_refused_cleanly(tmp_path, capsys):
    for value in ("1e30", "1000000000000000000000000000000", "1e400", "9" * 5000):
        path = write(tmp_path / "e.json", '{"memory": 10, "requests": [{"id": "a", "prefill": '
                     + value + ', "decode": 2}]}')
        rc, err = run_cli(capsys, "info", path)
        line = one_line_error(err)
        assert rc == 2 and ("exceeds the cap" in line or "must be an integer, got inf" in line
                            or "4300 digits" in line), line


def test_block_size_and_memory_flags_beyond_the_cap_are_one_line(capsys):
    rc, err = run_cli(capsys, "info", "tiny-1", "--block-size", "10000000000000000000")
    assert rc == 2 and "block_size 10000000000000000000 exceeds the cap" in one_line_error(err)
    rc, err = run_cli(capsys, "solve", "tiny-1", "--algo", "fcfs", "--memory", str(2**63))
    assert rc == 2 and f"memory {2**63} exceeds the cap" in one_line_error(err)
    rc, err = run_cli(capsys, "solve", "tiny-1", "--algo", "fcfs", "--seed", "-1")
    assert rc == 2 and "seed must be in [0, 2^31 - 1" in one_line_error(err)


def test_values_at_the_cap_are_accepted_exactly():
    inst = Instance(CAP, [Request("a", CAP - 5, 5), Request("b", 0, 1, arrival=CAP - 6)])
    assert inst.prefill.tolist() == [CAP - 5, 0] and inst.memory == CAP
    assert float(CAP) == CAP and Instance(float(CAP), [Request("a", 1, 1)]).memory == CAP


def test_horizon_beyond_the_cap_is_refused():
    with pytest.raises(InstanceError, match=r"request 'b'.*horizon .* exceeds the cap"):
        Instance(100, [Request("a", 0, 5), Request("b", 0, 5, arrival=CAP - 5)])
    assert Instance(100, [Request("a", 0, 5), Request("b", 0, 5, arrival=CAP - 10)]).n == 2


def test_area_is_exact_beyond_int64():
    inst = Instance(CAP, [Request("a", CAP // 2, CAP // 2)])
    s = o = CAP // 2
    assert int(inst.area[0]) == s * o + o * (o + 1) // 2 > 2**63
    assert inst.summary()["sum_area"] == s * o + o * (o + 1) // 2
    assert Instance(10, [Request("a", 2, 3)]).area.dtype == np.int64


# -- schedules and the checker ------------------------------------------------------------------


def test_issue_overlap_near_int64_is_refused_not_reported_feasible(tmp_path, capsys):
    inst = {"name": "ov", "memory": 10, "requests": [{"id": "a", "prefill": 4, "decode": 2},
                                                     {"id": "b", "prefill": 4, "decode": 2}]}
    ipath = write(tmp_path / "ov.json", inst)
    start = 9223372036854775805
    spath = write(tmp_path / "s.json", {"instance": "ov", "starts": {"a": start, "b": start}})
    rc, err = run_cli(capsys, "check", ipath, spath)
    assert rc == 2
    line = one_line_error(err)
    assert f"request 'a': start {start} exceeds the cap 2^40 = {CAP}" in line
    with pytest.raises(ScheduleError, match="exceeds the cap"):
        check(lpsched.load(ipath), [start, start])
    with pytest.raises(ScheduleError, match="exceeds the cap"):
        check(lpsched.load(ipath), {"a": start, "b": start})


def test_issue_overlap_near_the_cap_is_infeasible_exactly(tmp_path, capsys):
    inst = Instance.from_arrays(10, [4, 4], [2, 2], ids=["a", "b"])
    rep = check(inst, [CAP - 1, CAP - 1])  # steps CAP, CAP+1: 5+5, then 6+6 = 12 > 10
    assert not rep.feasible and rep.violation.step == CAP + 1 and rep.violation.memory == 12
    assert rep.objective == 2 * (CAP + 1)
    ipath = write(tmp_path / "ov.json", inst.to_dict())
    spath = write(tmp_path / "s.json", {"starts": {"a": CAP - 1, "b": CAP - 1}})
    rc, _ = run_cli(capsys, "check", ipath, spath)
    assert rc == 1


def test_user_algorithm_returning_starts_near_int64_is_an_error_not_feasible():
    inst = Instance.from_arrays(10, [4, 4], [2, 2])
    register("near-int64", lambda instance, *, deadline, seed: [2**63 - 3] * 2, replace=True)
    try:
        res = solve(inst, "near-int64")
    finally:
        unregister("near-int64")
    assert res.status is SolveStatus.ERROR and "exceeds the cap" in res.message


def test_issue_all_negative_starts_exit_1_naming_the_request(tmp_path, capsys):
    inst = Instance.from_arrays(10, [4, 4], [2, 2], ids=["a", "b"])
    rep = check(inst, [-5, -7])
    assert not rep.feasible and rep.arrival_violation.request == "a"
    assert rep.peak_memory == 0 and rep.violation is None
    ipath = write(tmp_path / "i.json", inst.to_dict())
    spath = write(tmp_path / "s.json", {"starts": {"a": -5, "b": -7}})
    rc = main(["check", ipath, spath])
    out = capsys.readouterr().out
    assert rc == 1 and "request 'a' starts at step -5 before its arrival 0" in out


def test_starts_beyond_minus_the_cap_are_refused():
    inst = Instance.from_arrays(10, [4], [2])
    assert not check(inst, [-CAP]).feasible
    with pytest.raises(ScheduleError, match="exceeds the cap"):
        check(inst, [-CAP - 1])


def test_issue_run_segment_near_int64_is_refused(tmp_path):
    inst = Instance.from_arrays(100, [1, 1], [3, 2], ids=["a", "b"])
    spath = write(tmp_path / "s.json", {"starts": {"a": 0, "b": 0},
                                        "runs": {"a": [[0, 1], [2**63 - 2, 2]]}})
    with pytest.raises(InstanceError, match=r"request 'a': segment start 9223372036854775806 "
                                            r"exceeds the cap"):
        read_schedule(spath, inst)


@pytest.mark.parametrize("memory", [7, 8, 100])
def test_run_segments_near_the_cap_are_checked_exactly(memory):
    # a: one step at 1, resumed near the cap for 2 more steps; b runs alongside it there
    inst = Instance.from_arrays(memory, [3, 2], [3, 2], ids=["a", "b"])
    q = CAP - 2
    sched = Schedule(inst, [0, q], {0: [(0, 1), (q, 2)]})
    rep = check(inst, sched)
    feasible, objective, step, mem, _ = naive_scan(memory, [3, 2], [3, 2], [0, 0], [0, q],
                                                   {0: [(0, 1), (q, 2)]})
    assert (rep.feasible, rep.objective) == (feasible, objective) and objective == 2 * CAP
    assert (rep.violation.step if rep.violation else None) == step
    assert (rep.violation.memory if rep.violation else None) == mem
    assert memory_at(inst, sched, [q + 1, q + 2]).tolist() == [5 + 3, 6 + 4]


def test_checker_exact_when_sums_could_wrap(monkeypatch):
    """The exact Python-integer path (taken when n * magnitude could reach 2^62) agrees with
    the int64 path on the same schedules."""
    import importlib
    chk = importlib.import_module("lpsched.check")  # (lpsched.check is also the function)
    rng = np.random.default_rng(3)
    cases = []
    for _ in range(30):
        n = int(rng.integers(1, 6))
        o = rng.integers(1, 6, n)
        s = rng.integers(0, 8, n)
        inst = Instance.from_arrays(int((s + o).max()) + int(rng.integers(0, 10)), s, o,
                                    block_size=int(rng.choice([1, 1, 3])))
        inst = inst if inst.peak.max() <= inst.memory else inst.replace(block_size=1)
        cases.append((inst, rng.integers(-2, 8, n)))
    plain = [check(i, p).to_dict() for i, p in cases]
    monkeypatch.setattr(chk, "fits_int64", lambda count, magnitude: False)
    assert [check(i, p).to_dict() for i, p in cases] == plain


def test_memory_profile_refuses_a_span_it_cannot_allocate():
    inst = Instance.from_arrays(10, [1, 1], [1, 1])
    with pytest.raises(ScheduleError, match="spans .* steps"):
        memory_profile(inst, [0, CAP - 1])
    with pytest.raises(ScheduleError, match="exceeds the cap"):
        memory_at(inst, [0, 0], [10**30])


# -- JSON and CSV limits ------------------------------------------------------------------------


def test_deep_json_is_one_line(tmp_path, capsys):
    path = write(tmp_path / "deep.json", "[" * 100_000 + "]" * 100_000)
    rc, err = run_cli(capsys, "info", path)
    assert rc == 2 and f"nested deeper than {JSON_MAX_DEPTH}" in one_line_error(err)
    ok = {"memory": 10, "requests": [{"id": "a", "prefill": 1, "decode": 1}],
          "metadata": {"x": json.loads("[" * 20 + "]" * 20)}}
    assert lpsched.load(write(tmp_path / "ok.json", ok)).n == 1
    ipath = write(tmp_path / "i.json", ok)
    spath = write(tmp_path / "s.json", '{"starts": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(InstanceError, match="nested deeper"):
        read_schedule(spath, lpsched.load(ipath))


def test_json_with_bom_and_non_utf8(tmp_path):
    data = json.dumps({"memory": 10, "requests": [{"id": "a", "prefill": 1, "decode": 1}]})
    p = tmp_path / "bom.json"
    p.write_bytes(b"\xef\xbb\xbf" + data.encode())
    assert lpsched.load(p).n == 1
    p.write_bytes(b'{"memory": 10, \xff}')
    with pytest.raises(InstanceError, match="not UTF-8"):
        lpsched.load(p)


def test_csv_field_over_the_limit_is_one_line(tmp_path, capsys):
    path = write(tmp_path / "long.csv", VIDUR + "0," + "1" * 200_000 + ",2\n")
    rc, err = run_cli(capsys, "info", path, "--memory", "100")
    line = one_line_error(err)
    assert rc == 2 and "line 2" in line and "longer than 131072 characters" in line


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_timestamps_name_their_row(tmp_path, bad):
    path = write(tmp_path / "t.csv", VIDUR + "0,5,2\n" + bad + ",5,2\n1,5,2\n")
    with pytest.raises(InstanceError, match=rf"request '2': arrival time is not a finite .*{bad}"):
        lpsched.load(path, memory=100)


def test_huge_timestamp_names_its_row(tmp_path, capsys):
    path = write(tmp_path / "t.csv", VIDUR + "0,5,2\n1e300,5,2\n1,5,2\n")
    rc, err = run_cli(capsys, "info", path, "--memory", "100")
    line = one_line_error(err)
    assert rc == 2 and "request '2'" in line and "1e+300" in line and "cap 2^40" in line


@pytest.mark.parametrize("header", [VIDUR, "TIMESTAMP,ContextTokens,GeneratedTokens\n",
                                    "num_prefill_tokens,num_decode_tokens\n"])
def test_bom_is_stripped_in_every_layout(tmp_path, header):
    timed = not header.startswith("num_")
    rows = "0.0,5,2\n1.0,7,3\n" if timed else "5,2\n7,3\n"
    plain = tmp_path / "p.csv"
    plain.write_text(header + rows, encoding="utf-8")
    marked = tmp_path / "m.csv"
    marked.write_bytes(b"\xef\xbb\xbf" + (header + rows).encode())
    a, b = lpsched.load(plain, memory=100), lpsched.load(marked, memory=100)
    assert a == b
    assert b.arrival.tolist() == ([0, 40] if timed else [0, 0])


@pytest.mark.parametrize("cell, rule", [("9223372036854775807", "exceeds the cap"),
                                        ("1e30", "exceeds the cap"),
                                        (str(CAP + 1), "exceeds the cap"),
                                        ("12345678901234567.5", "exceeds the cap"),
                                        ("9" * 5000, "exceeds the cap"),
                                        ("4.5", "must be an integer"),
                                        ("\x00", "must be an integer")])
def test_csv_token_counts(tmp_path, cell, rule):
    path = write(tmp_path / "t.csv", VIDUR + f"0,{cell},2\n")
    with pytest.raises(InstanceError, match=rf"request '1': prefill.*{rule}"):
        lpsched.load(path, memory=100)


def test_csv_counts_are_read_exactly(tmp_path):
    path = write(tmp_path / "t.csv", VIDUR + f"0,{CAP - 3},2\n")
    assert int(lpsched.load(path, memory=CAP).prefill[0]) == CAP - 3


# -- the package's own errors on API misuse (item 8) --------------------------------------------


def test_error_hierarchy_keeps_the_builtin_bases():
    for cls, base in [(InstanceError, ValueError), (ScheduleError, ValueError),
                      (OptionError, ValueError), (TimeLimitError, ValueError),
                      (UnknownAlgorithm, ValueError), (UnknownAlgorithm, KeyError),
                      (UsageError, TypeError), (UnknownInstance, KeyError)]:
        assert issubclass(cls, LpschedError) and issubclass(cls, base), cls


def wrong(value: Any) -> Any:
    """``value`` typed ``Any``: the calls below pass wrong types on purpose."""
    return value


WRONG: Any = None


@pytest.mark.parametrize("call, cls", [
    (lambda: check(WRONG, [0]), UsageError),
    (lambda: check(Instance(10, [Request("a", 1, 1)]), WRONG), UsageError),
    (lambda: Instance(10, WRONG), InstanceError),
    (lambda: Instance(10, [Request("a", 1, 1)], metadata=wrong(5)), InstanceError),
    (lambda: Instance.from_arrays(10, WRONG, [1]), InstanceError),
    (lambda: Instance.from_arrays(10, [1, True], [1, 1]), InstanceError),
    (lambda: Request("a", WRONG, 1), InstanceError),
    (lambda: lpsched.load(WRONG), UsageError),
    (lambda: lpsched.load("x.json", offline=True), UsageError),
    (lambda: lpsched.read_trace(WRONG, 10), UsageError),
    (lambda: solve(WRONG), UsageError),
    (lambda: solve(Instance(10, [Request("a", 1, 1)]), time_limit=10**400), TimeLimitError),
    (lambda: solve(Instance(10, [Request("a", 1, 1)]), time_limit=wrong("1")), TimeLimitError),
    (lambda: solve(Instance(10, [Request("a", 1, 1)]), seed=-1), OptionError),
    (lambda: solve(Instance(10, [Request("a", 1, 1)]), seed=2**31), OptionError),
    (lambda: solve(Instance(10, [Request("a", 1, 1)]), "nope"), UnknownAlgorithm),
    (lambda: solve(Instance(10, [Request("a", 1, 1)]), "local-search", max_iters=10**400),
     OptionError),
    (lambda: solve(Instance(10, [Request("a", 1, 1)]), "milp", max_model_bytes=10**400),
     OptionError),
    (lambda: library.load_instance(WRONG), UsageError),
    (lambda: Instance(10, [Request("a", 1, 1)]).subset([3]), UsageError),
    (lambda: Instance(10, [Request("a", 1, 1)]).subset(WRONG), UsageError),
    (lambda: Instance(10, [Request("a", 1, 1)]).replace(memory=2**63), InstanceError),
    (lambda: library.load_instance("no-such-instance"), UnknownInstance),
])
def test_api_misuse_raises_the_package_errors(call, cls):
    with pytest.raises(cls) as info:
        call()
    assert isinstance(info.value, LpschedError)
    assert "\n" not in str(info.value) or cls is UnknownAlgorithm


def test_seed_at_the_bounds_is_accepted():
    inst = Instance(10, [Request("a", 1, 1), Request("b", 2, 2)])
    for seed in (0, 2**31 - 1, np.int64(5)):
        assert solve(inst, "local-search", time_limit=1, seed=seed).schedule is not None


def test_not_a_number_lower_bound_is_never_optimal():
    inst = Instance(10, [Request("a", 1, 1)])
    register("nan-bound", lambda instance, *, deadline, seed: Result(
        "nan-bound", SolveStatus.OPTIMAL, schedule=Schedule(instance, [0]),
        lower_bound=math.nan), replace=True)
    try:
        res = solve(inst, "nan-bound")
    finally:
        unregister("nan-bound")
    assert res.status is SolveStatus.ERROR and "not a number" in res.message


def test_workload_profile_loader_limits(tmp_path):
    from lpsched.workloads import load_profile
    deep = write(tmp_path / "deep.json", "[" * 10_000 + "]" * 10_000)
    with pytest.raises(InstanceError, match="nested deeper"):
        load_profile(deep)
    flat = write(tmp_path / "flat.json", "[1, 2]")
    with pytest.raises(InstanceError, match="not a workload profile"):
        load_profile(flat)
    with pytest.raises(UsageError):
        load_profile(None)


def test_null_id_in_a_json_instance_is_refused(tmp_path):
    path = write(tmp_path / "i.json", {"memory": 5, "requests": [
        {"id": None, "prefill": 0, "decode": 1}]})
    with pytest.raises(InstanceError, match="request '#0': id must be a string, got null"):
        lpsched.load(path)
