"""The Python packages the production-backed node needs (the ``[production]`` extra)."""

from __future__ import annotations

import importlib.util

from devnode.errors import DevnodeError

# import name -> distribution name, as production's own modules import them
PACKAGES = {"web3": "web3", "plyvel": "plyvel", "kademlia": "kademlia", "aiohttp": "aiohttp"}
INSTALL = "pip install 'devnode[production]'"


class MissingExtra(DevnodeError):
    """A package of the ``[production]`` extra is not installed; the message has the install command."""


def missing_packages() -> list[str]:
    return [dist for module, dist in PACKAGES.items() if importlib.util.find_spec(module) is None]


def require_production_extra() -> None:
    """Raise MissingExtra (one line, with the install command) unless every package is importable."""
    missing = missing_packages()
    if missing:
        raise MissingExtra(f"--node production needs {', '.join(missing)} (not installed); install with: {INSTALL} "
                           "(from a devnode checkout: pip install -e '.[production]')")
