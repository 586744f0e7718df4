"""initialize() subscribes, then raises: what does each node keep?"""
from dashboard.event_bus import EventType
import json
import os


def journal(plugin, what, **data):
    with open(os.environ["CONTRACT_JOURNAL"], "a") as f:
        f.write(json.dumps({"plugin": plugin, "what": what, **data}) + "\n")


class FailinitPlugin:
    def __init__(self, node):
        self.node = node

    def initialize(self):
        journal("failinit", "initialize")
        self.node.event_bus.subscribe(EventType.DATA_VERIFIED, self.on_verified)
        raise RuntimeError("failinit cannot start")

    def on_verified(self, event):
        journal("failinit", "handled")

    def shutdown(self):
        journal("failinit", "shutdown")
