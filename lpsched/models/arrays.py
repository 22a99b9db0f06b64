"""The time-indexed model as sparse arrays (shared by the MILP, LP and export code).

Columns are the start variables ``x[i,k]`` for ``k`` in the start window of
request ``i`` (:mod:`lpsched.models.windows`). Rows:

* assignment ``sum_k x[i,k] = 1`` (one per request);
* memory ``sum_i sum_{k=t-o_i}^{t-1} (s_i + t - k) x[i,k] <= M`` for the steps ``t``
  where the constraint is not implied: a row is dropped when even the largest
  coefficient of every request in it sums to at most ``M`` (then no 0/1 point
  and, since every request contributes at most one unit of ``x`` mass, no
  fractional point with ``sum_k x[i,k] = 1`` can violate it).

Objective ``sum_i sum_k (k + o_i - a_i) x[i,k]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from lpsched.instance import Instance
from lpsched.models.windows import Windows, start_windows
from lpsched.paging import require_unpaged

__all__ = ["TimeIndexedArrays", "memory_steps", "time_indexed_arrays"]


@dataclass(frozen=True)
class TimeIndexedArrays:
    """Columns ``(req[j], start[j])``, objective ``cost``, rows in CSR form.

    ``A_eq`` (n x ncols) holds the assignment rows, ``A_mem`` (len(mem_steps) x
    ncols) the memory rows for steps ``mem_steps`` with right-hand side ``M``.
    """

    instance: Instance
    windows: Windows
    req: np.ndarray
    start: np.ndarray
    cost: np.ndarray
    A_eq: sp.csr_matrix
    A_mem: sp.csr_matrix
    mem_steps: np.ndarray
    col_offset: np.ndarray  # columns of request i are col_offset[i]:col_offset[i+1]

    @property
    def ncols(self) -> int:
        return int(self.req.size)

    def column(self, i: int, k: int) -> int:
        """Column index of ``x[i,k]``."""
        return int(self.col_offset[i] + (k - self.windows.earliest[i]))


def time_indexed_arrays(instance: Instance, windows: Windows | None = None) -> TimeIndexedArrays:
    """Build the sparse time-indexed model of ``instance`` on ``windows``.

    Column ``j = (i, k)`` has the memory coefficients ``s_i + d`` in the rows of the
    steps ``k + d``, ``d = 1..o_i``: a contiguous run, so ``A_mem`` is assembled
    column-wise (CSC) with a few ``O(nnz)`` vectorised passes and converted to CSR
    once. The implied rows are found in ``O(n + T)`` (:func:`memory_steps`).
    """
    require_unpaged(instance, "time-indexed model")
    w = windows if windows is not None else start_windows(instance)
    s, o = instance.prefill, instance.decode
    n = instance.n
    sizes = w.sizes
    col_offset = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    req = np.repeat(np.arange(n), sizes)
    ncols = int(req.size)
    start = w.earliest[req] + (np.arange(ncols) - col_offset[req])
    cost = (start + o[req] - instance.arrival[req]).astype(float)
    A_eq = sp.csr_matrix((np.ones(ncols), (req, np.arange(ncols))), shape=(n, ncols))

    keep_steps = memory_steps(instance, w)
    row_of_step = np.full(w.horizon + 2, -1, dtype=np.int32)
    row_of_step[keep_steps] = np.arange(keep_steps.size, dtype=np.int32)
    o_col = o[req]
    full_ptr = np.concatenate(([0], np.cumsum(o_col)))
    d = np.arange(int(full_ptr[-1]), dtype=np.int64)
    d -= np.repeat(full_ptr[:-1] - 1, o_col)  # d = 1..o_i within each column
    rows = row_of_step[np.repeat(start, o_col) + d]
    mask = rows >= 0
    counts = np.add.reduceat(mask, full_ptr[:-1]) if ncols else np.zeros(0, dtype=np.int64)
    vals = (np.repeat(s[req], o_col) + d)[mask].astype(float)
    del d
    A_mem = sp.csc_matrix((vals, rows[mask], np.concatenate(([0], np.cumsum(counts)))),
                          shape=(keep_steps.size, ncols)).tocsr()
    return TimeIndexedArrays(instance=instance, windows=w, req=req, start=start, cost=cost,
                             A_eq=A_eq, A_mem=A_mem, mem_steps=keep_steps.astype(np.int64),
                             col_offset=col_offset)


def memory_steps(instance: Instance, windows: Windows) -> np.ndarray:
    """The steps ``t >= 1`` whose memory row is not implied (module docstring).

    Request ``i``'s largest coefficient in row ``t`` is ``s_i + min(t - e_i, o_i)``
    for ``e_i < t <= u_i + o_i`` (its earliest window start ``e_i`` reaches furthest
    into the row), and 0 elsewhere: a ramp and a plateau, summed over requests with
    difference arrays in ``O(n + T)``. The row is kept iff that sum exceeds ``M``.
    """
    s, o = instance.prefill, instance.decode
    e, u = windows.earliest, windows.latest
    T = windows.horizon
    size = T + 3
    const = np.zeros(size, dtype=np.int64)
    slope = np.zeros(size, dtype=np.int64)
    # ramp s_i + t - e_i on (e_i, e_i + o_i]
    np.add.at(const, e + 1, s - e)
    np.add.at(const, e + o + 1, -(s - e))
    np.add.at(slope, e + 1, 1)
    np.add.at(slope, e + o + 1, -1)
    # plateau s_i + o_i on (e_i + o_i, u_i + o_i]
    np.add.at(const, e + o + 1, s + o)
    np.add.at(const, u + o + 1, -(s + o))
    t = np.arange(size, dtype=np.int64)
    rowsum = np.cumsum(const) + t * np.cumsum(slope)
    keep = np.flatnonzero(rowsum[: T + 1] > instance.memory)
    return keep[keep >= 1].astype(np.int64)
