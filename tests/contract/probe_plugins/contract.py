"""The probe plugin: production's plugin contract, nothing more; the suite reaches the node through it."""
import json
import os


def journal(plugin, what, **data):
    with open(os.environ["CONTRACT_JOURNAL"], "a") as f:
        f.write(json.dumps({"plugin": plugin, "what": what, **data}) + "\n")


class ContractPlugin:
    def __init__(self, node):
        self.node = node

    def initialize(self):
        journal("contract", "initialize")
        self.node.event_bus.subscribe_all(self.on_event)

    def on_event(self, event):
        if event.type.value.startswith("system."):
            journal("contract", "heard", type=event.type.value)

    def shutdown(self):
        journal("contract", "shutdown")
        self.node.event_bus.unsubscribe_all(self.on_event)
