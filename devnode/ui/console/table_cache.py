"""The footer's plugin table, drawn from rows rendered once and kept while they stay the same.

rich lays a ``Table`` out from scratch on every draw: measuring and rendering each
cell of the bundled plugins' table takes about 10 ms, and the footer is drawn again
whenever a line is printed above it (the node's status events every 10 s, a slow
stream of events). From one draw to the next most rows show the same thing, so this
keeps each row's segments, keyed by its cells and the column widths, and each
cell's measurement, keyed by its content: a draw renders only the rows that
changed. The segments are the very ones rich's table gives (the column widths are
worked out as rich works them out; ``tests/test_console_table_cache.py`` compares
the two); a table that does not fit the terminal, which rich squeezes, is left to
rich, as is any cell this cannot key.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from devnode.ui.console.table import WIDE, empty_table, status_table


class TableCache:
    """What the last footer draw rendered, for the next one (one per console: segments depend on it)."""

    def __init__(self) -> None:
        self._measures: dict[Hashable, tuple[int, int]] = {}
        self._chunks: dict[Hashable, list[Segment]] = {}
        self.rendered = 0  # rows (and headers) rendered by rich, for tests

    def status_table(self, plugins: list[dict[str, Any]], width: int, limit: int | None = None) -> CachedTable:
        """``status_table(plugins, width, limit)``, drawn through this cache."""
        return CachedTable(self, status_table(plugins, width, limit), width >= WIDE)


class CachedTable:
    """A status table that renders as rich would, from the cache's rows where it can."""

    def __init__(self, cache: TableCache, table: Table, wide: bool) -> None:
        self.cache = cache
        self.table = table
        self.wide = wide

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = self.table
        columns = [list(column.cells) for column in table.columns]
        keys = [[_cell_key(cell) for cell in cells] for cells in columns]
        widths = self._widths(console, options, columns, keys)
        if widths is None:
            yield table
            return
        setting = (tuple(widths), self.wide, options.ascii_only, options.legacy_windows, options.encoding,
                   options.markup, options.max_width)
        cache = self.cache
        old, new = cache._chunks, dict[Hashable, list[Segment]]()
        cache._chunks = new
        header: Hashable = (setting, "header")
        new[header] = old.get(header) or self._render(console, options, widths, None)
        yield from new[header]
        for row, row_keys in zip(zip(*columns), zip(*keys)):
            key: Hashable = (setting, row_keys)
            chunk = new.get(key) or old.get(key) or self._render(console, options, widths, row)
            new[key] = chunk
            yield from chunk

    def _widths(self, console: Console, options: ConsoleOptions, columns: list[list[Any]],
                keys: list[list[Hashable | None]]) -> list[int] | None:
        """The column widths rich's ``Table`` picks, when the table fits (else None: rich lays it out)."""
        table = self.table
        if (table.width is not None or table.expand or table.show_edge or table.box is None or not table.show_header
                or any(table.padding) or table.title or table.caption or table.show_footer):
            return None
        inner = options.update_width(options.max_width - (len(table.columns) - 1))
        max_width = inner.max_width
        if max_width < 1:
            return None
        cache = self.cache
        measures, cache._measures = cache._measures, {}
        widths = []
        for column, cells, cell_keys in zip(table.columns, columns, keys):
            if column.width is not None or column.ratio is not None:
                return None
            lows, highs = [], []
            for cell, key in zip([column.header, *cells], [_cell_key(column.header), *cell_keys]):
                if key is None:
                    return None
                known = (key, max_width, inner.markup)
                found = cache._measures.get(known) or measures.get(known)
                if found is None:
                    measured = Measurement.get(console, inner, cell)
                    found = (measured.minimum, measured.maximum)
                cache._measures[known] = found
                lows.append(found[0])
                highs.append(found[1])
            measurement = Measurement(max(lows), max(highs)).with_maximum(max_width)
            measurement = measurement.clamp(column.min_width, column.max_width)
            widths.append(measurement.maximum or 1)
        return widths if sum(widths) <= max_width else None

    def _render(self, console: Console, options: ConsoleOptions, widths: list[int],
                row: Iterable[Any] | None) -> list[Segment]:
        """The header (``row`` None: its line and the rule under it) or one row, at fixed column widths."""
        part = empty_table(self.wide, show_header=row is None)
        for column, width in zip(part.columns, widths):
            column.width = width
        if row is not None:
            part.add_row(*row)
        self.cache.rendered += 1
        return list(console.render(part, options))


def _cell_key(cell: Any) -> Hashable | None:
    """What a cell's rendering depends on (None: a renderable this does not know)."""
    if isinstance(cell, str):
        return cell
    if type(cell) is Text:
        return ("text", cell.plain, cell.style, tuple(cell.spans), cell.justify, cell.overflow, cell.no_wrap,
                cell.end, cell.tab_size)
    return None
