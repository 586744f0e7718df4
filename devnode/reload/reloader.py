"""Applies file changes to the running node: watch -> filter unchanged -> plan -> host."""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import Change

from devnode.host.host import PluginHost
from devnode.reload.planner import ContentLedger, Plan, plan_changes
from devnode.reload.scope import WatchScope, watch_scope
from devnode.reload.watcher import PluginDirFilter, watch_plugin_dir


class Reloader:
    """Keeps the host in step with the plugin dir on disk."""

    def __init__(self, host: PluginHost, *, debounce_ms: int = 1600, step_ms: int = 10, force_polling: bool = False,
                 scope: WatchScope | None = None, on_env_change: Callable[[Path], Awaitable[None]] | None = None) -> None:
        self.host = host
        self.plugin_dir = host.plugin_dir
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self.force_polling = force_polling
        self.contents = ContentLedger(self.plugin_dir)
        self.ready = asyncio.Event()
        # --watch paths, ignores and the .env (docs/reload.md "What is watched"); None: the plugin dir only.
        self.scope = scope
        self.on_env_change = on_env_change
        if scope is not None:
            from devnode.reload.outside import OutsideChanges

            self.outside: OutsideChanges | None = OutsideChanges(host, scope, self.contents)
        else:
            self.outside = None

    async def run(self, stop_event: asyncio.Event) -> None:
        options = dict(debounce_ms=self.debounce_ms, step_ms=self.step_ms, force_polling=self.force_polling)
        if self.scope is not None:
            batches = watch_scope(self.scope, stop_event, **options).__aiter__()  # type: ignore[arg-type]
        else:
            batches = watch_plugin_dir(self.plugin_dir, stop_event, **options).__aiter__()  # type: ignore[arg-type]
        # awatch registers its OS watch synchronously in its first step; let that step run,
        # then catch up on anything saved between start-up and registration.
        first = asyncio.ensure_future(batches.__anext__())
        for _ in range(3 if self.scope is not None else 1):  # the scope's watchers start one step later
            await asyncio.sleep(0)
        await self.apply_safely(self.rescan())
        self.ready.set()
        try:
            paths = await first
            while True:
                await self.apply_safely(paths)
                paths = await batches.__anext__()
        except StopAsyncIteration:
            return

    async def apply_safely(self, paths: set[Path]) -> None:
        """``apply``, but a bug in devnode's own reload code is reported and watching goes on."""
        try:
            await self.apply(paths)
        except Exception as exc:
            self.host.reporter.emit(
                "warning", code="reload-error", plugin=None,
                message=f"devnode could not apply a change ({type(exc).__name__}: {exc}); it keeps watching. "
                        "Save the file again, or use the reload command; please report this as a devnode bug",
                traceback="".join(traceback.format_exception(exc)),
            )

    def rescan(self) -> set[Path]:
        """Every file in the plugin dir, plus the ones known before (to see deletions)."""
        keep = PluginDirFilter(self.plugin_dir)
        current = {p for p in self.plugin_dir.rglob("*") if p.is_file() and keep(Change.modified, str(p))}
        found = current | self.contents.known()
        if self.scope is not None:
            found = {p for p in found if self.scope.kind(p) != "plugin" or not self.scope.ignored(p)}
        return found

    async def apply(self, paths: set[Path]) -> Plan:
        """Plan and carry out one batch of changed paths."""
        if self.outside is not None:
            paths = await self.outside.take(paths, self.on_env_change)
        changed = {p for p in paths if self.contents.changed(p)}
        if not changed:
            return Plan()
        for warning in self.host.links.check_paths(changed):
            self.host.reporter.emit("warning", **warning.to_record())
        detect_ms = _detect_ms(changed)
        host = self.host
        readers = {name: slot.files_read for name, slot in host.slots.items()}
        plan = plan_changes(changed, self.plugin_dir, host.graph, set(host.slots), readers)
        for name in plan.unload:
            if (self.plugin_dir / f"{name}.py").is_dir():
                host.reporter.emit(
                    "warning", code="not-a-file", plugin=name, file=f"{self.plugin_dir.name}/{name}.py",
                    message=f"{name}.py is now a directory, not a plugin file: {name} is unloaded until "
                    f"{name}.py is a file again",
                )
            await host.unload(name, reason="file deleted")
        for name in plan.helpers_gone:
            host.importer.forget(name)
        todo = [*plan.load, *[n for n in plan.reload if n not in plan.load]]
        if todo or plan.purge:  # a changed helper nobody imports yet is still re-executed on its next import
            await host.reload(todo, purge=plan.purge, detect_ms=detect_ms, triggers=plan.triggers)
        return plan


def _detect_ms(paths: set[Path]) -> float | None:
    """Time from the newest write in the batch to now: what the watcher took to notice."""
    mtimes = []
    for path in paths:
        try:
            mtimes.append(path.stat().st_mtime)
        except OSError:
            continue
    if not mtimes:
        return None
    return max(0.0, (time.time() - max(mtimes)) * 1000)
