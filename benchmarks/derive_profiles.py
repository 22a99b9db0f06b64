"""Derive the bundled workload profiles from the real traces.

Usage (from the repository root)::

    python benchmarks/derive_profiles.py --traces /path/to/traces
    python benchmarks/derive_profiles.py --traces /path/to/traces --check   # compare only

Reads ``azure_conv_2023.csv`` and ``arxiv_summarization.csv`` (the Vidur project's
processed traces, MIT licence; not shipped) and writes
``lpsched/data/profiles/<name>.json`` (quantile tables, summary statistics,
checkerboard copula, provenance with the SHA-256 of each source file). The
figures are deterministic; only ``provenance.derived_on`` changes between runs
(``--date`` fixes it). See :mod:`lpsched.workloads` for the method.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lpsched.workloads import derive_profile  # noqa: E402

TRACES = ("azure_conv_2023", "arxiv_summarization")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", required=True,
                    help="folder holding the trace CSVs (azure_conv_2023.csv, "
                         "arxiv_summarization.csv)")
    ap.add_argument("--out", default=str(ROOT / "lpsched" / "data" / "profiles"),
                    help="output folder (default lpsched/data/profiles)")
    ap.add_argument("--date", default=None, help="derivation date to record (default today)")
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if a shipped profile differs (ignoring the date)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    status = 0
    for name in TRACES:
        src = Path(args.traces) / f"{name}.csv"
        if not src.exists():
            print(f"derive_profiles: {src}: no such file", file=sys.stderr)
            return 2
        prof = derive_profile(src, name, script="benchmarks/derive_profiles.py",
                              derived_on=args.date)
        dst = out / f"{name}.json"
        if args.check:
            old = json.loads(dst.read_text(encoding="utf-8")) if dst.exists() else None
            if old is not None:
                old["provenance"].pop("derived_on", None)
            new = json.loads(json.dumps(prof))
            new["provenance"].pop("derived_on", None)
            same = old == new
            print(f"{dst}: {'in sync' if same else 'DIFFERS'}")
            status |= 0 if same else 1
            continue
        dst.write_text(json.dumps(prof, indent=None, separators=(",", ":")) + "\n",
                       encoding="utf-8")
        dep = prof["dependence"]
        print(f"{dst}: {prof['provenance']['rows']} rows; mean prefill "
              f"{prof['prefill']['stats']['mean']}, mean decode {prof['decode']['stats']['mean']}; "
              f"spearman trace {dep['trace']['spearman']} / sample "
              f"{dep['profile_sample']['spearman']}; pearson trace {dep['trace']['pearson']} / "
              f"sample {dep['profile_sample']['pearson']}")
    return status


if __name__ == "__main__":
    sys.exit(main())
