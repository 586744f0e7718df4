"""The host's records about a plugin that are not the swap itself: failures, parity warnings, contract notes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

from devnode.host import contract, parity
from devnode.host.diagnostics import PluginProblem, drop_frames
from devnode.host.naming import module_path
from devnode.host.parts import MIRROR, HostParts, loader_log
from devnode.host.slots import PluginSlot, PluginState


def failed(parts: HostParts, slot: PluginSlot, problem: PluginProblem, trigger: Sequence[str] | None,
           bring_back: bool = False) -> None:
    """Mark ``slot`` failed (still serving its previous version, or not) and emit ``plugin.failed``."""
    previous = slot.serving or bring_back
    slot.problem = problem
    slot.state = PluginState.FAILED_RUNNING_PREVIOUS if previous else PluginState.FAILED
    slot.last_change = time.time()
    parts.reporter.emit(
        "plugin.failed", running="previous" if previous else "none", trigger=list(trigger or []),
        **problem.to_record(), problem=problem,
    )
    if parts.starting:
        loader_log.error(f"Failed to load plugin {slot.name}: {problem.error.split(': ', 1)[-1]}", extra=MIRROR)
    if problem.exception is not None:
        drop_frames(problem.exception)


def warn(parts: HostParts, slot: PluginSlot | None, warning: parity.ParityWarning) -> None:
    """Emit a parity warning; once per plugin for a plugin's own (not again at every reload)."""
    key = warning.code + (warning.file or "")
    if slot is not None:
        if key in slot.warned:
            return
        slot.warned.add(key)
    parts.reporter.emit("warning", **warning.to_record())


def first_time(slot: PluginSlot, key: str) -> bool:
    """Whether ``key`` is new for this plugin: a contract record is emitted once, not again at every reload."""
    if key in slot.warned:
        return False
    slot.warned.add(key)
    return True


def note_unsubscribed(parts: HostParts, slot: PluginSlot, cls: type) -> None:
    """An info-level note for each ``async def on_*`` that initialize() did not subscribe."""
    assert slot.ledger is not None
    callbacks = [sub.callback for sub in slot.ledger.subscriptions]
    for method, line in contract.unsubscribed_handlers(cls, callbacks):
        message = contract.unsubscribed_note(slot.name, cls, method, line, slot.path)
        if first_time(slot, message):
            parts.reporter.emit("log", plugin=slot.name, level="INFO", logger="devnode.contract",
                                message=message, file=str(slot.path), line=line, code="unsubscribed-handler")


def warn_helper(parts: HostParts, name: str) -> None:
    """A module that looks like a helper was not loaded as a plugin: say why, as production would not load it."""
    path = module_path(parts.plugin_dir, name)
    slot = parts.slots.get(name)
    warning = parity.check_helper(name, path, parts.graph.imported_by_others(name))
    if slot is None:
        parts.reporter.emit("warning", **warning.to_record())
    else:
        warn(parts, slot, warning)
