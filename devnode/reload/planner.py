"""Decides what a batch of file changes means for the plugins; does nothing itself.

Paths and facts in, a plan out (it only refreshes the module graph's facts about the
changed modules from disk), so every rule is easy to test:
a plugin file changed -> reload it; a helper changed -> reload its importers,
with the helper executed fresh; a data file changed -> reload the plugins that
read it; new file -> load; gone -> unload; same content as before -> nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from devnode.host.imports import ModuleGraph
from devnode.host.naming import is_candidate


@dataclass
class Plan:
    """What to do, in order: unload, then load/reload (helpers in ``purge`` re-executed first)."""

    unload: list[str] = field(default_factory=list)
    load: list[str] = field(default_factory=list)
    reload: list[str] = field(default_factory=list)
    purge: list[str] = field(default_factory=list)
    triggers: dict[str, list[str]] = field(default_factory=dict)
    helpers_gone: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.unload or self.load or self.reload or self.purge)


class ContentLedger:
    """Content hashes of the plugin dir's files, to drop saves that changed nothing."""

    def __init__(self, plugin_dir: Path) -> None:
        self.plugin_dir = plugin_dir
        self._hashes: dict[Path, str | None] = {}
        for path in plugin_dir.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                self._hashes[path] = _digest(path)

    def known(self) -> set[Path]:
        return {p for p, digest in self._hashes.items() if digest is not None}

    def changed(self, path: Path) -> bool:
        """True when ``path``'s content (or existence) differs from last time; remembers it."""
        digest = _digest(path) if path.is_file() else None
        if self._hashes.get(path, "<unknown>") == digest:
            return False
        self._hashes[path] = digest
        return True


def _digest(path: Path) -> str | None:
    try:
        return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    except OSError:
        return None


def plan_changes(
    changed_paths: Iterable[Path],
    plugin_dir: Path,
    graph: ModuleGraph,
    loaded: set[str],
    readers: dict[str, set[Path]],
) -> Plan:
    """Turn changed paths (already filtered and de-duplicated) into a Plan.

    ``loaded``: plugin names the host has a slot for; ``readers``: plugin -> data files it read.
    ``graph`` is brought up to date for the changed plugin-dir modules first (their imports may have changed).
    """
    plan = Plan()
    changed_modules: set[str] = set()
    data_files: set[Path] = set()
    why: dict[str, set[str]] = {}

    for path in changed_paths:
        rel = path.relative_to(plugin_dir)
        if rel.parts[0] == "__init__.py":
            continue
        if len(rel.parts) == 1 and is_candidate(rel.name):
            module = rel.stem
        elif len(rel.parts) > 1 and path.suffix == ".py":
            module = rel.parts[0]  # a file inside a helper package
        else:
            data_files.add(path)
            continue
        changed_modules.add(module)
        why.setdefault(module, set()).add(str(rel))
        if len(rel.parts) == 1:
            graph.update(module)  # its imports may have changed too

    def add_reason(plugin: str, reason: Iterable[str]) -> None:
        why.setdefault(plugin, set()).update(reason)

    helpers: set[str] = set()
    for module in sorted(changed_modules):
        exists = (plugin_dir / f"{module}.py").is_file() or (plugin_dir / module).is_dir()
        is_helper = graph.is_helper(module) or (plugin_dir / module).is_dir()
        if is_helper and module not in loaded:
            helpers.add(module)
            if not exists:
                plan.helpers_gone.append(module)
            continue
        if not exists:
            if module in loaded:
                plan.unload.append(module)
        elif module in loaded:
            plan.reload.append(module)
        else:
            plan.load.append(module)

    if helpers:
        plan.purge = sorted(helpers | (graph.importers_of(helpers) - loaded))
    # Whoever imports a changed module (helper or plugin) holds the old one: reload it too.
    for importer in sorted(graph.importers_of(changed_modules) & loaded):
        causes = graph.helper_closure(importer) & changed_modules
        add_reason(importer, [r for m in causes for r in why.get(m, ())])
        if importer not in plan.reload and importer not in plan.unload:
            plan.reload.append(importer)

    for path in sorted(data_files):
        shown = str(path.relative_to(plugin_dir))
        users = {p for p, files in readers.items() if path in files} | (graph.mentioning(path.name) & loaded)
        for plugin in sorted(users):
            add_reason(plugin, [shown])
            if plugin not in plan.reload and plugin not in plan.unload:
                plan.reload.append(plugin)

    plan.reload = graph.import_order(plan.reload)
    plan.load = graph.import_order(plan.load)
    plan.triggers = {p: sorted(r) for p, r in why.items() if p in {*plan.reload, *plan.load, *plan.unload}}
    return plan
