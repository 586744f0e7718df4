"""The plugin host: loads, swaps and unloads plugins exactly as production names them.

A small facade: the swap transaction is ``host/swap.py``, the sweep after plugin
code ``host/sweep.py``, restacking ``host/restack.py``, the slots ``host/slots.py``.
The host holds one lock around every change, so swaps never interleave.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from devnode.codes import WarningCode
from devnode.bus import EventBus
from devnode.host import notes, parity
from devnode.host.importer import PluginImporter
from devnode.host.content import Signature
from devnode.host.imports import ModuleGraph
from devnode.host.leaks import LeakWatch, OwnReferences
from devnode.host.module_facts import ModuleFacts
from devnode.host import tree
from devnode.host.links import LinkGuard
from devnode.host.naming import candidate_modules, expected_class_name, module_path
from devnode.host.node_like import NodeLike
from devnode.host.parts import MIRROR, HostParts, loader_log, node_log
from devnode.host.plan import Plan
from devnode.host.run_errors import RunErrors
from devnode.host.parity import ParityWarning
from devnode.host.slots import PluginSlot, PluginState, PluginView
from devnode.host.swap import RESTORE_HOOK, SAVE_HOOK, Swapper
from devnode.reporting import Reporter

__all__ = ["LEAK_CHECK_DELAY", "MIRROR", "RESTORE_HOOK", "SAVE_HOOK", "PluginHost", "PluginSlot", "PluginState", "PluginView"]

LEAK_CHECK_DELAY = 0.25  # seconds after the last swap; batches of reloads share one gc pass


class PluginHost:
    """Discovers, loads, swaps and unloads the plugins of one plugin dir on one node."""

    def __init__(
        self,
        node: NodeLike,
        plugin_dir: Path,
        reporter: Reporter,
        *,
        timeout: float = 5.0,
        check_leaks: bool = True,
    ) -> None:
        plugin_dir = plugin_dir.resolve()
        bus: EventBus = node.event_bus
        bus.handler_timeout = timeout  # an async handler that never returns must not hold up the node
        # Handler and task exceptions of serving plugins become plugin.error records with file and line.
        run_errors = RunErrors(reporter, plugin_dir, lambda name: module_path(plugin_dir, name))
        importer = PluginImporter(plugin_dir)
        self.parts = HostParts(
            node=node, bus=bus, plugin_dir=plugin_dir, reporter=reporter, timeout=timeout,
            importer=importer, graph=ModuleGraph(plugin_dir, importer.executed),
            leaks=LeakWatch(grace=timeout + LEAK_CHECK_DELAY), run_errors=run_errors, check_leaks=check_leaks,
        )
        self.swapper = Swapper(self.parts)
        self.node = node
        self.plugin_dir = plugin_dir
        self.reporter = reporter
        self.timeout = timeout
        # Private: others read the narrow methods under "what others read" (tests: slot_for_tests).
        self._slots: dict[str, PluginSlot] = self.parts.slots
        self._importer = self.parts.importer
        self._graph = self.parts.graph
        self._leaks = self.parts.leaks
        self._run_errors = run_errors
        # Start-up's walks of the plugin dir (symlinks, content ledger, catch-up rescan) share unchanged listings.
        self.listings = tree.Listings()
        self._links = LinkGuard(plugin_dir, self.listings)  # symlinks out of the plugin dir are reported once
        self._lock = asyncio.Lock()
        self._stale_helpers: dict[str, Any] = {}  # helper module -> the module object its new code replaces
        self._leak_check: asyncio.TimerHandle | None = None
        bus.add_observer(run_errors.observe)
        notices = getattr(node, "parity_notices", None)  # the stand-in's "production would do X" notices
        if notices is not None:
            notices.add_sink(lambda notice: self.reporter.emit("warning", **notice.to_record()))

    # -- production-compatible surface (node.plugin_manager) -------------------
    @property
    def plugins(self) -> dict[str, Any]:
        return {name: slot.instance for name, slot in self._slots.items() if slot.serving}

    def get_plugin(self, name: str) -> Any:
        slot = self._slots.get(name)
        return slot.instance if slot else None

    @property
    def bus(self) -> EventBus:
        return self.parts.bus

    @property
    def check_leaks(self) -> bool:
        return self.parts.check_leaks

    def load_plugins(self) -> None:
        """Production's sync name: load every plugin, on the running loop (devnode's host is async)."""
        self._soon(self.start())

    def shutdown_plugins(self) -> None:
        """Production's sync name: shut every plugin down, on the running loop."""
        self._soon(self.stop())

    def _soon(self, coro: Coroutine[Any, Any, None]) -> None:
        self.parts.in_background(coro)

    # -- discovery -------------------------------------------------------------
    def plugin_names(self) -> list[str]:
        """Modules in the plugin dir that are plugins (not helpers), sorted."""
        return [m for m in candidate_modules(self.plugin_dir) if not self.is_helper(m)]

    def is_helper(self, module: str) -> bool:
        if module in self._slots and self._slots[module].serving:
            return False
        return self._graph.is_helper(module)

    # -- lifecycle -------------------------------------------------------------
    def prepare(self) -> None:
        """Make the plugin dir importable as ``plugins`` and report how its layout differs from production's."""
        self._importer.install()
        for warning in parity.check_plugin_dir(self.plugin_dir):
            notes.warn(self.parts, None, warning)

    def detach(self) -> None:
        """This host is replaced (another plugin dir): drop its import hook and its bus observer."""
        self._importer.uninstall()
        self.bus.remove_observer(self._run_errors.observe)

    async def start(self, reverse: bool = False) -> None:
        """Load every plugin (``reverse`` order lets ``devnode check`` catch order reliance)."""
        self.prepare()
        for warning in self._links.scan():
            notes.warn(self.parts, None, warning)
        async with self._lock:
            names = candidate_modules(self.plugin_dir)
            self.parts.starting = True
            try:
                for name in reversed(names) if reverse else names:
                    if self.is_helper(name):
                        notes.warn_helper(self.parts, name)
                        loader_log.error(f"Failed to load plugin {name}: module 'plugins.{name}' has no attribute "
                                         f"'{expected_class_name(name)}'", extra=MIRROR)
                    else:
                        await self.swapper.swap(name, trigger=None, purge=self._stale())
            finally:
                self.parts.starting = False

    async def stop(self) -> None:
        """Shut every plugin down (each isolated), then release the import hooks."""
        async with self._lock:
            raised = [slot.name for slot in self._slots.values() if slot.serving]
            failures_before = self.parts.shutdown_failures
            for name in list(self._slots):
                await self.swapper.retire(name, reason="node stopping")
            if self.parts.shutdown_failures > failures_before and raised:
                node_log.error(f"Error shutting down plugins: {self.parts.last_shutdown_error}", extra=MIRROR)
                node_log.warning("Node stopped with 1 error(s)", extra=MIRROR)
        if self._leak_check is not None:
            self._leak_check.cancel()
            self._leak_check = None
        self._importer.uninstall()

    async def load(self, name: str, trigger: Sequence[str] | None = None) -> bool:
        async with self._lock:
            return await self.swapper.swap(name, trigger, purge=self._stale())

    async def reload(
        self,
        names: Iterable[str],
        trigger: Sequence[str] | None = None,
        purge: Sequence[str] = (),
        detect_ms: float | None = None,
        triggers: dict[str, list[str]] | None = None,
    ) -> dict[str, bool]:
        """Swap each named plugin (in order), re-executing the ``purge`` helpers fresh first.

        ``purge`` names helper modules (``support`` or ``_common``); their
        submodules are re-executed too.
        """
        results: dict[str, bool] = {}
        async with self._lock:
            self._stale()  # forget helpers re-executed since, so their current module is the one to replace
            for n in self._importer.with_submodules(purge):
                self._stale_helpers.setdefault(n, sys.modules.get(n))
            for name in names:
                why = (triggers or {}).get(name, trigger)
                # Helpers are re-executed once: by the first import that succeeds, in this batch or a later one.
                results[name] = await self.swapper.swap(name, why, purge=self._stale(), detect_ms=detect_ms)
        self.after_changes()
        return results

    def _stale(self) -> list[str]:
        """Changed helpers whose new code has not run yet (a broken one stays here until it imports).

        Every import re-executes them, so no plugin loads against a helper's old code
        while the file on disk says something else.
        """
        self._stale_helpers = {n: old for n, old in self._stale_helpers.items() if sys.modules.get(n) is old}
        return list(self._stale_helpers)

    async def unload(self, name: str, reason: str = "requested") -> bool:
        async with self._lock:
            done = await self.swapper.retire(name, reason)
        self.after_changes()
        return done

    async def apply(self, plan: Plan, *, detect_ms: float | None = None) -> None:
        """Carry out a plan of file changes: unload the deleted, forget gone helpers, then load and reload."""
        for name in plan.unload:
            if (self.plugin_dir / f"{name}.py").is_dir():
                self.reporter.emit(
                    "warning", code=WarningCode.NOT_A_FILE, plugin=name, file=f"{self.plugin_dir.name}/{name}.py",
                    message=f"{name}.py is now a directory, not a plugin file: {name} is unloaded until "
                    f"{name}.py is a file again",
                )
            await self.unload(name, reason="file deleted")
        for name in plan.helpers_gone:
            self._importer.forget(name)
        todo = [*plan.load, *[n for n in plan.reload if n not in plan.load]]
        if todo or plan.purge:  # a changed helper nobody imports yet is still re-executed on its next import
            await self.reload(todo, purge=plan.purge, detect_ms=detect_ms, triggers=plan.triggers)

    # -- what others read ------------------------------------------------------
    def known(self) -> frozenset[str]:
        """Plugin names the host has a slot for: serving, serving a previous version, or failed."""
        return frozenset(self._slots)

    def serving(self) -> list[str]:
        """Plugin names with an instance serving now, sorted."""
        return sorted(name for name, slot in self._slots.items() if slot.serving)

    def view(self, name: str) -> PluginView | None:
        """What others may read of one plugin (state, instance, failure, ledger); None if it has no slot."""
        slot = self._slots.get(name)
        return slot.view() if slot is not None else None

    def views(self) -> list[PluginView]:
        """``view`` of every plugin with a slot, sorted by name."""
        return [self._slots[name].view() for name in sorted(self._slots)]

    def slot_for_tests(self, name: str) -> PluginSlot:
        """Test-only: the slot itself (module, ledger, reload count), for tests of the host's bookkeeping."""
        return self._slots[name]

    # -- the reload path's inputs (facts for the planner) ------------------------
    def modules(self) -> ModuleFacts:
        """The plugin dir's module graph, read-only: helpers, who imports whom, files named in source."""
        return self._graph

    def refresh_module(self, name: str) -> None:
        """Top-level module ``name`` changed on disk: read its imports again before planning."""
        self._graph.update(name)

    def executed_sources(self) -> Mapping[str, tuple[Signature | None, str]]:
        """File (as a string) -> (its stat before reading, digest of the source executed), per plugin-dir module imported."""
        return self._importer.executed

    def link_warnings(self, paths: Iterable[Path]) -> list[ParityWarning]:
        """Warnings for changed paths that are now symlinks out of the plugin dir (each link warned once)."""
        return self._links.check_paths(paths)

    def status(self) -> list[dict[str, Any]]:
        return [slot.status() for slot in sorted(self._slots.values(), key=lambda s: s.name)]

    def files_read(self) -> dict[str, set[Path]]:
        """Plugin -> the data files it read while loading (a change to one reloads it)."""
        return {name: slot.files_read for name, slot in self._slots.items()}

    def plugin_tasks(self) -> set[asyncio.Task[Any]]:
        """The tasks the plugins own now (started in initialize() or since, e.g. a poll loop)."""
        return {t for slot in self._slots.values() if slot.ledger is not None for t in slot.ledger.tasks}

    # -- leaked old versions -----------------------------------------------------
    def own_references(self) -> OwnReferences:
        """What devnode holds for the author (the Python console's namespace): named as such, not as a plugin leak."""
        return self._leaks.own

    def after_changes(self) -> None:
        """Check for leaked old versions soon, off the reload's path (a full gc is not free)."""
        if self.check_leaks and self._leaks.pending and self._leak_check is None:
            self._leak_check = asyncio.get_running_loop().call_later(LEAK_CHECK_DELAY, self._confirm_leaks)

    def report_leaks(self, confirm: bool = False) -> None:
        """Report old versions still alive; ``confirm`` (the background check): only what stays alive.

        A direct call reports at once: its caller knows nothing is under way. The
        background check runs while the loop works, so what it finds alive the
        first time it looks at again shortly (a result on its way back to the
        publisher can hold an old version for a moment).
        """
        self._leak_check = None
        if self._leaks.pending:
            leftovers = self._leaks.check(in_flight=confirm and self.bus.in_flight > 0, running=confirm)
            if self._leaks.pending and confirm:
                self._leak_check = asyncio.get_running_loop().call_later(LEAK_CHECK_DELAY * 2, self._confirm_leaks)
            for leftover in leftovers:
                self.reporter.emit(
                    "warning",
                    code=WarningCode.LEAK,
                    plugin=leftover.plugin,
                    message=f"the previous {leftover.plugin} {leftover.what} is still alive after unload; held by: "
                    + "; ".join(leftover.holders),
                    holders=leftover.holders,
                )

    def _confirm_leaks(self) -> None:
        self.report_leaks(confirm=True)
