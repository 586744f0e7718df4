"""Faults in a plugin that loaded fine: its handlers, tasks and shutdown misbehave while it serves."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import wait_until

from devnode.ownership import reset_current, set_current
from faults.faultkit import FAULTY, PROBE, Bench, Expect, plugin_source

HANDLER_FAULTS = {
    "exception-in-sync-handler": (dict(handler="raise LookupError('no such record')"), "LookupError: no such record"),
    "exception-in-async-handler": (dict(handler="await asyncio.sleep(0)\nraise LookupError('async boom')",
                                        async_handler=True), "LookupError: async boom"),
    "sys-exit-in-handler": (dict(handler="sys.exit(2)"), "SystemExit"),
    "keyboard-interrupt-in-handler": (dict(handler="raise KeyboardInterrupt"), "KeyboardInterrupt"),
    "wrong-handler-signature": (dict(initialize="self.node.event_bus.subscribe(EventType.DATA_RECEIVED, self.two_args)",
                                     methods="def two_args(self, event, extra):\n    pass"), "TypeError"),
}


@pytest.mark.parametrize("name", HANDLER_FAULTS)
def test_failing_handler_is_reported_with_its_line_and_keeps_serving(bench: Callable[..., Bench], name: str) -> None:
    slots, cause = HANDLER_FAULTS[name]
    b = bench(plugin_source("1"))
    source = plugin_source("2", **slots)  # type: ignore[arg-type]
    b.edit(FAULTY, source)
    b.probe()
    b.probe()  # a second failure of the same kind is counted, not reported again

    record = b.survived(Expect(state="active", kind="plugin.error", cause=cause, serving="2"))
    assert record["phase"] == "handler" and record["running"] == "current" and record["event"] == "data.received"
    assert record["line"] is not None and record["code"], record
    assert record["hint"]
    assert len(b.kinds("plugin.error", FAULTY)) == 1
    assert b.status()[FAULTY]["errors"] >= 3


TASK_FAULTS = {
    "exception-in-task": ("raise ConnectionError('backend unreachable')", "ConnectionError: backend unreachable"),
    "sys-exit-in-task": ("sys.exit(1)", "SystemExit"),
    "keyboard-interrupt-in-task": ("raise KeyboardInterrupt", "KeyboardInterrupt"),
}


@pytest.mark.parametrize("name", TASK_FAULTS)
def test_failing_task_is_reported_and_does_not_stop_the_node(bench: Callable[..., Bench], name: str) -> None:
    body, cause = TASK_FAULTS[name]
    b = bench(plugin_source("1"))
    b.edit(FAULTY, plugin_source(
        "2", initialize="self.task = asyncio.get_running_loop().create_task(self.work())",
        methods=f"async def work(self):\n    await asyncio.sleep(0)\n    {body}",
    ))
    b.settle()
    record = b.survived(Expect(state="active", kind="plugin.error", cause=cause, serving="2"))
    assert record["phase"] == "task" and "work" in (record["code"] or "") + record["traceback"] + str(record["line"])
    assert record["line"] == 43 or body.split("(")[0] in (record["code"] or ""), record


def test_handler_that_unsubscribes_itself_stops_receiving_without_error(bench: Callable[..., Bench]) -> None:
    b = bench(plugin_source("1"))
    b.edit(FAULTY, plugin_source("2", handler="self.node.event_bus.unsubscribe(EventType.DATA_RECEIVED, self.on_event)"))
    first = b.probe()
    assert ("faulty", "2") in first
    b.survived(Expect(state="active", kind="plugin.reloaded", cause="", serving=None, file=None))
    assert b.status()[FAULTY]["subscriptions"] == 0 and not b.kinds("plugin.error")


def test_handler_that_subscribes_more_handlers_while_handling(bench: Callable[..., Bench]) -> None:
    b = bench(plugin_source("1"))
    b.edit(FAULTY, plugin_source(
        "2", handler="self.extra.append(lambda e: None)\n"
                     "self.node.event_bus.subscribe(EventType.DATA_RECEIVED, self.extra[-1])",
        construct="self.extra = []",
    ))
    for _ in range(3):
        b.probe()
    # every one is the plugin's own, and a reload sweeps them all
    assert b.status()[FAULTY]["subscriptions"] == 1 + 3
    before = b.h.bus.subscriber_count
    b.edit(FAULTY, plugin_source("3"))
    assert b.h.bus.subscriber_count == before - 3  # v2's own handler is replaced by v3's; its 3 extras are gone
    record = b.survived(Expect(state="active", kind="warning", code="cleanup", cause="left 3 subscriptions behind",
                               serving="3"))
    assert len(record["cleaned"]["subscriptions"]) == 3


def test_handler_that_publishes_its_own_event_hits_the_recursion_guard(bench: Callable[..., Bench]) -> None:
    b = bench(plugin_source("1"))
    b.edit(FAULTY, plugin_source(
        "2", async_handler=True,
        handler="await self.node.event_bus.publish(Event(EventType.DATA_RECEIVED, dict(event.data)))",
    ))
    record = b.survived(Expect(state="active", kind="plugin.error", cause="PublishLoopError", serving="2"))
    assert "levels deep" in record["error"] and record["line"] is not None
    assert len(b.kinds("plugin.error", FAULTY)) == 1  # 30-odd nested failures, one report


def test_exception_in_shutdown_is_reported_and_the_new_version_still_starts(bench: Callable[..., Bench]) -> None:
    b = bench(plugin_source("1", shutdown="raise RuntimeError('cannot flush buffer')"))
    subscriptions = b.h.bus.subscriber_count
    b.edit(FAULTY, plugin_source("2"))
    record = b.survived(Expect(state="active", kind="plugin.failed", cause="cannot flush buffer", serving="2"))
    assert record["phase"] == "shutdown" and record["line"] is not None
    assert any(w.get("code") == "shutdown-raises" for w in b.kinds("warning", FAULTY))
    assert b.h.bus.subscriber_count == subscriptions  # v1 never unsubscribed; devnode swept it


STALLS = {  # each blocks on the first event only, so the later probes run at full speed
    "infinite-loop-in-handler": (dict(handler="while self.first:\n    pass"), ("while self.first",)),
    "blocking-sleep-in-handler": (dict(handler="if self.first:\n    time.sleep(60)"), ("time.sleep(60)",)),
    "infinite-loop-in-async-handler": (dict(handler="while self.first:\n    x = 1", async_handler=True),
                                       ("while self.first", "x = 1")),
}


@pytest.mark.parametrize("name", STALLS)
def test_handler_blocking_the_loop_is_reported_then_interrupted(bench: Callable[..., Bench], name: str) -> None:
    slots, code = STALLS[name]
    b = bench(plugin_source("1"))
    b.edit(FAULTY, plugin_source("2", construct="self.first = True",
                                 methods="def handled(self):\n    self.first = False", **slots))  # type: ignore[arg-type]
    # the flag is cleared after the probe by a second handler of the same plugin
    b.run(_after_first_probe(b))
    b.probe()

    stall = b.survived(Expect(state="active", kind="warning", code="stall", cause="blocked the event loop",
                              serving="2"))
    assert stall["plugin"] == FAULTY and stall["line"] is not None
    assert any(f"({line}" in stall["message"] for line in code), stall["message"]
    assert "faulty_plugin.py" in stall["stack"]
    error = b.survived(Expect(state="active", kind="plugin.error", cause="PluginStalledError", serving="2"))
    assert error["phase"] == "handler" and "devnode interrupted it" in error["error"]
    assert error["code"].strip().startswith(code), error["code"]
    wait_until(lambda: b.kinds("warning", FAULTY)[-1]["code"] == "stall-ended", what="stall-ended")
    assert len(b.kinds("plugin.error", FAULTY)) == 1 and b.watchdog.interrupts == 1


async def _after_first_probe(b: Bench) -> None:
    """Subscribe, as the faulty plugin, a handler that ends its stall once the interrupt is through."""
    instance = b.h.host.get_plugin(FAULTY)
    token = set_current(b.h.host.slot_for_tests(FAULTY).ledger)
    try:
        b.h.bus.subscribe(PROBE, lambda event: instance.handled())
    finally:
        reset_current(token)


def test_task_blocking_the_loop_is_named_by_its_owner(bench: Callable[..., Bench]) -> None:
    b = bench(plugin_source("1"))
    b.edit(FAULTY, plugin_source(
        "2", initialize="self.task = asyncio.get_running_loop().create_task(self.crunch())",
        methods="async def crunch(self):\n    await asyncio.sleep(0)\n    time.sleep(60)",
    ))
    b.settle()
    stall = b.survived(Expect(state="active", kind="warning", code="stall", cause="time.sleep(60)", serving="2"))
    assert stall["plugin"] == FAULTY
    b.survived(Expect(state="active", kind="plugin.error", cause="PluginStalledError", serving="2"))


def test_infinite_loop_in_module_body_fails_the_load_and_keeps_the_previous_version(
    bench: Callable[..., Bench],
) -> None:
    b = bench(plugin_source("1"))
    source = plugin_source("2", module="while True:\n    pass")
    b.edit(FAULTY, source)
    record = b.survived(Expect(state="failed-running-previous", kind="plugin.failed", cause="PluginStalledError",
                               serving="1"))
    assert record["phase"] == "import" and record["line"] in (11, 12)
    assert "stall" in [w["code"] for w in b.kinds("warning", FAULTY)]


def test_blocking_helper_call_is_blamed_on_the_plugin_that_called_it(bench: Callable[..., Bench]) -> None:
    """The owner is the current ledger, not just the innermost file: the helper has no plugin of its own."""
    b = bench(plugin_source("1"))
    b.write("_slow.py", "import time\n\n\ndef crunch():\n    time.sleep(60)\n")
    b.edit(FAULTY, plugin_source("2", imports="from plugins import _slow", handler="_slow.crunch()"))
    b.probe()
    stall = b.survived(Expect(state="active", kind="warning", code="stall", cause="blocked the event loop",
                              serving="2", file="plugins/_slow.py"))
    assert stall["plugin"] == FAULTY
    assert "faulty_plugin.py" in stall["stack"] and "_slow.py" in stall["stack"]
