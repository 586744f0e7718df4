"""Plain lines for the editor debugger's records (``devnode run --debug-adapter``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _where(r: dict[str, Any]) -> str:
    return f"{r.get('file')}:{r.get('line')}"


def _stopped(r: dict[str, Any]) -> str:
    scope = "the node is paused" if r.get("on_loop") else "a plugin thread is paused; the node runs on"
    return f"debugger: stopped in your editor at {_where(r)} ({r.get('plugin')}): {scope} until you continue there"


DEBUGGER_FORMATTERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "debugger.listening": lambda r: f"debugger: debug adapter listening on {r['host']}:{r['port']} "
                                    "(attach your editor: docs/debugging.md)",
    "debugger.waiting": lambda r: f"debugger: waiting for an editor to attach on {r['host']}:{r['port']} "
                                  "before loading plugins (--wait-for-client)",
    "debugger.attached": lambda r: f"debugger: editor attached on {r['host']}:{r['port']}",
    "debugger.detached": lambda r: f"debugger: editor detached from {r['host']}:{r['port']}",
    "debugger.stopped": _stopped,
    "debugger.resumed": lambda r: f"debugger: resumed from {_where(r)}",
}
