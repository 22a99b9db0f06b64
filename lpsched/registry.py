"""The algorithm registry: stable command-line names -> implementations.

Each entry names a function ``f(instance, *, time_limit, seed, **options) -> Result``
by module path, imported on first use so that ``import lpsched`` stays light.
Add an algorithm by adding one :class:`AlgorithmSpec` line to ``_SPECS``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from lpsched.instance import Instance
from lpsched.schedule import Result

__all__ = ["AlgorithmSpec", "UnknownAlgorithm", "algorithm_names", "get", "specs"]

SolveFunction = Callable[..., Result]


class UnknownAlgorithm(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return self.args[0]


@dataclass(frozen=True)
class AlgorithmSpec:
    """One algorithm: its CLI name, where it lives, what it is, where it comes from."""

    name: str
    target: str  # "package.module:function"
    kind: str  # "heuristic" | "exact" | "policy" | "improvement" | "lp-guided"
    summary: str
    source: str = ""

    def load(self) -> SolveFunction:
        module, func = self.target.split(":")
        return getattr(importlib.import_module(module), func)


_SPECS: tuple[AlgorithmSpec, ...] = (
    AlgorithmSpec("fcfs", "lpsched.heuristics.baselines:solve_fcfs", "policy",
                  "First-come-first-served with look-ahead memory admission (head-of-line blocking)"),
    AlgorithmSpec("sf", "lpsched.heuristics.baselines:solve_sf", "policy",
                  "Shortest decode length first with look-ahead admission (backfills)"),
    AlgorithmSpec("size-first", "lpsched.heuristics.baselines:solve_size_first", "policy",
                  "Smallest total size prefill+decode first with look-ahead admission"),
    AlgorithmSpec("mc-sf", "lpsched.heuristics.baselines:solve_mc_sf", "policy",
                  "Memory-constrained shortest-first: admit by ascending predicted decode "
                  "while memory at every future completion step fits; stop at first misfit",
                  "Jaillet et al., Online Scheduling for LLM Inference with KV Cache "
                  "Constraints, 2025"),

    # -- exact solvers (models/) ------------------------------------------------------------
    AlgorithmSpec("milp", "lpsched.models.time_indexed:solve_milp", "exact",
                  "Time-indexed MILP (PuLP model, HiGHS); bound and gap read from HiGHS",
                  "Sousa & Wolsey 1992 time-indexed formulation; DESIGN.md section 2"),
    AlgorithmSpec("cpsat", "lpsched.models.cpsat:solve_cpsat", "exact",
                  "CP-SAT (OR-Tools): memory at completion steps + pairwise overlap disjunctions "
                  "(formulation=cumulative: staircase intervals)",
                  "formulations/cpsat.md"),

    # -- strong heuristics (heuristics/) -----------------------------------------------------
    AlgorithmSpec("sorted-f", "lpsched.heuristics.sorted_f:solve_sorted_f", "heuristic",
                  "Sorted-F: greedy min-F memory-feasible batches (F = sum o / |X|^2), run in "
                  "ascending F, each batch after the previous one ends",
                  "Wang, Ye, Zhou, LLM Serving Optimization with Variable Prefill and Decode "
                  "Lengths, arXiv:2508.06133, 2025"),
    AlgorithmSpec("sorted-f-cont", "lpsched.heuristics.sorted_f:solve_sorted_f_cont", "heuristic",
                  "Continuous Sorted-F: the Sorted-F order, each request started at the earliest "
                  "step memory allows (no waiting for the batch to end)",
                  "Wang, Ye, Zhou 2025 (arXiv:2508.06133); continuous decoding ours"),
    AlgorithmSpec("dp", "lpsched.heuristics.dp:solve_dp", "exact",
                  "Exact dynamic program over step states (unstarted set, running progress); "
                  "tiny instances only",
                  "Wang, Ye, Zhou 2025 (exact DP variant); state space ours"),
    AlgorithmSpec("local-search", "lpsched.heuristics.local_search:solve_local_search",
                  "improvement",
                  "Local search (swap/insert/batch merge/split) over the batch order, serial "
                  "earliest-start decoding; never worse than its start (default: best of "
                  "sorted-f-cont, mc-sf, sf)",
                  "Wang, Ye, Zhou 2025 (local-search variant)"),
    AlgorithmSpec("sorted-lp", "lpsched.heuristics.lp_guided:solve_sorted_lp", "lp-guided",
                  "Sorted-LP: order by fractional completion times of the (bucketed) time-indexed "
                  "LP relaxation, earliest-start decoding",
                  "Wang, Ye, Zhou 2025 (arXiv:2508.06133), LP-based scheduler"),
    AlgorithmSpec("lp-swap", "lpsched.heuristics.lp_guided:solve_lp_swap", "lp-guided",
                  "LP-Swap: the Sorted-LP order improved by adjacent pairwise swaps",
                  "Wang, Ye, Zhou 2025 (arXiv:2508.06133)"),
    AlgorithmSpec("lp-horizon", "lpsched.heuristics.lp_guided:solve_lp_horizon", "lp-guided",
                  "Receding horizon: re-solve the ordering LP over a window of the next requests "
                  "(Sorted-F order), commit the first half, slide",
                  "Wang, Ye, Zhou 2025 (receding-horizon variant); windowing ours"),
    AlgorithmSpec("sorted-f-online", "lpsched.heuristics.online:solve_sorted_f_online", "policy",
                  "Online Sorted-F policy in the event simulator: Sorted-F order of the waiting "
                  "requests (predicted lengths), look-ahead admission, no overtaking",
                  "Wang, Ye, Zhou 2025; online adaptation ours"),
    AlgorithmSpec("sorted-lp-online", "lpsched.heuristics.online:solve_sorted_lp_online", "policy",
                  "Online receding-horizon Sorted-LP policy: the first window of the online "
                  "Sorted-F order re-ordered by the ordering LP at every arrival",
                  "Wang, Ye, Zhou 2025; online adaptation ours"),
    AlgorithmSpec("lp-swap-online", "lpsched.heuristics.online:solve_lp_swap_online", "policy",
                  "Online LP-Swap policy: the online Sorted-LP window order improved by adjacent "
                  "pairwise swaps (window decoded as a backlog) at every arrival",
                  "Wang, Ye, Zhou 2025; online adaptation ours"),


    # -- end of algorithms -------------------------------------------------------------------
)


def specs() -> tuple[AlgorithmSpec, ...]:
    """All registered algorithms, in listing order."""
    return _SPECS


def algorithm_names() -> list[str]:
    return [s.name for s in _SPECS]


def get(name: str) -> AlgorithmSpec:
    """The spec of an algorithm by its (case-insensitive) name."""
    key = name.strip().lower()
    for s in _SPECS:
        if s.name == key:
            return s
    raise UnknownAlgorithm(
        f"unknown algorithm {name!r}; available: {', '.join(algorithm_names())}")


def run(name: str, instance: Instance, **kwargs) -> Result:
    return get(name).load()(instance, **kwargs)
