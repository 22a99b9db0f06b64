"""Command-line behaviour of the contract: one output-path rule checked before any work,
Ctrl-C that keeps the best schedule, a demo that prints as it goes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lpsched.check import check
from lpsched.cli import main
from lpsched.generators import mcsf_synthetic
from lpsched.instance import write_json
from lpsched.schedule import read_schedule

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "lpsched.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_missing_output_folders_are_created(tmp_path, capsys):
    out = tmp_path / "a" / "b" / "sched.json"
    assert main(["solve", "tiny-3", "--algo", "mc-sf", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["status"] == "feasible"
    csv_out = tmp_path / "new" / "rows.csv"
    assert main(["bench", "tiny", "--algos", "mc-sf", "--jobs", "1", "--quiet", "--no-bound",
                 "--out", str(csv_out)]) == 0
    assert csv_out.exists() and csv_out.with_suffix(".json").exists()


@pytest.mark.parametrize("argv", [
    ["solve", "tiny-3", "--algo", "mc-sf", "--out", "{tmp}"],
    ["solve", "tiny-3", "--algo", "mc-sf", "--out", "{file}/x.json"],
    ["plot", "memory", "tiny-3", "--algo", "mc-sf", "--out", "{tmp}/fig.pdf"],
    ["bench", "tiny", "--algos", "mc-sf", "--json", "{tmp}"],
    ["export", "tiny-1", "--out", "{tmp}"],
    ["sample", "azure_conv_2023", "--n", "5", "--memory", "65536", "--out", "{tmp}"],
])
def test_bad_output_paths_exit_2_with_one_line_before_any_work(tmp_path, capsys, argv):
    f = tmp_path / "plain.txt"
    f.write_text("x")
    argv = [a.format(tmp=tmp_path, file=f) for a in argv]
    t0 = time.perf_counter()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lpsched: error:") and "Traceback" not in err
    assert time.perf_counter() - t0 < 5


def test_bench_refuses_a_bad_json_path_before_running(tmp_path, capsys):
    """The issue's case: the traceback came after the whole benchmark had run."""
    t0 = time.perf_counter()
    code = main(["bench", "mcsf-synthetic", "--algos", "local-search", "--time-limit", "30",
                 "--json", str(tmp_path), "--jobs", "1", "--quiet"])
    assert code == 2 and time.perf_counter() - t0 < 5
    assert "is a folder" in capsys.readouterr().err


def test_ctrl_c_during_solve_writes_the_best_schedule_and_exits_130(tmp_path):
    inst = mcsf_synthetic(1500, 7)
    path, out = tmp_path / "big.json", tmp_path / "res" / "sched.json"
    write_json(inst, path)
    # as from a terminal: a suite started in the background (``cmd &`` in a script) runs
    # with SIGINT ignored, and the child would inherit that and never see the Ctrl-C
    proc = _cli("solve", str(path), "--algo", "local-search", "--time-limit", "120",
                "--out", str(out),
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(4.0)
    t_int = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert time.perf_counter() - t_int < 10, "the interrupt must stop the search promptly"
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and stderr.count("\n") == 1 and "interrupted" in stderr
    data = json.loads(out.read_text())
    assert data["status"] == "time_limit" and "interrupted" in data["message"]
    assert data["stats"]["interrupted"] is True
    sched = read_schedule(out, inst)
    assert check(inst, sched).feasible and check(inst, sched).objective == data["objective"]
    assert "status     time_limit" in stdout


def test_demo_prints_each_row_as_it_finishes():
    proc = _cli("demo", "mcsf-n40-s1", "--algos", "mc-sf,local-search", "--time-limit", "3")
    lines = []
    t0 = time.perf_counter()
    for line in proc.stdout:
        lines.append((time.perf_counter() - t0, line))
    proc.wait(timeout=60)
    end = time.perf_counter() - t0
    assert proc.returncode == 0
    first = next(t for t, line in lines if "mc-sf" in line)
    assert end - first > 1.5, "the mc-sf row must appear before local-search has finished"
