"""``datamgmtnode.services.plugin_manager.PluginManager`` for code written against production.

The guide's "Check Plugin Loading" snippet builds one by hand. Under devnode it
drives the same PluginHost the dev node uses, synchronously, like production.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from devnode.errors import DevnodeError
from devnode.host.host import PluginHost
from devnode.reporting import Reporter
from devnode.session import install_loop_hooks


class PluginManager:
    """Production's synchronous plugin manager API: load_plugins, plugins, get_plugin, shutdown_plugins."""

    def __init__(self, node: Any, plugin_dir: str | Path) -> None:
        self.node = node
        self.reporter = Reporter()
        self.reporter.add_sink(self._print_failures)
        self.host = PluginHost(node, Path(plugin_dir), self.reporter)
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def plugins(self) -> dict[str, Any]:
        return self.host.plugins

    def get_plugin(self, name: str) -> Any:
        return self.host.get_plugin(name)

    def load_plugins(self) -> None:
        self._run(self.host.start())

    def shutdown_plugins(self) -> None:
        self._run(self.host.stop())
        if self._loop is not None:  # every plugin is down: the loop has nothing left to run
            self._loop.close()
            self._loop = None

    def _run(self, coro: Any) -> None:
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
            install_loop_hooks(self._loop)
        self._loop.run_until_complete(coro)

    @staticmethod
    def _print_failures(record: dict[str, Any]) -> None:
        if record["kind"] == "plugin.failed":  # production prints exactly this line
            print(f"Failed to load plugin {record['plugin']}: {record['error']}")
