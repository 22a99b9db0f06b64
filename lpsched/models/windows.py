"""Start windows that provably contain every optimal schedule (the model horizon).

Let ``UB`` be the objective of a feasible schedule (here the best serial schedule
of :mod:`lpsched.models.incumbent`, or a user-supplied one) and ``LB(I \\ {i})``
a lower bound on the optimum of the instance without request ``i``
(:func:`lpsched.models.combinatorial.combined_bound_without_each`). For an
optimal schedule ``p*`` of value ``OPT <= UB``:

    c_i - a_i = OPT - sum_{j != i} (c_j - a_j) <= UB - LB(I \\ {i}) =: L_i

because the other requests, scheduled as in ``p*``, form a feasible schedule of
``I \\ {i}`` (dropping a request only lowers memory), whose objective is at least
``OPT(I \\ {i}) >= LB(I \\ {i})``. Hence ``p_i`` lies in
``[a_i, a_i + L_i - o_i]`` and the horizon ``T = max_i (a_i + L_i)`` contains
every completion of every optimal schedule. The same inequality holds for the
incumbent itself (its other requests form a feasible schedule too), so the
warm start always lies inside the windows.

With ``cutoff=True`` the windows use ``UB`` (not ``UB - 1``) so that a schedule of
value exactly ``UB`` stays feasible: the models can always return the incumbent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lpsched.instance import Instance
from lpsched.models.combinatorial import combined_bound_without_each
from lpsched.models.incumbent import best_serial_schedule
from lpsched.stop import Deadline

__all__ = ["Windows", "horizon_windows", "start_windows", "trivial_horizon",
           "windows_from_bound"]


@dataclass(frozen=True)
class Windows:
    """Per-request start windows ``earliest[i] <= p_i <= latest[i]``.

    ``upper_bound`` is the objective of ``incumbent`` (a feasible start vector).
    ``horizon`` is the last step any optimal schedule can use.
    """

    earliest: np.ndarray
    latest: np.ndarray
    upper_bound: int
    incumbent: np.ndarray
    horizon: int

    @property
    def sizes(self) -> np.ndarray:
        return self.latest - self.earliest + 1


def start_windows(instance: Instance, incumbent: np.ndarray | None = None, *,
                  compare_serial: bool = True, lb_rest: np.ndarray | None = None,
                  deadline: Deadline | None = None) -> Windows:
    """Start windows from a feasible schedule (default: the best serial schedule).

    ``incumbent`` (a feasible start vector aligned with ``instance.ids``) may be
    passed to use a better upper bound, e.g. from a strong heuristic; it is
    checked with :func:`lpsched.check.check` and refused (``ValueError``) if
    infeasible. With ``compare_serial`` (default) the better of it and the serial
    schedule is used; the exact solvers pass False when their warm start already
    includes the serial schedules. ``lb_rest`` is
    :func:`~lpsched.models.combinatorial.combined_bound_without_each` if already
    computed. ``deadline`` bounds the serial schedules and ``lb_rest`` (each falls
    back to a cheaper valid choice when it expires, so the windows only get wider).
    """
    o, a = instance.decode, instance.arrival
    if incumbent is None:
        inc, ub = best_serial_schedule(instance, deadline=deadline)
    else:
        from lpsched.check import check

        inc = np.asarray(incumbent, dtype=np.int64)
        rep = check(instance, inc)
        if not rep.feasible:
            raise ValueError(f"{instance.name}: the given incumbent is infeasible: {rep.reason()}")
        ub = int((inc + o - a).sum())
        if compare_serial:
            own, own_ub = best_serial_schedule(instance, deadline=deadline)
            if own_ub < ub:
                inc, ub = own, own_ub
    if lb_rest is None:
        lb_rest = combined_bound_without_each(instance, deadline=deadline)
    return windows_from_bound(instance, inc, ub, lb_rest)


def windows_from_bound(instance: Instance, incumbent: np.ndarray, upper_bound: int,
                       lb_rest: np.ndarray) -> Windows:
    """The windows ``[a_i, max(a_i + UB - LB(I \\ {i}) - o_i, a_i, incumbent_i)]`` (module
    docstring) for a feasible ``incumbent`` of objective ``upper_bound``."""
    o, a = instance.decode, instance.arrival
    latest = a + (upper_bound - lb_rest) - o  # c_i - a_i <= L_i
    latest = np.maximum(latest, a)  # cannot be below a_i when LB is valid; defensive
    latest = np.maximum(latest, incumbent)  # incumbent is inside by the argument above
    horizon = int((latest + o).max())
    return Windows(earliest=a.copy(), latest=latest.astype(np.int64), upper_bound=int(upper_bound),
                   incumbent=np.asarray(incumbent, dtype=np.int64), horizon=horizon)


def trivial_horizon(instance: Instance) -> int:
    """``max_i a_i + sum_i o_i``: the makespan of running all requests one after another."""
    return int(instance.arrival.max() + instance.decode.sum())


def horizon_windows(instance: Instance, horizon: int | None = None) -> Windows:
    """Windows ``[a_i, horizon - o_i]`` for a user-chosen horizon (default: trivial).

    The default :func:`start_windows` are only guaranteed to contain the optima
    of the model *as built*. After adding side constraints (deadlines, precedences,
    ...) the optimum may move later: build with these explicit windows instead
    and choose ``horizon`` large enough for the constrained problem.
    """
    o, a = instance.decode, instance.arrival
    T = trivial_horizon(instance) if horizon is None else int(horizon)
    latest = T - o
    if np.any(latest < a):
        k = int(np.flatnonzero(latest < a)[0])
        raise ValueError(f"horizon {T} is too short for request {instance.ids[k]!r} "
                         f"(arrival {a[k]} + decode {o[k]})")
    inc, ub = best_serial_schedule(instance)
    return Windows(earliest=a.copy(), latest=latest.astype(np.int64), upper_bound=ub,
                   incumbent=inc, horizon=T)
