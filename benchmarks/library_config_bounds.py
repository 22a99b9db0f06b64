"""Configuration-cut bounds for instances of the library's study sets, as a merge CSV.

Usage (from the repository root)::

    python benchmarks/library_config_bounds.py --names mcsf-n30-s30002,mcsf-n30-s30003 \\
        --time-limit 60 --out benchmarks/results/library_config_bounds.csv
    python benchmarks/build_library.py --sets mcsf-n20-30 --no-runs \\
        --merge benchmarks/results/library_config_bounds.csv

Each row is ``ceil(LP - 1e-6)`` of ``lower_bound(instance, method="config",
time_limit=...)`` (the time-indexed LP with disjoint-tail and lifetime-configuration
cuts, formulations/colgen.md; every LP of its cut loop is a valid bound, so a run
stopped by the time limit still gives one), with the machine, the load when the row
started and the commit, in the merge format of ``benchmarks/build_library.py``.
One instance at a time, HiGHS with one thread.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_library import head_commit  # noqa: E402
from common import machine  # noqa: E402

from lpsched import library  # noqa: E402
from lpsched.models.bounds import lower_bound  # noqa: E402

COLUMNS = ["seed", "n", "bound", "by", "time_limit", "machine", "source", "commit"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--names", required=True, help="comma-separated library instance names")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--out", type=Path, required=True, help="merge CSV to write")
    args = ap.parse_args(argv)
    commit = head_commit()
    rows = []
    for name in args.names.split(","):
        inst = library.load_instance(name.strip())
        mach = machine()
        t0 = time.perf_counter()
        b = lower_bound(inst, "config", time_limit=args.time_limit, threads=1)
        rows.append({
            "seed": inst.metadata["seed"], "n": inst.n, "bound": int(b.value),
            "by": ("lpsched.models.bounds.lower_bound(method='config'): LP with disjoint-tail "
                   "and lifetime-configuration cuts (formulations/colgen.md), HiGHS 1 thread, "
                   f"{b.details.get('rounds')} rounds, status {b.details.get('lp_status')}"),
            "time_limit": args.time_limit, "machine": mach, "source": str(args.out),
            "commit": commit})
        print(f"{name}: bound {b.value} ({time.perf_counter() - t0:.1f} s, "
              f"{b.details.get('rounds')} rounds)", flush=True)
    with args.out.open("w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=COLUMNS)
        wr.writeheader()
        wr.writerows(rows)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
