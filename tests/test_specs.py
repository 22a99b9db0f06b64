"""Each algorithm declared beside its code (issue 21 item 5): the modules' ``ALGORITHMS``,
one frozen parameters dataclass per algorithm, the registry that only lists modules."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from lpsched import Instance, Request, registry, solve
from lpsched.heuristics.baselines import SimulationParams
from lpsched.models.exact_specs import CpsatParams, MilpParams
from lpsched.options import OptionError, param

INST = Instance(10, [Request("a", 2, 3), Request("b", 1, 4), Request("c", 4, 2)], name="spec")
BUILTINS = [s for s in registry.specs() if s.builtin]


def test_registry_holds_no_option_declarations():
    """registry.py lists modules; no Option, param or option-group call is left in it."""
    tree = ast.parse(Path(registry.__file__).read_text())

    def calls(node):
        return {n.func.id for n in ast.walk(node)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}

    assert not calls(tree) & {"Option", "param", "_opt"}
    for node in tree.body:  # specs are made only by register(), for user algorithms
        if "AlgorithmSpec" in calls(node):
            assert isinstance(node, ast.FunctionDef) and node.name == "register", node.lineno


def test_every_module_declares_its_algorithms():
    seen: list[str] = []
    for name in registry.MODULES:
        module = importlib.import_module(name)
        specs = module.ALGORITHMS
        assert specs, name
        for spec in specs:
            if isinstance(spec.target, str):  # declared apart from heavy code, same package
                assert spec.target.rsplit(".", 1)[0] == name.rsplit(".", 1)[0], spec.name
            else:
                assert spec.target.__module__ == name, spec.name
            seen.append(spec.name)
    assert seen == [s.name for s in BUILTINS]
    assert len(set(seen)) == len(seen)


def test_declared_index_matches_the_modules():
    """registry.DECLARED (the name -> module index behind a one-module look-up) lists,
    for every declaring module, exactly the names of its ALGORITHMS, in order."""
    assert registry.MODULES == tuple(registry.DECLARED)
    for name, names in registry.DECLARED.items():
        module = importlib.import_module(name)
        assert names == tuple(s.name for s in module.ALGORITHMS), name


@pytest.mark.parametrize("how", ["get", "solve", "cli"])
def test_a_look_up_by_name_imports_one_declaring_module(how):
    """In a fresh process, get(), solve(alg=...) and `lpsched algorithms NAME` import only
    the module that declares the algorithm (smith-area imports no other declaring module;
    the command's parser, built first, imports the exact models' declarations for its
    own subcommands), and return the spec a full listing gives."""
    run = {"get": "spec = registry.get('Smith-Area')",
           "solve": "solve(Instance(10, [Request('a', 2, 3)]), 'smith-area')",
           "cli": "main(['algorithms', 'smith-area'])"}[how]
    code = ("import sys\nfrom lpsched import Instance, Request, registry, solve\n"
            "from lpsched.cli import build_parser, main\n"
            "build_parser()\n"
            "before = {m for m in registry.MODULES if m in sys.modules}\n"
            f"{run}\n"
            "loaded = [m for m in registry.MODULES if m in sys.modules and m not in before]\n"
            "one = registry.get('smith-area')\n"
            "print(loaded, one is [s for s in registry.specs() if s.name == 'smith-area'][0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.splitlines()[-1] == "['lpsched.heuristics.smith_area'] True", out.stderr


def test_unknown_name_still_lists_every_algorithm():
    code = ("from lpsched import registry\ntry:\n    registry.get('smith-aera')\n"
            "except registry.UnknownAlgorithm as exc:\n    print(exc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert "did you mean 'smith-area'" in out.stdout and "gba" in out.stdout


@pytest.mark.parametrize("spec", BUILTINS, ids=lambda s: s.name)
def test_options_are_one_frozen_dataclass_each(spec):
    """A built-in's options are the fields of its parameters dataclasses (its own, and the
    simulation's for simulated policies), each field declared with ``param``."""
    assert spec.options == ()
    classes = spec.params_classes()
    names = [o.name for o in spec.declared_options()]
    assert len(names) == len(set(names)), spec.name
    own = [c for c in classes if c is not SimulationParams]
    assert len(own) <= 1, spec.name
    for cls in classes:
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls
        for f in dataclasses.fields(cls):
            assert "option" in f.metadata, (cls.__name__, f.name)
    if spec.policy or "predictions" in names:
        assert SimulationParams in classes, spec.name


def test_algorithms_name_says_where_the_options_are_declared(capsys):
    from lpsched.cli import main

    assert main(["algorithms", "smith-area"]) == 0
    assert "options declared in: lpsched.heuristics.smith_area.SmithAreaParams" \
        in capsys.readouterr().out


def test_simulation_options_are_the_simulation_dataclass():
    assert registry.SIMULATION_OPTIONS == tuple(f.name for f in
                                                dataclasses.fields(SimulationParams))


@pytest.mark.parametrize("spec", BUILTINS, ids=lambda s: s.name)
def test_every_declared_option_reaches_the_function(spec):
    """All declared options given explicitly at their defaults change nothing (the
    objective is an integer: exact comparison)."""
    opts = {o.name: o.default for o in spec.declared_options()}
    plain = solve(INST, spec.name, time_limit=20, seed=0)
    given = solve(INST, spec.name, time_limit=20, seed=0, **opts)
    assert given.status == plain.status and given.objective == plain.objective, spec.name


@pytest.mark.parametrize("spec", [s for s in BUILTINS if s.policy], ids=lambda s: s.name)
def test_policy_factories_take_the_policy_options(spec):
    opts = {o.name: o.default for o in spec.declared_options()
            if o.name not in registry.SIMULATION_OPTIONS}
    assert registry.make_policy(spec.name, opts).name == spec.name


def test_listing_imports_no_solver_library():
    """``lpsched algorithms NAME`` reads the declarations only: neither PuLP nor OR-Tools is
    imported (the exact models are declared in a light module; highspy is, by the ordering
    LP of the LP-guided heuristics' module)."""
    code = ("import sys\nfrom lpsched import registry\n"
            "for s in registry.specs():\n    s.declared_options()\n"
            "print(sorted(m for m in ('ortools', 'pulp') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]", out.stderr


def test_exact_solvers_take_one_params_object():
    from lpsched.models.cpsat import solve_cpsat
    from lpsched.models.time_indexed import solve_milp

    ref = solve(INST, "dp").objective
    prm = CpsatParams(formulation="cumulative", warm_start="serial")
    assert solve_cpsat(INST, prm, seed=1).objective == ref
    # a keyword overrides the params object; an unknown name is a solver parameter
    res = solve_cpsat(INST, prm, formulation="events", linearization_level=2)
    assert res.objective == ref and res.stats["formulation"] == "events"
    assert solve_milp(INST, MilpParams(threads=1, warm_start="serial")).objective == ref
    with pytest.raises(TypeError, match="CpsatParams"):
        solve_cpsat(INST, MilpParams())
    with pytest.raises(OptionError, match="formulation"):
        solve_cpsat(INST, formulation="staircase")


def test_warm_start_options_are_declared_once_for_both_models():
    from lpsched.models.exact_specs import WarmStartParams

    shared = [f.name for f in dataclasses.fields(WarmStartParams)]
    for cls in (MilpParams, CpsatParams):
        assert [f.name for f in dataclasses.fields(cls)][:len(shared)] == shared
        assert cls.__mro__[1] is WarmStartParams
    src = inspect.getsource(importlib.import_module("lpsched.models.exact_specs"))
    assert src.count("warm_start_time: float | None = param(") == 1


@dataclass(frozen=True)
class _GapParams:
    gap: int = param(0, "int", "idle steps between requests", minimum=0)


def _one_by_one(instance, *, deadline, seed=None, gap=_GapParams.gap):
    import numpy as np

    starts, t = [], 0
    for o, a in zip(instance.decode.tolist(), instance.arrival.tolist()):
        t = max(t, a)
        starts.append(t)
        t += o + gap
    return np.array(starts)


def test_user_registration_with_a_params_dataclass():
    registry.register("u-params", _one_by_one, params=_GapParams)
    try:
        opts = registry.get("u-params").declared_options()
        assert [(o.name, o.default) for o in opts] == [("gap", 0)]
        assert solve(INST, "u-params", gap=1).objective == solve(INST, "u-params").objective + 3
        with pytest.raises(OptionError, match="'gap' must be >= 0"):
            solve(INST, "u-params", gap=-1)
    finally:
        registry.unregister("u-params")


def test_the_command_parser_loads_no_solver():
    """Building the ``lpsched`` parser (every command does) imports neither HiGHS, PuLP,
    OR-Tools nor the bound modules: the choices of ``bound`` / ``export`` come from
    :mod:`lpsched.models.names`, which the solver modules re-export."""
    code = ("import sys\nfrom lpsched.cli import main\n"
            "main(['algorithms', 'smith-area'])\n"
            "heavy = ['highspy', 'pulp', 'ortools', 'lpsched.models.bounds',"
            " 'lpsched.models.export']\n"
            "print([m for m in heavy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.splitlines()[-1] == "[]", out.stdout + out.stderr
    from lpsched.models import bounds, export, names
    assert bounds.METHODS == names.BOUND_METHODS
    assert (export.MODELS, export.FORMATS) == (names.EXPORT_MODELS, names.EXPORT_FORMATS)
