"""The stream of records every UI renders: one dict per thing that happened.

Each record has ``kind`` and ``ts``; the JSON UI prints them as they are, so the
field names here are a public interface (documented in docs/json-records.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

Record = dict[str, Any]
Sink = Callable[[Record], None]


class Reporter:
    """Fans records out to the sinks (UI, tests, recorders)."""

    def __init__(self) -> None:
        self._sinks: list[Sink] = []

    def add_sink(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def remove_sink(self, sink: Sink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    def emit(self, kind: str, **fields: Any) -> Record:
        record: Record = {"kind": kind, "ts": round(time.time(), 6), **fields}
        for sink in list(self._sinks):
            sink(record)
        return record
