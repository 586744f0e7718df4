# plugins/webhook_plugin.py
import aiohttp
import logging

from dashboard.event_bus import EventType

logger = logging.getLogger(__name__)


class Webhook_pluginPlugin:
    """Send webhook notifications for important events."""

    WEBHOOK_URL = "https://hooks.example.com/notify"

    def __init__(self, node):
        self.node = node
        self.session = None

    def initialize(self):
        self.session = aiohttp.ClientSession()

        # Subscribe to important events
        self.node.event_bus.subscribe(
            EventType.TRANSFER_COMPLETED,
            self._notify
        )
        self.node.event_bus.subscribe(
            EventType.ERROR,
            self._notify
        )

        logger.info("Webhook plugin initialized")

    def shutdown(self):
        if self.session:
            # Note: In real code, use async cleanup
            pass

    async def _notify(self, event):
        """Send webhook notification."""
        try:
            payload = {
                'event': event.type.value,
                'data': event.data,
                'timestamp': event.timestamp,
                'node_id': self.node.config.node_id
            }

            async with self.session.post(
                self.WEBHOOK_URL,
                json=payload,
                timeout=aiohttp.ClientTimeout(total=5)
            ) as response:
                if response.status != 200:
                    logger.warning(f"Webhook failed: {response.status}")

        except Exception as e:
            logger.error(f"Webhook error: {e}")
