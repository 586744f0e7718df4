"""The basic plugin template: log on load, react to shared data, clean up on shutdown."""

import logging

from dashboard.event_bus import EventType

logger = logging.getLogger(__name__)


class Example_pluginPlugin:
    """Smallest useful plugin: subscribes to DATA_SHARED and logs each share."""

    def __init__(self, node):
        self.node = node
        self.name = "Example Plugin"
        self.version = "1.0.0"

    def initialize(self):
        self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on_data_shared)
        logger.info(f"{self.name} v{self.version} initialized")

    def shutdown(self):
        self.node.event_bus.unsubscribe(EventType.DATA_SHARED, self.on_data_shared)
        logger.info(f"{self.name} shutting down")

    async def on_data_shared(self, event):
        data_hash = event.data.get("data_hash", "")
        logger.info(f"Data shared with {event.data.get('recipient')}: {data_hash[:16]}...")
