"""Plot the serving sweep of ``bench_serving.py``: latency (s) against the request rate.

One figure per prediction setting: columns = workloads (conv, arxiv, mix), rows = mean
E2EL, p99 E2EL, mean TTFT, p99 TTFT (seconds, log scale), one line per policy. Needs the
``plot`` extra (matplotlib).

Usage::

    python benchmarks/plot_serving.py benchmarks/results/serving.csv \\
        --predictions 0 0.5 fitted
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

METRICS = (("mean_e2el_s", "mean E2EL (s)"), ("p99_e2el_s", "p99 E2EL (s)"),
           ("mean_ttft_s", "mean TTFT (s)"), ("p99_ttft_s", "p99 TTFT (s)"))
STYLE = {"vllm": ("k", "-", "o"), "fcfs": ("tab:gray", "--", "s"),
         "mc-benchmark": ("tab:brown", ":", "x"), "alpha-protection": ("tab:purple", "-.", "^"),
         "mc-sf": ("tab:red", "-", "D"), "sorted-f-online": ("tab:blue", "-", "v"),
         "sorted-lp-online": ("tab:green", "--", "P"), "lp-swap-online": ("tab:olive", ":", "*")}


def read(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def label(pred: str) -> str:
    if pred == "fitted":
        return "predicted by the prompt-length bucket mean (fitted on other rows)"
    return "exact lengths" if float(pred) == 0 else f"log-normal prediction error sigma = {pred}"


def plot(rows: list[dict], pred: str, out: Path, deployment: str) -> bool:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    sel = [r for r in rows if r["prediction"] == pred]
    if not sel:
        return False
    wls = list(dict.fromkeys(r["workload"] for r in sel))
    algos = list(dict.fromkeys(r["algo"] for r in sel))
    fig, axes = plt.subplots(len(METRICS), len(wls), figsize=(4.2 * len(wls), 11),
                             squeeze=False, sharex="col")
    for j, wl in enumerate(wls):
        for i, (key, name) in enumerate(METRICS):
            ax = axes[i][j]
            for a in algos:
                pts = sorted((float(r["rate"]), float(r[key])) for r in sel
                             if r["workload"] == wl and r["algo"] == a)
                if not pts:
                    continue
                c, ls, mk = STYLE.get(a, (None, "-", "."))
                ax.plot(*zip(*pts), color=c, linestyle=ls, marker=mk, markersize=4, label=a)
            ax.set_yscale("log")
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.grid(True, which="both", alpha=0.3)
            if i == 0:
                ax.set_title(wl)
            if j == 0:
                ax.set_ylabel(name)
            if i == len(METRICS) - 1:
                ax.set_xlabel("Poisson request rate (req/s)")
    axes[0][0].legend(fontsize=7, loc="upper left")
    tp = sel[0]["tp"]
    fig.suptitle(f"{deployment}, tensor parallel {tp}: {label(pred)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print(f"wrote {out}")
    return True


def ratio_tables(rows: list[dict], key: str, preds: list[str]) -> list[str]:
    """Markdown tables of ``key`` over ``vllm``'s (same workload, prediction, rate): one
    row per (workload, policy), one column per rate factor."""
    out = []
    for pred in preds:
        sel = [r for r in rows if r["prediction"] == pred]
        facs = sorted({float(r["rate_factor"]) for r in sel})
        out += ["", f"{key} / vllm, {label(pred)}:", "",
                "| workload | policy | " + " | ".join(f"{f:g} x sat" for f in facs) + " |",
                "|---|---|" + "---|" * len(facs)]
        ref = {(r["workload"], float(r["rate_factor"])): float(r[key])
               for r in sel if r["algo"] == "vllm"}
        for wl in dict.fromkeys(r["workload"] for r in sel):
            for a in dict.fromkeys(r["algo"] for r in sel):
                cells = {float(r["rate_factor"]): float(r[key]) for r in sel
                         if r["workload"] == wl and r["algo"] == a}
                if a == "vllm" or not cells:
                    continue
                out.append(f"| {wl} | {a} | " + " | ".join(
                    f"{cells[f] / ref[(wl, f)]:.2f}" if f in cells and ref.get((wl, f))
                    else "-" for f in facs) + " |")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", type=Path)
    ap.add_argument("--predictions", nargs="+", default=["0", "0.5", "fitted"])
    ap.add_argument("--ratios", type=Path, default=None,
                    help="write Markdown ratio tables (mean / p99 E2EL, mean TTFT vs vllm)")
    ap.add_argument("--deployment", default="Llama-3-70B on H100, block size 16")
    args = ap.parse_args(argv)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib missing (install the plot extra)", file=sys.stderr)
        return 2
    rows = read(args.csv)
    for pred in args.predictions:
        tag = "exact" if pred != "fitted" and float(pred) == 0 else pred.replace(".", "")
        plot(rows, pred, args.csv.with_name(f"{args.csv.stem}_{tag}.png"), args.deployment)
    if args.ratios:
        lines = ["# Ratios to vllm (from " + args.csv.name + ")"]
        for key in ("mean_e2el_s", "p99_e2el_s", "mean_ttft_s", "p99_ttft_s"):
            lines += ratio_tables(rows, key, args.predictions)
        args.ratios.write_text("\n".join(lines) + "\n")
        print(f"wrote {args.ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
