"""The reload transaction: the last good version always serves, nothing leaks, no event is lost."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from conftest import HostHarness, async_wait_until, write_plugin

from devnode.bus import Event, EventType
from devnode.host.host import PluginState

COUNTER = """
    from dashboard.event_bus import EventType

    VERSION = "{version}"
    SEEN = []  # events this module version handled


    class Counter_pluginPlugin:
        def __init__(self, node):
            self.node = node
            self.version = VERSION

        def initialize(self):
            {init}
            self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on_shared)

        def shutdown(self):
            {shutdown}

        def on_shared(self, event):
            SEEN.append((VERSION, event.data["n"]))
"""


def counter(plugin_dir: Path, version: str, init: str = "pass", shutdown: str = "pass") -> None:
    write_plugin(plugin_dir, "counter_plugin", COUNTER.format(version=version, init=init, shutdown=shutdown))


def publish(h: HostHarness, n: int) -> None:
    h.run(h.bus.publish(Event(EventType.DATA_SHARED, {"n": n})))


def serving_version(h: HostHarness) -> str:
    return h.host.get_plugin("counter_plugin").version  # type: ignore[no-any-return]


def test_import_failure_keeps_the_previous_version_serving(plugin_dir: Path, harness) -> None:
    counter(plugin_dir, "1")
    h = harness().start()
    (plugin_dir / "counter_plugin.py").write_text("def broken(:\n")
    assert h.run(h.host.reload(["counter_plugin"])) == {"counter_plugin": False}
    failed = h.kinds("plugin.failed")[-1]
    assert failed["running"] == "previous" and failed["phase"] == "import"
    assert failed["file"].endswith("counter_plugin.py") and failed["line"] == 1 and failed["hint"]
    assert h.host.slot_for_tests("counter_plugin").state is PluginState.FAILED_RUNNING_PREVIOUS
    publish(h, 1)
    assert serving_version(h) == "1"
    assert h.host.get_plugin("counter_plugin").__class__.__module__ == "plugins.counter_plugin"
    # the next good save recovers with no manual step
    counter(plugin_dir, "2")
    assert h.run(h.host.reload(["counter_plugin"])) == {"counter_plugin": True}
    assert serving_version(h) == "2" and h.host.slot_for_tests("counter_plugin").state is PluginState.ACTIVE


def test_initialize_failure_rolls_back_to_the_previous_version(plugin_dir: Path, harness) -> None:
    counter(plugin_dir, "1")
    h = harness().start()
    subs_before = h.bus.subscriber_count
    # v2 subscribes a handler and starts a task, then fails: all of it must be undone
    counter(plugin_dir, "2", init="self.node.event_bus.subscribe(EventType.ERROR, self.on_shared); "
                                  "import asyncio; asyncio.get_running_loop().create_task(asyncio.sleep(60)); "
                                  "raise RuntimeError('v2 cannot start')")
    assert h.run(h.host.reload(["counter_plugin"])) == {"counter_plugin": False}
    failed = h.kinds("plugin.failed")[-1]
    assert failed["phase"] == "initialize" and "v2 cannot start" in failed["error"] and failed["running"] == "previous"
    assert "counter_plugin.py" in failed["traceback"] and "devnode" not in failed["traceback"].replace("counter_plugin", "")
    assert serving_version(h) == "1"
    assert h.bus.subscriber_count == subs_before
    ledger = h.host.slot_for_tests("counter_plugin").ledger
    assert ledger is not None and ledger.counts()["tasks"] == 0
    publish(h, 7)
    module = h.host.get_plugin("counter_plugin").__class__.__module__
    import sys
    assert sys.modules[module].SEEN == [("1", 7)]


def test_shutdown_that_raises_is_reported_and_cleaned_up(plugin_dir: Path, harness) -> None:
    counter(plugin_dir, "1", shutdown="raise RuntimeError('shutdown broke')")
    h = harness().start()
    counter(plugin_dir, "2")
    assert h.run(h.host.reload(["counter_plugin"])) == {"counter_plugin": True}
    failed = h.kinds("plugin.failed")[-1]
    assert failed["phase"] == "shutdown" and "shutdown broke" in failed["error"]
    warnings = {w["code"] for w in h.kinds("warning")}
    assert {"shutdown-raises", "cleanup"} <= warnings  # parity warning + forced cleanup of its subscription
    assert h.bus.subscriber_count == 1 and serving_version(h) == "2"


def test_async_shutdown_that_hangs_is_bounded_by_the_timeout(plugin_dir: Path, harness) -> None:
    write_plugin(plugin_dir, "hang_plugin", """
        import asyncio
        from dashboard.event_bus import EventType

        class Hang_pluginPlugin:
            def __init__(self, node):
                self.node = node
            def initialize(self):
                self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on)
            async def shutdown(self):
                await asyncio.sleep(3600)
            def on(self, event):
                pass
    """)
    h = harness(timeout=0.2).start()
    assert h.run(h.host.unload("hang_plugin"))
    failed = h.kinds("plugin.failed")[-1]
    assert failed["phase"] == "shutdown" and "did not finish within 0.2 s" in failed["error"]
    assert h.bus.subscriber_count == 0


def test_state_carries_over_through_the_hook_pair(plugin_dir: Path, harness) -> None:
    source = """
        class Keep_pluginPlugin:
            def __init__(self, node):
                self.count = 0
                self.version = "{v}"
            def initialize(self):
                self.count += 1
            def shutdown(self):
                pass
            def devnode_save_state(self):
                return {{"count": self.count}}
            def devnode_restore_state(self, state):
                self.count = state["count"]
    """
    write_plugin(plugin_dir, "keep_plugin", source.format(v="1"))
    h = harness().start()
    for v in "234":
        write_plugin(plugin_dir, "keep_plugin", source.format(v=v))
        h.run(h.host.reload(["keep_plugin"]))
    plugin = h.host.get_plugin("keep_plugin")
    assert plugin.version == "4" and plugin.count == 4


def test_without_the_hooks_a_reload_starts_fresh(plugin_dir: Path, harness) -> None:
    write_plugin(plugin_dir, "fresh_plugin", """
        class Fresh_pluginPlugin:
            def __init__(self, node):
                self.count = 0
            def initialize(self):
                self.count += 1
            def shutdown(self):
                pass
    """)
    h = harness().start()
    h.run(h.host.reload(["fresh_plugin"]))
    assert h.host.get_plugin("fresh_plugin").count == 1


def test_events_published_during_a_reload_reach_exactly_one_version_exactly_once(plugin_dir: Path, harness) -> None:
    # async initialize/shutdown that yield to the loop: the window in which events could be lost or doubled
    source = """
        import asyncio
        from dashboard.event_bus import EventType

        SEEN = []

        class Flow_pluginPlugin:
            def __init__(self, node):
                self.node = node
                self.ready = False
            async def initialize(self):
                self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on)
                await asyncio.sleep(0.01)
                self.ready = True
            async def shutdown(self):
                await asyncio.sleep(0.01)
            def on(self, event):
                assert self.ready, "handler saw a half-initialized plugin"
                SEEN.append(event.data["n"])
    """
    write_plugin(plugin_dir, "flow_plugin", source)
    h = harness().start()
    import sys

    seen: list[int] = []

    async def scenario() -> None:
        async def publisher() -> None:
            for n in range(300):
                await h.bus.publish(Event(EventType.DATA_SHARED, {"n": n}))
                await asyncio.sleep(0)

        async def reloader() -> None:
            for _ in range(15):
                module = sys.modules["plugins.flow_plugin"]
                await h.host.reload(["flow_plugin"])
                seen.extend(module.SEEN)  # what the version that just retired handled
                await asyncio.sleep(0.001)

        await asyncio.gather(publisher(), reloader())
        await async_wait_until(lambda: len(seen) + len(sys.modules["plugins.flow_plugin"].SEEN) >= 300, what="all events")

    h.run(scenario())
    seen.extend(sys.modules["plugins.flow_plugin"].SEEN)
    assert sorted(seen) == list(range(300))
    assert not [r for r in h.records if r["kind"] == "event" and not all(x["ok"] for x in r["handlers"])]


def test_leftover_thread_holding_the_old_version_is_reported(plugin_dir: Path, harness) -> None:
    write_plugin(plugin_dir, "leaky_plugin", """
        import threading

        class Leaky_pluginPlugin:
            def __init__(self, node):
                self.stop = threading.Event()
            def initialize(self):
                threading.Thread(target=self.work, name="leaky-worker", daemon=True).start()
            def shutdown(self):
                pass  # forgets to stop the thread
            def work(self):
                self.stop.wait(30)
    """)
    h = harness().start()
    old = h.host.get_plugin("leaky_plugin")
    try:
        h.run(h.host.reload(["leaky_plugin"]))
        h.host.report_leaks()
        codes = {w["code"]: w for w in h.kinds("warning")}
        assert "thread-left-running" in codes and "leaky-worker" in codes["thread-left-running"]["message"]
        assert "leak" in codes and "leaky-worker" in codes["leak"]["message"]
    finally:
        old.stop.set()
        h.host.get_plugin("leaky_plugin").stop.set()


def test_clean_reloads_report_no_leak(plugin_dir: Path, harness) -> None:
    counter(plugin_dir, "1")
    h = harness().start()
    for _ in range(3):
        h.run(h.host.reload(["counter_plugin"]))
    h.host.report_leaks()
    assert not [w for w in h.kinds("warning") if w["code"] == "leak"]


def test_a_thousand_reloads_leave_subscriptions_tasks_and_objects_flat(plugin_dir: Path, harness) -> None:
    write_plugin(plugin_dir, "busy_plugin", """
        import asyncio
        from dashboard.event_bus import EventType

        class Busy_pluginPlugin:
            def __init__(self, node):
                self.node = node
            def initialize(self):
                self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on)
                self.node.event_bus.subscribe_all(self.on)
                self.task = asyncio.get_running_loop().create_task(asyncio.sleep(3600))
                self.node.share_data = self.wrapped
            def shutdown(self):
                self.task.cancel()  # leaves subscriptions and the patch for devnode to sweep
            async def wrapped(self, *args, **kwargs):
                pass
            def on(self, event):
                pass
    """)
    h = harness(check_leaks=False)
    assert "share_data" not in vars(h.node)
    h.start()

    def measure() -> tuple[int, int, int]:
        h.records.clear()  # the harness keeps every record; devnode itself keeps none
        gc.collect()
        tasks = len([t for t in asyncio.all_tasks(h.loop) if not t.done() and t.get_name() != "devnode-status-updates"])
        return h.bus.subscriber_count, tasks, len(gc.get_objects())

    for _ in range(20):
        h.run(h.host.reload(["busy_plugin"]))
    subs, tasks, objects = measure()
    for _ in range(1000):
        h.run(h.host.reload(["busy_plugin"]))
    subs_after, tasks_after, objects_after = measure()
    assert (subs_after, tasks_after) == (subs, tasks) == (2, 1)
    assert objects_after - objects < 2000, f"{objects_after - objects} objects more after 1000 reloads"
    assert h.host.slot_for_tests("busy_plugin").reloads == 1020
    h.run(h.host.unload("busy_plugin"))
    assert "share_data" not in vars(h.node)  # the class method serves again


def test_same_size_edits_within_one_second_run_the_new_code(plugin_dir: Path, harness) -> None:
    # Python's .pyc check (whole-second mtime + size) would run the stale code here.
    import os

    counter(plugin_dir, "1.0.0")
    h = harness().start()
    path = plugin_dir / "counter_plugin.py"
    stat = path.stat()
    for version in ("1.0.1", "1.0.2", "1.0.3"):
        counter(plugin_dir, version)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime, same size
        assert path.stat().st_size == stat.st_size
        h.run(h.host.reload(["counter_plugin"]))
        assert serving_version(h) == version
    assert not (plugin_dir / "__pycache__").exists()


def test_wrapper_stacked_on_a_reloading_wrapper_is_re_stacked(plugin_dir: Path, harness) -> None:
    wrapper = """
        class {cls}:
            def __init__(self, node):
                self.node = node
            def initialize(self):
                self.original = self.node.encrypt_data
                self.node.encrypt_data = self.wrap
            def shutdown(self):
                self.node.encrypt_data = self.original
            def wrap(self, data):
                return self.original("{tag}" + str(data))
    """
    write_plugin(plugin_dir, "a_plugin", wrapper.format(cls="A_pluginPlugin", tag="a1-"))
    h = harness().start()
    write_plugin(plugin_dir, "b_plugin", wrapper.format(cls="B_pluginPlugin", tag="b-"))
    h.run(h.host.load("b_plugin"))  # b wraps on top of a
    assert h.node.decrypt_data(h.node.encrypt_data("x")) == "a1-b-x"
    write_plugin(plugin_dir, "a_plugin", wrapper.format(cls="A_pluginPlugin", tag="a2-"))
    h.run(h.host.reload(["a_plugin"]))
    assert h.node.decrypt_data(h.node.encrypt_data("x")) == "a2-b-x"
    h.run(h.host.unload("a_plugin"))
    assert h.node.decrypt_data(h.node.encrypt_data("x")) == "b-x"
    h.run(h.host.unload("b_plugin"))
    assert "encrypt_data" not in vars(h.node)


def test_broken_helper_keeps_every_importer_on_its_previous_version_until_fixed(plugin_dir: Path, harness) -> None:
    write_plugin(plugin_dir, "_shared", "VALUE = 1\n")
    for name in ("one_plugin", "two_plugin"):
        write_plugin(plugin_dir, name, f"""
            from plugins._shared import VALUE

            class {name.capitalize()}Plugin:
                def __init__(self, node):
                    self.value = VALUE
        """)
    h = harness().start()
    (plugin_dir / "_shared.py").write_text("VALUE = (\n")
    assert h.run(h.host.reload(["one_plugin", "two_plugin"], purge=["_shared"])) == {"one_plugin": False, "two_plugin": False}
    assert [f["running"] for f in h.kinds("plugin.failed")] == ["previous", "previous"]
    assert all(f["file"].endswith("_shared.py") for f in h.kinds("plugin.failed"))
    assert h.host.get_plugin("one_plugin").value == 1
    (plugin_dir / "_shared.py").write_text("VALUE = 2\n")
    assert h.run(h.host.reload(["one_plugin", "two_plugin"], purge=["_shared"])) == {"one_plugin": True, "two_plugin": True}
    assert h.host.get_plugin("one_plugin").value == h.host.get_plugin("two_plugin").value == 2


def test_default_executor_threads_are_not_blamed_on_the_plugin(plugin_dir: Path, harness) -> None:
    write_plugin(plugin_dir, "exec_plugin", """
        import asyncio

        class Exec_pluginPlugin:
            def __init__(self, node):
                pass
            async def initialize(self):
                await asyncio.get_running_loop().run_in_executor(None, sum, [1, 2])
            def shutdown(self):
                pass
    """)
    h = harness().start()
    h.run(h.host.unload("exec_plugin"))
    assert not [w for w in h.kinds("warning") if w["code"] == "thread-left-running"]


def test_what_a_module_body_starts_belongs_to_the_plugin_and_is_cleaned_up(plugin_dir: Path, harness) -> None:
    write_plugin(plugin_dir, "body_plugin", """
        import asyncio
        from dashboard.event_bus import EventType

        def on_any(event):
            pass

        # Side effects at import time, outside the class: still this plugin's.
        TICKER = asyncio.get_event_loop().create_task(asyncio.sleep(3600), name="module-ticker")

        class Body_pluginPlugin:
            def __init__(self, node):
                node.event_bus.subscribe(EventType.DATA_SHARED, on_any)
    """)
    h = harness().start()
    h.run(h.host.reload(["body_plugin"]))
    live = [t for t in asyncio.all_tasks(h.loop) if t.get_name() == "module-ticker" and not t.done()]
    assert len(live) == 1  # the first version's ticker went with it
    assert h.host.slot_for_tests("body_plugin").ledger.counts()["tasks"] == 1
    h.run(h.host.unload("body_plugin"))
    assert not [t for t in asyncio.all_tasks(h.loop) if t.get_name() == "module-ticker" and not t.done()]
    assert h.bus.subscriber_count == 0


def test_a_module_body_that_fails_leaves_nothing_behind(plugin_dir: Path, harness) -> None:
    write_plugin(plugin_dir, "half_plugin", """
        import asyncio
        from dashboard.event_bus import EventType

        asyncio.get_event_loop().create_task(asyncio.sleep(3600), name="orphan")
        raise RuntimeError("module body fails after starting a task")
    """)
    h = harness().start()
    assert h.kinds("plugin.failed")[0]["phase"] == "import"
    h.run(asyncio.sleep(0))
    assert not [t for t in asyncio.all_tasks(h.loop) if t.get_name() == "orphan" and not t.done()]


def test_a_helper_dropped_by_another_plugins_import_is_re_executed_not_taken_from_the_package(plugin_dir: Path, harness) -> None:
    # `from plugins import _h` looks at the package's attribute before sys.modules: a purged
    # helper must leave the package too, or a later import gets its old code.
    write_plugin(plugin_dir, "_h", "VALUE = 1\n")
    write_plugin(plugin_dir, "a_plugin", """
        from plugins import _h

        class A_pluginPlugin:
            def __init__(self, node):
                self.value = _h.VALUE
    """)
    write_plugin(plugin_dir, "b_plugin", """
        class B_pluginPlugin:
            def __init__(self, node):
                pass
    """)
    h = harness().start()
    (plugin_dir / "_h.py").write_text("VALUE = (\n")
    assert h.run(h.host.reload(["b_plugin"], purge=["_h"])) == {"b_plugin": True}  # b does not import _h
    assert h.run(h.host.reload(["a_plugin"])) == {"a_plugin": False}
    assert h.kinds("plugin.failed")[-1]["file"].endswith("_h.py")
    (plugin_dir / "_h.py").write_text("VALUE = 2\n")
    assert h.run(h.host.reload(["a_plugin"])) == {"a_plugin": True}
    assert h.host.get_plugin("a_plugin").value == 2
