"""devnode: a hot-reloading development node for DataMgmt Node plugins.

The public names below are imported on first use (module ``__getattr__``), so
``devnode --version`` and ``--help`` do not pay for the node, cryptography,
sqlite3 and the event bus.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from devnode._version import __version__

if TYPE_CHECKING:
    from devnode.config import NodeConfig, load_config
    from devnode.bus import Event, EventBus, EventType
    from devnode.node.node import DevNode

# public name -> the module defining it
_LAZY = {
    "DevNode": "devnode.node.node",
    "Event": "devnode.bus.api",
    "EventBus": "devnode.bus.api",
    "EventType": "devnode.bus.api",
    "NodeConfig": "devnode.config",
    "load_config": "devnode.config",
}

__all__ = ["DevNode", "Event", "EventBus", "EventType", "NodeConfig", "__version__", "load_config"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'devnode' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
