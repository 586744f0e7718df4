"""Says so when the plugin dir holds symlinks that lead out of it.

The watcher follows a symlinked directory (watchfiles does), so saves out there
arrive as paths inside the plugin dir; the importer never loads code from outside
(``OutsidePluginDirError``). Each such link is reported once, the first time it is
seen, so the author knows which of their files devnode watches but will not run.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from devnode.host import tree
from devnode.host.parity import ParityWarning


def outside_links(plugin_dir: Path, listings: tree.Listings | None = None) -> list[tuple[Path, Path]]:
    """``(link, target)`` for every symlink under ``plugin_dir`` (not followed) that points outside it."""
    root = plugin_dir.resolve()
    found: list[tuple[Path, Path]] = []
    for _, listing in tree.listings_under(root, listings=listings):  # not into symlinked dirs, nor .git and the like
        for entry in listing.links:  # picked out of the directory listing: no stat per entry
            path = Path(entry.path)
            target = path.resolve()
            if not target.is_relative_to(root):
                found.append((path, target))
    return sorted(found)


class LinkGuard:
    """Remembers which outside links were already reported."""

    def __init__(self, plugin_dir: Path, listings: tree.Listings | None = None) -> None:
        self.plugin_dir = plugin_dir.resolve()
        self.listings = listings
        self._reported: set[Path] = set()

    def scan(self) -> list[ParityWarning]:
        """Warnings for outside links not reported before (at start, and after changes)."""
        return [self._warning(link, target) for link, target in outside_links(self.plugin_dir, self.listings)
                if link not in self._reported]

    def check_paths(self, paths: Iterable[Path]) -> list[ParityWarning]:
        """Warnings for changed paths that reached devnode through an unreported outside link."""
        warnings = []
        for path in paths:
            for parent in [path, *path.parents]:
                if parent == self.plugin_dir or not parent.is_relative_to(self.plugin_dir):
                    break
                if parent not in self._reported and parent.is_symlink():
                    target = parent.resolve()
                    if not target.is_relative_to(self.plugin_dir):
                        warnings.append(self._warning(parent, target))
        return warnings

    def _warning(self, link: Path, target: Path) -> ParityWarning:
        self._reported.add(link)
        rel = link.relative_to(self.plugin_dir)
        kind = "directory" if target.is_dir() else "file"
        return ParityWarning(
            "symlink-outside",
            rel.parts[0].removesuffix(".py"),
            f"{self.plugin_dir.name}/{rel} is a symlink to the {kind} {target}, outside the plugin dir: "
            "devnode sees saves there but never loads code from outside the plugin dir. "
            "Copy the code into the plugin dir (production loads only what is in it)",
            str(link),
        )
