"""Event delivery on the real ``devnode run`` path against the same callbacks in a bare loop.

The bus side is the path a running node takes: a ``Runtime`` built as ``devnode run``
builds it (recorder off), with its UI (``--ui json`` by default, its output to
/dev/null), the reporter, the host's error observer and the runtime's event records,
and the plugins loaded from disk by the host, so every handler runs under its
plugin's ledger and is timed. The bare side calls the very same subscribed callbacks
(``await cb(event)`` for async ones, ``cb(event)`` otherwise), in the same process,
with the same logging, for the same events. Rounds alternate; medians are reported
with the ratio of the times, bus/bare (goal: at most 1.5), by the wall clock and by
the CPU time of the loop's thread: on a busy machine the wall clock also counts the
time the process waited for a core, which the CPU time leaves out.

Two handler sets:
  bundled  the bundled plugins (plugins/): audit appends each event to a file,
           example logs each share, metrics counts, configurable logs what it watches;
  light    two plugins with 5 async + 5 sync handlers each that count and read the
           payload (like metrics): the dispatch and UI overhead dominate here.

    .venv/bin/python scripts/bench_bus.py                       # both sets, --ui json
    .venv/bin/python scripts/bench_bus.py --ui rich --set light # the rich console's observers (to /dev/null)
    .venv/bin/python scripts/bench_bus.py --profile             # cProfile of the bus side
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import inspect
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devnode.bus import Event, EventBus, EventType  # noqa: E402

GOAL = 1.5

LIGHT_PLUGIN = '''\
"""Light handlers, like the metrics plugin's: count and read the payload."""

from dashboard.event_bus import EventType


class {cls}:
    def __init__(self, node):
        self.node = node
        self.counts = {{}}

    def _body(self, event):
        kind = event.type.value
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if not event.data.get("data_hash", "").startswith("0x"):
            self.counts["odd"] = self.counts.get("odd", 0) + 1

{methods}
    def initialize(self):
        for name in dir(self):
            if name.startswith("on_"):
                self.node.event_bus.subscribe(EventType.DATA_SHARED, getattr(self, name))

    def shutdown(self):
        for name in dir(self):
            if name.startswith("on_"):
                self.node.event_bus.unsubscribe(EventType.DATA_SHARED, getattr(self, name))
'''


def light_plugin(name: str, n_async: int, n_sync: int) -> str:
    methods = "".join(f"    async def on_async_{i}(self, event):\n        self._body(event)\n\n" for i in range(n_async))
    methods += "".join(f"    def on_sync_{i}(self, event):\n        self._body(event)\n\n" for i in range(n_sync))
    return LIGHT_PLUGIN.format(cls=name.capitalize() + "Plugin", methods=methods)


def plugin_dir_for(which: str, root: Path) -> Path:
    plugin_dir = root / which / "plugins"
    if which == "bundled":
        shutil.copytree(ROOT / "plugins", plugin_dir, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        plugin_dir.mkdir(parents=True)
        for name in ("light_a_plugin", "light_b_plugin"):
            (plugin_dir / f"{name}.py").write_text(light_plugin(name, 5, 5))
    return plugin_dir


def events_for(which: str, count: int) -> list[Event]:
    """Events shaped like the node's own (node.share_data, receive, transfers)."""
    kinds = [EventType.DATA_SHARED] if which == "light" else [
        EventType.DATA_SHARED, EventType.DATA_RECEIVED, EventType.DATA_SHARED, EventType.TRANSFER_COMPLETED]
    events = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        data: dict[str, Any] = {"data_hash": f"0x{i:064x}"}
        if kind is EventType.DATA_SHARED:
            data |= {"recipient": "peer1", "compliance_tx_hash": f"0x{i + 7:064x}"}
        elif kind is EventType.DATA_RECEIVED:
            data |= {"sender": "peer2"}
        else:
            data = {"token": "0x" + "0" * 39 + "1", "to": "0x" + "ab" * 20, "amount": i}
        events.append(Event(kind, data))
    return events


class RunningNode:
    """A ``Runtime`` as ``devnode run --ui UI`` builds it, running on this loop until ``stop``."""

    def __init__(self, plugin_dir: Path, ui_name: str) -> None:
        from devnode.config import load_config
        from devnode.runtime import RunOptions, Runtime

        self.sink = open(os.devnull, "w")  # noqa: SIM115 - closed in stop()
        on_start = None
        if ui_name == "rich":
            from devnode.ui.console import RichConsole

            self.ui: Any = RichConsole(self.sink, keys_fd=None, force_terminal=True)
            on_start = self.ui.attach
        elif ui_name == "plain":
            from devnode.ui.plain import PlainUI

            self.ui = PlainUI(self.sink)
        else:
            from devnode.ui.jsonl import JsonUI

            self.ui = JsonUI(self.sink)
        config = load_config({"plugin_dir": str(plugin_dir), "data_dir": str(plugin_dir.parent / "data")})
        options = RunOptions(watch=False, read_commands=False)
        self.runtime = Runtime(config, options, self.ui, commands_in=None, on_start=on_start)
        self._ready = asyncio.Event()
        self.runtime.reporter.add_sink(lambda r: self._ready.set() if r["kind"] == "node.ready" else None)

    async def start(self) -> EventBus:
        self._task = asyncio.ensure_future(self.runtime.run())
        await asyncio.wait_for(self._ready.wait(), 60)
        return self.runtime.node.event_bus

    async def stop(self) -> None:
        self.runtime.request_stop()
        await self._task
        if hasattr(self.ui, "close"):
            self.ui.close()
        self.sink.close()


async def through_bus(bus: EventBus, events: list[Event]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the loop's thread) to publish ``events``."""
    publish = bus.publish
    start, cpu = time.perf_counter(), time.thread_time()
    for n, event in enumerate(events, 1):
        await publish(event)
        if n % 100 == 0:
            await asyncio.sleep(0)  # as a real burst does: the loop (and the UI's flushes) get their turn
    await asyncio.sleep(0)  # the UI's last deferred write of the round
    return time.perf_counter() - start, time.thread_time() - cpu


async def bare_loop(handlers: dict[EventType, list[tuple[Any, bool]]], events: list[Event]) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.thread_time()
    for n, event in enumerate(events, 1):
        for callback, is_async in handlers[event.type]:
            if is_async:
                await callback(event)
            else:
                callback(event)
        if n % 100 == 0:
            await asyncio.sleep(0)
    await asyncio.sleep(0)
    return time.perf_counter() - start, time.thread_time() - cpu


def same_callbacks(bus: EventBus, events: list[Event]) -> dict[EventType, list[tuple[Any, bool]]]:
    """The callbacks the bus would call for each event type, in its order."""
    types = {e.type for e in events}
    return {t: [(s.callback, inspect.iscoroutinefunction(s.callback)) for s in bus._snapshot(t)] for t in types}


async def measure(which: str, ui_name: str, count: int, rounds: int, root: Path) -> dict[str, Any]:
    node = RunningNode(plugin_dir_for(which, root), ui_name)
    bus = await node.start()
    try:
        events = events_for(which, count)
        handlers = same_callbacks(bus, events)
        await through_bus(bus, events[: count // 5])  # warm both paths up
        await bare_loop(handlers, events[: count // 5])
        times: dict[str, list[tuple[float, float]]] = {"bus": [], "bare": []}
        for round_no in range(rounds):
            sides = ["bus", "bare"] if round_no % 2 == 0 else ["bare", "bus"]  # alternate: drift favours neither
            for side in sides:
                spent = await (through_bus(bus, events) if side == "bus" else bare_loop(handlers, events))
                times[side].append(spent)
                await asyncio.sleep(0.05)  # let the UI drain what the round produced
        per_type = {t.value: len(h) for t, h in handlers.items()}
    finally:
        await node.stop()
    result: dict[str, Any] = {"handlers": per_type}
    for clock, i in (("wall", 0), ("cpu", 1)):
        bus_s, bare_s = [t[i] for t in times["bus"]], [t[i] for t in times["bare"]]
        result[clock] = {"bus": count / statistics.median(bus_s), "bare": count / statistics.median(bare_s),
                         "ratio": statistics.median(b / a for b, a in zip(bus_s, bare_s))}
    return result


def profile(which: str, ui_name: str, count: int, root: Path) -> None:
    async def run() -> None:
        node = RunningNode(plugin_dir_for(which, root), ui_name)
        bus = await node.start()
        events = events_for(which, count)
        profiler = cProfile.Profile()
        profiler.enable()
        await through_bus(bus, events)
        profiler.disable()
        await node.stop()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)

    asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=["bundled", "light", "both"], default="both", help="handler set (default both)")
    parser.add_argument("--ui", choices=["json", "plain", "rich"], default="json",
                        help="the UI observing the bus, its output to /dev/null (default json)")
    parser.add_argument("--events", type=int, default=5000, help="events per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="profile the bus side instead of timing it")
    args = parser.parse_args(argv)
    sets = ["bundled", "light"] if args.set == "both" else [args.set]
    with tempfile.TemporaryDirectory(prefix="devnode-bench-bus-") as tmp:
        for which in sets:
            if args.profile:
                profile(which, args.ui, args.events, Path(tmp))
                continue
            result = asyncio.run(measure(which, args.ui, args.events, args.rounds, Path(tmp)))
            handlers = ", ".join(f"{k} x{v}" for k, v in sorted(result["handlers"].items()))
            print(f"{which} handlers ({handlers}); devnode run path with --ui {args.ui} (output to /dev/null); "
                  f"{args.rounds} rounds x {args.events} events, medians")
            for clock, label in (("wall", "wall clock"), ("cpu", "CPU time of the loop's thread")):
                figures = result[clock]
                verdict = "within" if figures["ratio"] <= GOAL else "OUTSIDE"
                print(f"  {label}:")
                print(f"    EventBus.publish : {figures['bus']:>10,.0f} events/s")
                print(f"    bare loop        : {figures['bare']:>10,.0f} events/s")
                print(f"    ratio bus/bare   : {figures['ratio']:.2f}x ({verdict} the {GOAL}x goal)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
