"""How the production node names and finds plugins (UPSTREAM.md), as pure functions."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = "plugins"  # production imports every plugin as plugins.<module>, whatever the dir is called


def expected_class_name(module_name: str) -> str:
    """``audit_plugin`` -> ``Audit_pluginPlugin``: production's ``capitalize() + "Plugin"``."""
    return module_name.capitalize() + "Plugin"


def is_candidate(filename: str) -> bool:
    """Production treats every ``*.py`` not starting with ``__`` as a plugin."""
    return filename.endswith(".py") and not filename.startswith("__")


def is_private_helper(module_name: str) -> bool:
    """``_common.py``: devnode treats it as a helper; production would try to load it."""
    return module_name.startswith("_")


def candidate_modules(plugin_dir: Path) -> list[str]:
    """Module names production would try to load, in sorted order (production's is arbitrary)."""
    try:
        names = os.listdir(plugin_dir)
    except OSError:
        return []
    folder = str(plugin_dir)  # plain strings: this runs over every file of the dir
    return sorted(n[:-3] for n in names if is_candidate(n) and os.path.isfile(os.path.join(folder, n)))


def module_path(plugin_dir: Path, module_name: str) -> Path:
    return plugin_dir / f"{module_name}.py"
