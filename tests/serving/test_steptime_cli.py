"""``lpsched steptime``: output, JSON, the breakdown and bad input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.cli import main
from lpsched.serving.steptime import OPS, build_step_time


def _json(capsys, *argv: str) -> dict:
    assert main(["steptime", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_breakdown_sums_to_the_step(capsys):
    r = _json(capsys, "--gpu", "h100", "--model", "llama3-70b", "--tensor-parallel", "2",
              "--decode", "32", "--context", "1024")
    assert set(r["ops"]) == set(OPS) and r["tensor_parallel"] == 2
    # 7 float terms summed in another order: 1e-12 relative is rounding, not modelling
    assert sum(r["ops"].values()) == pytest.approx(r["step_ms"], rel=1e-12)
    m = build_step_time("h100", "llama3-70b", 2)
    assert r["step_ms"] == pytest.approx(float(m.step_seconds(32, 32 * 1024, 0, 32)) * 1e3,
                                         rel=1e-12)
    assert r["rows"] == 32 and r["kv_tokens"] == 32 * 1024 and r["step"] == "decode"
    assert r["ops"]["all_reduce"] > 0


def test_prefill_and_default_tensor_parallel(capsys):
    r = _json(capsys, "--model", "llama3-8b", "--prefill", "2048")
    assert r["tensor_parallel"] == 1 and r["step"] == "prefill" and r["fits"]
    assert r["ops"]["all_reduce"] == 0.0  # one GPU: no collective
    r70 = _json(capsys, "--model", "llama3-70b", "--prefill", "2048")
    assert r70["tensor_parallel"] == 2  # 141 GB of weights: two H100s


def test_text_output_lists_every_op(capsys):
    assert main(["steptime", "--decode", "8", "--context", "512", "--tensor-parallel", "2"]) == 0
    out = capsys.readouterr().out
    assert "ms" in out.splitlines()[0]
    for op in OPS:
        assert op in out


def test_step_that_does_not_fit_is_costed_and_flagged(capsys):
    r = _json(capsys, "--decode", "128", "--context", "1024", "--tensor-parallel", "2")
    assert r["fits"] is False and r["kv_capacity"] < 128 * 1025
    assert main(["steptime", "--decode", "128", "--context", "1024",
                 "--tensor-parallel", "2"]) == 0
    assert "do not fit" in capsys.readouterr().out


@settings(max_examples=25, deadline=None)
@given(b=st.integers(1, 256), c=st.integers(0, 8192), db=st.integers(1, 64),
       dc=st.integers(1, 4096), tp=st.sampled_from(["1", "2", "4", "8"]))
def test_monotone_in_batch_and_context(b, c, db, dc, tp):
    def ms(batch: int, ctx: int) -> float:
        from lpsched.serving.steptime_cli import step_breakdown

        return step_breakdown("h100", "llama3-8b", int(tp), batch, batch * ctx, 0,
                              batch)["step_ms"]
    base = ms(b, c)
    assert ms(b + db, c) >= base
    assert ms(b, c + dc) >= base


@pytest.mark.parametrize("argv, message", [
    (["--decode", "4"], "give --decode B with --context C"),
    (["--context", "4"], "give --decode B with --context C"),
    ([], "give --decode B with --context C"),
    (["--prefill", "8", "--decode", "2", "--context", "3"], "not both"),
    (["--decode", "two", "--context", "3"], "--decode: expected an integer"),
    (["--decode", "0", "--context", "3"], "--decode: must be >= 1"),
    (["--decode", "1", "--context", "-1"], "--context: must be >= 0"),
    (["--prefill", "0"], "--prefill: must be >= 1"),
    (["--prefill", "8", "--tensor-parallel", "3"], "tensor parallel size must be one of"),
    (["--prefill", "8", "--gpu", "a100"], "unknown GPU"),
    (["--prefill", "8", "--model", "gpt2"], "unknown model"),
])
def test_bad_input_one_line_exit_2(capsys, argv, message):
    assert main(["steptime", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
