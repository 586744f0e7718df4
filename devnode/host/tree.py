"""Walks a plugin dir the way the watcher sees it: never into ignored dirs (``.git``, ``node_modules``, ...).

A plugin dir inside a project may hold a ``.git`` with a pack of hundreds of
megabytes or a virtualenv; start-up walks the tree a few times (content hashes,
the catch-up rescan, outside symlinks), so every walk prunes what the watcher
ignores instead of listing it and filtering afterwards.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from watchfiles import DefaultFilter

# The directories watchfiles' default filter ignores anywhere in a path (the watcher's filter builds on it).
IGNORED_DIRS = frozenset(DefaultFilter.ignore_dirs)

DirFilter = Callable[[str], bool]  # full path of a directory -> descend into it?


# A listing is trusted again only if the directory had not changed for this long when it was taken: a change
# within the same tick of the file system's clock as the listing could leave the directory's ctime as it was.
SETTLED_NS = 2_000_000_000


@dataclass(frozen=True)
class Listing:
    """One directory's entries, in its own order, with its sub-directories and symlinks picked out once."""

    entries: list[os.DirEntry[str]]
    subdirs: list[os.DirEntry[str]]  # real directories (symlinked ones are not followed)
    links: list[os.DirEntry[str]]

    @classmethod
    def of(cls, folder: str) -> Listing:
        """List ``folder`` (OSError if it cannot be)."""
        with os.scandir(folder) as listing:
            entries = list(listing)  # unsorted: sorting thousands of data files costs
        subdirs, links = [], []
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry)
                elif entry.is_symlink():
                    links.append(entry)
            except OSError:
                continue
        return cls(entries, subdirs, links)


class Listings:
    """Directory listings, reused while a directory provably has not changed since it was listed.

    Start-up walks the plugin dir three times (the symlink check, the content ledger, the
    catch-up rescan), so a data dir of thousands of files was listed three times. A
    directory's ctime moves whenever an entry is added, removed or renamed in it (and on
    any change of its metadata; unlike the mtime it cannot be set back), so a listing is
    reused only while the directory's inode, device and ctime are what they were, and only
    if that ctime was already settled when the listing was taken. A directory holding
    symlinks is listed again each time: a link's target can change without the directory.
    """

    def __init__(self) -> None:
        self._kept: dict[str, tuple[tuple[int, int, int], Listing]] = {}

    def listing(self, folder: str) -> Listing:
        """``Listing.of(folder)``, or the one taken before if the folder provably did not change since."""
        st = os.stat(folder)  # before listing: a change during the listing shows as a newer ctime next time
        identity = (st.st_ino, st.st_dev, st.st_ctime_ns)
        kept = self._kept.get(folder)
        if kept is not None and kept[0] == identity:
            return kept[1]
        listed_at = time.time_ns()
        listing = Listing.of(folder)
        if st.st_ctime_ns < listed_at - SETTLED_NS and not listing.links:
            self._kept[folder] = (identity, listing)
        else:
            self._kept.pop(folder, None)
        return listing

    def clear(self) -> None:
        self._kept.clear()


def listings_under(
    root: Path, keep_dir: DirFilter | None = None, listings: Listings | None = None
) -> Iterator[tuple[str, Listing]]:
    """``(folder, listing)`` for ``root`` and every directory below it that is not ignored.

    Ignored: the names in ``IGNORED_DIRS``, whatever ``keep_dir`` refuses, and symlinked
    directories (not followed, as ``os.walk`` does not). Unreadable directories are skipped.
    ``listings``: reuse the listings of directories that did not change since (see ``Listings``).
    """
    pending = [str(root)]
    while pending:
        folder = pending.pop()
        try:
            listing = listings.listing(folder) if listings is not None else Listing.of(folder)
        except OSError:
            continue
        yield folder, listing
        for entry in listing.subdirs:
            if entry.name not in IGNORED_DIRS and (keep_dir is None or keep_dir(entry.path)):
                pending.append(entry.path)


def walk(root: Path, keep_dir: DirFilter | None = None) -> Iterator[tuple[str, list[os.DirEntry[str]]]]:
    """``(folder, entries)`` of ``listings_under``."""
    for folder, listing in listings_under(root, keep_dir):
        yield folder, listing.entries


def is_file(entry: os.DirEntry[str]) -> bool:
    """A regular file, or a symlink to one (False if it vanished meanwhile)."""
    try:
        return entry.is_file()
    except OSError:
        return False


def files(
    root: Path, keep_dir: DirFilter | None = None, listings: Listings | None = None
) -> Iterator[os.DirEntry[str]]:
    """Every regular file (or symlink to one) under ``root``, outside ignored directories."""
    for _, listing in listings_under(root, keep_dir, listings):
        for entry in listing.entries:
            if is_file(entry):
                yield entry
