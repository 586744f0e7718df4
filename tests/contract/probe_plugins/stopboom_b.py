"""shutdown() raises: production's shutdown_plugins stops at the first such plugin."""
import json
import os


def journal(plugin, what, **data):
    with open(os.environ["CONTRACT_JOURNAL"], "a") as f:
        f.write(json.dumps({"plugin": plugin, "what": what, **data}) + "\n")


class Stopboom_bPlugin:
    def __init__(self, node):
        self.node = node

    def initialize(self):
        journal("stopboom_b", "initialize")

    def shutdown(self):
        journal("stopboom_b", "shutdown")
        raise RuntimeError("stopboom_b cannot stop")
