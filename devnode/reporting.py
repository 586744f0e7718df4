"""The stream of records every UI renders: one dict per thing that happened.

Each record has ``kind`` and ``ts``; the JSON UI prints them as they are, so the
field names here are a public interface (documented in docs/json-records.md).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

Record = dict[str, Any]
Sink = Callable[[Record], None]


class Reporter:
    """Fans records out to the sinks (UI, tests, recorders)."""

    def __init__(self) -> None:
        self._sinks: list[Sink] = []
        # Called on each record before the sinks see it (e.g. to add a restart offer to a warning).
        self.enrichers: list[Callable[[Record], None]] = []
        # Called once when a sink's reader went away (e.g. ``devnode run | head``).
        self.on_output_closed: Callable[[], None] | None = None

    def add_sink(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def remove_sink(self, sink: Sink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    def emit(self, kind: str, **fields: Any) -> Record:
        record: Record = {"kind": kind, "ts": round(time.time(), 6), **fields}
        for enrich in self.enrichers:
            enrich(record)
        for sink in list(self._sinks):
            try:
                sink(record)
            except BrokenPipeError:
                self.remove_sink(sink)
                if self.on_output_closed is not None:
                    self.on_output_closed()
            except Exception as exc:  # a broken UI must never fail the plugin whose record it was showing
                self.remove_sink(sink)
                sys.stderr.write(f"devnode: output {sink!r} failed and was switched off: {type(exc).__name__}: {exc}\n")
        return record


def json_line(record: Record) -> str:
    """``record`` as one JSON line; data JSON cannot hold (non-string keys, a cycle) is written as text, never raised."""
    try:
        return json.dumps(record, default=str)
    except (TypeError, ValueError):  # a plugin's odd event data must not switch the output (or a recording) off
        return json.dumps(_encodable(record), default=str)


def _encodable(value: Any, depth: int = 0) -> Any:
    try:
        json.dumps(value, default=str)
        return value
    except (TypeError, ValueError):
        if not isinstance(value, dict) or depth >= 4:
            return repr(value)
    return {(k if isinstance(k, str) else repr(k)): _encodable(v, depth + 1) for k, v in value.items()}
