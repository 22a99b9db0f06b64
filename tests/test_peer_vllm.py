"""The compare side of ``benchmarks/peer_vllm.py`` (lpsched's ``vllm`` policy against recordings
of the real vLLM V1 scheduler), without vLLM: hand-made decisions, a hand-computed schedule,
and the committed recordings (skipped with the reason when they are absent)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from lpsched.instance import Instance, Request, read_trace
from tests.bench_scripts import BENCHMARKS, load_script
from tests.oracle_vllm_v1 import V1Limits, V1Oracle
from tests.strategies import paged_instances

pv = load_script("peer_vllm")
RECORDINGS = BENCHMARKS / "results" / "peer_vllm"
NO_RECORDINGS = "no committed recordings in benchmarks/results/peer_vllm (they are written by " \
                "`peer_vllm.py record` in a virtual environment with vLLM)"


def test_agreement_counts_each_kind_of_decision():
    peer = pv.Decisions({"a": 1, "b": 1, "c": 2}, {"a": (), "b": (5,), "c": ()},
                        {"a": 4, "b": 9, "c": 7})
    ours = pv.Decisions({"a": 1, "b": 2, "c": 2}, {"a": (), "b": (6,), "c": ()},
                        {"a": 4, "b": 10, "c": 8})
    row = pv.agreement(peer, ours, {"a": 0, "b": 0, "c": 1})
    assert row["n"] == 3
    assert row["first_admission_pct"] == pytest.approx(66.7)  # rounded to 0.1 by agreement
    assert row["preemptions_pct"] == pytest.approx(66.7)
    assert row["completion_pct"] == pytest.approx(33.3)
    assert row["mean_abs_completion_diff"] == pytest.approx(2 / 3, abs=0.005)
    assert (row["vllm_preemptions"], row["lpsched_preemptions"]) == (1, 1)
    assert (row["vllm_objective"], row["lpsched_objective"]) == (19, 21)


def test_agreement_refuses_different_request_sets():
    a = pv.Decisions({"a": 1}, {"a": ()}, {"a": 2})
    b = pv.Decisions({"b": 1}, {"b": ()}, {"b": 2})
    with pytest.raises(ValueError, match="different requests"):
        pv.agreement(a, b, {"a": 0})


def test_adapter_expresses_a_preemption_in_engine_steps():
    # M = 5 tokens, blocks of 1: both start at 0 (steps 1..), memory 2 + 2 in step 1, 3 + 3 > 5
    # in step 2: r1 (latest) is preempted before step 2; no admission in that step, r1's
    # resume (2 + 1 tokens) does not fit beside r0 (4) in step 3; it resumes at 3, runs 4..5.
    # V1 with prompts of 2 tokens does the same (recompute preemption of running[-1]).
    inst = Instance(5, [Request("r0", 1, 3), Request("r1", 1, 3)])
    got = pv.lpsched_decisions(inst, {"watermark": 0.0})
    assert dict(got.first) == {"r0": 1, "r1": 1}
    assert dict(got.preempted) == {"r0": (), "r1": (2,)}
    assert dict(got.finished) == {"r0": 3, "r1": 5}


def test_trace_rows_map_arrivals_as_read_trace(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("arrived_at,num_prefill_tokens,num_decode_tokens\n"
                   "1.0,5,2\n1.01,7,3\n1.075,4,4\n1.1,9,1\n2.0,3,3\n")
    ids, s, o, a = pv.trace_rows(csv, limit=4)
    inst = read_trace(csv, 100, limit=4)
    assert ids == list(inst.ids)
    assert s == inst.prefill.tolist() and o == inst.decode.tolist()
    assert a == inst.arrival.tolist() == [0, 0, 3, 4]


def test_a_bad_trace_row_is_a_one_line_error(tmp_path, capsys):
    csv = tmp_path / "t.csv"
    csv.write_text("arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,5,2\n0.5,x,3\n")
    with pytest.raises(SystemExit) as exc:
        pv.trace_rows(csv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(csv) in err and "request 2" in err


def test_slim_copy_expands_to_the_recording():
    rec = {"format": pv.FORMAT, "workload": "w", "num_steps": 5,
           "steps": {"scheduled_tokens": [9, 2, 2, 2, 1], "blocks_used": [1, 1, 1, 1, 1]},
           "requests": [{"id": "a", "first_scheduled": 1, "preempted": [], "finished": 4},
                        {"id": "b", "first_scheduled": 1, "preempted": [3], "finished": 5}]}
    small = pv.slim(rec)
    assert small["steps"] == {"scheduled_tokens_rle": [[9, 1], [2, 3], [1, 1]]}
    back = pv.expand(json.loads(json.dumps(small)))
    assert back == rec | {"steps": {"scheduled_tokens": [9, 2, 2, 2, 1]}}


def test_compare_without_recordings_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        pv.main(["compare", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no recordings" in err and str(tmp_path) in err


def test_compare_refuses_an_unknown_format():
    with pytest.raises(ValueError, match="format"):
        pv.compare_one({"format": "something-else", "workload": "w"}, "defaults")


@pytest.mark.skipif(not (RECORDINGS / "tiny_plus1.json").is_file(), reason=NO_RECORDINGS)
def test_tiny_recording_with_prompt_plus_one_agrees_decision_for_decision():
    """With vLLM prompts one token longer than lpsched's prefill, V1 holds s + j tokens in the
    j-th step as lpsched does; with V1's settings every decision agrees (no binding budget)."""
    rec = pv.expand(json.loads((RECORDINGS / "tiny_plus1.json").read_text()))
    assert rec["prompt_offset"] == 1 and sum(len(r["preempted"]) for r in rec["requests"]) > 0
    row = pv.compare_one(rec, "v1-settings")
    assert (row["first_admission_pct"], row["preemptions_pct"], row["completion_pct"]) \
        == (100.0, 100.0, 100.0)
    assert row["vllm_objective"] == row["lpsched_objective"]


@pytest.mark.skipif(not RECORDINGS.is_dir() or not any(RECORDINGS.glob("*.json")),
                    reason=NO_RECORDINGS)
def test_every_committed_recording_is_consistent():
    """Each recording names the same requests once, with its own settings, and its decisions
    are in order (admitted at or after arrival + 1, preempted after admission, finished after
    at least decode steps); the compare runs on it."""
    for path in sorted(RECORDINGS.glob("*.json")):
        rec = pv.expand(json.loads(path.read_text()))
        assert rec["format"] == pv.FORMAT, path.name
        reqs = rec["requests"]
        assert len({r["id"] for r in reqs}) == len(reqs), path.name
        for r in reqs:
            assert r["prompt"] == r["prefill"] + rec["prompt_offset"], (path.name, r["id"])
            assert r["first_scheduled"] >= r["arrival"] + 1, (path.name, r["id"])
            assert all(t > r["first_scheduled"] for t in r["preempted"]), (path.name, r["id"])
            assert r["finished"] >= r["first_scheduled"] + r["decode"] - 1, (path.name, r["id"])
        assert len(rec["steps"]["scheduled_tokens"]) == rec["num_steps"], path.name
        assert pv.compare_one(rec, "v1-settings")["n"] == len(reqs)


def _oracle_matches(path) -> None:
    rec = pv.expand(json.loads(path.read_text()))
    s, reqs = rec["settings"], rec["requests"]
    limits = V1Limits(s["block_size"], s["usable_blocks"], s["max_num_seqs"],
                      s["max_num_batched_tokens"], s["watermark_blocks"],
                      s["long_prefill_token_threshold"], s["scheduler_reserve_full_isl"],
                      bool(s["async_scheduling"]))
    got = V1Oracle([r["prompt"] for r in reqs], [r["decode"] for r in reqs],
                   [r["arrival"] for r in reqs], limits).run()
    for k, r in enumerate(reqs):
        assert (got.first[k], got.preempted[k], got.finished[k]) \
            == (r["first_scheduled"], r["preempted"], r["finished"]), (path.name, r["id"])
    assert got.step_tokens == rec["steps"]["scheduled_tokens"], path.name


FAST_ORACLE_CASES = ("tiny", "tiny_plus1_async", "budget2048_plus1", "budget2048_async")


@pytest.mark.parametrize("name", FAST_ORACLE_CASES)
def test_v1_oracle_reproduces_recordings(name):
    """The naive V1 model of tests/oracle_vllm_v1.py decides as the real scheduler did: every
    first admission, preemption and completion step and every step's token count (chunked
    prefill under a binding budget and asynchronous scheduling included)."""
    path = RECORDINGS / f"{name}.json"
    if not path.is_file():
        pytest.skip(NO_RECORDINGS)
    _oracle_matches(path)


@pytest.mark.slow
@pytest.mark.skipif(not RECORDINGS.is_dir() or not any(RECORDINGS.glob("*.json")),
                    reason=NO_RECORDINGS)
def test_v1_oracle_reproduces_every_recording():
    for path in sorted(RECORDINGS.glob("*.json")):
        _oracle_matches(path)


@settings(max_examples=300, deadline=None)
@given(paged_instances(max_block=8, max_n=8, max_memory=64, max_decode=16))
def test_vllm_policy_decides_as_the_v1_oracle_with_prompts_one_longer(inst):
    """Today's ``vllm`` policy with V1's settings (watermark 0, a budget that cannot bind)
    and V1 with prompts ``s + 1`` (which hold ``s + j`` tokens in their ``j``-th step, as
    lpsched's model does) take the same decisions on random paged instances."""
    b = inst.block_size
    blocks = inst.memory // b
    budget = blocks * b  # a step computes at most one token per KV slot
    seqs = budget  # every running request holds a block: neither limit binds (vLLM needs
    #                max_num_seqs <= max_num_batched_tokens)
    ours = pv.lpsched_decisions(inst, {"watermark": 0.0, "max_num_seqs": seqs,
                                       "max_num_batched_tokens": budget})
    v1 = V1Oracle((inst.prefill + 1).tolist(), inst.decode.tolist(), inst.arrival.tolist(),
                  V1Limits(b, blocks, seqs, budget)).run()
    for k, rid in enumerate(inst.ids):
        assert (ours.first[rid], list(ours.preempted[rid]), ours.finished[rid]) \
            == (v1.first[k], v1.preempted[k], v1.finished[k]), rid
