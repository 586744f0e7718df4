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

from rich.console import Console, ConsoleRenderable, RenderableType, RenderHook
from rich.control import Control
from rich.file_proxy import FileProxy
from rich.live_render import LiveRender
from rich.text import Text


class Footer(RenderHook):
    """Keeps one renderable pinned below everything printed to ``console``."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._render = LiveRender(Text())
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
                self._render = LiveRender(self._render.renderable)
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
