"""The benchmark harness: tables, files, gaps from bounds, Dask, errors, interrupts, CLI.

Test-only algorithms are registered by monkeypatching ``lpsched.registry._BUILTIN``
so these tests do not depend on the heuristics or exact solvers of other modules.
"""

from __future__ import annotations

import csv
import json
import sys
import types
from dataclasses import dataclass

import numpy as np
import pytest

from lpsched import bench, registry
from lpsched.check import check
from lpsched.cli import main
from lpsched.generators import mcsf_synthetic
from lpsched.schedule import Result, Schedule, SolveStatus, sequential_starts

# -- test-only algorithms ---------------------------------------------------------------------


def solve_sequential(inst, *, time_limit=None, seed=None, **options):
    """One request at a time in arrival order (always feasible: each fits alone)."""
    order = np.lexsort((np.arange(inst.n), inst.arrival))
    return Result("t-seq", SolveStatus.FEASIBLE, schedule=Schedule(inst, sequential_starts(inst, order)))


def solve_sequential_spt(inst, *, time_limit=None, seed=None, **options):
    """Sequential by shortest decode, reporting the valid bound sum(o) (offline)."""
    order = np.argsort(inst.decode, kind="stable")
    return Result("t-spt", SolveStatus.FEASIBLE, lower_bound=float(inst.decode.sum()),
                  schedule=Schedule(inst, sequential_starts(inst, order)))


def solve_raises(inst, *, time_limit=None, seed=None, **options):
    raise RuntimeError("deliberate failure for the test")


def solve_infeasible(inst, *, time_limit=None, seed=None, **options):
    """Starts everything at 0 (infeasible when the requests do not all fit together)."""
    return Result("t-bad", SolveStatus.FEASIBLE, schedule=Schedule(inst, np.zeros(inst.n, int)))


SPECS = (
    registry.AlgorithmSpec("t-seq", f"{__name__}:solve_sequential", "policy", "test sequential"),
    registry.AlgorithmSpec("t-spt", f"{__name__}:solve_sequential_spt", "policy", "test SPT"),
    registry.AlgorithmSpec("t-raise", f"{__name__}:solve_raises", "policy", "test: raises"),
    registry.AlgorithmSpec("t-bad", f"{__name__}:solve_infeasible", "policy", "test: infeasible"),
)


@pytest.fixture(autouse=True)
def test_registry(monkeypatch):
    monkeypatch.setattr(registry, "_BUILTIN", list(SPECS))


def small_set():
    from lpsched import library

    return library.load_set("tiny") + [mcsf_synthetic(8, seed) for seed in (1, 2)]


def _comparable(run: bench.BenchRun):
    return [{k: v for k, v in r.to_dict().items() if k != "time_s"} for r in run.rows]


# -- tests --------------------------------------------------------------------------------------


def test_bench_cli_table_files_and_gaps(tmp_path, capsys):
    out = tmp_path / "res.csv"
    code = main(["bench", "tiny", "--algos", "t-seq,t-spt", "--jobs", "2", "--out", str(out),
                 "--quiet"])
    text = capsys.readouterr().out
    assert code == 0
    for col in ("instance", "n", "M", "algorithm", "status", "objective", "lower_bound",
                "gap_pct", "time_s", "mean_gap_pct", "wins", "proven_optimal"):
        assert col in text
    rows = list(csv.DictReader(out.open()))
    data = json.loads(out.with_suffix(".json").read_text())
    assert len(rows) == len(data["rows"]) == 8  # 4 tiny instances x 2 algorithms
    assert [r["instance"] for r in rows] == [r["instance"] for r in data["rows"]]
    from lpsched import library

    for r in data["rows"]:
        inst = library.load_instance(r["instance"])
        opt = inst.metadata["optimum"]
        assert r["lower_bound"] == opt  # the proven optimum is the best bound here
        assert r["verified"] is True
        assert r["gap_pct"] == pytest.approx(100 * (r["objective"] - opt) / r["objective"])
        assert r["objective"] >= opt
        assert r["best_known"] == opt
        assert r["vs_best_pct"] == pytest.approx(100 * (r["objective"] - opt) / opt)
    summ = {s["algorithm"]: s for s in data["summary"]}
    for a in ("t-seq", "t-spt"):
        mine = [r for r in data["rows"] if r["algorithm"] == a]
        assert summ[a]["mean_gap_pct"] == pytest.approx(np.mean([r["gap_pct"] for r in mine]))
        assert summ[a]["proven_optimal"] == sum(r["objective"] == r["lower_bound"] for r in mine)
    best = {}
    for r in data["rows"]:
        best[r["instance"]] = min(best.get(r["instance"], r["objective"]), r["objective"])
    assert sum(s["wins"] for s in data["summary"]) == sum(
        r["objective"] == best[r["instance"]] for r in data["rows"])
    assert f"wrote {out}" in text


def test_bench_gap_uses_the_best_bound_of_all_sources():
    insts = [mcsf_synthetic(8, 3)]  # no bound in metadata
    run = bench.run_bench(insts, ["t-seq", "t-spt"], jobs=1, bound=False, progress=False)
    lb = float(insts[0].decode.sum())  # reported by t-spt, used for t-seq too
    best = min(r.objective for r in run.rows)
    for r in run.rows:
        assert r.best_known == best  # no metadata: the best of the run
        assert r.lower_bound == lb and r.lb_source == "t-spt bound"
        assert r.gap_pct == pytest.approx(100 * (r.objective - lb) / r.objective)
        assert r.objective == check(insts[0], _starts_of(r, insts[0])).objective
    # metadata bound larger than the solver bound wins
    richer = insts[0].replace(metadata={"lower_bound": lb + 5, "lower_bound_by": "hand"})
    run = bench.run_bench([richer], ["t-spt"], jobs=1, bound=False, progress=False)
    assert run.rows[0].lower_bound == lb + 5 and "hand" in run.rows[0].lb_source


def _starts_of(row, inst):
    algo = {"t-seq": solve_sequential, "t-spt": solve_sequential_spt}[row.algorithm]
    return algo(inst).schedule


def test_bound_function_is_used_when_available(monkeypatch):
    @dataclass(frozen=True)
    class Bound:
        value: float
        method: str

    fake = types.ModuleType("lpsched.models.bounds")
    fake.lower_bound = lambda inst, method="best": Bound(float(inst.decode.sum()) + 1, "fake")
    monkeypatch.setitem(sys.modules, "lpsched.models.bounds", fake)
    inst = mcsf_synthetic(6, 4)
    run = bench.run_bench([inst], ["t-spt"], jobs=1, progress=False)
    assert run.rows[0].lower_bound == inst.decode.sum() + 1
    assert "lpsched.models.bounds" in run.rows[0].lb_source
    off = bench.run_bench([inst], ["t-spt"], jobs=1, bound=False, progress=False)
    assert off.rows[0].lower_bound == inst.decode.sum()

    def broken(inst, method="best", time_limit=None):
        raise RuntimeError("bound failed")

    # not computed where it cannot help: a proven optimum, or a bound from the same function
    from lpsched import library

    tiny = library.load_instance("tiny-1")
    same = inst.replace(metadata={"lower_bound": 3, "lower_bound_by": "lpsched.models.bounds (x)"})
    run = bench.run_bench([tiny, same], ["t-spt"], jobs=1, progress=False)
    assert run.meta["bound_skipped"] == [tiny.name, same.name]
    assert run.rows[0].lower_bound == 4 and run.rows[1].lower_bound == inst.decode.sum()

    fake.lower_bound = broken
    run = bench.run_bench([inst], ["t-spt"], jobs=1, progress=False, bound_time_limit=5)
    assert run.rows[0].lower_bound == inst.decode.sum()  # falls back to the other sources
    assert run.meta["bound_errors"] == {inst.name: "RuntimeError: bound failed"}


def test_invalid_bound_is_reported_not_hidden():
    inst = mcsf_synthetic(5, 1)
    bad = inst.replace(metadata={"lower_bound": 10**9})
    run = bench.run_bench([bad], ["t-seq"], jobs=1, bound=False, progress=False)
    assert run.rows[0].gap_pct is None
    assert "exceeds this checked objective" in run.rows[0].message


def test_failing_algorithms_are_recorded_and_the_run_goes_on():
    insts = small_set()
    run = bench.run_bench(insts, ["t-raise", "t-seq", "t-bad"], jobs=2, progress=False)
    assert len(run.rows) == 3 * len(insts) and not run.interrupted
    for r in run.rows:
        if r.algorithm == "t-raise":
            assert r.status == "error" and r.objective is None
            assert "RuntimeError: deliberate failure for the test" in r.message
        elif r.algorithm == "t-seq":
            assert r.status == "feasible" and r.verified
    bad = [r for r in run.rows if r.algorithm == "t-bad"]
    assert any(r.status == "error" and "infeasible schedule" in r.message for r in bad)
    for r in bad:  # only the ones the checker accepts count
        if r.status != "error":
            inst = next(i for i in insts if i.name == r.instance)
            assert check(inst, np.zeros(inst.n, int)).feasible
    summ = {s["algorithm"]: s for s in run.summary}
    assert summ["t-raise"]["errors"] == len(insts) and summ["t-raise"]["mean_gap_pct"] is None


def test_local_dask_cluster_gives_identical_results():
    distributed = pytest.importorskip("distributed")
    insts = small_set()
    algos = ["t-seq", "t-spt", "t-raise"]
    local = bench.run_bench(insts, algos, jobs=2, progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  host="127.0.0.1", protocol="tcp", dashboard_address=None) as cl:
        assert cl.scheduler_address.startswith("tcp://127.0.0.1:")
        remote = bench.run_bench(insts, algos, scheduler=cl.scheduler_address, progress=False)
    assert remote.executor.startswith("dask")
    assert _comparable(remote) == _comparable(local)
    assert remote.summary == [dict(s, time_s=r["time_s"]) for s, r in
                              zip(local.summary, remote.summary)]


def test_interrupt_keeps_finished_rows(tmp_path):
    insts = small_set()
    out = tmp_path / "partial.csv"
    seen = []

    def stop_after_two(row):
        seen.append(row)
        if len(seen) == 2:
            raise KeyboardInterrupt

    run = bench.run_bench(insts, ["t-seq"], jobs=1, bound=False, csv_path=out, progress=False,
                          on_row=stop_after_two)
    assert run.interrupted and len(run.rows) == 2
    assert [r.instance for r in run.rows] == [i.name for i in insts[:2]]
    assert len(list(csv.DictReader(out.open()))) == 2


def test_progress_line_goes_to_stderr(capsys):
    bench.run_bench([mcsf_synthetic(4, 1)], ["t-seq"], jobs=1, bound=False, progress=True)
    err = capsys.readouterr().err
    assert "1/1" in err


@pytest.mark.parametrize("argv, match", [
    (["bench", "tiny", "--algos", "nope"], "unknown algorithm"),
    (["bench", "no-such-set", "--algos", "t-seq"], "no such file, bundled instance or set"),
    (["bench", "tiny", "--algos", "t-seq", "--scheduler", "tcp://127.0.0.1:9",
      "--connect-timeout", "1"],
     "cannot connect"),
    (["bench", "tiny", "--algos", "t-seq,t-seq"], "twice"),
])
def test_bench_cli_errors(argv, match, capsys):
    if "--scheduler" in argv:
        pytest.importorskip("distributed")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1


def test_bench_trace_csv_needs_memory(tmp_path, capsys):
    f = tmp_path / "t.csv"
    f.write_text("arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,5,3\n0.1,2,4\n0.3,7,2\n")
    assert main(["bench", str(f), "--algos", "t-seq", "--jobs", "1"]) == 2
    assert "needs a memory budget" in capsys.readouterr().err
    assert main(["bench", str(f), "--algos", "t-seq", "--jobs", "1", "--memory", "20",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "t  " in out or "t " in out
    assert "feasible" in out

