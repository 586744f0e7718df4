"""``--ui json``: one JSON object per line, for scripts (jq, CI).

Event records are the hot path (one per event on the bus, each naming every handler):
their handler entries are written from per-handler fragments encoded once, and their
lines reach the stream in one write per turn of the event loop instead of one write
and flush each. Every other record is written and flushed at once, with whatever
events are waiting before it, so the order of lines is the order of records.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from typing import IO, Any

from devnode.reporting import json_line

HANDLER_KEYS = ("plugin", "handler", "ok", "ms", "error")
MAX_FRAGMENTS = 4096  # distinct (plugin, handler) pairs remembered; more only costs encoding time


def private_output(stream: IO[str]) -> IO[str]:
    """A writer to the same place plugin code cannot close (a dup of its fd), or ``stream`` itself."""
    try:
        fd = stream.fileno()
        return os.fdopen(os.dup(fd), "w", encoding=getattr(stream, "encoding", None) or "utf-8",
                         errors="backslashreplace", closefd=True)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return stream


class JsonUI:
    """Writes every record as a JSON line."""

    interactive = False

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._pending: list[str] = []  # event lines waiting for the end of this turn of the loop
        self._fragments: dict[tuple[Any, Any], str] = {}
        self._broken: BrokenPipeError | None = None

    def __call__(self, record: dict[str, Any]) -> None:
        if self._broken is not None:
            raise self._broken  # the reader went away during a deferred write: the reporter stops the node
        if record.get("kind") == "event":
            line = self._event_line(record)
            if self._defer(line):
                return
        else:
            line = json_line(record)
        self._write(line + "\n")

    def close(self) -> None:
        self._write("")

    # -- writing ---------------------------------------------------------------------------
    def _defer(self, line: str) -> bool:
        """Queue an event line for one write at the end of this loop turn (False: not on a loop, write now)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        if not self._pending:
            loop.call_soon(self._write_pending)
        self._pending.append(line)
        return True

    def _write(self, text: str) -> None:
        if self._pending:
            text = "\n".join(self._pending) + "\n" + text
            self._pending.clear()
        if text:
            self.stream.write(text)
        self.stream.flush()

    def _write_pending(self) -> None:
        if not self._pending:
            return
        try:
            self._write("")
        except BrokenPipeError as exc:
            self._broken = exc

    # -- encoding ----------------------------------------------------------------------------
    def _event_line(self, record: dict[str, Any]) -> str:
        """``json_line(record)``, faster for the usual handler entries (same text, same key order)."""
        handlers = record.get("handlers")
        if not isinstance(handlers, list) or next(reversed(record)) != "handlers":
            return json_line(record)
        entries = [self._handler_entry(h) for h in handlers]
        if any(e is None for e in entries):
            return json_line(record)
        head = json_line({k: v for k, v in record.items() if k != "handlers"})
        return f'{head[:-1]}, "handlers": [{", ".join(entries)}]}}'  # type: ignore[arg-type]

    def _handler_entry(self, entry: Any) -> str | None:
        if not isinstance(entry, dict) or tuple(entry) != HANDLER_KEYS:
            return None
        ms = entry["ms"]
        if entry["ok"] is not True or entry["error"] is not None or type(ms) is not float:
            return json.dumps(entry, default=str)
        key = (entry["plugin"], entry["handler"])
        fragment = self._fragments.get(key)
        if fragment is None:
            if len(self._fragments) >= MAX_FRAGMENTS:
                self._fragments.clear()
            fragment = json.dumps(dict(zip(HANDLER_KEYS[:2], key)))[:-1] + ', "ok": true, "ms": '
            self._fragments[key] = fragment
        return f'{fragment}{ms!r}, "error": null}}'
