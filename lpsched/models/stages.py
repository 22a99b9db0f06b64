"""The stages shared by the exact solvers (``milp``, ``cpsat``), each within its share of one deadline.

:class:`ExactSolve` holds one run: the instance, the :class:`~lpsched.stop.Deadline`
made by :func:`lpsched.solve` and its search part (the deadline less its reserve
for the result), and the stats collected on the way. A solver subclasses it and
calls, in order:

1. :meth:`ExactSolve.bounds` - the combinatorial bound and ``LB(I \\ {i})`` for the
   windows (``O(n^2)``: 5% of the time, then the cheaper valid bound);
2. the memory guard on the model size known *before* the warm start (the
   solver's; :mod:`lpsched.models.guard`); above the cap :meth:`ExactSolve.refuse_early`
   gives the whole time to the warm start and never builds the model;
3. :meth:`ExactSolve.warm` - the warm start in its share
   (:func:`lpsched.models.incumbent.warm_start_budget`);
4. :meth:`ExactSolve.windows` - the start windows of the warm start;
5. the solver's guard on the model of those windows (memory and build time); a
   refusal returns :meth:`ExactSolve.refuse`: the warm start improved by local
   search for the rest of the time;
6. the solver's build, run and result.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from lpsched.instance import Instance
from lpsched.models.combinatorial import combined_bound, combined_bound_without_each
from lpsched.models.exact_specs import WarmStartParams
from lpsched.models.guard import Refusal, guarded_result
from lpsched.models.incumbent import improve_schedule, solver_incumbent
from lpsched.models.windows import Windows, start_windows, windows_from_bound
from lpsched.schedule import Result
from lpsched.stop import Deadline

__all__ = ["ExactSolve"]


class ExactSolve:
    """One run of an exact solver named ``name`` (see the module docstring)."""

    def __init__(self, name: str, instance: Instance, deadline: Deadline | None,
                 seed: int | None, params: WarmStartParams):
        self.t0 = time.perf_counter()
        self.name, self.instance, self.seed = name, instance, seed
        self.deadline = Deadline.coerce(deadline)
        self.search = self.deadline.for_search()
        self.given, self.method = params.incumbent, params.warm_start
        self.warm_start_time, self.max_model_bytes = params.warm_start_time, params.max_model_bytes
        self.threads, self.symmetry_breaking = params.threads, params.symmetry_breaking
        self.stats: dict[str, Any] = {}
        self.w: Windows | None = None

    def objective(self, starts: np.ndarray) -> int:
        return int((starts + self.instance.decode - self.instance.arrival).sum())

    def bounds(self) -> None:
        """The combinatorial bound and ``LB(I \\\\ {i})`` (a short share: it is ``O(n^2)``)."""
        self.comb = float(combined_bound(self.instance))
        self.lb_rest = combined_bound_without_each(self.instance,
                                                   deadline=self.search.share(0.05))

    def warm(self, budget: Deadline | None = None) -> None:
        """The warm start (its share of the time limit, or ``budget``)."""
        self.incumbent, ws = solver_incumbent(self.instance, self.given, self.method,
                                              self.deadline, self.warm_start_time, self.seed,
                                              budget=budget)
        self.stats.update(ws)

    def windows(self) -> Windows:
        """The start windows of the warm start (a given incumbent is compared with the
        serial schedules, which the computed warm starts already include)."""
        if self.stats["warm_start"] == "given":
            self.w = start_windows(self.instance, self.incumbent, lb_rest=self.lb_rest,
                                   deadline=self.search.share(0.1))
        else:
            self.w = windows_from_bound(self.instance, self.incumbent,
                                        self.objective(self.incumbent), self.lb_rest)
        self.stats.update(horizon=self.w.horizon, upper_bound_initial=self.w.upper_bound)
        return self.w

    @property
    def built_windows(self) -> Windows:
        """The start windows computed by :meth:`windows` (which must have run)."""
        if self.w is None:
            raise RuntimeError(f"{self.name}: the start windows are not computed yet")
        return self.w

    def best_starts(self) -> np.ndarray:
        """The best schedule known before the model: the windows' incumbent once they
        are computed, else the warm start."""
        return self.w.incumbent if self.w is not None else self.incumbent

    def refuse_early(self, refusal: Refusal) -> Result:
        """Refused before the warm start: the warm start gets the whole search time."""
        self.warm(budget=self.search)
        return self.refuse(refusal)

    def refuse(self, refusal: Refusal) -> Result:
        """The model is not built: the warm start, improved by local search for the rest
        of the time when that is the warm-start method (from the warm start when local
        search or the user gave it, else afresh from local search's own initial
        heuristics, which the short warm start may not have had time for), and the
        combinatorial bound."""
        starts = self.best_starts()
        note = "the warm start"
        if self.method == "local-search" and self.search.remaining() > 0.01:
            keep = self.stats.get("warm_start") == "given" \
                or self.stats.get("warm_start_from") == "local-search"
            better = improve_schedule(self.instance, starts if keep else None, self.search,
                                      self.seed)
            if better is not None and better[1] < self.objective(starts):
                starts = better[0]
                note = "the warm start improved by local search for the rest of the time limit"
        return guarded_result(self.name, self.instance, starts, self.comb, refusal, self.t0,
                              self.stats, note)
