"""benchmarks/bench_serving.py end to end on a tiny trace: every file, paired ratios."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from tests.bench_scripts import load_script


def _trace(path, n, seed=0):
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["arrived_at", "num_prefill_tokens", "num_decode_tokens"])
        for k in range(n):
            w.writerow([0.1 * k, int(rng.integers(50, 3000)), int(rng.integers(2, 400))])


def test_sweep_writes_points_with_paired_spreads(tmp_path):
    bench = load_script("bench_serving")
    trace = tmp_path / "t.csv"
    _trace(trace, 3 * 30 + 40)
    out = tmp_path / "res" / "serving"
    assert bench.main(["--code", str(trace), "--deployments", "h200:llama3-8b",
                       "--algos", "vllm,fcfs,mc-sf", "--predictions", "0", "fitted",
                       "--rate-factors", "1.25", "--seeds", "0", "1", "2",
                       "--num-prompts", "30", "--fit-rows", "40", "--fit-buckets", "3",
                       "--out", str(out)]) == 0
    runs = list(csv.DictReader((tmp_path / "res" / "serving_runs.csv").open()))
    points = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert len(runs) == 3 * 2 * 3 and len(points) == 2 * 3  # seeds x predictions x algos
    assert {r["seed"] for r in runs} == {"0", "1", "2"}
    for p in points:
        assert p["seeds"] == "3"
        lo, mid, hi = (float(p[f"mean_e2el_s_vs_vllm{x}"]) for x in ("_min", "", "_max"))
        assert lo <= mid <= hi
        if p["algo"] == "vllm":
            assert lo == mid == hi == 1.0
        mine = [float(r["mean_e2el_s_vs_vllm"]) for r in runs
                if r["algo"] == p["algo"] and r["prediction"] == p["prediction"]]
        # the summary's mean of three 4-decimal ratios, rounded to 3 decimals
        assert mid == pytest.approx(np.mean(mine), abs=6e-4)
    md = out.with_suffix(".md").read_text()
    assert "max_num_batched_tokens 8192" in md and "| h200:llama3-8b | code |" in md


def test_too_few_rows_is_refused(tmp_path):
    bench = load_script("bench_serving")
    trace = tmp_path / "t.csv"
    _trace(trace, 50)
    with pytest.raises(SystemExit, match="only 0 rows after row 60"):
        bench.main(["--code", str(trace), "--deployments", "h200:llama3-8b", "--seeds", "0",
                    "1", "--num-prompts", "30", "--out", str(tmp_path / "s")])
