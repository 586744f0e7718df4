"""Builds the records for events and log lines (the hot path: kept small)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from devnode import safe
from devnode.bus import Event, HandlerResult, handler_entries
from devnode.host.naming import PACKAGE
from devnode.ownership import current_ledger
from devnode.reporting import Reporter

if TYPE_CHECKING:  # the record TypedDicts are annotations only (start-up time)
    from devnode.records import EventRecord


def event_fields(event: Event, results: list[HandlerResult]) -> EventRecord:
    """The ``event`` record's fields (docs/json-records.md). Built for every event: kept to plain dict work."""
    return {"type": event.type.value, "data": event.data, "handlers": handler_entries(results)}


class PluginLogBridge(logging.Handler):
    """Turns plugins' own logging into ``log`` records attributed to their plugin."""

    def __init__(self, reporter: Reporter) -> None:
        super().__init__(logging.DEBUG)
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "devnode_mirror", False):
            return  # production's log line, mirrored; devnode's own record says more
        plugin = plugin_of(record.name)
        if plugin is None:
            ledger = current_ledger()
            plugin = ledger.owner if ledger is not None else None
        if plugin is None and not record.name.startswith("devnode"):
            return
        try:
            message = record.getMessage()
        except Exception as exc:  # a plugin's bad format string must not break logging
            message = f"{safe.representation(record.msg)} (could not format: {safe.exception_text(exc)})"
        if record.exc_info and record.exc_info[1] is not None:
            message += f" [{safe.exception_text(record.exc_info[1])}]"
        self.reporter.emit(
            "log", plugin=plugin, level=record.levelname, logger=record.name, message=message,
            file=record.pathname, line=record.lineno,
        )


def plugin_of(logger_name: str) -> str | None:
    parts = logger_name.split(".")
    if parts[0] == PACKAGE and len(parts) > 1:
        return parts[1]
    return None
