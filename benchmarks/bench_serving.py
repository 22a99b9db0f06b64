"""Benchmark (skeleton of issue 13 section 5): latency in seconds against the request rate.

For a trace CSV (its path as the argument; third-party data is not in the repo), a GPU
and a model, every policy of ``--algos`` is replayed (:func:`lpsched.serving.replay.replay`)
at each Poisson request rate of ``--rates`` on the first ``--num-prompts`` requests, with
exact lengths or log-normal predictions (``--noise``). One row per (noise, rate, policy):
completed requests, throughput, mean / p99 E2EL and TTFT in seconds, mean TPOT in ms,
preemptions, the arrival error of the fixed point and the replay's CPU seconds, and the
policy's mean E2EL over that of the first policy in ``--algos`` at the same rate.

Not done yet (issue 13 section 5): the ``vllm`` policy (another branch), block size 16,
the LP-guided policies, the mixed trace, a fitted length predictor, the plot and the
reading. The full sweep is heavy; the defaults are a small run.

Usage (from the repository root)::

    python benchmarks/bench_serving.py /path/to/traces/azure_conv_2023.csv
    python benchmarks/bench_serving.py TRACE --rates 0.5 1 2 4 --num-prompts 2000 \\
        --algos fcfs,mc-sf,sorted-f-online,mc-benchmark,alpha-protection,alpha-beta-clearing \\
        --noise 0 0.5 --gpu h100 --model llama3-70b --out benchmarks/results/serving

Writes ``OUT.md`` and ``OUT.csv`` (default ``benchmarks/results/serving``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import load_average, machine, write_results  # noqa: E402

from lpsched.serving.replay import load_workload, replay  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_ALGOS = "fcfs,mc-sf,sorted-f-online,mc-benchmark,alpha-protection,alpha-beta-clearing"


def run_cell(trace: str, algo: str, rate: float, noise: float, args) -> dict:
    """One replay, as a result row."""
    w = load_workload(trace, num_prompts=args.num_prompts, rate=rate, seed=args.seed)
    t0 = time.process_time()
    m = replay(w, algo, gpu=args.gpu, model=args.model, tensor_parallel=args.tensor_parallel,
               prediction_noise=noise or None, seed=args.seed).metrics
    cpu = time.process_time() - t0
    return {"noise": noise, "rate": rate, "algo": algo, "completed": m["completed"],
            "req_per_s": round(m["request_throughput"], 3),
            "out_tok_per_s": round(m["output_throughput"], 1),
            "mean_e2el_s": round(m["mean_e2el_ms"] / 1e3, 3),
            "p99_e2el_s": round(m["p99_e2el_ms"] / 1e3, 3),
            "mean_ttft_s": round(m["mean_ttft_ms"] / 1e3, 3),
            "p99_ttft_s": round(m["p99_ttft_ms"] / 1e3, 3),
            "mean_tpot_ms": round(m["mean_tpot_ms"], 2), "preemptions": m["preemptions"],
            "arrival_error_ms": round(m["arrival_error_ms"], 1), "cpu_s": round(cpu, 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trace", help="trace CSV path (or a bundled profile name)")
    ap.add_argument("--algos", default=DEFAULT_ALGOS)
    ap.add_argument("--rates", type=float, nargs="+", default=[0.5, 2.0])
    ap.add_argument("--noise", type=float, nargs="+", default=[0.0])
    ap.add_argument("--num-prompts", type=int, default=300)
    ap.add_argument("--gpu", default="h100")
    ap.add_argument("--model", default="llama3-70b")
    ap.add_argument("--tensor-parallel", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS / "serving")
    args = ap.parse_args(argv)
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    start = machine("at start")
    rows = []
    for noise in args.noise:
        for rate in args.rates:
            cells = [run_cell(args.trace, a, rate, noise, args) for a in algos]
            ref = cells[0]["mean_e2el_s"]
            for c in cells:
                c[f"e2el_vs_{algos[0]}"] = round(c["mean_e2el_s"] / ref, 3) if ref else None
                print(c, flush=True)
            rows += cells
    write_results(args.out, rows, [
        f"# Serving replay: {Path(args.trace).name}, {args.model} on {args.gpu}",
        "", "`python benchmarks/bench_serving.py TRACE " + " ".join(sys.argv[2:]) + "`"
        f" (TRACE = {Path(args.trace).name})",
        f"{args.num_prompts} requests, Poisson arrivals at each rate (seed {args.seed}); "
        "steps to seconds by lpsched/serving/steptime.py (docs/serving.md).",
        f"Machine: {start}; {load_average('at end')}."])
    return 0


if __name__ == "__main__":
    sys.exit(main())
