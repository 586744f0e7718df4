"""Records as readable text: the one formatting module every output uses.

``format_record`` gives the plain UI its lines (a few, with a code frame, for errors);
``devnode check`` prints its findings with it; the rich console reuses ``preview``,
``timings_text``, ``RUNNING`` and, for kinds it has no renderer of its own for, the lines
themselves. The scenario, replay, debugger and authoring kinds' lines are in the
``*_lines`` modules next to this one, collected in ``FORMATTERS``.
"""

from __future__ import annotations

from typing import Any, Callable

from devnode.reporting import json_text
from devnode.ui.debugger_lines import DEBUGGER_FORMATTERS
from devnode.ui.authoring_lines import AUTHORING_FORMATTERS
from devnode.ui.playback_lines import PLAYBACK_FORMATTERS

PREVIEW = 80
RUNNING = {
    "previous": "the previous version keeps running",
    "none": "the plugin is not running",
    "new": "the new version is being started",
    "current": "the plugin keeps serving",
}


def preview(data: Any, width: int = PREVIEW) -> str:
    """A short one-line JSON preview of an event's data (its repr when JSON cannot hold it)."""
    text = json_text(data, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def timings_text(timings: dict[str, float]) -> str:
    parts = [f"{k} {v:.1f}" for k, v in timings.items() if k != "total" and v]
    return f" [{', '.join(parts)} ms]" if parts else ""


def format_record(r: dict[str, Any]) -> str:
    formatter = FORMATTERS.get(r["kind"])
    return formatter(r) if formatter else f"{r['kind']}: {preview({k: v for k, v in r.items() if k not in ('kind', 'ts')})}"


def _ready(r: dict[str, Any]) -> str:
    names = ", ".join(r["plugins"]) or "no plugins"
    line = f"devnode: node {r['node_id']} ready; {len(r['plugins'])} plugin(s) from {r['plugin_dir']}: {names}"
    if r.get("node") == "production":  # the stand-in's line stays as it was
        line += f"\n  production's Node from {r.get('checkout')}, on {r.get('chain')}"
    return line


def _loaded(r: dict[str, Any]) -> str:
    version = f" {r['version']}" if r.get("version") else ""
    return f"loaded {r['plugin']}{version} in {r['timings']['total']:.1f} ms"


def _reloaded(r: dict[str, Any]) -> str:
    version = f" {r['version']}" if r.get("version") else ""
    trigger = f" ({', '.join(r['trigger'])})" if r.get("trigger") else ""
    return f"reloaded {r['plugin']}{version} in {r['timings']['total']:.1f} ms{trigger}{timings_text(r['timings'])}"


def _failed(r: dict[str, Any]) -> str:
    lines = [f"error: {r['plugin']} failed in {r['phase']}: {r['error']}"]
    if r.get("file"):
        where = r["file"] + (f":{r['line']}" if r.get("line") else "")
        lines.append(f"  at {where}")
    if r.get("code") and r.get("line"):
        lines.append(f"  {r['line']:>4} | {r['code']}")
        if r.get("column"):
            lines.append(f"  {'':>4} | {' ' * (r['column'] - 1)}^")
    if r.get("traceback") and r["phase"] not in ("import", "lookup") and "plugin frames only" in r["traceback"]:
        lines += ["  " + line for line in r["traceback"].splitlines()[1:-1]]
    if r.get("hint"):
        lines.append(f"  hint: {r['hint']}")
    if r.get("running") in RUNNING:
        lines.append(f"  ({RUNNING[r['running']]})")
    return "\n".join(lines)


def _unloaded(r: dict[str, Any]) -> str:
    return f"unloaded {r['plugin']} ({r['reason']})"


def _event(r: dict[str, Any]) -> str:
    handlers = [
        f"{h['plugin'] or '-'} {'ok' if h['ok'] else 'FAILED'} {h['ms']:.1f} ms"
        + (" (debugged: time stopped in the debugger not counted)" if h.get("debugged") else "")
        + ("" if h["ok"] else f" ({h['error']})")
        for h in r["handlers"]
    ]
    return f"event {r['type']} {preview(r['data'])} -> {', '.join(handlers) or 'no handlers'}"


def _log(r: dict[str, Any]) -> str:
    return f"[{r['plugin'] or r['logger']}] {r['level']} {r['message']}"


def _warning(r: dict[str, Any]) -> str:
    who = f"[{r['plugin']}] " if r.get("plugin") and r["plugin"] != "*" else ""
    return f"warning: {who}{r['message']}"


def _status(r: dict[str, Any]) -> str:
    lines = [f"{len(r['plugins'])} plugin(s); {r['subscriptions']} subscriptions; {r['events']} events published"]
    for p in r["plugins"]:
        version = p["version"] or "-"
        lines.append(
            f"  {p['plugin']:<24} {version:<8} {p['state']:<24} reloads {p['reloads']:<3} "
            f"subs {p['subscriptions']:<3} tasks {p['tasks']:<3} handled {p['events_handled']:<5} errors {p['errors']}"
        )
    return "\n".join(lines)


def _help(r: dict[str, Any]) -> str:
    return "commands:\n" + "\n".join(f"  {c['usage']:<34} {c['summary']}" for c in r["commands"])


FORMATTERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "node.ready": _ready,
    "node.stopped": lambda r: f"devnode: node stopped ({r.get('reason', 'quit')})",
    "plugin.loaded": _loaded,
    "plugin.reloaded": _reloaded,
    "plugin.failed": _failed,
    "plugin.error": _failed,  # a handler or task of a serving plugin raised
    "plugin.unloaded": _unloaded,
    "event": _event,
    "log": _log,
    "warning": _warning,
    "status": _status,
    "help": _help,
    "command.error": lambda r: f"error: {r['error']}",
    "command.result": lambda r: f"ok: {r['command']} {preview(r['result'], 200)}",
    **PLAYBACK_FORMATTERS,  # scenario.*, replay.*, peers
    **DEBUGGER_FORMATTERS,  # debugger.* (--debug-adapter)
    **AUTHORING_FORMATTERS,  # tests.finished, config.changed, node.restarting
}
