"""Audit trail: every share and payment event as one JSON line in <data_dir>/audit.log."""

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

from dashboard.event_bus import EventType

logger = logging.getLogger(__name__)

# What production's share_data publishes (services/node.py:275-334).
AUDITED = (
    EventType.DATA_SHARED,
    EventType.TRANSFER_COMPLETED,
    EventType.TRANSFER_FAILED,
)


class Audit_pluginPlugin:
    """Appends an audit record per event; the file survives reloads and restarts."""

    def __init__(self, node):
        self.node = node
        self.version = "1.0.0"
        self.audit_file = Path(node.config.data_dir) / "audit.log"
        self.entries_written = 0

    def initialize(self):
        for event_type in AUDITED:
            self.node.event_bus.subscribe(event_type, self._log_event)
        logger.info(f"auditing {len(AUDITED)} event types to {self.audit_file}")

    def shutdown(self):
        for event_type in AUDITED:
            self.node.event_bus.unsubscribe(event_type, self._log_event)
        logger.info(f"wrote {self.entries_written} audit entries")

    # devnode carries this count across reloads; production never calls these hooks.
    def devnode_save_state(self):
        return {"entries_written": self.entries_written}

    def devnode_restore_state(self, state):
        self.entries_written = state["entries_written"]

    async def _log_event(self, event):
        entry = {
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "node_id": self.node.config.node_id,
            "event": event.type.value,
            "data": event.data,
        }
        with open(self.audit_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, default=str) + "\n")
        self.entries_written += 1
