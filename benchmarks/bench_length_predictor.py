"""The error of the default output-length predictor of the vLLM plugin, on the traces it was fitted to.

:class:`lpsched.integrations.predictor.ProfilePredictor` predicts a request's output length
as the median output length of the bundled profile's copula bin of its prompt length. This
script reads each trace (its path is an argument: third-party data, never shipped),
predicts every request from its prompt length with the profile of the same name, and
reports the error against the true output length, next to two baselines: the profile's
overall median (a constant) and, as the floor, the oracle (exact lengths, error 0).

    python benchmarks/bench_length_predictor.py azure_conv_2023=/path/azure_conv_2023.csv \\
        arxiv_summarization=/path/arxiv_summarization.csv

Writes ``benchmarks/results/length_predictor.md`` and ``.csv``. The figures are in-sample
(the profiles were derived from these traces): an upper bound on the quality to expect on
another workload of the same service.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS = Path(__file__).resolve().parent / "results"


def errors(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Mean and median absolute error (tokens), median relative error |p - o| / o, share of
    predictions within a factor 2 of the truth, and Spearman's rank correlation."""
    from scipy.stats import spearmanr

    err = np.abs(pred - true)
    ratio = pred / true
    rho = spearmanr(pred, true).statistic if np.ptp(pred) else float("nan")
    return {"mae_tokens": round(float(err.mean()), 1),
            "median_abs_error_tokens": float(np.median(err)),
            "median_rel_error": round(float(np.median(err / true)), 3),
            "within_2x_pct": round(100.0 * float(np.mean((ratio >= 0.5) & (ratio <= 2.0))), 1),
            "spearman_rho": round(float(rho), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("traces", nargs="+", help="PROFILE=PATH pairs (trace CSV, Vidur layout)")
    ap.add_argument("--out", type=Path, default=RESULTS / "length_predictor")
    args = ap.parse_args(argv)
    from common import machine, write_results

    from lpsched.errors import InstanceError
    from lpsched.integrations.predictor import ProfilePredictor
    from lpsched.traces import read_trace_columns

    rows = []
    for item in args.traces:
        name, sep, path = item.partition("=")
        if not sep:
            print(f"bench_length_predictor.py: {item!r}: expected PROFILE=PATH", file=sys.stderr)
            return 2
        try:
            cols = read_trace_columns(path, times=False)
        except InstanceError as exc:
            print(f"bench_length_predictor.py: {exc}", file=sys.stderr)
            return 2
        pred = ProfilePredictor(name)
        true = cols.decode.astype(np.float64)
        for label, p in (("profile conditional median (default)", pred.predict(cols.prefill)),
                         ("profile overall median (constant)",
                          np.full(true.size, float(pred.profile.stats["decode"]["p50"])))):
            rows.append({"trace": name, "requests": int(true.size), "predictor": label,
                         **errors(np.asarray(p, dtype=np.float64), true)})
    write_results(args.out, rows, [
        "# Default output-length predictor of the vLLM plugin: error on its traces",
        "",
        "`lpsched.integrations.predictor.ProfilePredictor` (median output length of the "
        "prompt length's copula bin of the bundled profile) against the true output "
        "lengths of the trace the profile was derived from (in-sample), by "
        "`benchmarks/bench_length_predictor.py`; the constant overall median for reference.",
        f"Machine: {machine()}.",
    ])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
