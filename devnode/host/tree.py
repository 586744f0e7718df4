"""Walks a plugin dir the way the watcher sees it: never into ignored dirs (``.git``, ``node_modules``, ...).

A plugin dir inside a project may hold a ``.git`` with a pack of hundreds of
megabytes or a virtualenv; start-up walks the tree a few times (content hashes,
the catch-up rescan, outside symlinks), so every walk prunes what the watcher
ignores instead of listing it and filtering afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from watchfiles import DefaultFilter

# The directories watchfiles' default filter ignores anywhere in a path (the watcher's filter builds on it).
IGNORED_DIRS = frozenset(DefaultFilter.ignore_dirs)

DirFilter = Callable[[str], bool]  # full path of a directory -> descend into it?


def walk(root: Path, keep_dir: DirFilter | None = None) -> Iterator[tuple[str, list[os.DirEntry[str]]]]:
    """``(folder, entries)`` for ``root`` and every directory below it that is not ignored.

    Ignored: the names in ``IGNORED_DIRS``, whatever ``keep_dir`` refuses, and symlinked
    directories (not followed, as ``os.walk`` does not). Unreadable directories are skipped.
    """
    pending = [str(root)]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)  # in the directory's own order: sorting thousands of data files costs
        except OSError:
            continue
        yield folder, entries
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir and entry.name not in IGNORED_DIRS and (keep_dir is None or keep_dir(entry.path)):
                pending.append(entry.path)


def files(root: Path, keep_dir: DirFilter | None = None) -> Iterator[os.DirEntry[str]]:
    """Every regular file (or symlink to one) under ``root``, outside ignored directories."""
    for _, entries in walk(root, keep_dir):
        for entry in entries:
            try:
                if entry.is_file():
                    yield entry
            except OSError:
                continue
