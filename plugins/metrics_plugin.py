"""Counts every event on the bus, using the shared helper package plugins.support."""

import asyncio
import logging

from plugins.support.stats import new_counts, summary

logger = logging.getLogger(__name__)

REPORT_EVERY_SECONDS = 60


class Metrics_pluginPlugin:
    """Counts events by type; logs a summary every minute; keeps counts across reloads."""

    def __init__(self, node):
        self.node = node
        self.version = "1.0.0"
        self.counts = new_counts()
        self._reporter = None

    def initialize(self):
        self.node.event_bus.subscribe_all(self.count)
        self._reporter = asyncio.get_running_loop().create_task(self._report_periodically())

    def shutdown(self):
        self.node.event_bus.unsubscribe_all(self.count)
        if self._reporter is not None:
            self._reporter.cancel()

    def devnode_save_state(self):
        return self.counts

    def devnode_restore_state(self, counts):
        self.counts.update(counts)

    def count(self, event):
        self.counts[event.type.value] += 1

    async def _report_periodically(self):
        while True:
            await asyncio.sleep(REPORT_EVERY_SECONDS)
            logger.info(summary(self.counts))
