"""Event recordings: every event published on the bus, one JSON line each, with timing and outcomes.

The first line is a header (``{"format": "devnode-recording", ...}``); each
following line is ``{"seq", "offset", "depth", "source", "event", "handlers"}``
where ``event`` is ``Event.to_dict()``, ``offset`` the seconds since recording
began, ``depth`` 1 for an event published from outside any handler (deeper when
a handler published it) and ``source`` the plugin whose code published it.
A DATA_SHARED or DATA_RECEIVED line also carries ``stored``: ``{data_hash: value}``,
the data the event points at, so a replay can put it back where plugins look.
A line ``{"seq": n, "more_handlers": [...]}`` adds handlers that got event ``n``
late (a plugin swapped while it was being dispatched).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from devnode.errors import DevnodeError
from devnode.bus import Event, EventType, HandlerResult, handler_entry, publish_depth
from devnode.ownership import current_ledger
from devnode.reporting import json_line

FORMAT = "devnode-recording"
VERSION = 1
DATA_EVENTS = (EventType.DATA_SHARED, EventType.DATA_RECEIVED)


class RecordingError(DevnodeError):
    """A recording that cannot be written or read; the message names the file (and line)."""


def outcome(result: HandlerResult) -> dict[str, Any]:
    """How one handler fared, in the form recordings and replays compare: the record form without timings."""
    entry = handler_entry(result)
    return {"plugin": entry["plugin"], "handler": entry["handler"], "ok": entry["ok"], "error": entry["error"]}


class Recorder:
    """A bus observer that appends every dispatched event to a JSON-lines file as it happens."""

    def __init__(self, path: str | Path, node_id: str = "") -> None:
        self.path = Path(path)
        try:
            self._file: IO[str] = open(self.path, "w", encoding="utf-8")
        except OSError as exc:
            raise RecordingError(f'cannot write the recording "{path}" ({exc.strerror or exc}); '
                                 "give a path in a writable directory") from None
        self.started = time.time()
        self.count = 0
        self._fetch: Callable[[str], Any] | None = None
        # Recently written events, to recognise a late re-delivery of the same object.
        self._recent: deque[tuple[Event, int]] = deque(maxlen=200)
        self._write({"format": FORMAT, "version": VERSION, "node_id": node_id, "started": self.started})

    def attach(self, node: Any) -> None:
        """Record ``node``'s bus, keeping the data its data events point at."""
        self._fetch = node.data_manager.get_data
        node.event_bus.add_observer(self)

    def __call__(self, event: Event, results: list[HandlerResult]) -> None:
        for seen, seq in reversed(self._recent):
            if seen is event:
                self._write({"seq": seq, "more_handlers": [outcome(r) for r in results]})
                return
        self.count += 1
        self._recent.append((event, self.count))
        ledger = current_ledger()
        line = {
            "seq": self.count,
            "offset": round(event.timestamp - self.started, 6),
            "depth": publish_depth(),
            "source": ledger.owner if ledger is not None else None,
            "event": event.to_dict(),
            "handlers": [outcome(r) for r in results],
        }
        stored = self._stored(event)
        if stored:
            line["stored"] = stored
        self._write(line)

    def _stored(self, event: Event) -> dict[str, Any]:
        data_hash = event.data.get("data_hash") if isinstance(event.data, dict) else None
        if self._fetch is None or event.type not in DATA_EVENTS or not isinstance(data_hash, str):
            return {}
        try:
            value = self._fetch(data_hash)
        except Exception:  # a recording must never break the node it records
            return {}
        return {} if value is None else {data_hash: value}

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def _write(self, line: dict[str, Any]) -> None:
        if self._file.closed:
            return
        # Flushed per line: a session that crashes still leaves a usable recording.
        self._file.write(json_line(line) + "\n")
        self._file.flush()


@dataclass
class RecordedEvent:
    """One line of a recording, read back."""

    seq: int
    line: int
    offset: float
    depth: int
    source: str | None
    event: Event
    handlers: list[dict[str, Any]] = field(default_factory=list)
    stored: dict[str, Any] = field(default_factory=dict)

    @property
    def from_outside(self) -> bool:
        """Published by the node or the developer, not by a plugin reacting to another event."""
        return self.depth <= 1 and self.source is None


@dataclass
class Recording:
    path: str
    header: dict[str, Any]
    events: list[RecordedEvent]


def load_recording(path: str | Path) -> Recording:
    """Read a recording; RecordingError names the file and line of anything unreadable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RecordingError(f'cannot read the recording "{path}" ({exc.strerror or exc})') from None
    lines = text.split("\n")
    truncated_tail = not text.endswith("\n")  # the recording process died mid-line
    header: dict[str, Any] | None = None
    events: dict[int, RecordedEvent] = {}
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            if truncated_tail and number == len(lines):
                break
            raise RecordingError(f"{path}:{number}: not a JSON line ({exc.msg} at column {exc.colno})") from None
        if header is None:
            if not isinstance(item, dict) or item.get("format") != FORMAT:
                raise RecordingError(f"{path}:{number}: not a devnode recording (make one with devnode run --record FILE)")
            header = item
            continue
        _add_line(events, item, f"{path}:{number}", number)
    if header is None:
        raise RecordingError(f"{path}: empty file, not a devnode recording (make one with devnode run --record FILE)")
    return Recording(str(path), header, sorted(events.values(), key=lambda e: e.seq))


def _add_line(events: dict[int, RecordedEvent], item: Any, where: str, number: int) -> None:
    try:
        seq = int(item["seq"])
        if "more_handlers" in item:
            if seq in events:
                events[seq].handlers.extend(item["more_handlers"])
            return
        body = item["event"]
        event = Event(EventType(body["type"]), dict(body.get("data") or {}), float(body["timestamp"]))
        events[seq] = RecordedEvent(seq, number, float(item.get("offset", 0.0)), int(item.get("depth", 1)),
                                    item.get("source"), event, list(item.get("handlers", [])),
                                    dict(item.get("stored") or {}))
    except ValueError as exc:
        raise RecordingError(f"{where}: {exc}") from None
    except (KeyError, TypeError) as exc:
        raise RecordingError(f'{where}: a recorded event needs "seq" and "event" with "type" and "timestamp" '
                             f"(problem: {type(exc).__name__}: {exc})") from None
