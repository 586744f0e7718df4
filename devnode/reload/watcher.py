"""Watches one plugin dir with watchfiles and yields the paths that changed."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

from watchfiles import Change, DefaultFilter

from devnode.reload.notify import watch_in_thread

# Files editors write beside the real one while saving.
EDITOR_DEBRIS_SUFFIXES = (".swp", ".swx", ".swo", "~", ".tmp", ".bak", ".orig", ".pyc", ".kate-swp")
EDITOR_DEBRIS_NAMES = {"4913"}  # vim probes the dir by creating "4913"


class PluginDirFilter(DefaultFilter):
    """watchfiles' default filter plus editor debris; only paths inside the plugin dir."""

    def __init__(self, plugin_dir: Path) -> None:
        super().__init__()
        self.plugin_dir = str(plugin_dir)

    def __call__(self, change: Change, path: str) -> bool:
        name = Path(path).name
        if name in EDITOR_DEBRIS_NAMES or name.endswith(EDITOR_DEBRIS_SUFFIXES) or name.startswith((".#", ".~")):
            return False
        if not (path == self.plugin_dir or path.startswith(self.plugin_dir + os.sep)):  # not plugins2/
            return False
        return super().__call__(change, path)


async def watch_plugin_dir(
    plugin_dir: Path,
    stop_event: asyncio.Event,
    *,
    debounce_ms: int = 1600,
    step_ms: int = 10,
    force_polling: bool = False,
    poll_delay_ms: int = 100,
) -> AsyncIterator[set[Path]]:
    """Yield batches of changed paths; an atomic save arrives as one batch."""
    async for changes in watch_in_thread(  # watchfiles' watcher without anyio (see notify.py)
        plugin_dir,
        watch_filter=PluginDirFilter(plugin_dir),
        debounce=debounce_ms,
        step=step_ms,
        stop_event=stop_event,
        force_polling=force_polling,
        poll_delay_ms=poll_delay_ms,
        recursive=True,
    ):
        paths = {Path(p) for _, p in changes}
        # Polling reports the directory itself as modified: not a file change. Other directories are
        # dropped too, but one named like a plugin file is that plugin's file replaced: keep it.
        yield {p for p in paths if p != plugin_dir and (not p.is_dir() or p.suffix == ".py")}
