"""Fuzz: hostile instances, trace CSVs and schedules fed in-process to the loaders,
``check`` and ``solve`` (issue 19, "Done when").

Every test asserts that only the package's own errors (:class:`lpsched.errors.LpschedError`)
escape, that an input is accepted exactly when a reference rule written here says it is
valid (nothing wraps, rounds or clamps silently), and, on every schedule ``check``
accepts, that its verdict (feasible, objective, first violated step and the memory
there, first request starting before its arrival) equals the naive per-step scan of
:func:`tests.oracle.naive_scan`.

Budget: ``LPSCHED_FUZZ_EXAMPLES`` examples per test; unset, 150 per test with
derandomised draws (the same inputs on every run, a few seconds in all); set it (for
example ``LPSCHED_FUZZ_EXAMPLES=5000``) for a longer campaign with fresh random draws.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lpsched
from lpsched import Instance, check, solve
from lpsched.errors import LpschedError
from lpsched.limits import INTEGER_CAP
from lpsched.options import OptionError, UnsupportedInstance
from lpsched.registry import register, unregister
from lpsched.schedule import Schedule, SolveStatus, read_schedule
from lpsched.stop import TimeLimitError
from tests.oracle import naive_scan

_ENV = os.environ.get("LPSCHED_FUZZ_EXAMPLES")
EXAMPLES = int(_ENV) if _ENV else 150
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=_ENV is None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
CAP = INTEGER_CAP

#: Values that have broken readers: beyond the cap, beyond int64, beyond float, non-finite,
#: fractions, wrong types.
HOSTILE_NUMBERS = [CAP, CAP + 1, -CAP, -CAP - 1, 2**53 + 1, 2**63 - 3, 2**63 - 2, 2**63 - 1,
                   2**63, 2**64 + 5, 10**30, -(2**63), 10**400, 1e30, -1e30, 1e300,
                   math.nan, math.inf, -math.inf, 4.5, -0.0, 1.0, float(CAP), float(CAP) + 2**20]
HOSTILE_OTHER = [None, True, False, "5", "", [], {}, [1], {"a": 1}, "1e30"]
hostile = st.one_of(st.sampled_from(HOSTILE_NUMBERS + HOSTILE_OTHER),
                    st.integers(-(2**70), 2**70), st.floats())
NEST = "@NEST@"


def ref_int(v):
    """The reference rule: an int (not a bool) or an integral finite float, within the cap;
    None when the value must be refused."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, float) and not (math.isfinite(v) and v.is_integer()):
        return None
    return int(v) if abs(int(v)) <= CAP else None


_TMP = tempfile.TemporaryDirectory(prefix="lpsched-fuzz-")  # removed at exit


def _tmp() -> Path:
    """One scratch folder for the module; each example overwrites its files."""
    return Path(_TMP.name)


def assert_valid_instance(inst: Instance) -> None:
    s, o, a = inst.prefill, inst.decode, inst.arrival
    assert 1 <= inst.memory <= CAP and 1 <= inst.block_size <= CAP
    assert s.dtype == o.dtype == a.dtype == np.int64
    assert s.min() >= 0 and o.min() >= 1 and a.min() >= 0
    assert max(s.max(), o.max(), a.max()) <= CAP
    assert int(inst.peak.max()) <= inst.memory


# -- instances (JSON) --------------------------------------------------------------------------


@st.composite
def instance_data(draw):
    """A valid instance dict, then 0-3 hostile mutations; returns (data, text)."""
    memory = draw(st.sampled_from([draw(st.integers(2, 40)), CAP, CAP - 3]))
    reqs = []
    for k in range(draw(st.integers(1, 4))):
        o = draw(st.integers(1, min(12, memory)))
        s = draw(st.integers(max(0, memory - o - 30), memory - o)) if memory > 40 else \
            draw(st.integers(0, memory - o))
        r = {"id": f"r{k}", "prefill": s, "decode": o}
        if draw(st.booleans()):
            r["arrival"] = draw(st.sampled_from([0, 3, CAP - 1, CAP]))
        reqs.append(r)
    data = {"name": "fz", "memory": memory, "requests": reqs}
    if draw(st.booleans()):
        data["block_size"] = draw(st.integers(1, 4))
    nest = 0
    for _ in range(draw(st.integers(0, 3))):
        what = draw(st.sampled_from(["value", "value", "delete", "request", "top", "nest"]))
        dicts = [r for r in reqs if isinstance(r, dict)]
        if what == "value" and dicts:
            r = draw(st.sampled_from(dicts))
            r[draw(st.sampled_from(["prefill", "decode", "arrival", "id"]))] = draw(hostile)
        elif what == "delete" and dicts:
            r = draw(st.sampled_from(dicts))
            r.pop(draw(st.sampled_from(["prefill", "decode", "id"])), None)
        elif what == "request":
            reqs.append(draw(st.sampled_from([None, 5, "x", [], {"id": "q"}])))
        elif what == "top":
            data[draw(st.sampled_from(["memory", "block_size", "requests", "metadata"]))] = \
                draw(hostile)
        else:
            data["metadata"] = {"deep": NEST}
            nest = draw(st.sampled_from([10, 70, 5000, 100_000]))
    text = json.dumps(data)
    if f'"{NEST}"' not in text:
        nest = 0  # the nested value was replaced by a later mutation
    if nest:
        text = text.replace(f'"{NEST}"', "[" * nest + "]" * nest)
    if draw(st.booleans()):
        text = "\ufeff" + text
    return data, text, nest


def _expected_requests(data):
    """The (s, o, a) the reference rule accepts for ``data``, or None if it must be refused."""
    if not isinstance(data, dict) or not isinstance(data.get("requests"), list):
        return None
    m = data.get("memory")
    b = data.get("block_size", 1)
    if ref_int(m) is None or ref_int(b) is None or ref_int(m) < 1 or ref_int(b) < 1:
        return None
    meta = data.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        return None
    rows = []
    for r in data["requests"]:
        if not isinstance(r, dict) or "prefill" not in r or "decode" not in r or "id" not in r:
            return None
        if not isinstance(r["id"], (str, int)) or isinstance(r["id"], bool):
            return None
        s, o, a = ref_int(r["prefill"]), ref_int(r["decode"]), ref_int(r.get("arrival", 0))
        if s is None or o is None or a is None or s < 0 or o < 1 or a < 0:
            return None
        bb = ref_int(b)
        if -(-(s + o) // bb) * bb > ref_int(m):
            return None
        rows.append((str(r["id"]), s, o, a))
    ids = [r[0] for r in rows]
    if not rows or len(set(ids)) != len(ids):
        return None
    if max(r[3] for r in rows) + sum(r[2] for r in rows) > CAP:  # the horizon rule
        return None
    return rows


@FUZZ
@given(instance_data())
def test_instance_json_only_own_errors_and_exact_acceptance(case):
    data, text, nest = case
    path = _tmp() / "fz.json"
    path.write_text(text, encoding="utf-8")
    expected = None if nest + 2 > 64 else _expected_requests(data)  # + top level, metadata
    try:
        inst = lpsched.load(path)
    except LpschedError:
        assert expected is None, f"refused a valid instance: {text[:300]}"
        return
    assert expected is not None, f"accepted an invalid instance: {text[:300]}"
    assert_valid_instance(inst)
    assert [(i, int(s), int(o), int(a)) for i, s, o, a in
            zip(inst.ids, inst.prefill, inst.decode, inst.arrival)] == expected
    if not nest:  # the same dict through the Python API
        assert Instance.from_dict(data) == inst


@FUZZ
@given(st.lists(hostile, min_size=1, max_size=3), st.lists(hostile, min_size=1, max_size=3),
       st.one_of(st.none(), st.lists(hostile, min_size=1, max_size=3)), hostile)
def test_instance_api_columns_only_own_errors(prefill, decode, arrival, memory):
    cols = [prefill, decode, arrival]
    try:
        inst = Instance.from_arrays(memory, *cols)
    except LpschedError:
        return
    assert_valid_instance(inst)
    assert inst.prefill.tolist() == [ref_int(v) for v in prefill]
    assert inst.decode.tolist() == [ref_int(v) for v in decode]


# -- trace CSVs ----------------------------------------------------------------------------------

HOSTILE_CELLS = ["nan", "inf", "-inf", "1e300", "-1e300", "1e30", "9223372036854775807",
                 "9223372036854775808", str(CAP + 1), str(CAP), "-1", "4.5", "", "abc", "\x00",
                 '"', '"3,4"', " 7 ", "7.0", "1" * 200_000, "2023-11-16 18:15:46.6805900"]
LAYOUTS = {"vidur": ("arrived_at", "num_prefill_tokens", "num_decode_tokens"),
           "vidur-notime": ("num_prefill_tokens", "num_decode_tokens", "num_total_tokens"),
           "azure": ("TIMESTAMP", "ContextTokens", "GeneratedTokens")}


@st.composite
def trace_files(draw):
    layout = draw(st.sampled_from(sorted(LAYOUTS)))
    header = LAYOUTS[layout]
    rows, t = [], 0.0
    for _ in range(draw(st.integers(1, 4))):
        t += draw(st.sampled_from([0.0, 0.01, 1.0]))
        s, o = draw(st.integers(0, 20)), draw(st.integers(1, 10))
        cells = {"arrived_at": repr(t), "TIMESTAMP": repr(t), "num_prefill_tokens": str(s),
                 "ContextTokens": str(s), "num_decode_tokens": str(o),
                 "GeneratedTokens": str(o), "num_total_tokens": str(s + o)}
        row = [cells[h] for h in header]
        if draw(st.integers(0, 2)) == 0:
            row[draw(st.integers(0, len(row) - 1))] = draw(st.sampled_from(HOSTILE_CELLS))
        rows.append(row)
    text = ",".join(header) + "\n" + "\n".join(",".join(r) for r in rows) + "\n"
    raw = text.encode("utf-8")
    if draw(st.integers(0, 9)) == 0:
        raw = raw.replace(b"\n", b"\n\xff", 1)  # not UTF-8
    return layout, raw


@FUZZ
@given(trace_files(), st.one_of(st.integers(1, 100), st.sampled_from([CAP, CAP + 1, 10**30])),
       st.booleans())
def test_trace_csv_only_own_errors_and_bom_is_transparent(case, memory, bom):
    layout, raw = case
    d = _tmp()
    plain, marked = d / "t.csv", d / "b.csv"
    plain.write_bytes(raw)
    marked.write_bytes(b"\xef\xbb\xbf" + raw)
    results = []
    for path in (plain, marked):
        try:
            results.append(lpsched.load(path, memory=memory))
        except LpschedError as exc:
            assert "\n" not in str(exc)
            results.append(type(exc))
    # a byte-order mark changes nothing, in every layout
    assert results[0] == results[1] if isinstance(results[0], Instance) else \
        results[0] is results[1]
    inst = results[0]
    if isinstance(inst, Instance):
        assert_valid_instance(inst)
        assert (inst.metadata["step_seconds"] is None) == (layout == "vidur-notime")


# -- schedules and the checker -------------------------------------------------------------------


@st.composite
def check_cases(draw):
    """A valid instance (small, or with memory, prefills or arrivals near the cap) and a
    schedule in one of the accepted shapes, with hostile values now and then."""
    big_m = draw(st.booleans())
    memory = CAP - draw(st.integers(0, 10)) if big_m else draw(st.integers(2, 40))
    b = draw(st.sampled_from([1, 1, 2, 3, 8]))
    b = b if memory // b >= 2 else 1
    top = (memory // b) * b
    base = draw(st.sampled_from([0, 0, CAP - 100]))
    s, o, a = [], [], []
    for _ in range(draw(st.integers(1, 5))):
        oi = draw(st.integers(1, min(12, top)))
        lo = max(0, top - oi - 30) if big_m else 0
        s.append(draw(st.integers(lo, top - oi)))
        o.append(oi)
        a.append(base + draw(st.integers(0, 10)))
    inst = Instance.from_arrays(memory, s, o, a, block_size=b)
    starts = []
    for ai in a:
        kind = draw(st.integers(0, 9))
        if kind == 0:
            starts.append(draw(hostile))
        elif kind == 1:
            starts.append(-draw(st.integers(0, CAP + 2)))
        elif kind == 2:
            starts.append(CAP - draw(st.integers(-2, 20)))
        else:
            starts.append(ai + draw(st.integers(-3, 15)))
    runs = {}
    for k, (p, ok) in enumerate(zip(starts, o)):
        if ok >= 2 and ref_int(p) is not None and draw(st.integers(0, 3)) == 0:
            cut = draw(st.integers(1, ok - 1))
            gap = draw(st.sampled_from([0, 1, 5, CAP]))
            runs[k] = [[p, cut], [p + cut + gap, ok - cut]]
    shape = draw(st.sampled_from(["list", "array", "mapping", "file"]))
    return inst, starts, runs, shape


def _reference_schedule(inst, starts, runs):
    """Starts and runs as the reference rule reads them, or None if they must be refused."""
    p = [ref_int(v) for v in starts]
    if any(v is None for v in p):
        return None
    for segs in runs.values():
        if any(ref_int(x) is None for seg in segs for x in seg):
            return None
    return p, {k: [(ref_int(q), ref_int(d)) for q, d in segs] for k, segs in runs.items()}


def _run_check(inst, starts, runs, shape):
    ids = inst.ids
    if shape == "file":
        path = _tmp() / "s.json"
        doc = {"instance": inst.name, "starts": dict(zip(ids, starts)),
               "runs": {ids[k]: segs for k, segs in runs.items()}}
        path.write_text(json.dumps(doc), encoding="utf-8")
        return check(inst, read_schedule(path, inst))
    if shape == "mapping":
        return check(inst, Schedule.from_mapping(inst, dict(zip(ids, starts)),
                                                 runs={ids[k]: v for k, v in runs.items()}))
    values = as_array(starts) if shape == "array" else list(starts)
    return check(inst, Schedule(inst, values, runs) if runs else values)


def as_array(starts):
    """The numpy array a caller would build (numpy itself reads ``True`` as 1 here)."""
    try:
        return np.array(starts)
    except (ValueError, OverflowError):
        return np.array(starts, dtype=object)


@FUZZ
@given(check_cases())
def test_check_verdict_equals_naive_scan(case):
    inst, starts, runs, shape = case
    given_starts = as_array(starts).tolist() if shape == "array" else starts
    ref = _reference_schedule(inst, given_starts, runs)
    try:
        rep = _run_check(inst, starts, runs, shape)
    except LpschedError as exc:
        assert "\n" not in str(exc)
        if ref is not None:  # valid values: only a malformed segment may be refused
            assert runs, f"refused a valid schedule {starts}: {exc}"
        return
    assert ref is not None, f"accepted invalid starts {starts} / runs {runs}"
    p, segs = ref
    feasible, objective, step, mem, early = naive_scan(
        inst.memory, inst.prefill.tolist(), inst.decode.tolist(), inst.arrival.tolist(), p,
        segs, inst.block_size)
    assert rep.feasible == feasible
    assert rep.objective == objective
    assert (rep.violation.step if rep.violation else None) == step
    if step is not None:
        assert rep.violation.memory == mem and rep.violation.excess == mem - inst.memory
    early_id = None if early is None else inst.ids[early]
    assert (rep.arrival_violation.request if rep.arrival_violation else None) == early_id


def test_check_verdict_on_the_issue_cases():
    """Issue 19's cases, through the same oracle: the overlap near 2^63 is refused (beyond
    the cap); the same overlap near the cap is infeasible, exactly where the scan says."""
    inst = Instance.from_arrays(10, [4, 4], [2, 2])
    with pytest.raises(LpschedError, match="cap"):
        check(inst, [9223372036854775805] * 2)
    rep = check(inst, [CAP - 2] * 2)
    assert not rep.feasible and rep.violation.step == naive_scan(10, [4, 4], [2, 2], [0, 0],
                                                                 [CAP - 2] * 2)[2]


# -- solve ---------------------------------------------------------------------------------------

TIME_LIMITS = [None, 2.0, 0, -1, math.nan, math.inf, 10**400, "1", True]
SEEDS = [None, 0, 7, 2**31 - 1, -1, 2**31, 2**63, 1.5, "3", True]


@st.composite
def solve_cases(draw):
    inst = draw(check_cases())[0]
    return (inst, draw(st.sampled_from(["fcfs", "mc-sf", "sorted-f", "vllm", "sorted-f-online"])),
            draw(st.sampled_from(TIME_LIMITS)), draw(st.sampled_from(SEEDS)))


@FUZZ
@given(solve_cases())
def test_solve_refuses_bad_arguments_and_returns_checked_schedules(case):
    inst, algo, time_limit, seed = case
    tl_ok = time_limit is None or (isinstance(time_limit, float) and math.isfinite(time_limit)
                                   and time_limit > 0)
    seed_ok = seed is None or (type(seed) is int and 0 <= seed < 2**31)
    try:
        res = solve(inst, algo, time_limit=time_limit, seed=seed)
    except TimeLimitError:
        assert not tl_ok
        return
    except OptionError:
        assert tl_ok and not seed_ok
        return
    except UnsupportedInstance as exc:  # e.g. a padded request beyond M on a paged instance
        assert tl_ok and seed_ok and inst.block_size > 1, exc
        return
    assert tl_ok and seed_ok
    assert res.status in (SolveStatus.FEASIBLE, SolveStatus.TIME_LIMIT), res.message
    p = res.schedule.starts.tolist()
    runs = {k: list(v) for k, v in res.schedule.runs.items()}
    assert naive_scan(inst.memory, inst.prefill.tolist(), inst.decode.tolist(),
                      inst.arrival.tolist(), p, runs, inst.block_size)[0]


@FUZZ
@given(check_cases())
def test_user_algorithm_cannot_fool_solve(case):
    """A registered algorithm returning hostile starts: ``feasible`` only when the naive scan
    agrees; anything else is status ``error``, never an escaped builtin exception."""
    inst, starts, _runs, _shape = case
    register("fuzz-user", lambda instance, *, deadline, seed: list(starts), replace=True)
    try:
        res = solve(inst, "fuzz-user")
    finally:
        unregister("fuzz-user")
    ref = _reference_schedule(inst, starts, {})
    ok = ref is not None and naive_scan(inst.memory, inst.prefill.tolist(), inst.decode.tolist(),
                                        inst.arrival.tolist(), ref[0], {}, inst.block_size)[0]
    assert (res.status is SolveStatus.FEASIBLE) == ok, (starts, res.message)
