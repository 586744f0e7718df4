"""Testing plugins with devnode: the kit behind the pytest fixtures (docs/testing.md)."""

from __future__ import annotations

from devnode.testing.kit import DevNodeKit, HandlerError, KitUsageError, PluginLoadError
from devnode.testing.recorder import EventRecorder, Handled, RecordedEvent

__all__ = ["DevNodeKit", "EventRecorder", "Handled", "HandlerError", "KitUsageError", "PluginLoadError", "RecordedEvent"]
