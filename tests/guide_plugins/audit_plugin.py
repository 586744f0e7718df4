# plugins/audit_plugin.py
import json
import logging
from datetime import datetime
from pathlib import Path

from dashboard.event_bus import EventType

logger = logging.getLogger(__name__)


class Audit_pluginPlugin:
    """Audit logging plugin for compliance tracking."""

    def __init__(self, node):
        self.node = node
        self.audit_file = Path(node.config.data_dir) / 'audit.log'

    def initialize(self):
        # Subscribe to relevant events
        events = [
            EventType.DATA_SHARED,
            EventType.DATA_RECEIVED,
            EventType.TRANSFER_COMPLETED,
            EventType.TRANSFER_FAILED,
        ]

        for event_type in events:
            self.node.event_bus.subscribe(event_type, self._log_event)

        logger.info(f"Audit plugin initialized, logging to {self.audit_file}")

    def shutdown(self):
        self._log_entry("SHUTDOWN", {"node_id": self.node.config.node_id})

    async def _log_event(self, event):
        """Log event to audit file."""
        self._log_entry(event.type.value, event.data)

    def _log_entry(self, event_type: str, data: dict):
        """Write audit log entry."""
        entry = {
            'timestamp': datetime.utcnow().isoformat(),
            'node_id': self.node.config.node_id,
            'event': event_type,
            'data': data
        }

        with open(self.audit_file, 'a') as f:
            f.write(json.dumps(entry) + '\n')
