# plugins/example_plugin.py
import logging

logger = logging.getLogger(__name__)


class Example_pluginPlugin:
    """Example plugin for DataMgmt Node.

    This plugin demonstrates the basic structure and available hooks.
    """

    def __init__(self, node):
        """Initialize the plugin.

        Args:
            node: The Node instance, providing access to all services.
        """
        self.node = node
        self.name = "Example Plugin"
        self.version = "1.0.0"

    def initialize(self):
        """Called when the plugin is loaded.

        Use this to:
        - Set up resources
        - Register event handlers
        - Initialize connections
        """
        logger.info(f"{self.name} v{self.version} initialized")

        # Example: Subscribe to events
        self.node.event_bus.subscribe(
            EventType.DATA_SHARED,
            self.on_data_shared
        )

    def shutdown(self):
        """Called when the node is stopping.

        Use this to:
        - Clean up resources
        - Close connections
        - Save state
        """
        logger.info(f"{self.name} shutting down")

    async def on_data_shared(self, event):
        """Handle data shared events."""
        data_hash = event.data.get('data_hash')
        logger.info(f"Data shared: {data_hash[:16]}...")
