"""Docs are tests: every ```python block in docs/ runs, and every relative link resolves.

Each Markdown file under ``docs/`` (found when the tests are collected, so new pages are
included without touching this file) is one test case. Its ```python blocks run in order,
in one namespace for the page, with the repository root as the working directory, as a
reader would run them one after another in a notebook. Blocks fenced as anything else
(```console, ```yaml, ```text...) are not run. A block whose first line is ``# doc: skip``
is not run either: keep that for code that cannot run in the suite (a Dask cluster, a
file the reader must download), never to hide a failure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from finsim import registry

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
#: Info strings of the fenced blocks that run.
PYTHON = {"python", "py", "python3"}
SKIP = "# doc: skip"

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
# [text](target) and ![alt](target); target may be followed by a "title"
_INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
# [label]: target
_REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_EXTERNAL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*:|//)")  # http:, https:, mailto:, //host


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown page."""

    info: str  # the first word of the info string, lower case ("python", "console", "")
    line: int  # line of the page on which the code starts (1-based)
    code: str


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, in order (CommonMark fences)."""
    found: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        info = opening["info"].strip().split(maxsplit=1)
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if (
                closing is not None
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            # the fence's own indentation is removed from its lines, as Markdown does
            line = lines[j]
            strip = min(indent, len(line) - len(line.lstrip(" ")))
            body.append(line[strip:])
            j += 1
        found.append(Block(info[0].lower() if info else "", i + 2, "\n".join(body) + "\n"))
        i = j + 1
    return found


def runnable(block: Block) -> bool:
    """A ```python block not marked ``# doc: skip`` on its first line."""
    first = block.code.lstrip("\n").split("\n", 1)[0].strip()
    return block.info in PYTHON and first != SKIP


def links(text: str) -> list[tuple[int, str]]:
    """(line, target) of every link outside code: inline, image and reference links."""
    out: list[tuple[int, str]] = []
    in_code = {b.line + k for b in blocks(text) for k in range(-1, b.code.count("\n") + 1)}
    for number, line in enumerate(text.splitlines(), start=1):
        if number in in_code:
            continue
        line = _INLINE_CODE.sub("", line)
        out += [(number, m.group(1)) for m in _INLINE_LINK.finditer(line)]
        reference = _REFERENCE_LINK.match(line)
        if reference:
            out.append((number, reference.group(1)))
    return out


def relative(target: str) -> str | None:
    """The file part of a link to a file of the repository, or None (a web link, an anchor)."""
    if _EXTERNAL.match(target) or target.startswith("#"):
        return None
    return target.split("#", 1)[0].split("?", 1)[0] or None


def _name(page: Path) -> str:
    return page.relative_to(DOCS).as_posix()


# -- the parser itself ---------------------------------------------------------------------


def test_only_python_blocks_run_and_skip_marks_are_honoured():
    """```python blocks run; ```console, ```yaml, unlabelled and '# doc: skip' blocks do not."""
    page = "\n".join(
        [
            "Text",
            "```python",
            "x = 1",
            "```",
            "```console",
            "$ finsim run x.yaml",
            "```",
            "```yaml",
            "a: 1",
            "```",
            "```",
            "plain",
            "```",
            "````python",
            "# doc: skip",
            "raise SystemExit",
            "````",
            "  ```python",
            "  y = x + 1",
            "  ```",
        ]
    )
    found = blocks(page)
    assert [b.info for b in found] == ["python", "console", "yaml", "", "python", "python"]
    assert [runnable(b) for b in found] == [True, False, False, False, False, True]
    assert found[0].line == 3 and found[-1].code == "y = x + 1\n"


def test_links_are_found_outside_code_only():
    """Links in text and reference definitions are checked; links inside code are not."""
    page = "\n".join(
        [
            "See [concepts](concepts.md#recurrence), [web](https://nhs.uk), [here](#top),",
            "`[not](code.md)` and ![a chart](img/fan.png).",
            "```python",
            "print('[no](inside.md)')",
            "```",
            "[ref]: ../examples/x.yaml",
        ]
    )
    targets = [relative(t) for _, t in links(page)]
    assert [t for t in targets if t] == ["concepts.md", "img/fan.png", "../examples/x.yaml"]


# -- the pages ---------------------------------------------------------------------------------


def test_there_are_docs():
    """docs/ holds Markdown pages."""
    assert PAGES, f"no Markdown files in {DOCS}"


@pytest.mark.parametrize("page", PAGES, ids=[_name(p) for p in PAGES])
def test_python_blocks_run(page: Path, monkeypatch: pytest.MonkeyPatch):
    """Every ```python block of the page runs, in order, in one namespace, from the repo root."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("MPLBACKEND", "Agg")  # pictures are drawn, never shown
    # a page may register its own mechanism: it must not outlive the page
    registry.mechanisms()  # the built-ins, registered on first use
    monkeypatch.setattr(registry, "_MECHANISMS", dict(registry._MECHANISMS))
    before = {p.name for p in ROOT.iterdir()}
    namespace: dict[str, object] = {"__name__": "__main__"}
    shown = f"docs/{_name(page)}"
    for block in filter(runnable, blocks(page.read_text(encoding="utf-8"))):
        # padding puts tracebacks on the page's own line numbers
        code = compile("\n" * (block.line - 1) + block.code, shown, "exec")
        exec(code, namespace)
    new = sorted({p.name for p in ROOT.iterdir()} - before)
    left = [name for name in new if name not in _ignored_by_git(new)]
    assert not left, (
        f"{shown} left new files in the repository root: {', '.join(left)}; "
        "write an example's output to a temporary folder (tempfile.mkdtemp())"
    )


def _ignored_by_git(names: list[str]) -> set[str]:
    """Those of ``names`` (top-level) that git ignores, such as out/ and results/.

    Without git or outside a work tree nothing can be told apart: all count as ignored.
    """
    if not names:
        return set()
    if shutil.which("git") is None:
        return set(names)
    done = subprocess.run(
        ["git", "check-ignore", "--", *names], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode not in (0, 1):  # 128: not a git work tree
        return set(names)
    return {line.strip().rstrip("/") for line in done.stdout.splitlines()}


@pytest.mark.parametrize("page", PAGES, ids=[_name(p) for p in PAGES])
def test_relative_links_point_to_files(page: Path):
    """Every relative link of the page (to a page, an example, a picture) names a file that exists."""
    broken = [
        f"line {line}: {target}"
        for line, target in links(page.read_text(encoding="utf-8"))
        if (file := relative(target)) is not None and not (page.parent / file).exists()
    ]
    assert not broken, f"docs/{_name(page)} links to missing files:\n  " + "\n  ".join(broken)
