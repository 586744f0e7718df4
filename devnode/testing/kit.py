"""A dev node for one test: plugins loaded from disk, driven by sync (or async) helpers.

The kit owns a private event loop. Sync helpers (``load``, ``publish``, ...) run
the loop until their work, and every task it started, has finished; ``async``
tests use the ``a``-prefixed twins (``aload``, ``apublish``, ...) on the same loop.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from collections.abc import Awaitable, Callable
from inspect import isawaitable
from pathlib import Path
from typing import Any, TypeVar

from devnode.config import NodeConfig
from devnode.bus import Event, EventType
from devnode.host.host import PluginHost
from devnode.host.naming import candidate_modules
from devnode.node import controls
from devnode.production.options import Authorize, ProductionOptions
from devnode.reporting import Record
from devnode.session import NodeKind
from devnode.testing.failures import HandlerError, KitUsageError, PluginLoadError, load_error, raise_handler_errors
from devnode.testing.harness import SETTLE_TIMEOUT, NodeHarness, await_until
from devnode.testing.leftovers import LEFTOVER_CODES, leftover_problems
from devnode.testing.plugin_logs import KitLogHandler
from devnode.testing.reachability import default_roots, find_path
from devnode.testing.recorder import EventRecorder, RecordedEvent
from devnode.testing.settle import settled

__all__ = ["SETTLE_TIMEOUT", "DevNodeKit", "HandlerError", "KitUsageError", "PluginLoadError", "await_until"]

T = TypeVar("T")


class DevNodeKit(NodeHarness):
    """A dev node with a temporary data dir, the full service surface and a plugin host."""

    def __init__(
        self,
        plugin_dir: str | Path,
        data_dir: str | Path,
        *,
        node_id: str = "node1",
        peers: list[str] | None = None,
        timeout: float = 5.0,
        settle_timeout: float = SETTLE_TIMEOUT,
        node: NodeKind = "standin",
        node_src: str | Path | None = None,
        authorize: Authorize = "devnode",
    ) -> None:
        self.plugin_dir = Path(plugin_dir).resolve()
        self.data_dir = Path(data_dir)
        self.settle_timeout = settle_timeout
        self._doing = "the test"
        self.events = EventRecorder()
        self._host: PluginHost | None = None
        self._stale: list[tuple[str, str, weakref.ref[type]]] = []  # (plugin, action, old class)
        self._finished = False
        config = NodeConfig(
            plugin_dir=str(self.plugin_dir), data_dir=str(self.data_dir), node_id=node_id,
            initial_peers=list(peers or []), sqlite_db_path=str(self.data_dir / "devnode.sqlite3"),
            db_path=str(self.data_dir / "devnode.sqlite3"),
        )
        production = ProductionOptions(node_src=str(node_src) if node_src is not None else None, authorize=authorize)
        # The host comes on the first load (a test may load by path from another plugin dir).
        super().__init__(config, kind=node, production=production, timeout=timeout, check_leaks=False,
                         start_node=True)
        self._log_handler = KitLogHandler(self.reporter)
        self._plugins_logger = logging.getLogger("plugins")
        self._saved_level = self._plugins_logger.level
        self._plugins_logger.addHandler(self._log_handler)
        if self._plugins_logger.level == logging.NOTSET:
            self._plugins_logger.setLevel(logging.INFO)  # as `devnode run`: plugins' INFO lines are shown

    # -- what tests read ----------------------------------------------------------
    @property
    def bus(self) -> Any:
        return self.node.event_bus

    @property
    def host(self) -> PluginHost:
        """The plugin host (``node.plugin_manager``), created on the first load."""
        return self._ensure_host(self.plugin_dir)

    @property
    def plugins(self) -> dict[str, Any]:
        return self._host.plugins if self._host else {}

    def plugin(self, name: str) -> Any:
        """The running instance of plugin ``name`` (the newest version after reloads)."""
        name = _module_name(name)
        instance = self._host.get_plugin(name) if self._host else None
        if instance is None:
            raise KitUsageError(f'plugin "{name}" is not loaded (loaded: {", ".join(self.plugins) or "none"}); '
                                f'load it first with devnode.load("{name}")')
        return instance

    def plugin_path(self, name: str) -> Path:
        return self.plugin_dir / f"{_module_name(name)}.py"

    @property
    def warnings(self) -> list[Record]:
        """Warnings so far: production-parity differences, cleanups, ..."""
        return [r for r in self.records if r["kind"] == "warning"]

    @property
    def logs(self) -> list[Record]:
        return [r for r in self.records if r["kind"] == "log"]

    def log_messages(self, plugin: str | None = None) -> list[str]:
        return [r["message"] for r in self.logs if plugin is None or r.get("plugin") == _module_name(plugin)]

    # -- sync helpers (they run the loop) ---------------------------------------------
    def run(self, coro: Awaitable[T]) -> T:
        """Run a coroutine on the node's loop; in an ``async def`` test, ``await`` it instead."""
        if self.loop.is_running():
            _close(coro)
            raise KitUsageError("the node's event loop is already running: this is an async test, so await the "
                                "coroutine (or the a-prefixed helper, e.g. `await devnode.apublish(...)`) instead")
        _refuse_foreign_loop(coro)
        return self.loop.run_until_complete(coro)

    def load(self, plugin: str | Path) -> Any:
        """Load a plugin by name (``greeter_plugin``) or path; returns the live instance."""
        return self._sync("load", self.aload(plugin))

    def load_all(self) -> dict[str, Any]:
        """Load every plugin of the plugin dir, as ``devnode run`` does; returns name -> instance."""
        return self._sync("load_all", self.aload_all())

    def reload(self, plugin: str | Path) -> Any:
        """Re-import a loaded plugin from disk and swap it in (state carried over); returns the new instance."""
        return self._sync("reload", self.areload(plugin))

    def unload(self, plugin: str | Path) -> None:
        """Shut a plugin down and unload it."""
        self._sync("unload", self.aunload(plugin))

    def publish(self, event_type: EventType | str, data: dict[str, Any] | None = None, *, check: bool = True) -> RecordedEvent:
        """Publish an event and wait until every handler (and any task they started) has finished."""
        return self._sync("publish", self.apublish(event_type, data, check=check))

    def share(self, data: Any, recipient: str = "peer1", *, check: bool = True, **kwargs: Any) -> str:
        """``node.share_data(data, recipient, ...)`` (through any plugin wrapping it); returns the tx hash."""
        return self._sync("share", self.ashare(data, recipient, check=check, **kwargs))

    def receive(self, peer: str, data: Any, *, check: bool = True) -> str:
        """Make simulated peer ``peer`` send ``data`` to the node (DATA_RECEIVED); returns the data hash."""
        return self._sync("receive", self.areceive(peer, data, check=check))

    def call(self, fn: Callable[..., Any], *args: Any, check: bool = True, **kwargs: Any) -> Any:
        """Call a node method (sync or async) on the loop, then wait for the events it published."""
        return self._sync("call", self.acall(fn, *args, check=check, **kwargs))

    def settle(self, timeout: float | None = None) -> None:
        """Let pending work (queued events, tasks) run until none is left."""
        self._sync("settle", self.asettle(timeout))

    def wait_until(self, predicate: Callable[[], Any], timeout: float = SETTLE_TIMEOUT, what: str = "") -> Any:
        """Run the loop until ``predicate()`` is truthy (plugins' tasks progress meanwhile)."""
        return self._sync("wait_until", self.await_until(predicate, timeout, what))

    # -- async twins ---------------------------------------------------------------------
    async def aload(self, plugin: str | Path) -> Any:
        name, plugin_dir = self._locate(plugin)
        host = self._ensure_host(plugin_dir)
        if name in host.plugins:
            return host.plugins[name]
        ok = await self._settled(host.load(name), plugin_tasks=False)
        if not ok:
            raise load_error(self.records, name, "load")
        return host.get_plugin(name)

    async def aload_all(self) -> dict[str, Any]:
        host = self._ensure_host(self.plugin_dir)
        for name in host.plugin_names():
            if name not in host.plugins:
                await self._settled(host.load(name), plugin_tasks=False)
        return dict(host.plugins)

    async def areload(self, plugin: str | Path) -> Any:
        name, plugin_dir = self._locate(plugin)
        host = self._ensure_host(plugin_dir)
        old = host.get_plugin(name)
        if old is None:
            raise KitUsageError(f'plugin "{name}" is not loaded, so it cannot be reloaded; load it first '
                                f'(loaded: {", ".join(host.plugins) or "none"})')
        old_class: type = type(old)
        del old
        self._doing = f"reload of {name}"
        try:
            results = await self._settled(host.reload([name], trigger=["test"]), plugin_tasks=False)
        finally:
            self._doing = "the test"
        if not results.get(name):
            raise load_error(self.records, name, "reload")
        self._stale.append((name, "reload", weakref.ref(old_class)))
        return host.get_plugin(name)

    async def aunload(self, plugin: str | Path) -> None:
        name, plugin_dir = self._locate(plugin)
        host = self._ensure_host(plugin_dir)
        instance = host.get_plugin(name)
        if instance is None:
            raise KitUsageError(f'plugin "{name}" is not loaded (loaded: {", ".join(host.plugins) or "none"})')
        old_class: type = type(instance)
        del instance
        self._doing = f"unload of {name}"
        try:
            await self._settled(host.unload(name, reason="test"), plugin_tasks=False)
        finally:
            self._doing = "the test"
        self._stale.append((name, "unload", weakref.ref(old_class)))

    async def apublish(self, event_type: EventType | str, data: dict[str, Any] | None = None, *, check: bool = True) -> RecordedEvent:
        kind = EventType.parse(event_type) if isinstance(event_type, str) else event_type
        if not isinstance(kind, EventType):
            raise KitUsageError(f"publish() needs an EventType member or its name/value, got {event_type!r}")
        event = Event(kind, dict(data or {}))
        mark = self.events.mark()
        await self._settled(self.node.event_bus.publish(event))
        if check:
            raise_handler_errors(self.events.since(mark))
        recorded = self.events.find(event)
        assert recorded is not None
        return recorded

    async def ashare(self, data: Any, recipient: str = "peer1", *, check: bool = True, **kwargs: Any) -> str:
        return await self.acall(self.node.share_data, data, recipient, check=check, **kwargs)  # type: ignore[no-any-return]

    async def areceive(self, peer: str, data: Any, *, check: bool = True) -> str:
        # On production's node through its own incoming-data path (devnode/node/controls.py).
        return await self.acall(controls.receive, self.node, peer, data, check=check)  # type: ignore[no-any-return]

    async def acall(self, fn: Callable[..., Any], *args: Any, check: bool = True, **kwargs: Any) -> Any:
        async def body() -> Any:
            result = fn(*args, **kwargs)
            return await result if isawaitable(result) else result

        mark = self.events.mark()
        result = await self._settled(body())
        if check:
            raise_handler_errors(self.events.since(mark))
        return result

    async def asettle(self, timeout: float | None = None) -> None:
        await self._settled(asyncio.sleep(0), timeout)

    async def await_until(self, predicate: Callable[[], Any], timeout: float = SETTLE_TIMEOUT, what: str = "") -> Any:
        return await await_until(predicate, timeout, what)

    # -- the end of a test ----------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self._finished

    def finish(self) -> list[str]:
        """Shut every plugin down; return what they left behind and which old versions leaked."""
        if self._finished:
            return []
        self._finished = True
        # Before the stop: it drops the plugin modules, and with them the globals a leak hides in.
        leaks = self.leaked_versions()
        self._doing = "the end of the test"
        self.run(self.session.stop_plugins())
        return leftover_problems(self.records) + leaks

    def leaked_versions(self) -> list[str]:
        """Old plugin versions (replaced by reload or unload) that the process still holds on to."""
        if not self._stale:
            return []
        gc.collect()
        problems = []
        for plugin, action, ref in self._stale:
            cls = ref()
            if cls is None:
                continue
            roots = default_roots(("the node", self.node), ("the event loop", self.loop))
            path = find_path(cls, roots)
            del cls
            if path is not None:
                problems.append(f"{plugin}: the version replaced by {action} is still alive, held by: {path}")
        return problems

    def parity_problems(self) -> list[str]:
        """Production-parity warnings, for tests that opt into ``strict``."""
        return [f"{r.get('plugin')}: {r['message']}" for r in self.warnings if r.get("code") not in _NOT_PARITY]

    def close(self) -> None:
        """Stop plugins (if ``finish`` did not), the node and the loop; undo global hooks."""
        self._finished = True
        super().close()

    # -- internals ---------------------------------------------------------------------------
    def _record(self, record: Record) -> None:
        self.records.append({**record, "during": self._doing})

    def _attach(self) -> None:
        self.node.event_bus.add_observer(self.events.observe)

    def _detach(self) -> None:
        self.node.event_bus.remove_observer(self.events.observe)
        self._plugins_logger.removeHandler(self._log_handler)
        self._plugins_logger.setLevel(self._saved_level)

    def _sync(self, helper: str, coro: Awaitable[T]) -> T:
        if self.loop.is_running():
            _close(coro)
            raise KitUsageError(f"devnode.{helper}() runs the event loop itself, so it cannot be called from an "
                                f"async test; use `await devnode.a{helper}(...)` there")
        if self._closed:
            _close(coro)
            raise KitUsageError(f"devnode.{helper}() called after the test's node was shut down")
        _refuse_foreign_loop(coro)
        return self.loop.run_until_complete(coro)

    def _locate(self, plugin: str | Path) -> tuple[str, Path]:
        """(module name, plugin dir) for a plugin name or a path to its file."""
        text = str(plugin)
        if isinstance(plugin, Path) or "/" in text or "\\" in text:
            path = Path(plugin).resolve()
            if path.suffix != ".py":
                raise KitUsageError(f'"{plugin}" is not a .py file; give a plugin file such as plugins/greeter_plugin.py')
            if not path.is_file():
                raise KitUsageError(f'plugin file "{path}" does not exist')
            return path.stem, path.parent
        name = _module_name(text)
        if not (self.plugin_dir / f"{name}.py").is_file():
            modules = candidate_modules(self.plugin_dir)
            available = ", ".join(modules) or "none"
            similar = [m for m in modules if m.startswith(name)]
            hint = f'; did you mean "{similar[0]}"?' if similar else ""
            raise KitUsageError(f'no plugin "{name}" in {self.plugin_dir} (plugins there: {available}){hint} '
                                "Load by path, or set the plugin dir with the devnode_plugin_dir fixture or ini option.")
        return name, self.plugin_dir

    def _ensure_host(self, plugin_dir: Path) -> PluginHost:
        plugin_dir = plugin_dir.resolve()
        host = self._host
        if host is not None and host.plugin_dir == plugin_dir:
            return host
        if host is not None and host.plugins:
            raise KitUsageError(f"a node loads plugins from one plugin dir: {host.plugin_dir} is in use "
                                f"({', '.join(host.plugins)} loaded), so {plugin_dir} cannot be used in the same test")
        if host is not None:
            host.detach()
        self.plugin_dir = plugin_dir
        self.node.config.plugin_dir = str(plugin_dir)
        host = self.session.attach_host(plugin_dir)
        host.prepare()
        self._host = host
        return host

    async def _settled(self, coro: Awaitable[T], timeout: float | None = None, plugin_tasks: bool = True) -> T:
        """Await ``coro`` and every task started meanwhile; loading waits only for devnode's own tasks."""
        exclude = None if plugin_tasks else self._plugin_tasks
        return await settled(coro, self.settle_timeout if timeout is None else timeout, exclude)

    def _plugin_tasks(self) -> set[asyncio.Task[Any]]:
        return self._host.plugin_tasks() if self._host is not None else set()


_NOT_PARITY = LEFTOVER_CODES | {"leak"}  # what the plugin left behind, not how production would differ


def _module_name(name: str) -> str:
    return name[:-3] if name.endswith(".py") else name


def _refuse_foreign_loop(coro: Awaitable[Any]) -> None:
    """The kit runs its own loop; it cannot do so from inside another running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    _close(coro)
    raise KitUsageError("DevNodeKit runs its own event loop, so it cannot be driven from code that is already "
                        "running in another event loop; use it from sync code, or from an async test that "
                        "requests the devnode fixture (which runs on the kit's loop)")


def _close(coro: Awaitable[Any]) -> None:
    close = getattr(coro, "close", None)
    if close is not None:
        close()
