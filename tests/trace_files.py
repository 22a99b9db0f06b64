"""Where the tests find the third-party request traces, if at all.

The traces (Azure conversation 2023, arXiv summarisation) are not shipped with the
package. Tests that compare shipped figures with the raw traces run only when the
environment variable ``LPSCHED_TRACES`` names a folder holding
``azure_conv_2023.csv`` and ``arxiv_summarization.csv``; otherwise they are skipped
with a message saying so.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The folder named by ``LPSCHED_TRACES``, or ``None`` when the variable is unset or empty.
TRACES: Path | None = Path(os.environ["LPSCHED_TRACES"]) if os.environ.get("LPSCHED_TRACES") else None


def trace_file(name: str) -> Path:
    """The trace ``name`` in ``LPSCHED_TRACES``; skips the calling test when it is not there."""
    if TRACES is None:
        pytest.skip("set LPSCHED_TRACES to the folder of the request traces to run this test")
    path = TRACES / name
    if not path.is_file():
        pytest.skip(f"LPSCHED_TRACES={TRACES}: no {name} there")
    return path
