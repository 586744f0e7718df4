"""What the footer says: the plugin table, one line of node state, one line of keys."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.text import Text

from devnode.ui.console import style
from devnode.ui.console.key_hints import key_hints
from devnode.ui.console.table import status_table

if TYPE_CHECKING:
    from devnode.ui.console.table_cache import TableCache
    from devnode.runtime import Runtime


def footer_view(runtime: Runtime | None, width: int, height: int, paused_hidden: int | None,
                notes: Sequence[tuple[str, str]], tables: TableCache | None = None) -> RenderableType:
    """``paused_hidden``: events hidden while paused (None: not paused); ``notes``: (text, style) to add;
    ``tables``: the console's cache of table rows (the table renders the same without it, only slower)."""
    if runtime is None or not hasattr(runtime, "host"):
        return Text("devnode starting…", style.TIME)
    rows = runtime.host.status()
    limit = max(3, height - 12)
    table = tables.status_table(rows, width, limit) if tables is not None else status_table(rows, width, limit)
    bus = runtime.node.event_bus
    info = Text.assemble((runtime.config.node_id, "bold"), no_wrap=True, overflow="ellipsis")
    info.append(f" · {plugin_count(rows)} · {bus.published} events · log {runtime.options.log_level}", style.TIME)
    info.append(" · watching" if runtime.reloader is not None else " · not watching", style.TIME)
    if paused_hidden is not None:
        info.append(f" · events paused ({paused_hidden} hidden)", "bold " + style.WARNING)
    for note, note_style in notes:
        info.append(" · " + note, note_style)
    info.truncate(width, overflow="ellipsis")
    return Group(Rule(style=style.TIME), table, info, key_hints(width))


def plugin_count(rows: Sequence[dict[str, Any]]) -> str:
    """``6 plugin(s) (1 failed)``: counts every row the table shows, and says which are not serving."""
    states = Counter(r.get("state") for r in rows)
    text = f"{len(rows)} plugin(s)"
    others = [f"{n} {state}" for state, n in sorted(states.items(), key=lambda kv: str(kv[0])) if state != "active"]
    return text + (f" ({', '.join(others)})" if others else "")
