"""After plugin code ran: remove what it left behind (the sweep) and report what could not wait."""

from __future__ import annotations

import asyncio
from typing import Any

from devnode import safe
from devnode.codes import WarningCode
from devnode.host.parts import HostParts
from devnode.ownership import Ledger
from devnode.process_ownership import undo_all
from devnode.process_state import StateSnapshot

SINGULAR = {"subscriptions": "subscription", "tasks": "task", "patches": "patch",
            "process changes": "process change"}


async def sweep(parts: HostParts, name: str, ledger: Ledger, quiet: bool = False) -> None:
    """Remove everything the plugin registered and did not release itself."""
    cleaned: dict[str, Any] = {}
    file = parts.shown_file(name)  # warnings name the file to fix
    subs = list(ledger.subscriptions)
    for sub in subs:
        parts.bus.remove_subscription(sub)
    ledger.subscriptions.clear()
    if subs:
        cleaned["subscriptions"] = [f"{_event_name(s.event_type)} -> {getattr(s.callback, '__qualname__', s.callback)}" for s in subs]
    current = asyncio.current_task()
    live = [t for t in ledger.live_tasks() if t is not current]
    # Tasks the plugin cancelled itself are finishing, not left behind: only wait for them.
    tasks = [t for t in live if not t.cancelling()]
    for task in tasks:
        task.cancel()
    if live:
        await asyncio.wait(live, timeout=parts.timeout)
    if tasks:
        cleaned["tasks"] = [t.get_name() + (" (ignored cancel)" if not t.done() else "") for t in tasks]
    patches = []
    for patch in reversed(ledger.patches):
        if patch.is_in_place():
            patch.restore()
            patches.append(patch.describe())
        else:
            parts.reporter.emit("warning", code=WarningCode.PATCH_OVERWRITTEN, plugin=name, file=file,
                                message=f"{name} replaced {patch.describe()}, and something else replaced it "
                                "afterwards; devnode left the current value in place")
    ledger.patches.clear()
    if patches:
        cleaned["patches"] = patches
    undone = undo_all(ledger)  # timers, child processes, cwd/signals/logging/sys.path/config changes
    if undone.cleaned:
        cleaned["process changes"] = [parts.where(c) for c in undone.cleaned]
    if undone.left and not quiet:
        parts.reporter.emit("warning", code=WarningCode.PROCESS_CHANGE_LEFT, plugin=name, file=file,
                            message=f"{name} changed the process and devnode could not undo it safely: "
                            + "; ".join(parts.where(c) for c in undone.left), left=undone.left)
    threads = ledger.live_threads()
    if threads:
        parts.reporter.emit("warning", code=WarningCode.THREAD_LEFT_RUNNING, plugin=name, file=file,
                            message=f"{name} left {len(threads)} thread(s) running after shutdown: "
                            + ", ".join(safe.representation(safe.attribute(t, "name")) for t in threads)
                            + "; devnode cannot stop threads: signal them to stop in shutdown() and join them")
    if cleaned and not quiet:
        parts_text = [f"{len(v)} {k if len(v) > 1 else SINGULAR[k]}" for k, v in cleaned.items()]
        if "process changes" in cleaned:
            parts_text[-1] += " (" + "; ".join(cleaned["process changes"]) + ")"
        parts.reporter.emit("warning", code=WarningCode.CLEANUP, plugin=name, file=file,
                            message=f"{name} left {', '.join(parts_text)} behind after shutdown; devnode removed them",
                            cleaned=cleaned)


def after_phase(parts: HostParts, name: str, ledger: Ledger, snapshot: StateSnapshot) -> None:
    """After plugin code ran: note its sys.path/config changes; report at once what could not wait."""
    file = parts.shown_file(name)
    for repaired in snapshot.record_changes(ledger, file):
        parts.reporter.emit("warning", code=WarningCode.MODULE_REPLACED, plugin=name, file=file,
                            message=f"{name} replaced {repaired}; devnode put its own module back, since later "
                            "imports of plugins would fail on the replacement. Do not assign to sys.modules")
    importer = parts.importer
    if importer.replaced_package is not None:
        replaced, importer.replaced_package = importer.replaced_package, None
        parts.reporter.emit("warning", code=WarningCode.MODULE_REPLACED, plugin=None,
                            message=f"sys.modules['plugins'] had been replaced by plugin code ({replaced[:80]}); "
                            "devnode put the plugin package back")
    refused = [c for c in ledger.changes if c.undo is None]
    for change in refused:
        ledger.changes.remove(change)
        parts.reporter.emit("warning", code=WarningCode.PROCESS_CHANGE_REFUSED, plugin=name, file=file,
                            message=f"{name} tried {parts.where(change.what)}"
                            + (f" at {parts.where(change.where)}" if change.where else ""))


def _event_name(event_type: Any) -> str:
    return "*" if event_type is None else event_type.value
