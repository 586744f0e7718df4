"""Modules outside the plugin dir (``--watch`` paths): which plugins use a changed one, and what to re-execute.

A plugin uses an outside module when its source, or a plugin-dir helper it imports,
or an outside module in the watch scope it uses, imports it (static imports, read
from the source, so a module whose last import failed is still found by name).
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from devnode.host.imports import parse_source, read_source
from devnode.host.module_facts import ModuleFacts
from devnode.host.naming import PACKAGE


def absolute_imports(source: str, package: str | None = None) -> set[str]:
    """Dotted names of the non-plugin modules ``source`` imports (``from a import b`` gives ``a`` and ``a.b``).

    ``package`` resolves relative imports of an outside module (``from . import util`` in ``mylib``).
    """
    tree = parse_source(source)
    if tree is None:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if package is None:
                    continue  # a plugin's relative import is a plugin-dir sibling, not an outside module
                parts = package.split(".")
                base_parts = parts[: len(parts) - node.level + 1]
                if not base_parts:
                    continue
                base = ".".join(base_parts + ([node.module] if node.module else []))
            elif node.module:
                base = node.module
            else:
                continue
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return {n for n in found if n.split(".")[0] != PACKAGE}


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


def module_file(name: str) -> Path | None:
    """The source file of module ``name``: the loaded module's, else found on sys.path without importing it."""
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None) if module is not None else None
    if isinstance(file, str):
        return Path(os.path.realpath(file))
    parts = name.split(".")
    for entry in sys.path:
        base = Path(entry or ".").joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return Path(os.path.realpath(candidate))
    return None


def names_for_file(path: Path) -> set[str]:
    """The module names ``path`` is (or would be) imported as: loaded modules with that file, names on sys.path."""
    real = Path(os.path.realpath(path))
    names = set()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and os.path.realpath(file) == str(real):
            names.add(name)
    for entry in sys.path:
        base = Path(os.path.realpath(entry or "."))
        if real.suffix == ".py" and real.is_relative_to(base):
            parts = list(real.relative_to(base).with_suffix("").parts)
            if parts and parts[-1] == "__init__":
                parts.pop()
            if parts and all(p.isidentifier() for p in parts):
                names.add(".".join(parts))
    return names


def _package_of(name: str, file: Path) -> str:
    return name if file.name == "__init__.py" else name.rpartition(".")[0]


class OutsideModules:
    """Answers: which plugins use these outside modules, and which loaded outside modules must run again."""

    def __init__(self, plugin_dir: Path, graph: ModuleFacts, roots: Iterable[Path]) -> None:
        self.plugin_dir = plugin_dir
        self.graph = graph
        self.roots = [Path(os.path.realpath(r)) for r in roots]

    def plugin_sources(self, plugin: str) -> list[Path]:
        """The plugin's file and the plugin-dir helpers it imports (a helper package's every file)."""
        paths = [self.plugin_dir / f"{plugin}.py"]
        for helper in sorted(self.graph.helper_closure(plugin)):
            package = self.plugin_dir / helper
            paths += sorted(package.rglob("*.py")) if package.is_dir() else [self.plugin_dir / f"{helper}.py"]
        return paths

    def closure(self, plugin: str) -> set[str]:
        """Every outside module the plugin uses, following modules inside the watch scope."""
        pending = [name for path in self.plugin_sources(plugin) for name in absolute_imports(read_source(path))]
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            file = module_file(name)
            if file is not None and _inside(file, self.roots):
                pending += absolute_imports(read_source(file), _package_of(name, file))
        return seen

    def users(self, changed: set[str], plugins: Iterable[str]) -> dict[str, set[str]]:
        """plugin -> the changed module names it uses."""
        found: dict[str, set[str]] = {}
        for plugin in plugins:
            used = self.closure(plugin) & changed
            if used:
                found[plugin] = used
        return found

    def to_purge(self, changed: set[str], plugins: Iterable[str]) -> list[str]:
        """The loaded outside modules in the scope that the plugins use, and the changed ones: all run again."""
        used = set(changed)
        for plugin in plugins:
            used |= self.closure(plugin)
        purge = []
        for name in sorted(used):
            module = sys.modules.get(name)
            file = getattr(module, "__file__", None) if module is not None else None
            if name in changed or (isinstance(file, str) and _inside(Path(os.path.realpath(file)), self.roots)):
                purge.append(name)
        return purge
