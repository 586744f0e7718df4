"""Tracks which files' bytes changed, to drop saves that changed nothing (blake2b per file)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from devnode.host import tree
from devnode.host.content import Signature, digest, signature


Relevant = Callable[[str], bool]  # a file's path, as a string (no Path object per file for the thousands that are not)
# A folder and its entries -> the relevant ones (``Relevant`` for a whole listing at once, no call per file).
Pick = Callable[[str, list[os.DirEntry[str]]], list[os.DirEntry[str]]]


class ContentLedger:
    """Content hashes of the plugin dir's files that matter, to drop saves that changed nothing.

    Only ``relevant`` files are hashed (the reloader's rule: modules, and files a plugin
    reads or names); any other file never has its bytes read, and a change to it is
    passed on as it comes (nothing depends on it, so the plan for it is empty). Ignored
    directories (``.git``, ``node_modules``, ...) are never walked.
    """

    def __init__(
        self,
        plugin_dir: Path,
        relevant: Relevant | None = None,
        keep_dir: tree.DirFilter | None = None,
        executed: Mapping[str, tuple[Signature | None, str]] | None = None,
        listings: tree.Listings | None = None,
        pick: Pick | None = None,
    ) -> None:
        """``executed``: modules already read (the importer's stat-before-read and digest): not read again.

        Starting from what was executed rather than from the disk now also means a save made
        while the node was starting is seen by the catch-up rescan, not taken as the baseline.
        """
        self.plugin_dir = plugin_dir
        self.relevant: Relevant = relevant or (lambda path: True)
        # Keyed by the path as a string: thousands of modules at start-up need no path object each.
        self._hashes: dict[str, str | None] = {}
        self._signatures: dict[str, Signature] = {}  # the file's stat when it was hashed
        executed = executed or {}
        relevant = self.relevant
        for folder, listing in tree.listings_under(plugin_dir, keep_dir, listings):
            # Files that are not relevant are never read.
            chosen = pick(folder, listing.entries) if pick is not None else [
                e for e in listing.entries if relevant(e.path)]
            for entry in chosen:
                if not tree.is_file(entry):
                    continue
                path = entry.path
                ran = executed.get(path)
                if ran is not None:
                    before, self._hashes[path] = ran
                    if before is not None:
                        self._signatures[path] = before
                else:
                    self._record(path)

    def known(self) -> set[Path]:
        return {Path(p) for p in self.known_paths()}

    def known_paths(self) -> set[str]:
        """``known`` as strings."""
        return {p for p, digest in self._hashes.items() if digest is not None}

    def changed(self, path: Path, *, trust_stat: bool = False) -> bool:
        """True when ``path``'s content (or existence) differs from last time; remembers it.

        ``trust_stat``: a file whose stat is exactly what it was when hashed counts as
        unchanged without reading it (the catch-up rescan right after start-up uses it, so
        start-up hashes each file once; a save from the watcher is always hashed).
        """
        key = str(path)
        if key not in self._hashes and not self.relevant(key):
            return True
        before = self._hashes.get(key, "<unknown>")
        if trust_stat and self.same_stat(key):
            return False
        return self._record(key) != before

    def same_stat(self, path: str) -> bool:
        """Whether ``path`` was hashed and its stat is exactly what it was then (``changed``'s trust_stat)."""
        before = self._hashes.get(path, "<unknown>")
        return before is not None and before != "<unknown>" and _signature(path) == self._signatures.get(path)

    def _record(self, path: str) -> str | None:
        signature = _signature(path)
        digest = _digest(path) if signature is not None else None
        self._hashes[path] = digest
        if signature is None or digest is None:
            self._signatures.pop(path, None)
        else:
            self._signatures[path] = signature
        return digest


def _signature(path: str) -> Signature | None:
    return signature(path)


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as file:
            return digest(file.read())
    except OSError:
        return None
