"""Event bus throughput: ``EventBus.publish`` (ownership and per-handler timing on) against a bare loop.

Both sides call the same handlers (10 async, 10 sync by default) for the same
events in the same process. The bus side subscribes them under a plugin's
ledger, as the plugin host does, so every dispatch runs with the owner set and
times each handler. The bare side is ``for h in handlers: await h(event)``
(sync handlers called directly). Rounds alternate between the two; the
medians are reported, with the ratio bare/bus (the goal is at most 1.5).

    .venv/bin/python scripts/bench_bus.py                # light handlers (count, read the payload)
    .venv/bin/python scripts/bench_bus.py --work json    # handlers that serialise the event, like the audit plugin
    .venv/bin/python scripts/bench_bus.py --work empty   # empty handlers: pure dispatch overhead
    .venv/bin/python scripts/bench_bus.py --profile      # cProfile of the bus side
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devnode.events import Event, EventBus, EventType  # noqa: E402
from devnode.ownership import Ledger, reset_current, set_current  # noqa: E402

GOAL = 1.5
Handler = Callable[[Event], Any]


def make_handlers(n_async: int, n_sync: int, work: str) -> list[Handler]:
    """Handlers shaped like the bundled plugins': light (metrics: count, read the payload), json (audit:
    serialise the event, without the file write), or empty."""
    counts: dict[str, int] = {}
    handlers: list[Handler] = []

    def light_body(event: Event) -> None:
        kind = event.type.value
        counts[kind] = counts.get(kind, 0) + 1
        data_hash = event.data.get("data_hash", "")
        if not data_hash.startswith("0x"):
            counts["odd"] = counts.get("odd", 0) + 1

    def json_body(event: Event) -> None:
        light_body(event)
        counts["bytes"] = counts.get("bytes", 0) + len(json.dumps({"event": event.type.value, "data": event.data}))

    realistic_body = json_body if work == "json" else light_body

    for i in range(n_async):
        if work == "empty":
            async def handler(event: Event) -> None:
                pass
        else:
            async def handler(event: Event, _body: Callable[[Event], None] = realistic_body) -> None:
                _body(event)
        handler.__qualname__ = f"async_handler_{i}"
        handlers.append(handler)
    for i in range(n_sync):
        if work == "empty":
            def sync_handler(event: Event) -> None:
                pass
        else:
            def sync_handler(event: Event, _body: Callable[[Event], None] = realistic_body) -> None:
                _body(event)
        sync_handler.__qualname__ = f"sync_handler_{i}"
        handlers.append(sync_handler)
    return handlers


def bus_for(handlers: list[Handler], plugins: int) -> EventBus:
    """Subscribe the handlers as ``plugins`` plugins' initialize() would: under their ledgers."""
    bus = EventBus()
    ledgers = [Ledger(f"bench_plugin_{i}") for i in range(plugins)]
    per_plugin = -(-len(handlers) // plugins)
    for index, handler in enumerate(handlers):
        token = set_current(ledgers[index // per_plugin])
        try:
            bus.subscribe(EventType.DATA_SHARED, handler)
        finally:
            reset_current(token)
    return bus


async def through_bus(bus: EventBus, events: list[Event]) -> float:
    publish = bus.publish
    start = time.perf_counter()
    for event in events:
        await publish(event)
    return time.perf_counter() - start


async def bare_loop(handlers: list[Handler], events: list[Event]) -> float:
    is_async = [asyncio.iscoroutinefunction(h) for h in handlers]
    pairs = list(zip(handlers, is_async))
    start = time.perf_counter()
    for event in events:
        for handler, awaited in pairs:
            if awaited:
                await handler(event)
            else:
                handler(event)
    return time.perf_counter() - start


async def measure(args: argparse.Namespace) -> dict[str, float]:
    handlers = make_handlers(args.async_handlers, args.sync_handlers, args.work)
    bus = bus_for(handlers, args.plugins)
    events = [Event(EventType.DATA_SHARED, {"data_hash": f"{i:064x}", "recipient": "peer1"}) for i in range(args.events)]
    await through_bus(bus, events[:1000])  # warm up both paths
    await bare_loop(handlers, events[:1000])
    bus_rates: list[float] = []
    bare_rates: list[float] = []
    for round_no in range(args.rounds):
        # alternate the order so drift (CPU frequency, caches) does not favour one side
        if round_no % 2 == 0:
            bus_rates.append(args.events / await through_bus(bus, events))
            bare_rates.append(args.events / await bare_loop(handlers, events))
        else:
            bare_rates.append(args.events / await bare_loop(handlers, events))
            bus_rates.append(args.events / await through_bus(bus, events))
    ratios = [bare / bus for bare, bus in zip(bare_rates, bus_rates)]
    return {
        "bus": statistics.median(bus_rates),
        "bare": statistics.median(bare_rates),
        "ratio": statistics.median(ratios),
    }


def profile(args: argparse.Namespace) -> None:
    handlers = make_handlers(args.async_handlers, args.sync_handlers, args.work)
    bus = bus_for(handlers, args.plugins)
    events = [Event(EventType.DATA_SHARED, {"data_hash": f"{i:064x}"}) for i in range(args.events)]
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(through_bus(bus, events))
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--async-handlers", type=int, default=10)
    parser.add_argument("--sync-handlers", type=int, default=10)
    parser.add_argument("--plugins", type=int, default=1, help="spread the handlers over this many plugin ledgers")
    parser.add_argument("--work", choices=["light", "json", "empty"], default="light",
                        help="handler bodies: light like the metrics plugin's (default), json like the audit "
                             "plugin's, or empty (pure dispatch overhead)")
    parser.add_argument("--events", type=int, default=5000, help="events per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="profile the bus side instead of timing it")
    args = parser.parse_args(argv)
    if args.profile:
        profile(args)
        return 0
    result = asyncio.run(measure(args))
    print(f"handlers: {args.async_handlers} async + {args.sync_handlers} sync ({args.work} bodies), "
          f"{args.plugins} plugin ledger(s); {args.rounds} rounds x {args.events} events, medians")
    print(f"  EventBus.publish : {result['bus']:>10,.0f} events/s")
    print(f"  bare loop        : {result['bare']:>10,.0f} events/s")
    verdict = "within" if result["ratio"] <= GOAL else "OUTSIDE"
    print(f"  ratio bare/bus   : {result['ratio']:.2f}x ({verdict} the {GOAL}x goal)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
