"""The footer's cached plugin table draws exactly what rich's table draws, and renders only rows that changed."""

from __future__ import annotations

import io
import random
from typing import Any

from rich.console import Console
from rich.segment import Segment

from devnode.ui.console.table import status_table
from devnode.ui.console.table_cache import TableCache

TS = 1_800_000_000.0
NAMES = ["audit_plugin", "metrics_plugin", "a", "validation_plugin_with_a_very_long_name_indeed", "数据插件",
         "configurable_plugin", "x" * 12, "hello [bold]plugin[/]"]
VERSIONS = [None, "1.0.0", "1.2.3-beta.4+build.567", "[red]2[/red]", ":smile: 3", "0.1", ""]
STATES = ["active", "failed", "failed-running-previous", "unloaded", "loading"]


def console(width: int) -> Console:
    return Console(width=width, height=40, force_terminal=True, color_system="truecolor", file=io.StringIO(),
                   highlight=False)


def plugin(rng: random.Random, name: str) -> dict[str, Any]:
    return {"plugin": name, "version": rng.choice(VERSIONS), "state": rng.choice(STATES),
            "reloads": rng.choice([0, 1, 12, 12345]), "last_change": rng.choice([None, TS, TS + 3600]),
            "subscriptions": rng.randrange(0, 30), "tasks": rng.randrange(0, 3),
            "events_handled": rng.choice([0, 7, 999, 1000, 10**9]), "errors": rng.choice([0, 0, 1, 250])}


def drawn(c: Console, renderable: Any) -> tuple[list[Segment], str]:
    segments = list(c.render(renderable))
    c.file = io.StringIO()
    c.print(renderable)
    return segments, c.file.getvalue()  # type: ignore[attr-defined]


def test_the_cached_table_draws_what_rich_draws_at_every_width_and_content() -> None:
    rng = random.Random(14)
    for _ in range(50):
        width = rng.choice([20, 40, 60, 79, 80, 95, 96, 100, 140, 220])
        names = rng.sample(NAMES, rng.randrange(0, len(NAMES)))
        plugins = [plugin(rng, n) for n in names]
        limit = rng.choice([None, 3, 5, 28])
        c = console(width)
        cache = TableCache()
        for _ in range(3):  # the first draw fills the cache, later ones reuse it after a change
            assert drawn(c, cache.status_table(plugins, width, limit)) == drawn(c, status_table(plugins, width, limit))
            if plugins:
                changed = rng.choice(plugins)
                changed["events_handled"] += rng.choice([1, 2, 1000])


def test_a_redraw_renders_only_the_row_that_changed() -> None:
    rng = random.Random(3)
    plugins = [plugin(rng, n) for n in ("audit_plugin", "metrics_plugin", "example_plugin", "validation_plugin")]
    for p in plugins:
        p["version"], p["events_handled"] = "1.0.0", 10
    c = console(100)
    cache = TableCache()
    drawn(c, cache.status_table(plugins, 100))
    first = cache.rendered
    assert first == 1 + len(plugins)  # the header and each row
    plugins[1]["events_handled"] += 2  # metrics counted the node's two status events
    assert drawn(c, cache.status_table(plugins, 100)) == drawn(c, status_table(plugins, 100))
    assert cache.rendered - first == 1
    drawn(c, cache.status_table(plugins, 100))
    assert cache.rendered - first == 1  # nothing changed: nothing rendered
