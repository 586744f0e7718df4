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

from types import TracebackType
from typing import Protocol

from devnode.bus.event import Event


class Holder(Protocol):
    """What a hold needs of its bus (the dispatcher): told when it begins and when it ends."""

    def _begin_hold(self, hold: Hold) -> None: ...

    def _end_hold(self, hold: Hold) -> None: ...


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
            self._bus._begin_hold(self)
        self._depth += 1
        return self

    def end(self) -> None:
        """Stop holding; the outermost end hands the queued events to the plugin's serving version."""
        self._depth -= 1
        if self._depth == 0:
            self._bus._end_hold(self)

    async def __aenter__(self) -> Hold:
        return self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        self.end()
