"""Scenario workbooks: a scenario written in Excel, as an NHS finance analyst keeps a plan.

``finsim template plan.xlsx`` writes an empty workbook; ``finsim validate``, ``run`` and
``stress`` (and :func:`finsim.load_scenario`) read a ``.xlsx`` as they read a YAML file;
``finsim convert`` turns one into the other. The sheets, their columns, their drop-down lists
and the README's descriptions all come from the scenario model, so the section of a new
mechanism has its sheet without any change here. The layout is described in
:mod:`finsim.workbook.layout`; a problem names its sheet and cell::

    plan.xlsx: contracts!C7: unknown provider 'north_acut' (did you mean 'north_acute'?)

Modules: ``shape`` (what the model says about a place), ``paths`` (paths, and a document
taken apart into cells), ``layout`` (the sheets), ``arrange`` (a document as sheets of
cells), ``writer`` (openpyxl), ``readme``, ``cells`` (a cell's value), ``reader`` (a workbook
back into a document, remembering cells), ``load`` (a workbook validated, its problems
named by cell), ``convert`` (write a workbook or a template; convert either way).
"""

from __future__ import annotations

from finsim.workbook.convert import convert, write_template, write_workbook
from finsim.workbook.reader import read_workbook

__all__ = ["convert", "read_workbook", "write_template", "write_workbook"]
