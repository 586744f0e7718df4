"""The console's history and footer: records queued from any thread, drawn by one pump task.

Records are only queued when they arrive (the sink is on the event hot path and
may be called from plugin threads); the pump on the node's loop renders them at
most ten times a second, and only when something arrived, so an idle console
does no work at all and a burst costs a bounded share of the loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from threading import get_ident
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.text import Text

from devnode.reporting import Record
from devnode.ui.console import errors, history, render_caches, style
from devnode.ui.console.event_lines import Burst, Coalescer, Fold, burst_line, event_line, paused_summary
from devnode.ui.console.footer import Footer
from devnode.ui.console.links import Linker

FRAME = 0.1  # at most ten renders a second
RENDER_SHARE = 0.05  # and rendering never takes more than ~5% of the loop's time
FOOTER_EVERY = 0.5  # counters alone refresh the footer this often
MAX_LOG_LINES = 40  # per frame; a log flood is summed up, not scrolled
FOLD_AFTER = 3  # more events of one type than this in one run never print alone (Coalescer.batch_singles)


class Screen:
    """What is queued for the terminal, and the one place that draws it."""

    def __init__(self, console: Console, footer_content: Callable[[], RenderableType]) -> None:
        self.console = console
        self.footer = Footer(console)
        self.footer_content = footer_content
        self.coalescer = Coalescer()
        self.linker = Linker([], None, enabled=False)  # OSC 8 links on file:line, once the console knows the dirs
        # (record, extra): extra is None (render the record), an errors.ErrorView, or a line made by the console.
        self.queue: deque[tuple[Record, Any]] = deque()
        self.holding = False  # a prompt or pdb has the terminal: history waits in `held` until it comes back
        self.held: list[RenderableType] = []
        self.paused = False  # the p key: events are counted, not shown
        self.paused_counts: Counter[str] = Counter()
        self.footer_stale = False
        self.footer_drawn = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._wake: asyncio.Event | None = None
        # Events of each type queued since the last other record, and the fold that takes the rest of them.
        self._folding: dict[str, list[Any]] = {}

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called on ``loop``: from now on a queued record wakes the pump."""
        self.loop = loop
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()

    def on_loop(self) -> bool:
        return threading.get_ident() == self._loop_thread

    def put(self, record: Record, extra: Any = None, *, poke: bool = True) -> None:
        self._folding.clear()  # another record: the events after it are a run of their own
        self.queue.append((record, extra))
        if poke:
            self.poke()

    def put_event(self, record: Record) -> None:
        """An event record: queued as it is, or, past what could print alone, tallied into its run's fold."""
        folding = self._folding
        kind = record["type"]
        entry = folding.get(kind)
        if entry is None:
            folding[kind] = [1, None]
        elif entry[0] >= FOLD_AFTER and get_ident() == self._loop_thread:  # on the loop, as flush: no half-made fold
            fold = entry[1]
            if fold is not None:
                # No poke: the fold was made (and the pump woken) since the last flush, which clears _folding
                # right after it clears the wake, so the wake is still set.
                fold.add(record)
                return
            ts = record.get("ts", 0.0)
            fold = entry[1] = Fold(kind, ts, ts)
            self.queue.append(({"kind": "event", "type": kind}, fold))
            fold.add(record)
            self.poke()
            return
        else:
            entry[0] += 1
        self.queue.append((record, None))
        self.poke()

    def line(self, text: Text) -> None:
        """A line of the console's own (not a record) into the history."""
        self.put({"kind": "console.line", "ts": time.time()}, text)

    def poke(self) -> None:
        wake = self._wake
        if wake is None or wake.is_set():
            return
        if self.on_loop():
            wake.set()
        elif self.loop is not None:
            try:
                self.loop.call_soon_threadsafe(wake.set)
            except RuntimeError:
                pass  # the loop has closed; close() prints what is left

    async def pump(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            started = time.perf_counter()
            try:
                self.flush()
            except Exception as exc:  # the display must outlive a rendering bug; say so and go on
                self.console.print(Text(f"devnode console: could not draw: {type(exc).__name__}: {exc}", style.FAILED))
            render_caches.trim()  # flat memory over thousands of reloads
            cost = time.perf_counter() - started
            await asyncio.sleep(max(FRAME, cost / RENDER_SHARE))
            if self.queue or self.coalescer.pending or self.footer_stale:
                self._wake.set()

    def flush(self, final: bool = False) -> None:
        """Render everything queued: history lines (printed or held) and, if due, the footer."""
        now = time.monotonic()
        lines: list[RenderableType] = []
        run: list[Record | Fold] = []
        structural = False
        skipped_logs: Counter[str] = Counter()
        logs = 0
        width = self.console.width
        self._folding.clear()  # what arrives from now on is a new run
        while self.queue:
            record, extra = self.queue.popleft()
            kind = record["kind"]
            if kind == "event":
                if self.paused:
                    self.paused_counts[record["type"]] += extra.count if isinstance(extra, Fold) else 1
                else:
                    run.append(extra if isinstance(extra, Fold) else record)
                continue
            if run:
                lines += _event_lines(self.coalescer.feed(run, now))
                run = []
            structural = True
            if kind == "log":
                logs += 1
                if logs > MAX_LOG_LINES and not final:
                    skipped_logs[record.get("plugin") or record.get("logger") or "-"] += 1
                    continue
            if isinstance(extra, errors.ErrorView):
                lines.append(errors.error_panel(extra, self.linker.link_text if self.linker.enabled else None))
            elif extra is not None:
                lines.append(extra)  # a line the console made itself
            else:
                line = _render_safely(record, width)
                lines.append(self.linker.link_text(line) if isinstance(line, Text) else line)
        lines += _event_lines(self.coalescer.feed(run, now))
        if final:
            lines += _event_lines(self.coalescer.close_all())
        if skipped_logs:
            lines.append(history.log_summary(skipped_logs))
        self._show(lines, structural, now)

    def _show(self, lines: list[RenderableType], structural: bool, now: float) -> None:
        if self.holding:
            self.held += lines
            return
        dashboard = self.footer.shown
        if dashboard and (lines or structural or now - self.footer_drawn >= FOOTER_EVERY):
            self.footer.update(self.footer_content())
            self.footer_drawn, self.footer_stale = now, False
            if lines:
                self.console.print(Group(*lines))  # draws the footer too: one render
            else:
                self.footer.draw()
        else:
            if lines:
                self.console.print(Group(*lines))
            self.footer_stale = dashboard

    def print_held(self) -> None:
        held, self.held = self.held, []
        if held:
            self.console.print(Group(*held))

    def show_footer(self) -> None:
        """The dashboard is back: the footer, then what was held while the terminal was handed over."""
        self.footer.update(self.footer_content())
        self.footer.show()
        self.footer_drawn = time.monotonic()
        self.print_held()

    def redraw_footer(self) -> None:
        """Draw the footer now (a resize), not at the next output."""
        self.footer.update(self.footer_content())
        self.footer.draw()
        self.footer_drawn, self.footer_stale = time.monotonic(), False

    def toggle_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            counts, self.paused_counts = self.paused_counts, Counter()
            self._folding.clear()
            self.queue.append(({"kind": "console.line", "ts": time.time()}, paused_summary(counts)))
        self.footer_stale = True
        self.poke()


def _event_lines(items: Sequence[Record | Burst]) -> list[RenderableType]:
    return [burst_line(i) if isinstance(i, Burst) else event_line(i) for i in items]


def _render_safely(record: Record, width: int) -> RenderableType:
    """A record the console cannot lay out (an unexpected shape) still shows, as its raw fields."""
    try:
        return history.render(record, width)
    except (KeyError, TypeError, ValueError, AttributeError):
        return Text(f"{record.get('kind')}: {record!r}")
