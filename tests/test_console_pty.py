"""The real ``devnode run --ui rich`` in a pseudo-terminal: footer, reload, keys, pdb, the Python console."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest

from conftest import WATCH_DEADLINE, atomic_write, clean_env, write_plugin

TIMEOUT = 30
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def loose(*words: str) -> str:
    """A pattern for words in order, separated by any spaces and styling codes."""
    return r"(?:\s|\x1b\[[0-9;?]*[A-Za-z])+".join(re.escape(w) for w in words)


class ConsolePty:
    """One ``devnode run --ui rich`` on a 40x100 pty; prints what it showed when an expectation fails."""

    def __init__(self, plugin_dir: Path, data_dir: Path, *extra: str, bytecode: bool = False) -> None:
        env = clean_env(bytecode)
        env.update(TERM="xterm-256color")
        for name in ("NO_COLOR", "COLUMNS", "LINES"):
            env.pop(name, None)
        self.log = io.StringIO()
        self.child = pexpect.spawn(
            sys.executable, ["-m", "devnode", "run", str(plugin_dir), "--data-dir", str(data_dir), "--ui", "rich", *extra],
            dimensions=(40, 100), env=env, cwd=str(plugin_dir.parent), encoding="utf-8", codec_errors="replace",
            timeout=TIMEOUT,
        )
        self.child.logfile_read = self.log

    def expect(self, pattern: Any, timeout: float = TIMEOUT) -> None:
        try:
            self.child.expect(pattern, timeout=timeout)
        except (pexpect.TIMEOUT, pexpect.EOF):
            print(f"--- the terminal showed (escape codes removed), waiting for {pattern!r}:")
            print(self.text()[-8000:])
            raise

    def send(self, text: str) -> None:
        self.child.send(text)

    def text(self) -> str:
        return ANSI.sub("", self.log.getvalue())

    def finish(self) -> int:
        self.expect(pexpect.EOF)
        self.child.close()
        return self.child.exitstatus  # type: ignore[no-any-return]

    def kill(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def console_pty(tmp_path: Path) -> Any:
    started: list[ConsolePty] = []

    def start(plugin_dir: Path, *extra: str, bytecode: bool = False) -> ConsolePty:
        proc = ConsolePty(plugin_dir, tmp_path / "data", *extra, bytecode=bytecode)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


PLUGIN = """
    import logging
    from pathlib import Path
    from dashboard.event_bus import EventType

    logger = logging.getLogger(__name__)

    class {cls}:
        def __init__(self, node):
            self.node = node
            self.version = "{version}"

        def initialize(self):
            self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on_shared)
            logger.info("{name} up")
            print("{name} printed", self.version)

        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.DATA_SHARED, self.on_shared)
            Path(self.node.config.data_dir, "{name}.down").write_text(self.version)

        def on_shared(self, event):
            marker = event.data.get("a")
            {debug}
            logger.info("after breakpoint %s", marker)
"""


def plugin(plugin_dir: Path, name: str, version: str = "1.0.0", debug: str = "pass") -> Path:
    cls = name.capitalize() + "Plugin"
    return write_plugin(plugin_dir, name, PLUGIN.format(cls=cls, name=name, version=version, debug=debug))


def test_footer_shows_plugins_a_save_reloads_and_q_shuts_everything_down(
    console_pty: Any, plugin_dir: Path, tmp_path: Path
) -> None:
    alpha = plugin(plugin_dir, "alpha_plugin")
    plugin(plugin_dir, "beta_plugin")
    term = console_pty(plugin_dir, bytecode=True)  # a plugin author's machine: bytecode caching on
    term.expect("node node1 ready")
    term.expect(loose("alpha_plugin", "1.0.0", "active"))
    term.expect(loose("beta_plugin", "1.0.0", "active"))
    term.expect(loose("q", "quit"))
    atomic_write(alpha, alpha.read_text().replace('"1.0.0"', '"1.1.0"'))
    term.expect(loose("reloaded", "alpha_plugin", "1.1.0"), timeout=WATCH_DEADLINE)
    term.expect(loose("alpha_plugin", "1.1.0", "active", "1"))  # the footer counts the reload
    term.send("q")
    assert term.finish() == 0
    assert (tmp_path / "data" / "alpha_plugin.down").read_text() == "1.1.0"
    assert (tmp_path / "data" / "beta_plugin.down").read_text() == "1.0.0"
    text = term.text()
    assert "unloaded alpha_plugin (node stopping)" in text and "unloaded beta_plugin (node stopping)" in text
    assert "node stopped (quit)" in text
    assert "alpha_plugin up" in text  # plugin log records, attributed
    assert "alpha_plugin printed 1.1.0" in text  # print() lands in the history too


def test_breakpoint_in_a_handler_gives_pdb_and_continue_brings_the_console_back(
    console_pty: Any, plugin_dir: Path, tmp_path: Path
) -> None:
    plugin(plugin_dir, "debug_plugin", debug="breakpoint()")
    term = console_pty(plugin_dir)
    term.expect("node node1 ready")
    term.expect(loose("q", "quit"))
    term.send(":")
    term.expect(": ")
    term.send('emit data.shared {"a": 42}\r')
    term.expect(r"-> logger\.info\(\"after breakpoint %s\", marker\)")
    term.expect(r"\(Pdb\) ")
    term.send("p marker * 2\r")
    term.expect("84")
    term.send("c\r")
    term.expect("after breakpoint 42")
    term.expect(loose("q", "quit"))  # the footer is back
    term.send("s")  # and keys work again
    term.expect(re.escape("1 plugin(s) · 1 subscriptions"))
    term.send("\x03")  # Ctrl-C once: a clean shutdown
    term.expect(r"node stopped \(interrupted\)")
    assert term.finish() == 0
    assert (tmp_path / "data" / "debug_plugin.down").exists()


FAILING_INIT = """
    import json

    class Boom_pluginPlugin:
        def __init__(self, node):
            self.node = node

        def initialize(self):
            settings = {"retries": 3}
            value = json.loads("{bad json")
            self.value = value

        def shutdown(self):
            pass
"""


def test_pdb_flag_stops_at_the_failing_plugin_line(console_pty: Any, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "boom_plugin", FAILING_INIT)
    term = console_pty(plugin_dir, "--pdb")
    term.expect("boom_plugin failed in initialize")
    term.expect(r"boom_plugin\.py\(9\)initialize\(\)")
    term.expect(r"-> value = json\.loads\(\"\{bad json\"\)")
    term.expect(r"\(Pdb\) ")
    term.send("p settings\r")
    term.expect(r"\{'retries': 3\}")
    term.send("c\r")
    term.expect(loose("boom_plugin", "-", "failed"))
    term.send("q")
    assert term.finish() == 0


def test_python_console_awaits_on_the_live_node_and_saves_still_reload(console_pty: Any, plugin_dir: Path) -> None:
    alpha = plugin(plugin_dir, "alpha_plugin")
    term = console_pty(plugin_dir, "--console")  # opens the console once the node is ready
    term.expect("node node1 ready")
    term.expect(">>> ")
    term.send('await node.share_data("report", "peer1")\r')
    term.expect(r"'[0-9a-f]{64}'")
    atomic_write(alpha, alpha.read_text().replace('"1.0.0"', '"2.0.0"'))
    term.expect(loose("reloaded", "alpha_plugin", "2.0.0"), timeout=WATCH_DEADLINE)
    term.send("plugins['alpha_plugin'].version\r")
    term.expect("'2.0.0'")
    term.send("\x04")  # Ctrl-D: back to the dashboard
    term.expect(loose("q", "quit"))
    term.send("c")  # and the key opens it again, with what was defined before
    term.expect(">>> ")
    term.send("len(plugins), bus is node.event_bus\r")
    term.expect(re.escape("(1, True)"))
    term.send("exit()\r")
    term.expect(loose("q", "quit"))
    term.send("e")
    term.expect("event type: ")
    term.send("data.shared\r")
    term.expect(r"data \(JSON, Enter for \{\}\): ")
    term.send('{"k": 7}\r')
    term.expect(loose("data.shared", '{"k":7}', "→", "alpha_plugin", "ok"))
    term.send("q")
    assert term.finish() == 0


SLOW_SHUTDOWN = """
    import asyncio

    class Slow_pluginPlugin:
        def __init__(self, node):
            self.node = node

        def initialize(self):
            pass

        async def shutdown(self):
            await asyncio.sleep(60)
"""


def test_ctrl_c_quits_cleanly_and_a_second_ctrl_c_forces_the_exit(console_pty: Any, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "slow_plugin", SLOW_SHUTDOWN)
    term = console_pty(plugin_dir, "--timeout", "120")
    term.expect("node node1 ready")
    term.expect(loose("q", "quit"))
    term.send("\x03")
    term.expect(re.escape("shutting down (Ctrl-C again to force)"))
    term.send("\x03")  # the slow plugin is still shutting down
    term.expect("interrupted twice")
    assert term.finish() == 130
