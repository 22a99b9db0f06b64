"""The `lpsched replay` examples of docs/serving.md run and show what the page shows.

Every fenced block holding a ``$ lpsched replay`` line is run in-process in a temporary
folder; each line the block shows after a command must be printed (``...`` skips lines),
and a ``$ head -N FILE`` line must show the first ``N`` lines of the file the replay
wrote. Times are printed with 6 decimals. They pass through the calibrated step-time
model, whose fits (least squares and a fitted knee exponent) come out of LAPACK and a
numeric optimiser: across OpenBLAS kernels (SkylakeX vs Haswell) the fitted step times
differ by about 1e-4 relative, which moved the first token of this example by 3e-5 s.
Numbers are therefore compared to 5e-4 s (ten times that), everything else exactly.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from lpsched.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "serving.md"


def blocks() -> list[list[str]]:
    """The fenced blocks of the page that run ``lpsched replay``."""
    out: list[list[str]] = []
    inside = False
    for line in DOC.read_text().splitlines():
        if line.startswith("```"):
            inside = not inside
            if inside:
                out.append([])
        elif inside:
            out[-1].append(line)
    return [b for b in out if any(x.startswith("$ lpsched replay") for x in b)]


def commands(block: list[str]) -> list[tuple[str, list[str]]]:
    """(command, the lines shown after it) for each ``$ `` line of ``block``."""
    out: list[tuple[str, list[str]]] = []
    for line in block:
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
    return out


def same_line(got: str, want: str) -> bool:
    g, w = got.split(","), want.split(",")
    if len(g) != len(w):
        return False
    for a, b in zip(g, w):
        if a == b:
            continue
        try:
            if abs(float(a) - float(b)) > 5e-4:
                return False
        except ValueError:
            return False
    return True


def test_the_page_has_a_per_request_example():
    assert any("--per-request" in line for b in blocks() for line in b)


@pytest.mark.parametrize("block", blocks(), ids=lambda b: b[0][:60])
def test_replay_example(block, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for cmd, shown in commands(block):
        argv = shlex.split(cmd)
        if argv[0] == "head":
            n, path = int(argv[1].lstrip("-")), argv[2]
            lines = (tmp_path / path).read_text().splitlines()[:n]
            assert len(lines) == len(shown)
            for got, want in zip(lines, shown):
                assert same_line(got, want), (got, want)
            continue
        assert argv[0] == "lpsched"
        assert main(argv[1:]) == 0
        printed = capsys.readouterr().out.splitlines()
        for want in (x for x in shown if x != "..."):
            assert want in printed, f"{cmd}: {want!r} not printed"


def python_after_per_request() -> str:
    """The Python block of the page that reads the ``times.csv`` of the replay example."""
    text = DOC.read_text()
    start = text.index("```python", text.index("--per-request times.csv"))
    body = text[text.index("\n", start) + 1:]
    return body[:body.index("```")]


def test_the_plot_snippet_runs_on_the_per_request_file(tmp_path, monkeypatch, capsys):
    """The page's matplotlib snippet on the file its replay example writes (the docs-test
    of that block is skipped: it needs this file)."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    block = next(b for b in blocks() if any("--per-request" in line for line in b))
    cmd = next(c for c, _ in commands(block) if "--per-request" in c)
    assert main(shlex.split(cmd)[1:]) == 0
    capsys.readouterr()
    exec(compile(python_after_per_request(), str(DOC), "exec"), {})  # noqa: S102
    assert (tmp_path / "latency.png").stat().st_size > 0
