"""What production's bus would do differently, told to the author once (parity notices of the stand-in)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from devnode.bus.event import Event, EventType
from devnode.node.notices import Notices, traceback_site
from devnode.ownership import Ledger, current_ledger

JSON_CHECKS_IN_FULL = 100  # events of each type whose data is checked for JSON before sampling starts

# Types production defines but never publishes itself (UPSTREAM.md "Published by nobody").
NEVER_PUBLISHED = frozenset({
    EventType.BALANCE_UPDATE, EventType.TOKEN_ADDED, EventType.DATA_VERIFIED, EventType.COMPLIANCE_EVENT,
    EventType.PEER_CONNECTED, EventType.PEER_DISCONNECTED, EventType.PEER_HEALTH_UPDATE,
    EventType.COMPONENT_STATUS_CHANGE, EventType.ERROR,
})


class BusNotices:
    """The bus's parity notices, sent to the node's ``Notices``."""

    def __init__(self, notices: Notices) -> None:
        self.notices = notices
        self._json_checked: dict[Any, int] = {}

    def subscribed(self, event_type: EventType, owners: Mapping[str, int]) -> None:
        """A plugin subscribed a new callback to ``event_type`` (``owners``: who holds subscriptions to it already)."""
        ledger = current_ledger()
        if ledger is None:
            return  # devnode's own subscribers (UI, recorder) rely on nothing
        if event_type in NEVER_PUBLISHED:
            self.notices.note(
                f"never-published-{event_type.name.lower()}",
                f"subscribed to {event_type.value}, which no production component publishes (only plugins, "
                "or devnode's emit command and scenarios)",
                f"nothing publishes {event_type.name} (dashboard/event_bus.py:19-49 defines it; services/node.py and "
                "network/p2p_network.py never publish it): the handler never runs",
            )
        elif event_type is EventType.DATA_RECEIVED:
            self.notices.note(
                "data-received-never-published",
                "subscribed to data.received; devnode publishes it when a simulated peer sends data",
                "as shipped, nothing calls P2PNetwork._handle_incoming_data (network/p2p_network.py:536), so "
                "Node.on_data_received (services/node.py:378) never runs and DATA_RECEIVED is never published",
            )
        if owners.get(ledger.owner, 0) > 0:
            self.notices.note(
                "dispatch-order",
                f"a second handler for {event_type.value} from the same plugin; devnode calls handlers in "
                "subscription order",
                "subscribers are kept in a set (dashboard/event_bus.py:94-110), so the order is arbitrary: "
                "do not rely on one handler running before the other",
            )

    def subscribed_to_a_non_type(self, event_type: object) -> None:
        """``subscribe`` got something that is not an EventType member; devnode refuses it with a TypeError."""
        self.notices.note(
            "subscribe-not-event-type",
            f"subscribe({event_type!r}, ...) was refused with a TypeError: pass an EventType member "
            "(e.g. EventType.DATA_SHARED), not its value or name",
            "subscribe() registers the callback under that key, then raises AttributeError from its debug log line "
            "(dashboard/event_bus.py subscribe: event_type.value); nothing ever publishes to that key, so the "
            "callback never runs",
        )

    def handler_exit(self, exc: BaseException, ledger: Ledger | None) -> None:
        self.notices.note(
            "handler-exit",
            f"a handler raised {type(exc).__name__}; devnode reported it and kept the node running",
            f"the bus catches only Exception (dashboard/event_bus.py:174-180): {type(exc).__name__} propagates "
            "out of publish() and stops the caller (e.g. the node)",
            site=traceback_site(exc), plugin=ledger.owner if ledger is not None else None,
        )

    def published(self, event: Event) -> None:
        """Sample event data for what production's dashboard WebSocket cannot send (every event early, then 1 in 64)."""
        seen = self._json_checked.get(event.type, 0)
        self._json_checked[event.type] = seen + 1
        if seen >= JSON_CHECKS_IN_FULL and seen % 64:
            return
        try:
            json.dumps(event.data)
        except Exception as exc:  # odd plugin data can raise anything from inside the encoder
            self.notices.note(
                f"event-not-json-{event.type.name.lower()}",
                f"published {event.type.value} with data JSON cannot hold ({exc})",
                "the dashboard WebSocket (api/websocket_handler.py) sends every event with event.to_json() "
                "(dashboard/event_bus.py:68-70) and logs an error for this one",
            )
