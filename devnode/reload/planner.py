"""Decides what a batch of file changes means for the plugins; does nothing itself.

Pure: paths and facts in (what the disk says about the changed modules, gathered by
``reload/facts.py``, and a module graph already brought up to date), a plan out. It
reads no file and changes nothing, so every rule is easy to test:
a plugin file changed -> reload it; a helper changed -> reload its importers,
with the helper executed fresh; a data file changed -> reload the plugins that
read it; new file -> load; gone -> unload; same content as before -> nothing
(``reload/contents.py`` drops those before planning).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from devnode.host.naming import is_candidate
from devnode.host.module_facts import ModuleFacts
from devnode.host.plan import Plan




@dataclass(frozen=True)
class ChangeFacts:
    """What the disk says now about the changed modules of a batch."""

    files: frozenset[str] = frozenset()  # modules whose ``<name>.py`` is a file
    packages: frozenset[str] = frozenset()  # modules that are a directory (a helper package)


def changed_module(path: Path, plugin_dir: Path) -> tuple[str, bool] | None:
    """(module, whether ``path`` is the module's own top-level file) for a module path; None for data files."""
    rel = path.relative_to(plugin_dir)
    if rel.parts[0] == "__init__.py":
        return None
    if len(rel.parts) == 1 and is_candidate(rel.name):
        return rel.stem, True
    if len(rel.parts) > 1 and path.suffix == ".py":
        return rel.parts[0], False  # a file inside a helper package
    return None


def plan_changes(
    changed_paths: Iterable[Path],
    plugin_dir: Path,
    graph: ModuleFacts,
    loaded: set[str],
    readers: Mapping[str, set[Path]],
    facts: ChangeFacts,
) -> Plan:
    """Turn changed paths (already filtered and de-duplicated) into a Plan.

    ``loaded``: plugin names the host has a slot for; ``readers``: plugin -> data files it read.
    ``graph`` already knows the changed modules' new imports, and ``facts`` what exists now
    (``reload/facts.gather`` reads both from disk).
    """
    plan = Plan()
    changed_modules: set[str] = set()
    data_files: set[Path] = set()
    why: dict[str, set[str]] = {}

    for path in changed_paths:
        rel = path.relative_to(plugin_dir)
        if rel.parts[0] == "__init__.py":
            continue
        found = changed_module(path, plugin_dir)
        if found is None:
            data_files.add(path)
            continue
        changed_modules.add(found[0])
        why.setdefault(found[0], set()).add(str(rel))

    def add_reason(plugin: str, reason: Iterable[str]) -> None:
        why.setdefault(plugin, set()).update(reason)

    helpers: set[str] = set()
    for module in sorted(changed_modules):
        exists = module in facts.files or module in facts.packages
        is_helper = graph.is_helper(module) or module in facts.packages
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
