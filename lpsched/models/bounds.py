"""Lower bounds on the optimal total completion time: one entry point.

``lower_bound(instance, method=...) -> Bound`` with ``method`` one of

* ``"combinatorial"`` - the largest of the combined decode/memory-area bound,
  the mean-busy-time bound (:mod:`lpsched.models.combinatorial`; with arrivals its
  release-date form, :mod:`lpsched.models.release_bounds`), the disjoint-tail
  single-machine bound (:mod:`lpsched.models.tails`) and, for ``n <= 200``, the root
  bound of the branch-and-bound (:func:`lpsched.models.bnb.root_bound`: tails merged
  with area ranks);
* ``"lp"`` - the LP relaxation of the time-indexed model
  (:mod:`lpsched.models.lp_relaxation`), rounded up; for LPs of at most 20,000
  columns strengthened by disjoint-tail clique cuts (``lp_cuts`` overrides);
* ``"bucket"`` - the interval-indexed (time-bucket) relaxation below, for instances
  whose full time-indexed LP is too large;
* ``"config"`` - the time-indexed LP with disjoint-tail and lifetime-configuration
  cuts (:mod:`lpsched.models.colgen`), cut rounds until ``time_limit`` (without one,
  until no cut is violated: minutes at n >= 14);
* ``"best"`` - the maximum of the combinatorial bound, with arrivals the burst
  partition bound (:mod:`lpsched.models.partition_bounds`: the sum of the bursts'
  own ``best`` bounds, with half of the time left, when the requests fall into two
  bursts or more) and the LP bound (when the time-indexed LP would exceed
  ``max_columns`` columns, default 150,000: with arrivals the same LP by column
  generation, :mod:`lpsched.models.lazy_lp`, ``details["lazy_lp"]``; offline, or when
  that would price too many starts, the bucket bound, which targets
  ``bucket_columns``, default 30,000).

Bucket relaxation (validity)
----------------------------
Cut time into buckets of ``w`` consecutive steps, ``B_b = {b*w, ..., b*w + w - 1}``
for starts and ``S_b = {b*w + 1, ..., b*w + w}`` for the steps whose memory is
summed. Variable ``y[i,b] >= 0`` is the fraction of request ``i`` starting in
``K_ib = B_b ∩ [a_i, u_i]`` (the provable start window). With
``E_i(k, S) = sum_{t in S, k < t <= k + o_i} (s_i + t - k)`` the memory area of
request ``i`` started at ``k`` inside the steps ``S``:

    min  sum_{i,b} (min_{k in K_ib} k + o_i - a_i) y[i,b]
    s.t. sum_b y[i,b] = 1                                         for all i
         sum_{i,b} (min_{k in K_ib} E_i(k, S)) y[i,b] <= |S| M     for all S in the grid

Any feasible schedule ``p`` gives a feasible ``y`` (``y[i,b] = 1`` for the bucket
holding ``p_i``): summing the per-step memory constraints over the ``w`` steps of
``S_c`` gives ``sum_i E_i(p_i, S_c) <= w M``, and each coefficient is at most the
true ``E_i(p_i, S_c)``; the objective coefficient is at most ``p_i + o_i - a_i``.
The rows are written for the step windows ``S`` of a dyadic grid: ``S_c`` of
width ``w`` and, level by level, the aligned windows of ``2w, 4w, ...`` steps
(each the union of two windows of the level below). The wider windows lose
less at a request's edges (the ``min`` over a bucket drops the part of the ramp
that may fall outside ``S``), which is what makes coarse buckets useful; every
row is the sum of the per-step constraints over its window, so all are valid.
So the bucket LP value is at most the optimum. With ``w = 1`` it *is* the
time-indexed LP relaxation (tested). Its size is about ``n T / w`` columns.

The ``min`` over a bucket is taken at its two ends: ``E_i(k, S)`` is unimodal in
``k`` (non-decreasing, then non-increasing). While the request's steps ``k+1..k+o_i``
enter ``S`` from the left, one more step of value ``s_i + o_i`` joins and each of the
at most ``o_i`` inside loses 1 (change ``>= s_i >= 0``); once ``S`` is entered, every
step of ``k`` either keeps the count and lowers each term by 1 (``S`` inside the
footprint) or drops the request's first step from ``S`` (leaving), so ``E`` does not
increase again. Hence ``min_{k in [kl, kh]} E_i(k, S) = min(E_i(kl, S), E_i(kh, S))``
(tested against every start). It keeps the build at ``O(columns x rows touched)``: the
first version evaluated every start of every bucket, ``O(width)`` times more (15 s of
a 20 s limit, and a 29.8 GiB allocation, on the first 2,000 conversation requests).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp

from lpsched.instance import Instance
from lpsched.models._highs import enforce_deadline, new_highs, run_highs
from lpsched.models.arrival_stages import lazy_fits, lazy_stage, partition_stage
from lpsched.models.bnb import ROOT_BOUND_MAX_N, root_bound
from lpsched.models.bound_sizes import (
    BUCKET_BYTES_PER_NONZERO,
    bucket_nonzeros,
    lp_bytes,
    root_bytes,
    stage_refusal,
    windows_bytes,
)
from lpsched.models.combinatorial import (
    area_bound,
    combined_bound,
    decode_bound,
    fractional_bound,
    mean_busy_bound,
)
from lpsched.models.guard import DEFAULT_MAX_MODEL_BYTES
from lpsched.models.names import BOUND_METHODS
from lpsched.models.release_bounds import release_busy_bound
from lpsched.models.tails import tail_bound
from lpsched.models.windows import Windows, start_windows
from lpsched.stop import Deadline

__all__ = ["Bound", "METHODS", "SOURCES", "bucket_bound", "lower_bound"]

METHODS = BOUND_METHODS


@dataclass(frozen=True)
class Bound:
    """A proven lower bound ``value`` on the optimal total completion time.

    ``method`` says which bound produced it; ``details`` holds the components
    (e.g. the raw LP value, bucket width, solve time).
    """

    value: int
    method: str
    runtime: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"lower_bound": self.value, "method": self.method,
                "runtime_s": round(self.runtime, 4), **self.details}


def _area_in(s: int, o: int, k: np.ndarray, lo_step: np.ndarray, hi_step: np.ndarray) -> np.ndarray:
    """``E(k, [lo_step, hi_step])`` for a request with prefill ``s``, decode ``o`` (vectorised)."""
    lo = np.maximum(k + 1, lo_step)
    hi = np.minimum(k + o, hi_step)
    cnt = np.maximum(hi - lo + 1, 0)
    return cnt * (s - k) + (lo + hi) * cnt // 2


def bucket_bound(instance: Instance, *, width: int | None = None, windows: Windows | None = None,
                 max_columns: int = 30_000, time_limit: float | None = None,
                 threads: int = 1, max_levels: int = 12,
                 max_bytes: float = DEFAULT_MAX_MODEL_BYTES) -> Bound:
    """The interval-indexed relaxation bound (see module docstring).

    ``width`` defaults to the smallest bucket width giving at most ``max_columns``
    columns. A model estimated above ``max_bytes`` (:func:`bucket_nonzeros`) is not
    built. Whenever the LP is not solved to optimality (refused, time limit) the value
    is the combined bound and ``details["source"]`` says so.
    """
    t0 = time.perf_counter()
    w = windows if windows is not None else start_windows(instance)
    s, o, a = instance.prefill, instance.decode, instance.arrival
    n, M = instance.n, instance.memory
    total_starts = int(w.sizes.sum())
    if width is None:
        width = max(1, math.ceil(total_starts / max_columns))
    width = int(width)
    if width < 1:
        raise ValueError(f"bucket width must be >= 1, got {width}")
    costs, rows, cols, vals, req = [], [], [], [], []
    col = 0
    levels = [width]
    while levels[-1] * 2 <= max(width, w.horizon) and len(levels) < max_levels:
        levels.append(levels[-1] * 2)
    refused = stage_refusal("bucket LP", BUCKET_BYTES_PER_NONZERO
                            * bucket_nonzeros(instance, w, width, levels), max_bytes)
    if refused:
        return Bound(combined_bound(instance), "bucket", time.perf_counter() - t0,
                     {"width": width, "levels": len(levels), "lp_status": "refused",
                      "refused": refused, "source": "combined"})
    for i in range(n):
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            # the build alone used the budget (long requests, coarse buckets): still valid
            return Bound(combined_bound(instance), "bucket", time.perf_counter() - t0,
                         {"width": width, "levels": len(levels), "lp_status": "time_limit",
                          "built_requests": i, "source": "combined"})
        si, oi, ai = int(s[i]), int(o[i]), int(a[i])
        e_i, u_i = int(w.earliest[i]), int(w.latest[i])
        bs = np.arange(e_i // width, u_i // width + 1)
        kl = np.maximum(bs * width, e_i)
        kh = np.minimum(bs * width + width - 1, u_i)
        nb = bs.size
        cols_i = col + np.arange(nb)
        costs.append(kl + oi - ai)
        req.append(np.full(nb, i))
        # Rows: dyadic step windows S = [c*W+1, c*W+W], W = width * 2^l, every level l;
        # bucket b touches steps kl+1 .. kh+oi. E_i(k, S) is unimodal in k (module
        # docstring), so its minimum over the bucket's starts is at kl or kh.
        for lev, W in enumerate(levels):
            c_first = kl // W
            c_last = (kh + oi - 1) // W
            span = int((c_last - c_first).max()) + 1
            cs = c_first[:, None] + np.arange(span)[None, :]  # (nb, span)
            valid = cs <= c_last[:, None]
            lo, hi = cs * W + 1, cs * W + W
            e = np.minimum(_area_in(si, oi, kl[:, None], lo, hi),
                           _area_in(si, oi, kh[:, None], lo, hi))  # (nb, span)
            keep = valid & (e > 0)
            rows.append(cs[keep] * len(levels) + lev)
            cols.append(np.broadcast_to(cols_i[:, None], cs.shape)[keep])
            vals.append(e[keep])
        col += nb
    ncols = col
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    v = np.concatenate(vals).astype(float)
    used = np.unique(r)
    rmap = np.searchsorted(used, r)
    A_mem = sp.csr_matrix((v, (rmap, c)), shape=(used.size, ncols))
    A_eq = sp.csr_matrix((np.ones(ncols), (np.concatenate(req), np.arange(ncols))),
                         shape=(n, ncols))
    A = sp.vstack([A_eq, A_mem]).tocsr()
    details: dict[str, Any] = {"width": width, "levels": len(levels), "columns": ncols}
    if time_limit is not None:
        left = time_limit - (time.perf_counter() - t0)
        if left <= 0:
            details.update(lp_status="time_limit", source="combined")
            return Bound(combined_bound(instance), "bucket", time.perf_counter() - t0, details)
    h = new_highs()
    h.setOptionValue("threads", int(threads))
    if time_limit is not None:
        h.setOptionValue("time_limit", float(left))
        enforce_deadline(h, Deadline(float(left)))
    inf = highspy.kHighsInf
    h.addVars(ncols, np.zeros(ncols), np.full(ncols, inf))
    h.changeColsCost(ncols, np.arange(ncols, dtype=np.int32),
                     np.concatenate(costs).astype(float))
    m = used.size
    cap = np.array([levels[int(u) % len(levels)] * M for u in used], dtype=float)
    h.addRows(n + m, np.concatenate([np.ones(n), np.full(m, -inf)]),
              np.concatenate([np.ones(n), cap]), A.nnz,
              A.indptr[:-1].astype(np.int32), A.indices.astype(np.int32), A.data)
    run_highs(h)
    details["rows"] = n + m
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        # not solved to optimality: fall back to the combinatorial bound (still valid)
        st = h.getModelStatus()
        details["lp_status"] = ("time_limit" if st in (highspy.HighsModelStatus.kTimeLimit,
                                                       highspy.HighsModelStatus.kInterrupt)
                                else h.modelStatusToString(st))
        details["source"] = "combined"
        return Bound(combined_bound(instance), "bucket", time.perf_counter() - t0, details)
    value = float(h.getInfo().objective_function_value)
    details.update(lp_value=value, source="bucket")
    return Bound(int(math.ceil(value - 1e-6)), "bucket", time.perf_counter() - t0, details)


#: Components of a bound, simplest first: ``details["source"]`` is the first of them whose
#: value is the bound (when several reach it, the simplest argument is named).
SOURCES = ("decode", "area", "combined", "tail", "mean_busy", "release_busy", "bnb_root",
           "partition", "bucket", "lazy_lp", "lp", "config")

Progress = Callable[[str], None]


def _source(value: int, candidates: dict[str, int]) -> str:
    """The name of the component whose value is ``value`` (see :data:`SOURCES`)."""
    for name in SOURCES:
        if candidates.get(name) == value:
            return name
    return max(candidates, key=lambda k: candidates[k])


#: Element operations per second assumed when a cheap bound is sized against the time left
#: (numpy on the shared 2-core benchmark machine under load, conservatively).
OPS_PER_SECOND = 3e7


def _cheap_parts(instance: Instance, max_bytes: float, note: Progress, refusals: list[str],
                 left: Callable[[], float | None]) -> dict[str, int]:
    """The combinatorial bounds (``O(n log n)`` to ``O(n d)`` each; the root bound of the
    branch-and-bound only for ``n <=`` :data:`ROOT_BOUND_MAX_N` and under the memory guard).
    The ``O(n d)`` tail bound and the release-date bound are sized against the time
    ``left()`` first (:data:`OPS_PER_SECOND`) and skipped, with a reason, when they would
    not fit."""
    note("combinatorial bounds")
    parts = {"decode": decode_bound(instance), "area": area_bound(instance),
             "combined": combined_bound(instance), "tail": 0,
             "mean_busy": fractional_bound(mean_busy_bound(instance)), "bnb_root": 0}

    def fits(ops: float, what: str) -> bool:
        budget = left()
        if budget is None or ops <= OPS_PER_SECOND * budget:
            return True
        refusals.append(f"{what} skipped: about {ops / OPS_PER_SECOND:.1f} s of work, "
                        f"{max(budget, 0.0):.1f} s left")
        return False

    if fits(float(instance.n) * np.unique(instance.peak).size, "tail bound"):
        parts["tail"] = tail_bound(instance)
    if not instance.offline and fits(3e7, "release-date bound"):  # its work budgets
        # offline, the discrete-step mean_busy is the stronger form
        parts["release_busy"] = fractional_bound(release_busy_bound(instance))
    if instance.n <= ROOT_BOUND_MAX_N:
        refused = stage_refusal("branch-and-bound root bound", root_bytes(instance), max_bytes)
        if refused:
            refusals.append(refused)
        else:
            parts["bnb_root"] = root_bound(instance)
    return parts


def _finish(method: str, t0: float, candidates: dict[str, int], details: dict[str, Any],
            refusals: list[str]) -> Bound:
    """The bound: the largest candidate, named in ``details["source"]`` (and ``best_of``)."""
    value = max(candidates.values())
    details["source"] = _source(value, candidates)
    if method == "best":
        details["best_of"] = details["source"]
    if refusals:
        details["refused"] = "; ".join(refusals)
    return Bound(value, method, time.perf_counter() - t0, details)


def lower_bound(instance: Instance, method: str = "best", *, max_columns: int = 150_000,
                bucket_columns: int = 30_000, max_nonzeros: int = 5_000_000,
                time_limit: float | None = None, threads: int = 1,
                bucket_width: int | None = None, lp_cuts: bool | None = None,
                max_bytes: float = DEFAULT_MAX_MODEL_BYTES,
                progress: Progress | None = None) -> Bound:
    """A proven lower bound on the optimal ``sum_i (c_i - a_i)`` of ``instance``.

    See the module docstring for the methods. ``max_columns`` caps the
    time-indexed LP size for ``"best"`` (above it, or above ``max_nonzeros``
    memory-row non-zeros ``sum_i |window_i| o_i``, the bucket relaxation is used);
    ``bucket_columns`` is the target size of the bucket LP (it sets the width).
    ``time_limit`` (seconds) caps the whole call: an LP stopped by it falls back to
    the combinatorial bound, with ``details["lp_status"] == "time_limit"``.
    ``method="lp"`` refuses models above ``10 * max_nonzeros`` non-zeros.

    Every stage estimates its memory first (:mod:`lpsched.models.bound_sizes`); one
    above ``max_bytes`` (default 2 GB) is skipped and ``details["refused"]`` gives the
    one-line reason. ``details["source"]`` names the component whose value is returned
    (``"area"``, ``"mean_busy"``, ``"lp"``, ``"bucket"``, ...; :data:`SOURCES`);
    ``details["lp_bound"]`` is the rounded LP (or bucket LP) bound when it was solved.
    ``progress``, if given, is called with the name of each stage as it starts.

    Example
    -------
    >>> from lpsched.instance import Instance, Request
    >>> inst = Instance(6, [Request("a", 1, 2), Request("b", 1, 2)])
    >>> lower_bound(inst, "combinatorial").value
    4
    """
    if method not in METHODS:
        raise ValueError(f"unknown bound method {method!r}; choose one of {', '.join(METHODS)}")
    if instance.block_size > 1:
        # b ceil(x / b) >= x: every paged schedule is feasible without blocks, so a bound of
        # the unpaged instance is a bound of the paged one (formulations/bounds.md)
        inner = lower_bound(instance.replace(block_size=1), method, max_columns=max_columns,
                            bucket_columns=bucket_columns, max_nonzeros=max_nonzeros,
                            time_limit=time_limit, threads=threads, bucket_width=bucket_width,
                            lp_cuts=lp_cuts, max_bytes=max_bytes, progress=progress)
        return dataclasses.replace(inner, details={**inner.details,
                                                   "relaxed_block_size": instance.block_size})
    t0 = time.perf_counter()
    note: Progress = progress if progress is not None else (lambda stage: None)
    refusals: list[str] = []

    def left() -> float | None:
        return None if time_limit is None else time_limit - (time.perf_counter() - t0)

    parts = _cheap_parts(instance, max_bytes, note, refusals, left)
    cheap = {k: v for k, v in parts.items()}
    if method == "combinatorial":
        return _finish(method, t0, cheap, dict(parts), refusals)

    if method == "best" and not instance.offline:
        partition_stage(instance, parts, cheap, note, time_limit, t0,
                        lambda sub, tl: lower_bound(sub, "best", time_limit=tl, threads=threads,
                                                    max_bytes=max_bytes))
    refused = stage_refusal("start windows (serial schedules)", windows_bytes(instance),
                            max_bytes)
    if refused:
        return _finish(method, t0, cheap, {**parts, "lp_status": "refused"}, refusals + [refused])
    note("start windows (serial schedules)")
    # the serial schedules behind the windows are bounded by the time limit too (on a
    # 10,000-request backlog they take minutes); cut short, the windows are only wider
    budget = left()
    w = start_windows(instance, deadline=None if budget is None else Deadline(max(1e-9, budget)))
    nnz = int((w.sizes.astype(float) * instance.decode).sum())
    parts["lp_nonzeros"] = nnz
    budget = left()
    if budget is not None and budget <= 0:
        return _finish(method, t0, cheap, {**parts, "lp_status": "time_limit"}, refusals)
    if method in ("lp", "config") and nnz > 10 * max_nonzeros:
        raise ValueError(f"{instance.name}: the time-indexed LP would have {nnz} non-zeros "
                         f"(limit {10 * max_nonzeros}); use method 'bucket' or 'best'")
    if method == "config":
        return _config(instance, w, t0, left(), threads, parts, cheap, refusals, note,
                       max_bytes)
    use_lp = method == "lp" or (int(w.sizes.sum()) <= max_columns and nnz <= max_nonzeros)
    if use_lp:
        refused = stage_refusal("LP relaxation", lp_bytes(instance, w), max_bytes)
        if refused:
            return _finish(method, t0, cheap, {**parts, "lp_status": "refused"},
                           refusals + [refused])
        from lpsched.models.lp_relaxation import solve_lp_relaxation

        note(f"LP relaxation ({int(w.sizes.sum())} columns)")
        # tail cuts make the LP markedly stronger but slower to re-solve: small LPs only
        cuts = lp_cuts if lp_cuts is not None else int(w.sizes.sum()) <= 20_000
        lp = solve_lp_relaxation(instance, windows=w, time_limit=left(), threads=threads,
                                 cuts=cuts)
        details = {**parts, "lp_value": lp.value, "lp_status": lp.status, "columns": lp.ncols,
                   "lp_cuts": len(lp.cut_rows)}
        solved = {"lp": int(lp.bound)} if lp.bound is not None else {}
        details.update({"lp_bound": int(lp.bound)} if lp.bound is not None else {})
    elif method == "best" and not instance.offline and lazy_fits(instance, w):
        solved, details = lazy_stage(instance, w, t0, time_limit, threads, parts, note)
    else:
        note("bucket LP")
        b = bucket_bound(instance, width=bucket_width, windows=w, max_columns=bucket_columns,
                         time_limit=left(), threads=threads, max_bytes=max_bytes)
        details = {**parts, **b.details}
        details.pop("source", None)
        if "refused" in b.details:
            refusals.append(str(details.pop("refused")))
        solved = {"bucket": b.value} if b.details.get("source") == "bucket" else {}
        details.update({"lp_bound": b.value} if solved else {})
    if method in ("lp", "bucket") and solved:
        return _finish(method, t0, solved, details, refusals)
    return _finish(method, t0, {**cheap, **solved}, details, refusals)


def _config(instance: Instance, w: Windows, t0: float, budget: float | None, threads: int,
            parts: dict[str, Any], cheap: dict[str, int], refusals: list[str],
            note: Progress, max_bytes: float) -> Bound:
    """``method="config"``: the LP with tail and lifetime-configuration cuts
    (:mod:`lpsched.models.colgen`), never below the combinatorial bounds."""
    from lpsched.models.colgen import configuration_bound

    refused = stage_refusal("configuration LP", lp_bytes(instance, w), max_bytes)
    if refused:
        return _finish("config", t0, cheap, {**parts, "lp_status": "refused"},
                       refusals + [refused])
    note("configuration-cut LP")
    cb = configuration_bound(instance, windows=w, deadline=budget, threads=threads)
    solved = {"config": int(cb.bound)} if cb.bound is not None else {}
    return _finish("config", t0, {**cheap, **solved},
                   {**parts, "lp_value": cb.value, "lp_tails": cb.lp_tails,
                    "lp_status": cb.status, "rounds": cb.rounds, "config_cuts": cb.config_cuts,
                    "tail_cuts": cb.tail_cuts, "skipped_steps": cb.skipped_steps,
                    "lp_solves": cb.lp_solves}, refusals)
