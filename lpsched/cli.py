"""The ``lpsched`` command.

Core commands live here (``solve``, ``check``, ``info``, ``algorithms``,
``demo``); other packages add theirs through a ``register(subparsers)`` function
in the modules listed in ``_PLUGINS``. Any invalid input ends in one line on
stderr and exit status 2, never a traceback.

One meaning per flag, in every command: ``--json`` prints JSON to stdout; a file is
``--out FILE`` (what it holds follows the command and the suffix: ``.json``, ``.csv``,
``.png``...), written atomically (:func:`lpsched.paths.atomic_output`).

Signals (:mod:`lpsched.interrupts`): :func:`main` installs its handlers before it
imports anything heavy (at load time this module imports only the standard library
and :mod:`lpsched.interrupts`; ``import lpsched`` is lazy); SIGTERM is handled like
Ctrl-C, and the exit status is 130 (SIGINT) or 143 (SIGTERM). Writing stdout to a
full disk ends in one line and exit 2; a closed pipe (``| head``) ends quietly.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import json
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from lpsched import interrupts

TYPE_CHECKING = False  # typing is not imported at start-up (module docstring)
if TYPE_CHECKING:
    from typing import Any

    from lpsched.instance import Instance
    from lpsched.registry import AlgorithmSpec

__all__ = ["CliError", "StreamingTable", "did_you_mean", "emit_json", "format_table",
           "load_instance_arg", "main"]

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
        raise CliError(f"{spec}: no such file or bundled instance{did_you_mean(spec)} "
                       "(`lpsched instances` lists the bundled ones)") from None
    return inst.replace(memory=memory) if memory is not None else inst


def did_you_mean(name: str, *, sets: bool = False) -> str:
    """``"; did you mean 'tiny-3'?"`` for the bundled instance (or set) names closest to
    ``name`` (:func:`difflib.get_close_matches`), or ``""``."""
    from lpsched import library

    names = [p.stem for p in library.instance_files()]
    if sets:
        names += library.set_names()
    close = difflib.get_close_matches(Path(name).stem if name.endswith(".json") else name,
                                      sorted(set(names)), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


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
    from lpsched import registry
    from lpsched.solve import solve
    from lpsched.stop import check_time_limit

    check_time_limit(args.time_limit, "--time-limit")
    options = _options_arg(args.options)
    inst = _instance_from(args)
    registry.get(args.algo).validate(options)  # before any work (solve checks again)
    res = solve(inst, args.algo, time_limit=args.time_limit, seed=args.seed, **options)
    interrupted = bool(res.stats.get("interrupted"))
    if interrupted:  # a second signal from here on is only noted: the file gets written
        interrupts.shutting_down()
    if args.out:
        res.write(args.out, instance_name=inst.name)  # atomic (lpsched.paths)
    if args.json:
        data = res.to_dict()
        data["instance"] = data["instance"] or inst.name
        print(json.dumps(data, indent=1))
    else:
        _print_result(inst, res)
    if args.out:
        print(f"wrote      {args.out}", file=sys.stderr if args.json else sys.stdout)
    if interrupted:
        where = f"; wrote it to {args.out}" if args.out and res.schedule is not None else ""
        print(f"lpsched: {interrupts.signal_name()}: best schedule found so far has status "
              f"{res.status}{where}", file=sys.stderr)
        return interrupts.exit_status()
    return 1 if res.status.value == "error" else 0


def emit_json(args: argparse.Namespace, data: Any, *, what: str = "JSON file") -> bool:
    """The flag scheme for a command's data: ``--json`` prints ``data`` as JSON to stdout,
    ``--out FILE`` (``.json``) writes it there (atomically). Returns True when stdout got
    the JSON (the command then prints nothing else there)."""
    from lpsched.paths import write_text_atomic

    text = json.dumps(data, indent=1, default=_json_default)
    out = getattr(args, "out", None)
    if out:
        write_text_atomic(out, text + "\n", what=what)
    if args.json:
        print(text)
    if out:
        print(f"wrote {out}", file=sys.stderr if args.json else sys.stdout)
    return bool(args.json)


def _json_default(o: Any) -> Any:
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def _print_result(inst: Instance, res) -> None:
    from lpsched.check import check

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
    from lpsched.check import check
    from lpsched.schedule import read_schedule

    inst = _instance_from(args)
    sched = read_schedule(args.schedule, inst)
    rep = check(inst, sched)
    if emit_json(args, rep.to_dict(), what="check report"):
        pass
    elif rep.feasible:
        print(f"feasible: objective {rep.objective}, makespan {rep.makespan}, "
              f"peak memory {rep.peak_memory}/{inst.memory} at step {rep.peak_step}")
    else:
        print(f"infeasible: {rep.reason()}")
    return 0 if rep.feasible else 1


def _cmd_info(args: argparse.Namespace) -> int:
    if (args.memory is None and Path(args.instance).suffix.lower() == ".csv"
            and Path(args.instance).is_file()):
        from lpsched.trace_info import print_trace_info, trace_info

        if args.block_size is not None:
            raise CliError("--block-size needs --memory M for a trace CSV (paged memory is "
                           "counted against a budget)")
        info = trace_info(args.instance, step_seconds=args.step_seconds, limit=args.limit,
                          offline=args.offline)
        if not emit_json(args, info, what="instance summary"):
            print_trace_info(info)
        return 0
    inst = _instance_from(args)
    info = inst.summary()
    if emit_json(args, info, what="instance summary"):
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
    from lpsched import registry

    if args.name:
        return _describe_algorithm(registry.get(args.name), args)
    rows = [{"name": s.name, "kind": s.kind, "summary": s.summary} for s in registry.specs()]
    if emit_json(args, [{**r, "source": s.source} for r, s in zip(rows, registry.specs())],
                 what="algorithm list"):
        return 0
    print(format_table(rows, ["name", "kind", "summary"]))
    print("\n`lpsched algorithms NAME` lists an algorithm's options.")
    return 0


def _describe_algorithm(spec: AlgorithmSpec, args: argparse.Namespace) -> int:
    opts = spec.declared_options()
    passthrough = spec.passthrough_spec()
    declared_in = [f"{c.__module__}.{c.__qualname__}" for c in spec.params_classes()]
    if emit_json(args, {"name": spec.name, "kind": spec.kind, "summary": spec.summary,
                        "source": spec.source, "params": declared_in,
                        "options": [{"name": o.name, "kind": o.kind, "type": o.describe(),
                                     "default": o.default if o.has_default else None,
                                     "help": o.help} for o in opts],
                        "passthrough": passthrough.what if passthrough else None},
                 what="algorithm description"):
        return 0
    print(f"{spec.name} ({spec.kind}): {spec.summary}")
    if spec.source:
        print(f"source: {spec.source}")
    if declared_in:
        print(f"options declared in: {', '.join(declared_in)}")
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
                ("objective", 10), ("lower_bound", 11), ("optimum", 8), ("best_known", 10),
                ("ratio", 6), ("time_s", 7))


def _cmd_demo(args: argparse.Namespace) -> int:
    from lpsched import library, registry
    from lpsched.stop import check_time_limit

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
            if _demo_row(inst, registry.get(algo), args.time_limit, table):
                interrupts.shutting_down()
                print(f"lpsched: {interrupts.signal_name()}", file=sys.stderr)
                return interrupts.exit_status()
    print("\noptimum: proven optimum from the instance metadata; best_known: the library's best "
          "known objective where no optimum is proven; ratio: objective / optimum (or / best "
          "known);\nlower_bound: the algorithm's own proven bound (exact solvers); time_limit = "
          "stopped at --time-limit with its best schedule and bound")
    return 0


def _demo_row(inst: Instance, spec: AlgorithmSpec, time_limit: float,
              table: StreamingTable) -> bool:
    """Solve and print one row of the demo (elapsed time on stderr while it runs, a note
    when an exact solver stopped at its limit); True when interrupted."""
    from lpsched.progress import Ticker
    from lpsched.solve import solve

    with Ticker(f"{inst.name} {spec.name}", limit=time_limit):
        res = solve(inst, spec.name, time_limit=time_limit)
    opt = inst.metadata.get("optimum")
    best_known = inst.metadata.get("best_known") if opt is None else None
    ref = opt or best_known
    table.row({
        "instance": inst.name, "n": inst.n, "M": inst.memory, "algorithm": res.algorithm,
        "status": str(res.status), "objective": res.objective, "lower_bound": res.lower_bound,
        "optimum": opt, "best_known": best_known,
        "ratio": (res.objective / ref) if ref and res.objective else None,
        "time_s": res.runtime,
    })
    if spec.kind == "exact" and res.status.value == "time_limit" and not res.stats.get(
            "interrupted"):
        known = (f"; optimum {opt}" if opt is not None else
                 f"; library best known {best_known}" if best_known is not None else "")
        lb = f", proven lower bound {res.lower_bound:g}" if res.lower_bound is not None else ""
        print(f"  note: {spec.name} stopped at its {time_limit:g} s limit (status time_limit, "
              f"no optimality proof): objective {res.objective} is its best schedule{lb}"
              f"{known}; a longer --time-limit can improve both", flush=True)
    return bool(res.stats.get("interrupted"))


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


def _add_json_options(p: argparse.ArgumentParser, what: str) -> None:
    """``--json`` (print to stdout) and ``--out FILE.json`` (write a file) for ``what``."""
    from lpsched.paths import add_output_argument

    p.add_argument("--json", action="store_true", help=f"print the {what} as JSON to stdout")
    add_output_argument(p, "--out", default=None, suffixes=(".json",), what=f"{what} file",
                        help=f"write the {what} as JSON to this file (.json)")


def build_parser() -> argparse.ArgumentParser:
    from lpsched.paths import add_output_argument

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

            flags: --json prints JSON to stdout; --out FILE writes a file (.json, .csv,
            .png... by command and suffix), atomically. Exit status: 0 done, 1 infeasible
            or failed, 2 bad input or output, 130 Ctrl-C, 143 SIGTERM.
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
    p.add_argument("--json", action="store_true",
                   help="print the result (the schedule file's JSON) to stdout instead of the "
                        "summary")
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
    _add_json_options(p, "check report")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("info", help="summarise an instance", formatter_class=ex,
                       description="Print size, budget and length statistics of INSTANCE. "
                                   "A trace CSV without --memory is summarised too (lengths "
                                   "and arrivals; the figures that need M are named).",
                       epilog="example:\n  lpsched info tiny-1\n"
                              "  lpsched info azure_conv_2023.csv\n"
                              "  lpsched info azure_conv_2023.csv --memory 65536 --json")
    _add_instance_options(p)
    _add_json_options(p, "summary")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("algorithms", help="list the available algorithms (and their options)",
                       formatter_class=ex,
                       description="List algorithm names usable with --algo; with NAME, that "
                                   "algorithm's declared options (type, default, help).",
                       epilog="examples:\n  lpsched algorithms\n  lpsched algorithms milp\n"
                              "  lpsched algorithms --json")
    p.add_argument("name", nargs="?", default=None, help="an algorithm name")
    _add_json_options(p, "list")
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
    """Run the ``lpsched`` command; returns its exit status (module docstring)."""
    restore = interrupts.install()  # before any heavy import
    code = 1
    try:
        code = _main(argv)
    finally:
        # in-process calls (argv given, as in the tests) get their handlers back
        if argv is not None or code not in (130, 143):
            restore()
    if argv is None and code in (130, 143):
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """The command, stopped by a signal, ends here: further signals are only recorded
    until then, and the interpreter's own shutdown is skipped (it would put the default
    handlers back, and a C extension interrupted while running Python code would make it
    re-raise SIGINT on the way out: "killed by signal" instead of the exit status)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _main(argv: Sequence[str] | None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        _prepare_outputs(args)
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a full disk or a closed pipe shows here, not at exit
        return code
    except KeyboardInterrupt:
        return _interrupted()
    except BrokenPipeError:
        _stdout_to_devnull()
        return 0
    except Exception as exc:  # noqa: BLE001 - sorted below: input errors are one line
        if _caused_by_interrupt(exc) or interrupts.signalled():
            return _interrupted()  # e.g. the ImportError of a C extension stopped in its init
        status = _error_status(exc)
        if status is None or os.environ.get("LPSCHED_DEBUG"):
            raise
        if isinstance(exc, OSError):
            _stdout_to_devnull()
            print(f"lpsched: error: stdout: cannot write: {exc.strerror or exc}",
                  file=sys.stderr)
        else:
            print(f"lpsched: error: {exc}", file=sys.stderr)
        return status


def _interrupted() -> int:
    interrupts.shutting_down()
    print(f"lpsched: {interrupts.signal_name()}", file=sys.stderr)
    return interrupts.exit_status()


def _caused_by_interrupt(exc: BaseException) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, KeyboardInterrupt):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def _prepare_outputs(args: argparse.Namespace) -> None:
    from lpsched.paths import prepare_outputs

    prepare_outputs(args)


def _error_status(exc: BaseException) -> int | None:
    """2 for the package's input and output errors (and stdout write failures), else None."""
    # by name: nothing is imported here (an import may be what failed)
    names = {c.__name__ for c in type(exc).__mro__}
    if names & {"LpschedError", "InstanceError", "ScheduleError", "CliError", "UnknownAlgorithm",
                "ValueError"}:
        return 2
    if isinstance(exc, OSError) and exc.filename is None:  # writing stdout failed
        return 2
    return None


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":  # pragma: no cover
    # `python -m lpsched.cli` runs this file as __main__; the command modules import
    # lpsched.cli, a second module object: run that one, so both share CliError
    from lpsched.cli import main as _entry

    sys.exit(_entry())
