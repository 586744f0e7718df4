"""Observes which files in the plugin dir a plugin opens while it loads.

A plugin that reads ``configurable.json`` in its constructor depends on it:
saving that file should reload the plugin, and only that plugin. An audit hook
sees every ``open()``; it records only while the host runs a plugin's import,
constructor or ``initialize()`` (the window when configuration is read).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devnode.ownership import current_ledger

_watching: Path | None = None
_installed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _watching is None or event != "open":
        return
    ledger = current_ledger()
    path = args[0] if args else None
    if ledger is None or not isinstance(path, (str, bytes, Path)):  # an int is a file descriptor
        return
    try:
        resolved = Path(path.decode() if isinstance(path, bytes) else path).resolve()
    except (OSError, ValueError):
        return
    if resolved.is_relative_to(_watching) and resolved.suffix not in (".py", ".pyc"):
        ledger.files_read.add(resolved)


@contextmanager
def recording_reads(plugin_dir: Path) -> Iterator[None]:
    """Record opens of files under ``plugin_dir`` into the current ledger."""
    global _watching, _installed
    if not _installed:
        sys.addaudithook(_audit)  # audit hooks cannot be removed; it is idle outside this block
        _installed = True
    previous, _watching = _watching, plugin_dir.resolve()
    try:
        yield
    finally:
        _watching = previous
