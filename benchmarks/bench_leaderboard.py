"""The leaderboard of issue 21 item 4: every registered algorithm on one grid, one checker.

Usage (from the repository root; traces by path, never shipped)::

    python benchmarks/bench_leaderboard.py /path/to/azure_conv_2023.csv \
        /path/to/arxiv_summarization.csv --out benchmarks/results/leaderboard
    python benchmarks/bench_leaderboard.py TRACES... --only gsa,gba   # rerun two, merge
    python benchmarks/bench_leaderboard.py --report-only   # tables + plots from the CSV

Every algorithm of ``lpsched algorithms`` runs through :func:`lpsched.solve` (so its
schedule is checked by the one checker) on

* ``study``: the library's study sets ``mcsf-n10-20``, ``mcsf-n20-30``, ``mcsf-n40-60``
  (all their instances, or ``--study-per-set`` each, proven optima first); ratio to the
  proven optimum, else to the library's best known objective (or a better one found in
  this run), and to the library's best lower bound;
* ``trace``: backlogs and online traces sampled from the bundled profiles
  (:func:`lpsched.workloads.sample_instance`) and the first requests of the real traces
  given by path; ratio to ``lower_bound(method='best')`` (time-limited, ``--bound-time``);
* ``adversarial``: the families of :mod:`lpsched.adversarial` at several sizes; ratio to
  the known optimum (or the best of the explicit upper bound and this run's schedules).

The policies (online rules) run at every prediction regime: ``exact``; ``ln0.2``,
``ln0.5``, ``ln0.8`` (log-normal noise ``o exp(sigma Z)``, the engine's
``prediction_noise``, ``--seeds`` draws each); ``iv0.5``, ``iv0.25``, ``iv0.1`` (intervals
of accuracy ``alpha`` from :func:`lpsched.predictions.interval_predictions`,
``--interval-seeds`` draws each: A_max / A_min get ``[l, u]``, the point-prediction rules
the geometric midpoint ``round(sqrt(l u))``); ``none`` is the exact run of a rule that
reads no lengths (it is the same in every regime). The offline algorithms see exact
lengths. ``replay``: the online policies in seconds through
:func:`lpsched.serving.replay.replay` (vLLM V1 limits, Llama-3-70B on H100) on the first
``--replay-n`` requests of every trace given, at Poisson arrivals of each of
``--replay-loads`` times a saturation estimate (``vllm``'s throughput on the backlog),
regimes :data:`REPLAY_REGIMES` (``--replay-seeds`` draws), with mean E2EL, mean TTFT and
p99 E2EL.

Search-based algorithms (:data:`SEARCH`) get ``--search-time`` seconds, every other run
``--run-time`` seconds, unless ``--limits`` names the algorithm (a policy stopped by its
limit is drained: its status says ``time_limit``); their rows depend on the machine's
load, which each row records (``load1``).

Resumable: each row is keyed by (algorithm, instance, regime, seed, options) (:func:`key`;
``options`` holds the time limit and, for replays, the load). A run reuses the rows of
``OUT.csv`` and ``OUT.partial.csv`` (appended as tasks finish) whose key is in the grid
and runs only the missing ones; ``--only A,B`` reruns every row of those algorithms
(``bound``: the trace instances' lower bounds) and merges them into the others;
``--fresh`` ignores the cache. Rows outside the grid are dropped. Each run is recorded in
``OUT_runs.csv`` (machine, load, command), and each row names its run.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import functools
import math
import os
import shlex
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import appending_rows, hand_written_block, load_average, machine  # noqa: E402

STUDY_SETS = ("mcsf-n10-20", "mcsf-n20-30", "mcsf-n40-60")
SEARCH = {"milp", "cpsat", "dp", "local-search", "sorted-lp", "lp-swap", "lp-horizon",
          "sorted-lp-online", "lp-swap-online"}
#: rules that read no decode lengths (their ``exact`` run is their ``none`` regime)
BLIND = {"alpha-protection", "alpha-beta-clearing", "vllm", "nested-wait", "gsa"}
INTERVAL_RULES = {"a-max", "a-min"}
REGIMES = ("exact", "ln0.2", "ln0.5", "ln0.8", "iv0.5", "iv0.25", "iv0.1")
REPLAY_REGIMES = ("exact", "ln0.2", "ln0.5", "ln0.8", "iv0.25")
#: the adversarial families and sizes: (family, argument) for :func:`_instance`
ADV_FAMILIES = (("sf-trap", "16"), ("sf-trap", "64"), ("sf-trap", "256"),
                ("size-trap", "16"), ("size-trap", "64"), ("size-trap", "256"),
                ("restart-trap", "4"), ("restart-trap", "6"), ("restart-trap", "8"),
                ("interval-trap", "4/4"), ("interval-trap", "8/4"), ("interval-trap", "16/2"))
KEY = ("algorithm", "instance", "regime", "seed", "options")
#: the name ``--only`` takes for the trace instances' lower bounds (rows ``lower_bound(best)``)
BOUND = "bound"
FIELDS = ["section", "group", "instance", "n", "memory", "algorithm", "kind", "regime", "seed",
          "options", "status", "objective", "ref", "ref_kind", "ratio", "bound", "ratio_bound",
          "restarts", "evictions", "time_s", "mean_e2el_ms", "mean_ttft_ms", "p99_e2el_ms",
          "run", "load1"]
RUN_FIELDS = ["run", "command", "machine", "load_end", "seconds", "jobs", "rows_run",
              "rows_reused"]


def key(row: dict) -> tuple[str, ...]:
    """The cache key of a row: (algorithm, instance, regime, seed, options), as strings."""
    return tuple(str(row.get(c, "")) for c in KEY)


# -- instances (built in the workers, cached per process) ---------------------------------------


@functools.lru_cache(maxsize=256)
def _instance(key: str, traces: tuple[str, ...]) -> Any:
    """The instance named by ``key`` (see :func:`_trace_keys`, :data:`ADV_FAMILIES`)."""
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
        return _trace_instance(rest, traces)
    if kind == "adv":
        return _adversarial(*rest.split(",", 1))
    raise ValueError(key)


def _trace_instance(rest: str, traces: tuple[str, ...]) -> Any:
    """The first ``n`` requests of a trace given by path (``stem,n,M,online``)."""
    from lpsched.instance import Instance
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


def _adversarial(family: str, arg: str) -> Any:
    """One instance of :mod:`lpsched.adversarial` (its name carries the size)."""
    from lpsched import adversarial

    if family == "interval-trap":
        u, q = arg.split("/")
        return adversarial.interval_trap(int(u), int(q))[0]
    make = {"sf-trap": adversarial.sf_trap, "size-trap": adversarial.size_trap,
            "restart-trap": adversarial.restart_trap}[family]
    return make(int(arg))


def _midpoints(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """The geometric midpoints ``max(1, round(sqrt(l u)))`` of intervals ``[l, u]``."""
    return np.maximum(1, np.rint(np.sqrt(lower * upper.astype(np.float64)))).astype(np.int64)


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
    return {"predictions": _midpoints(iv.lower, iv.upper).tolist()}


def _solve_task(task: dict) -> dict:
    from lpsched import solve

    inst = _instance(task["key"], task["traces"])
    row = task["row"]
    algo, seed = row["algorithm"], int(row["seed"])
    opts = _regime_options(inst, algo, task["regime"], seed, task["key"]) or {}
    seed = opts.pop("seed", seed)
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
    return {**row, "status": status, "objective": obj, "restarts": restarts, "evictions": ev,
            "time_s": round(time.perf_counter() - t0, 3)}


def _bound_task(task: dict) -> dict:
    from lpsched.models.bounds import lower_bound

    inst = _instance(task["key"], task["traces"])
    t0 = time.perf_counter()
    b = lower_bound(inst, "best", time_limit=task["limit"])
    return {**task["row"], "status": str(b.details.get("source", "")),
            "objective": int(math.ceil(b.value - 1e-6)),
            "time_s": round(time.perf_counter() - t0, 3)}


@functools.lru_cache(maxsize=8)
def _saturation(path: str, n: int, seed: int) -> tuple[Any, float]:
    """The backlog workload of ``path`` and ``vllm``'s request throughput on it (req/s)."""
    from lpsched.serving.replay import load_workload, replay

    w = load_workload(path, num_prompts=n, rate=1e4, seed=seed)
    return w, float(replay(w, "vllm").metrics["request_throughput"])


@functools.lru_cache(maxsize=16)
def _workload(path: str, n: int, load: float, seed: int) -> Any:
    """The workload of :func:`_saturation` at Poisson arrivals of ``load`` x its throughput."""
    from lpsched.serving.replay import Workload, poisson_arrivals

    w, sat = _saturation(path, n, seed)
    rate = load * sat
    return Workload(w.name, w.ids, w.prefill, w.decode, poisson_arrivals(n, rate, seed),
                    f"poisson rate={rate:.3g}")


def _replay_kwargs(w: Any, algo: str, regime: str, seed: int) -> dict[str, Any]:
    """``replay``'s prediction arguments for ``regime`` (as :func:`_regime_options`)."""
    if regime.startswith("ln"):
        return {"prediction_noise": float(regime[2:]), "seed": seed}
    if not regime.startswith("iv"):
        return {}
    from lpsched.instance import Instance
    from lpsched.predictions import interval_predictions

    inst = Instance.from_arrays(10**9, w.prefill, w.decode)
    iv = interval_predictions(inst, float(regime[2:]), seed)
    if algo in INTERVAL_RULES:
        return {"options": {"lower": iv.lower.tolist(), "upper": iv.upper.tolist()}}
    return {"predictions": _midpoints(iv.lower, iv.upper)}


def _replay_task(task: dict) -> dict:
    from lpsched.serving.replay import replay

    w = _workload(task["path"], task["n"], task["load"], 0)
    row = task["row"]
    kw = _replay_kwargs(w, row["algorithm"], task["regime"], int(row["seed"]))
    t0 = time.perf_counter()
    try:
        m = replay(w, row["algorithm"], time_limit=task["limit"], **kw).metrics
        out = {"status": m["status"], "mean_e2el_ms": round(m["mean_e2el_ms"], 1),
               "mean_ttft_ms": round(m["mean_ttft_ms"], 1),
               "p99_e2el_ms": round(m["p99_e2el_ms"], 1), "evictions": m["preemptions"],
               "n": w.n, "memory": m["memory"]}
    except Exception as exc:  # noqa: BLE001
        out = {"status": f"raised {type(exc).__name__}: {exc}"[:120]}
    return {**row, **out, "time_s": round(time.perf_counter() - t0, 3)}


def _run(task: dict) -> dict:
    row = {"solve": _solve_task, "bound": _bound_task, "replay": _replay_task}[task["fn"]](task)
    return {**row, "load1": round(os.getloadavg()[0], 2)}


# -- the grid ------------------------------------------------------------------------------------


def _spread(items: list, k: int) -> list:
    """``k`` items of ``items`` at evenly spaced positions (all of them when ``k >= len``)."""
    if k <= 0 or not items:
        return []
    if k >= len(items):
        return list(items)
    return [items[int(j)] for j in np.linspace(0, len(items) - 1, k).round()]


def _study_keys(per_set: int) -> list[tuple[str, str]]:
    """(set, key) of the study instances: all (``per_set <= 0``) or ``per_set`` a set."""
    from lpsched.library import instance_files, read_json

    out = []
    for s in STUDY_SETS:
        insts = [read_json(p) for p in instance_files(s)]
        if per_set > 0:  # proven first, spread over the file order (which is by n)
            proven = [i for i in insts if i.metadata.get("optimum") is not None]
            rest = [i for i in insts if i.metadata.get("optimum") is None]
            insts = _spread(proven, per_set)
            insts += _spread(rest, per_set - len(insts))
        out += [(s, f"lib:{i.name}") for i in insts]
    return out


def _trace_keys(traces: Iterable[str], n: int) -> list[tuple[str, str]]:
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


def _seeds(regime: str, args: argparse.Namespace, replay: bool = False) -> range:
    """The seeds of ``regime``: one for ``exact``, ``--seeds`` / ``--interval-seeds`` (or
    ``--replay-seeds`` in seconds) for the noisy ones."""
    if regime == "exact":
        return range(1)
    if replay:
        return range(args.replay_seeds)
    return range(args.seeds if regime.startswith("ln") else args.interval_seeds)


def _sections(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    want = set(args.sections.split(","))
    out: list[tuple[str, str, str]] = []
    if "study" in want:
        out += [("study", g, k) for g, k in _study_keys(args.study_per_set)]
    if "trace" in want:
        out += [("trace", g, k) for g, k in _trace_keys(args.traces, args.trace_n)]
    if "adversarial" in want:
        out += [("adversarial", "adversarial", f"adv:{f},{a}") for f, a in ADV_FAMILIES]
    return out


def _step_tasks(args: argparse.Namespace, algos: list[tuple[str, str]], run: str) -> list[dict]:
    """Solve (and bound) tasks of the study, trace and adversarial sections."""
    traces = tuple(args.traces)
    tasks: list[dict] = []
    for sec, group, ikey in _sections(args):
        inst = _instance(ikey, traces)
        row = {"section": sec, "group": group, "instance": inst.name, "n": inst.n,
               "memory": inst.memory, "run": run, "seed": 0}
        base = {"key": ikey, "traces": traces}
        if sec == "trace":
            tasks.append({**base, "fn": "bound", "limit": args.bound_time, "regime": "-",
                          "row": {**row, "algorithm": "lower_bound(best)", "regime": "-",
                                  "options": f"limit={args.bound_time:g}"}})
        for algo, kind in algos:
            limit = args.limits.get(algo, args.search_time if algo in SEARCH else args.run_time)
            regimes = REGIMES if kind == "policy" and sec != "adversarial" else ("exact",)
            for reg in regimes:
                if reg != "exact" and algo in BLIND:
                    continue
                tasks += [{**base, "fn": "solve", "limit": limit, "regime": reg,
                           "row": {**row, "algorithm": algo, "kind": kind, "seed": s,
                                   "regime": "none" if algo in BLIND else reg,
                                   "options": f"limit={limit:g}"}}
                          for s in _seeds(reg, args)]
    return tasks


def _replay_tasks(args: argparse.Namespace, algos: list[tuple[str, str]], run: str
                  ) -> list[dict]:
    """Replay tasks: every policy, trace given and load, at :data:`REPLAY_REGIMES`."""
    if args.replay_n <= 0 or "replay" not in args.sections.split(","):
        return []
    tasks = []
    for path in args.traces:
        for load in args.replay_loads:
            row = {"section": "replay", "group": f"x{load:g}", "kind": "policy", "run": run,
                   "instance": f"{Path(path).stem}-first{args.replay_n}",
                   "options": f"load={load:g};limit={args.replay_time:g}"}
            for algo in (a for a, k in algos if k == "policy"):
                regs = ("exact",) if algo in BLIND else REPLAY_REGIMES
                tasks += [{"fn": "replay", "path": path, "n": args.replay_n, "load": load,
                           "regime": reg, "limit": args.replay_time,
                           "row": {**row, "algorithm": algo, "seed": s,
                                   "regime": "none" if algo in BLIND else reg}}
                          for reg in regs for s in _seeds(reg, args, replay=True)]
    return tasks


def _cost(task: dict) -> float:
    """A guess of a task's seconds, to start the long ones first."""
    if task["fn"] == "bound" or task["row"]["algorithm"] in SEARCH:
        return float(task["limit"])
    return 1.0 if task["fn"] == "replay" else 0.1


# -- the cache and the run -----------------------------------------------------------------------


def read_rows(path: Path) -> list[dict]:
    """The rows of a leaderboard CSV (``[]`` when it does not exist)."""
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def cached(out: Path) -> dict[tuple[str, ...], dict]:
    """The rows of ``OUT.csv`` then ``OUT.partial.csv`` by :func:`key` (the later row wins)."""
    rows = read_rows(out.with_suffix(".csv")) + read_rows(out.with_suffix(".partial.csv"))
    return {key(r): r for r in rows}


def _algorithms(names: str) -> list[tuple[str, str]]:
    """(name, kind) of the registered algorithms, or of ``names`` (comma-separated)."""
    from lpsched import registry

    algos = [(s.name, s.kind) for s in registry.specs()]
    if not names:
        return algos
    want = _names(names)
    return [a for a in algos if a[0] in want]


def _names(names: str) -> set[str]:
    """The algorithm names of a comma-separated list (unknown names: SystemExit, status 2)."""
    from lpsched import registry

    want = {x.strip() for x in names.split(",") if x.strip()}
    bad = sorted(want - {s.name for s in registry.specs()} - {BOUND})
    if bad:
        print(f"bench_leaderboard: unknown algorithm(s) {', '.join(bad)} "
              "(see `lpsched algorithms`)", file=sys.stderr)
        raise SystemExit(2)
    return want


def todo(tasks: list[dict], cache: dict, only: set[str],
         sections: Iterable[str] | None = None) -> list[dict]:
    """The tasks to run: without ``only`` the ones missing from ``cache``; with it every task
    of those algorithms (``bound``: the trace instances' lower bounds) in ``sections`` (all
    when None) and missing bounds, which the ratios need."""
    within = set(sections) if sections is not None else None

    def wanted(t: dict) -> bool:
        missing = key(t["row"]) not in cache
        if only:
            is_bound = t["fn"] == "bound"
            chosen = t["row"]["algorithm"] in only or (is_bound and BOUND in only)
            return (missing and is_bound) or (
                chosen and (within is None or t["row"]["section"] in within))
        return missing
    return [t for t in tasks if wanted(t)]


def _execute(tasks: list[dict], jobs: int, part: Path) -> dict[tuple[str, ...], dict]:
    """Run ``tasks`` (``jobs`` processes; in this one when 1), rows appended to ``part``."""
    new: dict[tuple[str, ...], dict] = {}
    t0 = time.perf_counter()
    with appending_rows(part, FIELDS) as out:
        def keep(row: dict) -> None:
            new[key(row)] = row
            out.writerow({c: row.get(c, "") for c in FIELDS})
            if len(new) % 500 == 0:
                print(f"{len(new)}/{len(tasks)} after {time.perf_counter() - t0:.0f} s; "
                      f"{load_average('now')}", flush=True)
        if jobs == 1:
            for t in tasks:
                keep(_run(t))
            return new
        with ProcessPoolExecutor(jobs) as pool:
            for f in as_completed([pool.submit(_run, t) for t in tasks]):
                keep(f.result())
    return new


def run(args: argparse.Namespace) -> list[dict]:
    """Run the grid's missing (or ``--only``) rows; return the grid's rows, merged."""
    _names(",".join(args.limits))  # unknown names in --limits: exit 2
    run_id = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    algos = _algorithms(args.algos)
    tasks = _step_tasks(args, algos, run_id) + _replay_tasks(args, algos, run_id)
    part = args.out.with_suffix(".partial.csv")
    part.parent.mkdir(parents=True, exist_ok=True)
    if args.fresh and part.exists():
        part.unlink()
    cache = {} if args.fresh else cached(args.out)
    only = _names(args.only) if args.only else set()
    within = args.only_sections.split(",") if args.only_sections else None
    run_now = sorted(todo(tasks, cache, only, within), key=lambda t: -_cost(t))
    start = machine("at start")
    print(f"{len(tasks)} grid rows, {len(run_now)} to run, {args.jobs} workers; {start}",
          flush=True)
    t0 = time.perf_counter()
    new = _execute(run_now, args.jobs, part)
    secs = time.perf_counter() - t0
    print(f"done in {secs:.0f} s; {load_average('at end')}")
    rows = [r for t in tasks if (r := new.get(key(t["row"])) or cache.get(key(t["row"])))]
    missing = len(tasks) - len(rows)
    if missing:
        print(f"{missing} grid rows missing (run without --only to fill them)")
    _record_run(args, {"run": run_id, "command": args.cmdline, "machine": start,
                       "load_end": load_average("at end"), "seconds": round(secs),
                       "jobs": args.jobs, "rows_run": len(new),
                       "rows_reused": len(rows) - len(new)})
    return rows


def _record_run(args: argparse.Namespace, rec: dict) -> None:
    p = args.out.parent / f"{args.out.name}_runs.csv"
    with appending_rows(p, RUN_FIELDS) as out:
        out.writerow(rec)


# -- the report ----------------------------------------------------------------------------------


def _num(x: Any) -> float | None:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _exact(x: float | None) -> Any:
    """``x`` as an int when it is one (objectives and bounds are integers)."""
    return int(x) if x is not None and float(x).is_integer() else x


def _no_evictions(r: dict) -> bool:
    return str(r.get("evictions") or "0") in ("0", "0.0")


def _reference(name: str, sec: str, rs: list[dict]) -> tuple[Any, str, Any]:
    """(reference, its kind, bound) of instance ``name`` of section ``sec``."""
    from lpsched.adversarial import sf_trap_upper_bound, size_trap_upper_bound
    from lpsched.library import load_instance

    # only schedules of the model itself: a run whose memory guard evicted requests
    # resumed them with their progress kept (a preemptive relaxation), so it is no
    # reference for the non-preemptive optimum
    objs = [v for r in rs if r["algorithm"] != "lower_bound(best)" and _no_evictions(r)
            and (v := _num(r["objective"])) is not None]
    best_run = min(objs) if objs else None
    if sec == "study":
        md = load_instance(name).metadata
        if md.get("optimum") is not None:
            return md["optimum"], "optimum", md.get("lower_bound")
        if best_run is not None and best_run < md["best_known"]:
            return _exact(best_run), "best in run (beats library)", md.get("lower_bound")
        return md["best_known"], "best known", md.get("lower_bound")
    if sec == "trace":
        b = [_num(r["objective"]) for r in rs if r["algorithm"] == "lower_bound(best)"]
        return (_exact(b[0]) if b else None), "bound", (_exact(b[0]) if b else None)
    M = int(rs[0]["memory"])
    if name.startswith("restart-trap"):
        return M, "optimum", None
    if name.startswith("interval-trap"):
        return int(rs[0]["n"]), "optimum", None
    proven = [v for r in rs if r["status"] == "optimal" and _no_evictions(r)
              and (v := _num(r["objective"])) is not None]
    if proven:  # an exact solver proved it in this run
        return _exact(min(proven)), "optimum (proven in run)", None
    ub = (sf_trap_upper_bound if name.startswith("sf") else size_trap_upper_bound)(M)
    return _exact(min(ub, best_run or ub)), "best known (explicit UB or run)", None


def _add_refs(rows: list[dict]) -> None:
    """Fill ``ref``, ``ref_kind``, ``ratio``, ``bound``, ``ratio_bound`` per section."""
    by_inst: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        if r["section"] != "replay":
            by_inst[r["instance"]].append(r)
    for name, rs in by_inst.items():
        ref, kind, bound = _reference(name, rs[0]["section"], rs)
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


def _natural(r: dict) -> bool:
    """A run at the algorithm's own regime: exact lengths, or none for a blind rule."""
    return r["regime"] in ("exact", "none")


def seconds_ratios(rows: list[dict], col: str) -> dict[tuple[str, str, str], list[float]]:
    """Replay ``col`` relative to ``vllm``'s in the same setting (trace, load), as lists
    over the settings by (algorithm, regime, seed)."""
    base = {(r["instance"], r["group"]): _num(r[col]) for r in rows
            if r["section"] == "replay" and r["algorithm"] == "vllm"}
    out: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in rows:
        b, v = base.get((r["instance"], r["group"])), _num(r[col])
        if r["section"] == "replay" and b and v:
            out[(r["algorithm"], r["regime"], str(r["seed"]))].append(v / b)
    return out


def step_ratios(rows: list[dict], section: str) -> dict[tuple[str, str, str], list[float]]:
    """Ratios of ``section``'s rows as lists over its instances by (algorithm, regime, seed)."""
    out: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in rows:
        if r["section"] == section and (v := _num(r.get("ratio"))) and v > 0:
            out[(r["algorithm"], r["regime"], str(r["seed"]))].append(v)
    return out


def seed_cell(by: dict[tuple[str, str, str], list[float]], algo: str, regime: str) -> str:
    """Mean over the seeds of the geometric mean of each seed's ratios, with the seeds'
    range when there are several: ``1.168 (1.160-1.181)``."""
    means = [_gmean(v) for (a, g, _), v in sorted(by.items()) if a == algo and g == regime]
    if not means:
        return ""
    m = float(np.mean(means))
    return _fmt(m) if len(means) == 1 else f"{m:.3f} ({min(means):.3f}-{max(means):.3f})"


def _status_counts(rows: list[dict], algo: str) -> list[str]:
    """[errors, refused, stopped by a limit] over every row of ``algo``."""
    st = [str(r["status"]) for r in rows if r["algorithm"] == algo]
    refused = sum(1 for x in st if x.startswith("raised UnsupportedInstance"))
    bad = sum(1 for x in st if x in ("error", "") or x.startswith("raised")) - refused
    limited = sum(1 for x in st if x in ("time_limit", "drained"))
    return [str(bad), str(refused), str(limited)]


def _headline(rows: list[dict], algos: list[str]) -> list[str]:
    """One row per algorithm at its natural regime (exact, or none for the blind rules)."""
    cols = [("study", "mcsf-n10-20"), ("study", "mcsf-n20-30"), ("study", "mcsf-n40-60"),
            ("trace", "backlog"), ("trace", "online"), ("adversarial", "adversarial")]
    head = ["algorithm", "kind", "regime", "n10-20 vs opt", "n20-30 vs best", "n40-60 vs best",
            "backlog vs bound", "online vs bound", "adversarial worst", "replay E2EL / vllm",
            "errors", "refused", "stopped by limit"]
    sec = seconds_ratios(rows, "mean_e2el_ms")
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for a in algos:
        mine = [r for r in rows if r["algorithm"] == a and _natural(r)
                and r["section"] != "replay"]
        if not mine:
            continue
        cells = [a, mine[0]["kind"], mine[0]["regime"]]
        for s, grp in cols:
            xs = _vals(r["ratio"] for r in mine if r["section"] == s and r["group"] == grp)
            cells.append(_fmt(max(xs) if s == "adversarial" and xs else _gmean(xs)
                              if xs else None))
        cells.append(seed_cell(sec, a, mine[0]["regime"]) or "-")
        out.append("| " + " | ".join(cells + _status_counts(rows, a)) + " |")
    return out


def _regime_table(by: dict[tuple[str, str, str], list[float]], regimes: Iterable[str],
                  policies: list[str]) -> list[str]:
    """``policies`` by regime: :func:`seed_cell` of ``by``."""
    regs = [*regimes, "none"]
    out = ["| policy | " + " | ".join(regs) + " |", "|" + "---|" * (len(regs) + 1)]
    for a in policies:
        out.append(f"| {a} | " + " | ".join(seed_cell(by, a, g) for g in regs) + " |")
    return out


def _policies(rows: list[dict], section: str) -> list[str]:
    return sorted({r["algorithm"] for r in rows if r["section"] == section
                   and r["kind"] == "policy"})


def _replay_settings(rows: list[dict]) -> list[str]:
    """Each replay setting (trace, load) at the natural regime: E2EL / TTFT / p99 to vllm."""
    sets = sorted({(r["instance"], r["group"]) for r in rows if r["section"] == "replay"})
    base = {(r["instance"], r["group"]): r for r in rows
            if r["section"] == "replay" and r["algorithm"] == "vllm"}
    head = [f"{i} {g}" for i, g in sets]
    out = ["| policy | " + " | ".join(head) + " |", "|" + "---|" * (len(head) + 1),
           "| *vllm (s): E2EL / TTFT / p99* | " + " | ".join(
               " / ".join(_fmt((_num(base[s][c]) or 0) / 1e3, 1) for c in
                          ("mean_e2el_ms", "mean_ttft_ms", "p99_e2el_ms"))
               if s in base else "-" for s in sets) + " |"]
    cell = {(r["algorithm"], r["instance"], r["group"]): r for r in rows
            if r["section"] == "replay" and _natural(r)}
    for a in _policies(rows, "replay"):
        cs = []
        for s in sets:
            r, b = cell.get((a, *s)), base.get(s)
            vals = [(_num(r[c]), _num(b[c])) for c in ("mean_e2el_ms", "mean_ttft_ms",
                                                        "p99_e2el_ms")] if r and b else []
            cs.append(" / ".join(_fmt(v / w if v and w else None, 2) for v, w in vals)
                      + (f" ({r['evictions']} pre.)" if r and r.get("evictions") not in
                         ("", "0", None) else ""))
        out.append(f"| {a} | " + " | ".join(cs) + " |")
    return out


def _steps_vs_seconds(rows: list[dict]) -> list[str]:
    """Policies at their natural regime: online-trace ratio (steps) against replay E2EL /
    vllm (seconds), with the rank of each."""
    online = {r["instance"] for r in rows if r["section"] == "trace" and r["group"] == "online"}
    st = {a: _gmean(_vals(r["ratio"] for r in rows if r["algorithm"] == a and _natural(r)
                          and r["instance"] in online)) for a in _policies(rows, "replay")}
    sec = seconds_ratios(rows, "mean_e2el_ms")
    p99 = seconds_ratios(rows, "p99_e2el_ms")
    se = {a: _gmean(v) for (a, g, _), v in sec.items() if g in ("exact", "none")}
    ok = [a for a in st if not math.isnan(st[a]) and a in se]
    rs = {a: k for k, a in enumerate(sorted(ok, key=lambda a: st[a]), 1)}
    rt = {a: k for k, a in enumerate(sorted(ok, key=lambda a: se[a]), 1)}
    out = ["| policy | online traces, steps (obj / bound) | rank | replay E2EL / vllm "
           "(seconds) | rank | replay p99 E2EL / vllm |", "|---|---|---|---|---|---|"]
    for a in sorted(ok, key=lambda a: rt[a]):
        g = "none" if a in BLIND else "exact"
        out.append(f"| {a} | {_fmt(st[a])} | {rs[a]} | {_fmt(se[a])} | {rt[a]} | "
                   f"{seed_cell(p99, a, g)} |")
    return out


def _instance_table(rows: list[dict], section: str) -> list[str]:
    """Ratio per algorithm (exact or none regime) and instance of ``section``."""
    names = sorted({r["instance"] for r in rows if r["section"] == section})
    algos = list(dict.fromkeys(r["algorithm"] for r in rows if r["section"] == section
                               and r["algorithm"] != "lower_bound(best)"))
    cell = {(r["algorithm"], r["instance"]): r["ratio"] for r in rows if r["section"] == section
            and _natural(r)}
    refs = {r["instance"]: f'{r["ref_kind"]} {r["ref"]}' for r in rows
            if r["section"] == section and r.get("ref")}
    out = ["| algorithm | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1),
           "| *reference* | " + " | ".join(refs.get(x, "-") for x in names) + " |"]
    out += [f"| {a} | " + " | ".join(str(cell.get((a, x), "")) for x in names) + " |"
            for a in algos]
    return out


def _plot_ratios(plt: Any, rows: list[dict], path: Path, algos: list[str]) -> None:
    groups = [("study", "mcsf-n10-20"), ("study", "mcsf-n40-60"), ("trace", "backlog"),
              ("trace", "online")]
    fig, axes = plt.subplots(1, len(groups), figsize=(18, 8), sharey=True)
    for ax, (sec, grp) in zip(axes, groups):
        for k, a in enumerate(algos):  # one fixed row per algorithm in every panel
            xs = _vals(r["ratio"] for r in rows if r["algorithm"] == a and r["section"] == sec
                       and r["group"] == grp and _natural(r))
            if xs:
                ax.boxplot([xs], positions=[k], orientation="horizontal", widths=0.6)
        ax.set_xscale("log")
        ax.set_title(f"{sec} {grp}")
        ax.set_xlabel("objective / reference (log)")
    axes[0].set_yticks(range(len(algos)), algos)
    axes[0].set_ylim(-1, len(algos))
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _plot_regimes(plt: Any, rows: list[dict], path: Path) -> None:
    """Policies by regime, steps (trace instances) and seconds (replay E2EL / vllm), each
    point the mean over seeds with the seeds' range as an error bar."""
    fig, axes = plt.subplots(1, 2, figsize=(15, 6))
    cmap = plt.get_cmap("tab20")
    pol = sorted({r["algorithm"] for r in rows if r["kind"] == "policy"
                  and r["regime"] not in ("exact", "none")})  # one colour per rule, both panels
    for ax, by, regs, label in (
            (axes[0], step_ratios(rows, "trace"), REGIMES,
             "objective / best bound (geometric mean, trace instances)"),
            (axes[1], seconds_ratios(rows, "mean_e2el_ms"), REPLAY_REGIMES,
             "mean E2EL / vllm's (geometric mean over traces and loads)")):
        for k, a in enumerate(pol):
            mid, lo, hi = [], [], []
            for g in regs:
                ms = [_gmean(v) for (b, h, _), v in by.items() if b == a and h == g]
                m = float(np.mean(ms)) if ms else np.nan
                mid.append(m)
                lo.append(m - min(ms) if ms else 0.0)
                hi.append(max(ms) - m if ms else 0.0)
            if not np.isnan(mid).all():
                ax.errorbar(list(regs), mid, yerr=[lo, hi], marker="os^vD"[k % 5],
                            color=cmap(k % 20), label=a, capsize=2)
        ax.set_yscale("log")
        ax.set_ylabel(label)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _plots(rows: list[dict], out: Path, algos: list[str]) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = [out.parent / f"{out.name}_ratios.png", out.parent / f"{out.name}_regimes.png"]
    _plot_ratios(plt, rows, made[0], algos)
    _plot_regimes(plt, rows, made[1])
    return [p.name for p in made]


def _runs(rows: list[dict], out: Path) -> list[str]:
    """One line per run whose rows are in the table: when, what, machine and load."""
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[str(r.get("run", ""))] += 1
    recs = {r["run"]: r for r in read_rows(out.parent / f"{out.name}_runs.csv")}
    lines = []
    for run in sorted(counts):
        rec = recs.get(run)
        if rec is None:
            lines.append(f"- run `{run or 'unrecorded'}`: {counts[run]} rows (no record)")
            continue
        cmd = " ".join(["python benchmarks/bench_leaderboard.py TRACES...", rec["command"]])
        lines.append(f"- run `{run}`: {counts[run]} rows in the table ({rec['rows_run']} "
                     f"run, {rec['seconds']} s, {rec['jobs']} workers); `{cmd.strip()}`; "
                     f"machine: {rec['machine']}; {rec['load_end']} (2 cores shared with "
                     "other work: times and time-limited rows are indicative)")
    return lines


def _sections_md(rows: list[dict], algos: list[str]) -> list[str]:
    """The generated tables of ``leaderboard.md`` (after the hand-written reading)."""
    seeds = sorted({int(r["seed"]) for r in rows if r.get("seed") not in ("", None)})
    pol = _policies(rows, "replay")
    return [
        "## Headline: each algorithm at exact lengths (or none, for rules that read none)",
        "", "Geometric mean of objective / reference per group; `adversarial worst` is the "
        "largest ratio over the families; `replay E2EL / vllm` is the mean end-to-end "
        "latency in seconds relative to `vllm`'s in the same setting, geometric mean over "
        "the settings (traces x loads). Reference: study sets: the proven optimum (n10-20, "
        "proven instances) or the best known objective; traces: `lower_bound('best')`.", "",
        *_headline(rows, algos), "",
        "## Policies by prediction regime", "",
        f"Each cell: the mean over the seeds ({len(seeds)} seeds at most: "
        f"{', '.join(map(str, seeds))}) of the geometric mean over the instances, with the "
        "seeds' range in brackets when there are several.", "",
        "### In steps, trace instances (objective / best bound)", "",
        *_regime_table(step_ratios(rows, "trace"), REGIMES, _policies(rows, "trace")), "",
        "### In steps, study sets (objective / optimum or best known)", "",
        *_regime_table(step_ratios(rows, "study"), REGIMES, _policies(rows, "study")), "",
        "### In seconds (replay): mean E2EL / vllm's (geometric mean over traces x loads)", "",
        *_regime_table(seconds_ratios(rows, "mean_e2el_ms"), REPLAY_REGIMES, pol), "",
        "### In seconds (replay): mean TTFT / vllm's", "",
        *_regime_table(seconds_ratios(rows, "mean_ttft_ms"), REPLAY_REGIMES, pol), "",
        "### In seconds (replay): p99 E2EL / vllm's", "",
        *_regime_table(seconds_ratios(rows, "p99_e2el_ms"), REPLAY_REGIMES, pol), "",
        "## Steps against seconds (exact lengths, or none)", "",
        *_steps_vs_seconds(rows), "",
        "## Replay settings: mean E2EL / mean TTFT / p99 E2EL, each relative to vllm's", "",
        *_replay_settings(rows), "",
        "## Trace instances, each algorithm at exact lengths (objective / best bound)", "",
        *_instance_table(rows, "trace"), "",
        "## Adversarial families (objective / optimum or best known)", "",
        *_instance_table(rows, "adversarial"), ""]


def report(args: argparse.Namespace, rows: list[dict] | None = None) -> None:
    """Write ``OUT.csv`` (refs and ratios filled), the plots and ``OUT.md``."""
    from lpsched import registry

    algos = [s.name for s in registry.specs()]
    rows = [{c: "" if r.get(c) is None else str(r.get(c, "")) for c in FIELDS}
            for r in (list(cached(args.out).values()) if rows is None else rows)]
    _add_refs(rows)
    with args.out.with_suffix(".csv").open("w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=FIELDS)
        wr.writeheader()
        wr.writerows(rows)
    plots = [] if args.no_plots else _plots(rows, args.out, algos)
    md = args.out.with_suffix(".md")
    insts = sorted({(r["section"], r["group"], r["instance"], r["n"], r["memory"]) for r in rows
                    if r["section"] != "replay"})
    lines = ["# Leaderboard: every registered algorithm on one grid, one checker", "",
             f"{len(rows)} rows in `{args.out.name}.csv` (one per run; docs/leaderboard.md "
             "describes the grid), from these runs (a rerun with `--only` replaces the rows "
             "of some algorithms and keeps the others):", "", *_runs(rows, args.out), "",
             *hand_written_block(md), "", *_sections_md(rows, algos),
             "## Instances", "", "| section | group | instance | n | M |", "|---|---|---|---|---|",
             *[f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in insts], "",
             *(f"![{p}]({p})" for p in plots)]
    md.write_text("\n".join(lines) + "\n")
    print(f"wrote {md}, {args.out.with_suffix('.csv')} and {', '.join(plots)}")


def _limits(text: str) -> dict[str, float]:
    """``{"wait": 60.0}`` from ``"wait=60"`` (comma-separated ``ALG=SECONDS`` pairs)."""
    out = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        name, sep, secs = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--limits: {item!r} is not ALG=SECONDS")
        out[name.strip()] = float(secs)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("traces", nargs="*", help="trace CSVs (Azure conversation, arXiv summaries)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/leaderboard")
    ap.add_argument("--study-per-set", type=int, default=0, help="0: every instance")
    ap.add_argument("--trace-n", type=int, default=1000)
    ap.add_argument("--search-time", type=float, default=3.0)
    ap.add_argument("--run-time", type=float, default=10.0)
    ap.add_argument("--bound-time", type=float, default=30.0)
    ap.add_argument("--limits", type=_limits, default=_limits("wait=60"),
                    help="per-algorithm time limits in steps, ALG=SECONDS[,...] (default: "
                    "wait=60: WAIT with noisy lengths on the n = 1000 conversation backlog "
                    "needs about 8 s alone, more than --run-time under load)")
    ap.add_argument("--seeds", type=int, default=3, help="draws of each log-normal regime")
    ap.add_argument("--interval-seeds", type=int, default=1, help="draws of each interval width")
    ap.add_argument("--replay-n", type=int, default=500)
    ap.add_argument("--replay-loads", type=lambda s: [float(x) for x in s.split(",")],
                    default=[1.0, 1.25])
    ap.add_argument("--replay-seeds", type=int, default=1)
    ap.add_argument("--replay-time", type=float, default=20.0)
    ap.add_argument("--sections", default="study,trace,adversarial,replay")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--algos", default="", help="the grid's algorithms (default: all); rows "
                    "of the others are dropped from OUT.csv")
    ap.add_argument("--only", default="", help="rerun every row of these algorithms (and "
                    "'bound': the trace bounds), keep the other cached rows")
    ap.add_argument("--only-sections", default="", help="with --only: rerun only these "
                    "sections' rows (e.g. replay, after a change to the engine's V1 limits)")
    ap.add_argument("--fresh", action="store_true", help="ignore the cached rows")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--no-plots", action="store_true")
    args = ap.parse_args(argv)
    args.cmdline = " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
                            if not a.endswith(".csv"))
    rows = None if args.report_only else run(args)
    report(args, rows)
    if rows is not None:  # its rows are in OUT.csv now (a report-only call leaves it: a
        args.out.with_suffix(".partial.csv").unlink(missing_ok=True)  # run may append)


if __name__ == "__main__":
    main()
