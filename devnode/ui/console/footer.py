"""The live footer: a region under the history that is redrawn in place and can step aside.

Like rich's ``Live`` (same ``LiveRender`` and render-hook mechanism), but the
renderable is swapped without drawing, so printing history lines and updating
the footer cost one render, not two, and nothing redraws unless asked: no
refresh thread, so an idle console costs nothing.
"""

from __future__ import annotations

import sys
import threading
from typing import IO

from rich.console import Console, ConsoleOptions, ConsoleRenderable, RenderableType, RenderHook, RenderResult
from rich.control import Control
from rich.file_proxy import FileProxy
from rich.live_render import LiveRender
from rich.segment import Segment
from rich.text import Text


class _Region(LiveRender):
    """A LiveRender that remembers each line's width, to find the footer again after a resize."""

    def __init__(self, renderable: RenderableType) -> None:
        super().__init__(renderable, vertical_overflow="crop")
        self.line_widths: list[int] = []

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.renderable, options, pad=False)[: options.size.height]
        self.line_widths = [Segment.get_line_length(line) for line in lines]
        self._shape = Segment.get_shape(lines)
        for index, line in enumerate(lines):
            yield from line
            if index < len(lines) - 1:
                yield Segment.line()

    def reflowed(self, width: int) -> None:
        """The terminal is now ``width`` wide and rewrapped the footer's lines: count the rows they take."""
        if self._shape is None or width <= 0:
            return
        rows = sum(max(1, -(-w // width)) for w in self.line_widths) or self._shape[1]
        self._shape = (width, rows)


class Footer(RenderHook):
    """Keeps one renderable pinned below everything printed to ``console``."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._render = _Region(Text())
        self._lock = threading.RLock()
        self._shown = False
        self._saved: tuple[IO[str], IO[str]] | None = None

    @property
    def shown(self) -> bool:
        return self._shown

    def update(self, renderable: RenderableType) -> None:
        """Use ``renderable`` from the next draw on (does not draw)."""
        with self._lock:
            self._render.set_renderable(renderable)

    def show(self) -> None:
        """Start pinning the footer (and route print() through the console so it lands above it)."""
        with self._lock:
            if self._shown:
                return
            self._shown = True
            if self.console.is_terminal:
                self.console.show_cursor(False)
            self.console.push_render_hook(self)
            self._redirect()
        self.draw()

    def draw(self) -> None:
        """Redraw the footer in place."""
        with self._lock:
            if self._shown and self.console.is_interactive:
                with self.console:
                    self.console.print(Control())

    def resized(self, width: int) -> None:
        """The terminal changed size: next draw erases the footer as the terminal now shows it."""
        with self._lock:
            self._render.reflowed(width)

    def hide(self, keep: bool = False) -> None:
        """Stop pinning; erase the footer unless ``keep`` (then it stays as ordinary output)."""
        with self._lock:
            if not self._shown:
                return
            self._shown = False
            self._restore()
            self.console.pop_render_hook()
            if self.console.is_interactive:
                if keep:
                    self.console.line()
                else:
                    self.console.control(self._render.position_cursor())
                self._render = _Region(self._render.renderable)
            if self.console.is_terminal:
                self.console.show_cursor(True)

    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        if not self.console.is_interactive:
            return renderables
        with self._lock:
            return [self._render.position_cursor(), *renderables, self._render]

    # Plugins' print() and stray stderr output go through the console, above the footer.
    def _redirect(self) -> None:
        if not self.console.is_terminal or self._saved is not None:
            return
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = FileProxy(self.console, sys.stdout)
        sys.stderr = FileProxy(self.console, sys.stderr)

    def _restore(self) -> None:
        if self._saved is None:
            return
        for proxy in (sys.stdout, sys.stderr):
            if isinstance(proxy, FileProxy):
                proxy.flush()
        sys.stdout, sys.stderr = self._saved
        self._saved = None
