"""NodeSession: the one way to build a node, its plugin host and reporter, and the process hooks they need.

Everything that runs plugins (``devnode run``, ``check``, the testing kit, the
project's test harness) builds on it, so each gets the same hooks, installed and
removed in one place:

- the loop's task factory (a task started by plugin code belongs to that plugin),
- the thread patch (a thread started by plugin code belongs to that plugin),
- the production import names (``dashboard.event_bus`` is devnode's bus),
- for the production-backed node, the checkout's folders on ``sys.path``.

The node kind is chosen here and nowhere else: ``standin`` (devnode's own
services, the default) or ``production`` (production's own ``Node`` from the
author's checkout, on a real local chain; see ``devnode.production.node``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from devnode import compat
from devnode.config import NodeConfig
from devnode.errors import DevnodeError
from devnode.host.host import PluginHost
from devnode.host.node_like import NodeLike
from devnode.ownership import TrackedThread, install_task_factory
from devnode.production.options import Authorize, ProductionOptions
from devnode.reporting import Reporter

if TYPE_CHECKING:  # imported only for the production-backed node (start-up time)
    from devnode.records import NodeKindFields
    from devnode.production.node import ProductionBackend

NodeKind = Literal["standin", "production"]
NODE_KINDS: tuple[NodeKind, ...] = ("standin", "production")
AUTHORIZE_CHOICES: tuple[Authorize, ...] = ("devnode", "production")
STANDIN_CHAIN = "devnode's simulated chain (in the data dir's SQLite file)"
__all__ = ["AUTHORIZE_CHOICES", "NODE_KINDS", "GlobalHooks", "NodeChoice", "NodeKind", "NodeLike", "NodeSession"]


@dataclass
class NodeChoice:
    """Which node to build: ``--node``, and for the production-backed one ``--node-src``/``--authorize``."""

    kind: NodeKind = "standin"
    production: ProductionOptions = field(default_factory=ProductionOptions)


class GlobalHooks:
    """The process-wide patches a running node needs; ``remove`` undoes what can be undone.

    Sessions may overlap (two kits in one test): the import aliases go when the last one ends.
    """

    _active = 0

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous_factory: Any = None

    _compat_ours = False  # whether the first session installed the import aliases (not its caller)

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._previous_factory = loop.get_task_factory()
        install_task_factory(loop)
        TrackedThread.install()  # once per process; it only acts while plugin code runs
        if GlobalHooks._active == 0:
            GlobalHooks._compat_ours = not compat.installed()
        compat.install()
        GlobalHooks._active += 1

    def remove(self) -> None:
        if self._loop is None:
            return
        GlobalHooks._active -= 1
        if GlobalHooks._active == 0 and GlobalHooks._compat_ours:
            compat.uninstall()
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            loop.set_task_factory(self._previous_factory)


class NodeSession:
    """A node of the chosen kind with its plugin host, for one run; an async context manager.

    ``open()`` installs the hooks and builds the node and (by default) its host; ``start()``
    starts the node, then loads the plugins; ``close()`` stops whatever is still running and
    removes the hooks. The steps are also available one by one for callers with their own
    order (the testing kit creates its host on first use and may replace it).
    """

    def __init__(
        self,
        config: NodeConfig,
        reporter: Reporter | None = None,
        *,
        kind: NodeKind = "standin",
        production: ProductionOptions | None = None,
        timeout: float = 5.0,
        check_leaks: bool = True,
    ) -> None:
        if kind not in NODE_KINDS:
            raise DevnodeError(f'node kind "{kind}" is not one of {", ".join(NODE_KINDS)}')
        self.config = config
        self.reporter = reporter or Reporter()
        self.kind = kind
        self.timeout = timeout
        self.check_leaks = check_leaks
        self.node: Any = None  # what plugins receive: a DevNode or production's Node
        self.host: PluginHost | None = None
        self.backend: ProductionBackend | None = None
        if kind == "production":
            from devnode.production.node import ProductionBackend

            self.backend = ProductionBackend(config, production or ProductionOptions())
        self.authorize = (production or ProductionOptions()).authorize  # the stand-in honours --authorize too
        self.hooks = GlobalHooks()
        self._hooks_installed = False
        self._node_started = False
        self._node_stopped = False
        self._plugins_stopped = False
        self._given: Any = None  # a node the caller built and runs (``around``)

    @classmethod
    def around(cls, node: Any, reporter: Reporter | None = None, **options: Any) -> NodeSession:
        """A session for a node its caller built and starts (production's sync ``PluginManager``).

        It installs and removes the same hooks and makes the host the same way; starting
        and stopping that node stay its caller's.
        """
        session = cls(node.config, reporter, **options)
        session._given = session.node = node
        return session

    # -- the whole session ---------------------------------------------------------------
    async def __aenter__(self) -> NodeSession:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self, *, host: bool = True) -> NodeSession:
        """Install the hooks, build the node and, unless ``host=False``, its plugin host."""
        self.hooks.install(asyncio.get_running_loop())
        self._hooks_installed = True
        try:
            self.node = await self._build_node()
            if host:
                self.attach_host()
        except BaseException:
            await self.close()
            raise
        return self

    async def start(self, *, reverse: bool = False) -> None:
        """Start the node, then load every plugin (``reverse``: in the opposite order)."""
        await self.start_node()
        await self.start_plugins(reverse=reverse)

    async def stop(self) -> None:
        """Shut every plugin down, then stop the node (each once)."""
        await self.stop_plugins()
        await self.stop_node()

    async def close(self) -> None:
        """Stop what is still running and remove the hooks; safe after any failed step."""
        try:
            await self.stop()
        finally:
            if self._hooks_installed:
                self._hooks_installed = False
                self.hooks.remove()

    # -- the steps --------------------------------------------------------------------------
    def attach_host(self, plugin_dir: Path | None = None, *, adopt: bool = True, **options: Any) -> PluginHost:
        """A new plugin host for ``plugin_dir`` (default: the config's), ``adopt``-ed as ``node.plugin_manager``."""
        options = {"timeout": self.timeout, "check_leaks": self.check_leaks, **options}
        host = PluginHost(self.node, Path(plugin_dir or self.config.plugin_dir), self.reporter, **options)
        if adopt:
            self.node.plugin_manager = host  # production's plugin loading is devnode's host, on both kinds
        self.host = host
        self._plugins_stopped = False
        return host

    async def start_plugins(self, *, reverse: bool = False) -> None:
        assert self.host is not None, "open() the session with its host before starting plugins"
        self._plugins_stopped = False
        await self.host.start(reverse=reverse)

    async def start_node(self) -> None:
        if self._given is not None:
            return  # its caller's to start
        if self.backend is not None:
            await self.backend.start()
        else:
            await self.node.start()
        self._node_started = True

    async def stop_plugins(self) -> None:
        if self.host is not None and not self._plugins_stopped:
            self._plugins_stopped = True
            await self.host.stop()

    async def stop_node(self) -> None:
        if self._node_stopped:
            return
        self._node_stopped = True
        if self._given is not None:
            return  # its caller's to stop
        if self.backend is not None:
            await self.backend.stop()  # also when half-built: the chain and sys.path are its to undo
        elif self.node is not None:
            await self.node.stop()

    # -- what runners show ---------------------------------------------------------------------
    def notices(self) -> list[tuple[str, str]]:
        """(warning code, message) pairs to report once at start: key file problems, production's choices."""
        if self.backend is not None:
            return list(self.backend.notices)
        return [("key-permissions", message) for message in getattr(self.node, "startup_warnings", [])]

    def ready_fields(self) -> NodeKindFields:
        """What ``node.ready`` says about the node: its kind and the chain it runs on."""
        if self.backend is not None:
            return self.backend.ready_fields()
        return {"node": "standin", "chain": STANDIN_CHAIN}

    async def _build_node(self) -> Any:
        if self._given is not None:
            return self._given
        if self.backend is not None:
            return await self.backend.build()
        from devnode.node.node import DevNode

        node = DevNode(self.config)
        node.authorize = self.authorize
        return node


