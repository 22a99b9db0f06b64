"""Benchmark harness: run algorithms over instance sets, verify, tabulate, compare with bounds.

:func:`run_bench` runs every algorithm on every instance through
:func:`lpsched.solve` (so every schedule is verified by the shared checker, and
re-checked here), on a local process pool or an existing Dask distributed
cluster, and returns one :class:`BenchRow` per (instance, algorithm).

Gap. For each instance the lower bound ``LB`` is the best (largest) of

* the instance metadata (``optimum`` when proven, ``lower_bound``);
* ``lpsched.models.bounds.lower_bound(instance, method="best")`` when that
  module is importable (``bound=True``), skipped for instances whose metadata
  already holds a proven optimum or a bound from that same function (listed in
  ``BenchRun.meta["bound_skipped"]``);
* every proven ``lower_bound`` reported by any algorithm in the run on that
  instance (a proven bound is a bound for everyone).

The gap of a feasible result with objective ``z`` is ``100 (z - LB) / z`` percent,
the convention of :attr:`lpsched.schedule.Result.gap` and of MIP solvers
(0% = proven optimal). Because bounds can be weak, each row also gives
``vs_best_pct = 100 (z - best) / best``, the excess over the best known
objective (the smaller of the instance's ``best_known``/``optimum`` metadata and
the best objective of the run). If some ``LB`` exceeds a checker-verified objective the
bound is wrong: the gap is left empty and the row says so. A row whose schedule has
segmented runs (a policy that preempts, e.g. ``vllm``; ``BenchRow.preempted``) gets no
gap and does not count as best known: preemption relaxes the model.

Summary per algorithm: runs, errors, mean gap and mean excess over the best
known objective over the instances it solved,
*wins* (instances where it reached the best objective of the run, ties
included) and *proven optimal* (objective equal to ``LB``).

A failing algorithm (an exception, or a schedule the checker refuses) gives a
row with status ``error`` and its message; the run goes on.

Interrupting (``KeyboardInterrupt``: ``BenchRun.interrupted``). Ctrl-C (or SIGTERM to
``lpsched bench``) stops the run at once: queued tasks are dropped and the local worker
processes, with any process they started, are terminated (no process is left behind);
the rows finished so far are kept and written. The CSV of ``csv_path`` is rewritten
atomically (a temporary file renamed into place) at most every second while the run goes
on and once at the end, so it is always a complete file.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from lpsched.instance import Instance
from lpsched.interrupts import deferred, sigint_raises
from lpsched.paths import atomic_open, write_text_atomic
from lpsched.stop import check_time_limit

__all__ = [
    "BenchRow",
    "BenchRun",
    "instance_lower_bound",
    "run_bench",
    "summarize",
    "write_csv",
    "write_json",
]

COLUMNS = ("instance", "n", "M", "algorithm", "status", "objective", "lower_bound", "gap_pct",
           "best_known", "vs_best_pct", "time_s")


@dataclass
class BenchRow:
    """One (instance, algorithm) run."""

    instance: str
    n: int
    M: int
    algorithm: str
    status: str
    objective: int | None = None
    lower_bound: float | None = None  # the instance LB used for the gap (see module doc)
    lb_source: str = ""
    gap_pct: float | None = None
    best_known: int | None = None  # best of metadata best_known/optimum and this run
    vs_best_pct: float | None = None  # 100 (objective - best_known) / best_known
    time_s: float = 0.0
    algo_lower_bound: float | None = None  # the algorithm's own proven bound
    verified: bool = False  # schedule re-checked feasible by lpsched.check
    makespan: int | None = None
    peak_memory: int | None = None
    preempted: int = 0  # requests that ran in several segments (schedule runs)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BenchRun:
    """All rows of a run, its summary and whether it was interrupted."""

    rows: list[BenchRow]
    summary: list[dict[str, Any]]
    algorithms: list[str]
    instances: list[str]
    interrupted: bool = False
    executor: str = "local"
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"meta": self.meta, "executor": self.executor, "interrupted": self.interrupted,
                "algorithms": self.algorithms, "instances": self.instances,
                "summary": self.summary, "rows": [r.to_dict() for r in self.rows]}


# -- the task run on a worker -----------------------------------------------------------------


def _run_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """Solve one (instance, algorithm) pair; never raises (failures become error rows)."""
    from lpsched.check import check
    from lpsched.solve import solve

    if task.get("spec") is not None:  # a user registration travels with its task
        from lpsched import registry

        registry.ensure(task["spec"])
    inst = Instance.from_dict(task["instance"])
    row: dict[str, Any] = {"instance": inst.name, "n": inst.n, "M": inst.memory,
                           "algorithm": task["algorithm"]}
    t0 = time.perf_counter()
    try:
        res = solve(inst, task["algorithm"], time_limit=task["time_limit"], seed=task["seed"],
                    **task.get("options", {}))
    except Exception as exc:  # noqa: BLE001 - a failing algorithm is a result, not a crash
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
        row.update(status="error", time_s=time.perf_counter() - t0,
                   message=f"{type(exc).__name__}: {exc}{where}")
        return row
    row.update(status=str(res.status), time_s=float(res.runtime), message=res.message or "",
               algo_lower_bound=None if res.lower_bound is None else float(res.lower_bound))
    if res.schedule is not None and res.status.value != "error":
        rep = check(inst, res.schedule)
        if rep.feasible:
            row.update(objective=int(rep.objective), verified=True, makespan=rep.makespan,
                       peak_memory=rep.peak_memory, preempted=len(res.schedule.runs))
        else:  # solve() already refuses these; kept as a second line of defence
            row.update(status="error", message=f"checker: {rep.reason()}")
    return row


def _bound_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """Compute ``lpsched.models.bounds.lower_bound`` for one instance (never raises)."""
    inst = Instance.from_dict(task["instance"])
    try:
        from lpsched.models.bounds import lower_bound
    except ImportError:
        return {"instance": inst.name, "value": None, "method": None}
    try:
        import inspect

        kwargs: dict[str, Any] = {"method": "best"}
        params = inspect.signature(lower_bound).parameters
        if task.get("time_limit") is not None and ("time_limit" in params or any(
                p.kind is p.VAR_KEYWORD for p in params.values())):
            kwargs["time_limit"] = task["time_limit"]
        b = lower_bound(inst, **kwargs)
        return {"instance": inst.name, "value": float(b.value), "method": str(b.method)}
    except Exception as exc:  # noqa: BLE001
        return {"instance": inst.name, "value": None, "method": None,
                "error": f"{type(exc).__name__}: {exc}"}


def _needs_bound(inst: Instance) -> bool:
    """False when the bound function cannot add anything: a proven optimum is in the
    metadata, or the metadata bound already came from ``lpsched.models.bounds``."""
    md = inst.metadata
    if md.get("optimum") is not None:
        return False
    return not str(md.get("lower_bound_by") or "").startswith("lpsched.models.bounds")


def bounds_available() -> bool:
    try:
        import lpsched.models.bounds  # noqa: F401
    except ImportError:
        return False
    return True


# -- executors ----------------------------------------------------------------------------------


class _Local:
    """A local process pool."""

    name = "local"

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.name = f"local ({jobs} processes)"
        self.pool = ProcessPoolExecutor(max_workers=jobs, initializer=_worker_init)

    def submit(self, fn: Callable, arg: Any) -> Any:
        return self.pool.submit(fn, arg)

    def wait_any(self, pending: set, timeout: float | None = None) -> tuple[set, set]:
        done, rest = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
        return set(done), set(rest)

    def close(self, cancel: bool = False) -> None:
        """Finish (``cancel=False``), or stop now: the queued tasks are dropped and the
        workers, with every process they started (e.g. a HiGHS child), are terminated."""
        if not cancel:
            self.pool.shutdown(wait=True)
            return
        from lpsched.interrupts import kill_tree

        workers = getattr(self.pool, "_processes", None) or {}
        roots = [p.pid for p in list(workers.values()) if p.pid is not None]
        self.pool.shutdown(wait=False, cancel_futures=True)
        kill_tree(roots)
        self.pool.shutdown(wait=True)  # the pool's thread sees the workers gone: quick


def _worker_init() -> None:
    """Workers leave Ctrl-C to the parent (which stops them): a Ctrl-C at a terminal
    reaches every process of the group, and a worker would otherwise fail its task."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's (inherited by fork)


class _InProcess:
    """jobs=1: run each task in this process when it is waited for (progress and Ctrl-C work)."""

    name = "in-process"

    def __init__(self):
        self._todo: dict[int, tuple[Callable, Any]] = {}
        self._results: dict[int, Any] = {}
        self._count = 0

    def submit(self, fn: Callable, arg: Any) -> int:
        self._count += 1
        token = self._count
        self._todo[token] = (fn, arg)
        return token

    def wait_any(self, pending: set, timeout: float | None = None) -> tuple[set, set]:
        token = next(t for t in self._todo if t in pending)  # submission order
        fn, arg = self._todo.pop(token)
        self._results[token] = fn(arg)
        rest = set(pending)
        rest.discard(token)
        return {token}, rest

    def result(self, token: int) -> Any:
        return self._results.pop(token)

    def close(self, cancel: bool = False) -> None:
        self._todo.clear()


class _Dask:
    """An existing Dask distributed cluster (``tcp://HOST:PORT``) or a ``Client``."""

    name = "dask"

    def __init__(self, scheduler: Any, timeout: float = 10.0):
        try:
            from distributed import Client
        except ImportError:
            raise ValueError("--scheduler needs the 'dask' extra: pip install 'lpsched[dask]'"
                             ) from None
        if isinstance(scheduler, Client):
            self.client, self.own = scheduler, False
        else:
            try:
                self.client = Client(str(scheduler), timeout=f"{timeout}s")
            except OSError as exc:
                raise ValueError(f"cannot connect to the Dask scheduler at {scheduler}: {exc}"
                                 ) from None
            self.own = True
        self.name = f"dask {self.client.scheduler.address}"
        self.futures: list[Any] = []

    def submit(self, fn: Callable, arg: Any) -> Any:
        fut = self.client.submit(fn, arg, pure=False)
        self.futures.append(fut)
        return fut

    def wait_any(self, pending: set, timeout: float | None = None) -> tuple[set, set]:
        from distributed import wait as dwait

        try:
            res = dwait(list(pending), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return set(), set(pending)
        return set(res.done), set(res.not_done)

    def close(self, cancel: bool = False) -> None:
        if cancel:
            self.client.cancel([f for f in self.futures if not f.done()])
        if self.own:
            self.client.close()


def _result(executor: Any, fut: Any) -> Any:
    if isinstance(executor, _InProcess):
        return executor.result(fut)
    return fut.result()


# -- progress -----------------------------------------------------------------------------------


class _Progress:
    """One self-overwriting stderr line, only when stderr is a terminal."""

    def __init__(self, total: int, enabled: bool | None = None):
        self.total = total
        self.done = 0
        self.t0 = time.perf_counter()
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        frac = self.done / max(self.total, 1)
        bar = "#" * int(24 * frac)
        el = time.perf_counter() - self.t0
        eta = el / self.done * (self.total - self.done) if self.done else 0.0
        sys.stderr.write(f"\r[{bar:<24}] {self.done}/{self.total} {el:6.1f}s eta {eta:5.0f}s "
                         f"{label[:40]:<40}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 100 + "\r")
            sys.stderr.flush()


# -- bounds and gaps ----------------------------------------------------------------------------


def _metadata_bound(inst: Instance) -> tuple[float | None, str]:
    md = inst.metadata
    best: tuple[float | None, str] = (None, "")
    for key in ("optimum", "lower_bound"):
        v = md.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            if best[0] is None or v > best[0]:
                how = md.get(f"{key}_by") or md.get("verified_by") or ""
                best = (float(v), f"metadata {key}" + (f" ({how})" if how else ""))
    return best


def instance_lower_bound(inst: Instance, rows: Iterable[BenchRow] = (),
                         computed: tuple[float | None, str | None] = (None, None)
                         ) -> tuple[float | None, str]:
    """Best lower bound of ``inst`` from metadata, a computed bound and the rows' bounds."""
    cands = [_metadata_bound(inst)]
    if computed[0] is not None:
        cands.append((computed[0], f"lpsched.models.bounds ({computed[1]})"))
    for r in rows:
        if r.algo_lower_bound is not None and r.status != "error":
            cands.append((r.algo_lower_bound, f"{r.algorithm} bound"))
    known = [(float(v), src) for v, src in cands if v is not None]
    if not known:
        return None, ""
    return max(known, key=lambda c: c[0])


def _best_known(inst: Instance, rows: Sequence[BenchRow]) -> int | None:
    # a preemptive schedule is not a schedule of the model without preemption
    cands: list[float] = [r.objective for r in rows
                          if r.objective is not None and not r.preempted]
    for key in ("best_known", "optimum"):
        v = inst.metadata.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            cands.append(v)
    return int(min(cands)) if cands else None


def _apply_bounds(rows: list[BenchRow], inst: Instance, computed) -> None:
    lb, src = instance_lower_bound(inst, rows, computed)
    best = _best_known(inst, rows)
    for r in rows:
        r.best_known = best
        if best is not None and r.objective is not None and best > 0:
            r.vs_best_pct = 100.0 * (r.objective - best) / best
        r.lower_bound = None if lb is None else (int(lb) if float(lb).is_integer() else lb)
        r.lb_source = src
        r.gap_pct = None
        if lb is None or r.objective is None:
            continue
        if r.preempted:
            note = (f"{r.preempted} requests preempted and resumed: the bounds are for "
                    "schedules without preemption, no gap")
            r.message = f"{r.message}; {note}" if r.message else note
            continue
        if lb > r.objective + 1e-6:
            note = (f"lower bound {lb:g} ({src}) exceeds this checked objective {r.objective}: "
                    "the bound is invalid")
            r.message = f"{r.message}; {note}" if r.message else note
            continue
        r.gap_pct = 0.0 if r.objective <= 0 else max(0.0, 100.0 * (r.objective - lb) / r.objective)


def summarize(rows: Sequence[BenchRow], algorithms: Sequence[str]) -> list[dict[str, Any]]:
    """Per-algorithm summary: runs, errors, mean gap, wins, proven optimal, total time."""
    best: dict[str, int] = {}
    for r in rows:
        if r.objective is not None:
            best[r.instance] = min(best.get(r.instance, r.objective), r.objective)
    out = []
    for a in algorithms:
        mine = [r for r in rows if r.algorithm == a]
        gaps = [r.gap_pct for r in mine if r.gap_pct is not None]
        above = [r.vs_best_pct for r in mine if r.vs_best_pct is not None]
        out.append({
            "algorithm": a,
            "runs": len(mine),
            "solved": sum(r.objective is not None for r in mine),
            "errors": sum(r.status == "error" for r in mine),
            "mean_gap_pct": (sum(gaps) / len(gaps)) if gaps else None,
            "max_gap_pct": max(gaps) if gaps else None,
            "mean_vs_best_pct": (sum(above) / len(above)) if above else None,
            "wins": sum(r.objective is not None and r.objective == best.get(r.instance)
                        for r in mine),
            "proven_optimal": sum(r.objective is not None and r.lower_bound is not None
                                  and r.objective <= r.lower_bound + 1e-6 for r in mine),
            "time_s": sum(r.time_s for r in mine),
        })
    return out


# -- the run ------------------------------------------------------------------------------------


def run_bench(
    instances: Sequence[Instance],
    algorithms: Sequence[str],
    *,
    time_limit: float | None = None,
    seed: int | None = 0,
    jobs: int | None = None,
    scheduler: Any = None,
    connect_timeout: float = 10.0,
    bound: bool = True,
    bound_time_limit: float | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    csv_path: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    on_row: Callable[[BenchRow], None] | None = None,
) -> BenchRun:
    """Run every algorithm on every instance; see the module docstring.

    Parameters
    ----------
    instances, algorithms
        What to run (algorithm registry names; unknown names raise before anything runs).
    time_limit, seed
        Passed to every :func:`lpsched.solve` call.
    jobs
        Local worker processes (default: ``os.cpu_count()``; 1 runs in this process).
    scheduler
        ``"tcp://HOST:PORT"`` of a running Dask scheduler, or a ``distributed.Client``:
        the tasks run there instead (same results). ``connect_timeout`` in seconds.
    bound
        Also compute ``lpsched.models.bounds.lower_bound`` per instance when available.
    options
        ``{algorithm: {option: value}}`` passed to that algorithm.
    csv_path
        Append each finished row here at once (header first); rewritten sorted at the end.
    progress
        Progress line on stderr (default: when stderr is a terminal).
    """
    from lpsched import registry

    if not instances:
        raise ValueError("no instances to run")
    specs = {registry.get(a).name: registry.get(a) for a in algorithms}  # names checked early
    algos = [registry.get(a).name for a in algorithms]
    if not algos:
        raise ValueError("no algorithms to run")
    if len(set(algos)) != len(algos):
        raise ValueError(f"an algorithm is listed twice: {algorithms}")
    names = [i.name for i in instances]
    if len(set(names)) != len(names):
        dup = sorted({x for x in names if names.count(x) > 1})
        raise ValueError(f"instance names must be unique in a run; repeated: {dup}")
    time_limit = check_time_limit(time_limit)
    bound_time_limit = check_time_limit(bound_time_limit, "bound_time_limit")
    options = dict(options or {})
    unknown = sorted(set(options) - set(algos))
    if unknown:
        raise ValueError(f"options given for algorithm(s) not in the run: {', '.join(unknown)}")
    for a in algos:  # every option is checked before anything runs
        specs[a].validate(options.get(a, {}))

    if scheduler is not None:
        executor: Any = _Dask(scheduler, connect_timeout)
    else:
        jobs = jobs or os.cpu_count() or 1
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        executor = _InProcess() if jobs == 1 else _Local(jobs)

    payloads = {i.name: i.to_dict() for i in instances}
    tasks = [{"instance": payloads[i.name], "algorithm": a, "time_limit": time_limit,
              "seed": seed, "options": dict(options.get(a, {})),
              "spec": None if specs[a].builtin else specs[a]}
             for i in instances for a in algos]
    do_bound = bound and bounds_available()
    bound_insts = [i for i in instances if do_bound and _needs_bound(i)]
    skipped = [i.name for i in instances if do_bound and not _needs_bound(i)]
    computed: dict[str, tuple[float | None, str | None]] = {}
    bound_errors: dict[str, str] = {}
    prog = _Progress(len(tasks) + len(bound_insts), progress)
    partial = _PartialCsv(csv_path)
    done_rows: list[BenchRow] = []
    interrupted = False
    pending: dict[Any, tuple[str, Any]] = {}
    # in this process, Ctrl-C stops the run (not only the solve that happens to be running)
    stop_now = sigint_raises() if isinstance(executor, _InProcess) else contextlib.nullcontext()
    try:
        stop_now.__enter__()
        for t in tasks:
            pending[executor.submit(_run_task, t)] = ("run", t)
        if bound_insts:
            for i in bound_insts:
                pending[executor.submit(_bound_task, {"instance": payloads[i.name],
                                                      "time_limit": bound_time_limit})] = \
                    ("bound", i.name)
        waiting = set(pending)
        while waiting:
            finished, waiting = executor.wait_any(waiting, timeout=partial.every)
            partial.flush(done_rows)
            for fut in finished:
                kind, info = pending[fut]
                out = _result(executor, fut)
                if kind == "bound":
                    computed[out["instance"]] = (out["value"], out["method"])
                    if out.get("error"):
                        bound_errors[out["instance"]] = out["error"]
                    prog.step(f"bound {out['instance']}")
                    continue
                row = BenchRow(**out)
                done_rows.append(row)
                partial.add(done_rows)
                if on_row is not None:
                    on_row(row)
                prog.step(f"{row.instance} {row.algorithm}")
    except KeyboardInterrupt:
        interrupted = True
        with deferred():  # a second signal must not cut the clean-up short
            stop_now.__exit__(None, None, None)
            executor.close(cancel=True)
    else:
        stop_now.__exit__(None, None, None)
        executor.close()
    finally:
        prog.close()

    order = {(i.name, a): k for k, (i, a) in enumerate((i, a) for i in instances for a in algos)}
    done_rows.sort(key=lambda r: order[(r.instance, r.algorithm)])
    by_inst = {i.name: i for i in instances}
    for name in dict.fromkeys(r.instance for r in done_rows):
        _apply_bounds([r for r in done_rows if r.instance == name], by_inst[name],
                      computed.get(name, (None, None)))
    run = BenchRun(rows=done_rows, summary=summarize(done_rows, algos), algorithms=algos,
                   instances=names, interrupted=interrupted, executor=executor.name,
                   meta={"time_limit": time_limit, "seed": seed,
                         "bound_function": do_bound, "bound_errors": bound_errors,
                         "bound_skipped": skipped,
                         "tasks": len(tasks),
                         "finished": len(done_rows)})
    if csv_path is not None:
        write_csv(run, csv_path)
    return run


# -- output -------------------------------------------------------------------------------------


def write_csv(run: BenchRun, path: str | os.PathLike[str]) -> None:
    """All rows as CSV (one line per instance x algorithm), written atomically
    (:func:`lpsched.paths.atomic_open`)."""
    _write_rows(run.rows, path)


def _write_rows(rows: Sequence[BenchRow], path: str | os.PathLike[str]) -> None:
    with atomic_open(path, "w", newline="", what="bench CSV") as fh:
        w = csv.DictWriter(fh, fieldnames=[f.name for f in fields(BenchRow)])
        w.writeheader()
        for r in rows:
            w.writerow(r.to_dict())


class _PartialCsv:
    """The rows finished so far, rewritten (atomically) at most every ``every`` seconds
    so a run that dies leaves a complete CSV of most of its finished rows."""

    def __init__(self, path: str | os.PathLike[str] | None, every: float = 1.0):
        self.path, self.every = path, every
        self.last = -math.inf
        self.dirty = False

    def add(self, rows: Sequence[BenchRow]) -> None:
        """A row was added to ``rows``: write now, or at a later :meth:`flush`."""
        self.dirty = True
        self.flush(rows)

    def flush(self, rows: Sequence[BenchRow]) -> None:
        now = time.monotonic()
        if self.path is not None and self.dirty and now - self.last >= self.every:
            _write_rows(rows, self.path)
            self.last, self.dirty = now, False


def write_json(run: BenchRun, path: str | os.PathLike[str]) -> None:
    """Rows, summary and run settings as JSON, written atomically."""
    write_text_atomic(path, json.dumps(run.to_dict(), indent=1) + "\n", what="bench JSON")


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows of a bench CSV or JSON file (for plots), numbers parsed."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        data = json.loads(p.read_text(encoding="utf-8"))
        return list(data["rows"] if isinstance(data, dict) else data)
    rows = []
    with p.open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            out: dict[str, Any] = {}
            for k, v in r.items():
                if v == "":
                    out[k] = None
                    continue
                try:
                    out[k] = float(v) if any(c in v for c in ".eE") else int(v)
                except ValueError:
                    out[k] = v
            rows.append(out)
    return rows


def table_rows(run: BenchRun) -> list[dict[str, Any]]:
    """Rows for :func:`lpsched.cli.format_table` (rounded for display)."""
    out = []
    for r in run.rows:
        out.append({"instance": r.instance, "n": r.n, "M": r.M, "algorithm": r.algorithm,
                    "status": r.status, "objective": r.objective,
                    "lower_bound": r.lower_bound,
                    "gap_pct": None if r.gap_pct is None else round(r.gap_pct, 2),
                    "best_known": r.best_known,
                    "vs_best_pct": None if r.vs_best_pct is None else round(r.vs_best_pct, 2),
                    "time_s": round(r.time_s, 3)})
    return out
