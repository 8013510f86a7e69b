"""Mechanism tables: per-organisation figures a mechanism reports besides money flows (see
:mod:`finsim.logs`, where :class:`TableLog` lives with the other row logs; importable here
as before).
"""

from finsim.logs import RecordBatch, TableLog, _column, _tile

__all__ = ["RecordBatch", "TableLog", "_column", "_tile"]
