"""Live reload through the real watcher in a real ``devnode run`` process."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import WATCH_DEADLINE, atomic_write, write_plugin

VERSIONED = """
    from dashboard.event_bus import EventType

    class {cls}:
        def __init__(self, node):
            self.node = node
            self.version = "{version}"

        def initialize(self):
            self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on)

        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.DATA_SHARED, self.on)

        def on(self, event):
            pass
"""


def versioned(plugin_dir: Path, name: str, version: str) -> Path:
    cls = name.capitalize() + "Plugin"
    return write_plugin(plugin_dir, name, VERSIONED.format(cls=cls, version=version))


def source(name: str, version: str) -> str:
    import textwrap

    return textwrap.dedent(VERSIONED.format(cls=name.capitalize() + "Plugin", version=version)).lstrip()


def settle(proc, marker_dir: Path) -> None:
    """Prove the watcher is idle: a marker plugin's load must be the next thing that happens."""
    start = proc.mark()
    name = f"marker{int(time.monotonic() * 1e6)}_plugin"
    versioned(marker_dir, name, "m")
    proc.wait_for("plugin.loaded", after=start, plugin=name)


@pytest.fixture(params=[False, True], ids=["no-bytecode", "author-env"])
def bytecode(request: pytest.FixtureRequest) -> bool:
    """Run the watcher tests as CI does and as a plugin author's machine does (bytecode caching on)."""
    return bool(request.param)


def test_atomic_save_reloads_the_plugin_once(plugin_dir: Path, devnode_process, bytecode: bool) -> None:
    path = versioned(plugin_dir, "audit_plugin", "1")
    proc = devnode_process(plugin_dir, bytecode=bytecode)
    proc.wait_for("node.ready")
    start = proc.mark()
    atomic_write(path, source("audit_plugin", "2"))
    record = proc.wait_for("plugin.reloaded", after=start, plugin="audit_plugin")
    assert record["version"] == "2" and record["trigger"] == ["audit_plugin.py"]
    assert set(record["timings"]) >= {"detect", "import", "shutdown", "construct", "initialize", "total"}
    settle(proc, plugin_dir)
    assert len(proc.find("plugin.reloaded", plugin="audit_plugin")) == 1


def test_a_burst_of_saves_reloads_once_with_the_last_content(plugin_dir: Path, devnode_process) -> None:
    path = versioned(plugin_dir, "burst_plugin", "0")
    proc = devnode_process(plugin_dir)
    proc.wait_for("node.ready")
    start = proc.mark()
    for n in range(1, 6):
        path.write_text(source("burst_plugin", str(n)))
    record = proc.wait_for("plugin.reloaded", after=start, plugin="burst_plugin")
    settle(proc, plugin_dir)
    reloads = proc.find("plugin.reloaded", plugin="burst_plugin")
    assert reloads[-1]["version"] == "5"
    assert len(reloads) <= 2, f"a burst of 5 saves caused {len(reloads)} reloads"
    assert record["plugin"] == "burst_plugin"


def test_saving_unchanged_content_reloads_nothing(plugin_dir: Path, devnode_process) -> None:
    path = versioned(plugin_dir, "same_plugin", "1")
    proc = devnode_process(plugin_dir)
    proc.wait_for("node.ready")
    atomic_write(path, path.read_text())
    path.write_text(path.read_text())
    settle(proc, plugin_dir)
    assert not proc.find("plugin.reloaded", plugin="same_plugin")


def test_same_size_edits_within_a_second_load_the_new_code(plugin_dir: Path, devnode_process, bytecode: bool) -> None:
    path = versioned(plugin_dir, "quick_plugin", "1.0.0")
    proc = devnode_process(plugin_dir, bytecode=bytecode)
    proc.wait_for("node.ready")
    for version in ("1.0.1", "1.0.2", "1.0.3"):
        start = proc.mark()
        path.write_text(source("quick_plugin", version))
        record = proc.wait_for("plugin.reloaded", after=start, plugin="quick_plugin")
        assert record["version"] == version


def test_helper_edit_reloads_every_importer_with_the_fresh_helper(plugin_dir: Path, devnode_process) -> None:
    write_plugin(plugin_dir, "_shared", "GREETING = 'hello'\n")
    write_plugin(plugin_dir, "_middle", "from plugins._shared import GREETING\nLOUD = GREETING.upper()\n")
    for name, expr in (("direct_plugin", "from plugins._shared import GREETING as V"),
                       ("indirect_plugin", "from ._middle import LOUD as V")):
        write_plugin(plugin_dir, name, f"""
            {expr}

            class {name.capitalize()}Plugin:
                def __init__(self, node):
                    self.version = V
                def initialize(self):
                    pass
                def shutdown(self):
                    pass
        """)
    versioned(plugin_dir, "bystander_plugin", "1")
    proc = devnode_process(plugin_dir)
    ready = proc.wait_for("node.ready")
    assert sorted(ready["plugins"]) == ["bystander_plugin", "direct_plugin", "indirect_plugin"]
    start = proc.mark()
    atomic_write(plugin_dir / "_shared.py", "GREETING = 'bonjour'\n")
    direct = proc.wait_for("plugin.reloaded", after=start, plugin="direct_plugin")
    indirect = proc.wait_for("plugin.reloaded", after=start, plugin="indirect_plugin")
    assert direct["version"] == "bonjour" and indirect["version"] == "BONJOUR"
    assert direct["trigger"] == ["_shared.py"]
    settle(proc, plugin_dir)
    assert not proc.find("plugin.reloaded", plugin="bystander_plugin")


def test_config_file_edit_reloads_only_the_plugin_that_reads_it(plugin_dir: Path, devnode_process) -> None:
    (plugin_dir / "settings.json").write_text('{"level": 1}')
    write_plugin(plugin_dir, "reader_plugin", """
        import json
        from pathlib import Path

        class Reader_pluginPlugin:
            def __init__(self, node):
                path = Path(node.config.plugin_dir) / "settings.json"
                self.version = str(json.loads(path.read_text())["level"])
            def initialize(self):
                pass
            def shutdown(self):
                pass
    """)
    versioned(plugin_dir, "other_plugin", "1")
    proc = devnode_process(plugin_dir)
    proc.wait_for("node.ready")
    start = proc.mark()
    atomic_write(plugin_dir / "settings.json", '{"level": 2}')
    record = proc.wait_for("plugin.reloaded", after=start, plugin="reader_plugin")
    assert record["version"] == "2" and record["trigger"] == ["settings.json"]
    settle(proc, plugin_dir)
    assert not proc.find("plugin.reloaded", plugin="other_plugin")


def test_new_deleted_and_renamed_plugin_files(plugin_dir: Path, devnode_process) -> None:
    versioned(plugin_dir, "old_plugin", "1")
    proc = devnode_process(plugin_dir)
    proc.wait_for("node.ready")

    start = proc.mark()
    versioned(plugin_dir, "new_plugin", "1")
    proc.wait_for("plugin.loaded", after=start, plugin="new_plugin")

    start = proc.mark()
    (plugin_dir / "new_plugin.py").unlink()
    assert proc.wait_for("plugin.unloaded", after=start, plugin="new_plugin")["reason"] == "file deleted"

    start = proc.mark()
    os.rename(plugin_dir / "old_plugin.py", plugin_dir / "renamed_plugin.py")
    (plugin_dir / "renamed_plugin.py").write_text(source("renamed_plugin", "1"))
    proc.wait_for("plugin.unloaded", after=start, plugin="old_plugin")
    proc.wait_for("plugin.loaded", after=start, plugin="renamed_plugin")
    proc.send("status")
    status = proc.wait_for("status", after=start)
    assert [p["plugin"] for p in status["plugins"]] == ["renamed_plugin"]


def test_broken_save_keeps_the_previous_version_and_the_next_save_recovers(plugin_dir: Path, devnode_process) -> None:
    path = versioned(plugin_dir, "fragile_plugin", "1")
    proc = devnode_process(plugin_dir)
    proc.wait_for("node.ready")
    start = proc.mark()
    atomic_write(path, source("fragile_plugin", "2").replace("def shutdown(self):", "def shutdown(self:"))
    failed = proc.wait_for("plugin.failed", after=start, plugin="fragile_plugin")
    assert failed["running"] == "previous" and failed["phase"] == "import"
    assert failed["file"].endswith("fragile_plugin.py") and failed["line"] and failed["hint"]
    proc.send("status")
    status = proc.wait_for("status", after=start)
    assert status["plugins"][0]["state"] == "failed-running-previous" and status["plugins"][0]["version"] == "1"
    start = proc.mark()
    atomic_write(path, source("fragile_plugin", "3"))
    assert proc.wait_for("plugin.reloaded", after=start, plugin="fragile_plugin")["version"] == "3"


def test_editor_debris_pycache_and_outside_changes_are_ignored(plugin_dir: Path, tmp_path: Path, devnode_process) -> None:
    versioned(plugin_dir, "calm_plugin", "1")
    proc = devnode_process(plugin_dir)
    proc.wait_for("node.ready")
    (plugin_dir / ".calm_plugin.py.swp").write_text("swap")
    (plugin_dir / "calm_plugin.py~").write_text("backup")
    (plugin_dir / "4913").write_text("")
    (plugin_dir / "__pycache__").mkdir()
    (plugin_dir / "__pycache__" / "calm_plugin.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "outside_plugin.py").write_text(source("outside_plugin", "1"))
    settle(proc, plugin_dir)
    assert not proc.find("plugin.reloaded") and not proc.find("plugin.failed")
    loaded = {r["plugin"] for r in proc.find("plugin.loaded")}
    assert "outside_plugin" not in loaded


def test_reload_command_does_the_same_on_demand(plugin_dir: Path, devnode_process) -> None:
    versioned(plugin_dir, "a_plugin", "1")
    versioned(plugin_dir, "b_plugin", "1")
    proc = devnode_process(plugin_dir, "--no-watch")
    proc.wait_for("node.ready")
    start = proc.mark()
    (plugin_dir / "a_plugin.py").write_text(source("a_plugin", "2"))
    proc.send("reload a_plugin")
    assert proc.wait_for("plugin.reloaded", after=start, plugin="a_plugin")["version"] == "2"
    start = proc.mark()
    proc.send("reload all")
    proc.wait_for("plugin.reloaded", after=start, plugin="a_plugin")
    proc.wait_for("plugin.reloaded", after=start, plugin="b_plugin")
    proc.send("reload nosuch")
    assert "nosuch" in proc.wait_for("command.error", after=start)["error"]


def test_bundled_plugins_reload_live(tmp_path: Path, devnode_process) -> None:
    plugins = tmp_path / "plugins"
    shutil.copytree(Path(__file__).resolve().parent.parent / "plugins", plugins)
    proc = devnode_process(plugins)
    ready = proc.wait_for("node.ready", timeout=WATCH_DEADLINE)
    assert set(ready["plugins"]) >= {"audit_plugin", "validation_plugin", "configurable_plugin", "example_plugin", "metrics_plugin"}
    start = proc.mark()
    atomic_write(plugins / "configurable.json", '{"enabled": true, "watch": ["data.shared"], "greeting": "hi"}')
    assert proc.wait_for("plugin.reloaded", after=start, plugin="configurable_plugin")["trigger"] == ["configurable.json"]
    start = proc.mark()
    stats = plugins / "support" / "stats.py"
    atomic_write(stats, stats.read_text() + "\n# edited\n")
    assert proc.wait_for("plugin.reloaded", after=start, plugin="metrics_plugin")["trigger"] == ["support/stats.py"]
    assert proc.stop() == 0
    assert not proc.find("warning", code="leak")


def test_a_failure_inside_the_reloader_is_reported_and_watching_goes_on(plugin_dir: Path, harness) -> None:
    from devnode.reload.reloader import Reloader

    versioned(plugin_dir, "steady_plugin", "1")
    h = harness().start()
    reloader = Reloader(h.host)

    async def broken_apply(paths: set[Path]) -> None:
        raise RuntimeError("planner bug")

    reloader.apply = broken_apply  # type: ignore[method-assign]
    h.run(reloader.apply_safely({plugin_dir / "steady_plugin.py"}))
    warning = h.kinds("warning")[-1]
    assert warning["code"] == "reload-error" and "planner bug" in warning["message"] and "Traceback" in warning["traceback"]
    assert h.host.get_plugin("steady_plugin") is not None
