"""The leaderboard of issue 21 item 4: every registered algorithm on one grid, one checker.

Usage (from the repository root; traces by path, never shipped)::

    python benchmarks/bench_leaderboard.py /path/to/azure_conv_2023.csv \
        /path/to/arxiv_summarization.csv --out benchmarks/results/leaderboard
    python benchmarks/bench_leaderboard.py --report-only   # tables + plots from the CSV

Every algorithm of ``lpsched algorithms`` runs through :func:`lpsched.solve` (so its
schedule is checked by the one checker) on

* ``study``: the library's study sets ``mcsf-n10-20``, ``mcsf-n20-30``, ``mcsf-n40-60``
  (``--study-per-set`` instances each, proven optima first); ratio to the proven optimum,
  else to the library's best known objective (or a better one found in this run), and
  to the library's best lower bound;
* ``trace``: backlogs and online traces sampled from the bundled profiles
  (:func:`lpsched.workloads.sample_instance`) and the first requests of the real traces
  given by path; ratio to ``lower_bound(method='best')`` (time-limited, ``--bound-time``);
* ``adversarial``: the families of :mod:`lpsched.adversarial`; ratio to the known optimum
  (or the best of the explicit upper bound and this run's schedules).

The policies (online rules) run at every prediction regime: ``exact``; ``ln0.2``,
``ln0.5``, ``ln0.8`` (log-normal noise ``o exp(sigma Z)``, the engine's
``prediction_noise``); ``iv0.5``, ``iv0.25``, ``iv0.1`` (intervals of accuracy ``alpha``
from :func:`lpsched.predictions.interval_predictions`: A_max / A_min get ``[l, u]``, the
point-prediction rules get the geometric midpoint ``round(sqrt(l u))``); ``none`` is the
exact run of a rule that reads no lengths (it is the same in every regime). The offline
algorithms see exact lengths. ``replay``: the online policies in seconds through
:func:`lpsched.serving.replay.replay` (vLLM V1 limits, Llama-3-70B on H100) on the first
``--replay-n`` requests of the Azure conversation trace at Poisson arrivals of
``--replay-load`` times a saturation estimate (``vllm``'s throughput on the backlog), with
mean E2EL and mean TTFT.

Search-based algorithms (``milp``, ``cpsat``, ``dp``, ``local-search``, the LP-guided ones)
get ``--search-time`` seconds, every other run ``--run-time`` seconds (a policy stopped by it
is drained: its status says ``time_limit``). Rows are appended to ``OUT.partial.csv`` as
they finish (a partial run is usable: ``--report-only`` builds the tables from it).
"""

from __future__ import annotations

import argparse
import csv
import functools
import math
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import appending_rows, load_average, machine  # noqa: E402

STUDY_SETS = ("mcsf-n10-20", "mcsf-n20-30", "mcsf-n40-60")
SEARCH = {"milp", "cpsat", "dp", "local-search", "sorted-lp", "lp-swap", "lp-horizon",
          "sorted-lp-online", "lp-swap-online"}
#: rules that read no decode lengths (their ``exact`` run is their ``none`` regime)
BLIND = {"alpha-protection", "alpha-beta-clearing", "vllm", "nested-wait", "gsa"}
INTERVAL_RULES = {"a-max", "a-min"}
REGIMES = ("exact", "ln0.2", "ln0.5", "ln0.8", "iv0.5", "iv0.25", "iv0.1")
FIELDS = ["section", "group", "instance", "n", "memory", "algorithm", "kind", "regime",
          "status", "objective", "ref", "ref_kind", "ratio", "bound", "ratio_bound",
          "restarts", "evictions", "time_s", "mean_e2el_ms", "mean_ttft_ms", "p99_e2el_ms"]


# -- instances (built in the workers, cached per process) ---------------------------------------


@functools.lru_cache(maxsize=64)
def _instance(key: str, traces: tuple[str, ...]) -> Any:
    """The instance named by ``key`` (see :func:`_instance_keys`)."""
    from lpsched import adversarial
    from lpsched.instance import Instance
    from lpsched.library import load_instance
    from lpsched.workloads import sample_instance

    kind, _, rest = key.partition(":")
    if kind == "lib":
        return load_instance(rest)
    if kind == "sample":  # profile,n,M,arrivals,seed
        prof, n, m, how, seed = rest.split(",")
        return sample_instance(prof, int(n), int(m), int(seed), arrivals=how,
                               name=f"{prof}-{how}-n{n}-m{m}-s{seed}")
    if kind == "trace":  # stem,n,M,online
        from lpsched.traces import read_trace_columns

        stem, n, m, online = rest.split(",")
        path = next(p for p in traces if Path(p).stem == stem)
        cols = read_trace_columns(path, limit=int(n), times=online == "1")
        keep = (cols.prefill + cols.decode) <= int(m)  # a request larger than M fits nowhere
        arr: np.ndarray | None = None
        if online == "1" and cols.times is not None:
            arr = np.floor((cols.times - cols.times.min()) / 0.025).astype(np.int64)[keep]
        return Instance.from_arrays(int(m), cols.prefill[keep], cols.decode[keep], arr,
                                    name=f"{stem}-{'online' if online == '1' else 'backlog'}"
                                    f"-n{int(keep.sum())}-m{m}")
    if kind == "adv":
        fam, arg = rest.split(",", 1)
        if fam == "sf-trap":
            return adversarial.sf_trap(int(arg))
        if fam == "size-trap":
            return adversarial.size_trap(int(arg))
        if fam == "restart-trap":
            return adversarial.restart_trap(int(arg))
        u, q = arg.split("/")
        return adversarial.interval_trap(int(u), int(q))[0]
    raise ValueError(key)


def _regime_options(inst: Any, algo: str, regime: str, seed: int, key: str) -> dict | None:
    """The solve options of ``algo`` at ``regime`` (None: the pair is not run)."""
    if regime == "exact":
        if key.startswith("adv:interval-trap") and algo in INTERVAL_RULES:
            u = int(key.split(",")[1].split("/")[0])
            return {"lower": [1] * inst.n, "upper": [u] * inst.n}
        return {}
    if algo in BLIND:
        return None
    if regime.startswith("ln"):
        return {"prediction_noise": float(regime[2:]), "seed": seed}
    from lpsched.predictions import interval_predictions

    iv = interval_predictions(inst, float(regime[2:]), seed)
    if algo in INTERVAL_RULES:
        return {"lower": iv.lower.tolist(), "upper": iv.upper.tolist()}
    mid = np.maximum(1, np.rint(np.sqrt(iv.lower * iv.upper.astype(np.float64))))
    return {"predictions": mid.astype(np.int64).tolist()}


def _solve_task(task: dict) -> dict:
    from lpsched import solve

    inst = _instance(task["key"], task["traces"])
    algo, regime = task["algorithm"], task["regime"]
    opts = _regime_options(inst, algo, regime, task["seed"], task["key"]) or {}
    seed = opts.pop("seed", task["seed"])
    t0 = time.perf_counter()
    restarts: int | str
    try:
        res = solve(inst, algo, time_limit=task["limit"], seed=seed, **opts)
        obj = res.objective
        status = res.status.value if hasattr(res.status, "value") else str(res.status)
        sched = res.schedule
        restarts = sum(len(v) for v in getattr(sched, "restarts", {}).values()) \
            if sched is not None and getattr(sched, "restarts", None) else 0
        ev = res.stats.get("evictions", res.stats.get("preemptions", "")) if res.stats else ""
    except Exception as exc:  # noqa: BLE001 - a crash is a leaderboard row, not a stop
        obj, status, restarts, ev = None, f"raised {type(exc).__name__}: {exc}"[:120], "", ""
    return {**task["row"], "algorithm": algo, "regime": "none" if algo in BLIND else regime,
            "status": status, "objective": obj, "restarts": restarts, "evictions": ev,
            "time_s": round(time.perf_counter() - t0, 3)}


def _bound_task(task: dict) -> dict:
    from lpsched.models.bounds import lower_bound

    inst = _instance(task["key"], task["traces"])
    t0 = time.perf_counter()
    b = lower_bound(inst, "best", time_limit=task["limit"])
    return {**task["row"], "algorithm": "lower_bound(best)", "regime": "-",
            "status": str(b.details.get("source", "")), "objective": int(math.ceil(b.value - 1e-6)),
            "time_s": round(time.perf_counter() - t0, 3)}


@functools.lru_cache(maxsize=4)
def _workload(path: str, n: int, load: float, seed: int) -> Any:
    from lpsched.serving.replay import load_workload, poisson_arrivals, replay

    w = load_workload(path, num_prompts=n, rate=1e4, seed=seed)
    sat = replay(w, "vllm").metrics
    rate = load * float(sat["request_throughput"])
    from lpsched.serving.replay import Workload

    return Workload(w.name, w.ids, w.prefill, w.decode, poisson_arrivals(n, rate, seed),
                    f"poisson rate={rate:.3g}")


def _replay_task(task: dict) -> dict:
    from lpsched.serving.replay import replay

    w = _workload(task["path"], task["n"], task["load"], task["seed"])
    algo, regime = task["algorithm"], task["regime"]
    kw: dict[str, Any] = {}
    if regime.startswith("ln"):
        kw["prediction_noise"], kw["seed"] = float(regime[2:]), task["seed"]
    elif regime.startswith("iv"):
        from lpsched.instance import Instance
        from lpsched.predictions import interval_predictions

        inst = Instance.from_arrays(10**9, w.prefill, w.decode)
        iv = interval_predictions(inst, float(regime[2:]), task["seed"])
        if algo in INTERVAL_RULES:
            kw["options"] = {"lower": iv.lower.tolist(), "upper": iv.upper.tolist()}
        else:
            kw["predictions"] = np.maximum(1, np.rint(np.sqrt(iv.lower * iv.upper.astype(
                np.float64)))).astype(np.int64)
    t0 = time.perf_counter()
    try:
        m = replay(w, algo, time_limit=task["limit"], **kw).metrics
        out = {"status": m["status"], "mean_e2el_ms": round(m["mean_e2el_ms"], 1),
               "mean_ttft_ms": round(m["mean_ttft_ms"], 1),
               "p99_e2el_ms": round(m["p99_e2el_ms"], 1), "evictions": m["preemptions"],
               "n": w.n, "memory": m["memory"]}
    except Exception as exc:  # noqa: BLE001
        out = {"status": f"raised {type(exc).__name__}: {exc}"[:120]}
    return {**task["row"], "algorithm": algo, "regime": "none" if algo in BLIND else regime,
            **out, "time_s": round(time.perf_counter() - t0, 3)}


def _run(task: dict) -> dict:
    return {"solve": _solve_task, "bound": _bound_task, "replay": _replay_task}[task["fn"]](task)


# -- the grid ------------------------------------------------------------------------------------


def _spread(items: list, k: int) -> list:
    """``k`` items of ``items`` at evenly spaced positions (all of them when ``k >= len``)."""
    if k <= 0 or not items:
        return []
    if k >= len(items):
        return list(items)
    return [items[int(j)] for j in np.linspace(0, len(items) - 1, k).round()]


def _study_keys(per_set: int) -> list[tuple[str, str]]:
    from lpsched.library import instance_files, read_json

    out = []
    for s in STUDY_SETS:
        insts = [read_json(p) for p in instance_files(s)]
        proven = [i for i in insts if i.metadata.get("optimum") is not None]
        rest = [i for i in insts if i.metadata.get("optimum") is None]
        # proven first, spread over the file order (which is by n)
        pick = _spread(proven, per_set)
        pick += _spread(rest, per_set - len(pick))
        out += [(s, f"lib:{i.name}") for i in pick]
    return out


def _trace_keys(traces: list[str], n: int) -> list[tuple[str, str]]:
    keys = [("backlog", f"sample:azure_conv_2023,{n},16384,offline,1"),
            ("backlog", f"sample:arxiv_summarization,{n // 2},65536,offline,2"),
            ("online", f"sample:azure_conv_2023,{n},16384,trace-rate,3")]
    for p in traces:
        stem = Path(p).stem
        if "azure" in stem:
            keys.append(("online", f"trace:{stem},{n},16384,1"))
        else:
            keys.append(("backlog", f"trace:{stem},{n // 2},65536,0"))
    return keys


ADV_KEYS = [("adversarial", "adv:sf-trap,64"), ("adversarial", "adv:size-trap,64"),
            ("adversarial", "adv:restart-trap,6"), ("adversarial", "adv:interval-trap,8/4")]


def _tasks(args: argparse.Namespace, algos: list[tuple[str, str]]) -> list[dict]:
    traces = tuple(args.traces)
    tasks: list[dict] = []
    sections = [("study", g, k) for g, k in _study_keys(args.study_per_set)] \
        + [("trace", g, k) for g, k in _trace_keys(args.traces, args.trace_n)] \
        + [("adversarial", g, k) for g, k in ADV_KEYS]
    for sec, group, key in sections:
        inst = _instance(key, traces)
        row = {"section": sec, "group": group, "instance": inst.name, "n": inst.n,
               "memory": inst.memory}
        base = {"key": key, "traces": traces, "row": row, "seed": 0}
        if sec == "trace":
            tasks.append({**base, "fn": "bound", "limit": args.bound_time})
        for algo, kind in algos:
            regimes = REGIMES if kind == "policy" and sec != "adversarial" else ("exact",)
            for reg in regimes:
                if _regime_options(inst, algo, reg, 0, key) is None:
                    continue
                limit = args.search_time if algo in SEARCH else args.run_time
                tasks.append({**base, "fn": "solve", "algorithm": algo, "regime": reg,
                              "limit": limit, "row": {**row, "kind": kind}})
    azure = [p for p in args.traces if "azure" in Path(p).stem]
    if azure and args.replay_n > 0:
        for algo, kind in algos:
            if kind != "policy":
                continue
            for reg in ("exact", "ln0.5", "iv0.25"):
                if reg != "exact" and algo in BLIND:
                    continue
                tasks.append({"fn": "replay", "path": azure[0], "n": args.replay_n,
                              "load": args.replay_load, "seed": 0, "algorithm": algo,
                              "regime": reg, "limit": args.replay_time,
                              "row": {"section": "replay", "group": f"x{args.replay_load:g}",
                                      "instance": f"{Path(azure[0]).stem}-first{args.replay_n}",
                                      "kind": kind}})
    return tasks


def run(args: argparse.Namespace) -> None:
    from lpsched import registry

    algos = [(s.name, s.kind) for s in registry.specs()]
    if args.algos:
        want = set(args.algos.split(","))
        algos = [a for a in algos if a[0] in want]
    tasks = _tasks(args, algos)
    # slow first so the two workers end together; replays last (they need the workload)
    tasks.sort(key=lambda t: (t["fn"] == "replay", -(t.get("limit") or 0)))
    part = args.out.with_suffix(".partial.csv")
    part.parent.mkdir(parents=True, exist_ok=True)
    if part.exists():
        part.unlink()
    start = machine("at start")
    print(f"{len(tasks)} tasks, {args.jobs} workers; {start}", flush=True)
    t0 = time.perf_counter()
    with appending_rows(part, FIELDS) as out, ProcessPoolExecutor(args.jobs) as pool:
        futs = [pool.submit(_run, t) for t in tasks]
        for k, f in enumerate(as_completed(futs), 1):
            row = f.result()
            out.writerow({c: row.get(c, "") for c in FIELDS})
            if k % 100 == 0:
                print(f"{k}/{len(tasks)} after {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"done in {time.perf_counter() - t0:.0f} s; {load_average('at end')}")
    args.meta = (f"Machine: {start}; run of {time.perf_counter() - t0:.0f} s with "
                 f"{args.jobs} workers, {load_average('at end')} (2 cores shared with other "
                 "work: times are indicative).")


# -- the report ----------------------------------------------------------------------------------


def _num(x: str) -> float | None:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _add_refs(rows: list[dict]) -> None:
    """Fill ``ref``, ``ref_kind``, ``ratio``, ``bound``, ``ratio_bound`` per section."""
    from lpsched.library import load_instance

    by_inst: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_inst[r["instance"]].append(r)
    for name, rs in by_inst.items():
        sec = rs[0]["section"]
        if sec == "replay":
            continue
        # only schedules of the model itself: a run whose memory guard evicted requests
        # resumed them with their progress kept (a preemptive relaxation), so it is no
        # reference for the non-preemptive optimum
        objs = [v for r in rs if r["algorithm"] != "lower_bound(best)"
                and str(r.get("evictions") or "0") in ("0", "0.0")
                and (v := _num(r["objective"])) is not None]
        best_run = min(objs) if objs else None
        bound, ref, kind = None, None, "best in run"
        if sec == "study":
            md = load_instance(name).metadata
            bound = md.get("lower_bound")
            if md.get("optimum") is not None:
                ref, kind = md["optimum"], "optimum"
            else:
                ref, kind = md["best_known"], "best known"
                if best_run is not None and best_run < ref:
                    ref, kind = best_run, "best in run (beats library)"
        elif sec == "trace":
            b = [_num(r["objective"]) for r in rs if r["algorithm"] == "lower_bound(best)"]
            bound = b[0] if b else None
            ref, kind = bound, "bound"
        else:
            from lpsched.adversarial import sf_trap_upper_bound, size_trap_upper_bound

            M = int(rs[0]["memory"])
            if name.startswith("restart-trap"):
                ref, kind = M, "optimum"
            elif name.startswith("interval-trap"):
                ref, kind = int(rs[0]["n"]), "optimum"
            else:
                ub = (sf_trap_upper_bound if name.startswith("sf") else size_trap_upper_bound)(M)
                ref, kind = min(ub, best_run or ub), "best known (explicit UB or run)"
        for r in rs:
            if r["algorithm"] == "lower_bound(best)":
                continue
            v = _num(r["objective"])
            r["ref"], r["ref_kind"], r["bound"] = ref, kind, bound
            r["ratio"] = round(v / ref, 4) if v is not None and ref else ""
            r["ratio_bound"] = round(v / bound, 4) if v is not None and bound else ""


def _vals(xs: Any) -> list[float]:
    """The numbers among ``xs`` (CSV cells), positive ones only."""
    return [x for x in (_num(v) for v in xs) if x is not None and x > 0]


def _gmean(xs: list[float]) -> float:
    return float(np.exp(np.mean(np.log(xs)))) if xs else float("nan")


def _fmt(x: float | None, d: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}f}"


def _headline(rows: list[dict], algos: list[str]) -> list[str]:
    """One row per algorithm at its natural regime (exact, or none for the blind rules)."""
    cols = [("study", "mcsf-n10-20"), ("study", "mcsf-n20-30"), ("study", "mcsf-n40-60"),
            ("trace", "backlog"), ("trace", "online"), ("adversarial", "adversarial")]
    head = ["algorithm", "kind", "regime", "n10-20 vs opt", "n20-30 vs best", "n40-60 vs best",
            "backlog vs bound", "online vs bound", "adversarial worst", "replay E2EL / vllm",
            "errors", "refused", "stopped by limit"]
    rep = {r["algorithm"]: _num(r["mean_e2el_ms"]) for r in rows
           if r["section"] == "replay" and r["regime"] in ("exact", "none")}
    base = rep.get("vllm")
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for a in algos:
        mine = [r for r in rows if r["algorithm"] == a and r["regime"] in ("exact", "none")
                and r["section"] != "replay"]
        if not mine:
            continue
        cells = [a, mine[0]["kind"], mine[0]["regime"]]
        for sec, grp in cols:
            xs = _vals(r["ratio"] for r in mine if r["section"] == sec and r["group"] == grp)
            cells.append(_fmt(max(xs) if sec == "adversarial" and xs else _gmean(xs)
                              if xs else None))
        e = rep.get(a)
        cells.append(_fmt(e / base) if e is not None and base else "-")
        st = [str(r["status"]) for r in rows if r["algorithm"] == a]
        refused = sum(1 for x in st if x.startswith("raised UnsupportedInstance"))
        bad = sum(1 for x in st if x in ("error", "") or x.startswith("raised")) - refused
        limited = sum(1 for x in st if x in ("time_limit", "drained"))
        cells += [str(bad), str(refused), str(limited)]
        out.append("| " + " | ".join(cells) + " |")
    return out


def _regime_table(rows: list[dict], section: str, key: str, how: str) -> list[str]:
    pol = sorted({r["algorithm"] for r in rows if r["section"] == section
                  and r["kind"] == "policy"})
    regs = ["exact", *REGIMES[1:], "none"]
    out = ["| policy | " + " | ".join(regs) + " |", "|" + "---|" * (len(regs) + 1)]
    vbase = None
    if section == "replay":
        vb = _vals(r[key] for r in rows if r["section"] == "replay" and r["algorithm"] == "vllm")
        vbase = vb[0] if vb else None
    for a in pol:
        cells = []
        for g in regs:
            xs = _vals(r[key] for r in rows if r["section"] == section and r["algorithm"] == a
                       and r["regime"] == g)
            if section == "replay" and xs and vbase:
                xs = [x / vbase for x in xs]
            cells.append(_fmt(_gmean(xs)) if xs else "")
        out.append(f"| {a} | " + " | ".join(cells) + " |")
    _ = how
    return out


def _instance_table(rows: list[dict], section: str) -> list[str]:
    """Ratio per algorithm (exact or none regime) and instance of ``section``."""
    names = sorted({r["instance"] for r in rows if r["section"] == section})
    algos = list(dict.fromkeys(r["algorithm"] for r in rows if r["section"] == section
                               and r["algorithm"] != "lower_bound(best)"))
    cell = {(r["algorithm"], r["instance"]): r["ratio"] for r in rows if r["section"] == section
            and r["regime"] in ("exact", "none")}
    refs = {r["instance"]: f'{r["ref_kind"]} {r["ref"]}' for r in rows
            if r["section"] == section and r.get("ref")}
    out = ["| algorithm | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1),
           "| *reference* | " + " | ".join(refs.get(x, "-") for x in names) + " |"]
    out += [f"| {a} | " + " | ".join(str(cell.get((a, x), "")) for x in names) + " |"
            for a in algos]
    return out


def _plots(rows: list[dict], out: Path, algos: list[str]) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    groups = [("study", "mcsf-n10-20"), ("study", "mcsf-n40-60"), ("trace", "backlog"),
              ("trace", "online")]
    fig, axes = plt.subplots(1, len(groups), figsize=(18, 8), sharey=True)
    for ax, (sec, grp) in zip(axes, groups):
        for k, a in enumerate(algos):  # one fixed row per algorithm in every panel
            xs = _vals(r["ratio"] for r in rows if r["algorithm"] == a and r["section"] == sec
                       and r["group"] == grp and r["regime"] in ("exact", "none"))
            if xs:
                ax.boxplot([xs], positions=[k], orientation="horizontal", widths=0.6)
        ax.set_xscale("log")
        ax.set_title(f"{sec} {grp}")
        ax.set_xlabel("objective / reference (log)")
    axes[0].set_yticks(range(len(algos)), algos)
    axes[0].set_ylim(-1, len(algos))
    fig.tight_layout()
    p = out.parent / f"{out.name}_ratios.png"
    fig.savefig(p, dpi=80)
    plt.close(fig)
    made.append(p.name)
    fig, ax = plt.subplots(figsize=(9, 6))
    regs = ["exact", *REGIMES[1:]]
    pol = sorted({r["algorithm"] for r in rows if r["section"] == "trace" and r["kind"] == "policy"
                  and r["regime"] != "none"})
    cmap = plt.get_cmap("tab20")
    for k, a in enumerate(pol):
        ys = []
        for g in regs:
            xs = _vals(r["ratio"] for r in rows if r["section"] == "trace" and r["algorithm"] == a
                       and r["regime"] == g)
            ys.append(_gmean(xs) if xs else np.nan)
        ax.plot(regs, ys, marker="os^vD"[k % 5], color=cmap(k % 20), label=a)
    ax.set_yscale("log")
    ax.set_ylabel("objective / best bound (geometric mean, trace instances)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    p = out.parent / f"{out.name}_regimes.png"
    fig.savefig(p, dpi=80)
    plt.close(fig)
    made.append(p.name)
    return made


def report(args: argparse.Namespace) -> None:
    from lpsched import registry

    algos = [s.name for s in registry.specs()]
    part = args.out.with_suffix(".partial.csv")
    src = part if part.exists() else args.out.with_suffix(".csv")
    with src.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    _add_refs(rows)
    with args.out.with_suffix(".csv").open("w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=FIELDS)
        wr.writeheader()
        wr.writerows({c: r.get(c, "") for c in FIELDS} for r in rows)
    plots = _plots(rows, args.out, algos)
    md = args.out.with_suffix(".md")
    from common import hand_written_block

    kept = hand_written_block(md)
    meta = getattr(args, "meta", None) or next(
        (ln for ln in (md.read_text().splitlines() if md.exists() else [])
         if ln.startswith("Machine:")), "Machine: see the previous run.")
    insts = sorted({(r["section"], r["group"], r["instance"], r["n"], r["memory"]) for r in rows
                    if r["section"] != "replay"})
    cmd = f"`python benchmarks/bench_leaderboard.py TRACES... {args.cmdline}`"
    if args.report_only and md.exists():  # keep the command of the run that made the rows
        cmd = next((ln.split(" (", 1)[0] for ln in md.read_text().splitlines()
                    if ln.startswith("`python benchmarks/bench_leaderboard.py")), cmd)
    lines = ["# Leaderboard: every registered algorithm on one grid, one checker", "", meta,
             f"{cmd} ({len(rows)} rows in `leaderboard.csv`; docs/leaderboard.md describes "
             "the grid).",
             "", *kept, "",
             "## Headline: each algorithm at exact lengths (or none, for rules that read none)",
             "", "Geometric mean of objective / reference per group; `adversarial worst` is the "
             "largest ratio over the families; `replay E2EL / vllm` is the mean end-to-end "
             "latency in seconds relative to `vllm` (exact lengths). Reference: study sets: "
             "the proven optimum (n10-20, proven instances) or the best known objective; "
             "traces: `lower_bound('best')`.", "", *_headline(rows, algos), "",
             "## Trace instances, each algorithm at exact lengths (objective / best bound)", "",
             *_instance_table(rows, "trace"), "",
             "## Adversarial families (objective / optimum or best known)", "",
             *_instance_table(rows, "adversarial"), "",
             "## Policies by prediction regime, trace instances (objective / best bound)", "",
             *_regime_table(rows, "trace", "ratio", "gmean"), "",
             "## Policies by prediction regime, study sets (objective / optimum or best known)",
             "", *_regime_table(rows, "study", "ratio", "gmean"), "",
             "## Policies by prediction regime, in seconds (mean E2EL / vllm's)", "",
             *_regime_table(rows, "replay", "mean_e2el_ms", "ratio"), "",
             "## Policies by prediction regime, in seconds (mean TTFT / vllm's)", "",
             *_regime_table(rows, "replay", "mean_ttft_ms", "ratio"), "",
             "## Instances", "", "| section | group | instance | n | M |", "|---|---|---|---|---|",
             *[f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in insts], "",
             *(f"![{p}]({p})" for p in plots)]
    md.write_text("\n".join(lines) + "\n")
    print(f"wrote {md}, {args.out.with_suffix('.csv')} and {', '.join(plots)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("traces", nargs="*", help="trace CSVs (Azure conversation, arXiv summaries)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/leaderboard")
    ap.add_argument("--study-per-set", type=int, default=8)
    ap.add_argument("--trace-n", type=int, default=1000)
    ap.add_argument("--search-time", type=float, default=2.0)
    ap.add_argument("--run-time", type=float, default=10.0)
    ap.add_argument("--bound-time", type=float, default=30.0)
    ap.add_argument("--replay-n", type=int, default=400)
    ap.add_argument("--replay-load", type=float, default=1.0)
    ap.add_argument("--replay-time", type=float, default=20.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--algos", default="", help="comma-separated subset (default: all)")
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    args.cmdline = " ".join(a for a in sys.argv[1:] if not a.endswith(".csv"))
    if not args.report_only:
        run(args)
    report(args)


if __name__ == "__main__":
    main()
