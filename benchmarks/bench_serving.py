"""Benchmark (issue 20 item 6): serving latency in seconds, every policy under one engine.

Every policy runs in the one engine of ``lpsched replay`` (:func:`lpsched.serving.replay.
replay`) under the same limits: vLLM V1's ``vllm serve`` defaults on an H100/H200 (blocks of
16 tokens, 8,192 tokens a step with chunked prefill, 1,024 sequences, watermark 0, V1's
KV accounting, asynchronous scheduling; :func:`lpsched.serving.replay.engine_limits`).
A policy decides only the order and admission inside them.

Grid: deployments (``--deployments GPU:MODEL``, tensor parallel = the fewest GPUs that hold
the model and the largest request, M = the KV tokens left) x workloads x seeds x rate
factors x prediction settings x policies.

* Workloads (third-party traces are not in the repository: their paths are arguments):
  ``conv`` (``--conv``, the Azure conversation trace 2023), ``arxiv`` (``--arxiv``, the
  arXiv-summarization trace), ``code`` (``--code``, the Azure code trace 2023 as processed
  by Vidur: ``data/processed_traces/splitwise_code.csv`` of github.com/microsoft/vidur).
* Seed ``k``: requests ``k N + 1 .. (k + 1) N`` of the trace (``N = --num-prompts``),
  Poisson arrivals drawn with seed ``k`` (the trace's own times are dropped), prediction
  noise drawn with seed ``k``. So a seed changes the requests, their arrivals and the
  noise; ratios to ``vllm`` are taken within a seed (paired) and their spread over the
  seeds is reported.
* Rates: ``--rate-factors`` x a saturation estimate of each (deployment, workload, seed):
  the request throughput of ``vllm`` on that backlog (all requests at once).
* Predictions (``--predictions``): a number ``sigma`` gives log-normal predictions
  ``o_hat = max(1, round(o exp(sigma Z)))`` (0 = exact lengths); ``fitted`` the mean decode
  length of the request's prompt-length bucket (:class:`BucketMean`), fitted on the rows
  after the last seed's window (``--fit-rows`` of them), disjoint from every replayed row.
  ``vllm`` reads no predictions: it is replayed once per (seed, rate) and its row repeated
  under each prediction setting.

Outputs (``--out``, default ``benchmarks/results/serving``): ``OUT_runs.csv`` (one row per
replay), ``OUT.csv`` and ``OUT.md`` (one row per point, the mean over seeds of each figure
and, for every ratio to ``vllm``, its mean, min and max over the seeds), and
``OUT.partial.csv`` as the sweep goes. ``benchmarks/plot_serving.py`` draws the figures.

Usage (from the repository root)::

    python benchmarks/bench_serving.py --conv PATH/azure_conv_2023.csv \\
        --arxiv PATH/arxiv_summarization.csv --code PATH/splitwise_code.csv
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import hand_written_block, load_average, machine  # noqa: E402

from lpsched.errors import InstanceError  # noqa: E402
from lpsched.serving.replay import (  # noqa: E402
    Workload,
    engine_limits,
    poisson_arrivals,
    replay,
)
from lpsched.traces import read_trace_columns  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_ALGOS = "vllm,fcfs,mc-benchmark,alpha-protection,mc-sf,sorted-f-online"
DEFAULT_DEPLOYMENTS = ["h100:llama3-70b", "h200:llama3-70b", "h100:llama3-8b", "h200:llama3-8b"]
WORKLOADS = ("conv", "arxiv", "code")
BACKLOG_RATE = 1e4
#: Per-run figures (seconds, ms, counts) averaged over the seeds of a point.
FIGURES = ("req_per_s", "mean_e2el_s", "p99_e2el_s", "mean_ttft_s", "p99_ttft_s",
           "mean_tpot_ms", "preemptions")
#: Figures whose ratio to vllm's (same deployment, workload, seed, rate) is summarised.
RATIOS = ("mean_e2el_s", "p99_e2el_s", "mean_ttft_s", "p99_ttft_s", "mean_tpot_ms")


class BucketMean:
    """Predict the decode length by the mean decode length of the prompt-length bucket.

    Fitted on ``(prefill, decode)`` rows: bucket edges at the ``k``-quantiles of the
    fitted prompt lengths (duplicates merged), ``o_hat(s) = round(mean{o_i : s_i in the
    bucket of s})``, at least 1. Prompts outside the fitted range fall in the first or
    last bucket.
    """

    def __init__(self, prefill: np.ndarray, decode: np.ndarray, buckets: int):
        q = np.quantile(prefill, np.linspace(0, 1, buckets + 1)[1:-1])
        self.edges = np.unique(q)
        b = np.searchsorted(self.edges, prefill, side="right")
        self.means = np.array([decode[b == k].mean() if np.any(b == k) else decode.mean()
                               for k in range(self.edges.size + 1)])

    def predict(self, prefill: np.ndarray) -> np.ndarray:
        b = np.searchsorted(self.edges, prefill, side="right")
        return np.maximum(1, np.rint(self.means[b])).astype(np.int64)


def git_commit() -> str:
    """The repository's HEAD commit (short), with ``+dirty`` when files are modified."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, text=True, capture_output=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


class Sweep:
    """The workloads, their predictors and saturation estimates, and the replays."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.paths = {w: getattr(args, w) for w in WORKLOADS if getattr(args, w)}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        self.partial = args.out.with_name(args.out.name + ".partial.csv")
        self.partial.unlink(missing_ok=True)
        self.notes: list[str] = []
        self.runs: list[dict] = []

    def _rows(self, wl: str, start: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Prefill and decode of rows ``start + 1 .. start + limit`` (fewer at the end)."""
        try:
            c = read_trace_columns(self.paths[wl], start=start, limit=limit, times=False)
        except InstanceError as exc:
            if "no request rows" not in str(exc):
                raise
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.asarray(c.prefill), np.asarray(c.decode)

    def window(self, wl: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Prefill and decode of seed ``seed``'s window of workload ``wl``."""
        n = self.args.num_prompts
        s, o = self._rows(wl, seed * n, n)
        if s.size < n:
            raise SystemExit(f"{self.paths[wl]}: {s.size} rows from row {seed * n + 1}, "
                             f"seed {seed} needs {n}: lower --num-prompts or the seeds")
        return s, o

    def predictor(self, wl: str) -> BucketMean:
        start = (max(self.args.seeds) + 1) * self.args.num_prompts
        s, o = self._rows(wl, start, self.args.fit_rows)
        if s.size < self.args.fit_buckets:
            raise SystemExit(f"{self.paths[wl]}: only {s.size} rows after row {start} to fit "
                             "the predictor: lower --num-prompts, the seeds or --fit-buckets")
        return BucketMean(s, o, self.args.fit_buckets)

    def replay(self, dep: str, w: Workload, algo: str, pred: str, predictor: BucketMean,
               seed: int) -> dict:
        gpu, model = dep.split(":")
        kw: dict = {}
        if pred == "fitted":
            kw["predictions"] = predictor.predict(w.prefill)
        elif float(pred) > 0:
            kw["prediction_noise"] = float(pred)
        t0 = time.process_time()
        m = replay(w, algo, gpu=gpu, model=model, seed=seed, **kw).metrics
        return {"completed": m["completed"], "req_per_s": round(m["request_throughput"], 4),
                "out_tok_per_s": round(m["output_throughput"], 1),
                "mean_e2el_s": round(m["mean_e2el_ms"] / 1e3, 4),
                "p99_e2el_s": round(m["p99_e2el_ms"] / 1e3, 4),
                "mean_ttft_s": round(m["mean_ttft_ms"] / 1e3, 4),
                "p99_ttft_s": round(m["p99_ttft_ms"] / 1e3, 4),
                "mean_tpot_ms": round(m["mean_tpot_ms"], 3), "preemptions": m["preemptions"],
                "recomputed_tokens": m["recomputed_tokens"], "status": m["status"],
                "tp": m["tensor_parallel"], "memory": m["memory"],
                "cpu_s": round(time.process_time() - t0, 3)}

    def _append(self, row: dict) -> None:
        new = not self.partial.exists()
        with self.partial.open("a", newline="") as fh:
            wr = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                wr.writeheader()
            wr.writerow(row)

    def seed_cells(self, dep: str, wl: str, seed: int, predictor: BucketMean) -> None:
        """Every rate, prediction and policy of one (deployment, workload, seed)."""
        a = self.args
        s, o = self.window(wl, seed)
        ids = [str(seed * s.size + i + 1) for i in range(s.size)]
        backlog = Workload(wl, ids, s, o, poisson_arrivals(s.size, BACKLOG_RATE, seed), "")
        sat = self.replay(dep, backlog, "vllm", "0", predictor, seed)["req_per_s"]
        self.notes.append(f"- `{dep}` `{wl}` seed {seed}: saturation {sat:.3f} req/s")
        for f in a.rate_factors:
            rate = float(f"{f * sat:.4g}")
            w = Workload(wl, ids, s, o, poisson_arrivals(s.size, rate, seed),
                         f"poisson rate={rate:g}")
            key = {"deployment": dep, "workload": wl, "seed": seed, "rate_factor": f,
                   "rate": rate}
            ref = self.replay(dep, w, "vllm", "0", predictor, seed) \
                if "vllm" in a.algo_list else None
            for pred in a.predictions:
                for algo in a.algo_list:
                    m = ref if algo == "vllm" else self.replay(dep, w, algo, pred, predictor,
                                                               seed)
                    assert m is not None
                    row = {**key, "prediction": pred, "algo": algo, **m}
                    for k in RATIOS:
                        row[f"{k}_vs_vllm"] = round(m[k] / ref[k], 4) \
                            if ref is not None and ref[k] else None
                    self._append(row)
                    self.runs.append(row)
            print(f"{dep} {wl} seed {seed} rate x{f}: done ({len(self.runs)} rows)", flush=True)

    def main(self) -> None:
        a = self.args
        for dep in a.deployments:
            for wl in self.paths:
                predictor = self.predictor(wl)
                for seed in a.seeds:
                    s, o = self.window(wl, seed)
                    err = np.log(predictor.predict(s) / o)
                    if dep == a.deployments[0]:
                        self.notes.append(
                            f"- `{wl}` seed {seed} (rows {seed * s.size + 1}-"
                            f"{(seed + 1) * s.size}): mean prefill {s.mean():.0f}, mean "
                            f"decode {o.mean():.0f}; fitted predictor: std of "
                            f"log(o_hat/o) {err.std():.2f}")
                    self.seed_cells(dep, wl, seed, predictor)


def summarise(runs: list[dict]) -> list[dict]:
    """One row per point (deployment, workload, rate factor, prediction, policy): the mean
    of each figure over the seeds, and the mean, min and max of each ratio to vllm."""
    point = ("deployment", "workload", "rate_factor", "prediction", "algo")
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault(tuple(r[k] for k in point), []).append(r)
    out = []
    for key, rows in groups.items():
        row = dict(zip(point, key))
        row.update({"seeds": len(rows), "tp": rows[0]["tp"], "memory": rows[0]["memory"],
                    "rate_mean": round(float(np.mean([r["rate"] for r in rows])), 4)})
        for k in FIGURES:
            row[k] = round(float(np.mean([r[k] for r in rows])), 4)
        for k in RATIOS:
            v = [r[f"{k}_vs_vllm"] for r in rows if r[f"{k}_vs_vllm"] is not None]
            if v:
                row[f"{k}_vs_vllm"] = round(float(np.mean(v)), 3)
                row[f"{k}_vs_vllm_min"] = round(float(np.min(v)), 3)
                row[f"{k}_vs_vllm_max"] = round(float(np.max(v)), 3)
        row["status"] = ",".join(sorted({r["status"] for r in rows}))
        out.append(row)
    return out


def write_csv(path: Path, rows: list[dict]) -> None:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=cols)
        wr.writeheader()
        wr.writerows(rows)


def markdown(args: argparse.Namespace, summary: list[dict], notes: list[str], start: str, wall: float,
             commit: str) -> str:
    """The results page: provenance, the engine, the notes, the reading kept from the last
    page (between the hand-written markers of ``common.py``) and the summary table."""
    kept = hand_written_block(args.out.with_suffix(".md"))
    lim = ", ".join(f"{k} {v}" for k, v in engine_limits().describe().items())
    cmd = " ".join(a if not a.endswith(".csv") else Path(a).name for a in sys.argv[1:])
    cols = ["deployment", "workload", "rate_factor", "prediction", "algo", "rate_mean",
            "mean_e2el_s", "p99_e2el_s", "mean_ttft_s", "mean_tpot_ms", "preemptions"]
    head = cols + ["mean E2EL / vllm (min-max)", "p99 E2EL / vllm (min-max)",
                   "mean TTFT / vllm (min-max)"]

    def rng(r: dict, k: str) -> str:
        if f"{k}_vs_vllm" not in r:
            return "-"
        return f"{r[k + '_vs_vllm']:.3f} ({r[k + '_vs_vllm_min']:.3f}-{r[k + '_vs_vllm_max']:.3f})"

    lines = [f"# Serving replay under one engine: {', '.join(args.deployments)}", "",
             f"`python benchmarks/bench_serving.py {cmd}` (trace paths shortened to file "
             f"names), commit {commit}.", "",
             f"Engine (the same for every policy, `lpsched replay`'s default): {lim}.",
             f"{args.num_prompts} requests per replay, seeds {args.seeds} (seed k: requests "
             f"kN+1..(k+1)N of the trace, Poisson arrivals and prediction noise drawn with "
             f"seed k), rates = rate_factor x the saturation estimate of each deployment, "
             f"workload and seed (vllm's request throughput on the backlog); figures are "
             f"means over the seeds, ratios to vllm are taken per seed (paired) and shown "
             f"as mean (min-max). `fitted`: prompt-length bucket means ({args.fit_buckets} "
             f"buckets) fitted on {args.fit_rows} rows after the last window. Per-replay "
             "rows: the `_runs.csv` beside this file; every point: the `.csv`; the table "
             f"below: predictions {', '.join(args.md_predictions)}.", "", *notes, "",
             f"Machine: {start}; {load_average('at end')}; wall {wall:.0f} s.", "",
             *kept, *([""] if kept else []),
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join([str(r[c]) for c in cols]
                                + [rng(r, "mean_e2el_s"), rng(r, "p99_e2el_s"),
                                   rng(r, "mean_ttft_s")]) + " |" for r in summary
              if r["prediction"] in args.md_predictions]
    return "\n".join(lines) + "\n"


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conv", help="Azure conversation trace CSV (azure_conv_2023.csv)")
    ap.add_argument("--arxiv", help="arXiv summarization trace CSV")
    ap.add_argument("--code", help="Azure code trace CSV (Vidur's splitwise_code.csv)")
    ap.add_argument("--deployments", nargs="+", default=DEFAULT_DEPLOYMENTS,
                    help="GPU:MODEL pairs (default: %(default)s)")
    ap.add_argument("--algos", default=DEFAULT_ALGOS)
    ap.add_argument("--predictions", nargs="+", default=["0", "0.5", "fitted"])
    ap.add_argument("--rate-factors", type=float, nargs="+", default=[0.5, 0.8, 1.0, 1.25])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--md-predictions", nargs="+", default=["0", "0.5", "fitted"],
                    help="prediction settings shown in the Markdown table (all are in the CSV)")
    ap.add_argument("--num-prompts", type=int, default=1000)
    ap.add_argument("--fit-rows", type=int, default=5000)
    ap.add_argument("--fit-buckets", type=int, default=10)
    ap.add_argument("--out", type=Path, default=RESULTS / "serving")
    args = ap.parse_args(argv)
    if not any(getattr(args, w) for w in WORKLOADS):
        ap.error("give at least one trace: --conv, --arxiv or --code")
    args.algo_list = [a.strip() for a in args.algos.split(",") if a.strip()]
    for p in args.predictions:
        if p != "fitted":
            float(p)
    for d in args.deployments:
        if d.count(":") != 1:
            ap.error(f"--deployments: {d!r} is not GPU:MODEL")
    if min(args.seeds) < 0:
        ap.error("--seeds must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    start, commit = machine("at start"), git_commit()
    t0 = time.time()
    sweep = Sweep(args)
    sweep.main()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(args.out.with_name(args.out.name + "_runs.csv"), sweep.runs)
    summary = summarise(sweep.runs)
    write_csv(args.out.with_suffix(".csv"), summary)
    args.out.with_suffix(".md").write_text(
        markdown(args, summary, sweep.notes, start, time.time() - t0, commit))
    print(f"wrote {args.out}.md, .csv, _runs.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
