"""Applies file changes to the running node: watch -> filter unchanged -> plan -> ``host.apply(plan)``."""

from __future__ import annotations

import asyncio
import os
import stat
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import Change

from devnode.codes import WarningCode
from devnode.host import tree
from devnode.host.host import PluginHost
from devnode.host.plan import Plan
from devnode.reload import facts
from devnode.reload.contents import ContentLedger
from devnode.reload.planner import plan_changes
from devnode.reload.scope import WatchScope, watch_scope
from devnode.reload.watcher import PluginDirFilter

DIR_CHECK_SECONDS = 0.5  # how often the plugin dir's identity is checked (one stat)


class Reloader:
    """Keeps the host in step with the plugin dir on disk."""

    def __init__(self, host: PluginHost, *, debounce_ms: int = 1600, step_ms: int = 10, force_polling: bool = False,
                 scope: WatchScope | None = None, on_env_change: Callable[[Path], Awaitable[None]] | None = None) -> None:
        self.host = host
        self.plugin_dir = host.plugin_dir
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self.force_polling = force_polling
        # --watch paths, ignores and the .env (docs/reload.md "What is watched"); by default the plugin dir alone.
        self.scope = scope if scope is not None else WatchScope(self.plugin_dir)
        self.on_env_change = on_env_change
        self._keep = PluginDirFilter(self.plugin_dir)
        self._relevant = _Relevance(host)
        self.contents = ContentLedger(self.plugin_dir, self._relevant, self._keep_dir, host.executed_sources(),
                                      host.listings, self._relevant.pick)
        self.ready = asyncio.Event()
        from devnode.reload.outside import OutsideChanges

        self.outside = OutsideChanges(host, self.scope, self.contents)

    async def run(self, stop_event: asyncio.Event) -> None:
        """Watch until ``stop_event``; if the plugin dir vanishes or is replaced, say so and watch it again."""
        mode = "start"
        while not stop_event.is_set():
            identity = _identity(self.plugin_dir)
            if identity is None:
                await self._wait_for_dir(stop_event)
                mode = "back"
                continue
            moved = asyncio.Event()
            monitor = self._monitor(identity, stop_event, moved)
            try:
                await self._watch(moved, mode, monitor.check)
                mode = "back"  # the watch ended without a stop: the dir went away or was replaced
            except Exception as exc:  # the OS watch itself failed (e.g. too many watches): say so, try again
                self.host.reporter.emit(
                    "warning", code=WarningCode.WATCHER_ERROR, plugin=None, file=str(self.plugin_dir),
                    message=f"watching {self.plugin_dir} failed ({type(exc).__name__}: {exc}); devnode starts "
                    "watching it again in a moment (saves meanwhile are picked up then)",
                )
                self.ready.set()
                mode = "retry"
                try:
                    await asyncio.wait_for(stop_event.wait(), DIR_CHECK_SECONDS * 2)
                except asyncio.TimeoutError:
                    pass
            finally:
                monitor.cancel()
            if stop_event.is_set():
                return
            self.ready.set()  # even when the dir vanished during start-up

    async def _watch(self, stop: asyncio.Event, mode: str, on_tick: Callable[[], None]) -> None:
        options = dict(debounce_ms=self.debounce_ms, step_ms=self.step_ms, force_polling=self.force_polling,
                       on_tick=on_tick)
        batches = watch_scope(self.scope, stop, **options).__aiter__()  # type: ignore[arg-type]
        # awatch registers its OS watch synchronously in its first step; let that step run,
        # then catch up on anything saved between start-up (or the dir's return) and registration.
        first = asyncio.ensure_future(batches.__anext__())
        for _ in range(3):  # the scope's watchers start one step later
            await asyncio.sleep(0)
        await self.apply_safely(self.rescan(listings=self.host.listings), trust_stat=True)
        self.host.listings.clear()  # start-up's walks are done: no listing is kept for later
        if mode != "back":
            self.ready.set()
        else:
            self.host.reporter.emit(
                "warning", code=WarningCode.PLUGIN_DIR_BACK, plugin=None, file=str(self.plugin_dir),
                message=f"the plugin dir {self.plugin_dir} is back; devnode watches it again and has loaded, "
                "reloaded or unloaded plugins to match what is in it now",
            )
        try:
            paths = await first
            while True:
                if _identity(self.plugin_dir) is not None:  # a vanished dir is not every plugin deleted
                    await self.apply_safely(paths)
                paths = await batches.__anext__()
        except StopAsyncIteration:
            return
        finally:
            first.cancel()

    def _monitor(self, identity: tuple[int, int], stop_event: asyncio.Event, moved: asyncio.Event) -> _DirMonitor:
        """End the current watch (``moved``) when the node stops or the dir is no longer the one being watched."""
        return _DirMonitor(self.plugin_dir, identity, stop_event, moved)

    async def _wait_for_dir(self, stop_event: asyncio.Event) -> None:
        """The dir is gone (removed or moved away): keep serving what is loaded, and wait for it to return."""
        self.host.reporter.emit(
            "warning", code=WarningCode.PLUGIN_DIR_GONE, plugin=None, file=str(self.plugin_dir),
            message=f"the plugin dir {self.plugin_dir} was removed or moved away; the loaded plugins keep serving "
            "and devnode watches for the directory to come back (restore it, e.g. git checkout)",
        )
        while not stop_event.is_set() and _identity(self.plugin_dir) is None:
            try:
                await asyncio.wait_for(stop_event.wait(), DIR_CHECK_SECONDS)
            except asyncio.TimeoutError:
                pass

    async def apply_safely(self, paths: set[Path], *, trust_stat: bool = False) -> None:
        """``apply``, but a bug in devnode's own reload code is reported and watching goes on."""
        try:
            await (self.apply(paths, trust_stat=True) if trust_stat else self.apply(paths))
        except Exception as exc:
            self.host.reporter.emit(
                "warning", code=WarningCode.RELOAD_ERROR, plugin=None,
                message=f"devnode could not apply a change ({type(exc).__name__}: {exc}); it keeps watching. "
                        "Save the file again, or use the reload command; please report this as a devnode bug",
                traceback="".join(traceback.format_exception(exc)),
            )

    def rescan(self, listings: tree.Listings | None = None) -> set[Path]:
        """Every file in the plugin dir that matters (see ``ContentLedger``), plus the ones known before (deletions).

        Left out at once: plugin-dir files whose stat is what it was when hashed, which ``apply``
        (trusting the stat) would drop anyway; so the usual catch-up makes no path object per file.
        """
        self._relevant.forget()
        scope, contents = self.scope, self.contents
        current, unchanged = set(), set()
        for folder, listing in tree.listings_under(self.plugin_dir, self._keep_dir, listings):
            for entry in self._relevant.pick(folder, listing.entries):
                if not tree.is_file(entry):
                    continue
                path = entry.path
                if scope.is_plugin_file(path) and contents.same_stat(path):
                    unchanged.add(path)  # left out whatever the watcher's filter says of it
                elif self._keep(Change.modified, path):
                    current.add(path)
        found = [Path(p) for p in contents.known_paths() - unchanged - current
                 if not (scope.is_plugin_file(p) and contents.same_stat(p))]
        found += map(Path, current)
        return {p for p in found if scope.kind(p) != "plugin" or not scope.ignored(p)}

    def _keep_dir(self, path: str) -> bool:
        """Walk into this directory? Not if the watcher or the ignore rules exclude it."""
        return self._keep(Change.modified, path) and not self.scope.ignored(Path(path))

    async def apply(self, paths: set[Path], *, trust_stat: bool = False) -> Plan:
        """Plan and carry out one batch of changed paths (``trust_stat``: see ``ContentLedger.changed``)."""
        paths = await self.outside.take(paths, self.on_env_change)
        self._relevant.forget()  # plugins may read other files since the last batch
        changed = {p for p in paths if self.contents.changed(p, trust_stat=trust_stat)}
        if not changed:
            return Plan()
        for warning in self.host.link_warnings(changed):
            self.host.reporter.emit("warning", **warning.to_record())
        detect_ms = _detect_ms(changed)
        host = self.host
        found = facts.gather(changed, self.plugin_dir, host.refresh_module)
        plan = plan_changes(changed, self.plugin_dir, host.modules(), set(host.known()), host.files_read(), found)
        await host.apply(plan, detect_ms=detect_ms)
        return plan


class _DirMonitor:
    """Sets ``moved`` when ``stop_event`` is set, or when ``check`` finds the plugin dir gone or replaced.

    ``check`` runs on the watching thread every ``DIR_CHECK_SECONDS`` (the watch's ``on_tick``): one
    stat there, so an idle node's loop is not woken twice a second for it.
    """

    def __init__(self, plugin_dir: Path, identity: tuple[int, int], stop_event: asyncio.Event,
                 moved: asyncio.Event) -> None:
        self.plugin_dir = plugin_dir
        self.identity = identity
        self.moved = moved
        self._loop = asyncio.get_running_loop()
        self._told = False
        self._stopping = asyncio.ensure_future(stop_event.wait())
        self._stopping.add_done_callback(lambda _: moved.set())

    def check(self) -> None:
        if self._told or _identity(self.plugin_dir) == self.identity:
            return
        self._told = True
        try:
            self._loop.call_soon_threadsafe(self.moved.set)
        except RuntimeError:  # the loop has closed: nothing is watching any more
            pass

    def cancel(self) -> None:
        self._stopping.cancel()


def _identity(path: Path) -> tuple[int, int] | None:
    """The directory at ``path`` (following a symlink), or None when there is none."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


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


class _Relevance:
    """Which files' content matters: modules, and files a plugin read while loading or names in its source.

    The set of files read is gathered lazily, once per batch, and only when a path that is
    neither a module nor a named file is asked about: a reload's cost does not grow with
    the number of plugins.
    """

    def __init__(self, host: PluginHost) -> None:
        self.host = host
        self._inside = str(host.plugin_dir) + os.sep
        self._read: set[str] | None = None

    def __call__(self, path: str) -> bool:
        name = path.rpartition(os.sep)[2]
        if name.endswith(".py") or self.host.modules().mentions_file(name):
            return True
        if not path.startswith(self._inside):
            return True  # the .env and --watch files: the watch scope chose them, so their content matters
        if self._read is None:
            self._read = {str(p) for files in self.host.files_read().values() for p in files}
        return path in self._read

    def pick(self, folder: str, entries: list[os.DirEntry[str]]) -> list[os.DirEntry[str]]:
        """The entries of ``folder`` that ``self`` calls relevant, in order, without a call per entry.

        (A data dir of thousands of files is picked over at start-up by the content ledger and
        the catch-up rescan.)
        """
        if not (folder + os.sep).startswith(self._inside):
            return list(entries)  # outside the plugin dir: the watch scope chose them
        named = self.host.modules().mentioned_names()
        if self._read is None:  # at start-up, once per walk: gathering it costs what loading the plugins did
            self._read = {str(p) for files in self.host.files_read().values() for p in files}
        read = self._read
        if not read:
            return [e for e in entries if e.name.endswith(".py") or e.name in named]
        return [e for e in entries if e.name.endswith(".py") or e.name in named or e.path in read]

    def forget(self) -> None:
        self._read = None
