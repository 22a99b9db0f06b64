"""The library's study sets (MC-SF family, n = 10-60): figures, provenance, merging."""

from __future__ import annotations

from pathlib import Path

import pytest

from lpsched import library
from lpsched.check import check
from lpsched.generators import mcsf_synthetic
from tests.bench_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
STUDY = ("mcsf-n10-20", "mcsf-n20-30", "mcsf-n40-60")


def _modules():
    return load_script("build_library"), load_script("library_figures")


def _study():
    for s in STUDY:
        yield from library.load_set(s)


def test_study_sets_hold_the_instances_of_the_exact_benchmarks():
    build, _ = _modules()
    for s in STUDY:
        got = {(i.n, i.metadata["seed"]) for i in library.load_set(s)}
        assert got == set(build.STUDY_SETS[s]), s
    for inst in _study():
        assert inst == mcsf_synthetic(inst.n, inst.metadata["seed"]), inst.name
    # no study instance duplicates an instance of the older mcsf-synthetic set
    older = set(library.load_set("mcsf-synthetic"))
    assert not older & set(_study())


def test_headline_values_follow_from_the_figures():
    _, figs_mod = _modules()
    for inst in _study():
        md = inst.metadata
        figs = [figs_mod.Figure.from_dict(d) for d in md["figures"]]
        summary = figs_mod.summarize(figs)
        for key, value in summary.items():
            assert md[key] == value, (inst.name, key)
        ups = [f.value for f in figs if f.kind == "upper"]
        lows = [f.value for f in figs if f.kind == "lower"]
        assert min(ups) >= max(lows), inst.name  # every objective above every bound
        if md["optimum"] is not None:
            assert md["optimum"] == md["lower_bound"] == md["best_known"], inst.name
        else:
            assert md["lower_bound"] < md["best_known"], inst.name
        for f in figs:
            assert f.method and f.source, inst.name
            if f.source.startswith("benchmarks/results/"):
                assert (ROOT / f.source).exists() and f.commit and f.machine, (inst.name, f)


def test_the_shipped_schedule_is_the_verified_figure():
    for inst in _study():
        md = inst.metadata
        sched = md["schedule"]
        rep = check(inst, sched["starts"])
        assert rep.feasible and rep.objective == sched["objective"], inst.name
        verified = [f for f in md["figures"] if f.get("verified")]
        assert [f["value"] for f in verified] == [sched["objective"]], inst.name
        assert md["best_known_verified"] == (sched["objective"] == md["best_known"])


def test_harvested_figures_are_still_in_the_committed_results():
    """Re-harvesting the result CSVs gives back every stored figure of their current commit
    (figures of an older commit of a result file stay valid: they cite that commit)."""
    _, figs_mod = _modules()
    harvested = figs_mod.harvest()
    current = {}
    for inst in _study():
        stored = [figs_mod.Figure.from_dict(d) for d in inst.metadata["figures"]
                  if d["source"].startswith("benchmarks/results/")]
        assert stored, inst.name
        again = set(harvested.get((inst.n, inst.metadata["seed"]), ()))
        for f in stored:
            if f.source not in current:
                current[f.source] = figs_mod.last_commit(ROOT / f.source)
            if f.commit == current[f.source]:
                assert f in again, (inst.name, f)


def test_built_bounds_are_reproduced():
    build, _ = _modules()
    from lpsched.models.bounds import lower_bound

    lp_checked = 0
    for inst in _study():
        built = [f for f in inst.metadata["figures"]
                 if f["source"] == build.BUILD_SOURCE and f["kind"] == "lower"]
        for f in built:
            if f["method"].startswith("combinatorial"):
                assert f["value"] == build.fallback_lower_bound(inst), inst.name
        ours = [f["value"] for f in built if f["method"].startswith("lpsched.models.bounds")]
        if ours and inst.n == 30 and lp_checked < 2:  # the n = 30 LPs solve in seconds
            # the strongest stored figure is today's bound (a stronger or weaker
            # lower_bound means: rebuild the study sets, docs/library.md)
            assert lower_bound(inst, "best", time_limit=60).value == max(ours), inst.name
            lp_checked += 1
    assert lp_checked == 2


@pytest.mark.slow
def test_proven_optima_at_n10_agree_with_cpsat():
    from lpsched import solve

    for inst in library.load_set("mcsf-n10-20"):
        if inst.n != 10:
            continue
        res = solve(inst, "cpsat", time_limit=20, seed=0, threads=1)
        assert res.status.value == "optimal", inst.name
        assert res.objective == inst.metadata["optimum"], inst.name


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_merge_csv_rows_and_errors(tmp_path):
    _, figs_mod = _modules()
    inst = library.load_instance("mcsf-n10-s2000")
    starts = " ".join(map(str, inst.metadata["schedule"]["starts"]))
    obj = inst.metadata["schedule"]["objective"]
    rows = figs_mod.read_merge_csv(_write(
        tmp_path / "ok.csv", "seed,n,best,bound,by,starts\n"
        f"2000,10,{obj},250.2,new method,{starts}\n2001,10,,300,bound only,\n"))
    (key, figs, got), (key2, figs2, none) = rows
    assert key == (10, 2000) and got == [int(x) for x in starts.split()]
    assert {(f.kind, f.value) for f in figs} == {("upper", obj), ("lower", 251)}
    assert key2 == (10, 2001) and none is None and [f.value for f in figs2] == [300]
    for bad in ("seed,n,best\n1,10,5\n",               # no 'by'
                "seed,n,by,weird\n1,10,x,3\n",         # unknown column
                "seed,n,by\n1,10,x\n",                 # no figure
                "seed,n,bound,by,starts\n1,10,5,x,0\n",  # starts without an objective
                "seed,n,bound,by\nx,10,5,m\n"):        # seed not an integer
        with pytest.raises(figs_mod.MergeError):
            figs_mod.read_merge_csv(_write(tmp_path / "bad.csv", bad))


def test_study_instance_merge_checks_the_schedule_and_the_bounds():
    build, figs_mod = _modules()
    inst = library.load_instance("mcsf-n10-s2000")
    opt = inst.metadata["optimum"]
    figs = [figs_mod.Figure.from_dict(d) for d in inst.metadata["figures"]]
    st = build.StudyInstance(inst, figs, "test machine", None)
    starts = inst.metadata["schedule"]["starts"]
    up = figs_mod.Figure("upper", opt + 1, "liar", "x.csv")
    with pytest.raises(SystemExit):  # stated objective differs from the checked one
        st.merge([up], starts)
    st.merge([figs_mod.Figure("upper", opt, "again", "x.csv")], starts)
    assert st.metadata(10, 2000)["optimum"] == opt
    st.merge([figs_mod.Figure("lower", opt + 1, "wrong bound", "x.csv")], None)
    with pytest.raises(SystemExit):  # a bound above a checked objective is an error
        st.metadata(10, 2000)


def test_build_refuses_a_merge_row_outside_the_study_sets(tmp_path, capsys):
    build, _ = _modules()
    bad = _write(tmp_path / "m.csv", "seed,n,bound,by\n999,10,5,x\n")
    before = (library.root() / "index.json").read_bytes()
    with pytest.raises(SystemExit) as exc:
        build.main(["--sets", "mcsf-n10-20", "--no-runs", "--merge", str(bad)])
    assert exc.value.code == 2 and "(10, 999)" in capsys.readouterr().err
    assert (library.root() / "index.json").read_bytes() == before
