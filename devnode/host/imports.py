"""Static facts about the modules in a plugin dir: which sibling modules each imports,
and which file names each mentions. Pure functions over source text, easy to test."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

from devnode.host.naming import PACKAGE, expected_class_name, is_private_helper


@lru_cache(maxsize=16)
def parse_source(source: str) -> ast.Module | None:
    """The syntax tree of ``source`` (None if it does not parse), parsed once for all the facts read from it.

    Shared and cached: callers only read the tree, never change it.
    """
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def sibling_imports(source: str, module_name: str) -> set[str]:
    """Names of plugin-dir modules that ``module_name``'s source imports (any form, any depth)."""
    tree = parse_source(source)
    if tree is None:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE and len(parts) > 1:
                    found.add(parts[1])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                parts = node.module.split(".")
                if parts[0] != PACKAGE:
                    continue
                if len(parts) > 1:
                    found.add(parts[1])
                else:  # from plugins import x, y
                    found.update(a.name for a in node.names)
            elif node.level == 1:  # from . import x / from .x import y
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(a.name for a in node.names)
    found.discard(module_name)
    return found


def defines_class(source: str, class_name: str) -> bool:
    """Whether the module defines ``class_name`` at top level (without running it)."""
    tree = parse_source(source)
    if tree is None:
        return False
    return any(isinstance(n, ast.ClassDef) and n.name == class_name for n in tree.body)


def mentioned_files(source: str) -> set[str]:
    """String literals that look like file names (``'configurable.json'``)."""
    tree = parse_source(source)
    if tree is None:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if 0 < len(text) < 200 and "." in text and "\n" not in text and " " not in text:
                names.add(Path(text).name)
    return names


def read_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


class ModuleGraph:
    """Who imports whom among the modules of one plugin dir, rebuilt from disk on demand."""

    def __init__(self, plugin_dir: Path) -> None:
        self.plugin_dir = plugin_dir
        self.imports: dict[str, set[str]] = {}
        self.mentions: dict[str, set[str]] = {}
        self.has_plugin_class: dict[str, bool] = {}
        self.refresh()

    def refresh(self) -> None:
        self.imports.clear()
        self.mentions.clear()
        self.has_plugin_class.clear()
        for path in sorted(self.plugin_dir.glob("*.py")):
            if path.stem != "__init__":
                self.update(path.stem)

    def update(self, name: str) -> None:
        path = self.plugin_dir / f"{name}.py"
        if path.is_file():
            source = read_source(path)
            self.imports[name] = sibling_imports(source, name)
            self.mentions[name] = mentioned_files(source)
            self.has_plugin_class[name] = defines_class(source, expected_class_name(name))
        else:
            self.imports.pop(name, None)
            self.mentions.pop(name, None)
            self.has_plugin_class.pop(name, None)

    def imported_by_others(self, name: str) -> bool:
        return any(name in deps for mod, deps in self.imports.items() if mod != name)

    def is_helper(self, name: str) -> bool:
        """``_x.py`` always; otherwise a module other modules import that defines no plugin class."""
        if is_private_helper(name):
            return True
        return self.imported_by_others(name) and not self.has_plugin_class.get(name, False)

    def importers_of(self, changed: set[str]) -> set[str]:
        """Every module that imports one of ``changed``, directly or through other modules."""
        result: set[str] = set()
        frontier = set(changed)
        while frontier:
            nxt = {m for m, deps in self.imports.items() if deps & frontier and m not in result}
            result |= nxt
            frontier = nxt - changed
        return result - changed

    def helper_closure(self, module: str) -> set[str]:
        """The sibling modules ``module`` needs, transitively."""
        seen: set[str] = set()
        stack = list(self.imports.get(module, ()))
        while stack:
            dep = stack.pop()
            if dep in seen:
                continue
            seen.add(dep)
            stack.extend(self.imports.get(dep, ()))
        seen.discard(module)
        return seen

    def import_order(self, names: list[str]) -> list[str]:
        """``names`` with every module after the modules it imports (then by name)."""
        pending = sorted(set(names))
        placed: list[str] = []
        while pending:
            ready = [n for n in pending if not (self.helper_closure(n) & set(pending) - {n})] or pending[:1]
            placed.append(ready[0])
            pending.remove(ready[0])
        return placed

    def mentioning(self, filename: str) -> set[str]:
        return {m for m, names in self.mentions.items() if filename in names}
