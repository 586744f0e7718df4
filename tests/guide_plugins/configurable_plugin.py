# plugins/configurable_plugin.py
import json
from pathlib import Path


class Configurable_pluginPlugin:
    def __init__(self, node):
        self.node = node
        self.config = self._load_config()

    def _load_config(self):
        config_file = Path(self.node.config.plugin_dir) / 'configurable.json'

        if config_file.exists():
            with open(config_file) as f:
                return json.load(f)

        return {'enabled': True}  # Defaults
