"""The swap hold: events meant for one plugin wait while it is swapped, then reach its next version.

``async with bus.holding(owner):`` around a swap (or an unload) is all the host
does. While the hold is on, every event published is queued for ``owner``
(whether or not a handler of it is subscribed at that moment: the old version's
handlers may be gone and the new one's not there yet), and none of its handlers
is called. When the hold ends, the queued events are delivered, in order, to
whichever version of the plugin then serves: each event reaches exactly one
version, exactly once.
"""

from __future__ import annotations

import asyncio
import contextvars
from types import TracebackType
from typing import Any, Protocol

from devnode.bus.event import Event
from devnode.bus.handlers import HandlerResult, Subscription


class Holder(Protocol):
    """What a hold needs of its bus (the dispatcher): its holds, and calling one handler as the bus does."""

    _holds: dict[str, Hold]
    _deliveries: set[asyncio.Task[None]]

    def _snapshot(self, event_type: Any) -> tuple[Subscription, ...]: ...

    async def _call(self, sub: Subscription, event: Event) -> HandlerResult: ...

    def _notify(self, event: Event, results: list[HandlerResult]) -> None: ...


class Hold:
    """The events held for one plugin (by name) during its swap; nested holds of one plugin join."""

    __slots__ = ("owner", "events", "_bus", "_depth")

    def __init__(self, bus: Holder, owner: str) -> None:
        self.owner = owner
        self.events: list[Event] = []
        self._bus = bus
        self._depth = 0

    @property
    def active(self) -> bool:
        return self._depth > 0

    def start(self) -> Hold:
        """Begin holding (``async with`` does this); for a hold that spans two steps of a swap."""
        if self._depth == 0:
            self._bus._holds[self.owner] = self
        self._depth += 1
        return self

    def end(self) -> None:
        """Stop holding; the outermost end hands the queued events to the plugin's serving version."""
        self._depth -= 1
        if self._depth:
            return
        bus = self._bus
        if bus._holds.get(self.owner) is self:
            del bus._holds[self.owner]
        held, self.events = self.events, []
        if held:
            task = asyncio.get_running_loop().create_task(
                deliver(bus, self.owner, held), context=contextvars.Context())  # owned by no plugin
            bus._deliveries.add(task)
            task.add_done_callback(bus._deliveries.discard)

    async def __aenter__(self) -> Hold:
        return self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        self.end()


async def deliver(bus: Holder, owner: str, events: list[Event]) -> None:
    """Held events, in order, to the version of ``owner`` serving when each one's turn comes."""
    for event in events:
        # A handler may await, and the plugin may be swapped again meanwhile: then it waits again.
        hold = bus._holds.get(owner)
        if hold is not None:
            hold.events.append(event)
            continue
        subs = [s for s in bus._snapshot(event.type) if s.owner_name == owner and s.ledger is not None]
        if subs:  # held for it, but not a type this version handles: nothing happened to report
            results = [await bus._call(s, event) for s in subs]
            bus._notify(event, results)


async def to_current(bus: Holder, event: Event, owner: str) -> list[HandlerResult]:
    """Give ``event`` to the version of ``owner`` serving now (or hold it, if it is swapping again)."""
    results = []
    for sub in bus._snapshot(event.type):
        if sub.owner_name != owner or sub.ledger is None:
            continue
        hold = bus._holds.get(owner)
        if hold is not None:
            hold.events.append(event)
            break
        results.append(await bus._call(sub, event))
    return results
