"""Event lines: one per event while they are few, one summary a second per type in a burst."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.text import Text

from devnode.reporting import Record
from devnode.ui.console import style
from devnode.ui.text import preview

PREVIEW = 60


@dataclass(slots=True)
class HandlerTally:
    """How one plugin's handlers fared over the events of a burst."""

    plugin: str
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    first_error: str | None = None

    @property
    def calls(self) -> int:
        return self.ok + self.failed


@dataclass
class Burst:
    """Many events of one type, shown as one line."""

    type: str
    first_ts: float
    last_ts: float
    started: float  # the clock the coalescer runs on
    last_seen: float
    count: int = 0
    tallies: dict[str, HandlerTally] = field(default_factory=dict)

    def add(self, record: Record, now: float) -> None:
        self.count += 1
        self.last_ts = record.get("ts", self.last_ts)
        self.last_seen = now
        _tally(self.tallies, record)

    def merge(self, fold: Fold, now: float) -> None:
        """Take in a fold's events, as if they had been added one by one."""
        self.count += fold.count
        self.last_ts = fold.last_ts
        self.last_seen = now
        for name, theirs in fold.tallies.items():
            tally = self.tallies.get(name)
            if tally is None:
                tally = self.tallies[name] = HandlerTally(name)
            tally.ok += theirs.ok
            tally.failed += theirs.failed
            tally.seconds += theirs.seconds
            if tally.first_error is None:
                tally.first_error = theirs.first_error

    @property
    def seconds(self) -> float:
        return max(0.0, self.last_ts - self.first_ts)


@dataclass
class Fold:
    """Events of one type tallied as they arrive, once they are sure to end up in a burst line.

    The console keeps counts instead of the records themselves: thousands of records
    held until the next frame made the garbage collector walk them all (about a tenth
    of a burst's time).
    """

    type: str
    first_ts: float
    last_ts: float
    count: int = 0
    tallies: dict[str, HandlerTally] = field(default_factory=dict)

    def add(self, record: Record) -> None:
        """One more event (per event of a burst: plain dict reads)."""
        self.count += 1
        self.last_ts = record.get("ts", self.last_ts)
        _tally(self.tallies, record)


def _tally(tallies: dict[str, HandlerTally], record: Record) -> None:
    """Add one event's handler results to ``tallies`` (per event of a burst: kept to plain dict work)."""
    get = tallies.get
    for handler in record.get("handlers", ()):
        name = handler.get("plugin") or "-"
        tally = get(name)
        if tally is None:
            tally = tallies[name] = HandlerTally(name)
        if handler.get("ok", True):
            tally.ok += 1
        else:
            tally.failed += 1
            if tally.first_error is None:
                tally.first_error = handler.get("error")
        tally.seconds += handler.get("ms", 0.0) / 1000


@dataclass
class _TypeState:
    window_start: float = float("-inf")
    shown: int = 0
    last_seen: float = float("-inf")
    burst: Burst | None = None
    streaming: bool = False  # a burst just ended by its window: the next events continue it


class Coalescer:
    """Decides which event records print alone and which fold into a burst line.

    A type prints event by event until more than ``singles`` arrive within
    ``window`` seconds (or more than ``batch_singles`` in one flush); from then on
    its events fold into one line per ``window``, until the type has been quiet
    for ``quiet`` seconds. ``now`` is passed in, so tests run on a fake clock.
    """

    def __init__(self, window: float = 1.0, quiet: float = 0.5, singles: int = 10, batch_singles: int = 3) -> None:
        self.window = window
        self.quiet = quiet
        self.singles = singles
        self.batch_singles = batch_singles
        self._types: dict[str, _TypeState] = {}

    @property
    def pending(self) -> bool:
        """Whether a burst is open (the caller must come back to close it)."""
        return any(s.burst is not None or s.streaming for s in self._types.values())

    def feed(self, records: Sequence[Record | Fold], now: float) -> list[Record | Burst]:
        """Event records (and folds of them) in arrival order -> what to print now (records and finished bursts)."""
        out: list[Record | Burst] = []
        per_type: Counter[str] = Counter()
        for item in records:
            if isinstance(item, Fold):
                per_type[item.type] += item.count
            else:
                per_type[item["type"]] += 1
        for record in records:
            if isinstance(record, Fold):
                self._merge(record, now)
                continue
            kind = record["type"]
            state = self._types.get(kind)
            if state is None:
                state = self._types[kind] = _TypeState()
            if now - state.window_start >= self.window:
                state.window_start, state.shown = now, 0
            state.last_seen = now
            if state.burst is None and not state.streaming and state.shown < self.singles \
                    and per_type[kind] <= self.batch_singles:
                state.shown += 1
                out.append(record)
                continue
            if state.burst is None:
                ts = record.get("ts", now)
                state.burst = Burst(kind, ts, ts, now, now)
            state.burst.add(record, now)
        out.extend(self._close(now))
        return out

    def _merge(self, fold: Fold, now: float) -> None:
        state = self._types.get(fold.type)
        if state is None:
            state = self._types[fold.type] = _TypeState()
        if now - state.window_start >= self.window:
            state.window_start, state.shown = now, 0
        state.last_seen = now
        if state.burst is None:
            state.burst = Burst(fold.type, fold.first_ts, fold.first_ts, now, now)
        state.burst.merge(fold, now)

    def close_all(self) -> list[Burst]:
        """End every open burst now (the display is about to step aside or stop)."""
        done = [s.burst for s in self._types.values() if s.burst is not None]
        for state in self._types.values():
            state.burst, state.streaming = None, False
        return done

    def _close(self, now: float) -> list[Burst]:
        done: list[Burst] = []
        for state in self._types.values():
            burst = state.burst
            if burst is None:
                if state.streaming and now - state.last_seen >= self.quiet:
                    state.streaming = False
                continue
            if now - burst.last_seen >= self.quiet:
                done.append(burst)
                state.burst, state.streaming = None, False
            elif now - burst.started >= self.window:
                done.append(burst)
                state.burst, state.streaming = None, True
                state.window_start = now
        return done


# -- rendering -----------------------------------------------------------------------
def event_line(record: Record) -> Text:
    """``12:00:01 data.shared {"a":1} → audit_plugin ok 0.2 ms, example_plugin FAILED 0.1 ms (KeyError: 'x')``."""
    line = Text(no_wrap=False, overflow="fold")
    line.append(style.clock(record.get("ts")) + " ", style.TIME)
    line.append(record["type"], style.EVENT_TYPE)
    line.append(" " + preview(record.get("data"), PREVIEW))
    line.append(" → ", style.TIME)
    handlers = record.get("handlers") or []
    if not handlers:
        line.append("no handlers", style.TIME)
    for i, handler in enumerate(handlers):
        if i:
            line.append(", ")
        line.append(handler.get("plugin") or "-", style.PLUGIN)
        if handler.get("ok", True):
            line.append(" ok", style.OK)
        else:
            line.append(" FAILED", style.FAILED)
        line.append(f" {handler.get('ms', 0.0):.1f} ms", style.TIME)
        if handler.get("debugged"):
            line.append(" (debugged)", style.WARNING)  # the time stopped in the debugger is left out
        if not handler.get("ok", True) and handler.get("error"):
            line.append(f" ({handler['error']})", style.FAILED)
    return line


def burst_line(burst: Burst) -> Text:
    """``12:00:02 data.shared ×250 in 1.0 s → audit_plugin ok 250 (avg 0.1 ms)``."""
    line = Text(no_wrap=False, overflow="fold")
    line.append(style.clock(burst.first_ts) + " ", style.TIME)
    line.append(burst.type, style.EVENT_TYPE)
    line.append(f" ×{burst.count}", "bold")
    line.append(f" in {burst.seconds:.1f} s", style.TIME)
    line.append(" → ", style.TIME)
    if not burst.tallies:
        line.append("no handlers", style.TIME)
    for i, tally in enumerate(burst.tallies.values()):
        if i:
            line.append(", ")
        line.append(tally.plugin, style.PLUGIN)
        if tally.ok:
            line.append(f" ok {tally.ok}", style.OK)
        if tally.failed:
            line.append(f" FAILED {tally.failed}", style.FAILED)
        avg = tally.seconds / tally.calls * 1000 if tally.calls else 0.0
        line.append(f" (avg {avg:.2f} ms)", style.TIME)
        if tally.first_error:
            line.append(f" first error: {tally.first_error}", style.FAILED)
    return line


def paused_summary(counts: Counter[str]) -> Text:
    """What happened while the event stream was paused."""
    total = sum(counts.values())
    line = Text(f"event stream resumed: {total} event(s) while paused", "bold")
    if counts:
        line.append(" (" + ", ".join(f"{k} ×{v}" for k, v in counts.most_common(5)) + ")", style.TIME)
    return line
