"""The ``lpsched`` command.

Core commands live here (``solve``, ``check``, ``info``, ``algorithms``,
``demo``); other packages add theirs through a ``register(subparsers)`` function
in the modules listed in ``_PLUGINS``. Any invalid input ends in one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lpsched import registry
from lpsched.check import check
from lpsched.instance import Instance, InstanceError
from lpsched.schedule import ScheduleError, read_schedule

__all__ = ["CliError", "main", "load_instance_arg", "format_table"]

#: Modules that add subcommands (each has ``register(subparsers)``).
_PLUGINS = ("lpsched.models.cli", "lpsched.afd.cli", "lpsched.bench_cli")


class CliError(Exception):
    """A usage or input error: printed as one line, exit status 2."""


def load_instance_arg(spec: str, memory: int | None = None, step_seconds: float | None = None,
                      offline: bool = False, limit: int | None = None) -> Instance:
    """Resolve an INSTANCE argument: a JSON/CSV path or a bundled library name."""
    from lpsched import library
    from lpsched.instance import load

    path = Path(spec)
    if path.exists():
        opts: dict[str, Any] = {}
        if path.suffix.lower() == ".csv":
            if step_seconds is not None:
                opts["step_seconds"] = step_seconds
            opts["offline"] = offline
            opts["limit"] = limit
        return load(path, memory=memory, **opts)
    try:
        inst = library.load_instance(spec)
    except KeyError:
        raise CliError(f"{spec}: no such file or bundled instance "
                       "(`lpsched instances` lists the bundled ones)") from None
    return inst.replace(memory=memory) if memory is not None else inst


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Plain fixed-width table (numbers right-aligned)."""

    def fmt(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)

    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[k]) for row in cells]) for k, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for row, raw in zip(cells, rows):
        lines.append("  ".join(
            v.rjust(w) if isinstance(raw.get(c), (int, float)) else v.ljust(w)
            for v, w, c in zip(row, widths, columns)))
    return "\n".join(lines)


def _add_instance_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("instance", help="instance JSON file, trace CSV, or bundled instance name")
    p.add_argument("--memory", type=int, default=None,
                   help="KV budget M (required for a trace CSV; overrides a JSON's memory)")
    p.add_argument("--step-seconds", type=float, default=None,
                   help="trace CSVs: seconds per decode step for mapping arrival times "
                        "(default 0.025)")
    p.add_argument("--offline", action="store_true",
                   help="trace CSVs: ignore arrival times (all requests arrive at step 0)")
    p.add_argument("--limit", type=int, default=None, help="trace CSVs: read at most N rows")


def _instance_from(args: argparse.Namespace) -> Instance:
    return load_instance_arg(args.instance, memory=args.memory, step_seconds=args.step_seconds,
                             offline=args.offline, limit=args.limit)


# -- commands -------------------------------------------------------------------------------


def _cmd_solve(args: argparse.Namespace) -> int:
    from lpsched.solve import solve

    inst = _instance_from(args)
    try:
        options = json.loads(args.options) if args.options else {}
    except json.JSONDecodeError as exc:
        raise CliError(f"--options is not valid JSON: {exc.msg}") from None
    if not isinstance(options, dict):
        raise CliError("--options must be a JSON object")
    res = solve(inst, args.algo, time_limit=args.time_limit, seed=args.seed, **options)
    if args.out:
        res.write(args.out, instance_name=inst.name)
    gap = res.gap
    print(f"instance   {inst.name} (n={inst.n}, M={inst.memory})")
    print(f"algorithm  {res.algorithm}")
    print(f"status     {res.status}")
    print(f"objective  {res.objective if res.objective is not None else '-'}")
    print(f"lower bnd  {res.lower_bound if res.lower_bound is not None else '-'}"
          + (f"  (gap {100 * gap:.2f}%)" if gap is not None else ""))
    if res.schedule is not None:
        rep = check(inst, res.schedule)
        print(f"makespan   {rep.makespan}   peak memory {rep.peak_memory}/{inst.memory}"
              f"   mean utilisation {100 * rep.mean_utilisation:.1f}%")
        lat = rep.latency
        print(f"latency    mean {lat['mean']:.1f}  p50 {lat['p50']:.0f}  p90 {lat['p90']:.0f}"
              f"  p99 {lat['p99']:.0f} steps")
    print(f"runtime    {res.runtime:.3f} s")
    scalar_stats = {k: v for k, v in res.stats.items() if isinstance(v, (int, float, str))}
    if scalar_stats:
        print("stats      " + "  ".join(f"{k} {v}" for k, v in scalar_stats.items()))
    if res.message:
        print(f"note       {res.message}")
    if args.out:
        print(f"wrote      {args.out}")
    return 1 if res.status.value == "error" else 0


def _cmd_check(args: argparse.Namespace) -> int:
    inst = _instance_from(args)
    sched = read_schedule(args.schedule, inst)
    rep = check(inst, sched)
    if args.json:
        print(json.dumps(rep.to_dict(), indent=1))
    elif rep.feasible:
        print(f"feasible: objective {rep.objective}, makespan {rep.makespan}, "
              f"peak memory {rep.peak_memory}/{inst.memory} at step {rep.peak_step}")
    else:
        print(f"infeasible: {rep.reason()}")
    return 0 if rep.feasible else 1


def _cmd_info(args: argparse.Namespace) -> int:
    inst = _instance_from(args)
    info = inst.summary()
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"name      {info['name']}")
    print(f"requests  {info['n']}    memory M = {info['memory']}    "
          f"{'offline (all arrive at 0)' if info['offline'] else 'online (arrivals)'}")
    rows = [{"field": k, **info[k]} for k in ("prefill", "decode", "arrival")]
    print(format_table(rows, ["field", "min", "mean", "p50", "max"]))
    print(f"sum decode {info['sum_decode']}   sum memory area {info['sum_area']}   "
          f"largest peak s+o {info['max_peak']}")
    for k, v in info["metadata"].items():
        print(f"meta.{k} = {json.dumps(v)}")
    return 0


def _cmd_algorithms(args: argparse.Namespace) -> int:
    rows = [{"name": s.name, "kind": s.kind, "summary": s.summary} for s in registry.specs()]
    if args.json:
        print(json.dumps([{**r, "source": s.source} for r, s in zip(rows, registry.specs())],
                         indent=1))
        return 0
    print(format_table(rows, ["name", "kind", "summary"]))
    return 0


DEMO_ALGORITHMS = ("fcfs", "sf", "size-first", "mc-sf", "sorted-f", "sorted-f-cont", "local-search",
                   "milp", "cpsat")


def _cmd_demo(args: argparse.Namespace) -> int:
    from lpsched import library
    from lpsched.solve import solve

    names = args.instances or library.demo_instances()
    algos = args.algos.split(",") if args.algos else [
        a for a in DEMO_ALGORITHMS if a in registry.algorithm_names()]
    rows = []
    for name in names:
        inst = load_instance_arg(name)
        for algo in algos:
            res = solve(inst, algo, time_limit=args.time_limit)
            best = inst.metadata.get("optimum")
            rows.append({
                "instance": inst.name, "n": inst.n, "M": inst.memory, "algorithm": res.algorithm,
                "status": str(res.status), "objective": res.objective,
                "lower_bound": res.lower_bound,
                "optimum": best,
                "ratio": (res.objective / best) if best and res.objective else None,
                "time_s": res.runtime,
            })
            if sys.stdout.isatty():
                print(f"  {inst.name} {algo}: {res.status} {res.objective}", file=sys.stderr)
    print(format_table(rows, ["instance", "n", "M", "algorithm", "status", "objective",
                              "lower_bound", "optimum", "ratio", "time_s"]))
    print("\noptimum: proven optimum from the instance metadata; lower_bound: the algorithm's own "
          "proven bound (exact solvers); time_limit = stopped at --time-limit with bound and "
          "incumbent")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lpsched",
        description="Optimization solvers for LLM serving: KV-cache-constrained scheduling "
                    "and attention-FFN disaggregation sizing.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent("""\
            examples:
              lpsched demo
              lpsched info tiny-1
              lpsched solve tiny-1 --algo mc-sf --out sched.json
              lpsched check tiny-1 sched.json
            """))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    ex = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser("solve", help="solve an instance with one algorithm", formatter_class=ex,
                       description="Solve INSTANCE with ALGO, print a summary and optionally "
                                   "write the schedule JSON (DESIGN.md section 6).",
                       epilog="example:\n  lpsched solve tiny-1 --algo mc-sf --out sched.json\n"
                              "  lpsched solve trace.csv --memory 65536 --algo fcfs")
    _add_instance_options(p)
    p.add_argument("--algo", required=True, help="algorithm name (see `lpsched algorithms`)")
    p.add_argument("--out", help="write the schedule JSON here")
    p.add_argument("--time-limit", type=float, default=None, help="time limit in seconds")
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument("--options", default=None,
                   help='algorithm options as a JSON object, e.g. \'{"threads": 1}\'')
    p.set_defaults(func=_cmd_solve)

    p = sub.add_parser("check", help="verify a schedule file", formatter_class=ex,
                       description="Check SCHEDULE against INSTANCE with the shared checker. "
                                   "Exit 0 if feasible, 1 if not (saying where).",
                       epilog="example:\n  lpsched check tiny-1 sched.json")
    _add_instance_options(p)
    p.add_argument("schedule", help="schedule JSON file")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("info", help="summarise an instance", formatter_class=ex,
                       description="Print size, budget and length statistics of INSTANCE.",
                       epilog="example:\n  lpsched info tiny-1\n"
                              "  lpsched info azure_conv_2023.csv --memory 65536")
    _add_instance_options(p)
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("algorithms", help="list the available algorithms", formatter_class=ex,
                       description="List algorithm names usable with --algo.",
                       epilog="example:\n  lpsched algorithms --json")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=_cmd_algorithms)

    p = sub.add_parser("demo", help="solve bundled instances with several algorithms",
                       formatter_class=ex,
                       description="Solve the bundled demo instances with several algorithms "
                                   "and print a comparison table.",
                       epilog="example:\n  lpsched demo --algos fcfs,mc-sf")
    p.add_argument("instances", nargs="*", help="instances (default: the bundled demo set)")
    p.add_argument("--algos", default=None, help="comma-separated algorithm names")
    p.add_argument("--time-limit", type=float, default=10.0, help="per-solve time limit (s)")
    p.set_defaults(func=_cmd_demo)

    for modname in _PLUGINS:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name == modname:
                continue  # that part of the package is not installed/built yet
            raise
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (InstanceError, ScheduleError, CliError, registry.UnknownAlgorithm,
            ValueError) as exc:
        if os.environ.get("LPSCHED_DEBUG"):
            raise
        print(f"lpsched: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
