"""Records every event dispatched on a node's bus, and which plugin handled it, as plain data."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from devnode.bus import Event, EventType, HandlerResult, handler_entry


@dataclass(frozen=True)
class Handled:
    """One handler's run on one event."""

    plugin: str | None  # None: subscribed by the test or by devnode itself, not by a plugin
    handler: str
    ok: bool
    ms: float
    error: str | None = None  # "KeyError: 'x'"
    traceback: str | None = None


@dataclass(eq=False)
class RecordedEvent:
    """An event seen on the bus, with every handler that ran for it."""

    event: Event
    handled: list[Handled] = field(default_factory=list)

    @property
    def type(self) -> EventType:
        return self.event.type

    @property
    def data(self) -> dict[str, Any]:
        return self.event.data

    @property
    def handled_by(self) -> list[str]:
        """Plugins whose handlers ran without raising, in call order (a plugin once)."""
        return list(dict.fromkeys(h.plugin for h in self.handled if h.ok and h.plugin is not None))

    @property
    def failed(self) -> list[Handled]:
        return [h for h in self.handled if not h.ok]

    def __repr__(self) -> str:
        return f"<RecordedEvent {self.type.value} {self.data!r} handled_by={self.handled_by} failed={len(self.failed)}>"


class EventRecorder:
    """A bus observer: ``recorder.observe`` is passed to ``EventBus.add_observer``.

    It keeps no reference to handlers or exceptions (they hold plugin instances,
    which would then look leaked): only names, timings and formatted errors.
    """

    def __init__(self) -> None:
        self._events: list[RecordedEvent] = []

    def observe(self, event: Event, results: list[HandlerResult]) -> None:
        recorded = self.find(event)
        if recorded is None:
            # An event held during a swap is observed twice: on publish and on late delivery.
            recorded = RecordedEvent(event)
            self._events.append(recorded)
        recorded.handled.extend(_handled(r) for r in results)

    # -- queries -------------------------------------------------------------
    def __iter__(self) -> Iterator[RecordedEvent]:
        return iter(list(self._events))

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: int) -> RecordedEvent:
        return self._events[index]

    def mark(self) -> int:
        """A position to pass to ``since`` later."""
        return len(self._events)

    def since(self, mark: int) -> list[RecordedEvent]:
        return self._events[mark:]

    def find(self, event: Event) -> RecordedEvent | None:
        """The recording of ``event`` (the same object), looked for among the latest events."""
        for recorded in reversed(self._events[-200:]):
            if recorded.event is event:
                return recorded
        return None

    def of_type(self, event_type: EventType | str) -> list[RecordedEvent]:
        wanted = EventType.parse(event_type) if isinstance(event_type, str) else event_type
        return [e for e in self._events if e.type is wanted]

    def types(self) -> list[str]:
        """The dotted type of every recorded event, in order: handy in asserts."""
        return [e.type.value for e in self._events]

    def handled_by(self, plugin: str) -> list[RecordedEvent]:
        return [e for e in self._events if plugin in e.handled_by]

    def failures(self) -> list[tuple[RecordedEvent, Handled]]:
        return [(e, h) for e in self._events for h in e.failed]

    def last(self, event_type: EventType | str | None = None) -> RecordedEvent:
        matching = self._events if event_type is None else self.of_type(event_type)
        if not matching:
            what = "no events" if event_type is None else f"no {getattr(event_type, 'value', event_type)} events"
            raise LookupError(f"{what} were recorded (recorded: {', '.join(self.types()) or 'none'})")
        return matching[-1]

    def clear(self) -> None:
        self._events.clear()


def _handled(result: HandlerResult) -> Handled:
    entry = handler_entry(result)
    if result.error is None:
        return Handled(entry["plugin"], entry["handler"], True, entry["ms"])
    formatted = "".join(traceback.format_exception(result.error)).rstrip()
    return Handled(entry["plugin"], entry["handler"], False, entry["ms"], entry["error"], formatted)
