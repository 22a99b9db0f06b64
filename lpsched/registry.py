"""The algorithm registry: stable names -> implementations, with their declared options.

Every algorithm is a function

    f(instance, *, deadline, seed, **options) -> Result

where ``deadline`` is the :class:`lpsched.stop.Deadline` made by
:func:`lpsched.solve` (the whole time budget of the call) and ``options`` are the
ones declared in its :class:`AlgorithmSpec`.

Each built-in algorithm is declared beside its code: its module holds an
``ALGORITHMS`` tuple of :class:`AlgorithmSpec` (name, kind, summary, source) whose
options are one frozen parameters dataclass per algorithm, each field made with
:func:`lpsched.options.param` (kind, range, default and help text, written once;
e.g. :class:`lpsched.heuristics.geometric.GsaParams`). This module only lists those
modules with the names they declare (:data:`DECLARED`, an index that a test keeps equal
to the declarations) and imports them when needed, so that ``import lpsched`` stays
light: a look-up by name (:func:`get`, ``solve(alg=...)``, ``lpsched algorithms NAME``)
imports the one declaring module, a listing (:func:`specs`) all of them. Option checking
and the defaults read the dataclass. Adding a built-in algorithm: write the module with
its parameters dataclass and ``ALGORITHMS``, and add the module and its names to
:data:`DECLARED`.

Users add their own with :func:`register` (options as :class:`lpsched.options.Option`
objects or a parameters dataclass); they then run through :func:`lpsched.solve`,
``lpsched bench``, the checker and Dask exactly as the built-ins do.

Example (a user's algorithm; it may return a ``Result``, a ``Schedule`` or start steps):

>>> import numpy as np
>>> from lpsched import Instance, Request, register, solve
>>> from lpsched.options import Option
>>> def one_by_one(instance, *, deadline, seed=None, gap=0):
...     '''Run the requests one after another, ``gap`` idle steps between them.'''
...     starts, t = [], 0
...     for o, a in zip(instance.decode.tolist(), instance.arrival.tolist()):
...         t = max(t, a)
...         starts.append(t)
...         t += o + gap
...     return np.array(starts)
>>> _ = register("one-by-one", one_by_one, summary="sequential baseline",
...              options=[Option("gap", "int", "idle steps between requests", minimum=0)])
>>> inst = Instance(10, [Request("a", 2, 3), Request("b", 1, 4)])
>>> res = solve(inst, "one-by-one", gap=1)
>>> res.status.value, res.objective
('feasible', 11)
>>> unregister("one-by-one")
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lpsched.errors import LpschedError
from lpsched.instance import Instance
from lpsched.options import Option, OptionError, Passthrough, validate_options
from lpsched.schedule import Result

__all__ = ["KINDS", "SIMULATION_OPTIONS", "AlgorithmSpec", "OptionError", "UnknownAlgorithm",
           "algorithm_names", "ensure", "get", "make_policy", "register", "run", "specs",
           "unregister"]

SolveFunction = Callable[..., Result]

#: Algorithm kinds, in listing order.
KINDS = ("policy", "heuristic", "improvement", "lp-guided", "exact", "user")
#: Options of a policy that belong to the simulation, not to the policy itself.
SIMULATION_OPTIONS = ("predictions", "prediction_noise", "skip_idle")


class UnknownAlgorithm(LpschedError, ValueError, KeyError):
    """An algorithm name that is not registered (a ``ValueError``; also a ``KeyError``, as it
    was before the package's error hierarchy, :mod:`lpsched.errors`)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return self.args[0]


@dataclass(frozen=True)
class AlgorithmSpec:
    """One algorithm: its name, its code, what it is, its options, where it comes from.

    Each built-in algorithm module declares its own specs, beside its code, in a module
    attribute ``ALGORITHMS`` (a tuple of these); :data:`MODULES` lists the modules.

    ``target`` is the solve function (or, for a declaration kept apart from heavy code,
    ``"package.module:function"``, imported on first use). ``params`` is the algorithm's
    frozen parameters dataclass, or a tuple of them (e.g. the rule's own and the
    simulation's, :class:`lpsched.heuristics.baselines.SimulationParams`), whose fields,
    made with :func:`lpsched.options.param`, declare its options once: kind, range,
    default and help text (``"module:Class"`` strings are imported on first use).
    ``options`` are :class:`~lpsched.options.Option` declarations of user registrations
    (:func:`register`; their defaults are read from the function's signature).
    ``passthrough`` names a :class:`~lpsched.options.Passthrough` (``"module:attribute"``)
    when the algorithm also accepts a solver's own parameters by name. ``policy`` (kind
    ``policy`` only) is the factory (or ``"module:factory"``) that builds a fresh
    :class:`lpsched.simulate.Policy` from the declared options other than the
    simulation's own (:data:`SIMULATION_OPTIONS`); :func:`make_policy` calls it.
    """

    name: str
    target: str | SolveFunction
    kind: str
    summary: str
    source: str = ""
    options: tuple[Option, ...] = ()
    passthrough: str = ""
    builtin: bool = True
    policy: str | Callable[..., Any] = ""
    params: str | type | tuple[str | type, ...] = ()
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def block_mode(self) -> str:
        """How the algorithm meets a paged instance (``block_size > 1``, :mod:`lpsched.paging`):
        ``"native"`` (policies: the simulator handles blocks; user algorithms: the checker
        verifies), ``"padded"`` (heuristics, improvement, LP-guided: run on the padded
        instance) or ``"refused"`` (exact models: ``UnsupportedInstance``)."""
        if self.kind == "exact":
            return "refused"
        if self.kind in ("heuristic", "improvement", "lp-guided"):
            return "padded"
        return "native"

    def load(self) -> SolveFunction:
        if callable(self.target):
            return self.target
        if "func" not in self._cache:
            self._cache["func"] = _resolve(self.target)
        return self._cache["func"]

    def policy_factory(self) -> Callable[..., Any] | None:
        """The policy factory (``None`` when the algorithm is not a simulated policy)."""
        if not self.policy:
            return None
        return self.policy if callable(self.policy) else _resolve(self.policy)

    def params_classes(self) -> tuple[type, ...]:
        """The parameters dataclasses (none for user registrations)."""
        items = self.params if isinstance(self.params, tuple) else (self.params,)
        return tuple(_resolve(p) if isinstance(p, str) else p for p in items if p)

    def declared_options(self) -> tuple[Option, ...]:
        """The options with their defaults: the ``params`` dataclasses' fields, then the
        ``options`` (defaults read from the function's signature)."""
        if "options" not in self._cache:
            from lpsched.options import dataclass_options

            out = [o for cls in self.params_classes() for o in dataclass_options(cls)]
            if self.options:
                params = inspect.signature(self.load()).parameters
                for opt in self.options:
                    p = params.get(opt.name)
                    out.append(opt.with_default(p.default) if p is not None
                               and p.default is not inspect.Parameter.empty else opt)
            self._cache["options"] = tuple(out)
        return self._cache["options"]

    def passthrough_spec(self) -> Passthrough | None:
        if not self.passthrough:
            return None
        return _resolve(self.passthrough)

    def validate(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` checked against the declaration (:class:`OptionError` if not)."""
        return validate_options(self.name, options, self.declared_options(),
                                self.passthrough_spec())


def _resolve(path: str) -> Any:
    """``"package.module:attribute"`` imported."""
    module, attr = path.split(":")
    return getattr(importlib.import_module(module), attr)


#: The modules that declare the built-in algorithms, in listing order, each with the names
#: its ``ALGORITHMS`` tuple of :class:`AlgorithmSpec` declares beside the code (in order).
#: The names are an index only (``tests/test_specs.py`` imports every module and compares):
#: :func:`get` of a name listed here imports that one module while nothing else is loaded;
#: the declarations themselves are read from the modules.
DECLARED = {
    "lpsched.heuristics.baselines": ("fcfs", "sf", "size-first", "mc-sf"),
    "lpsched.heuristics.protection": ("mc-benchmark", "alpha-protection",
                                      "alpha-beta-clearing"),
    "lpsched.heuristics.vllm": ("vllm",),
    # milp, cpsat: declared apart from PuLP / OR-Tools
    "lpsched.models.exact_specs": ("milp", "cpsat"),
    "lpsched.heuristics.sorted_f": ("sorted-f", "sorted-f-cont"),
    "lpsched.heuristics.smith_area": ("smith-area",),
    "lpsched.heuristics.dp": ("dp",),
    "lpsched.heuristics.local_search": ("local-search",),
    "lpsched.heuristics.lp_guided": ("sorted-lp", "lp-swap", "lp-horizon"),
    "lpsched.heuristics.online": ("sorted-f-online", "sorted-lp-online", "lp-swap-online"),
    "lpsched.heuristics.robust": ("a-max", "a-min"),
    "lpsched.heuristics.fluid_wait": ("wait", "nested-wait"),
    "lpsched.heuristics.geometric": ("gsa", "gba"),
}

#: The modules that declare the built-in algorithms, in listing order (imported on the first
#: listing, not by ``import lpsched``).
MODULES = tuple(DECLARED)

_MODULE_OF = {name: module for module, names in DECLARED.items() for name in names}

_USER: dict[str, AlgorithmSpec] = {}
_BUILTIN: list[AlgorithmSpec] = []


def _builtins() -> tuple[AlgorithmSpec, ...]:
    """The built-in specs, read from :data:`MODULES` on first use."""
    if not _BUILTIN:
        found: list[AlgorithmSpec] = []
        for name in MODULES:
            module = importlib.import_module(name)
            if not getattr(module, "ALGORITHMS", ()):
                raise RuntimeError(f"{name} is listed in registry.MODULES but declares no "
                                   "ALGORITHMS")
            found.extend(module.ALGORITHMS)
        names = [s.name for s in found]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise RuntimeError(f"algorithm(s) declared twice: {', '.join(dup)}")
        _BUILTIN.extend(found)
    return tuple(_BUILTIN)


def specs() -> tuple[AlgorithmSpec, ...]:
    """All registered algorithms (built-ins in listing order, then the user's)."""
    return _builtins() + tuple(_USER.values())


def algorithm_names() -> list[str]:
    return [s.name for s in specs()]


def get(name: str) -> AlgorithmSpec:
    """The spec of an algorithm by its (case-insensitive) name.

    Before anything is listed, a built-in name imports only the module that declares it
    (:data:`DECLARED`); any other name loads them all (and raises if none matches)."""
    key = str(name).strip().lower()
    if not _BUILTIN and key in _MODULE_OF:
        for s in getattr(importlib.import_module(_MODULE_OF[key]), "ALGORITHMS", ()):
            if s.name == key:
                return s
    for s in specs():
        if s.name == key:
            return s
    names = algorithm_names()
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise UnknownAlgorithm(f"unknown algorithm {name!r}; {hint}available: {', '.join(names)}")


def register(name: str, func: SolveFunction | None = None, *, kind: str = "user",
             summary: str = "", source: str = "", options: Iterable[Option] = (),
             params: type | tuple[type, ...] = (), replace: bool = False):
    """Register a user algorithm under ``name``; usable as a decorator.

    ``func(instance, *, deadline, seed, **options)`` returns a
    :class:`~lpsched.schedule.Result`, a :class:`~lpsched.schedule.Schedule` or a
    start-step array (aligned with ``instance.ids``); :func:`lpsched.solve` checks
    its schedule with the shared checker as for every built-in. ``deadline`` is
    the :class:`lpsched.stop.Deadline` of the call: look at ``deadline.expired()``
    in loops and return the best schedule so far when it says so. ``options`` are
    the :class:`~lpsched.options.Option` declarations of its keyword options
    (their defaults are the function's own); ``params``, instead or besides, a frozen
    parameters dataclass (or a tuple of them) whose fields, made with
    :func:`lpsched.options.param`, declare options with their defaults, as the
    built-ins do. ``replace=True`` overwrites an
    earlier user registration of the same name (never a built-in).

    Returns the :class:`AlgorithmSpec` (or, as a decorator, ``func`` itself).
    """
    key = str(name).strip().lower()
    if not key or any(ch.isspace() for ch in key) or "," in key:
        raise ValueError(f"algorithm name must be a non-empty word without spaces or commas, "
                         f"got {name!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if func is None:
        def deco(f: SolveFunction) -> SolveFunction:
            register(key, f, kind=kind, summary=summary, source=source, options=options,
                     params=params, replace=replace)
            return f
        return deco
    if not callable(func):
        raise TypeError(f"register({name!r}): func must be callable, got {func!r}")
    if any(s.name == key for s in _builtins()):
        raise ValueError(f"{key!r} is a built-in algorithm; choose another name")
    if key in _USER and not replace:
        raise ValueError(f"{key!r} is already registered (pass replace=True to overwrite it)")
    opts = tuple(options)
    for o in opts:
        if not isinstance(o, Option):
            raise TypeError(f"register({name!r}): options must be lpsched.options.Option "
                            f"objects, got {o!r}")
    doc = inspect.getdoc(func) or ""
    spec = AlgorithmSpec(key, func, kind, summary or (doc.splitlines()[0] if doc else key),
                         source, opts, builtin=False, params=params)
    _check_signature(key, func, spec.declared_options())
    _USER[key] = spec
    return spec


def _check_signature(name: str, func: SolveFunction, options: tuple[Option, ...]) -> None:
    params = inspect.signature(func).parameters
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    missing = [k for k in ("deadline", "seed") if k not in params and not var_kw]
    missing += [o.name for o in options if o.name not in params and not var_kw]
    if missing:
        raise TypeError(f"register({name!r}): the function must take keyword argument(s) "
                        f"{', '.join(missing)}")


def unregister(name: str) -> None:
    """Remove a user registration (built-ins cannot be removed)."""
    key = str(name).strip().lower()
    if key not in _USER:
        raise UnknownAlgorithm(f"no user algorithm {name!r} is registered")
    del _USER[key]


def ensure(spec: AlgorithmSpec) -> None:
    """Make a user spec known in this process (bench workers receive it with the task)."""
    if not spec.builtin and _USER.get(spec.name) is not spec:
        _USER[spec.name] = spec


def make_policy(name: str, options: Mapping[str, Any] | None = None):
    """A fresh :class:`lpsched.simulate.Policy` of the registered policy ``name``.

    ``options`` are checked against the policy's declaration; the simulation's
    own options (:data:`SIMULATION_OPTIONS`) are arguments of
    :func:`lpsched.simulate.simulate` instead and refused here.

    >>> make_policy("mc-sf").name
    'mc-sf'
    >>> make_policy("milp")
    Traceback (most recent call last):
    ...
    lpsched.options.OptionError: 'milp' is not a policy (kind 'exact'); simulate() takes a ...
    """
    spec = get(name)
    if spec.kind != "policy" or not spec.policy:
        names = ", ".join(s.name for s in specs() if s.kind == "policy" and s.policy)
        what = f"kind {spec.kind!r}" if spec.kind != "policy" else "no policy factory"
        raise OptionError(f"{spec.name!r} is not a policy ({what}); simulate() takes a policy "
                          f"object or one of: {names}")
    opts = spec.validate(options or {})
    sim = sorted(k for k in opts if k in SIMULATION_OPTIONS)
    if sim:
        raise OptionError(f"{spec.name}: {', '.join(map(repr, sim))}: simulation, not policy, "
                          "options: pass predictions=... / skip_idle=... to simulate() (noisy "
                          "predictions: lpsched.simulate.noisy_predictions)")
    factory = spec.policy_factory()
    assert factory is not None
    return factory(**opts)


def run(name: str, instance: Instance, *, deadline=None, seed: int | None = None,
        **options: Any) -> Result:
    """Run an algorithm inside another one (no checker, no signal handling: the caller's
    :func:`lpsched.solve` does both); ``options`` are validated."""
    from lpsched.paging import planning_instance, rebased
    from lpsched.stop import Deadline

    spec = get(name)
    work = planning_instance(instance, spec.name, spec.block_mode)
    res = spec.load()(work, deadline=Deadline.coerce(deadline), seed=seed,
                      **spec.validate(options))
    return res if work is instance else rebased(res, instance)

