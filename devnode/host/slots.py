"""What the host knows about one plugin name across its versions: the slot and its state."""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from devnode import safe
from devnode.bus import Hold
from devnode.host.diagnostics import PluginProblem
from devnode.ownership import Ledger


class PluginState(str, Enum):
    """Where a plugin name stands: serving, serving its previous version after a failure, failed, unloaded."""

    ACTIVE = "active"
    FAILED_RUNNING_PREVIOUS = "failed-running-previous"
    FAILED = "failed"
    UNLOADED = "unloaded"


@dataclass(frozen=True)
class PluginView:
    """One plugin as code outside the host reads it (``PluginHost.view``): a snapshot, not the slot."""

    name: str
    state: PluginState
    instance: Any  # the serving instance, None when none serves
    version: str | None
    error: str | None  # why the last load failed, if it did
    ledger: Ledger | None  # what the serving version owns (subscriptions, tasks, patches, threads)

    @property
    def serving(self) -> bool:
        return self.instance is not None


@dataclass(eq=False)
class PluginSlot:
    """Everything the host knows about one plugin name, across its versions."""

    name: str
    path: Path
    state: PluginState = PluginState.UNLOADED
    module: types.ModuleType | None = None
    instance: Any = None
    ledger: Ledger | None = None
    problem: PluginProblem | None = None
    reloads: int = 0
    last_change: float | None = None
    handled_before: int = 0  # events handled by earlier versions
    errors_before: int = 0
    warned: set[str] = field(default_factory=set)
    held: Hold | None = None  # a hold that spans two steps (lifted for a restack, ended by restack)
    files_read: set[Path] = field(default_factory=set)  # data files read while loading

    @property
    def serving(self) -> bool:
        return self.instance is not None

    @property
    def version(self) -> str | None:
        for source in (self.instance, self.module):
            for name in ("version", "__version__"):
                value = safe.attribute(source, name)  # a property raising must not fail a swap or a status
                if isinstance(value, str):
                    return value
        return None

    def view(self) -> PluginView:
        return PluginView(self.name, self.state, self.instance, self.version,
                          self.problem.error if self.problem else None, self.ledger)

    def status(self) -> dict[str, Any]:
        counts = self.ledger.counts() if self.ledger else {"subscriptions": 0, "tasks": 0, "patches": 0, "threads": 0}
        handled = self.handled_before + (self.ledger.events_handled if self.ledger else 0)
        errors = self.errors_before + (self.ledger.errors if self.ledger else 0)
        return {
            "plugin": self.name,
            "version": self.version,
            "state": self.state.value,
            "reloads": self.reloads,
            "last_change": self.last_change,
            "events_handled": handled,
            "errors": errors,
            "error": self.problem.error if self.problem else None,
            **counts,
        }
