"""Observes which files in the plugin dir a plugin opens while it loads.

A plugin that reads ``configurable.json`` in its constructor depends on it:
saving that file should reload the plugin, and only that plugin. An audit hook
sees every ``open()``; it records only while the host runs a plugin's import,
constructor or ``initialize()`` (the window when configuration is read).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devnode.ownership import current_ledger

_watching: Path | None = None
_installed = False
_MODULES = (".py", ".pyc")
# Plugin dir -> (its resolved path, whether that is the dir itself), as last seen (see recording_reads).
_resolved: dict[Path, tuple[Path, bool]] = {}
# The plugin module the importer is reading right now, known to be no symlink (importer.FreshSourceLoader).
loading: str | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _watching is None or event != "open":
        return
    path = args[0] if args else None
    if loading is not None and path == loading:
        return  # the importer reading a plugin module: nothing to record, nothing to look up
    ledger = current_ledger()
    if ledger is None or not isinstance(path, (str, bytes, Path)):  # an int is a file descriptor
        return
    try:
        name = path.decode() if isinstance(path, bytes) else os.fspath(path)
        if name.endswith(_MODULES) and not os.path.islink(name):
            return  # the import reading a module (every plugin load): no resolve() for it
        resolved = Path(name).resolve()
    except (OSError, ValueError):
        return
    if resolved.is_relative_to(_watching) and resolved.suffix not in _MODULES:
        ledger.files_read.add(resolved)


@contextmanager
def recording_reads(plugin_dir: Path) -> Iterator[None]:
    """Record opens of files under ``plugin_dir`` into the current ledger."""
    global _watching, _installed
    if not _installed:
        sys.addaudithook(_audit)  # audit hooks cannot be removed; it is idle outside this block
        _installed = True
    previous, _watching = _watching, _resolve_dir(plugin_dir)
    try:
        yield
    finally:
        _watching = previous


def _resolve_dir(plugin_dir: Path) -> Path:
    """``plugin_dir.resolve()``, taken again only when the dir itself is (or was) a symlink.

    Resolving walks every component of the path (an lstat each); done for each of a
    plugin's load phases it was a large part of devnode's own start-up work per plugin.
    """
    known = _resolved.get(plugin_dir)
    if known is not None and known[1] and not os.path.islink(known[0]):
        return known[0]
    resolved = plugin_dir.resolve()
    _resolved[plugin_dir] = (resolved, resolved == plugin_dir)
    return resolved
