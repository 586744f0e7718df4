"""History lines for every record that is not an event: reloads, logs, warnings, command output."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from devnode.reporting import Record, json_text
from devnode.ui.console import style
from devnode.ui.console.authoring_lines import AUTHORING_RENDERERS
from devnode.ui.console.table import status_details
from devnode.ui.text import format_record, preview, timings_text

KEYS = [
    ("r", "reload every plugin"),
    ("s", "status details"),
    ("e", "emit an event (asks for type and JSON)"),
    (":", "command line (every plain-mode command; Tab completes)"),
    ("c", "Python console on the live node (await works)"),
    ("p", "pause / resume the event stream"),
    ("l", "cycle the plugins' log level"),
    ("o", "open the last error in the editor at its line ($EDITOR, $DEVNODE_EDITOR or --editor)"),
    ("R", "restart devnode in place (same arguments, data kept)"),
    ("?", "this help"),
    ("q", "quit (shuts every plugin down)"),
]


def _stamp(record: Record) -> Text:
    return Text.assemble((style.clock(record.get("ts")) + " ", style.TIME))


def _plugin_line(r: Record, verb: str, verb_style: str) -> Text:
    """``<time> <verb> <plugin> [<version>]``: the start of a loaded/reloaded line."""
    line = _stamp(r)
    line.append(verb + " ", verb_style)
    line.append(r["plugin"], style.PLUGIN)
    if r.get("version"):
        line.append(f" {r['version']}")
    return line


def _loaded(r: Record, width: int) -> Text:
    line = _plugin_line(r, "loaded", style.OK)
    line.append(f" in {r['timings']['total']:.1f} ms", style.TIME)
    return line


def _reloaded(r: Record, width: int) -> Text:
    line = _plugin_line(r, "reloaded", style.RELOAD)
    line.append(f" in {r['timings']['total']:.1f} ms")
    if r.get("trigger"):
        line.append(f" ({', '.join(r['trigger'])})", style.TIME)
    line.append(timings_text(r["timings"]), style.TIME)
    return line


def _unloaded(r: Record, width: int) -> Text:
    line = _stamp(r)
    line.append("unloaded ", style.TIME)
    line.append(r["plugin"], style.PLUGIN)
    line.append(f" ({r.get('reason', '')})", style.TIME)
    return line


def _log(r: Record, width: int) -> Text:
    level = r.get("level", "INFO")
    line = _stamp(r)
    line.append(f"{level:<7} ", style.LEVEL_STYLES.get(level, ""))
    line.append(f"{r.get('plugin') or r.get('logger') or '-'} ", style.PLUGIN)
    line.append(str(r.get("message", "")))
    return line


def _warning(r: Record, width: int) -> Text:
    line = _stamp(r)
    line.append("warning ", "bold " + style.WARNING)
    if r.get("plugin") and r["plugin"] != "*":
        line.append(f"{r['plugin']} ", style.PLUGIN)
    line.append(str(r.get("message", "")), style.WARNING)
    return line


def _ready(r: Record, width: int) -> Text:
    line = _stamp(r)
    line.append(f"node {r['node_id']} ready", "bold")
    names = r.get("plugins") or []
    line.append(f" · {len(names)} plugin(s) from {r['plugin_dir']}")
    line.append(" · watching for changes" if r.get("watching") else " · not watching (reload with r)", style.TIME)
    if r.get("node") == "production":
        line.append(f"\n  production's Node from {r.get('checkout')}, on {r.get('chain')}")
    return line


def _stopped(r: Record, width: int) -> Text:
    return _stamp(r).append(f"node stopped ({r.get('reason', 'quit')})", "bold")


def _command_error(r: Record, width: int) -> Text:
    return _stamp(r).append(f"error: {r['error']}", style.FAILED)


def _command_result(r: Record, width: int) -> Text:
    line = _stamp(r).append(f"ok: {r['command']} ", style.OK)
    return line.append(preview(r.get("result"), 200))


def _help(r: Record, width: int) -> RenderableType:
    keys = Table.grid(padding=(0, 2))
    keys.add_column(style="bold", no_wrap=True)
    keys.add_column()
    for key, what in KEYS:
        keys.add_row(key, what)
    commands = Table.grid(padding=(0, 2))
    commands.add_column(style="bold", no_wrap=True)
    commands.add_column()
    for c in r.get("commands", []):
        commands.add_row(c["usage"], c["summary"])
    return Group(Text("keys", "bold underline"), keys, Text("commands (after :)", "bold underline"), commands)


def _status(r: Record, width: int) -> RenderableType:
    return status_details(r, width)


def _other(r: Record, width: int) -> Text:
    """Kinds the console has no line of its own for (scenarios, replay, ...) read as in plain mode."""
    try:
        text = format_record(r)
    except Exception:
        fields = {k: v for k, v in r.items() if k not in ("kind", "ts")}
        text = f"{r['kind']}: {json_text(fields)}"
    return _stamp(r).append(text)


RENDERERS: dict[str, Callable[[Record, int], RenderableType]] = {
    "node.ready": _ready,
    "node.stopped": _stopped,
    "plugin.loaded": _loaded,
    "plugin.reloaded": _reloaded,
    "plugin.unloaded": _unloaded,
    "log": _log,
    "warning": _warning,
    "status": _status,
    "help": _help,
    "command.error": _command_error,
    "command.result": _command_result,
    **AUTHORING_RENDERERS,  # tests.finished, config.changed, node.restarting
}


def render(record: Record, width: int) -> RenderableType:
    """The history line(s) for one record (``plugin.failed`` and events have their own modules)."""
    renderer = RENDERERS.get(record["kind"], _other)
    return renderer(record, width)


def log_summary(skipped: dict[str, int]) -> Text:
    """The line that stands in for log records dropped in a flood."""
    total = sum(skipped.values())
    who = ", ".join(f"{k} {v}" for k, v in sorted(skipped.items(), key=lambda kv: -kv[1])[:4])
    return Text(f"… {total} more log line(s) not shown ({who})", style.TIME)
