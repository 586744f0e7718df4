"""Decides what a batch of file changes means for the plugins; does nothing itself.

Paths and facts in, a plan out (it only refreshes the module graph's facts about the
changed modules from disk), so every rule is easy to test:
a plugin file changed -> reload it; a helper changed -> reload its importers,
with the helper executed fresh; a data file changed -> reload the plugins that
read it; new file -> load; gone -> unload; same content as before -> nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devnode.host import tree
from devnode.host.content import Signature, digest, signature
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


Relevant = Callable[[str], bool]  # a file's path, as a string (no Path object per file for the thousands that are not)


class ContentLedger:
    """Content hashes of the plugin dir's files that matter, to drop saves that changed nothing.

    Only ``relevant`` files are hashed (the reloader's rule: modules, and files a plugin
    reads or names); any other file never has its bytes read, and a change to it is
    passed on as it comes (nothing depends on it, so the plan for it is empty). Ignored
    directories (``.git``, ``node_modules``, ...) are never walked.
    """

    def __init__(
        self,
        plugin_dir: Path,
        relevant: Relevant | None = None,
        keep_dir: tree.DirFilter | None = None,
        executed: Mapping[Path, tuple[Signature | None, str]] | None = None,
    ) -> None:
        """``executed``: modules already read (the importer's stat-before-read and digest): not read again.

        Starting from what was executed rather than from the disk now also means a save made
        while the node was starting is seen by the catch-up rescan, not taken as the baseline.
        """
        self.plugin_dir = plugin_dir
        self.relevant: Relevant = relevant or (lambda path: True)
        self._hashes: dict[Path, str | None] = {}
        self._signatures: dict[Path, Signature] = {}  # the file's stat when it was hashed
        executed = executed or {}
        for entry in tree.files(plugin_dir, keep_dir):
            if not self.relevant(entry.path):
                continue  # never read, never even turned into a Path
            path = Path(entry.path)
            if path in executed:
                before, self._hashes[path] = executed[path]
                if before is not None:
                    self._signatures[path] = before
            else:
                self._record(path)

    def known(self) -> set[Path]:
        return {p for p, digest in self._hashes.items() if digest is not None}

    def changed(self, path: Path, *, trust_stat: bool = False) -> bool:
        """True when ``path``'s content (or existence) differs from last time; remembers it.

        ``trust_stat``: a file whose stat is exactly what it was when hashed counts as
        unchanged without reading it (the catch-up rescan right after start-up uses it, so
        start-up hashes each file once; a save from the watcher is always hashed).
        """
        if path not in self._hashes and not self.relevant(str(path)):
            return True
        before = self._hashes.get(path, "<unknown>")
        if trust_stat and before is not None and before != "<unknown>" and _signature(path) == self._signatures.get(path):
            return False
        return self._record(path) != before

    def _record(self, path: Path) -> str | None:
        signature = _signature(path)
        digest = _digest(path) if signature is not None else None
        self._hashes[path] = digest
        if signature is None or digest is None:
            self._signatures.pop(path, None)
        else:
            self._signatures[path] = signature
        return digest


def _signature(path: Path) -> Signature | None:
    return signature(path)


def _digest(path: Path) -> str | None:
    try:
        return digest(path.read_bytes())
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
