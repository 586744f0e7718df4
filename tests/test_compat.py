"""The production node's import names resolve to devnode inside devnode, without shadowing a real install."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import devnode.bus.api
import devnode.plugin_manager
from conftest import wait_until, write_plugin
from devnode import compat
from devnode.config import NodeConfig
from devnode.node.node import DevNode

NODE_MODULES = ("dashboard", "datamgmtnode")


def _forget_node_modules() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in NODE_MODULES:
            del sys.modules[name]


@pytest.fixture
def installed() -> Iterator[None]:
    _forget_node_modules()
    compat.install()
    try:
        yield
    finally:
        compat.uninstall()
        _forget_node_modules()


def test_node_imports_resolve_to_devnodes_own_classes(installed: None) -> None:
    from dashboard.event_bus import Event, EventBus, EventType
    from datamgmtnode.services.plugin_manager import PluginManager

    assert EventType is devnode.bus.api.EventType
    assert Event is devnode.bus.api.Event
    assert EventBus is devnode.bus.api.EventBus
    assert PluginManager is devnode.plugin_manager.PluginManager
    # one module under two names, so isinstance and enum identity hold across both spellings
    assert sys.modules["dashboard.event_bus"] is devnode.bus.api
    assert EventType("data.shared") is devnode.bus.api.EventType.DATA_SHARED


def test_the_package_spelling_of_the_bus_is_the_same_module(installed: None) -> None:
    from datamgmtnode.dashboard import EventType as FromPackage
    from datamgmtnode.dashboard.event_bus import EventBus, EventType

    assert sys.modules["datamgmtnode.dashboard.event_bus"] is devnode.bus.api
    assert EventType is FromPackage is devnode.bus.api.EventType and EventBus is devnode.bus.api.EventBus


def test_import_module_spelling_works_too(installed: None) -> None:
    module = importlib.import_module("dashboard.event_bus")
    assert module.EventType is devnode.bus.api.EventType
    assert importlib.import_module("datamgmtnode.services").__name__ == "datamgmtnode.services"


def test_other_node_modules_are_not_invented(installed: None) -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("dashboard.websocket_handler")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("datamgmtnode.services.node")


def test_after_uninstall_the_names_are_gone() -> None:
    _forget_node_modules()
    compat.install()
    import dashboard.event_bus  # noqa: F401

    compat.uninstall()
    assert not any(name.split(".")[0] in NODE_MODULES for name in sys.modules)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("dashboard.event_bus")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("datamgmtnode.services.plugin_manager")


def test_install_and_uninstall_are_idempotent() -> None:
    compat.install()
    compat.install()
    try:
        assert sum(f is compat._finder for f in sys.meta_path) == 1
    finally:
        compat.uninstall()
        compat.uninstall()
    assert compat._finder not in sys.meta_path
    _forget_node_modules()


@pytest.fixture
def real_dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real ``dashboard`` package on sys.path, as on a machine with the node installed."""
    site = tmp_path / "site"
    package = site / "dashboard"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("REAL = True\n")
    (package / "other.py").write_text("WHO = 'the real dashboard.other'\n")
    _forget_node_modules()
    monkeypatch.syspath_prepend(str(site))
    try:
        yield package
    finally:
        _forget_node_modules()


def test_a_real_dashboard_package_is_not_shadowed(real_dashboard: Path) -> None:
    compat.install()
    try:
        import dashboard
        import dashboard.other
        from dashboard.event_bus import EventType

        assert dashboard.REAL is True
        assert Path(dashboard.__file__).parent == real_dashboard
        assert dashboard.other.WHO == "the real dashboard.other"
        assert EventType is devnode.bus.api.EventType
    finally:
        compat.uninstall()
    # the real package stays importable; only devnode's alias went away, attribute included
    assert "dashboard" in sys.modules and "dashboard.event_bus" not in sys.modules
    assert not hasattr(sys.modules["dashboard"], "event_bus")


def test_without_devnode_the_real_package_is_all_there_is(real_dashboard: Path) -> None:
    import dashboard.other

    assert dashboard.other.WHO == "the real dashboard.other"
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("dashboard.event_bus")


# -- the guide's "Check Plugin Loading" snippet --------------------------------------------------
AUDIT = '''
import json
import logging
from pathlib import Path

from dashboard.event_bus import EventType

logger = logging.getLogger(__name__)


class Audit_pluginPlugin:
    def __init__(self, node):
        self.node = node

    def initialize(self):
        self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on_shared)

    def shutdown(self):
        pass

    async def on_shared(self, event):
        pass
'''


def test_check_plugin_loading_snippet_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    project = tmp_path / "project"
    plugins = project / "plugins"
    plugins.mkdir(parents=True)
    write_plugin(plugins, "audit_plugin", AUDIT)
    write_plugin(plugins, "broken_plugin", "class Nope:\n    pass\n")
    monkeypatch.chdir(project)
    node = DevNode(NodeConfig(plugin_dir="./plugins", data_dir=str(tmp_path / "data")))
    _forget_node_modules()
    compat.install()
    namespace: dict[str, Any] = {"node": node}
    try:
        # verbatim from the guide, "Debugging Plugins" > "Check Plugin Loading"
        exec(textwrap.dedent("""
            from datamgmtnode.services.plugin_manager import PluginManager

            pm = PluginManager(node, './plugins')
            pm.load_plugins()
            print(pm.plugins)  # See loaded plugins
        """), namespace)
        pm = namespace["pm"]
        out = capsys.readouterr().out
        assert list(pm.plugins) == ["audit_plugin"]
        assert type(pm.get_plugin("audit_plugin")).__name__ == "Audit_pluginPlugin"
        assert "'audit_plugin': <plugins.audit_plugin.Audit_pluginPlugin object" in out
        # production logs exactly this for a plugin that fails to load (services/plugin_manager.py:23-24)
        [failed] = [r for r in caplog.records if r.name == "services.plugin_manager"]
        assert failed.levelname == "ERROR"
        assert failed.getMessage() == "Failed to load plugin broken_plugin: broken_plugin.py has no class Broken_pluginPlugin"
        assert node.event_bus.subscriber_count == 1
        pm.shutdown_plugins()
        assert pm.plugins == {} and node.event_bus.subscriber_count == 0
    finally:
        compat.uninstall()
        _forget_node_modules()
        node.store.close()
        made = namespace.get("pm")
        if made is not None and made._loop is not None:
            made._loop.close()


def test_plugin_manager_builds_its_host_like_devnode_run_and_leaves_the_node_its_own(tmp_path: Path) -> None:
    import threading

    from devnode.plugin_manager import PluginManager

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    write_plugin(plugins, "audit_plugin", AUDIT)  # imports dashboard.event_bus: the caller installed no aliases
    write_plugin(plugins, "worker_plugin", """
        import threading

        class Worker_pluginPlugin:
            def __init__(self, node):
                self.node = node
                self.done = threading.Event()

            def initialize(self):
                threading.Thread(target=self.done.wait, name="worker").start()

            def shutdown(self):
                pass
    """)
    node = DevNode(NodeConfig(plugin_dir=str(plugins), data_dir=str(tmp_path / "data")))
    _forget_node_modules()
    pm = PluginManager(node, plugins)
    try:
        pm.load_plugins()
        assert sorted(pm.plugins) == ["audit_plugin", "worker_plugin"]
        assert node.plugin_manager is not pm.host  # the caller's node keeps its own plugin manager
        worker = pm.get_plugin("worker_plugin")
        # the session's hooks: the thread the plugin started is its own (reported as left running at shutdown)
        assert pm.host.slot_for_tests("worker_plugin").status()["threads"] == 1
        worker.done.set()
        pm.shutdown_plugins()
        assert pm.plugins == {} and pm._loop is None
        assert "dashboard.event_bus" not in sys.modules  # the aliases went with the hooks
        wait_until(lambda: not [t for t in threading.enumerate() if t.name == "worker"], what="the worker to end")
    finally:
        _forget_node_modules()
        node.store.close()


def test_plugin_manager_refuses_to_block_a_running_loop(tmp_path: Path) -> None:
    import asyncio

    from devnode.errors import DevnodeError
    from devnode.plugin_manager import PluginManager

    (tmp_path / "plugins").mkdir()
    node = DevNode(NodeConfig(plugin_dir=str(tmp_path / "plugins"), data_dir=str(tmp_path / "data")))
    pm = PluginManager(node, tmp_path / "plugins")

    async def inside() -> None:
        pm.load_plugins()

    try:
        with pytest.raises(DevnodeError, match="cannot run inside an event loop"):
            asyncio.run(inside())
    finally:
        node.store.close()


def test_dashboard_package_reexports_the_bus_like_production() -> None:
    compat.install()
    try:
        namespace: dict[str, Any] = {}
        exec("from dashboard import EventType, Event, EventBus\nbus = EventBus(max_history=2)", namespace)
        from devnode.bus import api as events

        assert namespace["EventType"] is events.EventType and namespace["Event"] is events.Event
        assert namespace["EventBus"] is events.EventBus and namespace["bus"]._history.maxlen == 2
    finally:
        compat.uninstall()
