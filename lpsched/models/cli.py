"""``lpsched bound`` and ``lpsched export`` subcommands (registered by ``lpsched.cli``)."""

from __future__ import annotations

import argparse
import sys
import time

__all__ = ["register"]


DEFAULT_BOUND_TIME_LIMIT = 60.0
"""``lpsched bound``'s default ``--time-limit`` (seconds)."""

PROGRESS_AFTER = 3.0
"""Seconds after which ``lpsched bound`` reports progress on stderr (then every 5 s)."""


class _Progress:
    """Progress of ``lpsched bound`` on stderr: nothing during the first
    :data:`PROGRESS_AFTER` seconds, then a line every 5 s naming the stage, the elapsed
    time and the limit (a daemon thread; :meth:`stop` ends it)."""

    def __init__(self, limit: float) -> None:
        import threading

        self.limit, self.stage = limit, "starting"
        self.t0 = time.perf_counter()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def __call__(self, stage: str) -> None:
        self.stage = stage

    def _run(self) -> None:
        wait = PROGRESS_AFTER
        while not self._done.wait(wait):
            print(f"lpsched bound: {time.perf_counter() - self.t0:.0f} s, {self.stage} "
                  f"(time limit {self.limit:g} s)", file=sys.stderr, flush=True)
            wait = 5.0

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _cmd_bound(args: argparse.Namespace) -> int:
    from lpsched.cli import _instance_from
    from lpsched.models.bounds import lower_bound
    from lpsched.stop import check_time_limit

    limit = check_time_limit(args.time_limit, "--time-limit")
    inst = _instance_from(args)
    progress = _Progress(limit or DEFAULT_BOUND_TIME_LIMIT)
    try:
        b = lower_bound(inst, args.method, max_columns=args.max_columns, time_limit=limit,
                        bucket_width=args.bucket_width, bucket_columns=args.bucket_columns,
                        progress=progress)
    finally:
        progress.stop()
    source = b.details.get("source", b.method)
    if "refused" in b.details:
        print(f"lpsched bound: {b.details['refused']}; returned the {source} bound",
              file=sys.stderr)
    fluid = _fluid(inst)
    from lpsched.cli import emit_json

    if emit_json(args, {"instance": inst.name, "n": inst.n, "memory": inst.memory,
                        **b.to_dict(), **({"fluid": fluid} if fluid else {})},
                 what="bound file"):
        return 0
    print(f"instance     {inst.name} (n={inst.n}, M={inst.memory})")
    named = b.method if source == b.method else f"{b.method}: the {source} bound"
    print(f"lower bound  {b.value}   ({named})")
    for k in ("decode", "area", "combined", "tail", "mean_busy", "release_busy", "bnb_root",
              "partition", "partition_groups", "lazy_lp", "lazy_rounds", "lazy_width",
              "lp_value", "lp_status", "lp_cuts", "width", "columns"):
        if k in b.details:
            v = b.details[k]
            label = "bursts" if k == "partition_groups" else k
            print(f"  {label:<13}{v:.3f}" if isinstance(v, float) else f"  {label:<13}{v}")
    print(f"runtime      {b.runtime:.3f} s")
    if fluid:
        print("fluid (Ao et al.: bounds the throughput of a stationary process with this "
              "mix, not this instance's objective)")
        for k in ("arrival_rate", "max_rate", "load", "equilibrium_memory", "equilibrium_batch"):
            print(f"  {k:<19}{fluid[k]}")
    return 0


def _fluid(inst) -> dict | None:
    """The fluid benchmark (:mod:`lpsched.fluid`) of an online instance (arrivals spread
    over more than one step), else None."""
    from lpsched.fluid import fluid_benchmark

    if inst.n == 0 or int(inst.arrival.max()) == int(inst.arrival.min()):
        return None
    return fluid_benchmark(inst).to_dict()


def _cmd_export(args: argparse.Namespace) -> int:

    from lpsched.cli import _instance_from
    from lpsched.models.export import export_model

    inst = _instance_from(args)
    path = export_model(inst, args.out, model=args.model, fmt=args.format, force=args.force,
                        progress=lambda msg: print(f"lpsched export: {msg}", file=sys.stderr,
                                                   flush=True))
    print(f"wrote {path} ({args.model}, {args.format or path.suffix.lstrip('.')}) "
          f"for {inst.name} (n={inst.n}, M={inst.memory})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``bound`` and ``export`` to the ``lpsched`` command."""
    from lpsched.cli import _add_instance_options
    from lpsched.models.names import BOUND_METHODS as METHODS
    from lpsched.models.names import EXPORT_FORMATS as FORMATS
    from lpsched.models.names import EXPORT_MODELS as MODELS
    from lpsched.paths import add_output_argument

    ex = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser(
        "bound", help="compute a proven lower bound on the optimal total completion time",
        formatter_class=ex,
        description="Lower bound on sum_i (c_i - a_i) of INSTANCE. Methods: combinatorial "
                    "(decode + memory-area, Smith's rule), lp (time-indexed LP relaxation), "
                    "bucket (interval-indexed relaxation for large instances), config (LP with "
                    "tail and lifetime-configuration cuts, cut rounds until --time-limit; "
                    "formulations/colgen.md), best "
                    "(max of combinatorial - with arrivals the release-date mean-busy-time "
                    "bound - the burst partition bound when requests arrive in separate "
                    "bursts, and lp, or bucket when the LP is too large). "
                    "The output names the bound whose value is returned; after 3 s a "
                    "progress line goes to stderr every 5 s; a stage whose estimated memory "
                    "is above 2 GB is skipped with a one-line reason on stderr. "
                    "For an online instance the fluid benchmark of Ao et al. (lpsched.fluid) "
                    "is reported too: the largest arrival rate a stationary process with this "
                    "mix can sustain, and the load; a throughput bound, not a bound on this "
                    "objective. Validity arguments: formulations/bounds.md.",
        epilog="examples:\n  lpsched bound tiny-1\n  lpsched bound tiny-3 --method lp --json\n"
               "  lpsched bound trace.csv --memory 65536 --method bucket")
    _add_instance_options(p)
    p.add_argument("--method", choices=METHODS, default="best", help="bound (default: best)")
    from lpsched.cli import _add_json_options

    _add_json_options(p, "bound (lower_bound, method, ...)")
    p.add_argument("--max-columns", type=int, default=150_000,
                   help="largest time-indexed LP solved by 'best' (else bucket); default 150000")
    p.add_argument("--bucket-columns", type=int, default=30_000,
                   help="target size of the bucket LP (sets the bucket width); default 30000")
    p.add_argument("--bucket-width", type=int, default=None,
                   help="bucket width in steps for 'bucket' (default: automatic)")
    p.add_argument("--time-limit", type=float, default=DEFAULT_BOUND_TIME_LIMIT,
                   help="wall-clock limit of the whole bound in seconds (default 60); the "
                        "stages still running at the limit are dropped and the best bound "
                        "found so far is returned")
    p.set_defaults(func=_cmd_bound)

    p = subparsers.add_parser(
        "export", help="write the time-indexed model as an MPS or LP file", formatter_class=ex,
        description="Export the time-indexed MILP (or its LP relaxation) of INSTANCE, as "
                    "`lpsched solve --algo milp` builds it, for any MILP solver. The size is "
                    "estimated first; a model above the caps is refused unless --force, and "
                    "the steps of a large export are reported on stderr.",
        epilog="examples:\n  lpsched export tiny-1 --model time-indexed --format mps "
               "--out tiny-1.mps\n  lpsched export tiny-2 --model lp-relaxation --out tiny-2.lp")
    _add_instance_options(p)
    p.add_argument("--model", choices=MODELS, default="time-indexed")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="file format (default: from the --out suffix)")
    p.add_argument("--force", action="store_true",
                   help="export even when the model is estimated above 2 GB of memory or 1 GB "
                        "of file (the size guard; refused with exit status 2 otherwise)")
    add_output_argument(p, "--out", required=True, what="model file",
                        help="output file (.mps or .lp, or any name with --format)")
    p.set_defaults(func=_cmd_export)
