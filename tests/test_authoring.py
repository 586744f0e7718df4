"""The authoring loop through a real ``devnode run``: watch scope, ignores, the .env, restart, tests on save."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import WATCH_DEADLINE, DevnodeProcess, atomic_write, clean_env, write_plugin

from devnode.project import authoring_settings, read_table
from devnode.reload.external import absolute_imports
from devnode.reload.scope import WatchScope

Start = Callable[..., DevnodeProcess]

USER = """
    import logging
    import {module}

    log = logging.getLogger(__name__)


    class {cls}:
        def __init__(self, node):
            self.node = node

        def initialize(self):
            log.info("{name} sees %s", {module}.VALUE)

        def shutdown(self):
            pass
"""


def user_plugin(plugin_dir: Path, name: str, module: str, import_line: str | None = None) -> None:
    source = USER.format(module=module, cls=name.capitalize() + "Plugin", name=name)
    if import_line is not None:
        source = source.replace(f"import {module}\n", import_line + "\n", 1)
    write_plugin(plugin_dir, name, source)


def env_with_path(*paths: Path) -> dict[str, str]:
    env = clean_env()
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    return env


def logged(proc: DevnodeProcess, text: str, after: int = 0) -> bool:
    return any(text in r.get("message", "") for r in proc.snapshot()[after:] if r.get("kind") == "log")


# -- pure parts ----------------------------------------------------------------------------
def test_absolute_imports_resolve_relative_ones_of_outside_packages() -> None:
    source = "import a.b\nfrom c import d\nfrom . import util\nfrom .sub import x\nfrom plugins import h\n"
    assert absolute_imports(source) == {"a.b", "c", "c.d"}
    assert absolute_imports(source, package="mylib") == {"a.b", "c", "c.d", "mylib", "mylib.util", "mylib.sub",
                                                          "mylib.sub.x"}


def test_scope_ignores_gitignore_devnodeignore_and_globs(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    (plugins / "build").mkdir(parents=True)
    (plugins / ".gitignore").write_text("scratch_*.py\nbuild/\n!keep_scratch_x.py\n")
    (plugins / ".devnodeignore").write_text("/notes.txt\n")
    scope = WatchScope(plugins, ignore=["*.csv"])

    assert scope.ignored(plugins / "scratch_one.py") and scope.ignored(plugins / "build" / "x.py")
    assert scope.ignored(plugins / "notes.txt") and scope.ignored(plugins / "data" / "a.csv")
    assert not scope.ignored(plugins / "keep_scratch_x.py") and not scope.ignored(plugins / "real_plugin.py")
    assert not scope.ignored(plugins / "sub" / "notes.txt")  # anchored to the top of the plugin dir


def test_ignore_files_above_the_plugin_dir_count_up_to_the_git_root(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    plugins = repo / "src" / "plugins"
    plugins.mkdir(parents=True)
    (repo / ".git").mkdir()
    (repo / ".gitignore").write_text("*.log\nsrc/plugins/scratch_*.py\n")
    (tmp_path / ".gitignore").write_text("*.py\n")  # above the git root: not this project's
    (plugins / ".devnodeignore").write_text("!keep.log\n")  # the deeper file wins, as in git
    scope = WatchScope(plugins)

    assert scope.ignored(plugins / "audit.log") and scope.ignored(plugins / "scratch_1.py")
    assert not scope.ignored(plugins / "keep.log") and not scope.ignored(plugins / "real_plugin.py")
    (repo / ".gitignore").write_text("*.log\n")
    scope.refresh_ignores([])
    assert not scope.ignored(plugins / "scratch_1.py")  # edits to it apply at the next batch


def test_scope_kinds(tmp_path: Path) -> None:
    plugins, lib = tmp_path / "plugins", tmp_path / "lib"
    plugins.mkdir()
    lib.mkdir()
    (plugins / "a_plugin.py").write_text("")
    (tmp_path / ".env").write_text("")
    scope = WatchScope(plugins, extra=[lib, plugins / "a_plugin.py", plugins], env_file=tmp_path / ".env")

    assert scope.extra_dirs == [lib.resolve()] and scope.extra_files == []  # the plugin dir is watched anyway
    assert scope.kind(plugins.resolve() / "a_plugin.py") == "plugin"
    assert scope.kind(lib.resolve() / "x.py") == "external"
    assert scope.kind((tmp_path / ".env").resolve()) == "env"
    assert scope.kind(tmp_path.resolve() / "elsewhere.py") is None


def test_pyproject_env_and_cli_precedence(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "other").mkdir()
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.devnode]\nwatch = ["lib"]\nignore = ["*.csv"]\nnode_id = "from-pyproject"\n')
    dotenv = tmp_path / ".env"
    dotenv.write_text("DEVNODE_IGNORE=*.log,*.tmp\n")
    table = read_table(pyproject)

    from_files = authoring_settings({}, table, {}, dotenv, tmp_path)
    assert from_files.watch == [(tmp_path / "lib").resolve()] and from_files.ignore == ["*.log", "*.tmp"]
    assert from_files.sources["watch"].endswith("[tool.devnode] watch")
    from_env = authoring_settings({}, table, {"DEVNODE_WATCH": str(tmp_path / "other")}, dotenv, tmp_path)
    assert from_env.watch == [(tmp_path / "other").resolve()]
    from_cli = authoring_settings({"ignore": ["*.bak"]}, table, {"DEVNODE_IGNORE": "*.x"}, dotenv, tmp_path)
    assert from_cli.ignore == ["*.bak"]
    assert table.node_settings()["node_id"] == ("from-pyproject", f"{pyproject} [tool.devnode] node_id")


def test_an_unknown_pyproject_key_is_a_clear_error(tmp_path: Path, plugin_dir: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "pyproject.toml").write_text("[tool.devnode]\nwatchh = ['lib']\n")
    proc = subprocess.run([sys.executable, "-m", "devnode", "run", str(plugin_dir), "--no-watch"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env=clean_env(), stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert "[tool.devnode] has unknown key(s) watchh; accepted: plugin_dir, data_dir" in proc.stderr


# -- through a real devnode run ---------------------------------------------------------------
def test_a_save_in_a_watch_dir_reloads_its_importers_directly_or_through_helpers(
        tmp_path: Path, plugin_dir: Path, devnode_process: Start) -> None:
    lib = tmp_path / "lib"
    (lib / "mylib").mkdir(parents=True)
    (lib / "shared_utils.py").write_text("VALUE = 1\n")
    (lib / "mylib" / "__init__.py").write_text("from . import util\nVALUE = util.VALUE\n")
    (lib / "mylib" / "util.py").write_text("VALUE = 'a'\n")
    user_plugin(plugin_dir, "direct_plugin", "shared_utils")
    write_plugin(plugin_dir, "_common", "import shared_utils\n")
    user_plugin(plugin_dir, "helped_plugin", "shared_utils", "from plugins._common import shared_utils")
    user_plugin(plugin_dir, "package_plugin", "mylib")
    user_plugin(plugin_dir, "bystander_plugin", "json")
    proc = devnode_process(plugin_dir, "--watch", str(lib), env=env_with_path(lib))
    proc.wait_for("node.ready")

    mark = proc.mark()
    atomic_write(lib / "shared_utils.py", "VALUE = 2\n")
    for name in ("direct_plugin", "helped_plugin"):
        record = proc.wait_for("plugin.reloaded", after=mark, plugin=name)
        assert record["trigger"] == ["lib/shared_utils.py"]
    assert proc.wait_for("log", after=mark, message="direct_plugin sees 2")
    assert proc.wait_for("log", after=mark, message="helped_plugin sees 2")

    mark2 = proc.mark()
    atomic_write(lib / "mylib" / "util.py", "VALUE = 'b'\n")  # a submodule the package imports
    assert proc.wait_for("plugin.reloaded", after=mark2, plugin="package_plugin")["trigger"] == ["lib/mylib/util.py"]
    proc.wait_for("log", after=mark2, message="package_plugin sees b")
    reloaded = {r["plugin"] for r in proc.find("plugin.reloaded")}
    assert reloaded == {"direct_plugin", "helped_plugin", "package_plugin"}  # bystander_plugin untouched
    assert proc.find("node.ready")[0]["scope"]["watch"] == [str(lib.resolve())]


def test_ignored_and_gitignored_files_do_nothing(plugin_dir: Path, devnode_process: Start) -> None:
    (plugin_dir / ".gitignore").write_text("scratch_*.py\n")
    (plugin_dir / "table.csv").write_text("a,b\n")
    write_plugin(plugin_dir, "reader_plugin", """
        import logging
        from pathlib import Path

        log = logging.getLogger(__name__)


        class Reader_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                log.info("rows: %d", len((Path(__file__).parent / "table.csv").read_text().splitlines()))

            def shutdown(self):
                pass
    """)
    proc = devnode_process(plugin_dir, "--ignore", "*.csv")
    proc.wait_for("node.ready")

    mark = proc.mark()
    atomic_write(plugin_dir / "table.csv", "a,b\n1,2\n")  # read by the plugin, but ignored
    write_plugin(plugin_dir, "scratch_plugin", "class Scratch_pluginPlugin:\n    def __init__(self, node): pass\n")
    # A save after them, not ignored: once it is applied, the ignored ones would have been too.
    path = plugin_dir / "reader_plugin.py"
    atomic_write(path, path.read_text().replace("rows: %d", "rows now: %d"))
    record = proc.wait_for("plugin.reloaded", after=mark, plugin="reader_plugin")
    assert record["trigger"] == ["reader_plugin.py"]
    assert proc.find("plugin.loaded", plugin="scratch_plugin") == []
    assert len(proc.find("plugin.reloaded")) == 1


def test_a_changed_env_is_applied_and_reported(tmp_path: Path, plugin_dir: Path, devnode_process: Start) -> None:
    (tmp_path / ".env").write_text("NODE_ID=node1\nPRIVATE_KEY=old-secret\n")
    user_plugin(plugin_dir, "greeter_plugin", "json")
    proc = devnode_process(plugin_dir)
    assert proc.wait_for("node.ready")["node_id"] == "node1"

    mark = proc.mark()
    atomic_write(tmp_path / ".env", "NODE_ID=node7\nPRIVATE_KEY=new-secret\n")
    changed = proc.wait_for("config.changed", after=mark)
    assert changed["changed"] == [{"name": "NODE_ID", "old": "node1", "new": "node7"},
                                  {"name": "PRIVATE_KEY", "old": "***", "new": "***"}]
    assert "restarting the node" in changed["message"]
    ready = proc.wait_for("node.ready", after=mark)
    assert ready["node_id"] == "node7" and ready["restarted"].startswith(".env changed: NODE_ID")
    assert "new-secret" not in "".join(str(r) for r in proc.snapshot())


def test_an_invalid_env_change_keeps_the_node_running(tmp_path: Path, plugin_dir: Path, devnode_process: Start) -> None:
    (tmp_path / ".env").write_text("P2P_PORT=8765\n")
    proc = devnode_process(plugin_dir)
    proc.wait_for("node.ready")
    mark = proc.mark()
    atomic_write(tmp_path / ".env", "P2P_PORT=eighty\n")
    warning = proc.wait_for("warning", after=mark, code="env-invalid")
    assert 'P2P_PORT="eighty"' in warning["message"] and "keeps running" in warning["message"]
    proc.send("status")
    proc.wait_for("status", after=mark)
    assert proc.find("node.restarting") == []


BOOTS = """
    import logging
    import threading
    from pathlib import Path

    log = logging.getLogger(__name__)


    class Boots_pluginPlugin:
        def __init__(self, node):
            self.node = node

        def initialize(self):
            counter = Path(self.node.config.data_dir) / "boots.txt"
            boots = int(counter.read_text()) + 1 if counter.exists() else 1
            counter.write_text(str(boots))
            log.info("boot %d", boots)
            self.stop = threading.Event()

        def shutdown(self):
            threading.Thread(target=self.stop.wait, args=(5,), name="forgotten", daemon=True).start()
"""


def test_restart_keeps_the_data_and_returns_to_ready(tmp_path: Path, plugin_dir: Path, devnode_process: Start) -> None:
    write_plugin(plugin_dir, "boots_plugin", BOOTS)
    proc = devnode_process(plugin_dir)
    proc.wait_for("node.ready")
    proc.wait_for("log", message="boot 1")
    key = (tmp_path / "data" / "devnode.key").read_bytes()

    proc.send("reload boots_plugin")  # its shutdown leaves a thread: a reload cannot clean that up
    warning = proc.wait_for("warning", code="thread-left-running")
    assert warning["restart"] is True and "restart devnode in place (type restart, or press R" in warning["message"]

    mark = proc.mark()
    proc.send("restart")
    assert proc.wait_for("node.restarting", after=mark)["reason"] == "restart command"
    proc.wait_for("node.stopped", after=mark)
    ready = proc.wait_for("node.ready", after=mark)
    assert ready["restarted"] == "restart command" and ready["plugins"] == ["boots_plugin"]
    proc.wait_for("log", after=mark, message="boot 3")  # the same data dir: two boots before, one now
    assert (tmp_path / "data" / "devnode.key").read_bytes() == key
    proc.send("status")
    assert proc.wait_for("status", after=mark)["plugins"][0]["state"] == "active"
    assert proc.stop() == 0


# -- tests on save -----------------------------------------------------------------------------
GREETER = """
    from dashboard.event_bus import EventType


    class Greeter_pluginPlugin:
        GREETING = "hello"

        def __init__(self, node):
            self.node = node

        def initialize(self):
            pass

        def shutdown(self):
            pass
"""

GREETER_TEST = """
    import time
    from pathlib import Path

    PLUGIN = Path(__file__).resolve().parent.parent / "plugins" / "greeter_plugin.py"


    def test_hangs_when_asked(devnode):
        if "HANG" in PLUGIN.read_text():
            time.sleep(600)


    def test_greeting(devnode):
        assert devnode.load("greeter_plugin").GREETING == "hello"
"""


@pytest.fixture
def project(tmp_path: Path, plugin_dir: Path) -> Path:
    write_plugin(plugin_dir, "greeter_plugin", GREETER)
    write_plugin(plugin_dir, "other_plugin", GREETER.replace("Greeter_plugin", "Other_plugin"))
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_greeter.py").write_text(textwrap.dedent(GREETER_TEST))
    (tests / "test_unrelated.py").write_text("def test_never_run():\n    raise AssertionError('not mine')\n")
    return plugin_dir


def test_run_test_reruns_the_plugins_tests_after_a_save(project: Path, devnode_process: Start) -> None:
    proc = devnode_process(project, "--test-timeout", "12", "--test", "-q")
    proc.wait_for("node.ready")
    path = project / "greeter_plugin.py"

    atomic_write(path, path.read_text().replace('"hello"', '"hello"  # saved'))
    passed = proc.wait_for("tests.finished", timeout=WATCH_DEADLINE + 60)
    assert passed["outcome"] == "passed" and passed["passed"] == 2 and passed["files"] == ["tests/test_greeter.py"]
    assert passed["plugins"] == ["greeter_plugin"]

    mark = proc.mark()
    atomic_write(path, path.read_text().replace('"hello"', '"bonjour"'))
    failed = proc.wait_for("tests.finished", after=mark, timeout=WATCH_DEADLINE + 60)
    assert failed["outcome"] == "failed" and failed["failures"] == ["tests/test_greeter.py::test_greeting"]
    assert failed["passed"] == 1

    mark = proc.mark()
    atomic_write(path, path.read_text().replace('"bonjour"', '"hello"  # HANG'))
    hung = proc.wait_for("tests.finished", after=mark, timeout=WATCH_DEADLINE + 60)
    assert hung["outcome"] == "timeout" and hung["running"] == "tests/test_greeter.py::test_hangs_when_asked"
    assert "killed after 12 s" in hung["message"]
    assert hung["passed"] == 1  # test_greeting failed last time, so it ran (and passed) before the hang

    proc.send("status")  # the node never stopped
    assert {p["plugin"] for p in proc.wait_for("status", after=mark)["plugins"]} == {"greeter_plugin", "other_plugin"}


def test_run_test_says_when_no_test_covers_the_plugin(project: Path, devnode_process: Start) -> None:
    proc = devnode_process(project, "--test")
    proc.wait_for("node.ready")
    path = project / "other_plugin.py"
    atomic_write(path, path.read_text() + "\n# saved\n")
    record = proc.wait_for("tests.finished", timeout=WATCH_DEADLINE + 60)
    assert record["outcome"] == "none" and record["plugins"] == ["other_plugin"]
    assert "no test names other_plugin" in record["message"]


def test_an_own_module_changed_outside_the_watch_scope_is_named_with_a_restart_offer(
        tmp_path: Path, plugin_dir: Path, devnode_process: Start) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "shared_utils.py").write_text("VALUE = 1\n")
    user_plugin(plugin_dir, "direct_plugin", "shared_utils")
    proc = devnode_process(plugin_dir, env=env_with_path(lib))  # no --watch lib
    proc.wait_for("node.ready")

    mark = proc.mark()
    atomic_write(lib / "shared_utils.py", "VALUE = 2\n")
    proc.send("reload direct_plugin")
    warning = proc.wait_for("warning", after=mark, code="outside-scope-changed")
    assert f"--watch {lib.resolve()}" in warning["message"] and warning["restart"] is True
    assert proc.wait_for("log", after=mark, message="direct_plugin sees 1")  # the old module, as the warning says


def test_a_watched_data_file_reloads_the_plugins_naming_it(tmp_path: Path, plugin_dir: Path,
                                                            devnode_process: Start) -> None:
    shared = tmp_path / "shared.json"
    shared.write_text('{"limit": 1}')
    write_plugin(plugin_dir, "limit_plugin", f"""
        import json
        import logging

        log = logging.getLogger(__name__)
        CONFIG = {str(shared)!r}  # shared.json, outside the plugin dir


        class Limit_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                with open(CONFIG) as f:
                    log.info("limit %s", json.load(f)["limit"])

            def shutdown(self):
                pass
    """)
    proc = devnode_process(plugin_dir, "--watch", str(shared))
    proc.wait_for("node.ready")
    mark = proc.mark()
    atomic_write(shared, '{"limit": 5}')
    assert proc.wait_for("plugin.reloaded", after=mark, plugin="limit_plugin")["trigger"] == [str(shared.relative_to(tmp_path))]
    proc.wait_for("log", after=mark, message="limit 5")


def test_a_restart_hands_the_prompt_histories_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from devnode.restart import HISTORY_ENV, restart_command, take_histories

    saved = tmp_path / "history.json"
    saved.write_text(json.dumps({"command": ["status", "peer list"], "emit": ["data.shared"]}))
    monkeypatch.setenv(HISTORY_ENV, str(saved))

    assert take_histories() == {"command": ["status", "peer list"], "emit": ["data.shared"]}
    assert not saved.exists() and HISTORY_ENV not in os.environ  # read once
    assert take_histories() == {}
    assert restart_command()[0] == __import__("sys").executable


def test_a_restart_keeps_the_recording_so_far(tmp_path: Path, plugin_dir: Path, devnode_process: Start) -> None:
    from devnode.recording import load_recording

    recording = tmp_path / "session.jsonl"
    proc = devnode_process(plugin_dir, "--record", str(recording))
    proc.wait_for("node.ready")
    proc.send("emit data.verified {\"n\": 1}")
    proc.wait_for("event", type="data.verified")
    proc.send("restart")
    mark = proc.mark()
    proc.wait_for("node.ready", after=mark)
    kept = load_recording(tmp_path / "session.1.jsonl")
    assert [e.event.type.value for e in kept.events][:2] == ["system.node_started", "data.verified"]
    assert load_recording(recording).header["format"]  # the new process records afresh


def test_a_changed_outside_module_never_runs_from_a_stale_pyc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python trusts a .pyc whose whole-second mtime and size match: a quick same-size save must not hit it."""
    import importlib
    import sys

    from devnode.reload.outside import _drop_bytecode

    module = tmp_path / "quick_edit_mod.py"
    module.write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as on an author's machine
    first = importlib.import_module("quick_edit_mod")
    assert first.VALUE == 1 and importlib.util.cache_from_source(str(module))
    stat = module.stat()
    module.write_text("VALUE = 2\n")  # same size, same second: the cached .pyc still matches
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    del sys.modules["quick_edit_mod"]
    _drop_bytecode(module)
    assert importlib.import_module("quick_edit_mod").VALUE == 2
    del sys.modules["quick_edit_mod"]
