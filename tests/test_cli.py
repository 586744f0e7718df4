"""The ``devnode`` command line: help and version, run with stdin commands (plain and JSON), check."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import BUNDLED_PLUGINS, DevnodeProcess, clean_env, write_plugin
from devnode import __version__
from devnode.cli import main

GUIDE = Path(__file__).parent / "guide_plugins"
Start = Callable[..., DevnodeProcess]


def copy_bundled(tmp_path: Path) -> Path:
    """The bundled plugins, copied so the test never sees anyone's edits to the originals."""
    target = tmp_path / "plugins"
    shutil.copytree(BUNDLED_PLUGINS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def exits(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``main`` for an argparse action that exits; returns (code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


# -- help and version -------------------------------------------------------------------------------
def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = exits(["--version"], capsys)
    assert code == 0 and out.strip() == f"devnode {__version__}"


def test_python_dash_m_devnode_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "devnode", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"devnode {__version__}"


def test_top_level_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = exits(["--help"], capsys)
    assert code == 0
    assert "hot-reloading development node for DataMgmt Node plugins" in out
    assert "run " in out and "check " in out and "--version" in out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: devnode" in capsys.readouterr().out


def test_run_help_mentions_the_key_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = exits(["run", "--help"], capsys)
    assert code == 0
    for option in ("PLUGIN_DIR", "--env-file", "--data-dir", "--node-id", "--peers", "--ui", "json", "--no-watch",
                   "--debounce", "--log-level", "--timeout", "quit"):
        assert option in out, option


def test_check_help_mentions_the_key_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = exits(["check", "--help"], capsys)
    assert code == 0
    for option in ("PLUGIN_DIR", "--strict", "--format", "--env-file", "Exit 0 when clean, 1 when a plugin fails"):
        assert option in out, option


def test_bad_option_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = exits(["run", "--debounce", "soon"], capsys)
    assert code == 2 and '"soon" is not a whole number of milliseconds' in err


# -- run: plain mode -------------------------------------------------------------------------------------
def test_run_plain_mode_reads_commands_from_stdin(tmp_path: Path) -> None:
    plugins = copy_bundled(tmp_path)
    commands = "help\nstatus\nemit data.shared {\"data_hash\": \"abc\"}\nbogus\nquit\n"
    proc = subprocess.run(
        [sys.executable, "-m", "devnode", "run", str(plugins), "--data-dir", str(tmp_path / "data"), "--no-watch",
         "--ui", "plain"],
        input=commands, capture_output=True, text=True, timeout=60, cwd=tmp_path, env=clean_env(),
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "devnode: node node1 ready; 5 plugin(s)" in out
    assert "loaded audit_plugin 1.0.0" in out
    assert "commands:" in out and "emit TYPE [JSON]" in out
    assert "5 plugin(s);" in out
    assert "event data.shared" in out and "audit_plugin ok" in out
    assert 'unknown command "bogus"' in out + proc.stderr
    assert out.rstrip().endswith("devnode: node stopped (quit)")


# -- run: JSON mode ----------------------------------------------------------------------------------------
PRINTER = """
    from dashboard.event_bus import EventType


    class Printer_pluginPlugin:
        def __init__(self, node):
            self.node = node
            self.version = "0.1"

        def initialize(self):
            print("hello from print")
            self.node.event_bus.subscribe(EventType.DATA_VERIFIED, self.on_verified)

        def on_verified(self, event):
            print("verified", event.data.get("n"), end="")
            print()

        def shutdown(self):
            pass
"""

TICKER = """
    import asyncio
    import logging

    logger = logging.getLogger(__name__)


    class Ticker_pluginPlugin:
        def __init__(self, node):
            self.node = node
            self.task = None

        def initialize(self):
            self.task = asyncio.get_running_loop().create_task(self.tick())

        async def tick(self):
            n = 0
            while True:
                await asyncio.sleep(0.05)
                n += 1
                logger.info("tick %d", n)

        def shutdown(self):
            self.task.cancel()
"""

BROKEN = """
    class Broken_pluginPlugin:
        def __init__(self, node):
            self.node = node

        def initialize(self):
            self.node.undefined_service.start()

        def shutdown(self):
            pass
"""

RECORD_FIELDS = {
    "node.ready": {"node_id", "plugin_dir", "plugins"},
    "plugin.loaded": {"plugin", "version", "file", "timings"},
    "plugin.failed": {"plugin", "phase", "error", "file", "line", "hint"},
    "plugin.unloaded": {"plugin", "reason"},
    "plugin.reloaded": {"plugin", "timings"},
    "event": {"type", "data", "handlers"},
    "log": {"plugin", "level", "logger", "message"},
    "status": {"plugins", "subscriptions", "events"},
    "command.error": {"command", "error"},
    "command.result": {"command", "result"},
    "help": {"commands"},
    "node.stopped": {"reason"},
}


def test_run_json_session(tmp_path: Path, devnode_process: Start) -> None:
    plugins = copy_bundled(tmp_path)
    write_plugin(plugins, "printer_plugin", PRINTER)
    write_plugin(plugins, "ticker_plugin", TICKER)
    write_plugin(plugins, "broken_plugin", BROKEN)
    node = devnode_process(plugins, "--no-watch")

    ready = node.wait_for("node.ready")
    expected = ["audit_plugin", "configurable_plugin", "example_plugin", "metrics_plugin", "printer_plugin",
                "ticker_plugin", "validation_plugin"]
    assert ready["node_id"] == "node1" and ready["plugin_dir"] == str(plugins) and ready["plugins"] == expected
    loaded = node.find("plugin.loaded", plugin="audit_plugin")[0]
    assert loaded["version"] == "1.0.0" and loaded["file"] == "plugins/audit_plugin.py"
    failed = node.find("plugin.failed", plugin="broken_plugin")[0]
    assert failed["phase"] == "initialize" and failed["file"] == "plugins/broken_plugin.py" and failed["line"] == 6
    assert failed["error"] == "AttributeError: 'DevNode' object has no attribute 'undefined_service'"
    assert failed["hint"]
    # print() in a plugin becomes a log record attributed to it
    printed = node.wait_for("log", message="hello from print")
    assert printed["plugin"] == "printer_plugin" and printed["level"] == "PRINT"

    mark = node.mark()
    node.send("help")
    assert any(c["usage"].startswith("emit") for c in node.wait_for("help", after=mark)["commands"])

    # emit accepts member names and dotted values in any case
    for spelling, value in (("DATA_SHARED", "data.shared"), ("data.Shared", "data.shared"),
                            ("network.PEER_CONNECTED", "network.peer_connected")):
        mark = node.mark()
        node.send(f'emit {spelling} {{"data_hash": "{spelling}"}}')
        event = node.wait_for("event", after=mark, type=value)
        assert event["data"] == {"data_hash": spelling}
    shared = node.find("event", type="data.shared")[0]
    by_plugin = {h["plugin"]: h for h in shared["handlers"]}
    assert {"audit_plugin", "example_plugin", "metrics_plugin"} <= set(by_plugin)
    assert all(h["ok"] is True and h["error"] is None and isinstance(h["ms"], float) for h in shared["handlers"])

    mark = node.mark()
    node.send('emit data.verified {"n": 7}')
    assert node.wait_for("log", after=mark, message="verified 7")["plugin"] == "printer_plugin"

    mark = node.mark()
    node.send('share peer1 {"report": 42}')
    result = node.wait_for("command.result", after=mark, command="share")["result"]
    assert result["recipient"] == "peer1" and len(result["compliance_tx_hash"]) == 64
    assert node.wait_for("event", after=mark, type="data.shared")["data"]["recipient"] == "peer1"

    mark = node.mark()
    node.send('share peer1 {"ssn": "123-45-6789"}')
    refused = node.wait_for("command.error", after=mark)
    assert "ValueError" in refused["error"] and "blocked pattern" in refused["error"]

    mark = node.mark()
    node.send("unload example_plugin")
    node.wait_for("plugin.unloaded", after=mark, plugin="example_plugin")
    node.send("load example_plugin")
    node.wait_for("plugin.loaded", after=mark, plugin="example_plugin")
    node.send("reload audit_plugin")
    node.wait_for("plugin.reloaded", after=mark, plugin="audit_plugin")

    # bad input: an error record each, and the node keeps going
    for line, says in (("bogus", 'unknown command "bogus"'),
                       ("emit NOT_A_TYPE {}", 'unknown event type "NOT_A_TYPE"'),
                       ('emit data.shared {"unclosed": ', "JSON"),
                       ("share peer1", "usage: share RECIPIENT JSON"),
                       ("unload nobody", 'plugin "nobody" is not loaded')):
        mark = node.mark()
        node.send(line)
        error = node.wait_for("command.error", after=mark)
        assert error["command"] == line.strip() and says in error["error"], error

    mark = node.mark()
    node.send("status")
    status = node.wait_for("status", after=mark)
    states = {p["plugin"]: p["state"] for p in status["plugins"]}
    assert states["audit_plugin"] == "active" and states["broken_plugin"] == "failed"
    assert status["subscriptions"] > 0 and status["events"] >= 6

    # end of input stops reading commands, not the node: the ticker keeps ticking
    assert node.proc.stdin is not None
    node.proc.stdin.close()
    mark = node.mark()
    node.wait_for("log", after=mark, plugin="ticker_plugin")
    node.wait_for("log", after=node.mark(), plugin="ticker_plugin")
    assert node.proc.poll() is None

    # Ctrl-C shuts every plugin down cleanly
    node.proc.send_signal(signal.SIGINT)
    stopped = node.wait_for("node.stopped")
    assert stopped["reason"] == "interrupted"
    assert node.proc.wait(30) == 0
    unloaded = {r["plugin"] for r in node.find("plugin.unloaded", reason="node stopping")}
    assert unloaded == set(expected)
    assert node.find("event", type="system.node_stopping")
    assert "shutting down" in "".join(node.stderr_lines)

    records = node.snapshot()
    assert records and all(r["kind"] != "unparsed" for r in records), [r for r in records if r["kind"] == "unparsed"]
    for record in records:
        assert isinstance(record["ts"], float)
        assert RECORD_FIELDS.get(record["kind"], set()) <= set(record), record
    for event in (r for r in records if r["kind"] == "event"):
        for handler in event["handlers"]:
            assert {"plugin", "ok", "ms", "error"} <= set(handler)


def test_json_mode_handler_failure_is_in_the_event_record(tmp_path: Path, devnode_process: Start) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    write_plugin(plugins, "fragile_plugin", """
        from dashboard.event_bus import EventType


        class Fragile_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                self.node.event_bus.subscribe(EventType.ERROR, self.on_error)

            def on_error(self, event):
                raise KeyError(event.data["missing"])

            def shutdown(self):
                pass
    """)
    node = devnode_process(plugins, "--no-watch")
    node.wait_for("node.ready")
    node.send("emit system.error {}")
    event = node.wait_for("event", type="system.error")
    [handler] = event["handlers"]
    assert handler["plugin"] == "fragile_plugin" and handler["ok"] is False
    assert handler["error"] == "KeyError: 'missing'"
    node.send("status")
    assert node.wait_for("status")["plugins"][0]["errors"] == 1
    assert node.stop() == 0


# -- check -----------------------------------------------------------------------------------------------------
def test_check_passes_on_the_bundled_plugins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugins = copy_bundled(tmp_path)
    assert main(["check", str(plugins)]) == 0
    out = capsys.readouterr().out
    assert "5 plugin(s) loaded: audit_plugin, configurable_plugin, example_plugin, metrics_plugin, validation_plugin" in out
    assert out.rstrip().endswith("0 failure(s), 0 parity warning(s): clean")


def test_check_json_format_parses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugins = copy_bundled(tmp_path)
    assert main(["check", str(plugins), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["clean"] is True and report["strict"] is False
    assert report["plugins"] == ["audit_plugin", "configurable_plugin", "example_plugin", "metrics_plugin",
                                 "validation_plugin"]
    assert report["failures"] == [] and report["warnings"] == []


def _guide(name: str) -> str:
    return (GUIDE / f"{name}.py").read_text()


ERROR_CASES: dict[str, tuple[str, str, str]] = {
    # case: (module name, source, text the report must contain)
    "guide basic template": ("example_plugin", _guide("example_plugin"),
                             "from dashboard.event_bus import EventType"),
    "guide await in initialize": ("my_plugin", _guide("my_plugin"), "'await' outside async function"),
    "wrong class name": ("audit_plugin", "class AuditPlugin:\n    def __init__(self, node):\n        pass\n",
                         "has no class Audit_pluginPlugin"),
    "syntax error": ("typo_plugin", "def f(:\n", "SyntaxError"),
    "missing dependency": ("dep_plugin", "import surely_not_installed_module_xyz\n",
                           "pip install surely_not_installed_module_xyz"),
    "constructor raises": ("boom_plugin",
                           "class Boom_pluginPlugin:\n    def __init__(self, node):\n        raise RuntimeError('boom')\n",
                           "RuntimeError: boom"),
    "shutdown raises": ("late_plugin",
                        "class Late_pluginPlugin:\n    def __init__(self, node):\n        pass\n"
                        "    def initialize(self):\n        pass\n"
                        "    def shutdown(self):\n        raise RuntimeError('late')\n",
                        "RuntimeError: late"),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_check_fails_with_exit_1_on_each_error(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module, source, expected = ERROR_CASES[case]
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / f"{module}.py").write_text(source)
    assert main(["check", str(plugins)]) == 1
    out = capsys.readouterr().out
    assert expected in out and "problems found" in out and module in out

    assert main(["check", str(plugins), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["clean"] is False and report["failures"][0]["plugin"] == module


def test_check_strict_fails_on_parity_warnings_only_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    write_plugin(plugins, "_common", "X = 1\n")
    assert main(["check", str(plugins)]) == 0
    assert "1 parity warning(s): clean" in capsys.readouterr().out
    assert main(["check", str(plugins), "--strict"]) == 1
    assert "problems found" in capsys.readouterr().out


def test_check_subprocess_exit_code(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "example_plugin.py").write_text(_guide("example_plugin"))
    proc = subprocess.run([sys.executable, "-m", "devnode", "check", str(plugins)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env=clean_env())
    assert proc.returncode == 1
    assert "example_plugin.py:35" in proc.stdout and "NameError" in proc.stdout


def test_run_piped_into_head_stops_quietly_when_the_reader_goes_away(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "devnode", "run", str(BUNDLED_PLUGINS), "--no-watch", "--data-dir", str(tmp_path / "d")],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline()
    proc.stdout.close()  # like `| head -1` exiting
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "Traceback" not in err


def test_check_interrupts_a_plugin_stuck_in_an_endless_loop(plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "spin_plugin", """
        class Spin_pluginPlugin:
            def __init__(self, node):
                pass
            def initialize(self):
                while True:
                    pass
            def shutdown(self):
                pass
    """)
    result = subprocess.run(
        [sys.executable, "-m", "devnode", "check", str(plugin_dir), "--timeout", "1", "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    failure = json.loads(result.stdout)["failures"][0]
    assert failure["plugin"] == "spin_plugin" and "blocked the event loop" in failure["error"]
    assert failure["line"] == 5
