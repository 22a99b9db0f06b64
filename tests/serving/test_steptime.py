"""The serving step-time model (lpsched/serving/steptime.py) against hand computations."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.afd.calibration import DATA, CalibrationError, links, load_calibration
from lpsched.serving.opcosts import OPS_FILE, load_op_costs
from lpsched.serving.steptime import (
    OPS,
    SHAPES,
    build_step_time,
    default_tensor_parallel,
    holdout_residuals,
    kernel_residuals,
    knee_exponent,
    kv_capacity,
    smooth_max,
)


def _measured(gpu: str, model: str) -> dict:
    rows = list(csv.DictReader(open(DATA / f"{gpu}.csv", newline="")))
    att = {(int(float(r["batch"])), int(float(r["ctx"]))): float(r["ms_median"]) for r in rows
           if r["part"] == "attn_layer" and r["model"] == model}
    ffn = {int(float(r["batch"])): float(r["ms_median"]) for r in rows
           if r["part"] == "ffn_dense" and r["model"] == model}
    return {"att": att, "ffn": ffn}


@pytest.mark.parametrize("gpu", ["h100", "h200"])
@pytest.mark.parametrize("model", ["llama3-70b", "llama3-8b"])
def test_kernel_residuals_match_a_plain_recomputation(gpu, model):
    cal = load_calibration(gpu)
    a = cal.attention_fit(model, "roofline").params
    f = cal.ffn_fit(model, "roofline").params
    m = build_step_time(gpu, model, 1)
    pp, pf = m.knee_proj, m.knee_ffn
    data = _measured(gpu, model)
    rel = []
    for (b, ctx), y_att in data["att"].items():
        y = y_att + data["ffn"][b]
        pred = (_smax(a["b_P"], a["c_P"] * b, pp) + max(a["b"], a["a"] * b * ctx)
                + _smax(f["b"], f["a"] * b, pf))
        rel.append(abs(pred - y) / y)
    r = kernel_residuals(gpu, model)
    assert r["points"] == len(rel)
    assert r["median_rel_error"] == pytest.approx(float(np.median(rel)), rel=1e-9)
    assert r["max_rel_error"] == pytest.approx(max(rel), rel=1e-9)
    # what docs/serving.md reports: the decode model is within 4% (median) of the kernels
    assert r["median_rel_error"] < 0.04 and r["max_rel_error"] < 0.17


def _smax(u: float, v: float, p: float) -> float:
    return max(u, v) if math.isinf(p) else (u ** p + v ** p) ** (1 / p)


def _op(name: str, x: float) -> float:
    e = json.loads(OPS_FILE.read_text())["elementwise"][name]
    return max(e["b_ms"], e["a_ms_per_element"] * x)


def _all_reduce(nbytes: float, n: int) -> float:
    d = json.loads(OPS_FILE.read_text())
    f = d["all_reduce"][str(n)]
    t = f["small_ms"] if nbytes <= f["small_max_bytes"] else max(
        f["floor_ms"], f["latency_ms"] + nbytes / (f["bandwidth_GBps"] * 1e6))
    return d["launch_ms"] + t


def test_tensor_parallel_step_by_hand():
    """N = 2, 64 decode rows holding 64,000 KV tokens, one 2,048-token prefill: every op
    of docs/serving.md recomputed from the shipped fits."""
    m = build_step_time("h100", "llama3-70b", 2)
    a, f = m.attention.params, m.ffn.params
    rows, kv, P = 64 + 2048, 64_000, 2048
    rho = 6 * 8192 * 28672 / f["a"]
    pp, pf = m.knee_proj, m.knee_ffn
    assert 1 <= pp < math.inf and 1 <= pf < math.inf  # H100 70B: both knees are rounded
    layer = (_smax(a["b_P"] / 2, a["c_P"] * rows / 2, pp) + max(a["b"], a["a"] * kv / 2)
             + 2 * 8192 * P * (P + 1) / (2 * rho) + _smax(f["b"] / 2, f["a"] * rows / 2, pf)
             + 2 * _op("rmsnorm", rows * 8192) + _op("rope", rows * (64 + 8) * 128 / 2)
             + 2 * _op("add", rows * 8192) + 2 * _all_reduce(rows * 8192 * 2, 2))
    head = _smax(f["b"], f["a"] * 65, pf) * (128256 * 8192) / (3 * 8192 * 28672) / 2
    want = (80 * layer + _op("rmsnorm", rows * 8192) + head) * 1e-3
    got = float(m.step_seconds(rows, kv, P * (P + 1), 65))
    # the same sums in another order: agreement to rounding (1e-12 relative)
    assert got == pytest.approx(want, rel=1e-12)
    assert float(m.step_seconds(0, 0, 0, 0)) == 0.0


@pytest.mark.parametrize("tp", [1, 2, 4, 8])
def test_breakdown_sums_to_the_step_and_all_reduce_is_zero_on_one_gpu(tp):
    m = build_step_time("h100", "llama3-70b", tp)
    rows = np.array([1, 7, 64, 300, 4096])
    kv = rows * 1000
    parts = m.breakdown_ms(rows, kv, rows * (rows + 1), rows)
    assert tuple(parts) == OPS
    total = sum(parts.values())
    # a sum of 7 positive terms, reassociated: equal to 1e-12 relative
    assert np.allclose(total * 1e-3, m.step_seconds(rows, kv, rows * (rows + 1), rows),
                       rtol=1e-12, atol=0)
    assert all((v >= 0).all() for v in parts.values())
    if tp == 1:
        assert (parts["all_reduce"] == 0).all()
    else:
        assert (parts["all_reduce"] > 0).all()
    empty = m.breakdown_ms(0, 0, 0, 0)
    assert all(float(v) == 0.0 for v in empty.values())


@settings(max_examples=80, deadline=None)
@given(u=st.floats(0, 10), v=st.floats(0, 10), dv=st.floats(0, 10),
       p=st.sampled_from([1.0, 2.5, 6.25, 32.0, math.inf]))
def test_smooth_max_between_max_and_sum_and_monotone(u, v, dv, p):
    s = float(smooth_max(u, v, p))
    # floating rounding of the power and root: 1e-12 relative
    assert max(u, v) * (1 - 1e-12) <= s <= (u + v) * (1 + 1e-12) + 1e-300
    assert float(smooth_max(u, v + dv, p)) >= s * (1 - 1e-12)
    if math.isinf(p):
        assert s == max(u, v)


@pytest.mark.parametrize("gpu", ["h100", "h200"])
@pytest.mark.parametrize("model", ["llama3-70b", "llama3-8b"])
def test_knee_is_never_worse_than_the_plain_roofline(gpu, model):
    cal = load_calibration(gpu)
    c = _rows(gpu, model, "ffn_dense")
    f = cal.ffn_fit(model, "roofline").params
    p = knee_exponent(c[:, 0], c[:, 1], f["b"], f["a"])

    def rms(q):
        pred = np.array([_smax(f["b"], f["a"] * x, q) for x in c[:, 0]])
        return float(np.sqrt(np.mean(((pred - c[:, 1]) / c[:, 1]) ** 2)))
    assert rms(p) <= rms(math.inf)
    assert p == build_step_time(gpu, model, 1).knee_ffn


def _rows(gpu: str, model: str, part: str) -> np.ndarray:
    rows = list(csv.DictReader(open(DATA / f"{gpu}.csv", newline="")))
    return np.array([(float(r["batch"]), float(r["ms_median"])) for r in rows
                     if r["part"] == part and r["model"] == model])


def test_all_reduce_fits_never_fall_with_size():
    costs = load_op_costs()
    sizes = np.geomspace(1024, 2**27, 400)
    for n, fit in costs.all_reduce.items():
        t = fit(sizes)
        assert (np.diff(t) >= 0).all(), n
    assert costs.launch_ms == 0.02  # Vidur's configured default, exact in JSON


def test_op_costs_file_errors(tmp_path):
    bad = tmp_path / "ops.json"
    bad.write_text('{"elementwise": {}}')
    with pytest.raises(CalibrationError, match="not a per-op cost file"):
        load_op_costs(bad)
    with pytest.raises(CalibrationError, match="no all-reduce fit for 3 GPUs"):
        load_op_costs().all_reduce_ms(1024, 3)


def test_ring_all_reduce_over_another_link():
    """``link`` other than NVLink: a ring over that point-to-point link plus the launch."""
    m = build_step_time("h100", "llama3-70b", 4, link="inter-node")
    link = links()["inter-node"]
    want = 0.02 + 2 * 3 * (link.latency_ms + 10 * 8192 * 2 / 4 * link.ms_per_byte)
    assert float(m.allreduce_ms(10)) == pytest.approx(want, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 20000), kv=st.integers(0, 10**6), sq=st.integers(0, 10**8),
       extra=st.integers(1, 5000), tp=st.sampled_from([1, 2, 4, 8]))
def test_step_time_grows_with_work(rows, kv, sq, extra, tp):
    m = build_step_time("h200", "llama3-8b", tp)
    base = float(m.step_seconds(rows, kv, sq, rows))
    assert base > 0
    assert float(m.step_seconds(rows + extra, kv, sq, rows)) >= base
    assert float(m.step_seconds(rows, kv + extra, sq, rows)) >= base
    assert float(m.step_seconds(rows, kv, sq + extra, rows)) >= base


def test_weights_and_kv_capacity_by_hand():
    # Llama-3-70B and -8B parameter counts (their published config shapes)
    assert SHAPES["llama3-70b"].params == 70_553_706_496
    assert SHAPES["llama3-8b"].params == 8_030_261_248
    kv70 = 2 * 8 * 128 * 2 * 80  # K and V, 8 KV heads x 128, bf16, 80 layers
    want = math.floor((0.9 * 80 * 2**30 * 2 - 2 * 70_553_706_496) / kv70)
    assert kv_capacity("h100", "llama3-70b", 2) == want
    assert kv_capacity("h100", "llama3-70b", 1) < 0  # 141 GB of weights on one 80 GB GPU
    assert default_tensor_parallel("h100", "llama3-70b", 8192) == 2
    assert default_tensor_parallel("h100", "llama3-70b", want + 1) == 4
    assert default_tensor_parallel("h100", "llama3-8b", 8192) == 1


def test_bad_input_refused():
    with pytest.raises(CalibrationError, match="tensor parallel"):
        build_step_time("h100", "llama3-70b", 3)
    with pytest.raises(CalibrationError, match="unknown model"):
        build_step_time("h100", "llama2-70b", 2)
    with pytest.raises(CalibrationError, match="unknown GPU"):
        kv_capacity("a100", "llama3-70b", 2)


@pytest.mark.parametrize("gpu", ["h100", "h200"])
@pytest.mark.parametrize("model", ["llama3-70b", "llama3-8b"])
def test_holdout_extrapolation_error(gpu, model):
    """docs/serving.md: held-out 32k contexts within 2% and prefill-range FFN rows within
    8% (median)."""
    r = holdout_residuals(gpu, model)
    assert r["attention"]["points"] == 6 and r["ffn"]["points"] == 3
    assert r["attention"]["median_rel_error"] < 0.02
    assert r["ffn"]["median_rel_error"] < 0.08


@settings(max_examples=80, deadline=None)
@given(rows=st.integers(0, 20000), kv=st.integers(0, 10**6), sq=st.integers(0, 10**8),
       out=st.integers(0, 512), tp=st.sampled_from([1, 2, 4, 8]),
       gpu=st.sampled_from(["h100", "h200"]), model=st.sampled_from(["llama3-70b", "llama3-8b"]),
       link=st.sampled_from(["nvlink", "inter-node"]))
def test_scalar_path_equals_the_array_path(rows, kv, sq, out, tp, gpu, model, link):
    """A step given as numbers takes step_seconds' scalar path; as arrays, breakdown_ms.
    Same sums in another order: equal to 1e-12 relative."""
    m = build_step_time(gpu, model, tp, link=link)
    one = float(m.step_seconds(rows, kv, sq, out))
    arr = float(m.step_seconds(np.array([rows]), np.array([kv]), np.array([sq]),
                               np.array([out]))[0])
    assert one == pytest.approx(arr, rel=1e-12, abs=0)
    assert (one == 0.0) == (rows == 0)
