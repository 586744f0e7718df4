"""Plugins' log lines as kit records, without keeping the frames (and old plugin versions) alive."""

from __future__ import annotations

import logging

from devnode.ui.records import PluginLogBridge


class KitLogHandler(PluginLogBridge):
    """Plugins' log lines become records; their tracebacks are kept as text only.

    A log record's ``exc_info`` holds frames, frames hold the plugin instance, and
    pytest keeps captured records until the test ends: formatting the traceback
    once and dropping ``exc_info`` keeps old plugin versions collectable.
    """

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        if record.exc_info and record.exc_info[1] is not None:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
