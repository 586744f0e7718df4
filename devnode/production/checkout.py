"""Find the author's DataMgmt Node checkout and make its modules importable.

Search order: ``--node-src PATH``, then ``$DATAMGMTNODE_SRC``, then the plugin dir's
parent and every folder above it. A checkout is recognised by
``datamgmtnode/services/node.py``; PATH may name the repository root or its
inner ``datamgmtnode/`` package.

Production imports its modules as top-level packages (``services.node``,
``dashboard.event_bus``) and also as ``datamgmtnode.api.validation``, so both the
package dir and the folder above it go on ``sys.path``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devnode.errors import DevnodeError

ENV_VAR = "DATAMGMTNODE_SRC"
MARKER = Path("services") / "node.py"  # inside the inner datamgmtnode/ package
PACKAGE = "datamgmtnode"


class CheckoutNotFound(DevnodeError):
    """No DataMgmt Node checkout where devnode looked; the message lists every place."""


@dataclass(frozen=True)
class Checkout:
    """A DataMgmt Node checkout: the repository root and its inner package."""

    root: Path  # holds contracts/ and the datamgmtnode/ package
    package: Path  # root / "datamgmtnode": holds services/, dashboard/, ...
    found_by: str  # "--node-src", "DATAMGMTNODE_SRC" or "search from <dir>"

    @property
    def contracts_dir(self) -> Path:
        return self.root / "contracts"

    def source_line(self, relative: str, needle: str) -> str:
        """``file:line`` of the first line of ``package/relative`` containing ``needle`` (for messages)."""
        path = self.package / relative
        try:
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if needle in line:
                    return f"{path}:{number}"
        except OSError:
            pass
        return str(path)


def as_checkout(path: Path, found_by: str) -> Checkout | None:
    """``path`` as a checkout when it is the repository root or the inner package, else None."""
    path = path.expanduser().resolve()
    if (path / PACKAGE / MARKER).is_file():
        return Checkout(root=path, package=path / PACKAGE, found_by=found_by)
    if path.name == PACKAGE and (path / MARKER).is_file():
        return Checkout(root=path.parent, package=path, found_by=found_by)
    return None


def find_checkout(
    node_src: str | Path | None = None,
    plugin_dir: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Checkout:
    """The checkout to build production's node from; CheckoutNotFound names everything searched."""
    environ = os.environ if environ is None else environ
    if node_src is not None:
        found = as_checkout(Path(node_src), "--node-src")
        if found is None:
            raise CheckoutNotFound(
                f'--node-src "{node_src}" is not a DataMgmt Node checkout: neither '
                f"{Path(node_src) / PACKAGE / MARKER} nor {Path(node_src) / MARKER} exists; "
                "give the folder you cloned cryptuon/datamgmtnode into"
            )
        return found
    if environ.get(ENV_VAR):
        value = environ[ENV_VAR]
        found = as_checkout(Path(value), ENV_VAR)
        if found is None:
            raise CheckoutNotFound(
                f'{ENV_VAR}="{value}" is not a DataMgmt Node checkout: neither '
                f"{Path(value) / PACKAGE / MARKER} nor {Path(value) / MARKER} exists; "
                "point it at the folder you cloned cryptuon/datamgmtnode into"
            )
        return found
    searched: list[str] = []
    start = Path(plugin_dir or ".").expanduser().resolve().parent
    for folder in (start, *start.parents):
        # The plugin project inside the checkout, or the checkout cloned next to it.
        for candidate in (folder, folder / PACKAGE):
            searched.append(str(candidate))
            found = as_checkout(candidate, f"search from {start}")
            if found is not None:
                return found
    raise CheckoutNotFound(
        "--node production needs a DataMgmt Node checkout and none was found: no --node-src, "
        f"no {ENV_VAR}, and no {PACKAGE}/{MARKER} in {', '.join(searched)}; "
        "clone cryptuon/datamgmtnode and pass --node-src PATH (or set DATAMGMTNODE_SRC)"
    )


def install_paths(checkout: Checkout) -> list[str]:
    """Put the package dir and the folder above it first on ``sys.path``; returns what was added."""
    added = []
    for folder in (str(checkout.root), str(checkout.package)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
            added.append(folder)
    return added


def remove_paths(added: list[str]) -> None:
    """Undo ``install_paths``."""
    for folder in added:
        while folder in sys.path:
            sys.path.remove(folder)
