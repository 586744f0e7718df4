"""Swaps that overlap an event's dispatch (found by the soak): every event still reaches each plugin once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from devnode.bus import Event
from faults.faultkit import FAULTY, PROBE, Bench, Expect, plugin_source

SLOW = '''
import asyncio

from dashboard.event_bus import EventType

GATE = asyncio.Event()


class Aaa_slow_pluginPlugin:
    """Its async handler can hold a dispatch open while other plugins swap."""

    def __init__(self, node):
        self.node = node

    def initialize(self):
        self.node.event_bus.subscribe(EventType.DATA_RECEIVED, self.on_event)

    def shutdown(self):
        self.node.event_bus.unsubscribe(EventType.DATA_RECEIVED, self.on_event)

    async def on_event(self, event):
        if event.data.get("probe") == -1:
            await GATE.wait()
'''


def test_plugin_swapped_while_an_event_waits_in_another_plugins_handler_gets_it_once(
    bench: Callable[..., Bench],
) -> None:
    b = bench(plugin_source("1"))
    b.edit("aaa_slow_plugin", SLOW.lstrip())
    b.run(b.h.host.reload([FAULTY]))  # v1 subscribes again, after the slow plugin: it is dispatched to later
    gate = b.h.host.slot_for_tests("aaa_slow_plugin").module.GATE  # type: ignore[union-attr]

    async def scenario() -> None:
        # the dispatch of probe -1 stops in aaa_slow_plugin, before reaching faulty v1
        dispatch = asyncio.get_running_loop().create_task(b.h.bus.publish(Event(PROBE, {"probe": -1})))
        await asyncio.sleep(0.01)
        assert not dispatch.done()
        (b.plugin_dir / f"{FAULTY}.py").write_text(plugin_source("2"))
        assert await b.h.host.reload([FAULTY]) == {FAULTY: True}
        gate.set()
        await dispatch

    b.run(scenario())
    b.settle()
    got = [(e["plugin"], e["version"]) for e in b.seen() if e["probe"] == -1]
    assert sorted(got) == [("faulty", "2"), ("witness", "1")], got  # not v1 (shut down), not lost, not twice
    b.survived(Expect(state="active", kind="plugin.reloaded", cause="", serving="2", file=None))


def test_plugin_swapped_twice_while_its_held_events_are_delivered(bench: Callable[..., Bench]) -> None:
    """Events held during one swap reach the version serving when their turn comes, even after another swap."""
    b = bench(plugin_source("1", async_handler=True, handler="await asyncio.sleep(0.01)"))

    async def scenario() -> None:
        (b.plugin_dir / f"{FAULTY}.py").write_text(plugin_source("2", async_handler=True,
                                                                 handler="await asyncio.sleep(0.01)"))
        # v1's async shutdown keeps the swap open while events arrive, so they are held
        b.h.host.get_plugin(FAULTY).shutdown = lambda: asyncio.sleep(0.05)  # type: ignore[method-assign]
        reload = asyncio.get_running_loop().create_task(b.h.host.reload([FAULTY]))
        await asyncio.sleep(0.01)
        for n in range(1, 6):
            await b.h.bus.publish(Event(PROBE, {"probe": -n}))
        assert await reload == {FAULTY: True}
        # while v2 works through the held events (each handler awaits), swap again to v3
        await asyncio.sleep(0.015)
        (b.plugin_dir / f"{FAULTY}.py").write_text(plugin_source("3"))
        assert await b.h.host.reload([FAULTY]) == {FAULTY: True}
        await asyncio.sleep(0.2)

    b.run(scenario())
    b.settle()
    for n in range(1, 6):
        got = [e["version"] for e in b.seen() if e["plugin"] == "faulty" and e["probe"] == -n]
        assert len(got) == 1 and got[0] in ("2", "3"), (n, got)
    b.survived(Expect(state="active", kind="plugin.reloaded", cause="", serving="3", file=None))
