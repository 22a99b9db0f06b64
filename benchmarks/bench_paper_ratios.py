"""Measured ratios of the rules of issue 21 against proven optima, beside their guarantees.

Usage (from the repository root)::

    python benchmarks/bench_paper_ratios.py --trials 400 --out benchmarks/results/paper_ratios

For ``--trials`` random small instances per setting (seeded; numpy ``default_rng(seed)``)
every rule runs through :func:`lpsched.solve` (checked by the one checker) and its
objective is divided by the optimum of the independent branch-and-bound oracle
(``tests/oracle_bb.py``), or by H-SF (``mc-sf`` with exact lengths) where the paper
defines its ratio that way (A_max). Settings:

* ``batch``: offline, ``n <= 5``, ``M <= 20``, ``o <= 7`` (GSA, GBA, and the others);
* ``large``: the same with ``M`` = 4 n max(s + o) (the large-memory regime);
* ``library``: the bundled instances named by ``--library``, ratio to MC-SF (exact lengths);
* ``paper-chen``: identical prompts, one interval ``[l, u]`` holding every length
  (A_max against H-SF and the bound ``alpha^-1 (1 + alpha^-1) / 2``; A_min against the
  optimum), ``M = c (s + u)`` with ``c`` in 1..12.

The report lists the worst and mean ratio per rule and setting, with the proven bound.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import load_average, machine, write_results  # noqa: E402

from lpsched import solve  # noqa: E402
from lpsched.heuristics.robust import a_max_ratio_bound  # noqa: E402
from lpsched.instance import Instance  # noqa: E402
from tests.oracle_bb import bb_optimum  # noqa: E402

BOUNDS = {"gsa": (61.92, 32.0), "gba": (10.67, 6.75)}
RULES = ("gsa", "gba", "a-max", "a-min", "wait", "nested-wait", "mc-sf")


def _small(rng: np.random.Generator, large: bool) -> Instance:
    n = int(rng.integers(1, 6))
    M = int(rng.integers(4, 21))
    s = rng.integers(0, M - 1, n)
    o = np.array([int(rng.integers(1, min(7, M - si) + 1)) for si in s])
    if large:
        M = int(4 * n * (s + o).max())
    return Instance.from_arrays(M, s, o)


def _batch_rows(trials: int, seed: int, large: bool) -> list[dict]:
    rng = np.random.default_rng(seed)
    ratios: dict[str, list[float]] = {r: [] for r in RULES}
    for k in range(trials):
        inst = _small(rng, large)
        opt, _ = bb_optimum(inst.memory, inst.prefill.tolist(), inst.decode.tolist())
        for rule in RULES:
            kw = {"interval_accuracy": 0.5, "seed": k} if rule in ("a-max", "a-min") else {}
            ratios[rule].append(solve(inst, rule, **kw).objective / opt)
    setting = "large" if large else "batch"
    return [{"setting": setting, "rule": r, "against": "optimum", "trials": trials,
             "worst": round(max(v), 4), "mean": round(float(np.mean(v)), 4),
             "proven_bound": (BOUNDS[r][1 if large else 0] if r in BOUNDS else "-")}
            for r, v in ratios.items()]


def _chen_rows(trials: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    worst_max: dict[str, float] = {}
    a_min: dict[str, list[float]] = {}
    for _ in range(trials):
        n = int(rng.integers(1, 6))
        s, u = int(rng.integers(0, 4)), int(rng.integers(1, 9))
        lo = int(rng.integers(1, u + 1))
        c = int(rng.integers(1, 13))
        M = c * (s + u) + int(rng.integers(0, s + u))
        o = rng.integers(lo, u + 1, n)
        inst = Instance.from_arrays(M, [s] * n, o)
        iv = {"lower": [lo] * n, "upper": [u] * n}
        h_sf = solve(inst, "mc-sf").objective
        key = "c<6" if c < 6 else "c>=6"
        worst_max[key] = max(worst_max.get(key, 0.0),
                             solve(inst, "a-max", **iv).objective / h_sf / a_max_ratio_bound(lo / u))
        opt, _ = bb_optimum(M, [s] * n, o.tolist())
        band = f"log2(1/alpha) in [{int(np.log2(u / lo))}, {int(np.log2(u / lo)) + 1})"
        a_min.setdefault(band, []).append(solve(inst, "a-min", **iv).objective / opt)
    rows = [{"setting": f"paper-chen M={k}(s+u)", "rule": "a-max", "against": "H-SF / bound",
             "trials": trials, "worst": round(v, 4), "mean": "-", "proven_bound": 1.0}
            for k, v in sorted(worst_max.items())]
    rows += [{"setting": f"paper-chen {b}", "rule": "a-min", "against": "optimum",
              "trials": len(v), "worst": round(max(v), 4), "mean": round(float(np.mean(v)), 4),
              "proven_bound": "O(log 1/alpha)"} for b, v in sorted(a_min.items())]
    return rows


def _library_rows(names: list[str]) -> list[dict]:
    """Each rule on bundled library instances, as a ratio to MC-SF with exact lengths
    (no proven optimum at this size); A_max / A_min with intervals of accuracy 0.5."""
    from lpsched.library import load_instance

    rows = []
    for name in names:
        inst = load_instance(name)
        base = solve(inst, "mc-sf").objective
        for rule in RULES:
            kw = {"interval_accuracy": 0.5} if rule in ("a-max", "a-min") else {}
            t0 = time.perf_counter()
            res = solve(inst, rule, **kw)
            rows.append({"setting": f"library {name}", "rule": rule, "against": "mc-sf",
                         "trials": 1, "worst": round(res.objective / base, 4),
                         "mean": f"{time.perf_counter() - t0:.2f} s", "proven_bound": "-"})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--library", default="azure-b-n1000-m16384-s4,azure-b-n1000-m65536-s5,"
                    "azure-o-n200-m16384-s1", help="bundled instances (comma-separated; '' none)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/paper_ratios")
    args = ap.parse_args()
    start = machine("at start")
    rows = (_batch_rows(args.trials, args.seed, False) + _batch_rows(args.trials, args.seed, True)
            + _chen_rows(args.trials, args.seed)
            + _library_rows([x for x in args.library.split(",") if x]))
    pre = ["# Measured ratios of the rules of issue 21 against proven optima", "",
           f"Machine: {start}; {load_average('at end')}.",
           f"`python benchmarks/bench_paper_ratios.py --trials {args.trials} --seed {args.seed}`"
           " (docs/papers.md reads these numbers).", "",
           "A ratio is objective / optimum (branch and bound, tests/oracle_bb.py); for A_max "
           "against H-SF (mc-sf with exact lengths), divided by the paper's bound, so a value "
           "above 1 means the bound is exceeded. a-max / a-min in `batch` and `large` get "
           "intervals of accuracy 0.5 around the truth. `library` rows: one run per rule on a "
           "bundled instance, `worst` = objective / MC-SF's objective (exact lengths), `mean` = "
           "the rule's wall time (machine load above)."]
    write_results(args.out, rows, pre)


if __name__ == "__main__":
    main()
