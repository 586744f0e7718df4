"""Reads its settings from configurable.json beside it; saving that file reloads this plugin."""

import json
import logging
from pathlib import Path

from dashboard.event_bus import EventType

logger = logging.getLogger(__name__)

DEFAULTS = {"enabled": True, "watch": ["data.shared"], "greeting": "hello"}


class Configurable_pluginPlugin:
    """Logs the events its config names, with its configured greeting."""

    def __init__(self, node):
        self.node = node
        self.version = "1.0.0"
        self.config = self._load_config()
        self.watched = []

    def _load_config(self):
        config_file = Path(self.node.config.plugin_dir) / "configurable.json"
        if config_file.exists():
            with open(config_file, encoding="utf-8") as f:
                return {**DEFAULTS, **json.load(f)}
        return dict(DEFAULTS)

    def initialize(self):
        if not self.config["enabled"]:
            logger.info("disabled in configurable.json")
            return
        self.watched = [EventType(value) for value in self.config["watch"]]
        for event_type in self.watched:
            self.node.event_bus.subscribe(event_type, self.on_event)
        logger.info(f"watching {', '.join(t.value for t in self.watched)}")

    def shutdown(self):
        for event_type in self.watched:
            self.node.event_bus.unsubscribe(event_type, self.on_event)

    def on_event(self, event):
        logger.info(f"{self.config['greeting']}: {event.type.value} {event.data}")
