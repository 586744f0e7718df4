"""The console tallies a run's events as they arrive once they can only end up in a burst line."""

from __future__ import annotations

import asyncio
import io
import random
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text

from devnode.ui.console import screen as screen_module
from devnode.ui.console.event_lines import Burst, Coalescer, Fold, burst_line, event_line
from devnode.ui.console.screen import Screen

TS = 1_800_000_000.0


def event(n: int, kind: str = "data.shared", ok: bool = True) -> dict[str, Any]:
    return {"kind": "event", "ts": TS + n / 1000, "type": kind, "data": {"n": n}, "handlers": [
        {"plugin": "audit_plugin", "handler": "A.on", "ok": True, "ms": 0.1 + n % 7 / 100, "error": None},
        {"plugin": "flaky_plugin", "handler": "F.on", "ok": ok, "ms": 0.2, "error": None if ok else f"KeyError: {n}"},
    ]}


def console(out: io.StringIO) -> Console:
    return Console(file=out, width=200, color_system=None, force_terminal=True, highlight=False)


def screen_output(script: list[Any], paused: bool = False, on_frame: Any = None) -> tuple[str, int, Screen]:
    """Records through the console's screen (flushing at each ``None``); what it printed and its longest queue."""
    out = io.StringIO()
    screen = Screen(console(out), lambda: Text(""))
    screen.paused = paused
    longest = 0

    async def main() -> None:
        nonlocal longest
        screen.start(asyncio.get_running_loop())
        for record in script:
            if record is None:
                screen.flush()
                if on_frame is not None:
                    on_frame()
            elif record["kind"] == "event":
                screen.put_event(record)
            else:
                screen.put(record, Text(record["text"]))
            longest = max(longest, len(screen.queue))
        screen.flush(final=True)

    asyncio.run(main())
    return out.getvalue(), longest, screen


def test_a_long_run_is_held_as_counts_not_records() -> None:
    script: list[Any] = [event(n) for n in range(5000)]
    _, longest, _ = screen_output(script)
    assert longest <= 5  # the first events as they came, then one fold


class FrameClock:
    """The screen's clock, moved on 0.3 s a frame, so both sides see the same windows however slow the machine."""

    now = 0.0

    @classmethod
    def monotonic(cls) -> float:
        return cls.now

    @classmethod
    def advance(cls) -> None:
        cls.now += 0.3

    @staticmethod
    def time() -> float:
        return TS


def test_what_prints_is_the_same_as_feeding_the_records_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(screen_module, "time", FrameClock)
    monkeypatch.setattr(FrameClock, "now", 0.0)
    rng = random.Random(7)
    script: list[Any] = []
    for n in range(3000):
        roll = rng.random()
        if roll < 0.01:
            script.append(None)  # a frame
        elif roll < 0.015:
            script.append({"kind": "console.line", "ts": TS, "text": f"line {n}"})  # another record splits the run
        else:
            script.append(event(n, rng.choice(["data.shared", "data.shared", "peer.connected"]), ok=rng.random() > 0.1))
    printed, _, _ = screen_output(script, on_frame=FrameClock.advance)

    # The same records fed to a coalescer as records, run by run, as the screen did before folding.
    coalescer, expected = Coalescer(), []
    run: list[Any] = []
    now = 0.0
    for record in [*script, None]:
        if record is None or record["kind"] != "event":
            expected += coalescer.feed(run, now)
            run = []
            if record is not None:
                expected.append(record["text"])
            else:
                now += 0.3
        else:
            run.append(record)
    expected += coalescer.close_all()
    bursts = [e for e in expected if isinstance(e, Burst)]
    assert len(bursts) > 5 and any(b.tallies["flaky_plugin"].failed for b in bursts)
    out = io.StringIO()
    for item in expected:
        console(out).print(burst_line(item) if isinstance(item, Burst) else event_line(item) if isinstance(item, dict)
                           else Text(item))
    assert printed == out.getvalue()


def test_paused_counts_include_folded_events() -> None:
    _, _, screen = screen_output([event(n) for n in range(100)], paused=True)
    assert screen.paused_counts["data.shared"] == 100


def test_a_fold_merged_into_a_burst_matches_adding_its_records() -> None:
    records = [event(n, ok=n % 3 != 0) for n in range(1, 50)]
    one_by_one = Burst("data.shared", TS, TS, 0.0, 0.0)
    for record in records:
        one_by_one.add(record, 1.0)
    fold = Fold("data.shared", records[0]["ts"], records[0]["ts"])
    for record in records:
        fold.add(record)
    merged = Burst("data.shared", TS, TS, 0.0, 0.0)
    merged.merge(fold, 1.0)
    assert merged == one_by_one
