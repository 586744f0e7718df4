"""What the watcher keeps of a plugin dir: watchfiles' default filter plus editor debris (``scope.py`` watches)."""

from __future__ import annotations

import os
from pathlib import Path

from watchfiles import Change, DefaultFilter

# Files editors write beside the real one while saving.
EDITOR_DEBRIS_SUFFIXES = (".swp", ".swx", ".swo", "~", ".tmp", ".bak", ".orig", ".pyc", ".kate-swp")
EDITOR_DEBRIS_NAMES = {"4913"}  # vim probes the dir by creating "4913"


class PluginDirFilter(DefaultFilter):
    """watchfiles' default filter plus editor debris; only paths inside the plugin dir."""

    def __init__(self, plugin_dir: Path) -> None:
        super().__init__()
        self.plugin_dir = str(plugin_dir)

    def __call__(self, change: Change, path: str) -> bool:
        name = os.path.basename(path)  # what Path(path).name is for the watcher's normalized paths
        if name in EDITOR_DEBRIS_NAMES or name.endswith(EDITOR_DEBRIS_SUFFIXES) or name.startswith((".#", ".~")):
            return False
        if not (path == self.plugin_dir or path.startswith(self.plugin_dir + os.sep)):  # not plugins2/
            return False
        return super().__call__(change, path)
