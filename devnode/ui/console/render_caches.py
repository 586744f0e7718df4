"""Keeps rich's per-string memo caches small, so a long session's memory stays flat.

rich memoizes the cell width of every distinct string it measures (and every segment
split) in module-level LRU caches of 4,096 and 16,384 entries. A console that prints
lines nobody prints twice (reload timings, versions, counters in the footer) adds
entries with every reload until those caches are full: about 1-2 KB per reload for
thousands of reloads. Clearing them past a small size bounds that; re-measuring a
string costs microseconds.
"""

from __future__ import annotations

from typing import Any

from rich import cells, segment

# (cache, entries above which it is cleared)
_CACHES: list[tuple[Any, int]] = [
    (getattr(cells, "cached_cell_len", None), 512),
    (getattr(segment.Segment, "_split_cells", None), 512),
]


def trim() -> None:
    """Clear each cache that has grown past its limit (cheap: called after every frame)."""
    for cache, limit in _CACHES:
        info = getattr(cache, "cache_info", None)
        if info is not None and info().currsize > limit:
            cache.cache_clear()
