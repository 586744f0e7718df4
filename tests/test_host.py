"""The plugin host: production's discovery and naming, the guide's examples unmodified, clear failures, exact unloads."""

from __future__ import annotations

import asyncio
import importlib.abc
import json
import logging
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import HostHarness, write_plugin
from devnode.bus import Event, EventType
from devnode.host.naming import candidate_modules, expected_class_name, is_candidate
from devnode.host.slots import PluginState

GUIDE = Path(__file__).parent / "guide_plugins"  # verbatim copies of the guide's code blocks
GUIDE_SOURCE = Path("/work/shared/seed/plugin-development.md")

Harness = Callable[..., HostHarness]


def from_guide(plugin_dir: Path, name: str, as_name: str | None = None) -> Path:
    target = plugin_dir / f"{as_name or name}.py"
    shutil.copyfile(GUIDE / f"{name}.py", target)
    return target


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def failure(h: HostHarness, plugin: str) -> dict[str, Any]:
    [record] = h.kinds("plugin.failed", plugin)
    return record


def warning_codes(h: HostHarness, plugin: str | None = None) -> set[str]:
    return {r["code"] for r in h.kinds("warning", plugin)}


@pytest.mark.skipif(not GUIDE_SOURCE.is_file(), reason="the plugin guide is not on this machine")
def test_guide_copies_are_verbatim() -> None:
    text = GUIDE_SOURCE.read_text()
    for path in GUIDE.glob("*.py"):
        assert f"```python\n{path.read_text()}```" in text, f"{path.name} differs from the guide"


# -- naming and discovery ---------------------------------------------------------------------------
@pytest.mark.parametrize("module, expected", [
    ("audit_plugin", "Audit_pluginPlugin"),
    ("example_plugin", "Example_pluginPlugin"),
    ("auditLog", "AuditlogPlugin"),
    ("AUDIT", "AuditPlugin"),
    ("_common", "_commonPlugin"),
    ("x2", "X2Plugin"),
])
def test_expected_class_name_is_capitalize_plus_plugin(module: str, expected: str) -> None:
    assert expected_class_name(module) == expected == module.capitalize() + "Plugin"


def test_candidates_are_py_files_not_starting_with_double_underscore(plugin_dir: Path) -> None:
    for name in ("a_plugin.py", "_helper.py", "__init__.py", "__private.py", "notes.txt", "b.pyc", "c.py.bak"):
        (plugin_dir / name).write_text("")
    (plugin_dir / "pkg.py").mkdir()  # a directory named like a module is not a file
    assert candidate_modules(plugin_dir) == ["_helper", "a_plugin"]
    assert is_candidate("x.py") and is_candidate("_x.py") and not is_candidate("__x.py")


def test_camel_case_file_needs_the_lower_cased_class_name(harness: Harness, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "auditLog", """
        class AuditlogPlugin:
            def __init__(self, node):
                self.node = node
            def initialize(self):
                pass
            def shutdown(self):
                pass
    """)
    write_plugin(plugin_dir, "eventLog", """
        class EventLogPlugin:
            def __init__(self, node):
                pass
    """)
    h = harness().start()
    assert type(h.host.get_plugin("auditLog")).__name__ == "AuditlogPlugin"
    record = failure(h, "eventLog")
    assert record["phase"] == "lookup"
    assert record["error"] == "eventLog.py has no class EventlogPlugin"
    assert "rename class EventLogPlugin to EventlogPlugin" in record["hint"]
    assert "str.capitalize()" in record["hint"] and "classes found: EventLogPlugin" in record["hint"]
    assert record["file"] == "plugins/eventLog.py" and record["line"] == 1


def test_double_underscore_files_are_ignored_and_single_underscore_ones_are_helpers(
    harness: Harness, plugin_dir: Path
) -> None:
    write_plugin(plugin_dir, "__secret", "raise RuntimeError('never imported')\n")
    write_plugin(plugin_dir, "_helper", "raise RuntimeError('never imported as a plugin')\n")
    h = harness().start()
    assert h.kinds("plugin.failed") == [] and h.host.plugins == {}
    [warning] = [w for w in h.kinds("warning") if w["code"] == "helper-loaded-as-plugin"]
    assert warning["plugin"] == "_helper"
    assert "production loads every *.py" in warning["message"] and "_helperPlugin" in warning["message"]
    assert all(w["plugin"] != "__secret" for w in h.kinds("warning"))


def test_plugins_are_imported_as_package_plugins_whatever_the_dir_is_called(tmp_path: Path) -> None:
    plugin_dir = tmp_path / "my_plugins"
    plugin_dir.mkdir()
    write_plugin(plugin_dir, "helper", "GREETING = 'hi'\n")
    write_plugin(plugin_dir, "relative_plugin", """
        from . import helper
        from .helper import GREETING

        class Relative_pluginPlugin:
            def __init__(self, node):
                self.greeting = GREETING + helper.GREETING
            def initialize(self):
                pass
            def shutdown(self):
                pass
    """)
    write_plugin(plugin_dir, "absolute_plugin", """
        from plugins import helper
        import plugins.helper

        class Absolute_pluginPlugin:
            def __init__(self, node):
                self.same = helper is plugins.helper
                self.module = __name__
            def initialize(self):
                pass
            def shutdown(self):
                pass
    """)
    h = HostHarness(plugin_dir, tmp_path / "data")
    try:
        h.start()
        assert h.host.get_plugin("relative_plugin").greeting == "hihi"
        absolute = h.host.get_plugin("absolute_plugin")
        assert absolute.same and absolute.module == "plugins.absolute_plugin"
        assert sorted(h.host.plugins) == ["absolute_plugin", "relative_plugin"]  # helper is no plugin
        [dir_warning] = [w for w in h.kinds("warning") if w["code"] == "plugin-dir-name"]
        assert "'my_plugins'" in dir_warning["message"] and "must be named 'plugins'" in dir_warning["message"]
        assert "helper-loaded-as-plugin" in warning_codes(h, "helper")
    finally:
        h.close()


# -- lifecycle forms production does not have -------------------------------------------------------------
def test_async_initialize_and_shutdown_are_awaited_with_parity_warnings(harness: Harness, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "async_plugin", """
        import asyncio

        class Async_pluginPlugin:
            def __init__(self, node):
                self.steps = []
            async def initialize(self):
                await asyncio.sleep(0)
                self.steps.append("initialized")
            async def shutdown(self):
                await asyncio.sleep(0)
                self.steps.append("shut down")
    """)
    h = harness().start()
    plugin = h.host.get_plugin("async_plugin")
    assert plugin.steps == ["initialized"]
    assert {"async-initialize", "async-shutdown"} <= warning_codes(h, "async_plugin")
    message = next(w["message"] for w in h.kinds("warning", "async_plugin") if w["code"] == "async-initialize")
    assert "production calls initialize() synchronously" in message and "never run" in message
    h.run(h.host.unload("async_plugin"))
    assert plugin.steps == ["initialized", "shut down"]


def test_class_without_initialize_or_shutdown_loads_with_a_warning_that_production_would_fail(
    harness: Harness, plugin_dir: Path
) -> None:
    write_plugin(plugin_dir, "bare_plugin", """
        class Bare_pluginPlugin:
            def __init__(self, node):
                self.node = node
    """)
    h = harness().start()
    assert "bare_plugin" in h.host.plugins
    warnings = {w["code"]: w["message"] for w in h.kinds("warning", "bare_plugin")}
    assert "production calls initialize() on every plugin and would fail with AttributeError" in warnings[
        "missing-initialize"]
    assert "def shutdown(self): pass" in warnings["missing-shutdown"]
    assert h.run(h.host.unload("bare_plugin")) is True


def test_one_failing_plugin_never_stops_the_others(harness: Harness, plugin_dir: Path) -> None:
    good = """
        class {cls}:
            def __init__(self, node):
                pass
            def initialize(self):
                pass
            def shutdown(self):
                pass
    """
    write_plugin(plugin_dir, "a_plugin", good.format(cls="A_pluginPlugin"))
    write_plugin(plugin_dir, "b_import", "import definitely_not_installed_pkg\n")
    write_plugin(plugin_dir, "c_syntax", "def broken(:\n")
    write_plugin(plugin_dir, "d_construct", """
        class D_constructPlugin:
            def __init__(self, node):
                raise RuntimeError("no")
    """)
    write_plugin(plugin_dir, "e_initialize", """
        class E_initializePlugin:
            def __init__(self, node):
                pass
            def initialize(self):
                {}["missing"]
    """)
    write_plugin(plugin_dir, "f_exit", "import sys\nsys.exit(3)\n")
    write_plugin(plugin_dir, "z_plugin", good.format(cls="Z_pluginPlugin"))
    h = harness().start()
    assert sorted(h.host.plugins) == ["a_plugin", "z_plugin"]
    phases = {r["plugin"]: r["phase"] for r in h.kinds("plugin.failed")}
    assert phases == {"b_import": "import", "c_syntax": "import", "d_construct": "construct",
                      "e_initialize": "initialize", "f_exit": "import"}


def test_a_shutdown_that_raises_does_not_stop_the_others_from_shutting_down(
    harness: Harness, plugin_dir: Path
) -> None:
    for name in ("a_plugin", "b_plugin", "c_plugin"):
        raising = "raise RuntimeError('shutdown failed')" if name == "b_plugin" else "self.log.append('down')"
        write_plugin(plugin_dir, name, f"""
            LOG = []

            class {name.capitalize()}Plugin:
                def __init__(self, node):
                    self.log = LOG
                def initialize(self):
                    pass
                def shutdown(self):
                    {raising}
        """)
    h = harness().start()
    logs = {name: h.host.get_plugin(name).log for name in ("a_plugin", "c_plugin")}
    h.run(h.host.stop())
    assert logs == {"a_plugin": ["down"], "c_plugin": ["down"]}
    record = failure(h, "b_plugin")
    assert record["phase"] == "shutdown" and record["error"] == "RuntimeError: shutdown failed"
    assert "shutdown-raises" in warning_codes(h, "b_plugin")
    assert h.bus.subscriber_count == 0


# -- the guide's examples, pasted unmodified ------------------------------------------------------------
def test_guide_audit_plugin_writes_audit_lines(harness: Harness, plugin_dir: Path, tmp_path: Path) -> None:
    from_guide(plugin_dir, "audit_plugin")
    h = harness().start()
    assert "audit_plugin" in h.host.plugins and h.kinds("plugin.failed") == []
    audit_log = tmp_path / "data" / "audit.log"

    tx = h.run(h.node.share_data('{"report": 1}', "peer1"))
    h.run(h.node.receive("peer2", {"reading": 7}))
    h.run(h.bus.publish(Event(EventType.TRANSFER_FAILED, {"reason": "test"})))
    h.run(h.bus.publish(Event(EventType.HEALTH_UPDATE, {})))  # not audited
    h.run(h.host.stop())

    entries = [json.loads(line) for line in audit_log.read_text().splitlines()]
    assert [e["event"] for e in entries] == ["data.shared", "data.received", "token.transfer_failed", "SHUTDOWN"]
    assert entries[0]["data"]["compliance_tx_hash"] == tx and entries[0]["node_id"] == "node1"
    assert entries[-1]["data"] == {"node_id": "node1"}


def test_guide_validation_plugin_blocks_secrets_and_lets_clean_data_through(
    harness: Harness, plugin_dir: Path
) -> None:
    from_guide(plugin_dir, "validation_plugin")
    h = harness().start()
    assert "validation_plugin" in h.host.plugins
    shared: list[Event] = []
    h.bus.subscribe(EventType.DATA_SHARED, shared.append)

    with pytest.raises(ValueError, match="Data contains blocked pattern"):
        h.run(h.node.share_data('{"ssn": "123-45-6789"}', "peer1"))
    with pytest.raises(ValueError, match="blocked pattern"):
        h.run(h.node.share_data("password: hunter2", "peer1"))
    assert shared == [] and h.node.data_manager.keys() == []
    assert h.node.compliance_manager.get_compliance_history() == []

    tx = h.run(h.node.share_data('{"report": "all clear"}', "peer1"))
    assert [e.data["compliance_tx_hash"] for e in shared] == [tx]
    # the guide's shutdown puts share_data back itself: nothing for devnode to clean up
    h.run(h.host.unload("validation_plugin"))
    assert "share_data" not in vars(h.node)
    assert "cleanup" not in warning_codes(h, "validation_plugin")


def test_guide_configurable_plugin_reads_the_json_beside_it(harness: Harness, plugin_dir: Path) -> None:
    from_guide(plugin_dir, "configurable_plugin")
    (plugin_dir / "configurable.json").write_text(json.dumps({"enabled": False, "threshold": 3}))
    h = harness().start()
    assert h.host.get_plugin("configurable_plugin").config == {"enabled": False, "threshold": 3}


def test_guide_configurable_plugin_uses_defaults_without_its_json(harness: Harness, plugin_dir: Path) -> None:
    from_guide(plugin_dir, "configurable_plugin")
    h = harness().start()
    assert h.host.get_plugin("configurable_plugin").config == {"enabled": True}
    # the guide's snippet has no initialize/shutdown: devnode says production would fail
    assert {"missing-initialize", "missing-shutdown"} <= warning_codes(h, "configurable_plugin")


def test_guide_basic_template_fails_at_initialize_naming_the_missing_import(
    harness: Harness, plugin_dir: Path
) -> None:
    path = from_guide(plugin_dir, "example_plugin")
    h = harness().start()
    record = failure(h, "example_plugin")
    assert record["phase"] == "initialize"
    assert record["error"] == "NameError: name 'EventType' is not defined"
    assert record["file"] == "plugins/example_plugin.py"
    assert record["line"] == line_of(path, "EventType.DATA_SHARED")
    assert record["hint"] == "add `from dashboard.event_bus import EventType` at the top of the file"
    assert record["code"].strip() == "EventType.DATA_SHARED,"
    assert h.host.plugins == {} and h.bus.subscriber_count == 0  # nothing half-initialized stays


def test_guide_basic_template_with_the_import_added_loads_and_logs(
    harness: Harness, plugin_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = from_guide(plugin_dir, "example_plugin")
    path.write_text(path.read_text().replace("import logging\n", "import logging\n\nfrom dashboard.event_bus import EventType\n", 1))
    caplog.set_level(logging.INFO, logger="plugins")
    h = harness().start()
    assert "example_plugin" in h.host.plugins and h.kinds("plugin.failed") == []
    h.run(h.node.share_data("hello", "peer1"))
    messages = [r.getMessage() for r in caplog.records if r.name == "plugins.example_plugin"]
    assert messages[0] == "Example Plugin v1.0.0 initialized"
    assert messages[1].startswith("Data shared: ") and messages[1].endswith("...")


def test_guide_accessing_node_services_block_reports_await_in_sync_initialize(
    harness: Harness, plugin_dir: Path
) -> None:
    path = from_guide(plugin_dir, "my_plugin")
    h = harness().start()
    record = failure(h, "my_plugin")
    assert record["phase"] == "import"
    assert record["error"] == "SyntaxError: 'await' outside async function"
    assert record["file"] == "plugins/my_plugin.py"
    assert record["line"] == line_of(path, "await self.node.event_bus.publish")
    assert "initialize() is called synchronously, so it cannot await" in record["hint"]
    assert "create_task" in record["hint"]
    assert "await self.node.event_bus.publish(Event(" in record["code"]


class _WithoutAiohttp(importlib.abc.MetaPathFinder):
    """Makes aiohttp look not installed (the [production] extra installs it in the test venv)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".")[0] == "aiohttp":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def test_guide_webhook_plugin_without_aiohttp_says_how_to_install_it(
    harness: Harness, plugin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m.split(".")[0] == "aiohttp"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_WithoutAiohttp(), *sys.meta_path])
    path = from_guide(plugin_dir, "webhook_plugin")
    h = harness().start()
    record = failure(h, "webhook_plugin")
    assert record["phase"] == "import"
    assert record["error"] == "ModuleNotFoundError: No module named 'aiohttp'"
    assert "pip install aiohttp" in record["hint"]
    assert record["file"] == "plugins/webhook_plugin.py" and record["line"] == line_of(path, "import aiohttp")


# -- clear failures -----------------------------------------------------------------------------------
def test_wrong_class_name_shows_expected_name_rule_and_classes_found(harness: Harness, plugin_dir: Path) -> None:
    path = write_plugin(plugin_dir, "audit_plugin", """
        import logging


        class Helper:
            pass


        class AuditPlugin:
            def __init__(self, node):
                pass
    """)
    h = harness().start()
    record = failure(h, "audit_plugin")
    assert record["error"] == "audit_plugin.py has no class Audit_pluginPlugin"
    assert "rename class AuditPlugin to Audit_pluginPlugin" in record["hint"]
    assert "str.capitalize()" in record["hint"] and "classes found: Helper, AuditPlugin" in record["hint"]
    assert record["line"] == line_of(path, "class AuditPlugin")


def test_module_without_any_plugin_class_says_what_to_define(harness: Harness, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "empty_plugin", "X = 1\n")
    h = harness().start()
    record = failure(h, "empty_plugin")
    assert "define `class Empty_pluginPlugin:`" in record["hint"] and "classes found: none" in record["hint"]


def test_syntax_error_report_shows_the_code_line_and_column(harness: Harness, plugin_dir: Path) -> None:
    path = write_plugin(plugin_dir, "typo_plugin", """
        class Typo_pluginPlugin:
            def __init__(self, node):
                self.values = [1, 2
            def initialize(self):
                pass
    """)
    h = harness().start()
    record = failure(h, "typo_plugin")
    assert record["error"].startswith("SyntaxError: ")
    assert record["file"] == "plugins/typo_plugin.py"
    assert record["line"] == line_of(path, "self.values = [1, 2")
    assert record["code"].strip() == "self.values = [1, 2"
    assert record["column"] is not None and "was never closed" in record["error"]


TRACE_PLUGIN = """
    def helper(node):
        node.data_manager.store_data(5, "not a str key")


    class Trace_pluginPlugin:
        def __init__(self, node):
            self.node = node
            {construct}

        def initialize(self):
            {initialize}

        def shutdown(self):
            {shutdown}
"""


@pytest.mark.parametrize("phase", ["construct", "initialize", "shutdown"])
def test_exception_traceback_is_trimmed_to_the_plugins_own_frames(
    harness: Harness, plugin_dir: Path, phase: str
) -> None:
    calls = {p: "helper(self.node)" if p == phase else "pass" for p in ("construct", "initialize", "shutdown")}
    path = write_plugin(plugin_dir, "trace_plugin", TRACE_PLUGIN.format(**calls))
    h = harness().start()
    if phase == "shutdown":
        h.run(h.host.unload("trace_plugin"))
    record = failure(h, "trace_plugin")
    assert record["phase"] == phase
    assert record["error"] == "TypeError: Argument 'key' has incorrect type (expected bytes, got int)"
    # the error is raised inside devnode's data manager; the report points at the plugin's line
    assert record["file"] == "plugins/trace_plugin.py"
    assert record["line"] == line_of(path, "node.data_manager.store_data(5")
    trace = record["traceback"]
    assert trace.startswith("Traceback (plugin frames only):")
    assert "trace_plugin.py" in trace and "in helper" in trace
    assert "devnode" not in trace.replace("trace_plugin", "")
    assert "host.py" not in trace and "data_manager.py" not in trace
    assert trace.rstrip().endswith("TypeError: Argument 'key' has incorrect type (expected bytes, got int)")


def test_constructor_with_wrong_signature_gets_the_cls_node_hint(harness: Harness, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "sig_plugin", """
        class Sig_pluginPlugin:
            def __init__(self):
                pass
    """)
    h = harness().start()
    assert "cls(node)" in failure(h, "sig_plugin")["hint"]


# -- unloading leaves the node exactly as it was ---------------------------------------------------------------
MESSY_PLUGIN = """
    import asyncio

    from dashboard.event_bus import EventType


    class Messy_pluginPlugin:
        def __init__(self, node):
            self.node = node

        def initialize(self):
            bus = self.node.event_bus
            bus.subscribe(EventType.DATA_SHARED, self.on_event)
            bus.subscribe(EventType.DATA_RECEIVED, self.on_event)
            bus.subscribe_all(self.on_anything)
            self.task = asyncio.get_running_loop().create_task(self.forever(), name="messy-forever")
            self.original = self.node.share_data
            self.node.share_data = self.wrapped_share
            self.node.data_manager.get_data = self.wrapped_get

        def shutdown(self):
            pass  # forgets to unsubscribe, cancel or restore

        async def forever(self):
            while True:
                await asyncio.sleep(3600)

        def on_event(self, event):
            pass

        def on_anything(self, event):
            pass

        async def wrapped_share(self, data, recipient, **kwargs):
            return await self.original(data, recipient, **kwargs)

        def wrapped_get(self, key):
            return None
"""

SERVICES = ("blockchain_interface", "data_manager", "token_manager", "payment_processor", "compliance_manager",
            "p2p_network")


def _snapshot(h: HostHarness) -> dict[str, Any]:
    node = h.node
    return {
        "subscriptions": [(s.event_type, s.callback, s.ledger) for s in h.bus.subscriptions()],
        "tasks": {t for t in asyncio.all_tasks(h.loop) if not t.done()},
        "node": dict(vars(node)),
        **{name: dict(vars(getattr(node, name))) for name in SERVICES},
    }


def _same(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert after["subscriptions"] == before["subscriptions"]
    assert after["tasks"] == before["tasks"]
    for key in ("node", *SERVICES):
        assert after[key].keys() == before[key].keys(), key
        for attr, value in before[key].items():
            assert after[key][attr] is value, f"{key}.{attr}"


def test_unloading_a_plugin_that_cleaned_up_nothing_restores_the_node_exactly(
    harness: Harness, plugin_dir: Path
) -> None:
    h = harness().start()
    h.bus.subscribe(EventType.ERROR, print)  # something that is not the plugin's, to be kept
    before = _snapshot(h)

    write_plugin(plugin_dir, "messy_plugin", MESSY_PLUGIN)
    assert h.run(h.host.load("messy_plugin"))
    during = _snapshot(h)
    assert len(during["subscriptions"]) == len(before["subscriptions"]) + 3
    assert [t.get_name() for t in during["tasks"] - before["tasks"]] == ["messy-forever"]
    assert "share_data" in during["node"] and "get_data" in during["data_manager"]
    task = h.host.get_plugin("messy_plugin").task

    assert h.run(h.host.unload("messy_plugin"))
    _same(before, _snapshot(h))
    assert task.cancelled()
    # the node works as before: the original share_data and get_data are back
    tx = h.run(h.node.share_data("after unload", "peer1"))
    assert tx and h.node.data_manager.get_data("missing") is None

    [cleanup] = [w for w in h.kinds("warning", "messy_plugin") if w["code"] == "cleanup"]
    assert "3 subscriptions, 1 task, 2 patches" in cleanup["message"]
    cleaned = cleanup["cleaned"]
    assert sorted(cleaned["subscriptions"]) == sorted([
        "data.shared -> Messy_pluginPlugin.on_event",
        "data.received -> Messy_pluginPlugin.on_event",
        "* -> Messy_pluginPlugin.on_anything",
    ])
    assert cleaned["tasks"] == ["messy-forever"]
    assert sorted(cleaned["patches"]) == ["node.data_manager.get_data", "node.share_data"]
    assert h.kinds("plugin.unloaded", "messy_plugin")[0]["reason"] == "requested"


def test_reloading_a_messy_plugin_does_not_accumulate_anything(harness: Harness, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "messy_plugin", MESSY_PLUGIN)
    h = harness().start()
    loaded = _snapshot(h)
    for _ in range(3):
        assert h.run(h.host.reload(["messy_plugin"]))["messy_plugin"]
    again = _snapshot(h)
    assert len(again["subscriptions"]) == len(loaded["subscriptions"])
    assert len(again["tasks"]) == len(loaded["tasks"])
    assert again["node"].keys() == loaded["node"].keys()
    assert again["data_manager"].keys() == loaded["data_manager"].keys()
    # the wrapper in place wraps the original, not an earlier wrapper
    plugin = h.host.get_plugin("messy_plugin")
    assert plugin.original == type(h.node).share_data.__get__(h.node)


# -- a plan carried out by the host ------------------------------------------------------------------
def test_the_host_carries_out_a_plan_unload_forget_load_and_reload(plugin_dir: Path, harness: Harness) -> None:
    from devnode.host.plan import Plan

    write_plugin(plugin_dir, "_util", "VALUE = 1\n")
    write_plugin(plugin_dir, "dir_plugin", "class Dir_pluginPlugin:\n    def __init__(self, node):\n        pass\n")
    write_plugin(plugin_dir, "user_plugin", """
        from plugins._util import VALUE

        class User_pluginPlugin:
            def __init__(self, node):
                self.value = VALUE
    """)
    h = harness().start()
    assert h.host.get_plugin("user_plugin").value == 1
    (plugin_dir / "dir_plugin.py").unlink()
    (plugin_dir / "dir_plugin.py").mkdir()  # the plugin file became a directory
    write_plugin(plugin_dir, "_util", "VALUE = 2\n")
    write_plugin(plugin_dir, "new_plugin", "class New_pluginPlugin:\n    def __init__(self, node):\n        pass\n")

    h.run(h.host.apply(Plan(unload=["dir_plugin"], load=["new_plugin"], reload=["user_plugin"], purge=["_util"],
                            triggers={"user_plugin": ["_util.py"]})))

    [warning] = [r for r in h.kinds("warning", "dir_plugin") if r["code"] == "not-a-file"]
    assert warning["file"] == "plugins/dir_plugin.py" and "is now a directory" in warning["message"]
    assert "dir_plugin" not in h.host.known() and [r["reason"] for r in h.kinds("plugin.unloaded")] == ["file deleted"]
    assert h.host.get_plugin("user_plugin").value == 2  # the helper re-executed before the reload
    assert h.kinds("plugin.reloaded", "user_plugin")[0]["trigger"] == ["_util.py"]
    assert h.host.get_plugin("new_plugin") is not None


def test_a_plan_with_a_helper_gone_makes_the_host_forget_it(plugin_dir: Path, harness: Harness) -> None:
    from devnode.host.plan import Plan

    write_plugin(plugin_dir, "_gone", "VALUE = 1\n")
    write_plugin(plugin_dir, "user_plugin", "from plugins import _gone\n\nclass User_pluginPlugin:\n"
                 "    def __init__(self, node):\n        pass\n")
    h = harness().start()
    assert "plugins._gone" in sys.modules
    (plugin_dir / "_gone.py").unlink()

    h.run(h.host.apply(Plan(helpers_gone=["_gone"])))

    assert "plugins._gone" not in sys.modules


def test_the_hosts_read_methods_say_what_serves_what_failed_and_what_the_graph_knows(
    harness: Harness, plugin_dir: Path
) -> None:
    write_plugin(plugin_dir, "_shared", "VALUE = 1\n")
    write_plugin(plugin_dir, "good_plugin", """
        from plugins._shared import VALUE

        class Good_pluginPlugin:
            version = "3"

            def __init__(self, node):
                self.value = VALUE
    """)
    write_plugin(plugin_dir, "bad_plugin", "raise RuntimeError('broken at import')\n")
    h = harness().start()

    assert h.host.known() == {"good_plugin", "bad_plugin"} and h.host.serving() == ["good_plugin"]
    good, bad = h.host.view("good_plugin"), h.host.view("bad_plugin")
    assert good is not None and good.serving and good.state is PluginState.ACTIVE and good.version == "3"
    assert good.instance is h.host.get_plugin("good_plugin") and good.ledger is not None and good.error is None
    assert bad is not None and not bad.serving and bad.state is PluginState.FAILED and "broken at import" in (bad.error or "")
    assert h.host.view("no_such_plugin") is None
    assert [v.name for v in h.host.views()] == ["bad_plugin", "good_plugin"]
    modules = h.host.modules()
    assert modules.is_helper("_shared") and modules.importers_of({"_shared"}) == {"good_plugin"}
    assert str(plugin_dir.resolve() / "good_plugin.py") in h.host.executed_sources()
