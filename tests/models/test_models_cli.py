"""Exported models (MPS/LP) and the ``bound``/``export`` CLI commands."""

from __future__ import annotations

import json
from pathlib import Path

import highspy
import pytest

from lpsched.cli import main
from lpsched.generators import random_instance
from lpsched.instance import write_json
from lpsched.library import instance_files, load_instance
from lpsched.models.export import export_model
from lpsched.solve import solve

ROOT = Path(__file__).resolve().parents[2]
FORMULATIONS = ROOT / "formulations" / "models"
TINY = [p.stem for p in instance_files("tiny")]


def _solve_file(path: Path) -> tuple[str, float]:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    highspy.Highs.resetGlobalScheduler(True)  # other tests may have run HiGHS with other threads
    h.run()
    return h.modelStatusToString(h.getModelStatus()), h.getInfo().objective_function_value


@pytest.mark.parametrize("name", TINY)
def test_committed_exports_are_in_sync_with_the_code(name, tmp_path):
    inst = load_instance(name)
    for model, suffix in (("time-indexed", "mps"), ("lp-relaxation", "lp")):
        committed = FORMULATIONS / f"{name}.{model}.{suffix}"
        fresh = export_model(inst, tmp_path / committed.name, model=model)
        assert committed.exists(), f"missing {committed}; regenerate with `lpsched export`"
        assert fresh.read_text() == committed.read_text(), (
            f"{committed} is out of date: run `lpsched export {name} --model {model} "
            f"--out {committed.relative_to(ROOT)}`")


@pytest.mark.parametrize("name", TINY)
def test_exported_mps_solved_by_highspy_gives_the_optimum(name, tmp_path):
    inst = load_instance(name)
    status, value = _solve_file(FORMULATIONS / f"{name}.time-indexed.mps")
    res = solve(inst, "milp")
    assert status == "Optimal" and res.status.value == "optimal"
    assert round(value) == res.objective
    if "optimum" in inst.metadata:
        assert res.objective == inst.metadata["optimum"]
    lp_status, lp_value = _solve_file(FORMULATIONS / f"{name}.lp-relaxation.lp")
    assert lp_status == "Optimal" and lp_value <= res.objective + 1e-6


def test_exported_mps_of_random_instances_matches_solve(tmp_path):
    for seed in range(6):
        inst = random_instance(4, 12, seed, max_decode=5, max_arrival=3 * (seed % 2))
        path = export_model(inst, tmp_path / f"r{seed}.mps")
        status, value = _solve_file(path)
        res = solve(inst, "cpsat")
        assert status == "Optimal" and round(value) == res.objective


def test_cli_bound_json_and_text(capsys):
    assert main(["bound", "tiny-4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "best" and out["lower_bound"] <= 12
    for method in ("combinatorial", "lp", "bucket"):
        assert main(["bound", "tiny-3", "--method", method, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["method"] == method and out["lower_bound"] <= 12
    assert main(["bound", "tiny-3"]) == 0
    assert "lower bound" in capsys.readouterr().out


def test_cli_export_and_errors(tmp_path, capsys):
    out = tmp_path / "m.lp"
    assert main(["export", "tiny-2", "--model", "lp-relaxation", "--out", str(out)]) == 0
    assert out.read_text().startswith("\\* time_indexed_tiny_2 *\\")
    assert main(["export", "tiny-2", "--out", str(tmp_path / "m.txt")]) == 2
    err = capsys.readouterr().err
    assert "unknown format 'txt'" in err and err.count("\n") == 1
    assert main(["bound", "no-such-instance"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_solve_milp_and_cpsat(tmp_path, capsys):
    inst = random_instance(4, 10, 1, max_decode=4)
    path = tmp_path / "i.json"
    write_json(inst, path)
    for algo in ("milp", "cpsat"):
        assert main(["solve", str(path), "--algo", algo, "--time-limit", "10",
                     "--out", str(tmp_path / f"{algo}.json")]) == 0
        text = capsys.readouterr().out
        assert "status     optimal" in text
        sched = json.loads((tmp_path / f"{algo}.json").read_text())
        assert sched["status"] == "optimal" and sched["lower_bound"] == sched["objective"]
