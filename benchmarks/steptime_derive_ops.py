"""Derive the per-op step costs shipped in ``lpsched/afd/data/ops_vidur_h100.json``.

Input: a checkout of the Vidur project (microsoft/vidur, MIT licence), read from
``VIDUR/data/profiling/``:

* ``compute/h100/<model>/mlp.csv`` of the Llama-shaped models (Llama-2-70B, Llama-2-7B,
  CodeLlama-34B: RMSNorm, SiLU-and-mul, GQA or MHA rotary embedding) -> one roofline
  ``t = max(b, a x)`` per elementwise op, ``x`` the elements it touches per GPU:

  - ``rmsnorm``  ``x = R d_model`` (the ``input_layernorm`` and ``post_attention_layernorm``
    columns pooled: the same kernel);
  - ``rope``     ``x = R (heads + kv_heads) head_dim / N`` (queries and keys of the GPU);
  - ``add``      ``x = R d_model`` (one residual add);
  - ``act``      ``x = R d_ff / N`` (SiLU-and-mul output elements);

* ``network/h100_dgx/all_reduce.csv`` (NCCL all-reduce kernel times by message size,
  ``num_workers`` = 2, 4, 8 in one node) -> per ``N`` a two-regime fit on the mean time
  of each octave of message size (the expected cost of a call; the times are bimodal):
  messages of at most ``small_max_bytes`` cost ``small_ms``,
  larger ones ``max(floor_ms, latency_ms + bytes / bandwidth)`` with ``floor_ms >=
  small_ms`` (the time never falls as the message grows); the split is the one that
  minimises the total squared relative error.

Every fit minimises the squared *relative* error on the medians (each point counts the
same whatever its size), as :mod:`lpsched.afd.calibration` does. Only the fitted figures
are written; Vidur's tables are never copied.

    python benchmarks/steptime_derive_ops.py --vidur /path/to/vidur
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lpsched.afd.calibration import fit_roofline_1d  # noqa: E402

OUT = ROOT / "lpsched" / "afd" / "data" / "ops_vidur_h100.json"
#: Llama-shaped H100 profiles of Vidur (RMSNorm, gated SiLU MLP, rotary embedding).
MODELS = ("meta-llama/Llama-2-70b-hf", "meta-llama/Llama-2-7b-hf",
          "codellama/CodeLlama-34b-Instruct-hf")
#: Vidur's default ``nccl_cpu_launch_overhead_ms`` (vidur/config/config.py,
#: ``BaseExecutionTimePredictorConfig``): host launch cost added to every all-reduce.
NCCL_LAUNCH_MS = 0.02


def _elements(op: str, r: dict) -> float:
    t, n = float(r["num_tokens"]), float(r["num_tensor_parallel_workers"])
    d, h, kv = float(r["n_embd"]), float(r["n_head"]), float(r["n_kv_head"])
    return {"rmsnorm": t * d, "add": t * d, "rope": t * (h + kv) * (d / h) / n,
            "act": t * float(r["n_expanded_embd"]) / n}[op]


_COLUMNS = {"rmsnorm": ("input_layernorm", "post_attention_layernorm"), "add": ("add",),
            "rope": ("attn_rope",), "act": ("mlp_act",)}
_UNITS = {"rmsnorm": "R d_model", "add": "R d_model", "rope": "R (heads + kv_heads) head_dim / N",
          "act": "R d_ff / N"}


def _rel(pred: np.ndarray, y: np.ndarray) -> dict:
    rel = np.abs(pred - y) / y
    return {"points": int(y.size), "median_rel_error": float(np.median(rel)),
            "p90_rel_error": float(np.quantile(rel, 0.9)), "max_rel_error": float(rel.max())}


def fit_elementwise(vidur: Path) -> dict:
    rows = []
    for m in MODELS:
        path = vidur / "data" / "profiling" / "compute" / "h100" / m / "mlp.csv"
        rows += list(csv.DictReader(path.open()))
    out = {}
    for op, cols in _COLUMNS.items():
        x = np.array([_elements(op, r) for r in rows for _ in cols])
        y = np.array([float(r[f"time_stats.{c}.median"]) for r in rows for c in cols])
        ok = y > 0
        a, b = fit_roofline_1d(x[ok], y[ok])
        out[op] = {"b_ms": b, "a_ms_per_element": a, "elements": _UNITS[op],
                   **_rel(np.maximum(b, a * x[ok]), y[ok])}
        print(op, json.dumps(out[op]))
    return out


def _large_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``max(floor, lat + slope x)`` (``x`` in MB, sorted) by relative least squares,
    exactly over the split between the points on the floor and those on the line: for each
    split the floor and the line have closed forms; the best under the true ``max`` wins."""
    xm = x / 1e6
    best = None
    for j in range(0, xm.size - 1):
        floor = float(np.sum(1 / y[:j]) / np.sum(1 / y[:j] ** 2)) if j else 0.0
        w = 1.0 / y[j:]
        lat, slope = np.linalg.lstsq(np.column_stack([np.ones(xm.size - j), xm[j:]]) * w[:, None],
                                     y[j:] * w, rcond=None)[0]
        if slope <= 0 or lat < 0:
            continue
        err = float(np.sum(((np.maximum(floor, lat + slope * xm) - y) / y) ** 2))
        if best is None or err < best[0]:
            best = (err, np.array([floor, lat, slope]))
    if best is None:
        raise ValueError("no all-reduce fit with a positive latency and slope")
    return best[1]


def _octave_means(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median size and mean time per octave of message size (``[2^k, 2^(k+1))`` bytes).

    The profiled times are bimodal within an octave (at 2 GPUs and 32 KiB-1 MiB, 18% of
    the sizes take ~0.01 ms, the rest 0.02-0.045 ms, with no order in size). A step
    sums 160 all-reduces, so what adds up is the expected time of a call: the mean over
    the octave, not its median nor a relative fit that follows the low mode."""
    k = np.floor(np.log2(x)).astype(int)
    keys = np.unique(k)
    return (np.array([np.median(x[k == v]) for v in keys]),
            np.array([np.mean(y[k == v]) for v in keys]))


def _two_regime(x: np.ndarray, y: np.ndarray) -> tuple[int, float, np.ndarray, np.ndarray]:
    """Best split ``k`` (the ``k`` smallest points form the small regime)."""
    best = None
    for k in range(0, x.size - 2):
        small = float(np.mean(y[:k])) if k else 0.0
        t = _large_fit(x[k:], y[k:])
        t[0] = max(t[0], small)  # monotone in size: a larger message never costs less
        pred = np.concatenate([np.full(k, small), np.maximum(t[0], t[1] + t[2] * x[k:] / 1e6)])
        err = float(np.sum(((pred - y) / y) ** 2))
        if best is None or err < best[0]:
            best = (err, k, small, t, pred)
    assert best is not None  # x holds at least 3 octaves
    return best[1], best[2], best[3], best[4]


def fit_all_reduce(vidur: Path) -> dict:
    path = vidur / "data" / "profiling" / "network" / "h100_dgx" / "all_reduce.csv"
    rows = [r for r in csv.DictReader(path.open()) if r["collective"] == "all_reduce"]
    out = {}
    for n in sorted({int(r["num_workers"]) for r in rows}):
        sel = [r for r in rows if int(r["num_workers"]) == n]
        x = np.array([float(r["size"]) for r in sel])
        y = np.array([float(r["time_stats.all_reduce.median"]) for r in sel])
        bx, by = _octave_means(x, y)
        k, small, t, pred = _two_regime(bx, by)
        fit = {"small_max_bytes": float(bx[k - 1]) if k else 0.0, "small_ms": small,
               "floor_ms": float(t[0]), "latency_ms": float(t[1]),
               "bandwidth_GBps": float(1.0 / t[2])}
        raw = np.where(x <= fit["small_max_bytes"], small,
                       np.maximum(t[0], t[1] + t[2] * x / 1e6))
        out[str(n)] = {**fit, "size_min_bytes": float(x.min()), "size_max_bytes": float(x.max()),
                       "fitted_on": f"{bx.size} octave means of {x.size} sizes",
                       "octave_fit": _rel(pred, by), "raw_points": _rel(raw, y)}
        print("all_reduce", n, json.dumps(out[str(n)]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vidur", required=True, type=Path,
                    help="root of a Vidur checkout (holds data/profiling/)")
    args = ap.parse_args()
    if not (args.vidur / "data" / "profiling").is_dir():
        ap.error(f"{args.vidur}: no data/profiling/ folder (give the Vidur checkout root)")
    doc = {
        "source": "Vidur project (microsoft/vidur, MIT licence), profiling data "
                  "data/profiling/compute/h100/{" + ",".join(MODELS) + "}/mlp.csv and "
                  "data/profiling/network/h100_dgx/all_reduce.csv; fitted by "
                  "benchmarks/steptime_derive_ops.py; the tables are not shipped",
        "gpu": "NVIDIA H100 (Vidur's h100 compute profiles, h100_dgx network profiles)",
        "elementwise_model": "t_ms = max(b_ms, a_ms_per_element * elements), one kernel call",
        "elementwise": fit_elementwise(args.vidur),
        "all_reduce_model": "t_ms = small_ms if bytes <= small_max_bytes else "
                            "max(floor_ms, latency_ms + bytes / (bandwidth_GBps 1e6)); "
                            "NCCL kernel time (Vidur profiles with kineto), keyed by N",
        "all_reduce": fit_all_reduce(args.vidur),
        "launch_ms": NCCL_LAUNCH_MS,
        "launch_source": "Vidur's default nccl_cpu_launch_overhead_ms (vidur/config/config.py, "
                         "BaseExecutionTimePredictorConfig): a configured host cost per "
                         "all-reduce call, not a measurement",
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print("wrote", OUT.relative_to(ROOT))


if __name__ == "__main__":
    main()
