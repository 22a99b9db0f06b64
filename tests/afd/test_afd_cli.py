"""`lpsched afd ...` commands: defaults, JSON keys, bad inputs exit 2 with one line."""

from __future__ import annotations

import json

import pytest

from lpsched.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_size_json_has_the_documented_keys(capsys):
    code, out, _ = run(capsys, "afd", "size", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["B"] == 256 and d["theta"] == pytest.approx(599.0)
    for k in ("r_star", "r_int", "regime", "T_bar", "theta", "coefficients"):
        assert k in d
    c = d["coefficients"]
    for k in ("a_A", "b_A", "a_C", "b_C", "a_F", "b_F"):
        assert isinstance(c[k], float)
    assert c["unit"] == "ms per layer"
    assert d["regime"] in ("attention-bound", "communication-bound", "FFN-bound")


def test_simulate_and_sweep_json(capsys):
    code, out, _ = run(capsys, "afd", "simulate", "--json", "--requests", "2000",
                       "--ffn-model", "dsv3-moe-e8")
    assert code == 0
    d = json.loads(out)
    for k in ("throughput_per_instance", "idle_attention", "idle_ffn"):
        assert isinstance(d[k], float)
    code, out, _ = run(capsys, "afd", "sweep", "--json", "--requests", "2000", "--r-max", "6",
                       "--ffn-model", "dsv3-moe-e8")
    d = json.loads(out)
    assert [x["r"] for x in d["results"]] == list(range(1, 7))
    best = max(d["results"], key=lambda x: x["throughput_per_instance"])["r"]
    assert d["r_best"] == best


def test_fit_and_plan_text(capsys):
    code, out, _ = run(capsys, "afd", "fit", "--gpu", "h100")
    assert code == 0 and "roofline" in out and "*" in out
    code, out, _ = run(capsys, "afd", "plan", "--devices", "h200:1.3:8,h100:1.0:8",
                       "--budget", "12", "--max-bundles", "4", "--objective", "throughput",
                       "--ffn-model", "dsv3-moe-e8", "--batches", "128,256")
    assert code == 0 and "status optimal" in out
    code, out, _ = run(capsys, "afd", "plan", "--json")
    d = json.loads(out)
    assert d["status"] == "optimal" and d["chosen"][0]["r"] >= 1


@pytest.mark.parametrize("argv, msg", [
    (["afd", "size", "--gpu", "a100"], "unknown GPU 'a100'"),
    (["afd", "size", "--model", "gpt5"], "unknown model 'gpt5'"),
    (["afd", "size", "--batch", "0"], "--batch must be a positive integer"),
    (["afd", "simulate", "--batch", "-4"], "--batch must be a positive integer"),
    (["afd", "size", "--workload", "nope"], "unknown trace profile 'nope'"),
    (["afd", "size", "--trace", "/no/such.csv"], "cannot read file"),
    (["afd", "plan", "--devices", "h200:abc"], "cost must be a number"),
    (["afd", "plan", "--batches", "0"], "--batches: values must be >= 1"),
    (["afd", "sweep", "--r-min", "5", "--r-max", "2"], "need 1 <= --r-min <= --r-max"),
    (["afd", "size", "--ffn-devices", "0"], "--ffn-devices: the number of FFN devices must be"),
    (["afd", "size", "--ffn-devices", "abc"], "is not a positive number, a range like 1-8"),
    (["afd", "size", "--ffn-devices", "4-2"], "is not a positive number, a range like 1-8"),
    (["afd", "plan", "--ffn-devices", "h100"], "device type names moved to --ffn-types"),
    (["afd", "size", "--ffn-model", "dsv3-moe-e8", "--ffn-devices", "3"],
     "needs 3 to divide the 8 experts"),
    (["afd", "simulate", "--ffn-devices", "1-4"], "simulate takes one number"),
    (["afd", "plan", "--ffn-types", "tpu"], "ffn device 'tpu' is not among the device types"),
    (["afd", "simulate", "--kv-capacity", "-3"], "--kv-capacity must be > 0 tokens"),
    (["afd", "sweep", "--kv-capacity", "lots"], "--kv-capacity must be 'auto' or a number"),
])
def test_bad_inputs_exit_2_with_one_line(capsys, argv, msg):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert msg in err and err.count("\n") == 1


def test_missing_column_csv_is_a_clear_error(capsys, tmp_path):
    f = tmp_path / "cal.csv"
    f.write_text("part,model,batch,ctx\nattn_layer,m,1,1\n")
    code, _, err = run(capsys, "afd", "fit", "--gpu", str(f))
    assert code == 2 and "missing column(s) tokens, experts, ms_median" in err


@pytest.mark.parametrize("sub", ["fit", "size", "simulate", "sweep", "plan"])
def test_help_has_examples(capsys, sub):
    with pytest.raises(SystemExit):
        main(["afd", sub, "--help"])
    assert "example" in capsys.readouterr().out


def test_sweep_json_feeds_the_shared_plot_command(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    code, out, _ = run(capsys, "afd", "sweep", "--json", "--requests", "1500", "--r-max", "4",
                       "--ffn-model", "dsv3-moe-e8")
    f = tmp_path / "sweep.json"
    f.write_text(out)
    png = tmp_path / "afd.png"
    code, out, _ = run(capsys, "plot", "afd", str(f), "--out", str(png))
    assert code == 0 and png.stat().st_size > 1000


def test_step_time_bridge_with_timed_latencies():
    from lpsched.afd.timing import step_time_callable
    from lpsched.instance import Instance, Request
    from lpsched.simulate import timed_latencies

    inst = Instance(100, [Request("a", 10, 3), Request("b", 5, 2)])
    f = step_time_callable("h100", "llama3-8b")
    res = timed_latencies(inst, [0, 0], f)
    # steps 1-2 run both requests, step 3 only "a": durations from the calibration
    assert list(res.batch) == [2, 2, 1]
    assert res.step_seconds == pytest.approx(f(res.batch, res.kv_tokens))
    assert res.latency[1] == pytest.approx(res.step_seconds[:2].sum())
    assert 1e-3 < res.stats["makespan_s"] < 0.1  # a few ms per step for an 8B model


def test_size_and_plan_report_x_y_regime_and_idle(capsys):
    code, out, _ = run(capsys, "afd", "size", "--ffn-devices", "1-4", "--fit", "roofline",
                       "--gpu", "h100", "-B", "192", "--json")
    assert code == 0
    d = json.loads(out)
    for k in ("attention_instances", "ffn_devices", "throughput_per_device", "idle_attention",
              "idle_ffn"):
        assert d[k] == d["xa_yf"][k]
    assert d["ffn_devices"] in (1, 2, 3, 4) and d["xa_yf"]["regime"]
    assert [r["ffn_devices"] for r in d["xa_yf"]["per_ffn_devices"]] == [1, 2, 3, 4]
    assert d["r_int"] >= 1 and "barrier" in d  # the rA-1F keys are still there
    code, out, _ = run(capsys, "afd", "size", "--ffn-model", "dsv3-moe-e8", "--ffn-devices", "1-8")
    assert code == 0 and "xA-yF (y in 1,2,4,8, ep)" in out and "idle attention" in out
    code, out, _ = run(capsys, "afd", "plan", "--ffn-devices", "1-4", "--fit", "roofline",
                       "--devices", "h100", "--batches", "128,192", "--json")
    assert code == 0
    c = json.loads(out)["chosen"][0]
    assert c["ffn_devices"] >= 1 and c["attention_instances"] >= 1
    code, out, _ = run(capsys, "afd", "plan", "--ffn-devices", "2", "--devices", "h100",
                       "--batches", "128")
    assert code == 0 and "regime" in out and "idle_attn" in out


def test_infeasible_plan_explains_and_exits_1(capsys):
    code, out, err = run(capsys, "afd", "plan", "--batches", "2048")
    assert code == 1 and err == ""
    assert "status infeasible" in out and "infeasible: KV capacity" in out
    code, out, _ = run(capsys, "afd", "plan", "--batches", "64", "--tpot-ms", "1", "--json")
    assert code == 1
    d = json.loads(out)
    assert d["status"] == "infeasible" and d["infeasible"][0].startswith("TPOT")


def test_simulate_with_ffn_devices(capsys):
    code, out, _ = run(capsys, "afd", "simulate", "--ffn-devices", "4", "--r", "3", "--fit",
                       "roofline", "--requests", "1500", "--json")
    assert code == 0
    d = json.loads(out)
    assert (d["attention_instances"], d["ffn_devices"]) == (3, 4)
    assert d["step_model"]["shard_kernel"]["share"] == 0.25
    code, out, _ = run(capsys, "afd", "simulate", "--gpu", "h100", "-B", "64", "--requests",
                       "1500", "--kv-capacity", "auto", "--json")
    d = json.loads(out)
    assert code == 0 and d["kv"]["capacity"] == pytest.approx(145998.5625)
