"""The summary of vLLM's serving benchmark, computed from a replay timeline.

Definitions and key names follow vLLM's ``benchmarks/benchmark_serving.py``
(``calculate_metrics`` and the result dictionary; vllm-project/vllm, 2025):

* ``duration``: seconds from the first arrival to the last completion;
* ``completed``, ``total_input_tokens`` (sum of ``s``), ``total_output_tokens`` (sum of ``o``);
* ``request_throughput = completed / duration``, ``output_throughput =
  total_output_tokens / duration``, ``total_token_throughput`` (input + output per second);
* per request: TTFT (arrival to first token), E2EL (arrival to last token), TPOT
  ``(E2EL - TTFT) / (o - 1)`` over the requests with ``o > 1``; ITL, the gaps between
  consecutive tokens, pooled over all requests;
* for each of ``ttft, tpot, itl, e2el``: ``mean_<m>_ms``, ``median_<m>_ms``,
  ``std_<m>_ms`` and ``p99_<m>_ms`` (milliseconds; ``numpy.percentile``, linear, as vLLM).

Keys of our own (not in vLLM's result): ``preemptions`` (the simulator's preemptions:
memory guard or the policy's own rule, e.g. ``vllm``), ``resumes`` and
``recomputed_tokens`` (the KV cache rebuilt at resumes), and the replay's
settings (``algorithm``, ``gpu``, ``model``, ``tensor_parallel``, ``memory``, ...).
"""

from __future__ import annotations

import numpy as np

from lpsched.instance import Instance
from lpsched.serving.timeline import Timeline

__all__ = ["METRICS", "serving_metrics", "format_summary"]

#: The latency metrics, with vLLM's printed names.
METRICS = (("ttft", "TTFT", "Time to First Token"),
           ("tpot", "TPOT", "Time per Output Token (excl. 1st token)"),
           ("itl", "ITL", "Inter-token Latency"),
           ("e2el", "E2EL", "End-to-end Latency"))


def _stats(name: str, values: np.ndarray) -> dict[str, float]:
    v = np.asarray(values, dtype=float) * 1e3
    if v.size == 0:
        v = np.zeros(1)  # vLLM: np.mean(x or 0)
    return {f"mean_{name}_ms": float(v.mean()), f"median_{name}_ms": float(np.median(v)),
            f"std_{name}_ms": float(v.std()), f"p99_{name}_ms": float(np.percentile(v, 99))}


def serving_metrics(instance: Instance, tl: Timeline) -> dict[str, float | int]:
    """vLLM's serving-benchmark figures of one replay (module docstring)."""
    o = instance.decode
    end = tl.arrival + tl.e2el
    duration = float(end.max() - tl.arrival.min())
    n_in, n_out = int(instance.prefill.sum()), int(o.sum())
    multi = o > 1
    tpot = (tl.e2el[multi] - tl.ttft[multi]) / (o[multi] - 1)
    out: dict[str, float | int] = {
        "duration": duration, "completed": int(instance.n), "total_input_tokens": n_in,
        "total_output_tokens": n_out,
        "request_throughput": instance.n / duration if duration > 0 else float("inf"),
        "output_throughput": n_out / duration if duration > 0 else float("inf"),
        "total_token_throughput": (n_in + n_out) / duration if duration > 0 else float("inf"),
    }
    for name, values in (("ttft", tl.ttft), ("tpot", tpot), ("itl", tl.itl),
                         ("e2el", tl.e2el)):
        out.update(_stats(name, values))
    return out


def format_summary(m: dict) -> str:
    """The text block vLLM prints (``Serving Benchmark Result``), plus preemptions."""
    def row(label: str, value, fmt: str = "{:<10.2f}") -> str:
        return f"{label:<40} " + fmt.format(value)

    lines = ["{s:{c}^{n}}".format(s=" Serving Benchmark Result ", n=50, c="="),
             row("Successful requests:", m["completed"], "{:<10}"),
             row("Benchmark duration (s):", m["duration"]),
             row("Total input tokens:", m["total_input_tokens"], "{:<10}"),
             row("Total generated tokens:", m["total_output_tokens"], "{:<10}"),
             row("Request throughput (req/s):", m["request_throughput"]),
             row("Output token throughput (tok/s):", m["output_throughput"]),
             row("Total Token throughput (tok/s):", m["total_token_throughput"])]
    for key, short, header in METRICS:
        lines.append("{s:{c}^{n}}".format(s=header, n=50, c="-"))
        lines.append(row(f"Mean {short} (ms):", m[f"mean_{key}_ms"]))
        lines.append(row(f"Median {short} (ms):", m[f"median_{key}_ms"]))
        lines.append(row(f"P99 {short} (ms):", m[f"p99_{key}_ms"]))
    lines.append("{s:{c}^{n}}".format(s="Scheduler", n=50, c="-"))
    lines.append(row("Preemptions:", m.get("preemptions", 0), "{:<10}"))
    lines.append("=" * 50)
    return "\n".join(lines)
