"""The plugin status table: compact in the footer, detailed for ``s`` / ``status``."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from devnode.ui.console import style

# Below this width the version and last-change columns are dropped so every row stays on one line.
WIDE = 96


def _state(state: str) -> Text:
    return Text(state, style.STATE_STYLES.get(state, ""))


def _errors(value: int) -> Text:
    return Text(str(value), style.FAILED if value else "")


def empty_table(wide: bool, show_header: bool = True) -> Table:
    """The status table's columns (``wide``: with version and last change), no rows yet."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0), show_edge=False,
                  expand=False, show_header=show_header)
    table.add_column("plugin", no_wrap=True, overflow="ellipsis", min_width=12)
    if wide:
        table.add_column("version", no_wrap=True, overflow="ellipsis", max_width=12)
    table.add_column("state", no_wrap=True)
    table.add_column("reloads", justify="right", no_wrap=True)
    if wide:
        table.add_column("changed", no_wrap=True)
    table.add_column("subs", justify="right", no_wrap=True)
    table.add_column("tasks", justify="right", no_wrap=True)
    table.add_column("events" if wide else "handled", justify="right", no_wrap=True)
    table.add_column("errors", justify="right", no_wrap=True)
    return table


def status_table(plugins: list[dict[str, Any]], width: int, limit: int | None = None) -> Table:
    """One row per plugin; ``limit`` caps the rows (the rest are summed up in a last row)."""
    wide = width >= WIDE
    table = empty_table(wide)
    shown = plugins if limit is None or len(plugins) <= limit else plugins[: max(1, limit - 1)]
    for p in shown:
        row: list[RenderableType] = [Text(p["plugin"], style.PLUGIN)]
        if wide:
            row.append(p.get("version") or "-")
        row += [_state(p["state"]), str(p.get("reloads", 0))]
        if wide:
            row.append(Text(style.clock(p.get("last_change")), style.TIME))
        row += [str(p.get("subscriptions", 0)), str(p.get("tasks", 0)), str(p.get("events_handled", 0)),
                _errors(p.get("errors", 0))]
        table.add_row(*row)
    hidden = len(plugins) - len(shown)
    if hidden:
        table.add_row(Text(f"… {hidden} more (press s)", style.TIME))
    if not plugins:
        table.add_row(Text("no plugins loaded", style.TIME))
    return table


def status_details(record: dict[str, Any], width: int) -> RenderableType:
    """The ``status`` record in full: every plugin with its counts and its current error."""
    plugins = record.get("plugins", [])
    head = Text(
        f"{len(plugins)} plugin(s) · {record.get('subscriptions', 0)} subscriptions · "
        f"{record.get('events', 0)} events published · peers: {', '.join(record.get('peers') or []) or 'none'}",
        "bold",
    )
    table = status_table(plugins, width)
    problems = Table.grid(padding=(0, 1))
    problems.add_column(no_wrap=True)
    problems.add_column(overflow="fold")
    for p in plugins:
        extra = [f"{k} {p[k]}" for k in ("patches", "threads") if p.get(k)]
        if p.get("error"):
            problems.add_row(Text(p["plugin"], style.PLUGIN), Text(p["error"], style.FAILED))
        if extra:
            problems.add_row(Text(p["plugin"], style.PLUGIN), Text(", ".join(extra), style.WARNING))
    parts: list[RenderableType] = [head, table]
    if problems.row_count:
        parts.append(problems)
    return Group(*parts)
