"""Declared options, the time-limit rule and user registration (lpsched.register)."""

from __future__ import annotations

import inspect
import math
import multiprocessing

import numpy as np
import pytest

from lpsched import Instance, Option, OptionError, Request, bench, registry, solve
from lpsched.check import check
from lpsched.cli import main
from lpsched.generators import mcsf_synthetic
from lpsched.schedule import Result, Schedule, SolveStatus
from lpsched.stop import TimeLimitError
from tests.user_algorithms import shortest_first_sequential

INST = Instance(10, [Request("a", 2, 3), Request("b", 1, 4), Request("c", 4, 2)], name="opt")
NOT_OPTIONS = {"instance", "deadline", "seed"}


@pytest.mark.parametrize("spec", registry.specs(), ids=lambda s: s.name)
def test_declarations_match_the_functions(spec):
    """Every keyword the algorithm function names is declared, with the declared default
    (built-ins write their defaults once, in the parameters dataclass, and the signature
    reads them); without ``**kwargs`` every declared option is a named keyword. A function
    with ``**kwargs`` forwards them to a callee that takes them by name (the simulation's
    options, a solver's passthrough), so an unknown keyword still raises there."""
    params = inspect.signature(spec.load()).parameters
    var_kw = [p for p in params.values() if p.kind is p.VAR_KEYWORD]
    names = {p for p, v in params.items() if v.kind is v.KEYWORD_ONLY} - NOT_OPTIONS
    declared = {o.name: o for o in spec.declared_options()}
    assert names <= set(declared), f"{spec.name}: undeclared {names - set(declared)}"
    if not var_kw:
        assert names == set(declared), f"{spec.name}: stale {set(declared) - names}"
    for name in names:
        assert _same(params[name].default, declared[name].default), (spec.name, name)
    for o in spec.declared_options():
        assert o.has_default and o.help, (spec.name, o.name)
        assert o.validate(o.default, spec.name) == o.default or o.default is None


def _same(a, b) -> bool:
    """Equal defaults (exact: defaults are literals, tuples of literals or None)."""
    return a is b or (type(a) is type(b) and a == b)


@pytest.mark.parametrize("algo,key", [("milp", "threds"), ("local-search", "nosuchopt"),
                                      ("cpsat", "nosuchopt"), ("mc-sf", "windo")])
def test_unknown_options_are_refused_with_the_valid_list(algo, key):
    with pytest.raises(OptionError, match=f"unknown option '{key}'.*valid options:") as err:
        solve(INST, algo, time_limit=1, **{key: 1})
    valid = [o.name for o in registry.get(algo).declared_options()]
    assert all(v in str(err.value) for v in valid)


def test_typos_get_a_suggestion():
    with pytest.raises(OptionError, match="did you mean 'threads'"):
        solve(INST, "milp", threds=1)


@pytest.mark.parametrize("algo,opts,words", [
    ("lp-horizon", {"window": 0}, "must be >= 1"),
    ("lp-horizon", {"window": 2.5}, "must be an integer"),
    ("milp", {"threads": True}, "must be an integer"),
    ("cpsat", {"formulation": "fast"}, "must be one of"),
    ("sorted-f", {"thetas": [0.5, 2]}, "must be <= 1"),
    ("mc-sf", {"predictions": "short"}, "a list of integers"),
    ("local-search", {"start": [0.5, 1, 2]}, "a schedule"),
    ("cpsat", {"linearization_level": "high"}, "does not accept"),
])
def test_bad_values_are_refused_naming_the_option(algo, opts, words):
    with pytest.raises(OptionError, match=words):
        solve(INST, algo, time_limit=1, **opts)


def test_solver_parameters_pass_through_by_name():
    assert solve(INST, "milp", time_limit=5, mip_rel_gap=0.0).status is SolveStatus.OPTIMAL
    assert solve(INST, "cpsat", time_limit=5, linearization_level=2).status is SolveStatus.OPTIMAL


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0, 0, "5", True])
def test_time_limit_must_be_finite_and_positive(bad):
    with pytest.raises(TimeLimitError):
        solve(INST, "mc-sf", time_limit=bad)


@pytest.mark.parametrize("value", ["nan", "inf", "-3", "0"])
def test_cli_time_limit_refused(capsys, value):
    assert main(["solve", "tiny-1", "--algo", "mc-sf", "--time-limit", value]) == 2
    err = capsys.readouterr().err
    assert "--time-limit" in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_option_typo_exit_2_listing_valid_options(capsys):
    code = main(["solve", "tiny-3", "--algo", "milp", "--options", '{"threds": 1}'])
    err = capsys.readouterr().err
    assert code == 2 and "unknown option 'threds'" in err and "threads" in err
    assert err.count("\n") == 1


def test_algorithms_name_lists_the_declared_options(capsys):
    assert main(["algorithms", "lp-horizon"]) == 0
    out = capsys.readouterr().out
    for o in registry.get("lp-horizon").declared_options():
        assert o.name in out and o.help[:20] in out
    assert main(["algorithms", "milp", "--json"]) == 0
    import json

    d = json.loads(capsys.readouterr().out)
    assert d["passthrough"] == "HiGHS option"
    assert {o["name"] for o in d["options"]} >= {"threads", "warm_start", "max_model_bytes"}
    assert main(["algorithms", "nope"]) == 2


# -- user registration ------------------------------------------------------------------------


@pytest.fixture
def user_algos():
    made = []

    def reg(name, func, **kw):
        registry.register(name, func, **kw)
        made.append(name)

    yield reg
    for name in made:
        registry.unregister(name)


def test_register_runs_through_solve_with_checked_options(user_algos):
    user_algos("u-sequential", shortest_first_sequential,
               options=[Option("reverse", "bool", "longest first")])
    res = solve(INST, "u-sequential")
    assert res.status is SolveStatus.FEASIBLE and check(INST, res.schedule).feasible
    assert res.objective == check(INST, res.schedule).objective
    longest = solve(INST, "u-sequential", reverse=True)
    assert longest.objective > res.objective
    with pytest.raises(OptionError, match="unknown option 'revers'"):
        solve(INST, "u-sequential", revers=True)
    assert "u-sequential" in registry.algorithm_names()


def test_register_as_decorator_and_return_shapes(user_algos):
    @registry.register("u-mapping")
    def as_mapping(instance, *, deadline, seed=None):
        p = sequential_starts_of(instance)
        return dict(zip(instance.ids, p.tolist()))

    try:
        res = solve(INST, "u-mapping")
        assert res.status is SolveStatus.FEASIBLE and check(INST, res.schedule).feasible
    finally:
        registry.unregister("u-mapping")
    user_algos("u-schedule", lambda instance, *, deadline, seed=None:
               Schedule(instance, sequential_starts_of(instance)))
    assert solve(INST, "u-schedule").status is SolveStatus.FEASIBLE


def sequential_starts_of(instance):
    from lpsched.schedule import sequential_starts

    return sequential_starts(instance, np.arange(instance.n))


def test_user_failures_become_honest_error_results(user_algos):
    def raises(instance, *, deadline, seed=None):
        raise RuntimeError("boom")

    def infeasible(instance, *, deadline, seed=None):
        return np.zeros(instance.n, dtype=int)

    def false_optimum(instance, *, deadline, seed=None):
        return Result("x", SolveStatus.OPTIMAL, schedule=Schedule(
            instance, sequential_starts_of(instance)))

    user_algos("u-raises", raises)
    user_algos("u-infeasible", infeasible)
    user_algos("u-claims", false_optimum)
    r = solve(INST, "u-raises")
    assert r.status is SolveStatus.ERROR and "RuntimeError: boom" in r.message
    r = solve(INST, "u-infeasible")
    assert r.status is SolveStatus.ERROR and "infeasible schedule" in r.message
    r = solve(INST, "u-claims")  # 'optimal' without a bound is not believed
    assert r.status is SolveStatus.FEASIBLE


def test_register_refuses_bad_registrations(user_algos):
    with pytest.raises(ValueError, match="built-in"):
        registry.register("mc-sf", shortest_first_sequential)
    with pytest.raises(TypeError, match="deadline"):
        registry.register("u-old", lambda instance, *, time_limit=None: None)
    with pytest.raises(ValueError, match="name"):
        registry.register("two words", shortest_first_sequential)
    user_algos("u-once", shortest_first_sequential)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("u-once", shortest_first_sequential)


def _bench_in_spawned_worker(task):
    from lpsched.bench import _run_task

    return _run_task(task)


def test_user_algorithm_runs_in_bench_workers(user_algos):
    """In-process, in a process pool, and in a fresh (spawned) interpreter that never saw the
    registration: the spec travels with the task, as it does to Dask workers."""
    user_algos("u-bench", shortest_first_sequential,
               options=[Option("reverse", "bool", "longest first")])
    insts = [mcsf_synthetic(8, s) for s in (1, 2)]
    for jobs in (1, 2):
        run = bench.run_bench(insts, ["u-bench", "mc-sf"], jobs=jobs, bound=False,
                              progress=False, options={"u-bench": {"reverse": False}})
        assert [r.status for r in run.rows] == ["feasible"] * 4
        assert all(r.verified for r in run.rows)
    task = {"instance": insts[0].to_dict(), "algorithm": "u-bench", "time_limit": 1.0,
            "seed": 0, "options": {}, "spec": registry.get("u-bench")}
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        row = pool.apply(_bench_in_spawned_worker, (task,))
    assert row["status"] == "feasible" and row["verified"]
    with pytest.raises(OptionError, match="unknown option"):
        bench.run_bench(insts, ["u-bench"], jobs=1, bound=False, progress=False,
                        options={"u-bench": {"revers": True}})
