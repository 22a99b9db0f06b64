"""Figures: a schedule's memory over time, algorithms' gaps over a set, AFD sweeps.

``matplotlib`` is an optional extra (``pip install 'lpsched[plot]'``); it is
imported only when a figure is drawn, with the non-interactive ``Agg`` backend.
Every function writes a PNG or SVG file (chosen by the suffix of ``path``) atomically
(:func:`lpsched.paths.atomic_output`: a failed write leaves ``path`` as it was) and
returns the path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lpsched.check import check, memory_profile
from lpsched.instance import Instance
from lpsched.schedule import Schedule, as_schedule

__all__ = ["plot_afd_sweep", "plot_gaps", "plot_memory"]

_SUFFIXES = (".png", ".svg")


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ValueError("plots need matplotlib: pip install 'lpsched[plot]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _out(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if p.suffix.lower() not in _SUFFIXES:
        raise ValueError(f"{p}: plot files must end in .png or .svg")
    return p


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    from lpsched.paths import atomic_output

    try:
        fig.tight_layout()
        with atomic_output(path, what="plot") as tmp:  # the suffix is kept: same format
            fig.savefig(tmp, dpi=130)
    finally:
        plt.close(fig)
    return path


def plot_memory(instance: Instance, schedule: Schedule | Sequence[int] | np.ndarray,
                path: str | os.PathLike[str], *, title: str | None = None,
                max_bars: int = 400) -> Path:
    """KV memory per step with the budget line (top) and one bar per request (bottom).

    The top panel is ``m(t)`` from :func:`lpsched.check.memory_profile` with the
    budget ``M`` dashed; the bottom panel draws request ``i`` as a bar over its
    running steps ``p_i+1 .. c_i``, drawn over ``(p_i, c_i]`` since step ``t`` covers
    ``(t-1, t]`` on the time axis (at most ``max_bars`` requests, by start); a
    preempted request gets one (orange) bar per segment of its runs.
    """
    path = _out(path)
    plt = _pyplot()
    sched = as_schedule(instance, schedule)
    rep = check(instance, sched)
    steps, mem = memory_profile(instance, sched)
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(9, 6), sharex=True,
                                 gridspec_kw={"height_ratios": [2, 1.4]})
    # step t occupies the interval (t-1, t]: draw each value over its interval
    x = np.concatenate(([steps[0] - 1], steps))
    y = np.concatenate(([mem[0]], mem))
    ax.fill_between(x, y, step="pre", alpha=0.35, color="tab:blue")
    ax.step(x, y, where="pre", color="tab:blue", lw=1.2, label="KV memory in use")
    ax.axhline(instance.memory, color="tab:red", ls="--", lw=1.5,
               label=f"budget M = {instance.memory}")
    ax.set_ylabel("KV cache (tokens)")
    ax.set_ylim(0, instance.memory * 1.12)
    ax.legend(loc="upper right", fontsize=8)
    status = "feasible" if rep.feasible else f"INFEASIBLE ({rep.reason()})"
    ax.set_title(title or f"{instance.name}: n={instance.n}, objective {rep.objective}, "
                          f"makespan {rep.makespan}, peak {rep.peak_memory}/{instance.memory}, "
                          f"{status}", fontsize=10)
    order = sched.order()[:max_bars]
    p = sched.starts[order]
    o = instance.decode[order]
    a = instance.arrival[order]
    ys = np.arange(order.size)
    if np.any(a < p):
        bx.hlines(ys, a, p, color="0.75", lw=1, label="waiting (arrival to start)")
    runs = sched.runs
    plain = np.array([int(k) not in runs for k in order], dtype=bool)
    bx.barh(ys[plain], o[plain], left=p[plain], height=0.8, color="tab:green", alpha=0.8,
            label="running (decode steps)")
    for j, (y, k) in enumerate(zip(ys[~plain], order[~plain])):  # one bar per segment
        segs = runs[int(k)]
        bx.barh([y] * len(segs), [d for _, d in segs], left=[q for q, _ in segs], height=0.8,
                color="tab:orange", alpha=0.8,
                label=None if j else "preempted and resumed (segments)")
    bx.set_ylabel("request (by start)")
    bx.set_xlabel("decode step")
    bx.invert_yaxis()
    if order.size < instance.n:
        bx.set_title(f"first {order.size} of {instance.n} requests by start", fontsize=8)
    bx.legend(loc="best", fontsize=8, framealpha=0.9)
    return _save(fig, path)


_METRICS = {
    "gap_pct": ("gap to lower bound (%) = 100 (obj - LB) / obj", "Gap to the best lower bound"),
    "vs_best_pct": ("above best known (%) = 100 (obj - best) / best",
                    "Excess over the best known objective"),
}


def plot_gaps(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], *,
              metric: str = "gap_pct", title: str | None = None) -> Path:
    """Gap to the lower bound (%) of each algorithm over an instance set.

    ``rows`` are bench rows (``instance``, ``algorithm``, ``gap_pct``,
    ``vs_best_pct``, ``status``); ``metric`` picks ``"gap_pct"`` (default) or
    ``"vs_best_pct"`` (excess over the best known objective).
    Up to 16 instances: grouped bars per instance; more: one box per algorithm
    with the instances as dots. Errors and rows without a bound are left out
    and counted in the legend.
    """
    path = _out(path)
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {sorted(_METRICS)}, got {metric!r}")
    ylabel, default_title = _METRICS[metric]
    plt = _pyplot()
    algos = list(dict.fromkeys(str(r["algorithm"]) for r in rows))
    insts = list(dict.fromkeys(str(r["instance"]) for r in rows))
    if not algos:
        raise ValueError("no rows to plot")
    gap = {(str(r["instance"]), str(r["algorithm"])): r.get(metric) for r in rows}
    missing = {a: sum(gap.get((i, a)) is None for i in insts) for a in algos}
    width = min(13.0, max(6.0, 0.25 * len(insts) * len(algos) + 3)) if len(insts) <= 16 else 8.0
    fig, ax = plt.subplots(figsize=(width, 4.8))
    if len(insts) <= 16:
        w = 0.8 / len(algos)
        x = np.arange(len(insts))
        for k, a in enumerate(algos):
            vals = [gap.get((i, a)) for i in insts]
            ax.bar(x + (k - (len(algos) - 1) / 2) * w,
                   [np.nan if v is None else float(v) for v in vals], w,
                   label=a + (f" ({missing[a]} without gap)" if missing[a] else ""))
        ax.set_xticks(x)
        ax.set_xticklabels(insts, rotation=45, ha="right", fontsize=8)
        ax.set_xlabel("instance")
        ax.legend(fontsize=8)
    else:
        data = [[float(v) for i in insts if (v := gap.get((i, a))) is not None] for a in algos]
        ax.boxplot([d if d else [np.nan] for d in data], showfliers=False)
        rng = np.random.default_rng(0)
        for k, d in enumerate(data):
            ax.plot(k + 1 + rng.uniform(-0.15, 0.15, len(d)), d, "o", ms=3, alpha=0.6)
        ax.set_xticks(np.arange(1, len(algos) + 1))
        ax.set_xticklabels([a + (f"\n({missing[a]} w/o gap)" if missing[a] else "")
                            for a in algos], fontsize=8)
        ax.set_xlabel("algorithm")
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{default_title}: {len(insts)} instances, {len(algos)} algorithms",
                 fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def plot_afd_sweep(points: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], *,
                   r_best: float | None = None, title: str | None = None) -> Path:
    """AFD throughput per instance and idle fractions against the ratio ``r``.

    ``points``: dicts with ``r``, ``throughput_per_instance`` (tokens/s per
    device), ``idle_attention`` and ``idle_ffn`` (fractions 0..1), as in the
    ``results`` of ``lpsched afd sweep --json``. ``r_best`` (default: the ``r``
    of the largest throughput) is marked.
    """
    path = _out(path)
    plt = _pyplot()
    if not points:
        raise ValueError("no AFD sweep points to plot")
    for k, p in enumerate(points):
        for key in ("r", "throughput_per_instance", "idle_attention", "idle_ffn"):
            if key not in p:
                raise ValueError(f"AFD point #{k} has no {key!r} field")
    pts = sorted(points, key=lambda p: float(p["r"]))
    r = np.array([float(p["r"]) for p in pts])
    thr = np.array([float(p["throughput_per_instance"]) for p in pts])
    ia = np.array([float(p["idle_attention"]) for p in pts])
    ifn = np.array([float(p["idle_ffn"]) for p in pts])
    if r_best is None:
        r_best = float(r[int(np.argmax(thr))])
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(r, thr, "o-", color="tab:blue", label="throughput per instance")
    ax.axvline(r_best, color="tab:blue", ls=":", lw=1.2, label=f"best r = {r_best:g}")
    ax.set_xlabel("attention instances per FFN instance, r")
    ax.set_ylabel("throughput per instance (tokens/s)")
    bx = ax.twinx()
    bx.plot(r, 100 * ia, "s--", color="tab:orange", label="attention idle")
    bx.plot(r, 100 * ifn, "^--", color="tab:green", label="FFN idle")
    bx.set_ylabel("idle time (% of step time)")
    bx.set_ylim(0, 100)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = bx.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="best", fontsize=8)
    ax.set_title(title or "rA-1F sweep: throughput and idle time against r", fontsize=10)
    ax.grid(alpha=0.3)
    return _save(fig, path)
