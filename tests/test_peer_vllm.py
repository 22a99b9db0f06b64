"""The compare side of ``benchmarks/peer_vllm.py`` (lpsched's engine with the ``vllm`` policy
against recordings of the real vLLM V1 scheduler), without vLLM: hand-made decisions, a
hand-computed schedule, recordings fabricated by the naive V1 model, and the committed
recordings (skipped with the reason when they are absent)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lpsched.engine import EngineLimits
from lpsched.instance import Instance, read_trace
from tests.bench_scripts import BENCHMARKS, load_script
from tests.oracle_vllm_v1 import V1Limits, V1Oracle
from tests.strategies import examples, paged_instances

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
    assert row["max_abs_completion_diff"] == 1
    assert (row["vllm_preemptions"], row["lpsched_preemptions"]) == (1, 1)
    assert (row["vllm_objective"], row["lpsched_objective"]) == (19, 21)


def test_agreement_refuses_different_request_sets():
    a = pv.Decisions({"a": 1}, {"a": ()}, {"a": 2})
    b = pv.Decisions({"b": 1}, {"b": ()}, {"b": 2})
    with pytest.raises(ValueError, match="different requests"):
        pv.agreement(a, b, {"a": 0})


def test_adapter_expresses_a_preemption_in_engine_steps():
    # M = 5 tokens, blocks of 1, prompts of 2 under V1's accounting (s + j - 1 tokens in the
    # j-th step): both start in step 1 (2 + 2 tokens), need 3 + 3 > 5 in step 2: r1 (the
    # latest) is preempted in step 2, nothing is admitted in that step; r1's resume (2 + 1
    # computed tokens) does not fit beside r0 (4) in step 3; it runs again from step 4 and
    # samples its second and third tokens in steps 4 and 5.
    inst = Instance.from_arrays(5, [2, 2], [3, 3], ids=["r0", "r1"])
    lim = EngineLimits(block_size=1, max_num_seqs=5, max_num_batched_tokens=5,
                       chunked_prefill=True, kv_accounting="v1")
    got = pv.lpsched_decisions(inst, lim).decisions
    assert dict(got.first) == {"r0": 1, "r1": 1}
    assert dict(got.preempted) == {"r0": (), "r1": (2,)}
    assert dict(got.finished) == {"r0": 3, "r1": 5}
    ref = V1Oracle([2, 2], [3, 3], [0, 0], V1Limits(1, 5, 5, 5)).run()
    assert (ref.first, ref.preempted, ref.finished) == ({0: 1, 1: 1}, {0: [], 1: [2]},
                                                         {0: 3, 1: 5})


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
        pv.compare_one({"format": "something-else", "workload": "w"})


def _fabricated(prompts, decodes, arrivals, lim: EngineLimits, blocks: int) -> dict:
    """A recording in the full layout whose decisions are the naive V1 model's."""
    assert lim.max_num_seqs is not None and lim.max_num_batched_tokens is not None
    ref = V1Oracle(prompts, decodes, arrivals, V1Limits(
        lim.block_size, blocks, lim.max_num_seqs, lim.max_num_batched_tokens,
        lim.watermark_blocks(blocks * lim.block_size),
        asynchronous=lim.async_scheduling)).run(100_000)
    reqs = [{"id": f"r{k}", "prefill": p, "decode": o, "arrival": a, "prompt": p,
             "first_scheduled": ref.first[k], "preempted": list(ref.preempted[k]),
             "chunks": [], "finished": ref.finished[k]}
            for k, (p, o, a) in enumerate(zip(prompts, decodes, arrivals))]
    st_ = {"block_size": lim.block_size, "usable_blocks": blocks,
           "max_num_seqs": lim.max_num_seqs,
           "max_num_batched_tokens": lim.max_num_batched_tokens, "watermark": lim.watermark,
           "long_prefill_token_threshold": 0, "enable_chunked_prefill": True,
           "scheduler_reserve_full_isl": True, "enable_prefix_caching": False,
           "policy": "fcfs", "async_scheduling": lim.async_scheduling}
    return {"format": pv.FORMAT, "workload": "fabricated", "vllm_version": "oracle",
            "prompt_offset": 0, "settings": st_, "wall_seconds": 0.0,
            "num_steps": len(ref.step_tokens), "requests": reqs,
            "steps": {"scheduled_tokens": ref.step_tokens}}


@settings(max_examples=examples(100), suppress_health_check=[HealthCheck.too_slow])
@given(inst=paged_instances(max_block=8, max_n=8, max_memory=64, max_decode=12),
       budget=st.integers(1, 40), seqs=st.integers(1, 8), wm=st.sampled_from([0.0, 0.1]),
       asy=st.booleans())
def test_compare_path_agrees_with_recordings_of_the_v1_model(inst, budget, seqs, wm, asy):
    """``compare_one`` (recording -> instance and limits -> engine -> decisions -> agreement),
    in both layouts, on recordings fabricated by the naive V1 model of
    ``tests/oracle_vllm_v1.py`` (chunked prefill at small budgets, watermarks, both
    schedulers): every decision agrees."""
    assume(int(inst.prefill.min()) >= 1)  # V1 needs a prompt token
    b = inst.block_size
    lim = EngineLimits(block_size=b, max_num_seqs=min(seqs, budget),
                       max_num_batched_tokens=budget, chunked_prefill=True, watermark=wm,
                       kv_accounting="v1", async_scheduling=asy)
    rec = _fabricated(inst.prefill.tolist(), inst.decode.tolist(),
                      inst.arrival.tolist(), lim, inst.memory // b)
    for layout in (rec, json.loads(json.dumps(pv.slim(rec)))):
        row = pv.compare_one(layout)
        assert (row["first_admission_pct"], row["preemptions_pct"], row["completion_pct"]) \
            == (100.0, 100.0, 100.0), layout["format"]
        assert row["vllm_objective"] == row["lpsched_objective"]


def test_compare_refuses_settings_outside_the_engine(tmp_path, capsys):
    """A recording with prefix caching on: a one-line error naming the file, exit status 2."""
    lim = EngineLimits(block_size=1, max_num_seqs=5, max_num_batched_tokens=5,
                       chunked_prefill=True, kv_accounting="v1")
    rec = _fabricated([2, 2], [3, 3], [0, 0], lim, 5)
    rec["settings"]["enable_prefix_caching"] = True
    (tmp_path / "w.json").write_text(json.dumps(rec))
    with pytest.raises(SystemExit) as exc:
        pv.main(["compare", str(tmp_path), "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "w.json" in err and "prefix caching" in err


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


@pytest.mark.skipif(not RECORDINGS.is_dir() or not any(RECORDINGS.glob("*.json")),
                    reason=NO_RECORDINGS)
def test_every_committed_recording_agrees_decision_for_decision():
    """The result of benchmarks/results/peer_vllm.md: on every committed recording of
    vLLM's V1 schedulers (sync and async, binding budgets, heavy preemption, vllm serve's
    defaults) the engine takes every decision vLLM took."""
    for path in sorted(RECORDINGS.glob("*.json")):
        row = pv.compare_one(json.loads(path.read_text()))
        assert (row["first_admission_pct"], row["preemptions_pct"], row["completion_pct"]) \
            == (100.0, 100.0, 100.0), path.name
        assert row["vllm_objective"] == row["lpsched_objective"], path.name


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
