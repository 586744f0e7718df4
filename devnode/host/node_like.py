"""What the plugin host needs of a node, whichever kind the session built."""

from __future__ import annotations

from typing import Any, Protocol

from devnode.bus import EventBus


class NodeLike(Protocol):
    """A node the host can run plugins on: production's attribute names (DevNode, production's Node)."""

    config: Any  # plugins read node.config.<production field names>
    event_bus: EventBus  # devnode's bus on both kinds: ownership and the swap hold depend on it
    plugin_manager: Any  # the host itself, once attached
