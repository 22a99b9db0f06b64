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
from lpsched.paths import add_output_argument, prepare_outputs
from lpsched.schedule import ScheduleError, read_schedule
from lpsched.stop import check_time_limit

__all__ = ["CliError", "StreamingTable", "format_table", "load_instance_arg", "main"]

#: Modules that add subcommands (each has ``register(subparsers)``).
_PLUGINS = ("lpsched.models.cli", "lpsched.afd.cli", "lpsched.bench_cli", "lpsched.serving.cli",
            "lpsched.serving.steptime_cli")


class CliError(Exception):
    """A usage or input error: printed as one line, exit status 2."""


def load_instance_arg(spec: str, memory: int | None = None, step_seconds: float | None = None,
                      offline: bool = False, limit: int | None = None,
                      block_size: int | None = None) -> Instance:
    """Resolve an INSTANCE argument: a JSON/CSV path or a bundled library name
    (``memory`` and ``block_size``, when given, replace the instance's)."""
    inst = _load_instance_arg(spec, memory, step_seconds, offline, limit)
    return inst if block_size is None else inst.replace(block_size=block_size)


def _load_instance_arg(spec: str, memory: int | None, step_seconds: float | None,
                       offline: bool, limit: int | None) -> Instance:
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

    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
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
    p.add_argument("--block-size", type=int, default=None,
                   help="KV block size b (paged memory: x tokens occupy b*ceil(x/b)); "
                        "overrides the instance's (default 1)")


def _instance_from(args: argparse.Namespace) -> Instance:
    return load_instance_arg(args.instance, memory=args.memory, step_seconds=args.step_seconds,
                             offline=args.offline, limit=args.limit,
                             block_size=args.block_size)


# -- commands -------------------------------------------------------------------------------


def _options_arg(text: str | None) -> dict[str, Any]:
    try:
        options = json.loads(text) if text else {}
    except json.JSONDecodeError as exc:
        raise CliError(f"--options is not valid JSON: {exc.msg}") from None
    if not isinstance(options, dict):
        raise CliError("--options must be a JSON object")
    return options


def _cmd_solve(args: argparse.Namespace) -> int:
    from lpsched.solve import solve

    check_time_limit(args.time_limit, "--time-limit")
    options = _options_arg(args.options)
    inst = _instance_from(args)
    registry.get(args.algo).validate(options)  # before any work (solve checks again)
    res = solve(inst, args.algo, time_limit=args.time_limit, seed=args.seed, **options)
    if args.out:
        res.write(args.out, instance_name=inst.name)
    _print_result(inst, res)
    if args.out:
        print(f"wrote      {args.out}")
    if res.stats.get("interrupted"):
        where = f"; wrote it to {args.out}" if args.out and res.schedule is not None else ""
        print(f"lpsched: interrupted: best schedule found so far has status {res.status}"
              f"{where}", file=sys.stderr)
        return 130
    return 1 if res.status.value == "error" else 0


def _print_result(inst: Instance, res) -> None:
    gap = res.gap
    blocks = f", block size {inst.block_size}" if inst.block_size > 1 else ""
    print(f"instance   {inst.name} (n={inst.n}, M={inst.memory}{blocks})")
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
    limit = res.stats.get("time_limit")
    print(f"runtime    {res.runtime:.3f} s" + (f" (time limit {limit:g} s)" if limit else ""))
    scalar_stats = {k: v for k, v in res.stats.items()
                    if isinstance(v, (int, float, str)) and k != "time_limit"}
    if scalar_stats:
        print("stats      " + "  ".join(f"{k} {v}" for k, v in scalar_stats.items()))
    if res.message:
        print(f"note       {res.message}")


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
    if args.name:
        return _describe_algorithm(registry.get(args.name), args.json)
    rows = [{"name": s.name, "kind": s.kind, "summary": s.summary} for s in registry.specs()]
    if args.json:
        print(json.dumps([{**r, "source": s.source} for r, s in zip(rows, registry.specs())],
                         indent=1))
        return 0
    print(format_table(rows, ["name", "kind", "summary"]))
    print("\n`lpsched algorithms NAME` lists an algorithm's options.")
    return 0


def _describe_algorithm(spec: registry.AlgorithmSpec, as_json: bool) -> int:
    opts = spec.declared_options()
    passthrough = spec.passthrough_spec()
    if as_json:
        print(json.dumps({"name": spec.name, "kind": spec.kind, "summary": spec.summary,
                          "source": spec.source,
                          "options": [{"name": o.name, "kind": o.kind, "type": o.describe(),
                                       "default": o.default if o.has_default else None,
                                       "help": o.help} for o in opts],
                          "passthrough": passthrough.what if passthrough else None},
                         indent=1, default=str))
        return 0
    print(f"{spec.name} ({spec.kind}): {spec.summary}")
    if spec.source:
        print(f"source: {spec.source}")
    print("common: --time-limit S (whole call), --seed N")
    if opts:
        rows = [{"option": o.name, "type": o.describe(),
                 "default": json.dumps(o.default) if o.has_default and _jsonable(o.default)
                 else ("-" if not o.has_default else str(o.default)),
                 "help": o.help} for o in opts]
        print(format_table(rows, ["option", "type", "default", "help"]))
    else:
        print("no options")
    if passthrough is not None:
        print(f"also: {passthrough.help or 'any ' + passthrough.what + ' by name'}")
    print(f"example: lpsched solve tiny-3 --algo {spec.name}"
          + (f" --options '{{\"{opts[0].name}\": {json.dumps(opts[0].default)}}}'"
             if opts and opts[0].has_default and _jsonable(opts[0].default)
             and opts[0].default is not None else ""))
    return 0


def _jsonable(v: Any) -> bool:
    try:
        json.dumps(v)
    except TypeError:
        return False
    return True


DEMO_ALGORITHMS = ("fcfs", "sf", "size-first", "mc-sf", "sorted-f", "sorted-f-cont", "local-search",
                   "milp", "cpsat")
DEMO_COLUMNS = (("instance", 14), ("n", 4), ("M", 6), ("algorithm", 14), ("status", 10),
                ("objective", 10), ("lower_bound", 11), ("optimum", 8), ("ratio", 6),
                ("time_s", 7))


def _cmd_demo(args: argparse.Namespace) -> int:
    from lpsched import library
    from lpsched.solve import solve

    check_time_limit(args.time_limit, "--time-limit")
    names = args.instances or library.demo_instances()
    algos = args.algos.split(",") if args.algos else [
        a for a in DEMO_ALGORITHMS if a in registry.algorithm_names()]
    for a in algos:
        registry.get(a)
    instances = [load_instance_arg(name) for name in names]
    table = StreamingTable(DEMO_COLUMNS)
    table.header()
    for inst in instances:
        for algo in algos:
            res = solve(inst, algo, time_limit=args.time_limit)
            best = inst.metadata.get("optimum")
            table.row({
                "instance": inst.name, "n": inst.n, "M": inst.memory, "algorithm": res.algorithm,
                "status": str(res.status), "objective": res.objective,
                "lower_bound": res.lower_bound, "optimum": best,
                "ratio": (res.objective / best) if best and res.objective else None,
                "time_s": res.runtime,
            })
            if res.stats.get("interrupted"):
                print("lpsched: interrupted", file=sys.stderr)
                return 130
    print("\noptimum: proven optimum from the instance metadata; lower_bound: the algorithm's own "
          "proven bound (exact solvers); time_limit = stopped at --time-limit with bound and "
          "incumbent")
    return 0


class StreamingTable:
    """A fixed-width table printed a row at a time (flushed), for long runs."""

    def __init__(self, columns: Sequence[tuple[str, int]]):
        self.columns = [(c, max(w, len(c))) for c, w in columns]

    def header(self) -> None:
        print("  ".join(c.ljust(w) for c, w in self.columns))
        print("  ".join("-" * w for _, w in self.columns), flush=True)

    def row(self, values: dict[str, Any]) -> None:
        cells = []
        for c, w in self.columns:
            v = values.get(c)
            text = _fmt(v)
            cells.append(text.rjust(w) if isinstance(v, (int, float)) else text.ljust(w))
        print("  ".join(cells), flush=True)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


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
                                   "write the schedule JSON (docs/design.md section 5).",
                       epilog="example:\n  lpsched solve tiny-1 --algo mc-sf --out sched.json\n"
                              "  lpsched solve trace.csv --memory 65536 --algo fcfs")
    _add_instance_options(p)
    p.add_argument("--algo", required=True, help="algorithm name (see `lpsched algorithms`)")
    add_output_argument(p, "--out", what="schedule file",
                        help="write the schedule JSON here (folders are created)")
    p.add_argument("--time-limit", type=float, default=None,
                   help="wall-time limit in seconds for the whole solve (finite, > 0)")
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

    p = sub.add_parser("algorithms", help="list the available algorithms (and their options)",
                       formatter_class=ex,
                       description="List algorithm names usable with --algo; with NAME, that "
                                   "algorithm's declared options (type, default, help).",
                       epilog="examples:\n  lpsched algorithms\n  lpsched algorithms milp\n"
                              "  lpsched algorithms --json")
    p.add_argument("name", nargs="?", default=None, help="an algorithm name")
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
        prepare_outputs(args)
        return int(args.func(args) or 0)
    except (InstanceError, ScheduleError, CliError, registry.UnknownAlgorithm,
            ValueError) as exc:
        if os.environ.get("LPSCHED_DEBUG"):
            raise
        print(f"lpsched: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lpsched: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
