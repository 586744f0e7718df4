"""``datamgmtnode.services.plugin_manager.PluginManager`` for code written against production.

The guide's "Check Plugin Loading" snippet builds one by hand. Under devnode it
drives a PluginHost made by a ``NodeSession`` around the caller's node (the same
hooks as ``devnode run``: task and thread ownership, the production import names),
synchronously, like production.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from devnode.errors import DevnodeError
from devnode.reporting import Reporter
from devnode.session import NodeSession


class PluginManager:
    """Production's synchronous plugin manager API: load_plugins, plugins, get_plugin, shutdown_plugins."""

    def __init__(self, node: Any, plugin_dir: str | Path) -> None:
        self.node = node
        self.reporter = Reporter()
        self.session = NodeSession.around(node, self.reporter)
        # The caller's node keeps its own plugin_manager (in a devnode console, the running host).
        self.host = self.session.attach_host(Path(plugin_dir), adopt=False)
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def plugins(self) -> dict[str, Any]:
        return self.host.plugins

    def get_plugin(self, name: str) -> Any:
        return self.host.get_plugin(name)

    def load_plugins(self) -> None:
        self._run(self.session.start_plugins())

    def shutdown_plugins(self) -> None:
        self._run(self.session.stop_plugins())
        if self._loop is not None:  # every plugin is down: the hooks go, and the loop has nothing left to run
            self._loop.run_until_complete(self.session.close())
            self._loop.close()
            self._loop = None

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            coro.close()
            raise DevnodeError("PluginManager's sync methods cannot run inside an event loop; "
                               "in devnode's console use `await node.plugin_manager.load(name)` instead")
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            # Tasks and threads the plugins start are theirs, as under devnode run (the node is the caller's).
            self._loop.run_until_complete(self.session.open(host=False))
        self._loop.run_until_complete(coro)

    # "Failed to load plugin <name>: <error>" is logged on services.plugin_manager by the host, as production does.
