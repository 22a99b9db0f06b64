"""The examples of Markdown files (README.md, docs/*.md) for the documentation tests:
fenced and indented blocks, their ``$ lpsched`` commands and the output they show
(tests/test_docs_examples.py, tests/afd/test_afd_docs.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"<!--\s*docs-test:\s*(skip|exit-only):\s*(.+?)\s*-->")


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


def normalize(line: str) -> str:
    line = re.sub(r"-?\d+\.\d+", "<x>", line.strip())
    line = re.sub(r"-{2,}", "--", line)
    return re.sub(r"\s+", " ", line)
