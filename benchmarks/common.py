"""Shared helpers of the benchmark scripts (run them as ``python benchmarks/NAME.py``)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine(when: str = "at start") -> str:
    """One line naming the machine: CPU count, Python, CPU model and the load average ``when``.

    ``os.cpu_count()``, not ``nproc``: nproc honours OMP_NUM_THREADS and can report 1 on 2 cores.
    """
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"cpus={os.cpu_count()}, {platform.python_implementation()} {platform.python_version()}, "
            f"CPU: {cpu_model()}, load average {when} {load}")
