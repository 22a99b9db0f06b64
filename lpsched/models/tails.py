"""Disjoint-tail inequalities: requests with large peaks cannot overlap much.

Let ``P_i = s_i + o_i`` (the memory request ``i`` holds in its completion step
``c_i``). If request ``j`` is running in step ``c_i`` (``p_j < c_i <= c_j``), then
memory in that step is at least ``P_i + s_j + (c_i - p_j)``, so

    c_i - p_j <= M - P_i - s_j.                                           (1)

**Lemma (disjoint tails).** Take a set ``B`` of requests and
``delta_j >= max(0, max_{i in B, i != j} (M - P_i - s_j))`` for ``j`` in ``B``.
Then in every feasible schedule the *tails* ``[p_j + delta_j, c_j)`` of the
requests of ``B`` are pairwise disjoint.

*Proof.* Let ``i != j`` in ``B`` with ``c_i <= c_j``. If ``p_j >= c_i`` the tail of
``j`` starts after ``c_i``, the end of the tail of ``i``. Otherwise ``j`` runs in
step ``c_i`` and (1) gives ``p_j + delta_j >= p_j + (M - P_i - s_j) >= c_i``. ∎

We use the families ``B_theta = {j : P_j >= theta}`` (so
``delta_j = max(0, M - min_{i in B, i != j} P_i - s_j)``), dropping requests with
``delta_j >= o_j`` (empty tail). Consequences, all valid for every feasible
schedule:

* **single-machine bound**: the tails are jobs of lengths ``o_j - delta_j`` on one
  machine ending at ``c_j``, so by SPT the ``k``-th smallest ``c`` in ``B`` is at
  least the sum of the ``k`` shortest tails (and at least the ``k``-th smallest
  ``o``); with arrivals the tail of ``j`` starts at ``a_j + delta_j`` or later and
  SRPT with these release dates bounds ``sum c_j``; the other requests add at
  least ``sum o_j``;
* **clique rows** for the time-indexed model: for every time point ``tau``,
  ``sum_{j in B} sum_{k = tau - o_j + 1}^{tau - delta_j} x[j,k] <= 1``;
* **NoOverlap** of the tail intervals in CP-SAT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lpsched.instance import Instance

__all__ = ["TailFamily", "tail_families", "tail_bound", "tail_rows", "separate_tail_rows"]


@dataclass(frozen=True)
class TailFamily:
    """Requests ``members`` whose tails ``[p_j + delta_j, c_j)`` are pairwise disjoint."""

    theta: int
    members: np.ndarray
    delta: np.ndarray


def tail_families(instance: Instance, max_families: int | None = None) -> list[TailFamily]:
    """The families ``B_theta`` for every distinct peak ``theta`` (at least 2 non-empty tails).

    With ``max_families`` the families with the largest total tail length are kept.
    """
    P, s, o, M = instance.peak, instance.prefill, instance.decode, instance.memory
    fams = []
    for theta in np.unique(P):
        B = np.flatnonzero(P >= theta)
        if B.size < 2:
            continue
        pb = np.sort(P[B])
        # min over the others: the smallest peak, or the 2nd smallest for the argmin itself
        min_other = np.where(P[B] == pb[0], pb[1], pb[0])
        # (if several share the smallest peak, pb[1] == pb[0], which is right)
        delta = np.maximum(0, M - min_other - s[B])
        keep = delta < o[B]
        if np.count_nonzero(keep) < 2:
            continue
        fams.append(TailFamily(int(theta), B[keep], delta[keep].astype(np.int64)))
    if max_families is not None and len(fams) > max_families:
        score = [int((o[f.members] - f.delta).sum()) for f in fams]
        top = sorted(np.argsort(score)[::-1][:max_families])
        fams = [fams[k] for k in top]
    return fams


def tail_bound(instance: Instance) -> int:
    """The best single-machine bound over the tail families (see module docstring).

    Offline: SPT on the tail lengths, per rank at least the sorted ``o``. With
    arrivals: the tail of ``j`` cannot start before ``a_j + delta_j``, so SRPT with
    those release dates (Schrage 1968) bounds ``sum_{j in B} c_j``; the arrivals
    are then subtracted (the objective is ``sum (c_j - a_j)``).
    """
    from lpsched.models.combinatorial import srpt_fluid_sum

    o, a = instance.decode, instance.arrival
    total_o = int(o.sum())
    best = total_o
    for f in tail_families(instance):
        B = f.members
        rest = total_o - int(o[B].sum())
        if instance.offline:
            lengths = np.sort(o[B] - f.delta)
            val = int(np.maximum(np.cumsum(lengths), np.sort(o[B])).sum())
        else:
            c_sum = srpt_fluid_sum(o[B] - f.delta, a[B] + f.delta, 1.0)
            val = int(np.ceil(c_sum - float(a[B].sum()) - 1e-9))
        best = max(best, val + rest)
    return best


def tail_rows(arr, family: TailFamily, taus: np.ndarray | None = None):
    """Clique rows of ``family`` on the time-indexed columns of ``arr``.

    Returns ``(row_taus, indptr, indices)``: row ``r`` (time point ``row_taus[r]``)
    is ``sum_{c in indices[indptr[r]:indptr[r+1]]} x_c <= 1``. Only rows with at
    least two columns are returned.
    """
    rows, cols = [], []
    for j, dj in zip(family.members.tolist(), family.delta.tolist()):
        lo, hi = int(arr.col_offset[j]), int(arr.col_offset[j + 1])
        ks = arr.start[lo:hi]
        span = int(arr.instance.decode[j]) - dj  # tail covers tau in [k + dj, k + o_j - 1]
        off = np.arange(span)
        rows.append((ks[:, None] + dj + off[None, :]).ravel())
        cols.append(np.repeat(np.arange(lo, hi), span))
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    if taus is not None:
        mask = np.isin(r, taus)
        r, c = r[mask], c[mask]
    order = np.lexsort((c, r))
    r, c = r[order], c[order]
    uniq, start, counts = np.unique(r, return_index=True, return_counts=True)
    keep = counts >= 2
    row_taus = uniq[keep]
    starts = start[keep]
    cnts = counts[keep]
    indices = np.concatenate([c[s0:s0 + k] for s0, k in zip(starts, cnts)]) if row_taus.size \
        else np.zeros(0, dtype=np.int64)
    indptr = np.concatenate(([0], np.cumsum(cnts)))
    return row_taus, indptr, indices


def separate_tail_rows(arr, families: list[TailFamily], x: np.ndarray, eps: float = 1e-6,
                       max_rows: int = 20000, per_tau: int | None = None):
    """Tail clique rows violated by the fractional point ``x``.

    Returns a list of column-index arrays (each a row ``sum x <= 1``), the most
    violated first, at most ``max_rows``, and with ``per_tau`` at most that many
    per time point (the nested families ``B_theta`` give near-duplicate rows at one
    ``tau``; keeping the most violated ones makes rounds much cheaper to re-solve).
    """
    o = arr.instance.decode
    T = int(arr.windows.horizon) + 2
    found = []
    for f in families:
        lhs = np.zeros(T + 1)
        for j, dj in zip(f.members.tolist(), f.delta.tolist()):
            lo, hi = int(arr.col_offset[j]), int(arr.col_offset[j + 1])
            ks = arr.start[lo:hi]
            xv = x[lo:hi]
            # x at k covers tau in [k + dj, k + o_j - 1]: difference array
            np.add.at(lhs, np.minimum(ks + dj, T), xv)
            np.add.at(lhs, np.minimum(ks + int(o[j]), T), -xv)
        lhs = np.cumsum(lhs)
        viol = np.flatnonzero(lhs[:T] > 1 + eps)
        for tau in viol.tolist():
            found.append((lhs[tau] - 1, f, tau))
    found.sort(key=lambda z: -z[0])
    if per_tau is not None:
        seen: dict[int, int] = {}
        kept = []
        for item in found:
            if seen.get(item[2], 0) < per_tau:
                seen[item[2]] = seen.get(item[2], 0) + 1
                kept.append(item)
        found = kept
    out = []
    for _, f, tau in found[:max_rows]:
        cols = []
        for j, dj in zip(f.members.tolist(), f.delta.tolist()):
            lo = int(arr.col_offset[j])
            e, u = int(arr.windows.earliest[j]), int(arr.windows.latest[j])
            k0, k1 = max(e, tau - int(o[j]) + 1), min(u, tau - dj)
            if k0 <= k1:
                cols.append(np.arange(lo + k0 - e, lo + k1 - e + 1))
        if cols:
            out.append(np.concatenate(cols))
    return out
