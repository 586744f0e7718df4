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
import os
from json.encoder import encode_basestring_ascii as encode_string
from typing import IO, TYPE_CHECKING, Any

from devnode.reporting import json_line, strict_json
from devnode.ui.records import event_fields

if TYPE_CHECKING:  # annotations only (start-up time)
    from devnode.bus import Event, HandlerResult
    from devnode.records import EventRecord

EVENT_KEYS = ("kind", "ts", "type", "data", "handlers")
HANDLER_KEYS = ("plugin", "handler", "ok", "ms", "error")
NULL_ERROR = '"error": null}'
MAX_FRAGMENTS = 4096  # distinct handler names remembered; more only costs encoding time
MAX_NUMBERS = 4096  # distinct ms values remembered (handlers' times repeat: 3 decimals)


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
        self._scheduled_on: asyncio.AbstractEventLoop | None = None  # the loop a _write_pending callback is on
        self._fragments: dict[str, tuple[str | None, str]] = {}  # handler -> (its plugin, its entry's text up to ms)
        self._numbers: dict[float, str] = {}  # ms value -> its JSON text: float repr costs more than the rest of an entry
        self._broken: BrokenPipeError | None = None
        # The handler entries event_fields() last built here, with each one's JSON text (None: encode it).
        self._prepared: tuple[list[Any], list[str | None]] | None = None

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
        if self._scheduled_on is not loop:  # one callback per turn, even if other records wrote the queue out
            loop.call_soon(self._write_pending)
            self._scheduled_on = loop
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
        self._scheduled_on = None
        if not self._pending:
            return
        try:
            self._write("")
        except BrokenPipeError as exc:
            self._broken = exc

    # -- encoding ----------------------------------------------------------------------------
    def event_fields(self, event: Event, results: list[HandlerResult]) -> EventRecord:
        """``ui.records.event_fields``, the very same fields; the entries' JSON texts are made on the way.

        The runtime builds each event record's fields here. Every entry of a handler that
        ran fine is ``{plugin, handler, ok: true, ms, error: null}`` (bus.handler_entries),
        so its text needs no check of its keys; the record's entries list is the one kept
        here, and ``_event_line`` uses the texts only for that list (records and their
        entries are not changed once built: enrichers look at other kinds).
        """
        fields = event_fields(event, results)
        entries = fields["handlers"]
        texts: list[str | None] = []
        append = texts.append
        for result, entry in zip(results, entries):
            ms = entry["ms"]
            if result.error is not None or result.debugged or ms - ms != 0.0:
                append(None)
                continue
            sub = result.subscription
            append(self._fine_entry(sub.owner_name, sub.name, ms))
        self._prepared = (entries, texts)
        return fields

    def _event_line(self, record: dict[str, Any]) -> str:
        """``json_line(record)``, faster for the usual event record (same text, same key order).

        The record's own head (kind, ts, type) is written from its values and its data
        encoded alone; a handler entry that ran fine is its cached (plugin, handler)
        fragment plus its ``ms``. Anything unusual takes ``json_line`` whole, which
        also decides how data JSON cannot hold is written.
        """
        if tuple(record) != EVENT_KEYS:
            return json_line(record)
        ts, kind, handlers = record["ts"], record["type"], record["handlers"]
        if (type(record["kind"]) is not str or type(ts) is not float or ts - ts != 0.0 or type(kind) is not str
                or type(handlers) is not list):
            return json_line(record)
        parts: list[str] = []
        append = parts.append
        prepared, self._prepared = self._prepared, None
        try:
            data = strict_json(record["data"])
            if prepared is not None and prepared[0] is handlers and len(prepared[1]) == len(handlers):
                for entry, prepared_text in zip(handlers, prepared[1]):
                    append(strict_json(entry) if prepared_text is None else prepared_text)
                handlers = ()
            for entry in handlers:
                if type(entry) is dict and tuple(entry) == HANDLER_KEYS:
                    plugin, handler, ok, ms, error = entry.values()
                    if ok is True and error is None and type(ms) is float and ms - ms == 0.0 \
                            and type(handler) is str and (plugin is None or type(plugin) is str):
                        append(self._fine_entry(plugin, handler, ms))
                        continue
                append(strict_json(entry))
        except Exception:
            return json_line(record)  # JSON cannot hold a part: the fallback rewrites the whole record, as before
        return (f'{{"kind": "event", "ts": {ts!r}, "type": {encode_string(kind)}, "data": {data}, '
                f'"handlers": [{", ".join(parts)}]}}')

    def _fine_entry(self, plugin: str | None, handler: str, ms: float) -> str:
        """The JSON text of a fine handler's entry: its cached (plugin, handler) fragment, then its ``ms``."""
        cached = self._fragments.get(handler)
        fragment = cached[1] if cached is not None and cached[0] == plugin else self._fragment(plugin, handler)
        text = self._numbers.get(ms) if ms > 0.0 else None  # (0.0 == -0.0: never cached)
        if text is None:
            text = self._number(ms)
        return f"{fragment}{text}, {NULL_ERROR}"

    def _number(self, ms: float) -> str:
        text = repr(ms)
        if ms > 0.0:
            if len(self._numbers) >= MAX_NUMBERS:
                self._numbers.clear()
            self._numbers[ms] = text
        return text

    def _fragment(self, plugin: str | None, handler: str) -> str:
        """The JSON text of an entry up to its ``ms`` value, for ``handler`` of ``plugin``."""
        if len(self._fragments) >= MAX_FRAGMENTS:
            self._fragments.clear()
        fragment = strict_json({"plugin": plugin, "handler": handler})[:-1] + ', "ok": true, "ms": '
        self._fragments[handler] = (plugin, fragment)  # two plugins' same-named handlers take turns
        return fragment
