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
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lpsched import registry
from tests.markdown_examples import ROOT, Block, blocks, commands, normalize

FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TIMEOUT = 300  # all the shell examples together
#: commands compared elsewhere (tests/afd/test_afd_docs.py runs them in-process)
ELSEWHERE = ("lpsched afd ",)


def _runs_here(block: Block) -> bool:
    return block.lang == "python" or any(not c.startswith(ELSEWHERE)
                                         for c, _, _ in commands(block.text))


BLOCKS = [b for f in FILES for b in blocks(f) if _runs_here(b)]


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
