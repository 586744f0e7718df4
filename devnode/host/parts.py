"""The state one plugin host's modules share: the node, its bus, the plugin dir, slots and helpers."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devnode.bus import EventBus
from devnode.host.importer import PluginImporter
from devnode.host.imports import ModuleGraph
from devnode.host.leaks import LeakWatch
from devnode.host.naming import module_path
from devnode.host.node_like import NodeLike
from devnode.host.run_errors import RunErrors
from devnode.host.slots import PluginSlot
from devnode.reporting import Reporter

# What production logs, mirrored on production's logger names for code that watches them; devnode's own UI
# shows its richer records instead (the log bridge skips records marked with MIRROR).
MIRROR = {"devnode_mirror": True}
loader_log = logging.getLogger("services.plugin_manager")
node_log = logging.getLogger("services.node")


@dataclass(eq=False)
class HostParts:
    """What the facade (host.py), the swap transaction and the sweep all work on; built once per host."""

    node: NodeLike
    # The node's bus as it was when the host was made: a plugin replacing node.event_bus must not
    # take the host's holds and sweeps with it (the replacement is its patch, undone at unload).
    bus: EventBus
    plugin_dir: Path
    reporter: Reporter
    timeout: float
    importer: PluginImporter
    graph: ModuleGraph
    leaks: LeakWatch
    run_errors: RunErrors
    check_leaks: bool = True
    slots: dict[str, PluginSlot] = field(default_factory=dict)
    starting: bool = False  # loading every plugin at start (production logs load failures then)
    shutdown_failures: int = 0
    last_shutdown_error: str = ""
    deliveries: set[asyncio.Task[None]] = field(default_factory=set)  # held events on their way (the loop keeps tasks weakly)
    # Module name -> its file as warnings show it, worked out once: every load phase of every plugin names it.
    shown_files: dict[str, str] = field(default_factory=dict)

    def in_background(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` as a task owned by no plugin, kept alive until it ends."""
        task = asyncio.get_running_loop().create_task(coro, context=contextvars.Context())
        self.deliveries.add(task)
        task.add_done_callback(self.deliveries.discard)

    def rel(self, path: Path) -> str:
        """``path`` as warnings show it: ``plugins/x.py``."""
        try:
            return str(path.relative_to(self.plugin_dir.parent))
        except ValueError:
            return str(path)

    def shown_file(self, module_name: str) -> str:
        """``rel`` of ``module_name``'s file in the plugin dir (``plugins/x.py``), remembered."""
        shown = self.shown_files.get(module_name)
        if shown is None:
            shown = self.shown_files[module_name] = self.rel(module_path(self.plugin_dir, module_name))
        return shown

    def where(self, text: str | None) -> str:
        """``text`` with absolute paths into the plugin dir shortened to ``plugins/x.py``."""
        text = text or ""
        return text.replace(str(self.plugin_dir.parent) + "/", "")
