"""Identical requests ("twins") and the symmetry-breaking order shared by the exact models.

Requests ``i < j`` with the same ``(s, o, a)`` are interchangeable: swapping their
starts maps a feasible schedule to a feasible schedule of the same objective. So
every model may require ``p_i <= p_j`` for consecutive members of a twin group
(:func:`twin_pairs`), and any schedule can be relabelled to satisfy it
(:func:`relabel_twins`: sort the starts within each group), e.g. a warm start
handed to a model with those rows.

Examples
--------
>>> import numpy as np
>>> from lpsched.instance import Instance, Request
>>> inst = Instance(10, [Request("a", 1, 2), Request("b", 1, 3), Request("c", 1, 2)])
>>> twin_groups(inst), twin_pairs(inst)
([[0, 2]], [(0, 2)])
>>> relabel_twins(inst, np.array([5, 0, 1])).tolist()
[1, 0, 5]
"""

from __future__ import annotations

import numpy as np

from lpsched.instance import Instance

__all__ = ["relabel_twins", "twin_groups", "twin_pairs"]


def twin_groups(instance: Instance) -> list[list[int]]:
    """Groups (of at least two positions, in input order) of requests with equal ``(s, o, a)``."""
    groups: dict[tuple[int, int, int], list[int]] = {}
    for i, key in enumerate(zip(instance.prefill.tolist(), instance.decode.tolist(),
                                instance.arrival.tolist())):
        groups.setdefault(key, []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def twin_pairs(instance: Instance) -> list[tuple[int, int]]:
    """Consecutive members ``(i, j)``, ``i < j``, of every twin group: the rows ``p_i <= p_j``."""
    return [(g[k], g[k + 1]) for g in twin_groups(instance) for k in range(len(g) - 1)]


def relabel_twins(instance: Instance, starts: np.ndarray) -> np.ndarray:
    """A copy of ``starts`` with the starts of every twin group sorted (same objective,
    feasible iff ``starts`` is, and satisfying every :func:`twin_pairs` row)."""
    out = np.array(starts, dtype=np.int64, copy=True)
    for g in twin_groups(instance):
        out[g] = np.sort(out[g])
    return out
