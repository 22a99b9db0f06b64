"""Plot the serving sweep of ``bench_serving.py`` and write its ratio tables.

Reads ``OUT.csv`` (one row per point: means over the seeds, ratios to ``vllm`` with their
min and max over the seeds) and ``OUT_runs.csv`` (one row per replay) beside it. Figures
(rows = deployments, columns = workloads, x = the rate factor, i.e. the Poisson rate over
the saturation estimate of each deployment, workload and seed):

* ``OUT_ratio_<pred>.png``: mean E2EL over ``vllm``'s (same seed), the mean over the seeds
  with a min-max bar, one line per policy, for each prediction setting of
  ``--predictions``;
* ``OUT_p99_ratio_exact.png``: the same for p99 E2EL with exact lengths;
* ``OUT_e2el_exact.png``: mean E2EL in seconds (log scale), a band from the lowest to the
  highest seed, exact lengths.

``--ratios FILE`` writes Markdown tables, one per (deployment, prediction, figure): a row per
(workload, policy), a column per rate factor, cells ``mean (min-max)``. Needs the ``plot``
extra (matplotlib).

Usage::

    python benchmarks/plot_serving.py benchmarks/results/serving.csv \\
        --ratios benchmarks/results/serving_ratios.md
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

STYLE = {"vllm": ("k", "-", "o"), "fcfs": ("tab:gray", "--", "s"),
         "mc-benchmark": ("tab:brown", ":", "x"), "alpha-protection": ("tab:purple", "-.", "^"),
         "mc-sf": ("tab:red", "-", "D"), "sorted-f-online": ("tab:blue", "-", "v"),
         "sorted-lp-online": ("tab:green", "--", "P"), "lp-swap-online": ("tab:olive", ":", "*")}
NAMES = {"mean_e2el_s": "mean E2EL", "p99_e2el_s": "p99 E2EL", "mean_ttft_s": "mean TTFT",
         "p99_ttft_s": "p99 TTFT", "mean_tpot_ms": "mean TPOT"}


def read(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def label(pred: str) -> str:
    if pred == "fitted":
        return "predicted by the prompt-length bucket mean (fitted on other rows)"
    return "exact lengths" if float(pred) == 0 else f"log-normal prediction error sigma = {pred}"


def tag(pred: str) -> str:
    return "exact" if pred != "fitted" and float(pred) == 0 else pred.replace(".", "")


def _grid(rows: list[dict]):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    deps = list(dict.fromkeys(r["deployment"] for r in rows))
    wls = list(dict.fromkeys(r["workload"] for r in rows))
    fig, axes = plt.subplots(len(deps), len(wls), figsize=(4.3 * len(wls), 2.9 * len(deps)),
                             squeeze=False, sharex=True)
    for i, d in enumerate(deps):
        for j, wl in enumerate(wls):
            ax = axes[i][j]
            ax.grid(True, which="both", alpha=0.3)
            tp = next(r["tp"] for r in rows if r["deployment"] == d)
            ax.set_title(f"{wl}: {d.replace(':', ', ')} x {tp}", fontsize=9)
            if i == len(deps) - 1:
                ax.set_xlabel("rate / saturation estimate")
    return fig, axes, deps, wls


def plot_ratio(rows: list[dict], key: str, pred: str, out: Path) -> bool:
    """Ratio to vllm (mean over seeds, min-max bars) against the rate factor."""
    sel = [r for r in rows if r["prediction"] == pred and r.get(f"{key}_vs_vllm")]
    if not sel:
        return False
    fig, axes, deps, wls = _grid(sel)
    algos = [a for a in dict.fromkeys(r["algo"] for r in sel) if a != "vllm"]
    for i, d in enumerate(deps):
        for j, wl in enumerate(wls):
            ax = axes[i][j]
            ax.axhline(1.0, color="k", lw=1, label="vllm")
            for k, a in enumerate(algos):
                pts = sorted((float(r["rate_factor"]), float(r[f"{key}_vs_vllm"]),
                              float(r[f"{key}_vs_vllm_min"]), float(r[f"{key}_vs_vllm_max"]))
                             for r in sel if r["deployment"] == d and r["workload"] == wl
                             and r["algo"] == a)
                if not pts:
                    continue
                x, y, lo, hi = zip(*pts)
                xd = [v * (1 + 0.012 * (k - len(algos) / 2)) for v in x]  # dodge the bars
                c, ls, mk = STYLE.get(a, (None, "-", "."))
                ax.errorbar(xd, y, yerr=[[m - v for m, v in zip(y, lo)],
                                        [v - m for m, v in zip(y, hi)]],
                            color=c, linestyle=ls, marker=mk, markersize=4, capsize=2,
                            lw=1, label=a)
            lo_y, hi_y = ax.get_ylim()  # at least 0.9-1.1: a 0.2% spread is no finding
            ax.set_ylim(min(lo_y, 0.9), max(hi_y, 1.1))
            if j == 0:
                ax.set_ylabel(f"{NAMES[key]} / vllm")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{NAMES[key]} over vllm's, same seed; mean over the seeds, bars min-max; "
                 f"{label(pred)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")
    return True


def plot_absolute(runs: list[dict], pred: str, out: Path) -> bool:
    """Mean E2EL (s) against the rate factor: the mean over the seeds and a min-max band."""
    import numpy as np

    sel = [r for r in runs if r["prediction"] == pred]
    if not sel:
        return False
    fig, axes, deps, wls = _grid(sel)
    algos = list(dict.fromkeys(r["algo"] for r in sel))
    for i, d in enumerate(deps):
        for j, wl in enumerate(wls):
            ax = axes[i][j]
            for a in algos:
                by: dict[float, list[float]] = {}
                for r in sel:
                    if r["deployment"] == d and r["workload"] == wl and r["algo"] == a:
                        by.setdefault(float(r["rate_factor"]), []).append(float(r["mean_e2el_s"]))
                if not by:
                    continue
                x = sorted(by)
                c, ls, mk = STYLE.get(a, (None, "-", "."))
                ax.plot(x, [np.mean(by[f]) for f in x], color=c, linestyle=ls, marker=mk,
                        markersize=4, label=a)
                ax.fill_between(x, [min(by[f]) for f in x], [max(by[f]) for f in x],
                                color=c, alpha=0.12)
            ax.set_yscale("log")
            if j == 0:
                ax.set_ylabel("mean E2EL (s)")
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"mean E2EL (s), mean over the seeds, band min-max; {label(pred)}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")
    return True


def ratio_tables(rows: list[dict], key: str, preds: list[str]) -> list[str]:
    """Markdown tables of ``key`` over ``vllm``'s: one per (deployment, prediction), a row
    per (workload, policy), a column per rate factor, cells ``mean (min-max)`` over seeds."""
    out: list[str] = []
    facs = sorted({float(r["rate_factor"]) for r in rows})
    for d in dict.fromkeys(r["deployment"] for r in rows):
        for pred in preds:
            sel = [r for r in rows if r["deployment"] == d and r["prediction"] == pred
                   and r["algo"] != "vllm" and r.get(f"{key}_vs_vllm")]
            if not sel:
                continue
            out += ["", f"{NAMES[key]} / vllm, {d}, {label(pred)}:", "",
                    "| workload | policy | " + " | ".join(f"{f:g} x sat" for f in facs) + " |",
                    "|---|---|" + "---|" * len(facs)]
            for wl in dict.fromkeys(r["workload"] for r in sel):
                for a in dict.fromkeys(r["algo"] for r in sel):
                    cells = {float(r["rate_factor"]): r for r in sel
                             if r["workload"] == wl and r["algo"] == a}
                    out.append(f"| {wl} | {a} | " + " | ".join(
                        f"{float(cells[f][key + '_vs_vllm']):.2f} "
                        f"({float(cells[f][key + '_vs_vllm_min']):.2f}-"
                        f"{float(cells[f][key + '_vs_vllm_max']):.2f})"
                        if f in cells else "-" for f in facs) + " |")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", type=Path, help="the summary CSV of bench_serving.py")
    ap.add_argument("--predictions", nargs="+", default=["0", "0.5", "fitted"])
    ap.add_argument("--ratios", type=Path, default=None,
                    help="write Markdown ratio tables (mean / p99 E2EL, mean TTFT vs vllm)")
    args = ap.parse_args(argv)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib missing (install the plot extra)", file=sys.stderr)
        return 2
    rows = read(args.csv)
    stem = args.csv.with_suffix("")
    for pred in args.predictions:
        plot_ratio(rows, "mean_e2el_s", pred, Path(f"{stem}_ratio_{tag(pred)}.png"))
    plot_ratio(rows, "p99_e2el_s", "0", Path(f"{stem}_p99_ratio_exact.png"))
    runs = stem.with_name(stem.name + "_runs.csv")
    if runs.exists():
        plot_absolute(read(runs), "0", Path(f"{stem}_e2el_exact.png"))
    if args.ratios:
        preds = list(dict.fromkeys(r["prediction"] for r in rows))
        lines = [f"# Ratios to vllm, per seed, mean (min-max) over the seeds (from "
                 f"{args.csv.name})"]
        for key in ("mean_e2el_s", "p99_e2el_s", "mean_ttft_s"):
            lines += ratio_tables(rows, key, preds)
        args.ratios.write_text("\n".join(lines) + "\n")
        print(f"wrote {args.ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
