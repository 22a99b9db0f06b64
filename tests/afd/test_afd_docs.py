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
from tests.markdown_examples import ROOT, blocks, commands

#: A wall time (``0.37 s``) varies from run to run.
WALL = re.compile(r"\d+\.\d+ s\b")


def examples(path: Path) -> list[tuple[str, int, list[str]]]:
    """(command, expected exit status, shown output lines) of every ``$ lpsched afd``."""
    return [(cmd, code, shown) for block in blocks(path) if block.lang == "shell"
            for cmd, code, shown in commands(block.text) if cmd.startswith("lpsched afd ")]


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
