"""Replay in seconds: timeline and metrics against hand computations, the CLI end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.instance import Instance, Request
from lpsched.schedule import Schedule
from lpsched.serving.metrics import serving_metrics
from lpsched.serving.replay import load_workload, replay
from lpsched.serving.timeline import build_timeline, runs_of, step_record
from lpsched.simulate import simulate
from tests.strategies import examples, instances


class RowsModel:
    """Fake step-time model: 0.1 s per token row (duck-typed like StepTimeModel)."""

    def step_seconds(self, rows, kv, prefill_sq, outputs):
        return 0.1 * np.asarray(rows, dtype=float)


class Constant:
    def step_seconds(self, rows, kv, prefill_sq, outputs):
        return np.where(np.asarray(rows) > 0, 1.0, 0.0)


def _two_requests():
    inst = Instance(100, [Request("a", 10, 3), Request("b", 5, 2, arrival=1)])
    return inst, simulate(inst, "fcfs")


def test_metrics_by_hand():
    """a (s=10, o=3) starts at 0, b (s=5, o=2, arrives at 1) at 1. Rows per step:
    10 (a's prefill), 1 + 5 (a decodes, b's prefill), 2; at 0.1 s per row the steps last
    1.0, 0.6, 0.2 s, so the clock is 0, 1, 1.6, 1.8."""
    inst, sim = _two_requests()
    assert sim.schedule.starts.tolist() == [0, 1]
    rec = step_record(inst, runs_of(inst, sim))
    assert rec.rows.tolist() == [10, 6, 2]
    assert rec.kv.tolist() == [0, 12, 20]  # decode attention reads a's 12 then 13 + b's 7
    assert rec.prefill_sq.tolist() == [110, 30, 0]
    tl = build_timeline(inst, runs_of(inst, sim), RowsModel(), idle_seconds=1.0)
    assert np.allclose(tl.clock, [0, 1.0, 1.6, 1.8])
    m = serving_metrics(inst, tl)
    ttft = [1.0, 0.6]
    e2el = [1.8, 0.8]
    tpot = [(1.8 - 1.0) / 2, (0.8 - 0.6) / 1]
    itl = [0.6, 0.2, 0.2]
    assert m["completed"] == 2 and m["total_input_tokens"] == 15
    assert m["total_output_tokens"] == 5
    assert m["duration"] == pytest.approx(1.8)
    assert m["request_throughput"] == pytest.approx(2 / 1.8)
    assert m["output_throughput"] == pytest.approx(5 / 1.8)
    assert m["total_token_throughput"] == pytest.approx(20 / 1.8)
    for key, vals in (("ttft", ttft), ("e2el", e2el), ("tpot", tpot), ("itl", itl)):
        v = np.asarray(vals) * 1e3
        assert m[f"mean_{key}_ms"] == pytest.approx(v.mean())
        assert m[f"median_{key}_ms"] == pytest.approx(np.median(v))
        assert m[f"std_{key}_ms"] == pytest.approx(v.std())
        assert m[f"p99_{key}_ms"] == pytest.approx(np.percentile(v, 99))


def _fake_sim(inst, starts, runs=None):
    return SimpleNamespace(schedule=Schedule(inst, starts, runs))


def test_resumed_segments_keep_progress():
    """Segments [[0, 2], [4, 1]] (issue 13 section 2): the resume refills s + 2 = 4 rows
    and emits token 3 at the end of step 5."""
    inst = Instance(20, [Request("r", 2, 3)])
    sim = _fake_sim(inst, [0], runs={0: ((0, 2), (4, 1))})
    runs = runs_of(inst, sim)
    assert runs.progress.tolist() == [0, 2]
    rec = step_record(inst, runs)
    assert rec.rows.tolist() == [2, 1, 0, 0, 4]
    assert rec.prefill_sq.tolist() == [6, 0, 0, 0, 20]
    tl = build_timeline(inst, runs, Constant(), idle_seconds=1.0)
    assert tl.e2el.tolist() == [5.0] and tl.itl.tolist() == [1.0, 3.0]


def test_chunked_prefill_spreads_the_fill():
    """Budget 4 rows: a's 10-row prefill takes steps 1-3 (4 + 4 + 2 rows; a does not
    decode before its fill is done); the tokens the simulator put in steps 1-3 are
    delivered at the end of step 3, tokens 4 and 5 in steps 4 and 5."""
    inst = Instance(100, [Request("a", 10, 5)])
    sim = simulate(inst, "fcfs")
    tl = build_timeline(inst, runs_of(inst, sim), RowsModel(), idle_seconds=1.0,
                        chunk_tokens=4)
    assert np.allclose(tl.step_seconds, [0.4, 0.4, 0.2, 0.1, 0.1])
    assert tl.ttft[0] == pytest.approx(1.0)
    assert tl.e2el[0] == pytest.approx(1.2)
    assert np.allclose(tl.itl, [0, 0, 0.1, 0.1])


def test_replay_latencies_follow_the_clock():
    """With exact lengths fcfs never evicts. The engine runs in seconds: TTFT =
    clock[p+1] - arrival and E2EL = clock[p+o] - arrival from the *true* arrival time,
    and a request is revealed at the first decision time whose clock reaches its arrival
    (clock[a] >= arrival > clock[a-1] unless the engine was idle and jumped to it)."""
    w = load_workload("azure_conv_2023", num_prompts=60, rate=3.0, seed=1)
    res = replay(w, "fcfs", gpu="h200", model="llama3-8b")
    inst, tl = res.instance, res.timeline
    p, o, a = res.simulation.schedule.starts, inst.decode, inst.arrival
    # float sums of the same step durations: equal to rounding (1e-9 s)
    assert np.allclose(tl.ttft, tl.clock[p + 1] - w.arrival_s, rtol=0, atol=1e-9)
    assert np.allclose(tl.e2el, tl.clock[p + o] - w.arrival_s, rtol=0, atol=1e-9)
    assert np.array_equal(tl.arrival, w.arrival_s) and np.all(tl.ttft > 0)
    begin = tl.clock[1:] - tl.step_seconds  # when each step starts
    assert np.all(begin[p] >= w.arrival_s - 1e-9)  # nothing runs before it arrived
    late = a >= 1
    assert np.all(begin[a[late] - 1] < w.arrival_s[late])  # revealed at the first chance
    assert res.metrics["preemptions"] == 0 and res.metrics["completed"] == 60
    assert res.metrics["tensor_parallel"] == 1 and res.metrics["arrival_error_ms"] == 0
    assert res.metrics["mean_e2el_ms"] == pytest.approx(tl.e2el.mean() * 1e3, rel=1e-12)


def test_replay_given_predictions_equal_the_noise_path():
    """``predictions`` is the same channel as ``prediction_noise``: the log-normal draws
    passed explicitly give the same replay; the true lengths give the exact replay."""
    from lpsched.simulate import noisy_predictions

    w = load_workload("azure_conv_2023", num_prompts=80, rate=6.0, seed=2)
    noisy = replay(w, "mc-sf", gpu="h200", model="llama3-8b", memory=6000,
                   prediction_noise=0.8, seed=3)
    given_ = replay(w, "mc-sf", gpu="h200", model="llama3-8b", memory=6000,
                    predictions=noisy_predictions(noisy.instance, 0.8, 3))
    assert given_.metrics["preemptions"] > 0  # the noise matters here
    # exact on purpose: the same schedule through the same step-time model in this process
    # must give the same floats, bit for bit (no tolerance could hide a different path)
    for k in ("mean_e2el_ms", "p99_ttft_ms", "preemptions", "steps"):
        assert given_.metrics[k] == noisy.metrics[k]
    exact = replay(w, "mc-sf", gpu="h200", model="llama3-8b", memory=6000)
    true = replay(w, "mc-sf", gpu="h200", model="llama3-8b", memory=6000,
                  predictions=np.asarray(w.decode))
    assert true.metrics["mean_e2el_ms"] == exact.metrics["mean_e2el_ms"]
    assert exact.metrics["status"] == "ok" and exact.metrics["drained"] == 0
    with pytest.raises(ValueError, match="not both"):
        replay(w, "mc-sf", prediction_noise=0.5, predictions=np.asarray(w.decode))


def test_replay_time_limit_drains_and_says_so():
    """A tiny budget (1 us) drains every simulation run at once: the replay still
    completes every request with a checked schedule, and reports the drain."""
    w = load_workload("arxiv_summarization", num_prompts=50, rate=20.0, seed=0)
    res = replay(w, "sorted-lp-online", gpu="h200", model="llama3-8b", time_limit=1e-6)
    m = res.metrics
    assert m["status"] == "drained" and m["drained"] > 0 and m["completed"] == 50
    assert m["time_limit"] == 1e-6 and m["schedule_checked"]


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lpsched.cli", "replay", *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


VLLM_KEYS = ["duration", "completed", "total_input_tokens", "total_output_tokens",
             "request_throughput", "output_throughput", "total_token_throughput"] + [
    f"{stat}_{m}_ms" for m in ("ttft", "tpot", "itl", "e2el")
    for stat in ("mean", "median", "std", "p99")]


def test_cli_bundled_profile_json():
    r = _cli("azure_conv_2023", "--algo", "alpha-beta-clearing", "--num-prompts", "40",
             "--json", "--options", '{"alpha": 0.2}')
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert all(k in m for k in VLLM_KEYS)
    assert m["completed"] == 40 and m["algorithm"] == "alpha-beta-clearing"
    assert m["tensor_parallel"] == 2 and m["schedule_checked"] is True


def test_cli_user_csv_text_and_errors(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("arrived_at,num_prefill_tokens,num_decode_tokens\n"
                   "0.0,100,20\n0.05,300,5\n0.1,50,40\n2.0,10,1\n")
    r = _cli(str(csv), "--algo", "mc-sf", "--model", "llama3-8b", "--chunked-prefill", "256")
    assert r.returncode == 0, r.stderr
    assert "Successful requests:                     4" in r.stdout
    assert "Mean TTFT (ms):" in r.stdout and "Preemptions:" in r.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("num_prefill_tokens,num_decode_tokens\n10,0\n")
    r = _cli(str(bad), "--algo", "fcfs", "--rate", "1")
    assert r.returncode == 2 and "bad.csv" in r.stderr and "Traceback" not in r.stderr
    nots = tmp_path / "nots.csv"
    nots.write_text("num_prefill_tokens,num_decode_tokens\n10,3\n")
    r = _cli(str(nots), "--algo", "fcfs")
    assert r.returncode == 2 and "--rate" in r.stderr
    r = _cli(str(csv), "--algo", "fcfs", "--memory", "50")
    assert r.returncode == 2 and "exceeds memory 50" in r.stderr
    r = _cli(str(csv), "--algo", "milp")
    assert r.returncode == 2 and "online policy" in r.stderr


def _plain_timeline(inst, sim, model, idle):
    """Naive per-step scan: every run (a request's single run, or each segment of a
    preempted one with the progress r of the earlier segments) step by step; a segment
    refills s + r rows in its first step and emits tokens r+1 .. r+d."""
    s, o = inst.prefill.tolist(), inst.decode.tolist()
    runs = []  # (request, start, steps, progress)
    for k, p in enumerate(sim.schedule.starts.tolist()):
        segs = sim.schedule.runs.get(k, ((p, o[k]),))
        r = 0
        for q, d in segs:
            runs.append((k, int(q), int(d), r))
            r += int(d)
    T = max(p + d for _, p, d, _ in runs)
    dur = []
    for t in range(1, T + 1):
        rows = kv = sq = out = 0
        for k, p, d, r in runs:
            if p + 1 == t:
                rows += max(s[k] + r, 1)
                sq += (s[k] + r) * (s[k] + r + 1)
                out += 1
            elif p + 1 < t <= p + d:
                rows += 1
                kv += s[k] + r + t - p
                out += 1
        dur.append(float(model.step_seconds(rows, kv, sq, out)) if out else idle)
    clock = [0.0]
    for x in dur:
        clock.append(clock[-1] + x)
    first = {}
    for k, p, d, r in runs:
        for j in range(1, d + 1):
            assert (k, r + j) not in first  # every token is emitted once
            first[(k, r + j)] = clock[p + j]
    ttft, e2el, itl = [], [], []
    for k in range(inst.n):
        times = [first[(k, j)] for j in range(1, o[k] + 1)]
        a = clock[int(inst.arrival[k])]
        ttft.append(times[0] - a)
        e2el.append(times[-1] - a)
        itl += list(np.diff(times))
    return np.asarray(clock), np.asarray(ttft), np.asarray(e2el), np.asarray(itl)


@settings(max_examples=examples(60))
@given(inst=instances(max_n=6, max_memory=40, max_decode=12),
       algo=st.sampled_from(["fcfs", "mc-sf", "alpha-protection", "vllm"]),
       noise=st.sampled_from([None, 0.8]), seed=st.integers(0, 3))
def test_timeline_matches_plain_scan(inst, algo, noise, seed):
    from lpsched.serving.steptime import build_step_time
    from lpsched.simulate import noisy_predictions

    opts = {"alpha": 0.0} if algo == "alpha-protection" else {}
    pred = None if noise is None else noisy_predictions(inst, noise, seed)
    sim = simulate(inst, algo, options=opts, predictions=pred)
    model = build_step_time("h100", "llama3-8b", 2)
    tl = build_timeline(inst, runs_of(inst, sim), model, idle_seconds=0.01)
    clock, ttft, e2el, itl = _plain_timeline(inst, sim, model, 0.01)
    assert np.allclose(tl.clock, clock)
    assert np.allclose(tl.ttft, ttft) and np.allclose(tl.e2el, e2el)
    assert np.allclose(np.sort(tl.itl), np.sort(itl))


def test_replay_itl_and_per_request_match_a_plain_token_walk(tmp_path):
    """Pooled ITL, TTFT and E2EL of a replay with preemptions against a plain walk over
    every token (token k of a run (p, d) at the end of step p + k), and the per-request
    CSV of the CLI against the metrics."""
    from lpsched.serving.replay import write_per_request

    w = load_workload("azure_conv_2023", num_prompts=120, rate=6.0, seed=5)
    res = replay(w, "vllm", gpu="h200", model="llama3-8b", memory=9000)
    sim, tl = res.simulation, res.timeline
    assert res.metrics["preemptions"] > 0
    times: list[list[float]] = [[] for _ in range(w.n)]
    for k in range(w.n):
        segs = sim.schedule.runs.get(k, ((int(sim.schedule.starts[k]), int(w.decode[k])),))
        for p, d in segs:
            times[k].extend(tl.clock[p + j] for j in range(1, d + 1))
    plain_itl = np.sort(np.concatenate([np.diff(t) for t in times]))
    # the same float differences, summed in another order: equal to 1e-9 s
    assert np.allclose(np.sort(tl.itl), plain_itl, rtol=0, atol=1e-9)
    assert np.allclose(tl.ttft, [t[0] for t in times] - w.arrival_s, rtol=0, atol=1e-9)
    assert np.allclose(tl.e2el, [t[-1] for t in times] - w.arrival_s, rtol=0, atol=1e-9)
    out = tmp_path / "per_request.csv"
    write_per_request(res, out)
    rows = out.read_text().splitlines()
    assert rows[0] == "id,arrival_s,first_token_s,finish_s,output_tokens,preemptions"
    cols = np.asarray([r.split(",")[1:] for r in rows[1:]], dtype=float)
    assert len(rows) == w.n + 1
    # written with 6 decimals: the mean E2EL agrees to 1e-6 s
    assert np.mean(cols[:, 2] - cols[:, 0]) * 1e3 == pytest.approx(
        res.metrics["mean_e2el_ms"], abs=1e-3)
    assert int(cols[:, 4].sum()) == res.metrics["preemptions"]
    r = _cli("azure_conv_2023", "--algo", "fcfs", "--num-prompts", "30", "--model",
             "llama3-8b", "--per-request", str(tmp_path / "cli.csv"))
    assert r.returncode == 0, r.stderr
    assert len((tmp_path / "cli.csv").read_text().splitlines()) == 31
