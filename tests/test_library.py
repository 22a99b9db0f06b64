"""The bundled instance library: index in sync with the files, provenance, stated optima."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from lpsched import library, registry
from lpsched.cli import main
from lpsched.generators import mcsf_synthetic
from lpsched.workloads import sample_instance
from tests.bench_scripts import load_script
from tests.strategies import examples, instances


def test_index_matches_the_files():
    shipped = json.loads((library.root() / "index.json").read_text())
    assert shipped == library.build_index()  # every file listed, every listed file exists
    paths = {e["path"] for e in shipped["instances"]}
    files = {p.relative_to(library.root()).as_posix() for p in library.instance_files()}
    assert paths == files
    assert set(shipped["sets"]) == set(library.SETS)
    for s in library.SETS:
        assert shipped["sets"][s]["instances"] >= 4


def test_every_instance_carries_its_provenance_and_consistent_values():
    for e in library.load_index()["instances"]:
        inst = library.load_instance(f"{e['set']}/{e['name']}")
        md = inst.metadata
        assert md.get("source"), e["name"]
        assert e["best_known"] is not None and e["best_known_by"], e["name"]
        assert e["lower_bound"] is not None and e["lower_bound_by"], e["name"]
        assert e["lower_bound"] <= e["best_known"], e["name"]
        if e["optimum"] is not None:
            # proven: either by a bound equal to it, or by a named exact method
            assert e["optimum"] == e["best_known"] and e["optimum_by"], e["name"]
        if e["set"] != "tiny":
            assert md["generator"] and md["seed"] == e["seed"] is not None


def _builder():
    return load_script("build_library")


def test_best_known_schedules_are_shipped_and_checker_verified():
    from lpsched.check import check
    from lpsched.schedule import Schedule

    builder = _builder()
    for e in library.load_index()["instances"]:
        inst = library.load_instance(e["name"])
        md = inst.metadata
        if "schedule" in md:  # study sets: the best shipped schedule, maybe above best known
            rep = check(inst, Schedule(inst, md["schedule"]["starts"]))
            assert rep.feasible and rep.objective == md["schedule"]["objective"], e["name"]
            assert rep.objective >= e["best_known"], e["name"]
            assert (rep.objective == e["best_known"]) == e["best_known_verified"], e["name"]
            continue
        if "best_known_starts" in md:
            sched = Schedule(inst, md["best_known_starts"])
        else:  # the hand-made tiny set ships its optimal schedules as a mapping
            sched = Schedule.from_mapping(inst, md["optimal_starts"])
        rep = check(inst, sched)
        assert rep.feasible and rep.objective == e["best_known"], e["name"]
        assert e["best_known_verified"], e["name"]
        if "build_library.py fallback" in (e["lower_bound_by"] or ""):
            assert builder.fallback_lower_bound(inst) == e["lower_bound"], e["name"]


def test_fallback_bound_is_valid_on_tiny_optima():
    builder = _builder()
    for inst in library.load_set("tiny"):
        assert builder.fallback_lower_bound(inst) <= inst.metadata["optimum"], inst.name


def test_generated_instances_regenerate_from_their_metadata():
    for e in library.load_index()["instances"]:
        if e["set"] == "tiny":
            continue
        inst = library.load_instance(e["name"])
        args = dict(inst.metadata["generator_args"])
        if inst.metadata["generator"] == "lpsched.generators.mcsf_synthetic":
            again = mcsf_synthetic(args["n"], args["seed"])
        else:
            again = sample_instance(args.pop("profiles"), args.pop("n"), args.pop("memory"),
                                    args.pop("seed"), **args)
        assert again == inst, e["name"]


def test_tiny_optima_reproduced_by_brute_force(brute_optimum):
    for inst in library.load_set("tiny"):
        opt, _ = brute_optimum(inst)
        assert opt == inst.metadata["optimum"], inst.name


def test_stated_optima_reproduced_by_the_exact_solver():
    if "milp" not in registry.algorithm_names():
        pytest.skip("exact solver 'milp' not registered yet (branch exact not merged)")
    from lpsched import solve

    for e in library.load_index()["instances"]:
        if e["optimum"] is None or e["n"] > 60 or e["set"].startswith("mcsf-n"):
            continue  # the study sets: tests/test_library_study.py
        inst = library.load_instance(e["name"])
        res = solve(inst, "milp", time_limit=60)
        if e["set"] == "tiny":
            assert res.status.value == "optimal" and res.objective == e["optimum"], e["name"]
        elif res.status.value == "optimal":
            assert res.objective == e["optimum"], e["name"]


def test_resolve_sets_names_and_files(tmp_path):
    assert [i.name for i in library.resolve("tiny")] == ["tiny-1", "tiny-2", "tiny-3", "tiny-4"]
    assert [i.name for i in library.resolve("tiny-2,mcsf-synthetic/mcsf-n40-s1")] == \
        ["tiny-2", "mcsf-n40-s1"]
    from lpsched.instance import write_json

    write_json(mcsf_synthetic(5, 1), tmp_path / "x.json")
    assert library.resolve([str(tmp_path / "x.json")])[0].name == "mcsf-n5-s1"
    with pytest.raises(KeyError):
        library.resolve("nothing-here")


def test_instances_cli(capsys):
    assert main(["instances"]) == 0
    out = capsys.readouterr().out
    for s in library.SETS:
        assert s in out
    assert "tiny-1" in out and "best_known" in out
    assert main(["instances", "--set", "tiny", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in data["instances"]] == ["tiny-1", "tiny-2", "tiny-3", "tiny-4"]
    assert main(["instances", "--set", "nope"]) == 2


@settings(max_examples=examples(50))
@given(instances(min_n=1, max_n=4, max_memory=10, max_decode=4, max_arrival=3))
def test_fallback_bound_never_exceeds_the_brute_force_optimum(brute_optimum, inst):
    opt, _ = brute_optimum(inst)
    assert _builder().fallback_lower_bound(inst) <= opt
