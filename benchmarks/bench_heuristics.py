"""Benchmarks of the strong heuristics (issue 4): traces, scale, adversarial, synthetic optimum.

Subcommands (each writes ``benchmarks/results/heuristics_<name>.{md,csv}``):

* ``traces AZURE_CSV ARXIV_CSV``: paper-style comparison on backlogs mixing short
  conversations (Azure conv 2023) and long-document summarisation (arXiv), half
  of each, sampled without replacement from the real traces (the traces are not
  committed; give their paths). Average latency of every algorithm relative to
  the best lower bound available (``lpsched.models.bounds.lower_bound`` when
  present, else ``sum o_i``), and runtimes.
* ``scale AZURE_CSV ARXIV_CSV``: Sorted-F (both versions) and MC-SF on a
  100,000-request backlog: wall time.
* ``adversarial``: the families of :mod:`lpsched.adversarial` as ``M`` doubles:
  every baseline's objective over Sorted-F's and over the explicit upper bound
  on the optimum (so ``ALG/UB`` is a proven lower bound on ``ALG/OPT``).
* ``synthetic OPTIMA_CSV``: the MC-SF synthetic family
  (:func:`lpsched.generators.mcsf_synthetic`) against proven optima read from a
  CSV with columns ``n, seed, optimum`` (rows whose optimum is not proven must
  not be in it), e.g. written by the exact solvers' benchmark; or
  ``--solve-milp SECONDS`` to prove them here with ``solve(..., "milp")``
  (only ``optimal`` results are used).
* ``optimum``: the same family at small n (default 8-12) where optima can be
  proven (CP-SAT, then the MILP, 60 s each; ``optimal`` only), seeds visited
  round-robin within a wall-time budget: each algorithm's mean and worst ratio
  to the proven optimum (``heuristics_optimum.{md,csv}``).

Every schedule goes through :func:`lpsched.solve.solve`, i.e. is verified by the
shared checker.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import machine  # noqa: E402

from lpsched.adversarial import FAMILIES  # noqa: E402
from lpsched.generators import mcsf_synthetic  # noqa: E402
from lpsched.instance import Instance  # noqa: E402
from lpsched.solve import solve  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"




def read_lengths(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    s = np.array([int(float(r["num_prefill_tokens"])) for r in rows], dtype=np.int64)
    o = np.array([int(float(r["num_decode_tokens"])) for r in rows], dtype=np.int64)
    return s, o


def mixed_backlog(azure, arxiv, n: int, memory: int, seed: int) -> Instance:
    """``n`` requests, half from each trace (without replacement), shuffled, all at step 0."""
    rng = np.random.default_rng(seed)
    k = n // 2
    ia = rng.choice(azure[0].size, n - k, replace=False)
    ix = rng.choice(arxiv[0].size, k, replace=False)
    s = np.concatenate([azure[0][ia], arxiv[0][ix]])
    o = np.concatenate([azure[1][ia], arxiv[1][ix]])
    if np.any(s + o > memory):
        raise ValueError(f"{int(np.sum(s + o > memory))} sampled requests exceed M={memory}")
    perm = rng.permutation(n)
    return Instance.from_arrays(memory, s[perm], o[perm], name=f"mix-n{n}-M{memory}-s{seed}",
                                metadata={"source": "azure_conv_2023 + arxiv_summarization, "
                                          "50/50, sampled without replacement", "seed": seed})


def best_bound(inst: Instance, method: str) -> tuple[int, str]:
    try:
        from lpsched.models.bounds import lower_bound
    except ImportError:
        return int(inst.decode.sum()), "sum-decode"
    b = lower_bound(inst, method)
    return int(b.value), str(b.details.get("best_of", b.method))


def write(name: str, header: str, rows: list[dict], tables: list[str]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"heuristics_{name}.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    where = machine("at the end of the run")
    when = f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
    md = [header, "", f"Machine: {where}. Date: {when}.", "",
          f"Command: `python {' '.join(sys.argv)}`", ""]
    md += tables
    (RESULTS / f"heuristics_{name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


def md_table(cols: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(out)


# -- traces --------------------------------------------------------------------------------------
TRACE_ALGOS = ["fcfs", "sf", "size-first", "mc-sf", "sorted-f", "sorted-f-cont", "local-search",
               "sorted-lp", "lp-swap", "lp-horizon"]


def cmd_traces(args) -> None:
    az, ax = read_lengths(Path(args.azure)), read_lengths(Path(args.arxiv))
    limits = {k: int(v) for k, v in (x.split("=") for x in args.max_n)}
    rows = []
    for M in args.memory:
        for n in args.sizes:
            for seed in range(args.seeds):
                inst = mixed_backlog(az, ax, n, M, seed)
                t = time.perf_counter()
                lb, lb_kind = best_bound(inst, "best" if n <= args.lp_bound_max_n else
                                         "combinatorial")
                lb_time = time.perf_counter() - t
                for algo in args.algos:
                    if n > limits.get(algo, n):
                        continue
                    opts = {}
                    if algo == "local-search":
                        opts["time_limit"] = args.ls_time * max(1.0, n / 1000) ** 0.5
                    if algo == "lp-swap":
                        opts["swap_time"] = args.ls_time
                    res = solve(inst, algo, **opts)
                    if res.objective is None:
                        raise RuntimeError(f"{algo} failed on {inst.name}: {res.message}")
                    rows.append({"n": n, "M": M, "seed": seed, "algorithm": algo,
                                 "status": str(res.status), "objective": res.objective,
                                 "avg_latency": round(res.objective / n, 2),
                                 "lower_bound": lb, "lb_kind": lb_kind,
                                 "ratio_to_lb": round(res.objective / lb, 4),
                                 "runtime_s": round(res.runtime, 3),
                                 "lb_time_s": round(lb_time, 2)})
                    print(rows[-1], flush=True)
    algos = args.algos
    keys = sorted({(r["M"], r["n"]) for r in rows})

    def cell(M, n, a, field):
        v = [r[field] for r in rows if r["M"] == M and r["n"] == n and r["algorithm"] == a]
        if not v:
            return "-"
        return round(float(np.mean(v)), 3 if field == "ratio_to_lb" else 2)

    t1 = md_table(["M", "n", "LB kind"] + algos,
                  [[M, n, next(r["lb_kind"] for r in rows if r["M"] == M and r["n"] == n)]
                   + [cell(M, n, a, "ratio_to_lb") for a in algos] for M, n in keys])
    t2 = md_table(["M", "n"] + algos, [[M, n] + [cell(M, n, a, "runtime_s") for a in algos]
                                       for M, n in keys])
    t3 = md_table(["M", "n"] + algos, [[M, n] + [cell(M, n, a, "avg_latency") for a in algos]
                                       for M, n in keys])
    write("traces", "# Strong heuristics on mixed trace backlogs (Azure conv + arXiv summarisation)",
          rows, ["Average latency relative to the best lower bound (mean over seeds; 1.0 = "
                 "optimal):", "", t1, "", "Average latency (steps):", "", t3, "",
                 "Runtime (s):", "", t2])


# -- scale ---------------------------------------------------------------------------------------
def cmd_scale(args) -> None:
    az, ax = read_lengths(Path(args.azure)), read_lengths(Path(args.arxiv))
    rows = []
    rng = np.random.default_rng(0)
    for M in args.memory:
        # 100,000 > the traces' rows: sample with replacement here
        n = args.n
        ia = rng.integers(0, az[0].size, n - n // 2)
        ix = rng.integers(0, ax[0].size, n // 2)
        s = np.concatenate([az[0][ia], ax[0][ix]])
        o = np.concatenate([az[1][ia], ax[1][ix]])
        perm = rng.permutation(n)
        inst = Instance.from_arrays(M, s[perm], o[perm], name=f"scale-n{n}-M{M}")
        for algo in args.algos:
            res = solve(inst, algo)
            rows.append({"n": n, "M": M, "algorithm": algo, "status": str(res.status),
                         "avg_latency": round(res.objective / n, 1),
                         "runtime_s": round(res.runtime, 2)})
            print(rows[-1], flush=True)
    base = {r["M"]: r["avg_latency"] for r in rows if r["algorithm"] == "mc-sf"}
    t = md_table(["n", "M", "algorithm", "avg latency", "vs MC-SF", "runtime (s)"],
                 [[r["n"], r["M"], r["algorithm"], r["avg_latency"],
                   round(r["avg_latency"] / base[r["M"]], 3) if r["M"] in base else "",
                   r["runtime_s"]] for r in rows])
    write("scale", "# Scale: 100,000-request mixed backlog", rows,
          ["Requests sampled with replacement, half from each trace. Runtime is the "
           "algorithm's wall time as measured by `solve` (the checker's verification after "
           "it is not included).",
           "", t])


# -- adversarial -----------------------------------------------------------------------------
def cmd_adversarial(args) -> None:
    rows = []
    algos = ["fcfs", "sf", "size-first", "mc-sf", "sorted-f", "sorted-f-cont"]
    for fam, (gen, ub) in FAMILIES.items():
        for M in args.memory:
            inst = gen(M)
            objs = {a: solve(inst, a).objective for a in algos}
            for a in algos:
                rows.append({"family": fam, "M": M, "n": inst.n, "algorithm": a,
                             "objective": objs[a], "upper_bound_opt": ub(M),
                             "ratio_to_sorted_f": round(objs[a] / objs["sorted-f"], 3),
                             "ratio_to_ub": round(objs[a] / ub(M), 3)})
    tables = []
    for fam in FAMILIES:
        rs = [r for r in rows if r["family"] == fam]
        Ms = sorted({r["M"] for r in rs})
        tables += [f"## {fam}", "", "ALG / UB(OPT) (a proven lower bound on ALG / OPT):", "",
                   md_table(["M", "n"] + algos,
                            [[M, next(r["n"] for r in rs if r["M"] == M)]
                             + [next(r["ratio_to_ub"] for r in rs if r["M"] == M
                                     and r["algorithm"] == a) for a in algos] for M in Ms]), ""]
    write("adversarial", "# Adversarial families (lpsched.adversarial) as M doubles", rows,
          tables)


# -- synthetic against proven optima ------------------------------------------------------------
SYN_ALGOS = ["fcfs", "sf", "size-first", "mc-sf", "sorted-f", "sorted-f-cont", "local-search",
             "sorted-lp", "lp-swap", "lp-horizon"]


def cmd_synthetic(args) -> None:
    optima: dict[tuple[int, int], int] = {}
    if args.optima:
        with open(args.optima, newline="") as fh:
            for r in csv.DictReader(fh):
                if r.get("optimum") not in (None, ""):
                    optima[(int(r["n"]), int(r["seed"]))] = int(float(r["optimum"]))
    rows = []
    for n in args.sizes:
        for seed in range(args.seeds):
            inst = mcsf_synthetic(n, seed)
            opt = optima.get((n, seed))
            milp_note = ""
            results = {}
            for algo in args.algos:
                opts = {"time_limit": args.ls_time} if algo == "local-search" else {}
                results[algo] = solve(inst, algo, **opts)
            best_heur = min(r.objective for r in results.values())
            lb, lb_kind = best_bound(inst, args.bound)
            if opt is None and args.solve_dp:
                res = solve(inst, "dp", time_limit=args.solve_dp)
                milp_note = "dp " + str(res.status)
                if str(res.status) == "optimal":
                    opt = res.objective
            if opt is None and args.solve_milp:
                # warm start is the MILP's own business; we only use proven optima
                res = solve(inst, "milp", time_limit=args.solve_milp)
                milp_note = str(res.status)
                if str(res.status) == "optimal":
                    opt = res.objective
                elif res.lower_bound is not None:
                    lb = max(lb, int(np.ceil(res.lower_bound - 1e-9)))
                    lb_kind = "milp-bound"
            for algo, res in results.items():
                if opt is not None and res.objective < opt:
                    raise RuntimeError(f"{algo} beat the 'optimum' on n={n} seed={seed}")
                rows.append({"n": n, "seed": seed, "M": inst.memory, "algorithm": algo,
                             "objective": res.objective, "optimum": opt if opt else "",
                             "lower_bound": lb, "lb_kind": lb_kind, "milp": milp_note,
                             "ratio_to_opt": round(res.objective / opt, 5) if opt else "",
                             "ratio_to_lb": round(res.objective / lb, 5),
                             "ratio_to_best_heuristic": round(res.objective / best_heur, 5),
                             "runtime_s": round(res.runtime, 3)})
                print(rows[-1], flush=True)
    algos = args.algos
    tab_opt, tab_lb = [], []
    n_opt = len({(r["n"], r["seed"]) for r in rows if r["optimum"] != ""})
    n_all = len({(r["n"], r["seed"]) for r in rows})
    for a in algos:
        ra = [x for x in rows if x["algorithm"] == a]
        t = np.array([x["runtime_s"] for x in ra])
        ro = np.array([x["ratio_to_opt"] for x in ra if x["optimum"] != ""], dtype=float)
        if ro.size:
            tab_opt.append([a, ro.size, round(float(ro.mean()), 4), round(float(ro.max()), 4),
                            int(np.sum(ro == 1.0)), round(float(t.mean()), 3)])
        rl = np.array([x["ratio_to_lb"] for x in ra], dtype=float)
        rb = np.array([x["ratio_to_best_heuristic"] for x in ra], dtype=float)
        tab_lb.append([a, rl.size, round(float(rl.mean()), 4), round(float(rl.max()), 4),
                       round(float(rb.mean()), 4), int(np.sum(rb == 1.0)),
                       round(float(t.mean()), 3)])
    tables = [f"Instances: mcsf_synthetic(n, seed) for n in {args.sizes}, seeds "
              f"0..{args.seeds - 1} ({n_all} instances); proven optima for {n_opt} of them.", ""]
    if tab_opt:
        tables += ["Against the proven optimum (only instances with one):", "",
                   md_table(["algorithm", "instances", "mean ratio", "worst ratio", "optimal",
                             "mean runtime (s)"], tab_opt), ""]
    tables += ["Against the best lower bound (all instances; an upper bound on the ratio to "
               "the optimum) and against the best heuristic of the run:", "",
               md_table(["algorithm", "instances", "mean ALG/LB", "worst ALG/LB",
                         "mean ALG/best", "best on", "mean runtime (s)"], tab_lb)]
    write("synthetic" + (f"_{args.tag}" if args.tag else ""),
          "# MC-SF synthetic family against proven optima and lower bounds", rows, tables)


# -- against proven optima at small n --------------------------------------------------------
def prove(inst: Instance, provers: list[str], seconds: float, workers: int
          ) -> tuple[int | None, str, float]:
    """The optimum of ``inst`` if one of ``provers`` proves it (status ``optimal``) within
    ``seconds`` each; returns ``(optimum or None, which prover/statuses, seconds spent)``."""
    notes, spent = [], 0.0
    for name in provers:
        opts: dict = {"time_limit": seconds}
        if name == "cpsat":
            opts.update(num_workers=workers, seed=0)
        res = solve(inst, name, **opts)
        spent += res.runtime
        notes.append(f"{name}:{res.status}")
        if str(res.status) == "optimal":
            return int(res.objective), " ".join(notes), spent
    return None, " ".join(notes), spent


def cmd_optimum(args) -> None:
    """Each algorithm against the proven optimum on mcsf_synthetic(n, seed), small n.

    Seeds are visited round-robin over the sizes until ``--budget`` seconds of wall
    time are spent; an instance enters the table only if an exact solver proved its
    optimum (status ``optimal``); the others are counted and listed as unproven.
    """
    t_start = time.perf_counter()
    provers = [x.strip() for x in args.provers.split(",") if x.strip()]
    rows, unproven, proven = [], [], []
    for seed in range(args.max_seeds):
        for n in args.sizes:
            if time.perf_counter() - t_start > args.budget:
                break
            inst = mcsf_synthetic(n, seed)
            opt, note, spent = prove(inst, provers, args.prove_time, args.workers)
            print(f"n={n} seed={seed}: {note} opt={opt} ({spent:.1f} s)", flush=True)
            if opt is None:
                unproven.append((n, seed, note))
                continue
            proven.append((n, seed))
            for algo in args.algos:
                opts = {"time_limit": args.ls_time} if algo == "local-search" else {}
                res = solve(inst, algo, **opts)
                if res.objective < opt:
                    raise RuntimeError(f"{algo} beat the proven optimum on n={n} seed={seed}")
                rows.append({"n": n, "seed": seed, "M": inst.memory, "algorithm": algo,
                             "objective": res.objective, "optimum": opt, "proved_by": note,
                             "ratio_to_opt": round(res.objective / opt, 5),
                             "runtime_s": round(res.runtime, 3)})
    if not rows:
        raise RuntimeError("no optimum was proven: nothing to tabulate")
    algos = args.algos
    sizes = sorted({r["n"] for r in rows})
    tab = []
    for a in algos:
        ra = [x for x in rows if x["algorithm"] == a]
        ro = np.array([x["ratio_to_opt"] for x in ra])
        tab.append([a, ro.size, f"{ro.mean():.4f}", f"{ro.max():.4f}", int(np.sum(ro == 1.0)),
                    round(float(np.mean([x["runtime_s"] for x in ra])), 3)])
    per_n = []
    for a in algos:
        cells = []
        for n in sizes:
            ro = [x["ratio_to_opt"] for x in rows if x["algorithm"] == a and x["n"] == n]
            cells.append(f"{np.mean(ro):.4f} / {np.max(ro):.4f}")
        per_n.append([a] + cells)
    counts = {n: sum(1 for m, _ in proven if m == n) for n in sizes}
    tables = [
        f"Instances: `mcsf_synthetic(n, seed)` for n in {args.sizes}, seeds visited "
        f"round-robin from 0 until {args.budget:.0f} s of wall time were spent. Optimum proven "
        f"by {' then '.join(provers)} ({args.prove_time:.0f} s each, status `optimal` only; "
        f"CP-SAT with {args.workers} workers, seed 0): {len(proven)} instances "
        f"({', '.join(f'n={n}: {c}' for n, c in counts.items())}); not proven (left out): "
        f"{len(unproven)}" + (f" ({', '.join(f'n={n} s={s}' for n, s, _ in unproven)})"
                              if unproven else "") + ".",
        f"local-search ran with time_limit={args.ls_time} s (it stops earlier at a local "
        "optimum after its 20 kicks).", "",
        "Ratio ALG / proven optimum (all proven instances):", "",
        md_table(["algorithm", "instances", "mean ratio", "worst ratio", "optimal on",
                  "mean runtime (s)"], tab), "",
        "Per size, mean / worst ratio:", "",
        md_table(["algorithm"] + [f"n={n} ({counts[n]})" for n in sizes], per_n)]
    write("optimum" + (f"_{args.tag}" if args.tag else ""),
          "# Strong heuristics against proven optima (MC-SF synthetic family, small n)",
          rows, tables)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("traces")
    t.add_argument("azure", help="path of azure_conv_2023.csv")
    t.add_argument("arxiv", help="path of arxiv_summarization.csv")
    t.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    t.add_argument("--memory", type=int, nargs="+", default=[16492, 65536])
    t.add_argument("--seeds", type=int, default=1)
    t.add_argument("--algos", nargs="+", default=TRACE_ALGOS)
    t.add_argument("--ls-time", type=float, default=10.0)
    t.add_argument("--lp-bound-max-n", type=int, default=0,
                   help="use the LP-based 'best' bound up to this n (default: combinatorial only)")
    t.add_argument("--max-n", nargs="*", default=["lp-horizon=1000"],
                   help="skip ALGO above N requests, as ALGO=N")
    s = sub.add_parser("scale")
    s.add_argument("azure", help="path of azure_conv_2023.csv")
    s.add_argument("arxiv", help="path of arxiv_summarization.csv")
    s.add_argument("--n", type=int, default=100_000)
    s.add_argument("--memory", type=int, nargs="+", default=[16492, 65536])
    s.add_argument("--algos", nargs="+", default=["sorted-f", "sorted-f-cont", "mc-sf"])
    a = sub.add_parser("adversarial")
    a.add_argument("--memory", type=int, nargs="+", default=[2 ** k for k in range(4, 15)])
    y = sub.add_parser("synthetic")
    y.add_argument("optima", nargs="?")
    y.add_argument("--sizes", type=int, nargs="+", default=[40, 50, 60])
    y.add_argument("--seeds", type=int, default=10)
    y.add_argument("--solve-milp", type=float, default=0.0)
    y.add_argument("--solve-dp", type=float, default=0.0,
                   help="prove optima with the exact DP (tiny n only), time limit per instance")
    y.add_argument("--tag", default="", help="suffix of the result file names")
    y.add_argument("--algos", nargs="+", default=SYN_ALGOS)
    y.add_argument("--ls-time", type=float, default=5.0)
    y.add_argument("--bound", default="combinatorial",
                   help="lower_bound method (the LP-based 'best' adds little here and is slow)")
    o = sub.add_parser("optimum")
    o.add_argument("--sizes", type=int, nargs="+", default=[8, 9, 10, 11, 12])
    o.add_argument("--max-seeds", type=int, default=50)
    o.add_argument("--budget", type=float, default=900.0,
                   help="wall seconds after which no new instance is started")
    o.add_argument("--provers", default="cpsat,milp",
                   help="exact solvers tried in turn (registry names: cpsat, milp, dp)")
    o.add_argument("--prove-time", type=float, default=60.0)
    o.add_argument("--workers", type=int, default=2, help="CP-SAT num_workers")
    o.add_argument("--algos", nargs="+", default=SYN_ALGOS)
    o.add_argument("--ls-time", type=float, default=2.0)
    o.add_argument("--tag", default="")
    args = p.parse_args(argv)
    {"traces": cmd_traces, "scale": cmd_scale, "adversarial": cmd_adversarial,
     "synthetic": cmd_synthetic, "optimum": cmd_optimum}[args.cmd](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
