"""Static facts about the modules in a plugin dir: which sibling modules each imports,
which third-party names, and which file names each mentions. Pure functions over source text, easy to test."""

from __future__ import annotations

import ast
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from devnode.host import content
from devnode.host.content import Signature
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


@dataclass(frozen=True)
class SourceFacts:
    """What the module graph and the dependency check read from one source, in one pass over its tree."""

    siblings: frozenset[str]  # plugin-dir modules imported (any form, any depth), before removing the module itself
    mentioned: frozenset[str]  # file names in string literals
    classes: frozenset[str]  # top-level class names
    third_party: tuple[tuple[str, int], ...]  # absolute imports that matter at run time, with their first line


_FACT_KINDS = frozenset({ast.Import, ast.ImportFrom, ast.Constant, ast.If, ast.Try})


@lru_cache(maxsize=16)
def source_facts(source: str) -> SourceFacts | None:
    """``SourceFacts`` of ``source``, or None if it does not parse. One walk of the tree for all of them."""
    tree = parse_source(source)
    if tree is None:
        return None
    siblings: set[str] = set()
    mentioned: set[str] = set()
    imports: list[ast.Import | ast.ImportFrom] = []
    guarded: list[ast.stmt] = []  # statements whose imports are optional or type-only
    for node in _nodes(tree):
        if node.__class__ not in _FACT_KINDS:  # the parser makes exact types: one look-up, not five isinstance
            continue
        if isinstance(node, ast.Import):
            imports.append(node)
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE and len(parts) > 1:
                    siblings.add(parts[1])
        elif isinstance(node, ast.ImportFrom):
            imports.append(node)
            if node.level == 0 and node.module:
                parts = node.module.split(".")
                if parts[0] != PACKAGE:
                    continue
                if len(parts) > 1:
                    siblings.add(parts[1])
                else:  # from plugins import x, y
                    siblings.update(a.name for a in node.names)
            elif node.level == 1:  # from . import x / from .x import y
                if node.module:
                    siblings.add(node.module.split(".")[0])
                else:
                    siblings.update(a.name for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if 0 < len(text) < 200 and "." in text and "\n" not in text and " " not in text:
                mentioned.add(Path(text).name)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            guarded += node.body
        elif isinstance(node, ast.Try) and _handles_import_error(node):
            guarded += node.body
    skipped = {id(n) for stmt in guarded for n in _nodes(stmt) if isinstance(n, (ast.Import, ast.ImportFrom))}
    third_party: dict[str, int] = {}
    for imp in imports:
        if id(imp) in skipped:
            continue
        if isinstance(imp, ast.Import):
            names = [alias.name.split(".")[0] for alias in imp.names]
        elif imp.level == 0 and imp.module:
            names = [imp.module.split(".")[0]]
        else:
            continue
        for name in names:
            third_party[name] = min(third_party.get(name, imp.lineno), imp.lineno)
    classes = frozenset(n.name for n in tree.body if isinstance(n, ast.ClassDef))
    return SourceFacts(frozenset(siblings), frozenset(mentioned), classes, tuple(third_party.items()))


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}  # node type -> the fields that may hold nodes (``ctx`` never matters)


def _nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node under ``tree`` (itself included) except the ``Load``/``Store`` contexts, in no particular order.

    What ``ast.walk`` yields, read straight from each node's fields: ``ast.walk``'s
    generators per node cost more than parsing the source did, for each plugin at start-up.
    """
    found: list[ast.AST] = []
    stack = [tree]
    pop, push, append, node_type, child_fields = stack.pop, stack.append, found.append, ast.AST, _CHILD_FIELDS
    while stack:
        node = pop()
        append(node)
        kind = node.__class__
        fields = child_fields.get(kind)
        if fields is None:
            fields = child_fields[kind] = tuple(f for f in kind._fields if f != "ctx")
        values = node.__dict__
        for name in fields:
            value = values.get(name)
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, node_type):
                        push(item)
            elif isinstance(value, node_type):
                push(value)
    return found


def sibling_imports(source: str, module_name: str) -> set[str]:
    """Names of plugin-dir modules that ``module_name``'s source imports (any form, any depth)."""
    facts = source_facts(source)
    return set() if facts is None else set(facts.siblings - {module_name})


def defines_class(source: str, class_name: str) -> bool:
    """Whether the module defines ``class_name`` at top level (without running it)."""
    facts = source_facts(source)
    return facts is not None and class_name in facts.classes


def mentioned_files(source: str) -> set[str]:
    """String literals that look like file names (``'configurable.json'``)."""
    facts = source_facts(source)
    return set() if facts is None else set(facts.mentioned)


def third_party_imports(source: str) -> dict[str, int]:
    """Top-level names of absolute imports that matter at run time -> first line.

    Skipped: relative imports, ``if TYPE_CHECKING:`` blocks and imports inside a
    ``try`` that handles ImportError (optional dependencies).
    """
    facts = source_facts(source)
    return {} if facts is None else dict(facts.third_party)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _handles_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if handler.type is None or any(
            isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError", "Exception") for n in names
        ):
            return True
    return False


def read_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


class ModuleGraph:
    """Who imports whom among the modules of one plugin dir, rebuilt from disk on demand.

    Each module's source is parsed once per distinct content: ``update`` re-reads the
    file and skips the parse when the content is what was parsed before (the host calls
    it on every load, right after ``refresh`` has parsed every module at start). Reverse
    indexes keep "who imports X" and "who mentions file F" independent of the module count.
    """

    def __init__(self, plugin_dir: Path, executed: Mapping[str, tuple[Signature | None, str]] | None = None) -> None:
        """``executed``: the importer's record of what it ran (stat before reading, digest of the bytes).

        Right after an import, a module whose executed bytes are the ones its facts come from
        is not read again (a second read of every plugin at start-up).
        """
        self.plugin_dir = plugin_dir
        self._dir = str(plugin_dir)
        self._executed = executed
        self._checked: dict[str, object] = {}  # module -> the importer's record update() last took as read
        self.imports: dict[str, set[str]] = {}
        self.mentions: dict[str, set[str]] = {}
        self.has_plugin_class: dict[str, bool] = {}
        self.third_party: dict[str, dict[str, int]] = {}  # absolute imports -> first line (dependencies.py)
        self._importers: dict[str, set[str]] = {}  # module -> the modules importing it
        self._mentioned_by: dict[str, set[str]] = {}  # file name -> the modules naming it
        self._digests: dict[str, str] = {}  # module -> digest of the source its facts come from
        self.refresh()

    def refresh(self) -> None:
        for name in list(self.imports):
            self._forget(name)
        try:
            names = os.listdir(self._dir)
        except OSError:
            names = []
        # What ``sorted(plugin_dir.glob("*.py"))`` gives, by stem, as plain strings (no path object per module).
        for stem in sorted(os.path.splitext(n)[0] for n in names if n.endswith(".py")):
            if stem != "__init__":
                self.update(stem)

    def update(self, name: str) -> None:
        path = os.path.join(self._dir, name + ".py")
        ran = self._executed.get(path) if self._executed is not None else None
        if ran is not None and ran is not self._checked.get(name):  # each import's record is taken once
            self._checked[name] = ran
            if ran[1] == self._digests.get(name):
                return  # the importer just ran the very bytes these facts come from
        data = content.read_regular(path)
        if data is None:
            self._forget(name)
            return
        self._learn(name, data.decode("utf-8", "replace"), content.digest(data))

    def learn(self, name: str, source: str) -> None:
        """Take module ``name``'s imports and mentioned files from ``source`` (``update`` reads it from disk)."""
        self._learn(name, source, content.digest(source.encode("utf-8", "surrogateescape")))

    def _learn(self, name: str, source: str, digest: str) -> None:
        if self._digests.get(name) == digest:
            return  # the facts already come from this content
        self._forget(name)
        self._digests[name] = digest
        self.imports[name] = sibling_imports(source, name)
        self.mentions[name] = mentioned_files(source)
        self.has_plugin_class[name] = defines_class(source, expected_class_name(name))
        self.third_party[name] = third_party_imports(source)
        for dep in self.imports[name]:
            self._importers.setdefault(dep, set()).add(name)
        for filename in self.mentions[name]:
            self._mentioned_by.setdefault(filename, set()).add(name)

    def _forget(self, name: str) -> None:
        for dep in self.imports.pop(name, ()):
            self._discard(self._importers, dep, name)
        for filename in self.mentions.pop(name, ()):
            self._discard(self._mentioned_by, filename, name)
        self.has_plugin_class.pop(name, None)
        self.third_party.pop(name, None)
        self._digests.pop(name, None)

    @staticmethod
    def _discard(index: dict[str, set[str]], key: str, name: str) -> None:
        users = index.get(key)
        if users is not None:
            users.discard(name)
            if not users:
                del index[key]

    def imported_by_others(self, name: str) -> bool:
        return any(m != name for m in self._importers.get(name, ()))

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
            nxt = {m for dep in frontier for m in self._importers.get(dep, ()) if m not in result}
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

    def mentions_file(self, filename: str) -> bool:
        """Whether any module's source names ``filename`` (a string literal ending in it)."""
        return filename in self._mentioned_by

    def mentioned_names(self) -> Collection[str]:
        """Every file name some module's source names (``mentions_file`` for many names at once)."""
        return self._mentioned_by.keys()

    def mentioning(self, filename: str) -> set[str]:
        return set(self._mentioned_by.get(filename, ()))
