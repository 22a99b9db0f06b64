"""The algorithm registry: stable names -> implementations, with their declared options.

Every algorithm is a function

    f(instance, *, deadline, seed, **options) -> Result

where ``deadline`` is the :class:`lpsched.stop.Deadline` made by
:func:`lpsched.solve` (the whole time budget of the call) and ``options`` are the
ones declared in its :class:`AlgorithmSpec` (:class:`lpsched.options.Option`:
name, kind, one-line help; the default is the function's own keyword default).
Built-in algorithms are listed in ``_SPECS`` and imported on first use, so that
``import lpsched`` stays light. Users add their own with :func:`register`; they
then run through :func:`lpsched.solve`, ``lpsched bench``, the checker and Dask
exactly as the built-ins do.

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
    """One algorithm: its name, where it lives, what it is, its options, where it comes from.

    ``target`` is ``"package.module:function"`` (imported on first use) or the
    function itself (user registrations). ``passthrough`` names a
    :class:`~lpsched.options.Passthrough` (``"module:attribute"``) when the
    algorithm also accepts a solver's own parameters by name. ``policy`` (kind
    ``policy`` only) is the ``"module:factory"`` that builds a fresh
    :class:`lpsched.simulate.Policy` from the declared options other than the
    simulation's own (:data:`SIMULATION_OPTIONS`); :func:`make_policy` calls it.
    ``params`` names the algorithm's frozen parameters dataclass (``"module:Class"``,
    fields made with :func:`lpsched.options.param`): its fields are declared options,
    before ``options``, imported on first use like ``target``.
    """

    name: str
    target: str | SolveFunction
    kind: str
    summary: str
    source: str = ""
    options: tuple[Option, ...] = ()
    passthrough: str = ""
    builtin: bool = True
    policy: str = ""
    params: str = ""
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
            module, func = self.target.split(":")
            self._cache["func"] = getattr(importlib.import_module(module), func)
        return self._cache["func"]

    def declared_options(self) -> tuple[Option, ...]:
        """The options with their defaults (read from the function's signature)."""
        if "options" not in self._cache:
            params = inspect.signature(self.load()).parameters
            out = []
            for opt in self._params_options() + self.options:
                p = params.get(opt.name)
                out.append(opt.with_default(p.default) if p is not None
                           and p.default is not inspect.Parameter.empty else opt)
            self._cache["options"] = tuple(out)
        return self._cache["options"]

    def _params_options(self) -> tuple[Option, ...]:
        """The options declared by the ``params`` dataclass (none without one)."""
        if not self.params:
            return ()
        from lpsched.options import dataclass_options

        module, cls = self.params.split(":")
        return dataclass_options(getattr(importlib.import_module(module), cls))

    def passthrough_spec(self) -> Passthrough | None:
        if not self.passthrough:
            return None
        module, attr = self.passthrough.split(":")
        return getattr(importlib.import_module(module), attr)

    def validate(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` checked against the declaration (:class:`OptionError` if not)."""
        return validate_options(self.name, options, self.declared_options(),
                                self.passthrough_spec())


def _opt(name: str, kind: str, help: str, **kw: Any) -> Option:
    return Option(name, kind, help, **kw)


# -- shared option groups ---------------------------------------------------------------------

_PREDICTIONS = (
    _opt("predictions", "ints", "predicted decode length of each request (by position), "
         "integers >= 1; default: the true lengths", minimum=1),
    _opt("prediction_noise", "float", "draw predictions o*exp(sigma Z), Z ~ N(0,1) seeded by "
         "seed: sigma", minimum=0),
    _opt("skip_idle", "bool", "jump over steps where the policy provably starts nothing "
         "(False: call it every step; same schedule, slower)"),
)
_WARM = (
    _opt("incumbent", "schedule", "a feasible schedule: horizon, MIP start/hint (default: "
         "warm_start)"),
    _opt("warm_start", "str", "how to get the starting schedule", choices=("local-search",
                                                                            "serial")),
    _opt("warm_start_time", "float", "seconds for the warm start (part of the time limit; "
         "default 10% of it, at most 10 s)", minimum=0),
    _opt("symmetry_breaking", "bool", "order identical requests (valid: relabelling)"),
    _opt("threads", "int", "solver threads (1: deterministic)", minimum=1),
    _opt("max_model_bytes", "float", "memory guard: a model estimated above this peak memory "
         "(bytes, default 2e9) is not built; the warm start, improved by local search, is "
         "returned with status time_limit", minimum=0),
)
_LP_ORDER = (
    _opt("key", "str", "order by fractional completion or start", choices=("completion",
                                                                            "start")),
    _opt("max_columns", "int", "columns of the ordering LP (sets the bucket width)", minimum=1),
    _opt("backfill", "bool", "let a later request start before an earlier one when it fits"),
)
_SORTED_F = (
    _opt("thetas", "floats", "Lagrangian weights of the candidate orders o + theta s",
         minimum=0, maximum=1),
    _opt("exact_batches", "bool", "minimise F exactly by a knapsack DP (small instances)"),
)
_WINDOW = (
    _opt("window", "int", "requests re-ordered by the LP at each re-solve", minimum=1),
    _opt("max_columns", "int", "columns of each window LP", minimum=1),
)


_SPECS: tuple[AlgorithmSpec, ...] = (
    AlgorithmSpec("fcfs", "lpsched.heuristics.baselines:solve_fcfs", "policy",
                  "First-come-first-served with look-ahead memory admission (head-of-line blocking)",
                  options=_PREDICTIONS, policy="lpsched.heuristics.baselines:fcfs"),
    AlgorithmSpec("sf", "lpsched.heuristics.baselines:solve_sf", "policy",
                  "Shortest decode length first with look-ahead admission (backfills)",
                  options=_PREDICTIONS, policy="lpsched.heuristics.baselines:sf"),
    AlgorithmSpec("size-first", "lpsched.heuristics.baselines:solve_size_first", "policy",
                  "Smallest total size prefill+decode first with look-ahead admission",
                  options=_PREDICTIONS, policy="lpsched.heuristics.baselines:size_first"),
    AlgorithmSpec("mc-sf", "lpsched.heuristics.baselines:solve_mc_sf", "policy",
                  "Memory-constrained shortest-first: admit by ascending predicted decode "
                  "while memory at every future completion step fits; stop at first misfit",
                  "Jaillet et al., Online Scheduling for LLM Inference with KV Cache "
                  "Constraints, 2025", options=_PREDICTIONS,
                  policy="lpsched.heuristics.baselines:mc_sf"),
    AlgorithmSpec("mc-benchmark", "lpsched.heuristics.protection:solve_mc_benchmark", "policy",
                  "MC-Benchmark: arrival order with MC-SF's future-memory check, stop at the "
                  "first misfit (the same rule as fcfs, under the paper's name)",
                  "Jaillet et al. 2025 (arXiv:2502.07115), benchmark of the real-trace "
                  "experiment; lpsched/heuristics/protection.py", options=_PREDICTIONS,
                  policy="lpsched.heuristics.protection:mc_benchmark"),
    AlgorithmSpec("alpha-protection", "lpsched.heuristics.protection:solve_alpha_protection",
                  "policy",
                  "alpha-protection greedy: arrival order while the next step's memory stays "
                  "<= (1-alpha) M (no predictions); overflow: evict most recent starts",
                  "Jaillet et al. 2025 (arXiv:2502.07115), benchmark; rule as stated in "
                  "lpsched/heuristics/protection.py",
                  options=(_opt("alpha", "float", "protected fraction of M kept for growth",
                                minimum=0, maximum=1),) + _PREDICTIONS,
                  policy="lpsched.heuristics.protection:alpha_protection"),
    AlgorithmSpec("alpha-beta-clearing",
                  "lpsched.heuristics.protection:solve_alpha_beta_clearing", "policy",
                  "alpha-protection with beta-clearing: alpha-protection admission; on an "
                  "overflow evict most recent starts until memory <= (1-beta) M",
                  "Jaillet et al. 2025 (arXiv:2502.07115), benchmark; rule as stated in "
                  "lpsched/heuristics/protection.py",
                  options=(_opt("alpha", "float", "protected fraction of M kept for growth",
                                minimum=0, maximum=1),
                           _opt("beta", "float", "after an overflow, clear memory down to "
                                "(1-beta) M", minimum=0, maximum=1)) + _PREDICTIONS,
                  policy="lpsched.heuristics.protection:alpha_beta_clearing"),
    AlgorithmSpec("vllm", "lpsched.heuristics.vllm:solve_vllm", "policy",
                  "vLLM's scheduling rule: arrival-order admission under vLLM's engine limits "
                  "(free KV blocks above a watermark, max_num_seqs, a token budget with "
                  "chunked prefill); when a block is missing, preempt the most recently "
                  "admitted request (front of the queue, recompute)",
                  "vLLM 0.33.0, vllm/v1/core/sched/scheduler.py, vllm/v1/core/"
                  "kv_cache_manager.py, vllm/engine/arg_utils.py (V1); vllm/core/scheduler.py "
                  "(V0, commit 0054e1fa0f8a); lpsched/heuristics/vllm.py", options=(
                      _opt("variant", "str", "whose defaults: 'v1' (vllm serve on an H100/H200: "
                           "budget 8192 tokens with chunked prefill, 1024 sequences, watermark "
                           "0) or 'v0' (watermark 0.01, 256 sequences, budget max(2048, "
                           "longest request) prefill tokens)", choices=("v1", "v0")),
                      _opt("watermark", "float", "fraction of the KV blocks kept free at "
                           "admission (default: the variant's)", minimum=0, maximum=1),
                      _opt("max_num_seqs", "int", "most running requests (default: the "
                           "variant's)", minimum=1),
                      _opt("max_num_batched_tokens", "int", "token budget of a step (default: "
                           "the variant's)", minimum=1),
                  ) + _PREDICTIONS, policy="lpsched.heuristics.vllm:VLLMPolicy"),

    # -- exact solvers (models/) ------------------------------------------------------------
    AlgorithmSpec("milp", "lpsched.models.time_indexed:solve_milp", "exact",
                  "Time-indexed MILP (PuLP model, HiGHS); bound and gap read from HiGHS",
                  "Sousa & Wolsey 1992 time-indexed formulation; formulations/time-indexed.md",
                  options=_WARM + (
                      _opt("engine", "str", "load the model straight into highspy, or through "
                           "PuLP", choices=("highspy", "pulp")),
                      _opt("msg", "bool", "print the HiGHS log"),
                      _opt("tail_families", "int", "disjoint-tail clique families added as "
                           "valid inequalities", minimum=0),
                      _opt("isolate", "bool", "solve in a child process killed at the hard "
                           "deadline or on Ctrl-C (default: models above 50,000 non-zeros)"),
                  ), passthrough="lpsched.models._highs:HIGHS_OPTIONS"),
    AlgorithmSpec("cpsat", "lpsched.models.cpsat:solve_cpsat", "exact",
                  "CP-SAT (OR-Tools): memory at completion steps + pairwise overlap disjunctions "
                  "(formulation=cumulative: staircase intervals)",
                  "formulations/cpsat.md",
                  options=_WARM + (
                      _opt("formulation", "str", "memory constraints", choices=("events",
                                                                                "cumulative")),
                      _opt("tail_families", "int", "redundant disjoint-tail NoOverlap families "
                           "(default 8 for cumulative, 0 for events)", minimum=0),
                      _opt("ramp_pieces", "int", "redundant cumulative of lower memory "
                           "staircases, that many pieces per request (0: none)", minimum=0),
                      _opt("log", "bool", "print the CP-SAT search log"),
                  ), passthrough="lpsched.models.cpsat:CPSAT_PARAMETERS"),

    # -- strong heuristics (heuristics/) -----------------------------------------------------
    AlgorithmSpec("sorted-f", "lpsched.heuristics.sorted_f:solve_sorted_f", "heuristic",
                  "Sorted-F: greedy min-F memory-feasible batches (F = sum o / |X|^2), run in "
                  "ascending F, each batch after the previous one ends",
                  "Wang, Ye, Zhou, LLM Serving Optimization with Variable Prefill and Decode "
                  "Lengths, arXiv:2508.06133, 2025", options=_SORTED_F),
    AlgorithmSpec("sorted-f-cont", "lpsched.heuristics.sorted_f:solve_sorted_f_cont", "heuristic",
                  "Continuous Sorted-F: the Sorted-F order, each request started at the earliest "
                  "step memory allows (no waiting for the batch to end)",
                  "Wang, Ye, Zhou 2025 (arXiv:2508.06133); continuous decoding ours",
                  options=_SORTED_F + (
                      _opt("backfill", "bool", "offline: a later request may start before an "
                           "earlier one when it fits"),
                      _opt("clairvoyant", "bool", "with arrivals: decode the offline order "
                           "with known release dates instead of the online policy"),
                  ) + _PREDICTIONS),
    AlgorithmSpec("smith-area", "lpsched.heuristics.smith_area:solve_smith_area", "heuristic",
                  "Smith's rule on memory areas (ascending s*o + o(o+1)/2, the order of the "
                  "area bound), earliest-start decoding with a bounded look-back",
                  "Smith 1956 (order); lpsched/heuristics/smith_area.py",
                  options=(_opt("lookback", "int", "steps before the latest start so far at "
                                "which a request may still start (0: queue order; offline "
                                "only)", minimum=0),)),
    AlgorithmSpec("dp", "lpsched.heuristics.dp:solve_dp", "exact",
                  "Exact dynamic program over step states (unstarted set, running progress); "
                  "tiny instances only (n <= 16)",
                  "Wang, Ye, Zhou 2025 (exact DP variant); state space ours",
                  options=(_opt("max_states", "int", "stop (with the fallback schedule) after "
                                "this many memoised states", minimum=1),)),
    AlgorithmSpec("local-search", "lpsched.heuristics.local_search:solve_local_search",
                  "improvement",
                  "Local search (swap/insert/batch merge/split) over the batch order, serial "
                  "earliest-start decoding; never worse than its start (default: best of "
                  "sorted-f-cont, smith-area, mc-sf, sf)",
                  "Wang, Ye, Zhou 2025 (local-search variant)",
                  options=(
                      _opt("init", "str", "comma-separated algorithms whose best schedule is "
                           "the start ('auto': sorted-f-cont, smith-area, mc-sf, sf); they share "
                           "the first half of the time limit"),
                      _opt("start", "schedule", "a feasible start schedule (instead of init)"),
                      _opt("max_iters", "int", "stop after this many moves", minimum=0),
                      _opt("backfill", "bool", "decode with backfilling (default: up to 300 "
                           "requests)"),
                      _opt("restarts", "int", "kicks of iterated local search after a local "
                           "optimum", minimum=0),
                      _opt("delays", "bool", "then search start delays too (order and "
                           "release times, lpsched.heuristics.delays; default off)"),
                  )),
    AlgorithmSpec("sorted-lp", "lpsched.heuristics.lp_guided:solve_sorted_lp", "lp-guided",
                  "Sorted-LP: order by fractional completion times of the (bucketed) time-indexed "
                  "LP relaxation, earliest-start decoding",
                  "Wang, Ye, Zhou 2025 (arXiv:2508.06133), LP-based scheduler",
                  options=_LP_ORDER),
    AlgorithmSpec("lp-swap", "lpsched.heuristics.lp_guided:solve_lp_swap", "lp-guided",
                  "LP-Swap: the Sorted-LP order improved by adjacent pairwise swaps",
                  "Wang, Ye, Zhou 2025 (arXiv:2508.06133)",
                  options=_LP_ORDER + (
                      _opt("max_passes", "int", "passes of adjacent swaps", minimum=0),
                      _opt("swap_time", "float", "seconds for the swaps without a time limit",
                           minimum=0),
                  )),
    AlgorithmSpec("lp-horizon", "lpsched.heuristics.lp_guided:solve_lp_horizon", "lp-guided",
                  "Receding horizon: re-solve the ordering LP over a window of the next requests "
                  "(Sorted-F order), commit the first half, slide",
                  "Wang, Ye, Zhou 2025 (receding-horizon variant); windowing ours",
                  options=(
                      _opt("window", "int", "requests per window LP", minimum=1),
                      _opt("commit", "int", "requests committed per window (default "
                           "window // 2)", minimum=1),
                  ) + _LP_ORDER),
    AlgorithmSpec("sorted-f-online", "lpsched.heuristics.online:solve_sorted_f_online", "policy",
                  "Online Sorted-F policy in the event simulator: Sorted-F order of the waiting "
                  "requests (predicted lengths), look-ahead admission, no overtaking",
                  "Wang, Ye, Zhou 2025; online adaptation ours", options=_PREDICTIONS,
                  policy="lpsched.heuristics.online:SortedFPolicy"),
    AlgorithmSpec("sorted-lp-online", "lpsched.heuristics.online:solve_sorted_lp_online", "policy",
                  "Online receding-horizon Sorted-LP policy: the first window of the online "
                  "Sorted-F order re-ordered by the ordering LP at every arrival",
                  "Wang, Ye, Zhou 2025; online adaptation ours",
                  options=_WINDOW + _PREDICTIONS,
                  policy="lpsched.heuristics.online:SortedLPPolicy"),
    AlgorithmSpec("lp-swap-online", "lpsched.heuristics.online:solve_lp_swap_online", "policy",
                  "Online LP-Swap policy: the online Sorted-LP window order improved by adjacent "
                  "pairwise swaps (window decoded as a backlog) at every arrival",
                  "Wang, Ye, Zhou 2025; online adaptation ours",
                  options=_WINDOW + (
                      _opt("swap_passes", "int", "passes of adjacent swaps per re-solve",
                           minimum=0),
                  ) + _PREDICTIONS, policy="lpsched.heuristics.online:LPSwapPolicy"),

    # -- the rules since the seeds (issue 21, docs/papers.md); options: each module's
    # frozen parameters dataclass (``params``) --------------------------------------------
    AlgorithmSpec("a-max", "lpsched.heuristics.robust:solve_a_max", "policy",
                  "A_max: MC-SF on the upper ends u of interval predictions [l, u] "
                  "(conservative: never overflows with correct intervals)",
                  "Chen, Ye, Zhou, Adaptively Robust LLM Inference Optimization under "
                  "Prediction Uncertainty, arXiv:2508.14544, 2025", options=_PREDICTIONS,
                  params="lpsched.heuristics.robust:IntervalParams",
                  policy="lpsched.heuristics.robust:a_max"),
    AlgorithmSpec("a-min", "lpsched.heuristics.robust:solve_a_min", "policy",
                  "A_min: MC-SF on the lower ends l, each refined to the steps run as a "
                  "request outlives it; overflows evicted (log-scale competitive)",
                  "Chen, Ye, Zhou 2025 (arXiv:2508.14544)", options=_PREDICTIONS,
                  params="lpsched.heuristics.robust:IntervalParams",
                  policy="lpsched.heuristics.robust:a_min"),
    AlgorithmSpec("wait", "lpsched.heuristics.fluid_wait:solve_wait", "policy",
                  "WAIT: per-type (prefill, predicted decode) queues admitted with the "
                  "look-ahead test once threshold requests of the type wait",
                  "Ao, Luo, Simchi-Levi, Wang, Optimizing LLM Inference: Fluid-Guided Online "
                  "Scheduling with Memory Constraints, arXiv:2504.11320, 2025",
                  options=_PREDICTIONS, params="lpsched.heuristics.fluid_wait:WaitParams",
                  policy="lpsched.heuristics.fluid_wait:wait"),
    AlgorithmSpec("nested-wait", "lpsched.heuristics.fluid_wait:solve_nested_wait", "policy",
                  "Nested WAIT: lengths unknown; requests assumed to end at a doubling "
                  "segment boundary, threshold admission under M minus a safety buffer",
                  "Ao, Luo, Simchi-Levi, Wang 2025 (arXiv:2504.11320)", options=_PREDICTIONS,
                  params="lpsched.heuristics.fluid_wait:NestedWaitParams",
                  policy="lpsched.heuristics.fluid_wait:nested_wait"),
    AlgorithmSpec("gsa", "lpsched.heuristics.geometric:solve_gsa", "heuristic",
                  "GSA (non-clairvoyant): geometric phases, each request one attempt of the "
                  "phase's slice, killed and restarted (progress lost) if unfinished; "
                  "staggered look-ahead pipeline (<= 61.92-competitive, offline batch)",
                  "Feng, Yang, Zhang, Competitive Non-Clairvoyant KV-Cache Scheduling for LLM "
                  "Inference, arXiv:2601.22996, 2026",
                  params="lpsched.heuristics.geometric:GsaParams"),
    AlgorithmSpec("gba", "lpsched.heuristics.geometric:solve_gba", "heuristic",
                  "GBA (clairvoyant): geometric decode-length classes run in increasing order, "
                  "each as a staggered look-ahead pipeline (<= 10.67-approximation)",
                  "Feng, Yang, Zhang 2026 (arXiv:2601.22996)",
                  params="lpsched.heuristics.geometric:GbaParams"),
)

_USER: dict[str, AlgorithmSpec] = {}


def specs() -> tuple[AlgorithmSpec, ...]:
    """All registered algorithms (built-ins in listing order, then the user's)."""
    return _SPECS + tuple(_USER.values())


def algorithm_names() -> list[str]:
    return [s.name for s in specs()]


def get(name: str) -> AlgorithmSpec:
    """The spec of an algorithm by its (case-insensitive) name."""
    key = str(name).strip().lower()
    for s in specs():
        if s.name == key:
            return s
    names = algorithm_names()
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise UnknownAlgorithm(f"unknown algorithm {name!r}; {hint}available: {', '.join(names)}")


def register(name: str, func: SolveFunction | None = None, *, kind: str = "user",
             summary: str = "", source: str = "", options: Iterable[Option] = (),
             replace: bool = False):
    """Register a user algorithm under ``name``; usable as a decorator.

    ``func(instance, *, deadline, seed, **options)`` returns a
    :class:`~lpsched.schedule.Result`, a :class:`~lpsched.schedule.Schedule` or a
    start-step array (aligned with ``instance.ids``); :func:`lpsched.solve` checks
    its schedule with the shared checker as for every built-in. ``deadline`` is
    the :class:`lpsched.stop.Deadline` of the call: look at ``deadline.expired()``
    in loops and return the best schedule so far when it says so. ``options`` are
    the :class:`~lpsched.options.Option` declarations of its keyword options
    (their defaults are the function's own). ``replace=True`` overwrites an
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
                     replace=replace)
            return f
        return deco
    if not callable(func):
        raise TypeError(f"register({name!r}): func must be callable, got {func!r}")
    if any(s.name == key for s in _SPECS):
        raise ValueError(f"{key!r} is a built-in algorithm; choose another name")
    if key in _USER and not replace:
        raise ValueError(f"{key!r} is already registered (pass replace=True to overwrite it)")
    opts = tuple(options)
    for o in opts:
        if not isinstance(o, Option):
            raise TypeError(f"register({name!r}): options must be lpsched.options.Option "
                            f"objects, got {o!r}")
    _check_signature(key, func, opts)
    doc = inspect.getdoc(func) or ""
    spec = AlgorithmSpec(key, func, kind, summary or (doc.splitlines()[0] if doc else key),
                         source, opts, builtin=False)
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
    module, factory = spec.policy.split(":")
    return getattr(importlib.import_module(module), factory)(**opts)


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

