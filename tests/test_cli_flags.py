"""One meaning per flag (issue 19, item 7): ``--json`` prints JSON to stdout, ``--out FILE``
writes a file, in every command; "did you mean" for algorithm and instance names; ``info``
on a trace CSV without ``--memory``; the demo's progress and notes (item 6)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from lpsched.cli import build_parser, main
from lpsched.progress import Ticker

TRACE = ("arrived_at,num_prefill_tokens,num_decode_tokens\n"
         "0.0,5,3\n0.1,2,4\n0.3,7,2\n0.35,1,9\n")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _subcommands():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        inner = [a for a in p._actions if a.dest == "afd_command"]
        if inner:
            for sname, sp in inner[0].choices.items():
                yield f"{name} {sname}", sp
        else:
            yield name, p


#: ``bound`` (lpsched/models/cli.py) prints --json to stdout but has no --out yet: that
#: file is changed by another part of this work; remove it from here once it has --out.
NO_OUT_YET: set[str] = set()


def test_json_is_a_stdout_flag_in_every_command():
    """``--json`` never takes a file (bench keeps the old ``--json FILE`` as a deprecated
    optional value); every command that has ``--json`` also has ``--out``."""
    for name, p in _subcommands():
        opts = {o: a for a in p._actions for o in a.option_strings}
        if "--json" not in opts:
            continue
        a = opts["--json"]
        if name == "bench":
            assert a.nargs == "?" and a.const is True, name
        else:
            assert a.nargs == 0, f"{name}: --json must be a flag"
        assert "--out" in opts or name in NO_OUT_YET, f"{name}: --json without --out"


@pytest.mark.parametrize("argv", [
    ["info", "tiny-3"],
    ["algorithms"],
    ["algorithms", "milp"],
    ["instances", "--set", "tiny"],
    ["check", "tiny-4", "{sched}"],
])
def test_out_writes_what_json_prints(tmp_path, capsys, argv):
    sched = tmp_path / "s.json"
    sched.write_text(json.dumps({"starts": {"r0": 0, "r1": 0, "r2": 2, "r3": 3}}))
    argv = [a.format(sched=sched) for a in argv]
    code, out, _ = run(capsys, *argv, "--json")
    printed = json.loads(out)
    f = tmp_path / "sub" / "x.json"
    code2, out2, _ = run(capsys, *argv, "--out", f)
    assert code2 == code and json.loads(f.read_text()) == printed
    assert f"wrote {f}" in out2


def test_out_must_be_json_where_the_data_are_json(tmp_path, capsys):
    code, _, err = run(capsys, "info", "tiny-3", "--out", tmp_path / "x.txt")
    assert code == 2 and "must end in .json" in err


def test_solve_json_prints_the_schedule_file(tmp_path, capsys):
    f = tmp_path / "s.json"
    code, out, err = run(capsys, "solve", "tiny-3", "--algo", "mc-sf", "--json", "--out", f)
    assert code == 0 and json.loads(out) == json.loads(f.read_text())
    assert json.loads(out)["instance"] == "tiny-3" and f"wrote      {f}" in err


def test_bench_json_out_and_the_deprecated_json_file(tmp_path, capsys):
    base = ["bench", "tiny", "--algos", "fcfs", "--jobs", "1", "--no-bound", "--quiet"]
    code, out, err = run(capsys, *base, "--json")
    data = json.loads(out)
    assert code == 0 and len(data["rows"]) == 4 and err == ""
    only_json = tmp_path / "r.json"
    code, out, err = run(capsys, *base, "--out", only_json)
    assert code == 0 and len(json.loads(only_json.read_text())["rows"]) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
    old = tmp_path / "old.json"
    code, out, err = run(capsys, *base, "--json", old)
    assert code == 0 and len(json.loads(old.read_text())["rows"]) == 4
    assert err.count("\n") == 1 and "deprecated" in err and f"--out {old}" in err
    code, out, err = run(capsys, *base, "--out", tmp_path / "r.csv")
    assert len(list(csv.DictReader((tmp_path / "r.csv").open()))) == 4


def test_afd_out_json_and_sweep_csv(tmp_path, capsys):
    f = tmp_path / "size.json"
    code, out, _ = run(capsys, "afd", "size", "--out", f)
    assert code == 0 and "r*" in out and json.loads(f.read_text())["B"] == 256
    c = tmp_path / "sweep.csv"
    code, out, _ = run(capsys, "afd", "sweep", "--requests", "300", "--r-max", "3", "--out", c)
    rows = list(csv.DictReader(c.open()))
    assert code == 0 and [int(r["r"]) for r in rows] == [1, 2, 3]


def test_replay_out(tmp_path, capsys):
    trace = tmp_path / "t.csv"
    trace.write_text(TRACE)
    f = tmp_path / "m.json"
    code, out, _ = run(capsys, "replay", trace, "--algo", "fcfs", "--out", f)
    assert code == 0 and json.loads(f.read_text())["completed"] == 4


@pytest.mark.parametrize("argv, hint", [
    (["solve", "tiny-3", "--algo", "mcsf"], "did you mean 'mc-sf'"),
    (["solve", "tiny-3", "--algo", "MC_SF"], "did you mean 'mc-sf'"),
    (["algorithms", "local-serch"], "did you mean 'local-search'"),
    (["info", "tiny-33"], "did you mean 'tiny-3'"),
    (["solve", "mcsf-n40-s", "--algo", "fcfs"], "'mcsf-n40-s1'"),
    (["bench", "mcsf-synth", "--algos", "fcfs"], "did you mean 'mcsf-synthetic'"),
])
def test_did_you_mean(capsys, argv, hint):
    code, _, err = run(capsys, *argv)
    assert code == 2 and hint in err and err.count("\n") == 1


def test_no_suggestion_for_a_name_far_from_all(capsys):
    code, _, err = run(capsys, "solve", "tiny-3", "--algo", "zzzzzz")
    assert code == 2 and "did you mean" not in err and "available:" in err


def test_info_on_a_trace_without_memory_summarises_lengths_and_arrivals(tmp_path, capsys):
    trace = tmp_path / "t.csv"
    trace.write_text(TRACE)
    code, out, _ = run(capsys, "info", trace)
    assert code == 0
    assert "memory M: not given" in out and "needs --memory M" in out
    assert "smallest M that fits every request 10 (largest s+o)" in out
    code, out, _ = run(capsys, "info", trace, "--json")
    d = json.loads(out)
    assert d["n"] == 4 and d["memory"] is None and d["smallest_memory"] == 10
    assert d["prefill"]["max"] == 7 and d["decode"]["min"] == 2 and d["sum_decode"] == 18
    # 0.35 s at the default 25 ms steps: floor(0.35 / 0.025) = 13 or 14 (binary 0.35)
    assert d["arrival_steps"]["max"] in (13, 14)
    assert d["rate_per_second"] == pytest.approx(4 / 0.35, rel=1e-12)  # one division
    assert any("KV budget" in x for x in d["needs_memory"])
    code, out, _ = run(capsys, "info", trace, "--memory", "20", "--json")
    assert json.loads(out)["memory"] == 20


def test_info_trace_offline_and_bad_trace(tmp_path, capsys):
    trace = tmp_path / "t.csv"
    trace.write_text(TRACE)
    code, out, _ = run(capsys, "info", trace, "--offline", "--json")
    assert code == 0 and json.loads(out)["offline"] is True
    bad = tmp_path / "bad.csv"
    bad.write_text("arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,5,0\n")
    code, _, err = run(capsys, "info", bad)
    assert code == 2 and "decode must be >= 1" in err and err.count("\n") == 1
    code, _, err = run(capsys, "info", trace, "--block-size", "16")
    assert code == 2 and "--block-size needs --memory" in err  # not silently ignored


# -- demo: no silent wait ---------------------------------------------------------------------


def test_ticker_plain_lines_and_terminal_line():
    buf = io.StringIO()
    with Ticker("x milp", after=0.02, every=0.05, limit=10, stream=buf, tty=False):
        import time

        time.sleep(0.2)
    lines = buf.getvalue().splitlines()
    assert len(lines) >= 2 and all(line.startswith("  ... x milp: running") for line in lines)
    assert lines[0].endswith("of 10 s")
    tty = io.StringIO()
    with Ticker("x", after=0.0, every=0.02, stream=tty, tty=True):
        time.sleep(0.1)
    text = tty.getvalue()
    assert "\n" not in text and text.count("\r") >= 3 and text.endswith("\r")


def test_ticker_is_silent_for_short_tasks():
    buf = io.StringIO()
    with Ticker("quick", after=5.0, stream=buf, tty=False):
        pass
    assert buf.getvalue() == ""


def test_demo_says_when_an_exact_solver_stopped_and_shows_the_best_known(capfd):
    """mcsf-n40-s1 has no proven optimum; the library's best known is 5183."""
    assert main(["demo", "mcsf-n40-s1", "--algos", "mc-sf,milp", "--time-limit", "2.5"]) == 0
    out, err = capfd.readouterr()
    row = next(line.split() for line in out.splitlines() if line.startswith("mcsf-n40-s1")
               and " milp " in line)
    assert row[4] == "time_limit" and row[7] == "-" and row[8] == "5183"
    assert "note: milp stopped at its 2.5 s limit (status time_limit" in out
    assert "library best known 5183" in out
    assert "mcsf-n40-s1 milp: running" in err  # the elapsed time while it ran
    ratio = float(row[9])
    assert ratio == pytest.approx(int(row[5]) / 5183, abs=1e-3)  # printed with 3 decimals
    assert np.isfinite(ratio)
