"""What happened and when: decisions, disputes, interventions (see :mod:`finsim.logs`,
where :class:`EventLog` lives with the other row logs; importable here as before).
"""

from finsim.logs import EventBatch, EventLog, _column

__all__ = ["EventBatch", "EventLog", "_column"]
