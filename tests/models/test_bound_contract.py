"""``lower_bound`` and ``lpsched bound``: every label true, memory guarded, no silent wait
(issue 19 items 3, 5, 6)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.cli import main
from lpsched.generators import random_instance
from lpsched.instance import Instance, Request, write_json
from lpsched.models import cli as models_cli
from lpsched.models.bounds import SOURCES, _area_in, lower_bound
from lpsched.models.combinatorial import (
    area_bound,
    combined_bound,
    exact_lengths,
    mean_busy_bound,
)
from tests.oracle import brute_force_optimum
from tests.strategies import examples


def _named_value(b) -> int:
    """The value of the component ``b.details["source"]`` names."""
    src = b.details["source"]
    assert src in SOURCES
    if src in ("lp", "bucket"):
        return int(np.ceil(b.details["lp_value"] - 1e-6))  # the rounding of bounds.py
    return int(b.details[src])


@pytest.mark.parametrize("method", ["combinatorial", "best", "bucket", "lp"])
def test_the_named_source_is_the_value_returned(method):
    for seed in range(6):
        inst = random_instance(6, 30, seed, max_decode=8, max_arrival=12 * (seed % 2))
        b = lower_bound(inst, method)
        assert _named_value(b) == b.value
        if method == "best":
            assert b.details["best_of"] == b.details["source"]


def test_a_timed_out_lp_is_not_named():
    """Issue 19: ``--time-limit 20`` printed ``best_of bucket`` for the area bound's value."""
    inst = random_instance(60, 65536, 1, max_decode=2000, max_prefill=8000, max_arrival=3000)
    b = lower_bound(inst, "best", time_limit=1e-6)
    assert b.details["lp_status"] == "time_limit"
    assert b.details["source"] not in ("lp", "bucket")
    assert _named_value(b) == b.value


def _huge(decode: int, arrival: int) -> Instance:
    return Instance(4 * decode + 40, [Request("r0", 10, decode), Request("r1", 10, decode, arrival),
                                 Request("r2", 10, decode)])


@pytest.mark.parametrize("decode,arrival", [(10**9, 0), (10**9, 5), (4, 10**12)])
def test_huge_lengths_are_refused_with_a_reason_not_allocated(decode, arrival):
    inst = _huge(decode, arrival)
    t = time.perf_counter()
    b = lower_bound(inst, "best")
    assert time.perf_counter() - t < 2.0  # nothing of the horizon's size was allocated
    assert "skipped: estimated" in b.details["refused"] and "guard" in b.details["refused"]
    assert b.details["lp_status"] == "refused"
    # all three fit together (peaks 3 decode + 30 <= M): the optimum is the sum of decodes
    assert b.value == 3 * decode == _named_value(b)


def test_exact_lengths_do_not_wrap():
    inst = Instance(10**12, [Request("a", 5, 10**9), Request("b", 7, 3 * 10**8)])
    s, o, A = exact_lengths(inst)
    assert A.dtype == object
    exact = [5 * 10**9 + 10**9 * (10**9 + 1) // 2, 7 * 3 * 10**8 + 3 * 10**8 * (3 * 10**8 + 1) // 2]
    assert sorted(A.tolist()) == sorted(exact)
    M = inst.memory
    assert area_bound(inst) == -(-min(exact) // M) + -(-sum(exact) // M)
    assert combined_bound(inst) == 10**9 + 3 * 10**8
    assert mean_busy_bound(inst) <= 10**9 + 3 * 10**8 + 1  # both fit at once: OPT = sum o


@settings(max_examples=examples(200))
@given(s=st.integers(0, 6), o=st.integers(1, 9), kl=st.integers(0, 20), span=st.integers(0, 6),
       lo=st.integers(1, 30), width=st.integers(1, 12))
def test_bucket_area_minimum_is_at_an_end_of_the_bucket(s, o, kl, span, lo, width):
    """``E(k, S)`` is unimodal in ``k``, so the bucket LP's ``min`` over a bucket's starts is
    at its first or last start (bounds.py docstring); checked against every start."""
    kh, hi = kl + span, lo + width - 1
    ks = np.arange(kl, kh + 1)
    every = _area_in(s, o, ks, np.int64(lo), np.int64(hi)).min()
    ends = min(_area_in(s, o, np.array([kl]), lo, hi)[0], _area_in(s, o, np.array([kh]), lo, hi)[0])
    assert ends == every


@settings(max_examples=examples(40))
@given(st.integers(0, 10**6))
def test_best_bound_below_the_optimum_and_named(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5))
    inst = random_instance(n, 14, seed, max_decode=5, max_arrival=int(rng.integers(0, 8)))
    opt = brute_force_optimum(inst.memory, inst.prefill.tolist(), inst.decode.tolist(),
                              inst.arrival.tolist())[0]
    b = lower_bound(inst, "best")
    assert b.value <= opt
    assert _named_value(b) == b.value


def test_cli_names_the_source_and_reports_refusals(tmp_path, capsys):
    path = tmp_path / "huge.json"
    write_json(_huge(10**9, 0), path)
    assert main(["bound", str(path)]) == 0
    cap = capsys.readouterr()
    assert "(best: the decode bound)" in cap.out
    err = cap.err.strip().splitlines()
    assert len(err) == 1 and "skipped: estimated" in err[0] and "returned the decode bound" in err[0]
    assert main(["bound", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["source"] == "decode" and out["lower_bound"] == 3 * 10**9


def test_cli_default_time_limit_and_progress(monkeypatch, capsys):
    seen = {}

    def slow_bound(inst, method, **kw):
        seen.update(kw)
        kw["progress"]("a slow stage")
        time.sleep(0.3)
        return lower_bound(inst, method)

    monkeypatch.setattr(models_cli, "PROGRESS_AFTER", 0.05)
    monkeypatch.setattr("lpsched.models.bounds.lower_bound", slow_bound)
    assert main(["bound", "tiny-1"]) == 0
    cap = capsys.readouterr()
    assert seen["time_limit"] == models_cli.DEFAULT_BOUND_TIME_LIMIT == 60.0
    assert "lpsched bound: 0 s, a slow stage (time limit 60 s)" in cap.err
    assert "lower bound  4" in cap.out
    monkeypatch.setattr(models_cli, "PROGRESS_AFTER", 3.0)
    assert main(["bound", "tiny-1", "--time-limit", "5"]) == 0
    cap = capsys.readouterr()
    assert seen["time_limit"] == 5.0 and cap.err == ""  # quick: no progress line


@pytest.mark.parametrize("decode,arrival", [(10**11, 0), (4, 10**12)])
def test_exact_models_refuse_huge_horizons_with_a_reason(decode, arrival):
    """Issue 19 item 3: the warm start and the time-indexed build size their per-step
    arrays first (decodes of 10^11 or arrivals of 10^12 steps: terabytes); they return the
    sequential schedule and say why, instead of a MemoryError."""
    from lpsched.check import check
    from lpsched.solve import solve

    inst = _huge(decode, arrival)
    for algo in ("milp", "cpsat"):
        t = time.perf_counter()
        res = solve(inst, algo, time_limit=5)
        assert time.perf_counter() - t < 6.0
        assert res.status.value in ("optimal", "time_limit"), res.message
        assert check(inst, res.schedule.starts).feasible
        assert res.lower_bound <= res.objective
        if algo == "milp":
            assert "model not built: estimated" in res.message
            assert res.stats["warm_start_from"] == "sequential"


def test_cheap_bounds_are_sized_against_the_time_left():
    """The O(n d) tail bound and the release-date bound are skipped, with a reason, when
    the time limit cannot pay for them; the call still honours its limit."""
    inst = random_instance(3000, 5000, 4, max_decode=400, max_prefill=2000, max_arrival=60000)
    t = time.perf_counter()
    b = lower_bound(inst, "best", time_limit=0.01)
    assert time.perf_counter() - t < 1.0  # L + max(1 s, 5%)
    assert "tail bound skipped" in b.details["refused"]
    assert "release-date bound skipped" in b.details["refused"]
    assert b.details["tail"] == 0 and "release_busy" not in b.details
    assert _named_value(b) == b.value >= b.details["decode"]
