"""Derive the AFD communication figures shipped under ``lpsched/afd/data`` (third-party input).

* latency + bandwidth fits of the Vidur H100 DGX point-to-point send/recv table
  (``t = latency + bytes / bandwidth``, least squares on the medians; one fit for the
  intra-node NVLink rows, ``devices_per_node = 2``, one for inter-node,
  ``devices_per_node = 1``).

Only the derived figures are written; the input files are never copied.

    python benchmarks/afd_derive_data.py [--vidur /path/to/vidur_h100_dgx_send_recv.csv]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "lpsched" / "afd" / "data"


def fit_vidur(path: Path) -> dict:
    rows = list(csv.DictReader(path.open()))
    fits = {}
    for dpn, label in (("2", "nvlink_intra_node"), ("1", "inter_node")):
        sel = [r for r in rows if r["devices_per_node"] == dpn]
        x = np.array([float(r["size"]) for r in sel])
        y = np.array([float(r["time_stats.send_recv.median"]) for r in sel])  # ms
        A = np.column_stack([np.ones_like(x), x])
        (lat, slope), *_ = np.linalg.lstsq(A, y, rcond=None)
        pred = lat + slope * x
        rel = np.abs(pred - y) / y
        big = x >= 1e6
        fits[label] = {
            "latency_ms": float(lat), "ms_per_byte": float(slope),
            "bandwidth_GBps": float(1e-6 / slope),
            "points": int(x.size), "size_min_bytes": float(x.min()), "size_max_bytes": float(x.max()),
            "median_rel_error": float(np.median(rel)),
            "median_rel_error_sizes_ge_1MB": float(np.median(rel[big])),
        }
        print(label, json.dumps(fits[label]))
    return fits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vidur", required=True,
                    help="path of Vidur's h100_dgx send_recv profiling CSV")
    args = ap.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    fits = fit_vidur(Path(args.vidur))
    comm = {
        "source": "Vidur project (microsoft/vidur, MIT licence), profiling data "
                  "data/profiling/network/h100_dgx/send_recv.csv; fitted by "
                  "benchmarks/afd_derive_data.py; the table itself is not shipped",
        "model": "t_ms = latency_ms + size_bytes * ms_per_byte (least squares on medians; "
                 "the 'size' column is taken as bytes)",
        "links": fits,
    }
    (DATA / "comm_vidur_h100.json").write_text(json.dumps(comm, indent=1) + "\n")


if __name__ == "__main__":
    main()
