"""The `lpsched afd` examples in docs/afd.md and the README run and print what they show.

Every fenced block line ``$ lpsched afd ...`` is run in-process; its exit status must be
the one the block shows (``; echo $?``) or 0, and every output line the block shows must
be printed (``...`` marks an abridged block; solver wall times are not compared).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from lpsched.cli import main

ROOT = Path(__file__).resolve().parents[2]
#: A wall time (``0.37 s``) varies from run to run.
WALL = re.compile(r"\d+\.\d+ s\b")


def examples(path: Path) -> list[tuple[str, int, list[str]]]:
    """(command, expected exit status, shown output lines) of every ``$ lpsched afd``."""
    out, blocks, inside = [], [], False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            inside = not inside
            if inside:
                blocks.append([])
        elif inside:
            blocks[-1].append(line)
    for block in blocks:
        cmd, shown = None, []
        for line in block + ["$ end"]:
            if line.startswith("$ "):
                if cmd is not None:
                    code = 0
                    if cmd.endswith("; echo $?"):
                        cmd, code = cmd[: -len("; echo $?")], int(shown.pop())
                    out.append((cmd, code, shown))
                cmd = line[2:] if line.startswith("$ lpsched afd ") else None
                shown = []
            elif cmd is not None and line.strip() and line.strip() != "...":
                shown.append(line)
    return out


CASES = examples(ROOT / "docs" / "afd.md") + examples(ROOT / "README.md")


def test_the_docs_have_afd_examples():
    cmds = [c for c, _, _ in CASES]
    for sub in ("size", "simulate", "sweep", "plan"):
        assert any(c.startswith(f"lpsched afd {sub} ") for c in cmds), sub
    assert any(code == 1 for _, code, _ in CASES)  # the infeasible plan


@pytest.mark.slow
@pytest.mark.parametrize("cmd,code,shown", CASES, ids=[c for c, _, _ in CASES])
def test_doc_example_prints_what_it_shows(capsys, cmd, code, shown):
    got = main(shlex.split(cmd)[1:])
    out = capsys.readouterr().out
    assert got == code
    lines = [WALL.sub("<t>", x.rstrip()) for x in out.splitlines()]
    for line in shown:
        assert WALL.sub("<t>", line.rstrip()) in lines, line
