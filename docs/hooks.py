"""MkDocs build hook: publish the example files the pages link to.

Pages link to the examples as they sit in the repository (``../examples/kent_dispute_2017.yaml``),
so that the links work on GitHub and in an editor, and ``tests/test_docs.py`` checks they resolve.
MkDocs only knows the files under ``docs/``; this hook adds each file of ``examples/`` to the
build under that same relative path and publishes it at ``<site>/examples/``, so the links work
on the site too and ``mkdocs build --strict`` can still check every other link.

It also tidies the API reference: see :func:`on_page_content`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files, InclusionLevel

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def on_files(files: Files, config: Any) -> Files:
    """Add ``../examples/*`` (scenario files and scripts) to the site as ``examples/*``."""
    for path in sorted(EXAMPLES.glob("*")):
        if path.suffix not in {".yaml", ".yml", ".py"}:
            continue
        file = File(
            f"../examples/{path.name}",
            src_dir=config["docs_dir"],
            dest_dir=config["site_dir"],
            use_directory_urls=config["use_directory_urls"],
            dest_uri=f"examples/{path.name}",
            # included explicitly: the default exclusions would drop a path starting '..'
            inclusion=InclusionLevel.INCLUDED,
        )
        file.abs_src_path = str(path)  # wherever docs_dir is
        files.append(file)
    return files


#: A reST role before code in a docstring (":class:`Results`" renders as ":class:" + code).
_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const):(?=<code>)")


def on_page_content(html: str, page: Any, config: Any, files: Files) -> str:
    """Drop the reST role markers finsim's docstrings use from the API pages (they are
    written for Python's help() and Sphinx; on these pages the code that follows says it)."""
    if page.file.src_uri.startswith("reference/"):
        return _ROLE.sub("", html)
    return html
