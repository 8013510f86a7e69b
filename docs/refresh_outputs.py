"""Re-run the docs' Python blocks and write what each prints into the ```text block after it.

    python docs/refresh_outputs.py                      # every page under docs/
    python docs/refresh_outputs.py docs/walkthrough.md  # some pages
    python docs/refresh_outputs.py --check              # list the pages that would change

A page's ```python blocks run in order in one namespace from the repository root, as
``tests/test_docs.py`` runs them, each page in its own process. When the next fenced block after a Python block is a
```text (or ```console, not of shell commands) block with only blank lines between,
that block is the Python block's output, and is replaced by what the block printed. Run it after a change that moves
figures (a new random stream, a fixed mechanism), then read ``git diff docs/``: the prose
around an output may quote its figures too.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
SKIP = "# doc: skip"
#: Fences an output may have (a ```console block of shell commands, lines starting "$", is not one).
OUTPUT = {"text", "console"}


def fenced(lines: list[str]) -> list[tuple[str, int, int]]:
    """(info, first line, closing line) of each fenced block, 0-based line numbers."""
    out = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match:
            fence = match["fence"]
            info = (match["info"].strip().split() or [""])[0].lower()
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(fence):
                j += 1
            out.append((info, i, j))
            i = j + 1
        else:
            i += 1
    return out


def refresh(page: Path) -> bool:
    """Re-run the page; return whether any output block changed (and rewrite the page)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found = fenced(lines)
    namespace: dict[str, object] = {"__name__": "__main__"}
    replacements: list[tuple[int, int, list[str]]] = []
    for k, (info, start, end) in enumerate(found):
        if info not in {"python", "py", "python3"}:
            continue
        code = "\n".join(lines[start + 1 : end])
        if code.lstrip().startswith(SKIP):
            continue
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile("\n" * (start + 1) + code, str(page), "exec"), namespace)
        if k + 1 < len(found) and found[k + 1][0] in OUTPUT:
            _, t_start, t_end = found[k + 1]
            between = lines[end + 1 : t_start]
            shell = any(line.lstrip().startswith("$") for line in lines[t_start + 1 : t_end])
            if all(not line.strip() for line in between) and not shell:
                new = [line.rstrip() for line in printed.getvalue().rstrip().splitlines()]
                replacements.append((t_start, t_end, new))
    changed = False
    for t_start, t_end, new in reversed(replacements):
        if lines[t_start + 1 : t_end] != new:
            lines[t_start + 1 : t_end] = new
            changed = True
    if changed:
        page.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; list stale pages")
    args = parser.parse_args()
    os.chdir(ROOT)
    os.environ.setdefault("MPLBACKEND", "Agg")
    pages = [p.resolve() for p in args.pages] or sorted(DOCS.rglob("*.md"))
    if len(pages) > 1:  # each page in a fresh process: what one registers must not leak
        flags = ["--check"] if args.check else []
        codes = [
            subprocess.run([sys.executable, __file__, *flags, str(page)], check=False).returncode
            for page in pages
        ]
        return max(codes)
    stale = []
    for page in pages:
        before = page.read_text(encoding="utf-8")
        if refresh(page):
            stale.append(page.relative_to(ROOT))
            if args.check:
                page.write_text(before, encoding="utf-8")
    for name in stale:
        print(f"{'stale' if args.check else 'refreshed'}: {name}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
