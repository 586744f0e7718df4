"""The kit's exceptions, and the messages that turn records into a test failure worth reading."""

from __future__ import annotations

from devnode.errors import DevnodeError
from devnode.reporting import Record
from devnode.testing.recorder import RecordedEvent


class PluginLoadError(DevnodeError):
    """A plugin did not load, reload or initialize; the message is devnode's diagnosis."""

    def __init__(self, message: str, record: Record | None = None) -> None:
        super().__init__(message)
        self.record = record


class HandlerError(DevnodeError):
    """A plugin's event handler raised while a helper was driving the node."""


class KitUsageError(DevnodeError):
    """A kit helper called the wrong way (e.g. a sync helper inside an async test)."""


def load_error(records: list[Record], name: str, action: str) -> PluginLoadError:
    """The error for a failed ``action`` of plugin ``name``, from its latest ``plugin.failed`` record."""
    failed = [r for r in records if r["kind"] == "plugin.failed" and r.get("plugin") == name]
    if not failed:
        return PluginLoadError(f"{name} did not {action} (see devnode.records)")
    r = failed[-1]
    where = r.get("file") or name
    if r.get("line"):
        where += f":{r['line']}"
    lines = [f"{name} failed to {action} ({r['phase']}): {r['error']}", f"  at {where}"]
    if r.get("code"):
        lines.append(f"  {r['code'].strip()}")
    if r.get("hint"):
        lines.append(f"  hint: {r['hint']}")
    if r.get("running") == "previous":
        lines.append("  (the previous version keeps running)")
    return PluginLoadError("\n".join(lines), r)


def raise_handler_errors(events: list[RecordedEvent]) -> None:
    """HandlerError naming every handler that raised on ``events``; nothing when none did."""
    failures = [(e, h) for e in events for h in e.failed]
    if not failures:
        return
    lines = []
    for event, handled in failures:
        who = handled.plugin or "a handler outside any plugin"
        lines.append(f"{who}: {handled.handler} raised on {event.type.value}: {handled.error}\n{handled.traceback}")
    raise HandlerError("\n".join(lines) + "\n(pass check=False to let the test inspect handler failures itself)")
