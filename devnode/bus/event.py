"""The event and its types, as production's ``dashboard/event_bus.py`` defines them."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class EventType(Enum):
    HEALTH_UPDATE = "health.update"
    COMPONENT_STATUS_CHANGE = "health.component_change"
    BALANCE_UPDATE = "token.balance_update"
    TRANSFER_COMPLETED = "token.transfer_completed"
    TRANSFER_FAILED = "token.transfer_failed"
    TOKEN_ADDED = "token.added"
    DATA_SHARED = "data.shared"
    DATA_RECEIVED = "data.received"
    DATA_VERIFIED = "data.verified"
    COMPLIANCE_EVENT = "compliance.event"
    PEER_CONNECTED = "network.peer_connected"
    PEER_DISCONNECTED = "network.peer_disconnected"
    PEER_HEALTH_UPDATE = "network.peer_health"
    NETWORK_STATS_UPDATE = "network.stats_update"
    NODE_STARTED = "system.node_started"
    NODE_STOPPING = "system.node_stopping"
    ERROR = "system.error"

    @classmethod
    def parse(cls, text: str) -> EventType:
        """Accept a member name or a dotted value, in any case."""
        wanted = text.strip()
        for member in cls:
            if wanted.upper() == member.name or wanted.lower() == member.value:
                return member
        names = ", ".join(m.value for m in cls)
        raise ValueError(f'unknown event type "{text}"; expected one of: {names}')


@dataclass
class Event:
    type: EventType
    data: dict[str, Any]
    timestamp: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type.value, "data": self.data, "timestamp": self.timestamp}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())  # as production: data that JSON cannot hold raises TypeError

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        # As production: KeyError without "data".
        return cls(type=EventType(d["type"]), data=d["data"], timestamp=d.get("timestamp", time.time()))
