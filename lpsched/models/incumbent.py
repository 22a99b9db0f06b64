"""A cheap feasible schedule (upper bound) used to warm-start and bound the exact models.

Serial schedule generation: take the requests in a priority order and give each
the earliest start ``p >= a_i`` such that the memory of the already placed
requests plus its own ramp ``s_i + t - p`` stays ``<= M`` in every step
``t = p+1..p+o_i``. Because every request fits alone (``s_i + o_i <= M``, checked
when the instance is built) such a start always exists, so the result is always
feasible. Several orders are tried (shortest decode first, smallest memory area
first, smallest peak first, arrival order) and the best objective is kept.

This is a deliberately simple upper bound for the exact models (horizon and
warm start); the strong heuristics live in :mod:`lpsched.heuristics`.
"""

from __future__ import annotations

import numpy as np

from lpsched.check import check
from lpsched.instance import Instance

__all__ = ["serial_schedule", "best_serial_schedule"]


def serial_schedule(instance: Instance, order: np.ndarray | list[int]) -> np.ndarray:
    """Starts from inserting the requests in ``order`` at their earliest feasible start.

    Returns the start vector aligned with ``instance.ids`` (always feasible).
    """
    s, o, a = instance.prefill, instance.decode, instance.arrival
    M = instance.memory
    horizon = int(a.max() + o.sum() + 2)
    slack = np.full(horizon + int(o.max()) + 2, M, dtype=np.int64)  # slack[t] = M - m(t)
    starts = np.zeros(instance.n, dtype=np.int64)
    for i in order:
        si, oi, ai = int(s[i]), int(o[i]), int(a[i])
        need = si + np.arange(1, oi + 1)  # memory of i in its d-th step, d = 1..o_i
        # scan candidate starts p = ai, ai+1, ... in blocks (window slack[p+1 .. p+oi]);
        # the tail of ``slack`` is all M, so a start is always found
        lo, block = ai, max(64, 4 * oi)
        while True:
            seg = slack[lo + 1:lo + block + oi]
            win = np.lib.stride_tricks.sliding_window_view(seg, oi)
            ok = np.all(win >= need, axis=1)
            if ok.any():
                p = lo + int(np.argmax(ok))
                break
            lo += win.shape[0]
            if lo + oi >= slack.size:  # pragma: no cover - impossible, see above
                raise RuntimeError("serial_schedule: no feasible start found")
        slack[p + 1:p + oi + 1] -= need
        starts[i] = p
    return starts


def best_serial_schedule(instance: Instance) -> tuple[np.ndarray, int]:
    """The best of several serial schedules: ``(starts, objective)``; checker-verified."""
    s, o, a = instance.prefill, instance.decode, instance.arrival
    idx = np.arange(instance.n)
    keys = [
        (a, o, idx),            # arrival, then shortest decode
        (o, idx),               # shortest decode first
        (instance.area, idx),   # smallest memory area first
        (s + o, idx),           # smallest peak first
        (a + o, idx),           # earliest possible completion first
    ]
    best, best_obj = None, None
    for key in keys:
        order = np.lexsort(tuple(reversed(key)))
        p = serial_schedule(instance, order)
        obj = int((p + o - a).sum())
        if best_obj is None or obj < best_obj:
            best, best_obj = p, obj
    rep = check(instance, best)
    if not rep.feasible:  # pragma: no cover - guarded by construction
        raise RuntimeError(f"serial schedule infeasible: {rep.reason()}")
    return best, int(best_obj)
