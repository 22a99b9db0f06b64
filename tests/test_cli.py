"""The core CLI: info, check, algorithms, help texts, and exit codes."""

from __future__ import annotations

import json

import pytest

from lpsched.cli import build_parser, main
from lpsched.library import load_instance


def sched_file(tmp_path, starts, name="s.json"):
    p = tmp_path / name
    p.write_text(json.dumps({"instance": "tiny-4", "algorithm": "hand", "starts": starts}))
    return p


def test_info_bundled_and_json(capsys):
    assert main(["info", "tiny-3"]) == 0
    out = capsys.readouterr().out
    assert "requests  4" in out and "memory M = 12" in out
    assert main(["info", "tiny-3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n"] == 4 and data["metadata"]["optimum"] == 12


def test_check_feasible_exit_0(tmp_path, capsys):
    inst = load_instance("tiny-4")
    p = sched_file(tmp_path, dict(inst.metadata["optimal_starts"]))
    assert main(["check", "tiny-4", str(p)]) == 0
    assert "feasible: objective 12" in capsys.readouterr().out


def test_check_infeasible_exit_1_says_where(tmp_path, capsys):
    p = sched_file(tmp_path, {"r0": 0, "r1": 0, "r2": 1, "r3": 3})
    assert main(["check", "tiny-4", str(p)]) == 1
    out = capsys.readouterr().out
    assert "infeasible" in out and "step 2: memory 11 exceeds the budget by 2" in out


def test_check_early_start_exit_1(tmp_path, capsys):
    p = sched_file(tmp_path, {"r0": 0, "r1": 0, "r2": 0, "r3": 9})
    assert main(["check", "tiny-4", str(p)]) == 1
    assert "'r2' starts at step 0 before its arrival 1" in capsys.readouterr().out


@pytest.mark.parametrize("starts,words", [
    ({"r0": 0, "r1": 0, "r2": 2}, "request 'r3': no start step"),
    ({"r0": 0, "r1": 0, "r2": 2, "r3": 3, "zz": 1}, "request 'zz': not in instance"),
    ({"r0": 0, "r1": 0.5, "r2": 2, "r3": 3}, "request 'r1': start must be an integer"),
])
def test_check_bad_schedule_exit_2(tmp_path, capsys, starts, words):
    p = sched_file(tmp_path, starts)
    assert main(["check", "tiny-4", str(p)]) == 2
    err = capsys.readouterr().err
    assert words in err and str(p) in err and "Traceback" not in err


def test_algorithms_lists_stable_names(capsys):
    assert main(["algorithms", "--json"]) == 0
    names = {a["name"] for a in json.loads(capsys.readouterr().out)}
    assert {"fcfs", "sf", "size-first", "mc-sf"} <= names


def test_unknown_algorithm_exit_2(capsys):
    assert main(["solve", "tiny-1", "--algo", "nope"]) == 2
    assert "unknown algorithm 'nope'" in capsys.readouterr().err


def test_every_subcommand_help_has_an_example():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        assert "example" in p.format_help(), name


def test_demo_table_on_chosen_instances(capsys):
    assert main(["demo", "tiny-3", "tiny-4", "--algos", "mc-sf,milp"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("tiny-")]
    assert len(rows) == 4
    milp_rows = [r for r in rows if r[3] == "milp"]
    assert all(r[4] == "optimal" and r[5] == r[7] for r in milp_rows)  # objective == stated optimum
