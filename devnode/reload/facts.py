"""Reads from disk what the planner needs to know about a batch of changed paths (the planner reads nothing)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from devnode.reload.planner import ChangeFacts, changed_module


def gather(changed_paths: Iterable[Path], plugin_dir: Path, refresh: Callable[[str], None]) -> ChangeFacts:
    """``refresh`` the changed top-level modules in the graph (their imports may have changed) and stat them.

    ``refresh``: ``PluginHost.refresh_module`` (or a ``ModuleGraph``'s ``update``).
    """
    files: set[str] = set()
    packages: set[str] = set()
    for path in changed_paths:
        found = changed_module(path, plugin_dir)
        if found is None:
            continue
        module, top_level = found
        if top_level:
            refresh(module)
        if (plugin_dir / f"{module}.py").is_file():
            files.add(module)
        if (plugin_dir / module).is_dir():
            packages.add(module)
    return ChangeFacts(frozenset(files), frozenset(packages))
