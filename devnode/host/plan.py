"""A Plan: what one batch of file changes asks the host to do (made by reload/planner, carried out by the host)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Plan:
    """What to do, in order: unload, then load/reload (helpers in ``purge`` re-executed first)."""

    unload: list[str] = field(default_factory=list)
    load: list[str] = field(default_factory=list)
    reload: list[str] = field(default_factory=list)
    purge: list[str] = field(default_factory=list)
    triggers: dict[str, list[str]] = field(default_factory=dict)
    helpers_gone: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.unload or self.load or self.reload or self.purge)
