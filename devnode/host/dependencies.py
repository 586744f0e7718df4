"""Third-party imports a plugin makes that no requirements.txt or pyproject.toml declares.

devnode runs in the developer's environment, where a package may be installed by
chance; the production node only has what the plugin's project declares. Pure
functions over source text and the declaration files, plus one ParityWarning.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from devnode.compat import ALIASES, PARENTS
from devnode.host import tree
from devnode.host.diagnostics import DISTRIBUTIONS
from devnode.host.imports import third_party_imports
from devnode.host.naming import PACKAGE
from devnode.host.parity import ParityWarning

__all__ = ["check_module", "check_tree", "declared_distributions", "third_party_imports", "undeclared_imports"]

# Provided to plugins by the node itself (devnode stands in for them).
NODE_PROVIDED = {name.split(".")[0] for name in [*ALIASES, *PARENTS]}
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


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
    import tomllib  # read only when a plugin has an import a declaration could cover

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
    from importlib.metadata import packages_distributions  # slow to import and to run: only when asked

    return {k: tuple(v) for k, v in packages_distributions().items()}


def distributions_for(import_name: str) -> set[str]:
    """The normalized project names that could provide ``import_name``."""
    candidates = {normalize(import_name)}
    candidates |= {normalize(d) for d in _installed_providers().get(import_name, ())}
    if import_name in DISTRIBUTIONS:
        candidates.add(normalize(DISTRIBUTIONS[import_name]))
    return candidates


def is_local_module(name: str, plugin_dir: Path) -> bool:
    """Whether ``name`` is importable from the plugin dir itself (a sibling module, a helper package, the package).

    Two stats instead of a listing: a plugin's load (and reload) costs the same however
    many siblings it has (listing the dir per load made start-up quadratic in plugins).
    """
    if name == PACKAGE:
        return True
    return (plugin_dir / f"{name}.py").exists() or (plugin_dir / name / "__init__.py").is_file()


def _unprovided(imports: dict[str, int], plugin_dir: Path) -> dict[str, int]:
    """The imports that neither the stdlib, the node nor the plugin dir itself provides."""
    return {
        name: line
        for name, line in imports.items()
        if name not in sys.stdlib_module_names and name not in NODE_PROVIDED and name != "__future__"
        and not is_local_module(name, plugin_dir)
    }


def undeclared_imports(source: str, plugin_dir: Path, declared: set[str] | None = None) -> dict[str, int]:
    """Imports in ``source`` that are neither stdlib, the node's, plugin-dir modules, nor declared.

    ``declared``: ``declared_distributions(plugin_dir)``'s names, when the caller has read them already.
    """
    candidates = _unprovided(third_party_imports(source), plugin_dir)
    if candidates and declared is None:
        declared, _ = declared_distributions(plugin_dir)
    return {name: line for name, line in candidates.items() if not distributions_for(name) & (declared or set())}


def check_module(
    module_name: str, file: Path, plugin_dir: Path, imports: dict[str, int] | None = None
) -> list[ParityWarning]:
    """At most one warning per file, naming every undeclared import in it.

    ``imports``: ``third_party_imports`` of the file, when the caller has them (the module graph does).
    The declaration files are read only when an import is left that they could declare.
    """
    if imports is None:
        try:
            imports = third_party_imports(file.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return []
    candidates = _unprovided(imports, plugin_dir)
    if not candidates:
        return []
    declared, files = declared_distributions(plugin_dir)
    missing = {name: line for name, line in candidates.items() if not distributions_for(name) & declared}
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
    for file in sorted(Path(e.path) for e in tree.files(plugin_dir) if e.name.endswith(".py")):
        parts = file.relative_to(plugin_dir).with_suffix("").parts
        if "__pycache__" in parts or any(p.startswith(".") for p in parts):
            continue
        module = ".".join(p for p in parts if p != "__init__") or PACKAGE
        warnings += check_module(module, file, plugin_dir)
    return warnings
