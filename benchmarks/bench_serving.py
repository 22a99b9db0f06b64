"""Benchmark (issue 13 section 5): latency in seconds against the Poisson request rate.

Workloads (third-party traces are not in the repo: their paths are arguments):

* ``conv``: the first ``--num-prompts`` rows of the Azure conversation trace;
* ``arxiv``: the first ``--num-prompts`` rows of the arXiv-summarization trace;
* ``mix``: the first ``--num-prompts // 2`` rows of each, shuffled together (seed).

Arrivals are Poisson at each rate (:func:`lpsched.serving.replay.poisson_arrivals`, the
trace's own times are dropped). The rates are fractions (``--rate-factors``) of a
saturation estimate per workload: the request throughput of ``vllm`` on a backlog (all
requests at once, rate 10^4 req/s), so the sweep goes from light load to past saturation
whatever the GPU and model.

Every policy of ``--algos`` is replayed (:func:`lpsched.serving.replay.replay`: one
simulator, checker-verified schedule, step-time model of ``lpsched/serving/steptime.py``)
with paged KV memory (``--block-size``, default 16 as vLLM) for each prediction setting of
``--predictions``:

* a number ``sigma``: log-normal predictions ``o_hat = max(1, round(o exp(sigma Z)))``
  (:func:`lpsched.simulate.noisy_predictions`; 0 = exact lengths);
* ``fitted``: a simple predictor fitted on *other* rows of the same trace(s): the rows
  ``num_prompts .. num_prompts + fit_rows - 1`` (disjoint from the replayed ones) are
  split into ``--fit-buckets`` prompt-length buckets at their quantiles, and a request is
  predicted the mean decode length of its prompt-length bucket (:class:`BucketMean`).

The policies of ``--lp-algos`` (the LP-guided online policies) run with a time limit per
simulation run (``--lp-time-limit``: :func:`replay` ``time_limit``; when it expires the run
is drained and the row says ``status = drained``), and only at the prediction settings of
``--lp-predictions`` (they cost 10-30x a fast policy). One row per (workload, prediction,
rate, policy), written to ``OUT.csv`` / ``OUT.md`` (and appended to ``OUT.partial.csv`` as
the sweep goes). Ratios ``*_vs_vllm`` are the policy's figure over ``vllm``'s at the same
workload, prediction and rate. ``benchmarks/plot_serving.py`` draws the figure.

Usage (from the repository root)::

    python benchmarks/bench_serving.py --conv PATH/azure_conv_2023.csv \\
        --arxiv PATH/arxiv_summarization.csv --out benchmarks/results/serving
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import load_average, machine, write_results  # noqa: E402

from lpsched.serving.replay import Workload, poisson_arrivals, replay  # noqa: E402
from lpsched.traces import read_trace_columns  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_ALGOS = "vllm,fcfs,mc-benchmark,alpha-protection,mc-sf,sorted-f-online"
LP_ALGOS = "sorted-lp-online,lp-swap-online"
BACKLOG_RATE = 1e4


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


class Sweep:
    """The workloads, their saturation estimates and predictors, and the replays."""

    def __init__(self, args):
        self.args = args
        self.paths = {"conv": args.conv, "arxiv": args.arxiv}
        self.partial = args.out.with_suffix(".partial.csv")
        self.partial.unlink(missing_ok=True)

    def _rows(self, name: str, n: int, start: int = 0):
        c = read_trace_columns(self.paths[name], start=start, limit=n, times=False)
        return np.asarray(c.prefill), np.asarray(c.decode)

    def lengths(self, wl: str):
        """Prefill and decode of the replayed requests, and the predictor's fit rows."""
        n, f = self.args.num_prompts, self.args.fit_rows
        parts = [wl] if wl != "mix" else ["conv", "arxiv"]
        k = n if wl != "mix" else n // 2
        s = np.concatenate([self._rows(p, k)[0] for p in parts])
        o = np.concatenate([self._rows(p, k)[1] for p in parts])
        fit = [self._rows(p, f, start=k) for p in parts]
        if wl == "mix":
            perm = np.random.default_rng(self.args.seed).permutation(s.size)
            s, o = s[perm], o[perm]
        predictor = BucketMean(np.concatenate([a for a, _ in fit]),
                               np.concatenate([b for _, b in fit]), self.args.fit_buckets)
        return s, o, predictor

    def workload(self, wl: str, s, o, rate: float) -> Workload:
        return Workload(wl, [str(i + 1) for i in range(s.size)], s, o,
                        poisson_arrivals(s.size, rate, self.args.seed), f"poisson rate={rate:g}")

    def run(self, w: Workload, algo: str, pred: str, predictor, extra: dict) -> dict:
        a = self.args
        kw = {}
        if pred == "fitted":
            kw["predictions"] = predictor.predict(w.prefill)
        elif float(pred) > 0:
            kw["prediction_noise"] = float(pred)
        if algo in a.lp_list:
            kw["time_limit"] = a.lp_time_limit
        t0 = time.process_time()
        m = replay(w, algo, gpu=a.gpu, model=a.model, block_size=a.block_size,
                   seed=a.seed, **kw).metrics
        row = {**extra, "algo": algo, "completed": m["completed"],
               "req_per_s": round(m["request_throughput"], 3),
               "out_tok_per_s": round(m["output_throughput"], 1),
               "mean_e2el_s": round(m["mean_e2el_ms"] / 1e3, 3),
               "p99_e2el_s": round(m["p99_e2el_ms"] / 1e3, 3),
               "mean_ttft_s": round(m["mean_ttft_ms"] / 1e3, 3),
               "p99_ttft_s": round(m["p99_ttft_ms"] / 1e3, 3),
               "mean_tpot_ms": round(m["mean_tpot_ms"], 2), "preemptions": m["preemptions"],
               "recomputed_tokens": m["recomputed_tokens"], "status": m["status"],
               "drained": m["drained"], "arrival_error_ms": round(m["arrival_error_ms"], 1),
               "tp": m["tensor_parallel"], "memory": m["memory"],
               "cpu_s": round(time.process_time() - t0, 2)}
        return row

    def saturation(self, wl: str, s, o) -> float:
        w = self.workload(wl, s, o, BACKLOG_RATE)
        m = replay(w, "vllm", gpu=self.args.gpu, model=self.args.model,
                   block_size=self.args.block_size, seed=self.args.seed).metrics
        return float(m["request_throughput"])

    def _append(self, row: dict) -> None:
        new = not self.partial.exists()
        with self.partial.open("a", newline="") as fh:
            wr = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                wr.writeheader()
            wr.writerow(row)

    def cells(self, wl: str) -> list[dict]:
        a = self.args
        s, o, predictor = self.lengths(wl)
        sat = self.saturation(wl, s, o)
        fit_err = np.log(predictor.predict(s) / o)
        print(f"{wl}: saturation {sat:.3f} req/s; fitted predictor: std of log(o_hat/o) "
              f"{fit_err.std():.2f}, median |log| {np.median(np.abs(fit_err)):.2f}", flush=True)
        self.notes.append(f"- `{wl}`: {s.size} requests, saturation estimate {sat:.3f} req/s "
                          f"(vllm on a backlog); fitted predictor ({a.fit_rows} other rows, "
                          f"{predictor.edges.size + 1} buckets): std of log(o_hat/o) = "
                          f"{fit_err.std():.2f}, median |log(o_hat/o)| = "
                          f"{np.median(np.abs(fit_err)):.2f}")
        rows = []
        for pred in a.predictions:
            for f in a.rate_factors:
                rate = float(f"{f * sat:.3g}")
                w = self.workload(wl, s, o, rate)
                algos = a.algo_list + (a.lp_list if pred in a.lp_predictions else [])
                extra = {"workload": wl, "prediction": pred, "rate_factor": f, "rate": rate}
                cell = [self.run(w, algo, pred, predictor, extra) for algo in algos]
                ref = next((c for c in cell if c["algo"] == "vllm"), None)
                for c in cell:
                    for k in ("mean_e2el_s", "p99_e2el_s", "mean_ttft_s"):
                        c[f"{k[:-2]}_vs_vllm"] = (round(c[k] / ref[k], 3)
                                                  if ref and ref[k] else None)
                    print(c, flush=True)
                    self._append(c)
                rows += cell
        return rows

    def main(self) -> list[dict]:
        self.notes: list[str] = []
        rows = []
        for wl in self.args.workloads:
            rows += self.cells(wl)
        return rows


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conv", required=True, help="Azure conversation trace CSV")
    ap.add_argument("--arxiv", required=True, help="arXiv summarization trace CSV")
    ap.add_argument("--workloads", nargs="+", default=["conv", "arxiv", "mix"],
                    choices=["conv", "arxiv", "mix"])
    ap.add_argument("--algos", default=DEFAULT_ALGOS)
    ap.add_argument("--lp-algos", default=LP_ALGOS)
    ap.add_argument("--lp-time-limit", type=float, default=10.0,
                    help="seconds per simulation run of an LP-guided policy")
    ap.add_argument("--predictions", nargs="+", default=["0", "0.2", "0.5", "0.8", "fitted"])
    ap.add_argument("--lp-predictions", nargs="+", default=["0", "0.5"])
    ap.add_argument("--rate-factors", type=float, nargs="+",
                    default=[0.25, 0.5, 0.75, 1.0, 1.25])
    ap.add_argument("--num-prompts", type=int, default=1000)
    ap.add_argument("--fit-rows", type=int, default=5000)
    ap.add_argument("--fit-buckets", type=int, default=10)
    ap.add_argument("--block-size", type=int, default=16)
    ap.add_argument("--gpu", default="h100")
    ap.add_argument("--model", default="llama3-70b")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS / "serving")
    args = ap.parse_args(argv)
    args.algo_list = [a.strip() for a in args.algos.split(",") if a.strip()]
    args.lp_list = [a.strip() for a in args.lp_algos.split(",") if a.strip()]
    for p in args.predictions:
        if p != "fitted":
            float(p)
    return args


def main(argv=None) -> int:
    args = parse(argv)
    start = machine("at start")
    t0 = time.time()
    sweep = Sweep(args)
    rows = sweep.main()
    cmd = " ".join(a if not a.endswith(".csv") else Path(a).name for a in sys.argv[1:])
    write_results(args.out, rows, [
        f"# Serving replay: {args.model} on {args.gpu}, block size {args.block_size}", "",
        f"`python benchmarks/bench_serving.py {cmd}` (trace paths shortened to file names)",
        "",
        f"{args.num_prompts} requests per replay, Poisson arrivals (seed {args.seed}) at "
        "`rate_factor` x the saturation estimate; steps to seconds by "
        "lpsched/serving/steptime.py (docs/serving.md). LP-guided policies "
        f"({', '.join(args.lp_list)}): time limit {args.lp_time_limit:g} s per simulation "
        f"run, predictions {', '.join(args.lp_predictions)} only.", "", *sweep.notes, "",
        f"Machine: {start}; {load_average('at end')}; wall {time.time() - t0:.0f} s."])
    return 0


if __name__ == "__main__":
    sys.exit(main())
