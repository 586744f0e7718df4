"""The production node's ``dashboard/event_bus.py`` API: what plugins import as ``dashboard.event_bus``.

This module is the only target of that name (devnode.compat), so its public
names are production's: ``EventType``, ``Event``, ``EventBus`` (and ``logger``).
Behaviour matches production: ``EventType`` members and dotted values, ``Event``
with ``to_dict``/``to_json``/``from_dict``, sync and async callbacks awaited one
after another (per-type subscribers first, then the subscribe-all ones), a
failing callback logged while the others still run, set semantics for
subscriptions, ``max_history`` events of history. What devnode adds (ownership,
timing, observers, the swap hold) is the dispatcher underneath
(devnode.bus.dispatch), reached only through the bus object.
"""

from __future__ import annotations

import logging as _logging

from devnode.bus.dispatch import Dispatcher as _Dispatcher
from devnode.bus.event import Event, EventType
from devnode.bus.handlers import Callback as _Callback

__all__ = ["EventBus", "Event", "EventType"]

logger = _logging.getLogger("dashboard.event_bus")


class EventBus(_Dispatcher):
    """Production's pub/sub bus, dispatching through devnode's ``Dispatcher``."""

    def subscribe(self, event_type: EventType, callback: _Callback) -> None:
        if not isinstance(event_type, EventType):
            if self._notices is not None:
                self._notices.subscribed_to_a_non_type(event_type)
            raise TypeError(f"subscribe() needs an EventType member, got {event_type!r}")
        table = self._by_type.setdefault(event_type, {})
        if self._notices is not None and callback not in table:
            self._notices.subscribed(event_type, self.owners_subscribed(event_type))
        self._add(table, event_type, callback)

    def subscribe_all(self, callback: _Callback) -> None:
        self._add(self._all, None, callback)

    def unsubscribe(self, event_type: EventType, callback: _Callback) -> None:
        self._remove(self._by_type.get(event_type, {}), callback)

    def unsubscribe_all(self, callback: _Callback) -> None:
        self._remove(self._all, callback)

    async def publish(self, event: Event) -> None:
        """Production's publish: returns None (``dispatch`` returns how each handler fared)."""
        await self.dispatch(event)

    def get_recent_events(self, count: int = 50) -> list[Event]:
        return list(self._history)[-count:]  # as production: count 0 means everything

    def get_events_by_type(self, event_type: EventType, count: int = 50) -> list[Event]:
        matching = [e for e in self._history if e.type == event_type]
        return matching[-count:]

    def clear_history(self) -> None:
        self._history.clear()

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._by_type.values()) + len(self._all)

    @property
    def history_size(self) -> int:
        return len(self._history)
