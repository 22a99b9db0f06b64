"""``lpsched info TRACE.csv`` without ``--memory``: what a trace says before a budget is chosen.

A trace CSV has no KV budget ``M``, so it is not yet an instance; its lengths and
arrival times can still be summarised (read with
:func:`lpsched.traces.read_trace_columns`, the reader of every trace): prefill
``s``, decode ``o``, the peak ``s + o`` of each request (the smallest budget under
which the request fits is the largest of these), arrival times in seconds and the
steps they map to (``floor((t - t_first) / step_seconds)``, as
:func:`lpsched.instance.read_trace` maps them). The figures that need ``M`` (the
instance's name and budget, whether every request fits, paged memory) are listed
under ``needs_memory``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from lpsched.instance import DEFAULT_STEP_SECONDS
from lpsched.traces import read_trace_columns

__all__ = ["print_trace_info", "trace_info"]

#: What ``lpsched info`` shows only with ``--memory M``.
NEEDS_MEMORY = ("the KV budget M and whether every request fits (s + o <= M)",
                "paged memory with --block-size",
                "the instance summary (sum of memory areas, metadata) and every solver")


def _stats(x: np.ndarray) -> dict[str, float]:
    return {"min": float(x.min()) if x.dtype.kind == "f" else int(x.min()),
            "mean": float(x.mean()), "p50": float(np.median(x)),
            "max": float(x.max()) if x.dtype.kind == "f" else int(x.max())}


def trace_info(path: str | os.PathLike[str], *, step_seconds: float | None = None,
               limit: int | None = None, offline: bool = False) -> dict[str, Any]:
    """Summary of a trace CSV's lengths and arrivals (module docstring)."""
    step = DEFAULT_STEP_SECONDS if step_seconds is None else float(step_seconds)
    if not step > 0:
        raise ValueError(f"--step-seconds must be > 0, got {step_seconds}")
    cols = read_trace_columns(path, limit=limit, times=not offline)
    s, o = cols.prefill, cols.decode
    peak = s + o
    out: dict[str, Any] = {
        "source": cols.source, "layout": cols.layout, "n": cols.n, "memory": None,
        "prefill": _stats(s), "decode": _stats(o), "peak": _stats(peak),
        "sum_decode": int(o.sum()), "smallest_memory": int(peak.max()),
        "offline": cols.times is None,
    }
    if cols.times is not None:
        t = cols.times - cols.times.min()
        steps = np.floor(t / step).astype(np.int64)
        gaps = np.diff(np.sort(t))
        out["arrival_seconds"] = _stats(t)
        out["arrival_steps"] = {**_stats(steps), "step_seconds": step}
        out["span_seconds"] = float(t.max())
        out["rate_per_second"] = float(cols.n / t.max()) if t.max() > 0 else None
        out["mean_interarrival_seconds"] = float(gaps.mean()) if gaps.size else None
    out["needs_memory"] = list(NEEDS_MEMORY)
    return out


def print_trace_info(info: dict[str, Any]) -> None:
    """The text form of :func:`trace_info` (``lpsched info``)."""
    from lpsched.cli import format_table

    print(f"trace     {info['source']} ({info['layout']} layout)")
    print(f"requests  {info['n']}    memory M: not given (--memory M)    "
          f"{'offline (no arrival times used)' if info['offline'] else 'online (arrivals)'}")
    rows = [{"field": k, **info[k]} for k in ("prefill", "decode", "peak")]
    if not info["offline"]:
        rows.append({"field": "arrival_s", **info["arrival_seconds"]})
        rows.append({"field": "arrival", **info["arrival_steps"]})
    print(format_table(rows, ["field", "min", "mean", "p50", "max"]))
    print(f"sum decode {info['sum_decode']}   smallest M that fits every request "
          f"{info['smallest_memory']} (largest s+o)")
    if not info["offline"]:
        rate = info["rate_per_second"]
        print(f"arrivals over {info['span_seconds']:.1f} s"
              + (f", {rate:.2f} requests/s" if rate else "")
              + f"; steps of {info['arrival_steps']['step_seconds']:g} s (--step-seconds)")
    print("needs --memory M: " + "; ".join(info["needs_memory"]))
