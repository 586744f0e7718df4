"""A plugin file whose class is misnamed."""


class NoClassPlugin:  # production looks for NoclassPlugin
    def __init__(self, node):
        self.node = node
