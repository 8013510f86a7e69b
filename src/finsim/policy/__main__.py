"""Write a policy tree as a Markdown page on standard output.

``python -m finsim.policy > docs/reference/rules-by-year.md`` regenerates the reference page
from the shipped tree; ``python -m finsim.policy my_scheme.yaml`` renders a policy file of
your own (with what it extends). A file with problems prints them and exits 2.
"""

from __future__ import annotations

import sys

from finsim.errors import ScenarioError
from finsim.policy.loader import load, load_file, shipped_trees
from finsim.policy.render import render_markdown


def main(argv: list[str] | None = None) -> int:
    """Render the tree named (or the file given) as its only argument; ``england`` if none."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        print("usage: python -m finsim.policy [TREE | FILE]", file=sys.stderr)
        return 2
    what = args[0] if args else "england"
    try:
        tree = load(what) if what in shipped_trees() else load_file(what)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    # UTF-8 whatever the terminal's encoding: the page holds £ and dashes
    sys.stdout.buffer.write(render_markdown(tree).encode("utf-8"))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
