"""Changes outside the plugin dir: a ``--watch`` module reloads its users; the ``.env`` goes to its handler."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from devnode.host.host import PluginHost
from devnode.host.plan import Plan
from devnode.reload.external import OutsideModules, names_for_file
from devnode.reload.contents import ContentLedger
from devnode.reload.scope import IGNORE_FILES, WatchScope


class OutsideChanges:
    """Takes the outside paths out of a batch and acts on them; the plugin-dir paths go on to the planner."""

    def __init__(self, host: PluginHost, scope: WatchScope, contents: ContentLedger) -> None:
        self.host = host
        self.scope = scope
        self.contents = contents
        self.modules = OutsideModules(host.plugin_dir, host.modules(), scope.external_roots())
        # Remember the single files' content, so touching the .env does nothing. Files in --watch dirs are
        # not read up front (a big library would cost start-up): their first event always counts as a change.
        for path in scope.watched_files():
            contents.changed(path)

    async def take(self, paths: set[Path], on_env_change: Callable[[Path], Awaitable[None]] | None) -> set[Path]:
        """Handle the ``.env`` and ``--watch`` paths of ``paths``; return the plugin-dir ones."""
        self.scope.refresh_ignores(paths)
        inside: set[Path] = set()
        outside: set[Path] = set()
        for path in paths:
            if path.name in IGNORE_FILES or self.scope.ignored(path):
                continue
            kind = self.scope.kind(path)
            if kind == "env":
                if self.contents.changed(path) and on_env_change is not None:
                    await on_env_change(path)
            elif kind == "external":
                if self.contents.changed(path):
                    outside.add(path)
            elif kind == "plugin":
                inside.add(path)
        if outside:
            await self.reload_users(outside)
        return inside

    async def reload_users(self, paths: set[Path]) -> None:
        """Re-execute the changed outside modules and reload every plugin that uses them."""
        shown = {path: self._display(path) for path in paths}
        changed: dict[str, str] = {}
        for path in paths:
            for name in names_for_file(path):
                changed[name] = shown[path]
        host, graph = self.host, self.host.modules()
        users = self.modules.users(set(changed), host.known())
        for name in self.modules.to_purge(set(changed), users):
            sys.modules.pop(name, None)
        for path in paths:
            _drop_bytecode(path)
        triggers = {plugin: sorted({changed[m] for m in used}) for plugin, used in users.items()}
        # A data file outside (a shared config): the plugins whose source, or whose helpers' source, names it.
        for path in sorted(p for p in paths if p.suffix != ".py"):
            named = graph.mentioning(path.name)
            for plugin in sorted((named | graph.importers_of(named)) & host.known()):
                triggers.setdefault(plugin, []).append(shown[path])
        if not triggers:
            return
        helpers = sorted({h for p in triggers for h in graph.helper_closure(p) if graph.is_helper(h)})
        await host.apply(Plan(reload=graph.import_order(sorted(triggers)), purge=helpers, triggers=triggers))

    def _display(self, path: Path) -> str:
        for root in self.scope.external_roots():
            if path == root or path.is_relative_to(root):
                return str(path.relative_to(root.parent))
        return str(path)


def _drop_bytecode(source: Path) -> None:
    """Remove the cached ``.pyc`` of a changed outside module before it is imported again.

    Outside modules are imported by Python's own machinery, which trusts a ``.pyc`` whose recorded
    whole-second mtime and size match the source: a same-size save within that second would run the
    old code (plugin modules avoid this by compiling from source). The cache is Python's to remake.
    """
    if source.suffix != ".py":
        return
    try:
        Path(importlib.util.cache_from_source(str(source))).unlink(missing_ok=True)
    except (OSError, ValueError, NotImplementedError):
        pass  # a read-only cache dir: the mtime check is all that is left
