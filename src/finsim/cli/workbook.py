"""``finsim template`` and ``finsim convert``: scenario workbooks for analysts who plan in
Excel (see :mod:`finsim.workbook`).

    finsim template plan.xlsx          an empty workbook: a sheet per section, a README
    finsim convert A.yaml B.xlsx       a scenario file as a workbook, and back
"""

from __future__ import annotations

import argparse

from finsim.cli.options import _output_file


def add_workbook_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "template",
        help="write an empty scenario workbook (.xlsx) to fill in",
        description="Write an empty scenario workbook: a sheet per section of the scenario "
        "format, drop-down lists for ids and kinds, and a README sheet explaining each sheet "
        "and column. Check the filled workbook with finsim validate FILE.xlsx.",
    )
    p.add_argument("file", metavar="FILE.xlsx")
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
    p.set_defaults(func=_cmd_convert)


def _cmd_template(args: argparse.Namespace) -> int:
    from finsim.workbook import write_template

    path = write_template(_output_file("FILE", args.file))
    print(f"wrote {path}: fill it in, then check it with: finsim validate {path}")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from finsim.workbook import convert

    path = convert(args.source, _output_file("TO", args.target))
    print(f"wrote {path}")
    return 0
