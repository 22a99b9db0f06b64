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

__all__ = ["TimeIndexedArrays", "time_indexed_arrays"]


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
    """Build the sparse time-indexed model of ``instance`` on ``windows``."""
    w = windows if windows is not None else start_windows(instance)
    s, o = instance.prefill, instance.decode
    n, M = instance.n, instance.memory
    sizes = w.sizes
    col_offset = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    req = np.repeat(np.arange(n), sizes)
    start = np.concatenate([np.arange(w.earliest[i], w.latest[i] + 1) for i in range(n)])
    cost = (start + o[req] - instance.arrival[req]).astype(float)
    ncols = int(req.size)
    A_eq = sp.csr_matrix((np.ones(ncols), (req, np.arange(ncols))), shape=(n, ncols))

    rows, cols, vals = [], [], []
    for i in range(n):
        ks = np.arange(w.earliest[i], w.latest[i] + 1)
        cidx = np.arange(col_offset[i], col_offset[i + 1])
        d = np.arange(1, int(o[i]) + 1)
        rows.append((ks[:, None] + d[None, :]).ravel())
        cols.append(np.repeat(cidx, d.size))
        vals.append(np.tile(s[i] + d, ks.size))
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    v = np.concatenate(vals).astype(float)
    T = w.horizon
    # drop implied rows: sum over requests of the largest coefficient in the row <= M
    rowmax_req = np.zeros((T + 1) * n) if (T + 1) * n <= 50_000_000 else None
    keep_steps = np.arange(1, T + 1)
    if rowmax_req is not None:
        np.maximum.at(rowmax_req, r * n + req[c], v)
        rowsum = rowmax_req.reshape(T + 1, n).sum(axis=1)
        keep_steps = np.flatnonzero(rowsum > M)
        keep_steps = keep_steps[keep_steps >= 1]
    row_of_step = np.full(T + 1, -1, dtype=np.int64)
    row_of_step[keep_steps] = np.arange(keep_steps.size)
    rr = row_of_step[r]
    mask = rr >= 0
    A_mem = sp.csr_matrix((v[mask], (rr[mask], c[mask])), shape=(keep_steps.size, ncols))
    A_mem.sum_duplicates()
    return TimeIndexedArrays(instance=instance, windows=w, req=req, start=start, cost=cost,
                             A_eq=A_eq, A_mem=A_mem, mem_steps=keep_steps.astype(np.int64),
                             col_offset=col_offset)
