"""Third-party imports a plugin makes that no requirements.txt or pyproject.toml declares.

devnode runs in the developer's environment, where a package may be installed by
chance; the production node only has what the plugin's project declares. Pure
functions over source text and the declaration files, plus one ParityWarning.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterable
from functools import lru_cache
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

from devnode.compat import ALIASES, PARENTS
from devnode.host.diagnostics import DISTRIBUTIONS
from devnode.host.imports import parse_source
from devnode.host.naming import PACKAGE
from devnode.host.parity import ParityWarning

# Provided to plugins by the node itself (devnode stands in for them).
NODE_PROVIDED = {name.split(".")[0] for name in [*ALIASES, *PARENTS]}
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def third_party_imports(source: str) -> dict[str, int]:
    """Top-level names of absolute imports that matter at run time -> first line seen.

    Skipped: relative imports, ``if TYPE_CHECKING:`` blocks and imports inside a
    ``try`` that handles ImportError (optional dependencies).
    """
    tree = parse_source(source)
    if tree is None:
        return {}
    found: dict[str, int] = {}
    for node, guarded in _walk(tree, False):
        if guarded:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.setdefault(alias.name.split(".")[0], node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.setdefault(node.module.split(".")[0], node.lineno)
    return found


def _walk(node: ast.AST, guarded: bool) -> Iterable[tuple[ast.AST, bool]]:
    yield node, guarded
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        for child in node.orelse:
            yield from _walk(child, guarded)
        return
    if isinstance(node, ast.Try) and _handles_import_error(node):
        for child in node.body:
            yield from _walk(child, True)
        rest: list[ast.AST] = [*node.handlers, *node.orelse, *node.finalbody]
        for other in rest:
            yield from _walk(other, guarded)
        return
    for any_child in ast.iter_child_nodes(node):
        yield from _walk(any_child, guarded)


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


def normalize(distribution: str) -> str:
    """PEP 503 name normalization: ``Python_Dotenv`` and ``python-dotenv`` are one project."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def declared_distributions(plugin_dir: Path) -> tuple[set[str], list[Path]]:
    """Normalized project names declared beside the plugin dir or in its parent, and the files read."""
    names: set[str] = set()
    files: list[Path] = []
    for directory in (plugin_dir, plugin_dir.parent):
        requirements = directory / "requirements.txt"
        if requirements.is_file():
            files.append(requirements)
            names |= _requirements(requirements, set())
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            files.append(pyproject)
            names |= _pyproject(pyproject)
    return names, files


def _requirements(path: Path, seen: set[Path]) -> set[str]:
    if path in seen or not path.is_file():
        return set()
    seen.add(path)
    names: set[str] = set()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return names
    for raw in text.splitlines():
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            names |= _requirements(path.parent / line.split(None, 1)[1].strip(), seen)
            continue
        if line.startswith("-e ") or "#egg=" in line:
            egg = line.split("#egg=", 1)[1] if "#egg=" in line else ""
            if egg:
                names.add(normalize(egg.split("&")[0]))
            continue
        if line.startswith("-"):
            continue
        match = _NAME.match(line)
        if match:
            names.add(normalize(match.group(1)))
    return names


def _pyproject(path: Path) -> set[str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return set()
    # The author's file, not ours: a table or array of another shape than the standards say is skipped.
    project = _table(data, "project")
    specs: list[Any] = _array(project, "dependencies")
    for groups in (_table(project, "optional-dependencies"), _table(data, "dependency-groups")):
        for group in groups:
            specs += _array(groups, group)  # dependency-groups may also hold {include-group = ...}: skipped below
    specs += [name for name in _table(_table(_table(data, "tool"), "poetry"), "dependencies") if name != "python"]
    names = {normalize(m.group(1)) for s in specs if isinstance(s, str) and (m := _NAME.match(s))}
    if isinstance(project.get("name"), str):
        names.add(normalize(project["name"]))  # the project itself
    return names


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _array(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return list(value) if isinstance(value, list) else []


@lru_cache(maxsize=1)
def _installed_providers() -> dict[str, tuple[str, ...]]:
    """Import name -> installed distributions providing it (``yaml`` -> ``PyYAML``)."""
    return {k: tuple(v) for k, v in packages_distributions().items()}


def distributions_for(import_name: str) -> set[str]:
    """The normalized project names that could provide ``import_name``."""
    candidates = {normalize(import_name)}
    candidates |= {normalize(d) for d in _installed_providers().get(import_name, ())}
    if import_name in DISTRIBUTIONS:
        candidates.add(normalize(DISTRIBUTIONS[import_name]))
    return candidates


def local_modules(plugin_dir: Path) -> set[str]:
    """Names importable from the plugin dir itself (siblings, helper packages) and the package name."""
    names = {PACKAGE}
    for entry in plugin_dir.iterdir() if plugin_dir.is_dir() else ():
        if entry.suffix == ".py":
            names.add(entry.stem)
        elif entry.is_dir() and (entry / "__init__.py").is_file():
            names.add(entry.name)
    return names


def undeclared_imports(source: str, plugin_dir: Path, declared: set[str] | None = None) -> dict[str, int]:
    """Imports in ``source`` that are neither stdlib, the node's, plugin-dir modules, nor declared.

    ``declared``: ``declared_distributions(plugin_dir)``'s names, when the caller has read them already.
    """
    if declared is None:
        declared, _ = declared_distributions(plugin_dir)
    local = local_modules(plugin_dir)
    missing: dict[str, int] = {}
    for name, line in third_party_imports(source).items():
        if name in sys.stdlib_module_names or name in NODE_PROVIDED or name in local or name == "__future__":
            continue
        if distributions_for(name) & declared:
            continue
        missing[name] = line
    return missing


def check_module(module_name: str, file: Path, plugin_dir: Path) -> list[ParityWarning]:
    """At most one warning per file, naming every undeclared import in it."""
    try:
        source = file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    declared, files = declared_distributions(plugin_dir)
    missing = undeclared_imports(source, plugin_dir, declared)
    if not missing:
        return []
    listed = ", ".join(f"{name} (line {line})" for name, line in sorted(missing.items(), key=lambda kv: kv[1]))
    where = " or ".join(str(f) for f in files) if files else f"a requirements.txt in {plugin_dir} or its parent"
    installs = " ".join(sorted(DISTRIBUTIONS.get(name, name) for name in missing))
    return [
        ParityWarning(
            "undeclared-import",
            module_name,
            f"{file.name} imports {listed}, which no requirements.txt or pyproject.toml declares: whatever is "
            f"installed here, a production node set up from those files would fail with ModuleNotFoundError. "
            f"Declare it in {where} (e.g. add: {installs}).",
            str(file),
        )
    ]


def check_tree(plugin_dir: Path) -> list[ParityWarning]:
    """``check_module`` for every module under the plugin dir: plugins and helpers alike."""
    warnings: list[ParityWarning] = []
    for file in sorted(plugin_dir.rglob("*.py")):
        parts = file.relative_to(plugin_dir).with_suffix("").parts
        if "__pycache__" in parts or any(p.startswith(".") for p in parts):
            continue
        module = ".".join(p for p in parts if p != "__init__") or PACKAGE
        warnings += check_module(module, file, plugin_dir)
    return warnings
