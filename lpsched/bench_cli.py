"""Subcommands ``lpsched bench``, ``instances``, ``plot`` and ``sample``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lpsched.cli import (
    CliError,
    _add_json_options,
    did_you_mean,
    emit_json,
    format_table,
    load_instance_arg,
)
from lpsched.paths import OutputPathError, add_output_argument, prepare_output

__all__ = ["register"]

_EX = argparse.RawDescriptionHelpFormatter


def _resolve(specs: list[str], memory: int | None = None):
    from lpsched import library

    try:
        return library.resolve(specs, memory=memory)
    except KeyError as exc:
        name = str(exc.args[0])
        raise CliError(f"{name}: no such file, bundled instance or set"
                       f"{did_you_mean(name, sets=True)} (`lpsched instances` lists them)"
                       ) from None


def _bench_outputs(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """The CSV and JSON files of a bench run, every one checked before any work.

    ``--out r.csv`` writes the rows there and rows + summary to ``r.json`` next to it;
    ``--out r.json`` writes only the JSON. The old ``--json FILE`` (a file, before
    ``--json`` meant stdout everywhere) still names the JSON file, with a notice."""
    csv_path = json_path = None
    if args.out:
        out = Path(args.out)
        if out.suffix.lower() == ".json":
            json_path = out
        else:
            csv_path, json_path = out, out.with_suffix(".json")
    if isinstance(args.json, str):
        json_path = Path(args.json)
    for path, what in ((csv_path, "bench CSV"), (json_path, "bench JSON")):
        if path is not None:
            prepare_output(path, what=what, suffixes=(".json",) if what == "bench JSON" else ())
    if isinstance(args.json, str):  # after the checks: a refused path stays one line
        print(f"lpsched: note: `bench --json FILE` is deprecated: use `--out {args.json}` "
              "(--json alone prints the run as JSON to stdout)", file=sys.stderr)
    return csv_path, json_path


def _cmd_bench(args: argparse.Namespace) -> int:
    from lpsched import bench, interrupts

    csv_path, json_path = _bench_outputs(args)
    instances = _resolve(args.instances, args.memory)
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    if args.options:
        try:
            options = json.loads(args.options)
        except json.JSONDecodeError as exc:
            raise CliError(f"--options is not valid JSON: {exc.msg}") from None
        if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
            raise CliError('--options must be a JSON object {"algorithm": {"option": value}}')
    else:
        options = {}
    run = bench.run_bench(instances, algos, time_limit=args.time_limit, seed=args.seed,
                          jobs=args.jobs, scheduler=args.scheduler,
                          connect_timeout=args.connect_timeout, bound=not args.no_bound,
                          bound_time_limit=args.bound_time_limit or args.time_limit,
                          options=options, csv_path=csv_path,
                          progress=False if args.quiet else None)
    if run.interrupted:  # a second signal from here on is only noted: the files get written
        interrupts.shutting_down()
    if json_path is not None:
        bench.write_json(run, json_path)
    if args.json is True:
        print(json.dumps(run.to_dict(), indent=1))
    else:
        _print_bench(run)
    wrote = [str(p) for p in (csv_path, json_path) if p is not None]
    if wrote:
        print(f"wrote {' and '.join(wrote)}", file=sys.stderr if args.json is True else None)
    if run.interrupted:
        print(f"lpsched: {interrupts.signal_name()}: kept {len(run.rows)} of "
              f"{run.meta['tasks']} runs", file=sys.stderr)
        return interrupts.exit_status()
    return 0


def _print_bench(run: Any) -> None:
    from lpsched import bench

    print(format_table(bench.table_rows(run), list(bench.COLUMNS)))
    print()

    def r2(v):
        return None if v is None else round(v, 2)

    summ = [{**s, "mean_gap_pct": r2(s["mean_gap_pct"]), "max_gap_pct": r2(s["max_gap_pct"]),
             "mean_vs_best_pct": r2(s["mean_vs_best_pct"]), "time_s": round(s["time_s"], 3)}
            for s in run.summary]
    print(format_table(summ, ["algorithm", "runs", "solved", "errors", "mean_gap_pct",
                              "max_gap_pct", "mean_vs_best_pct", "wins", "proven_optimal",
                              "time_s"]))
    errors = [r for r in run.rows if r.status == "error"]
    for r in errors[:10]:
        print(f"error: {r.instance} / {r.algorithm}: {r.message}")
    if len(errors) > 10:
        print(f"error: ... and {len(errors) - 10} more (see the CSV)")
    print("\ngap% = 100 (objective - LB) / objective with LB the best of the metadata bound, "
          "lpsched.models.bounds and solver bounds;\nvs_best% = 100 (objective - best known) / "
          f"best known; {len(run.rows)} runs on {run.executor}")


def _cmd_instances(args: argparse.Namespace) -> int:
    from lpsched import library

    index = library.load_index()
    entries = index["instances"]
    if args.set:
        if args.set not in index["sets"]:
            raise CliError(f"no set {args.set!r}; sets: {', '.join(index['sets'])}")
        entries = [e for e in entries if e["set"] == args.set]
    if emit_json(args, {**index, "instances": entries}, what="instance index"):
        return 0
    rows = []
    for e in entries:
        lb, best = e.get("lower_bound"), e.get("best_known")
        rows.append({"set": e["set"], "name": e["name"], "n": e["n"], "M": e["memory"],
                     "arrivals": "offline" if e["offline"] else "online",
                     "optimum": e.get("optimum"), "best_known": best, "lower_bound": lb,
                     "gap_pct": round(100 * (best - lb) / best, 2)
                     if best and lb is not None else None})
    print(format_table(rows, ["set", "name", "n", "M", "arrivals", "optimum", "best_known",
                              "lower_bound", "gap_pct"]))
    if not args.set:
        print()
        for s, info in index["sets"].items():
            print(f"{s}: {info['instances']} instances - {info['description']}")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from lpsched import plots

    if args.kind == "memory":
        if len(args.inputs) not in (1, 2):
            raise CliError("plot memory takes INSTANCE [SCHEDULE] (or INSTANCE --algo NAME)")
        inst = load_instance_arg(args.inputs[0], memory=args.memory)
        if len(args.inputs) == 2:
            from lpsched.schedule import read_schedule

            sched = read_schedule(args.inputs[1], inst)
        elif args.algo:
            from lpsched.solve import solve

            res = solve(inst, args.algo, time_limit=args.time_limit)
            if res.stats.get("interrupted"):
                raise KeyboardInterrupt  # Ctrl-C or SIGTERM during the solve: no figure
            if res.schedule is None:
                raise CliError(f"{args.algo} found no schedule: {res.status} {res.message}")
            sched = res.schedule
        else:
            raise CliError("plot memory needs a SCHEDULE file or --algo NAME")
        plots.plot_memory(inst, sched, args.out, title=args.title)  # atomic (lpsched.paths)
    elif args.kind == "gaps":
        from lpsched.bench import read_rows

        rows: list[dict[str, Any]] = []
        for f in args.inputs:
            if not Path(f).exists():
                raise CliError(f"{f}: no such file")
            rows.extend(read_rows(f))
        plots.plot_gaps(rows, args.out, metric=args.metric, title=args.title)
    else:  # afd
        if len(args.inputs) != 1:
            raise CliError("plot afd takes one sweep JSON file")
        f = Path(args.inputs[0])
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CliError(f"{f}: cannot read file: {exc.strerror or exc}") from None
        except json.JSONDecodeError as exc:
            raise CliError(f"{f}: malformed JSON at line {exc.lineno}: {exc.msg}") from None
        points = data.get("results", data.get("points")) if isinstance(data, dict) else data
        if not isinstance(points, list):
            raise CliError(f"{f}: expected a list of sweep points or an object with 'results'")
        r_best = data.get("r_best") if isinstance(data, dict) else None
        try:
            plots.plot_afd_sweep(points, args.out, r_best=r_best, title=args.title)
        except OutputPathError:
            raise
        except ValueError as exc:
            raise CliError(f"{f}: {exc}") from None
    print(f"wrote {args.out}")
    return 0


def _parse_mix(spec: str) -> dict[str, float]:
    """``name`` or ``name:weight,name:weight`` -> {name: weight}."""
    mix: dict[str, float] = {}
    for part in (x.strip() for x in spec.split(",")):
        if not part:
            continue
        name, _, w = part.partition(":")
        try:
            mix[name] = float(w) if w else 1.0
        except ValueError:
            raise CliError(f"profile weight must be a number: {part!r}") from None
    if not mix:
        raise CliError("give a profile name (see `lpsched sample --list`)")
    return mix


def _cmd_sample(args: argparse.Namespace) -> int:
    from lpsched import workloads
    from lpsched.instance import write_json

    if args.list or not args.profile:
        rows = []
        for name in workloads.profile_names():
            p = workloads.load_profile(name)
            rows.append({"profile": name, "rows": p.provenance.get("rows"),
                         "mean_prefill": round(p.mean_prefill, 1),
                         "mean_decode": round(p.mean_decode, 1),
                         "max_s+o": p.max_total,
                         "arrivals/s": None if p.mean_interarrival is None
                         else round(1 / p.mean_interarrival, 2),
                         "spearman": p.dependence.get("trace", {}).get("spearman")})
        print(format_table(rows, ["profile", "rows", "mean_prefill", "mean_decode", "max_s+o",
                                  "arrivals/s", "spearman"]))
        return 0
    if args.n is None or args.memory is None:
        raise CliError("sample needs --n and --memory")
    inst = workloads.sample_instance(_parse_mix(args.profile), args.n, args.memory, args.seed,
                                     arrivals=args.arrivals, rate=args.rate,
                                     step_seconds=args.step_seconds,
                                     too_large="resample" if args.resample else "error",
                                     name=args.name)
    info = inst.summary()
    if args.out:
        write_json(inst, args.out)  # atomic (lpsched.paths)
    if args.json:
        print(json.dumps(inst.to_dict(), indent=1))
        if args.out:
            print(f"wrote {args.out}", file=sys.stderr)
        return 0
    print(f"{inst.name}: n={inst.n} M={inst.memory} "
          f"{'offline' if inst.offline else 'online, last arrival step ' + str(info['arrival']['max'])}"
          f"; prefill mean {info['prefill']['mean']:.0f}, decode mean {info['decode']['mean']:.0f}"
          f"; redrawn too large: {inst.metadata['resampled_too_large']}")
    if args.out:
        print(f"wrote {args.out}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``bench``, ``instances``, ``plot`` and ``sample`` to the ``lpsched`` command."""
    p = subparsers.add_parser(
        "bench", help="run algorithms over instance sets and compare with bounds",
        formatter_class=_EX,
        description="Run every algorithm on every instance (each schedule verified by the "
                    "checker), print a table with objective, lower bound and gap, and a "
                    "per-algorithm summary. Parallel on local processes by default, or on a "
                    "Dask cluster with --scheduler. A failing algorithm is recorded as error; "
                    "Ctrl-C keeps the finished runs.",
        epilog="examples:\n"
               "  lpsched bench tiny --algos fcfs,sf,mc-sf\n"
               "  lpsched bench mcsf-synthetic --algos mc-sf,milp --time-limit 30 "
               "--out results.csv\n"
               "  lpsched bench tiny,my.json --algos mc-sf --scheduler tcp://10.0.0.5:8786")
    p.add_argument("instances", nargs="+",
                   help="set names, instance names, JSON files or folders (comma-separated ok)")
    p.add_argument("--algos", required=True, help="comma-separated algorithm names")
    p.add_argument("--memory", type=int, default=None,
                   help="KV budget M for trace CSV inputs (required for them)")
    p.add_argument("--time-limit", type=float, default=None,
                   help="per-run time limit in seconds")
    p.add_argument("--jobs", type=int, default=None,
                   help="local worker processes (default: CPU count; 1 = in this process)")
    p.add_argument("--scheduler", default=None,
                   help="run on an existing Dask cluster, e.g. tcp://HOST:8786 "
                        "(needs the 'dask' extra)")
    p.add_argument("--connect-timeout", type=float, default=10.0,
                   help="seconds to wait for the Dask scheduler (default 10)")
    add_output_argument(p, "--out", default=None, suffixes=(".csv", ".json"), what="bench file",
                        help="FILE.csv: the rows as CSV, and rows + summary as JSON next to it "
                             "(FILE.json); FILE.json: only the JSON")
    p.add_argument("--json", nargs="?", const=True, default=None, metavar="",
                   help="print the run (rows, summary, settings) as JSON to stdout instead of "
                        "the tables (the old `--json FILE.json` still writes that file, "
                        "deprecated: use --out FILE.json)")
    p.add_argument("--seed", type=int, default=0, help="seed passed to every algorithm")
    p.add_argument("--options", default=None,
                   help='per-algorithm options as JSON, e.g. \'{"milp": {"threads": 1}}\'')
    p.add_argument("--bound-time-limit", type=float, default=None,
                   help="time limit of the per-instance bound computation (default: --time-limit)")
    p.add_argument("--no-bound", action="store_true",
                   help="do not compute lpsched.models.bounds per instance")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=_cmd_bench)

    p = subparsers.add_parser(
        "instances", help="list the bundled instance library", formatter_class=_EX,
        description="List the bundled instances (instances/index.json) with size, budget "
                    "and known optimum / best known objective / lower bound.",
        epilog="examples:\n  lpsched instances\n  lpsched instances --set mcsf-synthetic --json")
    p.add_argument("--set", default=None, help="only this set")
    _add_json_options(p, "index")
    p.set_defaults(func=_cmd_instances)

    p = subparsers.add_parser(
        "plot", help="draw figures (needs matplotlib)", formatter_class=_EX,
        description="memory: KV memory over time of a schedule with the budget line and "
                    "request bars; gaps: algorithms' gaps from bench CSV/JSON files; "
                    "afd: throughput and idle time against r from `lpsched afd sweep --json`. "
                    "The file type follows --out (.png or .svg).",
        epilog="examples:\n"
               "  lpsched plot memory tiny-3 --algo mc-sf --out mem.png\n"
               "  lpsched plot memory tiny-3 sched.json --out mem.svg\n"
               "  lpsched plot gaps results.csv --out gaps.png\n"
               "  lpsched plot gaps results.csv --metric vs_best_pct --out vs_best.svg\n"
               "  lpsched plot afd sweep.json --out afd.png")
    p.add_argument("kind", choices=["memory", "gaps", "afd"], help="which figure")
    p.add_argument("inputs", nargs="+", help="memory: INSTANCE [SCHEDULE]; gaps: bench "
                                             "CSV/JSON files; afd: sweep JSON")
    add_output_argument(p, "--out", required=True, suffixes=(".png", ".svg"), what="plot",
                        help="output file (.png or .svg)")
    p.add_argument("--algo", default=None, help="memory: solve with this algorithm first")
    p.add_argument("--time-limit", type=float, default=None, help="memory: solver time limit")
    p.add_argument("--memory", type=int, default=None, help="memory: override the budget M")
    p.add_argument("--metric", choices=["gap_pct", "vs_best_pct"], default="gap_pct",
                   help="gaps: gap to the lower bound (default) or excess over the best known")
    p.add_argument("--title", default=None, help="figure title")
    p.set_defaults(func=_cmd_plot)

    p = subparsers.add_parser(
        "sample", help="sample an instance from the trace-derived workload profiles",
        formatter_class=_EX,
        description="Draw an instance from the bundled workload profiles (quantile tables and "
                    "prefill/decode dependence derived from the Azure 2023 conversation trace "
                    "and the arXiv summarisation trace). Same seed, same instance. Requests "
                    "with prefill + decode > M are an error unless --resample.",
        epilog="examples:\n"
               "  lpsched sample --list\n"
               "  lpsched sample azure_conv_2023 --n 500 --memory 65536 --seed 1 --out a.json\n"
               "  lpsched sample azure_conv_2023:1,arxiv_summarization:1 --n 200 --memory 16384 "
               "--seed 2\n"
               "  lpsched sample azure_conv_2023 --n 1000 --memory 32768 --seed 3 "
               "--arrivals trace-rate")
    p.add_argument("profile", nargs="?", help="profile name, or name:weight,... for a mix")
    p.add_argument("--list", action="store_true", help="list the bundled profiles")
    p.add_argument("--n", type=int, default=None, help="number of requests")
    p.add_argument("--memory", type=int, default=None, help="KV budget M (tokens)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--arrivals", choices=["offline", "trace-rate", "poisson"], default="offline",
                   help="arrival process (default offline: all at step 0)")
    p.add_argument("--rate", type=float, default=None, help="arrivals per second")
    p.add_argument("--step-seconds", type=float, default=0.025,
                   help="seconds per decode step for arrival steps (default 0.025)")
    p.add_argument("--resample", action="store_true",
                   help="redraw requests with s+o > M (counted in the metadata) instead of failing")
    p.add_argument("--name", default=None, help="instance name")
    add_output_argument(p, "--out", default=None, what="instance file",
                        help="write the instance JSON here")
    p.add_argument("--json", action="store_true", help="print the instance JSON to stdout")
    p.set_defaults(func=_cmd_sample)
