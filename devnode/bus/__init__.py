"""The event bus: production's API, devnode's dispatch, and the hold a plugin's swap takes.

- ``api``: what plugins import as ``dashboard.event_bus`` (``EventType``, ``Event``, ``EventBus``), nothing more;
- ``event``: ``EventType`` and ``Event``;
- ``dispatch``: subscriptions (the one record of who owns each), calling and timing handlers, observers;
- ``handlers``: ``Subscription``, ``HandlerResult`` and ``handler_entry`` (a result in record form), deadlines;
- ``hold``: ``Hold``, from ``async with bus.holding(plugin):`` around a swap;
- ``notices``: what production's bus would do differently, told once (parity notices).

devnode's own code imports from here.
"""

from __future__ import annotations

from devnode.bus.api import EventBus
from devnode.bus.dispatch import MAX_PUBLISH_DEPTH, Observer, PublishLoopError, publish_depth
from devnode.bus.event import Event, EventType
from devnode.bus.handlers import (
    HandlerResult, HandlerTimeoutError, Subscription, UnawaitedHandlerError, callback_name, handler_entries,
    handler_entry,
)
from devnode.bus.hold import Hold
from devnode.bus.notices import NEVER_PUBLISHED

__all__ = [
    "MAX_PUBLISH_DEPTH", "NEVER_PUBLISHED", "Event", "EventBus", "EventType", "HandlerResult", "HandlerTimeoutError",
    "Hold", "Observer", "PublishLoopError", "Subscription", "UnawaitedHandlerError", "callback_name", "handler_entries", "handler_entry",
    "publish_depth",
]
