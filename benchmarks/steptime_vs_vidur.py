"""lpsched's step cost against the step Vidur's execution-time predictor builds from its H100
profiles: Llama-3-70B at tensor parallel 2 on H100, decode batch 1-128 at context 1,024 and
one prefill of 128-4,096 tokens.

The Vidur step is built as ``vidur/execution_time_predictor/`` builds it
(``sklearn_execution_time_predictor.py`` and ``vidur/entities/execution_time.py``):

    block = attn_pre_proj + attn_post_proj + attn_rope + attn_kv_cache_save
          + attention (decode x 1.1 for a GQA batch > 1) + 2 (all_reduce + 0.02 ms)
          + input_layernorm + post_attention_layernorm
          + mlp_up_proj + mlp_down_proj + mlp_act + add
    model_time = n_layers x block          (no embedding, no LM head, no CPU overhead)

each op read at ``T = ceil(tokens / 8) x 8`` (Vidur's ``_total_num_tokens_rounded``) from
``data/profiling/compute/h100/meta-llama/Llama-2-70b-hf/mlp.csv`` at 2 workers (Vidur has
no H100 profile of Meta-Llama-3-70B; Llama-2-70B has the same layer shapes: d_model 8192,
64 query and 8 KV heads, FFN 28672; only the vocabulary, outside the layers, differs) and
the all-reduce from ``data/profiling/network/h100_dgx/all_reduce.csv`` (2 workers,
``T x 8192 x 2`` bytes). With ``--forest`` each op goes through Vidur's own regression (a
random forest per op, :class:`ForestTables`; needs scikit-learn, run from a separate
environment); without it the tables are read directly: the mean of the medians profiled
at ``T`` (all our ``T`` are profiled sizes) and, for the all-reduce (profiled every 8 KiB,
not at token multiples), the median of the 5 profiled sizes nearest to the message. Vidur's attention tables
(``attention.csv``: ``attn_decode``, ``attn_prefill``, ``attn_kv_cache_save``) are not in
the public snapshots: both sides use lpsched's attention (our measured decode-attention
roofline, prefill charged its causal FLOPs) and no KV-save kernel.

lpsched's step is :meth:`lpsched.serving.steptime.StepTimeModel.breakdown_ms` without the
LM head (Vidur does not count it; the table shows it too); "before" is the model this
branch replaced (projections + attention + FFN + a ring all-reduce from the send/recv fit,
no norms, rope, adds or launch cost).

    python benchmarks/steptime_vs_vidur.py --vidur /path/to/vidur [--forest]
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import load_average, machine  # noqa: E402

from lpsched.afd.calibration import links  # noqa: E402
from lpsched.serving.steptime import build_step_time  # noqa: E402

OUT = ROOT / "benchmarks" / "results"
MLP = "data/profiling/compute/h100/meta-llama/Llama-2-70b-hf/mlp.csv"
ALL_REDUCE = "data/profiling/network/h100_dgx/all_reduce.csv"
OPS = ("attn_pre_proj", "attn_post_proj", "attn_rope", "input_layernorm",
       "post_attention_layernorm", "mlp_up_proj", "mlp_down_proj", "mlp_act", "add")
#: Vidur defaults (vidur/config/config.py, BaseExecutionTimePredictorConfig).
NCCL_LAUNCH_MS, DECODE_BATCHING_OVERHEAD = 0.02, 0.1
TP, CONTEXT, D_MODEL, LAYERS = 2, 1024, 8192, 80
DECODES = (1, 2, 4, 8, 16, 32, 64, 128)
PREFILLS = (128, 256, 512, 1024, 2048, 4096)


class VidurTables:
    """The two Vidur tables this comparison reads, filtered to 2 workers."""

    def __init__(self, root: Path) -> None:
        rows = [r for r in csv.DictReader((root / MLP).open())
                if int(r["num_tensor_parallel_workers"]) == TP]
        self.tokens = np.array([int(r["num_tokens"]) for r in rows])
        self.ops = {op: np.array([float(r[f"time_stats.{op}.median"]) for r in rows])
                    for op in OPS}
        ar = [r for r in csv.DictReader((root / ALL_REDUCE).open())
              if int(r["num_workers"]) == TP and int(r["devices_per_node"]) == TP
              and r["collective"] == "all_reduce"]
        self.ar_size = np.array([float(r["size"]) for r in ar])
        self.ar_ms = np.array([float(r["time_stats.all_reduce.median"]) for r in ar])

    def op(self, name: str, t: int) -> float:
        at = self.tokens == t
        if not at.any():
            raise ValueError(f"{MLP}: no profile at {t} tokens")
        return float(self.ops[name][at].mean())

    def all_reduce(self, t: int) -> float:
        near = np.argsort(np.abs(self.ar_size - t * D_MODEL * 2.0), kind="stable")[:5]
        return float(np.median(self.ar_ms[near]))


class ForestTables(VidurTables):
    """Vidur's own regression: per op, a random forest on ``num_tokens`` chosen by 10-fold
    grid search on the mean absolute percentage error (``RandomForestRegressor``, max
    depth 8/16/32, min samples split 2/5/10), as ``SklearnExecutionTimePredictor`` trains
    it; 250 trees only (Vidur also tries 500 and 750) and ``random_state=0`` to keep the
    run short and repeatable. Needs scikit-learn (a peer's dependency: run this script
    from a separate environment that has it)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.metrics import make_scorer
        from sklearn.model_selection import GridSearchCV

        def mape(y, p):
            return float(np.mean(np.abs(np.asarray(y) - p) / np.asarray(y)) * 100)

        def forest(x, y):
            g = GridSearchCV(RandomForestRegressor(random_state=0),
                             {"n_estimators": [250], "max_depth": [8, 16, 32],
                              "min_samples_split": [2, 5, 10]},
                             scoring=make_scorer(mape, greater_is_better=False), cv=10)
            return g.fit(np.asarray(x, dtype=float).reshape(-1, 1), y).best_estimator_

        self.forests = {op: forest(self.tokens, self.ops[op]) for op in OPS}
        self.ar_forest = forest(self.ar_size / D_MODEL / 2, self.ar_ms)

    def op(self, name: str, t: int) -> float:
        return float(self.forests[name].predict(np.array([[float(t)]]))[0])

    def all_reduce(self, t: int) -> float:
        return float(self.ar_forest.predict(np.array([[float(t)]]))[0])


def vidur_step(tab: VidurTables, tokens: int, attention_ms: float, decode_batch: int) -> dict:
    """Vidur's ``model_time`` (ms) and its parts, ``attention_ms`` per layer from lpsched."""
    t = math.ceil(tokens / 8) * 8
    g = {op: tab.op(op, t) for op in OPS}
    att = attention_ms * (1 + DECODE_BATCHING_OVERHEAD * (decode_batch > 1))
    parts = {"projections": g["attn_pre_proj"] + g["attn_post_proj"],
             "attention": att,
             "ffn": g["mlp_up_proj"] + g["mlp_down_proj"] + g["mlp_act"],
             "norms_rope": g["input_layernorm"] + g["post_attention_layernorm"]
             + g["attn_rope"],
             "residual_adds": g["add"],
             "all_reduce": 2 * (tab.all_reduce(t) + NCCL_LAUNCH_MS)}
    return {k: LAYERS * v for k, v in parts.items()}


def lpsched_before(m, rows, kv, sq) -> float:
    """The replaced model: matmuls + attention (plain rooflines) + ring all-reduce over the
    send/recv fit."""
    p = replace(m, knee_proj=math.inf, knee_ffn=math.inf).layer_ops_ms(rows, kv, sq)
    link = links()["nvlink"]
    ring = 2 * (TP - 1) * (link.latency_ms + rows * D_MODEL * 2 / TP * link.ms_per_byte)
    return LAYERS * float(p["projections"] + p["attention"] + p["ffn"] + 2 * ring)


def rows_of(tab: VidurTables, alt: VidurTables | None = None) -> list[dict]:
    """One row per step; ``alt``: a second reading of Vidur's data (its tables, when
    ``tab`` holds its forests) whose ratio is given as a sensitivity check."""
    m = build_step_time("h100", "llama3-70b", TP)
    cases = [("decode", b, b, b * CONTEXT, 0, b) for b in DECODES]
    cases += [("prefill", p, p, 0, p * (p + 1), 1) for p in PREFILLS]
    out = []
    for kind, size, rows, kv, sq, emit in cases:
        ours = {k: float(v) for k, v in m.breakdown_ms(rows, kv, sq, emit).items()}
        att_layer = ours["attention"] / LAYERS
        vid = vidur_step(tab, rows, att_layer, size if kind == "decode" else 0)
        body = sum(v for k, v in ours.items() if k != "lm_head")
        vtot = sum(vid.values())
        row = {"step": kind, "size": size, "context": CONTEXT if kind == "decode" else 0,
               "vidur_ms": round(vtot, 3), "lpsched_ms": round(body, 3),
               "ratio": round(body / vtot, 4),
               "ratio_before": round(lpsched_before(m, rows, kv, sq) / vtot, 4),
               "lm_head_ms": round(ours["lm_head"], 3),
               "ratio_with_lm_head": round((body + ours["lm_head"]) / vtot, 4)}
        if alt is not None:
            vt = sum(vidur_step(alt, rows, att_layer, size if kind == "decode" else 0).values())
            row["ratio_vidur_tables"] = round(body / vt, 4)
        for k in vid:
            row[f"vidur_{k}_ms"] = round(vid[k], 3)
            row[f"lpsched_{k}_ms"] = round(ours[k], 3)
        out.append(row)
    return out


def write(rows: list[dict], stem: str, where: str, flags: str) -> None:
    with (OUT / f"{stem}.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    ratios = [r["ratio"] for r in rows]
    lines = ["# Step cost: lpsched against Vidur's H100 profiles (Llama-3-70B, TP 2)", "",
             f"Generated by `python benchmarks/steptime_vs_vidur.py --vidur VIDUR{flags}` "
             f"({where}). Milliseconds per step over 80 layers; ratio = lpsched / Vidur.",
             f"Every step within {max(abs(x - 1) for x in ratios):.1%} "
             f"(ratios {min(ratios):.3f}-{max(ratios):.3f}); before this model: "
             f"{min(r['ratio_before'] for r in rows):.3f}-"
             f"{max(r['ratio_before'] for r in rows):.3f}.", "",
             "| step | size | Vidur ms | lpsched ms | ratio | before | + LM head | "
             "vs Vidur tables | proj V/l | FFN V/l | norms+rope+adds V/l | all-reduce V/l | "
             "attention V/l |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        el_v = r["vidur_norms_rope_ms"] + r["vidur_residual_adds_ms"]
        el_l = r["lpsched_norms_rope_ms"] + r["lpsched_residual_adds_ms"]
        lines.append(
            f"| {r['step']} | {r['size']} | {r['vidur_ms']:.2f} | {r['lpsched_ms']:.2f} | "
            f"{r['ratio']:.3f} | {r['ratio_before']:.3f} | {r['ratio_with_lm_head']:.3f} | "
            f"{r.get('ratio_vidur_tables', r['ratio']):.3f} | "
            f"{r['vidur_projections_ms']:.2f} / {r['lpsched_projections_ms']:.2f} | "
            f"{r['vidur_ffn_ms']:.2f} / {r['lpsched_ffn_ms']:.2f} | "
            f"{el_v:.2f} / {el_l:.2f} | "
            f"{r['vidur_all_reduce_ms']:.2f} / {r['lpsched_all_reduce_ms']:.2f} | "
            f"{r['vidur_attention_ms']:.2f} / {r['lpsched_attention_ms']:.2f} |")
    lines += ["", ASSUMPTIONS]
    (OUT / f"{stem}.md").write_text("\n".join(lines) + "\n")


ASSUMPTIONS = """## Assumptions (every one that remains)

1. **Model stand-in.** Vidur has no H100 profile of Meta-Llama-3-70B (its Llama-3
   profiles are A100 only); its H100 `Llama-2-70b-hf/mlp.csv` has the same layer shapes
   (d_model 8192, 64 query / 8 KV heads of 128, SwiGLU 28672), so its per-layer ops are
   Llama-3-70B's. The vocabulary differs, and neither side's compared step counts the LM
   head (Vidur never does; lpsched's is shown in its own column).
2. **Attention on both sides is lpsched's** (Vidur's `attention.csv` is absent from the
   public snapshots): decode attention from our measured roofline, Vidur's 10% GQA
   batching overhead applied on its side for decode batches > 1 (as its predictor does),
   prefill attention charged its causal FLOPs at our FFN's FLOP rate; no KV-cache-save
   kernel on either side. The attention column is therefore not a comparison.
3. **Vidur's regression.** With `--forest` (as in the committed results) each op is
   Vidur's random forest on `num_tokens`, chosen by 10-fold grid search on the mean
   absolute percentage error (max depth 8/16/32, min samples split 2/5/10) with 250 trees
   only (Vidur also tries 500 and 750) and `random_state=0`. Without it, and in the
   column "vs Vidur tables", the profiled medians are read directly: their mean at the
   rounded token count, and the median of the 5 profiled sizes nearest the message for
   the all-reduce. Vidur's 0.02 ms NCCL launch overhead per all-reduce (a configured
   default, not a measurement) is on both sides; its CPU overheads are off (its default).
4. **Vidur counts one residual add per layer** (its profiler times only the second);
   lpsched counts both adds that run. **Token rounding and the all-reduce**: Vidur
   rounds the token count up to a multiple of 8, so decode batches 1-8 are costed as 8
   tokens (a 128 KiB all-reduce); lpsched costs the rows there are. Vidur's measured
   2-GPU all-reduce times are bimodal below 1 MiB (~0.01 or ~0.04 ms, in no order of
   size): its forest predicts 0.020 ms at 8 tokens and 0.033-0.037 ms at 16-128;
   lpsched's fit (on octave means) gives 0.0077 ms up to 22 KiB (batch 1) and 0.0325 ms
   from there to ~2 MiB. Hence decode batches 2-8 sit 8.5-8.7% above Vidur's step and
   batch 1 3.5% below. Read from Vidur's table instead of its forest (the median of the
   5 profiled sizes nearest the message: column "vs Vidur tables"), batches 2-8 are
   14-15% above: the largest gap here, and a property of the noisy table, not of a
   kernel.
5. lpsched's norm / rope / add / all-reduce figures are fitted from the same Vidur
   profiles (`benchmarks/steptime_derive_ops.py`; pooled over Llama-2-70B, Llama-2-7B and
   CodeLlama-34B and all TP degrees for the elementwise ops): agreement there is
   agreement of a fit with its data, not an independent check. The independent part is
   the matmuls (our own H100 measurements against Vidur's).
6. "before" is the model this branch replaced (plain rooflines, ring all-reduce over the
   send/recv fit, no norms, rope, adds or launch cost); the lpsched column has the
   rounded roofline knees, fitted on our own calibration rows, not on Vidur's.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vidur", required=True, type=Path, help="root of a Vidur checkout")
    ap.add_argument("--stem", default="steptime_vs_vidur", help="output file stem")
    ap.add_argument("--forest", action="store_true",
                    help="Vidur's random forests (needs scikit-learn) instead of its tables")
    args = ap.parse_args()
    for rel in (MLP, ALL_REDUCE):
        if not (args.vidur / rel).is_file():
            ap.error(f"{args.vidur / rel}: missing (give the Vidur checkout root)")
    start = machine()
    if args.forest:
        rows = rows_of(ForestTables(args.vidur), VidurTables(args.vidur))
        how = "Vidur side: its random forests; 'vs Vidur tables': its profiled medians read"
    else:
        rows = rows_of(VidurTables(args.vidur))
        how = "Vidur side: its profiled medians read directly"
    write(rows, args.stem, f"{how}; {start}; {load_average('at end')}",
          " --forest" if args.forest else "")
    for r in rows:
        print(r["step"], r["size"], r["vidur_ms"], r["lpsched_ms"], r["ratio"],
              r["ratio_before"])


if __name__ == "__main__":
    main()
