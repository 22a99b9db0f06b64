"""The examples in README.md and docs/*.md run as written and print what they show.

Extracted from every fenced block and every indented (4-space) block:

* ``python`` blocks: executed in a fresh namespace in a temporary folder; a block
  written as a doctest (``>>>`` prompts) runs as one, its outputs compared;
* shell lines ``$ lpsched ...`` (the ``$`` prompt marks a command to run; a usage
  synopsis without it is not run): the ``main`` of ``python -m lpsched.cli`` with the
  command's arguments, in a temporary folder shared by the commands of one block. All
  commands run in one child Python process (one start-up instead of one per command)
  with a timeout. The exit status must be 0, or the one the block shows after
  ``; echo $?``. Every output line the block shows must
  be printed (stdout or stderr), compared with runs of blanks as one blank, decimal
  numbers (wall times, percentages) and table rules masked; a line ending in ``...``
  is a prefix; a line ``...`` elides.

A block is skipped, or run for its exit status only, by a marker on the last
non-blank line before it: ``<!-- docs-test: skip: REASON -->`` or
``<!-- docs-test: exit-only: REASON -->`` (for outputs that depend on the machine's
speed). The ``lpsched afd`` examples are compared by tests/afd/test_afd_docs.py.
"""

from __future__ import annotations

import doctest
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from lpsched import registry

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"<!--\s*docs-test:\s*(skip|exit-only):\s*(.+?)\s*-->")
TIMEOUT = 300  # all the shell examples together
#: commands compared elsewhere (tests/afd/test_afd_docs.py runs them in-process)
ELSEWHERE = ("lpsched afd ",)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int          # 1-based line of the block's first line
    lang: str          # "python" or "shell"
    text: str
    marker: tuple[str, str] | None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _marker(lines: list[str], k: int) -> tuple[str, str] | None:
    """The docs-test marker on the last non-blank line before line ``k`` (0-based)."""
    j = k - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    m = MARKER.search(lines[j]) if j >= 0 else None
    return (m.group(1), m.group(2)) if m else None


def _kind(lang: str, body: list[str]) -> str | None:
    if lang == "python" or (not lang and any(x.startswith(">>> ") for x in body)):
        return "python"
    if any(x.startswith("$ lpsched ") for x in body):
        return "shell"
    return None


def blocks(path: Path) -> list[Block]:
    """Every runnable block of a Markdown file (fenced or indented)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, k = [], 0
    while k < len(lines):
        line = lines[k]
        if line.startswith("```"):
            lang, start = line[3:].strip(), k
            k += 1
            body = []
            while k < len(lines) and not lines[k].startswith("```"):
                body.append(lines[k])
                k += 1
            kind = _kind(lang, body)
            if kind:
                out.append(Block(path, start + 2, kind, "\n".join(body) + "\n",
                                 _marker(lines, start)))
        elif line.startswith("    ") and (k == 0 or not lines[k - 1].strip()):
            start, body = k, []
            while k < len(lines) and (lines[k].startswith("    ") or not lines[k].strip()):
                body.append(lines[k][4:])
                k += 1
            kind = _kind("", body)
            if kind:
                out.append(Block(path, start + 1, kind, "\n".join(body).rstrip() + "\n",
                                 _marker(lines, start)))
            continue
        k += 1
    return out


def commands(text: str) -> list[tuple[str, int, list[str]]]:
    """``(command, expected exit status, shown lines)`` of the ``$ lpsched`` lines."""
    out: list[tuple[str, int, list[str]]] = []
    cmd, shown = None, []
    for line in text.splitlines() + ["$ end"]:
        if line.startswith("$ "):
            if cmd is not None:
                code = 0
                if cmd.endswith("; echo $?"):
                    cmd, code = cmd[: -len("; echo $?")], int(shown.pop())
                out.append((cmd, code, shown))
            cmd = line[2:] if line.startswith("$ lpsched ") else None
            shown = []
        elif cmd is not None and line.strip() and line.strip() != "...":
            shown.append(line)
    return out


def _runs_here(block: Block) -> bool:
    return block.lang == "python" or any(not c.startswith(ELSEWHERE)
                                         for c, _, _ in commands(block.text))


BLOCKS = [b for f in FILES for b in blocks(f) if _runs_here(b)]


def normalize(line: str) -> str:
    line = re.sub(r"-?\d+\.\d+", "<x>", line.strip())
    line = re.sub(r"-{2,}", "--", line)
    return re.sub(r"\s+", " ", line)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["COLUMNS"] = "200"
    return env


#: The child process: ``lpsched.cli.main`` for every command, output captured per command.
RUNNER = """
import contextlib, io, json, os, sys
from lpsched.cli import main
jobs = json.load(open(sys.argv[1]))
results = []
for job in jobs:
    os.chdir(job["cwd"])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(job["argv"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    results.append({"code": code or 0, "printed": out.getvalue() + err.getvalue()})
json.dump(results, open(sys.argv[2], "w"))
"""


@pytest.fixture(scope="module")
def shell_results(tmp_path_factory):
    """``{block id: [(command, expected status, shown lines, status, printed)]}`` for every
    shell block that runs, from one child process."""
    jobs, index = [], []
    for block in BLOCKS:
        if block.lang != "shell" or (block.marker is not None and block.marker[0] == "skip"):
            continue
        cwd = tmp_path_factory.mktemp("docs")
        for cmd, code, shown in commands(block.text):
            if not cmd.startswith(ELSEWHERE):
                jobs.append({"cwd": str(cwd), "argv": shlex.split(cmd)[1:]})
                index.append((block.id, cmd, code, shown))
    work = tmp_path_factory.mktemp("runner")
    (work / "jobs.json").write_text(json.dumps(jobs))
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(work / "jobs.json"),
                           str(work / "out.json")], capture_output=True, text=True,
                          timeout=TIMEOUT, env=_env(), cwd=work)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((work / "out.json").read_text())
    out: dict[str, list] = {}
    for (bid, cmd, code, shown), res in zip(index, results):
        out.setdefault(bid, []).append((cmd, code, shown, res["code"], res["printed"]))
    return out


def _check_shell(block: Block, results: list) -> None:
    exit_only = block.marker is not None and block.marker[0] == "exit-only"
    for cmd, code, shown, got_code, printed in results:
        assert got_code == code, f"{block.id}: `{cmd}` exited {got_code}\n{printed}"
        if exit_only:
            continue
        got = [normalize(x) for x in printed.splitlines()]
        for line in shown:
            want = normalize(line)
            if want.endswith("..."):
                ok = any(g.startswith(want[:-3].rstrip()) for g in got)
            else:
                ok = want in got
            assert ok, f"{block.id}: `{cmd}` did not print\n  {line}\nit printed:\n{printed}"


def _run_python(block: Block, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = set(registry.algorithm_names())
    try:
        _exec_python(block)
    finally:  # an example that registers an algorithm leaves the registry as it was
        for name in set(registry.algorithm_names()) - before:
            registry.unregister(name)


def _exec_python(block: Block) -> None:
    if ">>> " in block.text:
        test = doctest.DocTestParser().get_doctest(block.text, {}, block.id, str(block.path),
                                                    block.line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS
                                       | doctest.NORMALIZE_WHITESPACE)
        runner.run(test)
        assert runner.failures == 0, f"{block.id}: {runner.failures} doctest examples failed"
    else:
        exec(compile(block.text, block.id, "exec"), {"__name__": "__docs__"})  # noqa: S102


def test_the_docs_have_runnable_examples():
    kinds = {b.lang for b in BLOCKS}
    assert kinds == {"python", "shell"}
    assert sum(b.marker is None for b in BLOCKS) >= 10


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_docs_example_runs_as_written(block, tmp_path, monkeypatch, request):
    if block.marker is not None and block.marker[0] == "skip":
        pytest.skip(block.marker[1])
    if block.lang == "python":
        _run_python(block, tmp_path, monkeypatch)
    else:
        _check_shell(block, request.getfixturevalue("shell_results")[block.id])
