"""devnode: a hot-reloading development node for DataMgmt Node plugins."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("devnode")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

from devnode.config import NodeConfig, load_config
from devnode.events import Event, EventBus, EventType
from devnode.node.node import DevNode

__all__ = ["DevNode", "Event", "EventBus", "EventType", "NodeConfig", "__version__", "load_config"]
