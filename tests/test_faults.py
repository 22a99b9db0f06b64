"""Faults of the command line (issue 19, item 4): signals, concurrent writers, full disks,
FIFOs, folder-like paths, stdout that cannot be written, and bench worker processes.

Signals go to a child process (``subprocess`` + ``send_signal``); every child gets the
default SIGINT disposition (a suite started in the background runs with SIGINT ignored,
and a child would inherit that). Readiness is observed, not guessed: a test algorithm
writes a file when its search starts, and start-up is seen in ``/proc/PID/maps``.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from lpsched.check import check
from lpsched.cli import main
from lpsched.interrupts import descendants
from lpsched.library import load_instance
from lpsched.paths import OutputPathError, atomic_output, write_text_atomic
from lpsched.schedule import read_schedule

ROOT = Path(__file__).resolve().parents[1]
LINUX = sys.platform.startswith("linux")

#: A child that registers ``slow-test`` (touches a file when its search starts, then
#: waits for its deadline; ``wind_down`` seconds more once stopped) and runs the CLI.
CHILD = """
import sys, time, pathlib
import numpy as np
from lpsched import register
from lpsched.schedule import sequential_starts

def slow(instance, *, deadline, seed=None):
    pathlib.Path(sys.argv[1]).write_text("started")
    while not deadline.expired():
        time.sleep(0.005)
    time.sleep(float(sys.argv[2]))
    return sequential_starts(instance, np.arange(instance.n))

register("slow-test", slow)
from lpsched.cli import main
sys.exit(main(sys.argv[3:]))
"""


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _popen(argv: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint, env=kw.pop("env", _env()), **kw)


def _wait_for(cond, timeout: float = 20.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _slow_solve(tmp_path: Path, out: Path, wind_down: float = 0.0) -> tuple[subprocess.Popen,
                                                                             Path]:
    started = tmp_path / "started"
    proc = _popen([sys.executable, "-c", CHILD, str(started), str(wind_down), "solve", "tiny-4",
                   "--algo", "slow-test", "--time-limit", "60", "--out", str(out)])
    _wait_for(started.exists, what="the search to start")
    return proc, started


def _one_clean_line(stderr: str) -> None:
    assert "Traceback" not in stderr and stderr.count("\n") == 1, stderr


# -- signals --------------------------------------------------------------------------------


def test_sigterm_during_solve_writes_the_best_schedule_and_exits_143(tmp_path):
    out = tmp_path / "res" / "sched.json"
    proc, _ = _slow_solve(tmp_path, out)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 5
    assert proc.returncode == 143, stderr
    _one_clean_line(stderr)
    assert "terminated (SIGTERM)" in stderr and f"wrote it to {out}" in stderr
    data = json.loads(out.read_text())
    assert data["status"] == "time_limit" and data["stats"]["interrupted"] is True
    inst = load_instance("tiny-4")
    assert check(inst, read_schedule(out, inst)).feasible
    assert "status     time_limit" in stdout


@pytest.mark.parametrize("first, second, code", [(signal.SIGINT, signal.SIGTERM, 130),
                                                 (signal.SIGTERM, signal.SIGINT, 143),
                                                 (signal.SIGINT, signal.SIGINT, 130)])
def test_a_second_signal_while_stopping_still_exits_cleanly(tmp_path, first, second, code):
    """The search winds down for 1 s after the first signal; the second lands then."""
    proc, _ = _slow_solve(tmp_path, tmp_path / "s.json", wind_down=1.0)
    proc.send_signal(first)
    time.sleep(0.2)
    proc.send_signal(second)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, stderr
    _one_clean_line(stderr)


def _maps(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""


@pytest.mark.skipif(not LINUX, reason="start-up is observed in /proc/PID/maps")
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("loading", ["_multiarray_umath", "highspy"])
def test_a_signal_during_start_up_imports_exits_without_a_traceback(sig, code, loading):
    """The command as users run it (``python -m lpsched.cli``), signalled while numpy,
    then HiGHS, are being loaded (their shared libraries appear in the process's maps)."""
    proc = _popen([sys.executable, "-m", "lpsched.cli", "solve", "tiny-3", "--algo", "milp"])
    try:
        _wait_for(lambda: loading in _maps(proc.pid) or proc.poll() is not None,
                  what=f"{loading} to load")
    finally:
        proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    if proc.returncode == 0:  # finished before the signal arrived: nothing to test
        pytest.skip("the solve finished before the signal")
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and stderr.count("\n") <= 1


# -- bench: stop fast, keep rows, leave no process behind -----------------------------------


def _marked(marker: str) -> list[int]:
    """Live (not zombie) processes whose environment holds ``marker``."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if marker.encode() not in (d / "environ").read_bytes():
                continue
            state = (d / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            out.append(int(d.name))
    return out


@pytest.mark.skipif(not LINUX, reason="processes are counted in /proc")
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_bench_stops_within_2s_keeps_its_rows_and_leaves_no_process(tmp_path, sig, code):
    """Two workers, one of them inside a MILP solve (HiGHS runs in a grandchild process),
    the tiny instances already done: after the signal the bench exits within 2 s with the
    finished rows in its CSV and JSON, and no process of the run is left (counted by an
    environment marker that every worker and grandchild inherits)."""
    from lpsched.generators import mcsf_synthetic
    from lpsched.instance import write_json

    big = tmp_path / "big.json"
    write_json(mcsf_synthetic(60, 3), big)
    out = tmp_path / "r.csv"
    marker = f"LPSCHED_FAULT_TEST={uuid.uuid4().hex}"
    key, value = marker.split("=")
    proc = _popen([sys.executable, "-m", "lpsched.cli", "bench", "tiny", str(big),
                   "--algos", "fcfs,milp", "--time-limit", "60", "--jobs", "2", "--quiet",
                   "--no-bound", "--out", str(out)], env=_env(**{key: value}))

    def rows() -> int:
        try:
            return len(list(csv.DictReader(out.open())))
        except OSError:
            return 0

    # the tiny rows finish at once; the big MILP keeps a worker (and its HiGHS child) busy
    _wait_for(lambda: rows() >= 9 and len(_marked(marker)) >= 3, timeout=30,
              what="the finished rows and the MILP's worker")
    t0 = time.monotonic()
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 2.0, "bench must stop within 2 s"
    assert proc.returncode == code, stderr
    _one_clean_line(stderr)
    assert "kept 9 of 10 runs" in stderr
    time.sleep(0.2)
    assert _marked(marker) == [], "worker processes were left behind"
    assert rows() == 9
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["interrupted"] is True and len(data["rows"]) == 9


def test_bench_in_this_process_stops_at_the_first_ctrl_c(tmp_path):
    """--jobs 1: Ctrl-C stops the run, not only the solve that happens to be running."""
    started = tmp_path / "started"
    code = CHILD.replace('register("slow-test", slow)',
                         'register("slow-test", slow)\nimport lpsched.bench')
    proc = _popen([sys.executable, "-c", code, str(started), "0", "bench", "tiny",
                   "--algos", "slow-test", "--jobs", "1", "--quiet", "--no-bound",
                   "--time-limit", "60", "--out", str(tmp_path / "r.csv")])
    _wait_for(started.exists, what="the first run")
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 130, stderr
    assert "kept 0 of 4 runs" in stderr


def test_worker_processes_ignore_ctrl_c():
    """A Ctrl-C at a terminal reaches the whole process group; workers leave it to the
    parent (which stops them)."""
    from lpsched.bench import _worker_init

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        _worker_init()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])


def test_descendants_follow_the_process_tree():
    proc = subprocess.Popen([sys.executable, "-c",
                             "import subprocess, sys, time; "
                             "p = subprocess.Popen([sys.executable, '-c', "
                             "'import time; time.sleep(30)']); print(p.pid, flush=True); "
                             "time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        grandchild = int(proc.stdout.readline())
        tree = descendants([proc.pid])
        assert tree[0] == proc.pid and (grandchild in tree or not LINUX)
    finally:
        from lpsched.interrupts import kill_tree

        kill_tree([proc.pid])
        proc.wait(timeout=10)


# -- atomic writes --------------------------------------------------------------------------


def test_atomic_output_leaves_the_old_file_on_failure(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash in the middle")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


#: A child that fails every library writer mid-write: a file-size limit (RLIMIT_FSIZE,
#: SIGXFSZ ignored) lets the first LIMIT (argv[2]) bytes reach the disk, then the next write
#: fails with EFBIG. Prints, per writer, the error and what the target then holds.
WRITERS_CHILD = """
import json, resource, signal, sys
from pathlib import Path
from lpsched import library, plots, solve
from lpsched.generators import random_instance
from lpsched.instance import write_json
from lpsched.serving.replay import load_workload, replay, write_per_request

d, limit = Path(sys.argv[1]), int(sys.argv[2])
inst = random_instance(60, 200, 0)
res = solve(inst, "mc-sf")
rep = replay(load_workload("azure_conv_2023", num_prompts=60, rate=3.0, seed=1), "fcfs")
lib = d / "lib"
lib.mkdir()
for k in range(30):
    write_json(random_instance(4, 40, k, name=f"x{k}"), lib / f"x{k}.json")
plots.plot_memory(inst, res.schedule, d / "warm.png")  # font caches etc. written now
writers = {"result.json": lambda p: res.write(p),
           "instance.json": lambda p: write_json(inst, p),
           "memory.png": lambda p: plots.plot_memory(inst, res.schedule, p),
           "index.json": lambda p: library.write_index(lib),
           "requests.csv": lambda p: write_per_request(rep, p)}
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
out = {}
for name, write in writers.items():
    path = lib / name if name == "index.json" else d / name
    path.write_bytes(b"old")
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        write(path)
        err = None
    except Exception as exc:
        err = type(exc).__name__ + ": " + str(exc)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    out[name] = [err, path.read_bytes() == b"old"]
out["left"] = sorted(p.name for p in list(d.iterdir()) + list(lib.iterdir())
                     if p.name.startswith("."))
print(json.dumps(out))
"""


@pytest.mark.skipif(not LINUX, reason="needs RLIMIT_FSIZE")
def test_library_writers_fail_mid_write_without_a_partial_file(tmp_path):
    """Result.write, instance.write_json, plots.*, library.write_index and
    serving.replay.write_per_request, called from Python, are atomic: a write cut off
    after 512 bytes (file-size limit) raises OutputPathError naming the file and leaves the
    old file whole, with no temporary file behind."""
    run = subprocess.run([sys.executable, "-c", WRITERS_CHILD, str(tmp_path), "512"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out.pop("left") == []
    for name, (err, old_kept) in out.items():
        assert err is not None and err.startswith("OutputPathError: "), (name, err)
        assert name in err and "File too large" in err, err
        assert old_kept, name


def test_atomic_output_keeps_the_suffix_mode_and_symlink(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("x")
    real.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    with atomic_output(link) as tmp:
        assert tmp.suffix == ".csv" and tmp.parent == tmp_path and tmp.name.startswith(".")
        tmp.write_text("new")
    assert link.is_symlink() and real.read_text() == "new"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640


def test_concurrent_writers_never_leave_a_mixed_file(tmp_path):
    """Two writers replace one file 40 times each with 200 kB payloads while a reader
    reads it: every read is one writer's complete payload."""
    target = tmp_path / "out.txt"
    payloads = {w: (w * 200_000) for w in "ab"}
    write_text_atomic(target, payloads["a"])
    stop = threading.Event()
    bad: list[str] = []

    def writer(w: str) -> None:
        for _ in range(40):
            write_text_atomic(target, payloads[w])

    def reader() -> None:
        while not stop.is_set():
            text = target.read_text()
            if text not in payloads.values():
                bad.append(f"{len(text)} chars, starts {text[:3]!r}, ends {text[-3:]!r}")

    threads = [threading.Thread(target=writer, args=(w,)) for w in "ab"]
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    r.join()
    assert bad == []
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_two_bench_runs_on_one_out_leave_one_complete_csv(tmp_path):
    out = tmp_path / "same.csv"
    argv = [sys.executable, "-m", "lpsched.cli", "bench", "tiny", "--algos", "fcfs,sf,mc-sf",
            "--jobs", "1", "--quiet", "--no-bound", "--out", str(out)]
    procs = [_popen(argv) for _ in range(2)]
    for p in procs:
        stdout, stderr = p.communicate(timeout=60)
        assert p.returncode == 0, stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 12 and all(r["status"] == "feasible" for r in rows)
    assert len(json.loads(out.with_suffix(".json").read_text())["rows"]) == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.csv", "same.json"]


# -- full disk, FIFO, folder-like paths, stdout -----------------------------------------------


def test_a_full_disk_is_one_line_and_exit_2_and_the_old_file_stays(tmp_path, monkeypatch,
                                                                    capsys):
    """ENOSPC when the data reach the disk (simulated at the flush before the rename)."""
    import lpsched.paths

    out = tmp_path / "sched.json"
    out.write_text("previous")

    def full(path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(lpsched.paths, "_sync", full)
    assert main(["solve", "tiny-3", "--algo", "mc-sf", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"lpsched: error: {out}: cannot write the schedule file: " \
                  "No space left on device\n"
    assert out.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == [out.name]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("argv", [
    ["solve", "tiny-3", "--algo", "mc-sf", "--out", "/dev/full"],
    ["bench", "tiny", "--algos", "fcfs", "--out", "/dev/full"],
    ["check", "tiny-3", "{sched}", "--out", "/dev/full"],
])
def test_out_to_dev_full_is_refused_before_any_work(tmp_path, capsys, argv):
    sched = tmp_path / "s.json"
    assert main(["solve", "tiny-3", "--algo", "mc-sf", "--out", str(sched)]) == 0
    capsys.readouterr()
    assert main([a.format(sched=sched) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lpsched: error: /dev/full: is a device") and err.count("\n") == 1


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("argv", [
    ["check", "tiny-4", "{sched}"],  # exit 0 with a stdout (tests/test_cli.py)
    ["check", "tiny-4", "{bad}"],  # exit 1 with a stdout: infeasible
    ["info", "tiny-3", "--json"],
])
def test_stdout_to_dev_full_is_exit_2_not_1(tmp_path, argv):
    """For ``check``, 1 means infeasible: a stdout that cannot be written must not look
    like a verdict."""
    inst = load_instance("tiny-4")
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"starts": dict(inst.metadata["optimal_starts"])}))
    bad.write_text(json.dumps({"starts": {"r0": 0, "r1": 0, "r2": 1, "r3": 3}}))
    argv = [a.format(sched=good, bad=bad) for a in argv]
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "lpsched.cli", *argv], env=_env(),
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == "lpsched: error: stdout: cannot write: No space left on device\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("argv", [
    ["solve", "tiny-3", "--algo", "mc-sf", "--out", "{fifo}"],
    ["bench", "tiny", "--algos", "fcfs", "--jobs", "1", "--out", "{fifo}.csv"],
    ["afd", "size", "--out", "{fifo}.json"],
])
def test_out_to_a_fifo_without_reader_is_refused_not_hung(tmp_path, argv):
    fifo = tmp_path / "pipe"
    for suffix in ("", ".csv", ".json"):
        os.mkfifo(str(fifo) + suffix)
    proc = subprocess.run([sys.executable, "-m", "lpsched.cli",
                           *[a.format(fifo=fifo) for a in argv]],
                          env=_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "is a FIFO, not a regular file" in proc.stderr and proc.stderr.count("\n") == 1


@pytest.mark.parametrize("argv", [
    ["solve", "tiny-3", "--algo", "mc-sf", "--out", "{tmp}/newdir/"],
    ["bench", "tiny", "--algos", "fcfs", "--out", "{tmp}/newdir/"],
    ["sample", "azure_conv_2023", "--n", "3", "--memory", "65536", "--out", "{tmp}/newdir/"],
])
def test_a_path_ending_in_slash_is_refused(tmp_path, capsys, argv):
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert "needs a file name (this names a folder)" in err and err.count("\n") == 1
    assert not (tmp_path / "newdir").exists()


def test_bench_checks_the_derived_json_path_before_any_work(tmp_path, capsys):
    (tmp_path / "r.json").mkdir()
    t0 = time.perf_counter()
    assert main(["bench", "mcsf-synthetic", "--algos", "local-search", "--time-limit", "30",
                 "--jobs", "1", "--out", str(tmp_path / "r.csv")]) == 2
    assert time.perf_counter() - t0 < 5
    err = capsys.readouterr().err
    assert f"{tmp_path / 'r.json'}: is a folder" in err and err.count("\n") == 1


def test_atomic_output_refuses_special_files_itself(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs FIFOs")
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    with pytest.raises(OutputPathError, match="is a FIFO"), atomic_output(fifo):
        pass


# -- the handlers themselves ------------------------------------------------------------------


def test_install_and_restore_leave_the_handlers_as_they_were():
    from lpsched import interrupts

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    restore = interrupts.install()
    try:
        assert signal.getsignal(signal.SIGTERM) is interrupts._on_term
        interrupts.shutting_down()
        assert interrupts.exit_status() == 130  # nothing else recorded: a Ctrl-C
        os.kill(os.getpid(), signal.SIGTERM)  # only noted now
        time.sleep(0.05)
        assert interrupts.exit_status() == 130 and interrupts.signal_name() == "interrupted"
    finally:
        restore()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_sigterm_first_gives_143_even_when_sigint_follows():
    from lpsched import interrupts

    restore = interrupts.install()
    try:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)  # handled like Ctrl-C: KeyboardInterrupt
            time.sleep(1)
        interrupts.shutting_down()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert interrupts.exit_status() == 143
        assert interrupts.signal_name() == "terminated (SIGTERM)"
    finally:
        restore()


def test_deferred_puts_the_handlers_back_for_library_callers():
    from lpsched import interrupts

    before = signal.getsignal(signal.SIGINT)
    with interrupts.deferred():
        os.kill(os.getpid(), signal.SIGINT)  # noted, not raised
        time.sleep(0.05)
    assert signal.getsignal(signal.SIGINT) is before
