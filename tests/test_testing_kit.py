"""DevNodeKit, the engine behind the pytest fixtures: loading, driving and the end-of-test verdict."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write_plugin

from devnode import Event, EventType
from devnode.testing import DevNodeKit, HandlerError, KitUsageError, PluginLoadError

COUNTER = """
    from dashboard.event_bus import EventType

    class Counter_pluginPlugin:
        def __init__(self, node):
            self.node = node
            self.seen = 0

        def initialize(self):
            self.node.event_bus.subscribe(EventType.HEALTH_UPDATE, self.on_health)

        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.HEALTH_UPDATE, self.on_health)

        def devnode_save_state(self):
            return self.seen

        def devnode_restore_state(self, seen):
            self.seen = seen

        def on_health(self, event):
            self.seen += 1
"""


@pytest.fixture
def kit(plugin_dir: Path, tmp_path: Path) -> Iterator[DevNodeKit]:
    k = DevNodeKit(plugin_dir, tmp_path / "data")
    try:
        yield k
    finally:
        k.close()


def test_load_by_name_and_by_path_returns_the_live_instance(kit: DevNodeKit, plugin_dir: Path) -> None:
    path = write_plugin(plugin_dir, "counter_plugin", COUNTER)

    by_name = kit.load("counter_plugin")
    by_path = kit.load(path)

    assert by_name is by_path is kit.node.plugin_manager.get_plugin("counter_plugin")
    assert kit.finish() == []


def test_load_by_path_uses_that_files_directory(kit: DevNodeKit, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "plugins"
    elsewhere.mkdir(parents=True)
    path = write_plugin(elsewhere, "counter_plugin", COUNTER)

    kit.load(path)

    assert kit.plugin_dir == elsewhere.resolve()
    assert kit.node.config.plugin_dir == str(elsewhere.resolve())


def test_unknown_plugin_name_lists_what_is_there(kit: DevNodeKit, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "counter_plugin", COUNTER)

    with pytest.raises(KitUsageError, match='no plugin "counter" .*counter_plugin.*did you mean "counter_plugin"'):
        kit.load("counter")


def test_a_plugin_that_fails_to_load_raises_with_devnodes_diagnosis(kit: DevNodeKit, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "guide_plugin", """
        class Guide_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on)

            def shutdown(self):
                pass

            def on(self, event):
                pass
    """)

    with pytest.raises(PluginLoadError) as failure:
        kit.load("guide_plugin")

    message = str(failure.value)
    assert "NameError: name 'EventType' is not defined" in message
    assert "guide_plugin.py:6" in message
    assert "from dashboard.event_bus import EventType" in message
    assert failure.value.record is not None and failure.value.record["phase"] == "initialize"


def test_reload_carries_state_and_returns_the_new_instance(kit: DevNodeKit, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "counter_plugin", COUNTER)
    old = kit.load("counter_plugin")
    kit.publish(EventType.HEALTH_UPDATE)

    new = kit.reload("counter_plugin")
    kit.publish(EventType.HEALTH_UPDATE)

    assert new is not old and type(new) is not type(old)
    assert new.seen == 2
    assert kit.events.last(EventType.HEALTH_UPDATE).handled_by == ["counter_plugin"]
    del old
    assert kit.finish() == []


def test_a_failed_reload_raises_and_the_previous_version_keeps_serving(kit: DevNodeKit, plugin_dir: Path) -> None:
    path = write_plugin(plugin_dir, "counter_plugin", COUNTER)
    kit.load("counter_plugin")
    path.write_text(path.read_text().replace("def shutdown(self):", "def shutdown(self) oops:"))

    with pytest.raises(PluginLoadError, match="SyntaxError.*\n.*counter_plugin.py:11(.|\n)*previous version keeps running"):
        kit.reload("counter_plugin")

    assert kit.publish(EventType.HEALTH_UPDATE).handled_by == ["counter_plugin"]
    assert kit.finish() == []


def test_publish_waits_for_tasks_the_handlers_started(kit: DevNodeKit, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "later_plugin", """
        import asyncio
        from dashboard.event_bus import EventType

        class Later_pluginPlugin:
            def __init__(self, node):
                self.node = node
                self.done = []

            def initialize(self):
                self.node.event_bus.subscribe(EventType.DATA_RECEIVED, self.on)

            def shutdown(self):
                self.node.event_bus.unsubscribe(EventType.DATA_RECEIVED, self.on)

            def on(self, event):
                asyncio.get_running_loop().create_task(self.slowly(event.data["n"]))

            async def slowly(self, n):
                await asyncio.sleep(0.05)
                self.done.append(n)
    """)
    plugin = kit.load("later_plugin")

    kit.publish(EventType.DATA_RECEIVED, {"n": 1})

    assert plugin.done == [1]


def test_call_runs_sync_node_methods_on_the_loop_so_their_events_are_delivered(kit: DevNodeKit, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "audit_plugin", """
        from dashboard.event_bus import EventType

        class Audit_pluginPlugin:
            def __init__(self, node):
                self.node = node
                self.transfers = []

            def initialize(self):
                self.node.event_bus.subscribe(EventType.TRANSFER_COMPLETED, self.on)

            def shutdown(self):
                self.node.event_bus.unsubscribe(EventType.TRANSFER_COMPLETED, self.on)

            def on(self, event):
                self.transfers.append(event.data["amount"])
    """)
    plugin = kit.load("audit_plugin")
    own = kit.node.blockchain_interface.account.address

    tx_hash = kit.call(kit.node.share_data, "paid", own, payment_token=kit.node.get_native_token_address(),
                       payment_amount=7)

    assert len(tx_hash) == 64
    assert plugin.transfers == ["7"]  # production publishes the amount as str
    assert kit.events.types()[:2] == ["token.transfer_completed", "data.shared"]


def test_handler_errors_raise_unless_check_is_false(kit: DevNodeKit, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "broken_plugin", """
        from dashboard.event_bus import EventType

        class Broken_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                self.node.event_bus.subscribe(EventType.ERROR, self.on)

            def shutdown(self):
                self.node.event_bus.unsubscribe(EventType.ERROR, self.on)

            def on(self, event):
                return event.data["missing"]
    """)
    kit.load("broken_plugin")

    with pytest.raises(HandlerError, match=r"broken_plugin: Broken_pluginPlugin.on raised on system.error: KeyError: 'missing'"):
        kit.publish(EventType.ERROR, {})
    recorded = kit.publish("system.error", {}, check=False)

    assert recorded.handled_by == [] and recorded.failed[0].plugin == "broken_plugin"
    assert "broken_plugin.py" in (recorded.failed[0].traceback or "")


def test_sync_helpers_refuse_to_run_inside_the_running_loop(kit: DevNodeKit) -> None:
    async def misuse() -> None:
        kit.publish(EventType.HEALTH_UPDATE)

    with pytest.raises(KitUsageError, match=r"await devnode.apublish"):
        kit.run(misuse())


def test_async_twins_work_inside_the_loop(kit: DevNodeKit, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "counter_plugin", COUNTER)

    async def scenario() -> int:
        plugin = await kit.aload("counter_plugin")
        await kit.apublish(EventType.HEALTH_UPDATE)
        await kit.await_until(lambda: plugin.seen == 1)
        return (await kit.areload("counter_plugin")).seen  # type: ignore[no-any-return]

    assert kit.run(scenario()) == 1


def test_finish_names_what_a_plugin_left_behind(kit: DevNodeKit, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "messy_plugin", """
        import asyncio
        from dashboard.event_bus import EventType

        class Messy_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on_shared)
                self.ticker = asyncio.get_running_loop().create_task(self.tick(), name="ticker")
                self.node.data_manager.get_data = self.cached_get

            def shutdown(self):
                pass

            def on_shared(self, event):
                pass

            def cached_get(self, key):
                return None

            async def tick(self):
                while True:
                    await asyncio.sleep(1)
    """)
    kit.load("messy_plugin")

    problems = kit.finish()

    assert len(problems) == 1
    assert "messy_plugin left 1 subscription (data.shared -> Messy_pluginPlugin.on_shared)" in problems[0]
    assert "1 task (ticker)" in problems[0]
    assert "1 node patch (node.data_manager.get_data)" in problems[0]
    assert "(at the end of the test)" in problems[0]


def test_finish_reports_a_shutdown_that_raises(kit: DevNodeKit, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "raising_plugin", """
        class Raising_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                pass

            def shutdown(self):
                raise RuntimeError("disk gone")
    """)
    kit.load("raising_plugin")

    problems = kit.finish()

    assert problems == [
        "raising_plugin: shutdown() raised RuntimeError: disk gone (plugins/raising_plugin.py:9) (at the end of the "
        "test); production would not shut down the plugins after it"
    ]


def test_finish_reports_an_old_version_kept_alive_by_a_helper_module(kit: DevNodeKit, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "_registry", "HANDLERS = []\n")
    write_plugin(plugin_dir, "hooked_plugin", """
        from plugins import _registry

        class Hooked_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                _registry.HANDLERS.append(self.initialize)

            def shutdown(self):
                pass
    """)
    kit.load("hooked_plugin")
    kit.reload("hooked_plugin")

    problems = kit.finish()

    assert problems == [
        "hooked_plugin: the version replaced by reload is still alive, held by: module plugins._registry -> "
        "global HANDLERS -> list object -> bound method Hooked_pluginPlugin.initialize -> Hooked_pluginPlugin "
        "object -> class Hooked_pluginPlugin"
    ]


def test_finish_reports_a_loop_timer_left_behind_which_devnode_cancelled(kit: DevNodeKit, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "timer_plugin", """
        import asyncio

        class Timer_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                asyncio.get_running_loop().call_later(3600, self.initialize)

            def shutdown(self):
                pass
    """)
    kit.load("timer_plugin")
    kit.unload("timer_plugin")

    problems = kit.finish()

    # The timer would have kept the old version alive (and run its code an hour later): devnode cancels it at
    # unload, and the kit still fails the test, since the production node would not.
    assert problems == ["timer_plugin left 1 process change (timer loop.call_later(Timer_pluginPlugin.initialize) "
                        "set at plugins/timer_plugin.py:8) behind after shutdown (at unload of timer_plugin)"]


def test_an_old_version_the_test_itself_holds_is_not_a_leak(kit: DevNodeKit, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "counter_plugin", COUNTER)
    old = kit.load("counter_plugin")
    kit.reload("counter_plugin")

    assert kit.finish() == []
    assert old.seen == 0  # still alive: held by this test, not by the node


def test_recorder_merges_an_event_held_during_a_swap(kit: DevNodeKit, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "counter_plugin", COUNTER)
    kit.load("counter_plugin")

    async def publish_while_held() -> None:
        async with kit.node.event_bus.holding("counter_plugin"):  # as during a swap: the plugin's events queue
            await kit.node.event_bus.publish(Event(EventType.HEALTH_UPDATE, {"held": True}))
        await kit.asettle()  # delivered late, in a task

    kit.run(publish_while_held())

    assert len(kit.events.of_type(EventType.HEALTH_UPDATE)) == 1
    assert kit.events.last(EventType.HEALTH_UPDATE).handled_by == ["counter_plugin"]


def test_close_undoes_the_global_hooks(plugin_dir: Path, tmp_path: Path) -> None:
    import logging
    import sys

    from devnode import compat

    before_level = logging.getLogger("plugins").level
    write_plugin(plugin_dir, "counter_plugin", COUNTER)
    kit = DevNodeKit(plugin_dir, tmp_path / "data")
    kit.load("counter_plugin")
    kit.close()

    assert compat._finder not in sys.meta_path
    assert not [m for m in sys.modules if m == "plugins" or m.startswith("plugins.")]
    assert logging.getLogger("plugins").level == before_level
    assert kit.loop.is_closed()
    with pytest.raises(KitUsageError, match="after the test's node was shut down"):
        kit.publish(EventType.HEALTH_UPDATE)


def test_settle_times_out_naming_a_task_that_never_ends(plugin_dir: Path, tmp_path: Path) -> None:
    async def forever() -> None:
        await asyncio.sleep(3600)

    async def start() -> None:
        asyncio.get_running_loop().create_task(forever(), name="forever-task")

    kit = DevNodeKit(plugin_dir, tmp_path / "data", settle_timeout=0.1)
    try:
        with pytest.raises(TimeoutError, match=r"forever-task \(.*forever\)"):
            kit.call(start)
    finally:
        kit.close()


def test_typings_alias_cache_holding_an_old_class_is_not_a_leak(kit: DevNodeKit, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "typed_plugin", """
        from dataclasses import dataclass
        from typing import List, Optional

        @dataclass
        class Item:
            n: int

        class Typed_pluginPlugin:
            items: Optional[List[Item]] = None  # typing caches List[Item]: it holds this version's Item

            def __init__(self, node):
                self.node = node

            def initialize(self):
                pass

            def shutdown(self):
                pass
    """)
    kit.load("typed_plugin")
    kit.reload("typed_plugin")

    assert kit.finish() == []
