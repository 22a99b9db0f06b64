"""A user's algorithm defined outside the package (tests only): importable by worker
processes, so that bench runs with process pools can unpickle it by reference."""

from __future__ import annotations

import numpy as np

from lpsched.schedule import sequential_starts


def shortest_first_sequential(instance, *, deadline, seed=None, reverse=False):
    """One request at a time, shortest decode first (longest first with ``reverse``)."""
    order = np.lexsort((np.arange(instance.n), instance.arrival,
                        -instance.decode if reverse else instance.decode))
    return sequential_starts(instance, order)
