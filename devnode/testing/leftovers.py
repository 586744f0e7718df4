"""Turns what the host reported while plugins shut down into the problems a test fails on."""

from __future__ import annotations

from typing import Any

from devnode.reporting import Record

# Warning codes that mean "the plugin left something behind"; the host removed it, production will not.
LEFTOVER_CODES = {"cleanup", "thread-left-running", "patch-overwritten"}
WHAT = {"subscriptions": "subscription", "tasks": "task", "patches": "node patch",
        "process changes": "process change"}

FIX = (
    "fix: undo in shutdown() everything the plugin set up: unsubscribe every handler, cancel its tasks, "
    "put back node attributes it replaced, stop and join its threads, drop references from globals. "
    "devnode cleaned up after it; the production node will not."
)


def leftover_problems(records: list[Record]) -> list[str]:
    """One line per thing a plugin left behind (or a task of it that crashed), from the host's records."""
    problems: list[str] = []
    for r in records:
        if r["kind"] == "warning" and r.get("code") == "cleanup":
            problems.append(_cleanup_text(r))
        elif r["kind"] == "warning" and r.get("code") in LEFTOVER_CODES:
            problems.append(f"{r['plugin']}: {r['message']}{_during(r)}")
        elif r["kind"] == "plugin.error" and r.get("phase") == "task":
            where = f" ({r['file']}:{r['line']})" if r.get("file") and r.get("line") else ""
            problems.append(f"{r['plugin']}: a task it started crashed with {r['error']}{where}{_during(r)}")
        elif r["kind"] == "plugin.failed" and r.get("phase") == "shutdown":
            where = f" ({r['file']}:{r['line']})" if r.get("file") and r.get("line") else ""
            problems.append(f"{r['plugin']}: shutdown() raised {r['error']}{where}{_during(r)}; production "
                            "would not shut down the plugins after it")
    return problems


def _cleanup_text(r: Record) -> str:
    cleaned: dict[str, Any] = r.get("cleaned") or {}
    parts = []
    for key, items in cleaned.items():
        noun = WHAT.get(key, key)
        plural = noun if len(items) == 1 else (noun + "es" if noun.endswith("patch") else noun + "s")
        parts.append(f"{len(items)} {plural} ({', '.join(map(str, items))})")
    return f"{r['plugin']} left {'; '.join(parts) or 'resources'} behind after shutdown{_during(r)}"


def _during(r: Record) -> str:
    return f" (at {r['during']})" if r.get("during") else ""


def failure_message(problems: list[str]) -> str:
    lines = ["devnode: the plugins under test left problems behind (found while shutting them down):"]
    lines += [f"  - {p}" for p in problems]
    lines.append(FIX)
    return "\n".join(lines)
