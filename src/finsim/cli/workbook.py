"""``finsim template`` and ``finsim convert``: scenario workbooks for analysts who plan in
Excel (see :mod:`finsim.workbook`).

    finsim template plan.xlsx          an empty workbook: a sheet per section, a README
    finsim convert A.yaml B.xlsx       a scenario file as a workbook, and back
"""

from __future__ import annotations

import argparse
from pathlib import Path

from finsim.cli.options import _option_error, _output_file


def add_workbook_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "template",
        help="write an empty scenario workbook (.xlsx) to fill in",
        description="Write an empty scenario workbook: a sheet per section of the scenario "
        "format, drop-down lists for ids and kinds, and a README sheet explaining each sheet "
        "and column. Check the filled workbook with finsim validate FILE.xlsx.",
    )
    p.add_argument("file", metavar="FILE.xlsx")
    p.add_argument("--force", action="store_true", help="replace FILE.xlsx if it exists")
    p.set_defaults(func=_cmd_template)

    p = sub.add_parser(
        "convert",
        help="convert a scenario between a YAML file and a workbook",
        description="Convert a scenario file to a workbook (A.yaml B.xlsx) or a workbook to "
        "a scenario file (B.xlsx A.yaml). The scenario is validated first; the file written "
        "holds it with 'extends' resolved, so it stands alone, and keeps its variants.",
    )
    p.add_argument("source", metavar="FROM")
    p.add_argument("target", metavar="TO")
    p.add_argument("--force", action="store_true", help="replace TO if it exists")
    p.set_defaults(func=_cmd_convert)


def _cmd_template(args: argparse.Namespace) -> int:
    from finsim.workbook import write_template

    path = write_template(_new_file("FILE", args.file, args.force))
    print(f"wrote {path}: fill it in, then check it with: finsim validate {path}")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from finsim.workbook import convert

    if _same_file(args.source, Path(args.target)):
        raise _option_error("TO", f"'{args.target}' is the file converted (FROM): name another")
    target = _new_file("TO", args.target, args.force)
    path = convert(args.source, target)
    print(f"wrote {path}")
    return 0


def _new_file(option: str, name: str, force: bool) -> Path:
    """The file to write: refused if it exists, unless --force."""
    path = _output_file(option, name)
    if path.exists() and not force:
        raise _option_error(
            option, f"'{name}' exists: give --force to replace it, or name another file"
        )
    return path


def _same_file(source: str, target: Path) -> bool:
    """Whether ``target`` names the file ``source`` (by path, or a link to it)."""
    try:
        return Path(source).resolve() == target.resolve() or (
            target.exists() and Path(source).exists() and Path(source).samefile(target)
        )
    except OSError:
        return False
