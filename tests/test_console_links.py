"""OSC 8 links on error locations in a real ``devnode run --ui rich`` on a pty; none with NO_COLOR or --ui plain;
the ``o`` key opens the last error in the editor; ``R`` restarts in place."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pexpect
from conftest import clean_env, write_plugin

from devnode.ui.console.links import Linker, Location, editor_command

TIMEOUT = 30
OSC8 = re.compile(r"\x1b\]8;[^;]*;([^\x1b\x07]*)(?:\x1b\\|\x07)")

BROKEN = """
    class Broken_pluginPlugin:
        def __init__(self, node):
            self.node = node

        def initialize(self):
            raise ValueError("no config")

        def shutdown(self):
            pass
"""


def spawn(plugin_dir: Path, data_dir: Path, *extra: str, no_color: bool = False) -> tuple[pexpect.spawn, io.StringIO]:
    env = clean_env()
    env.update(TERM="xterm-256color")
    for name in ("NO_COLOR", "COLUMNS", "LINES", "EDITOR", "VISUAL", "DEVNODE_EDITOR"):
        env.pop(name, None)
    if no_color:
        env["NO_COLOR"] = "1"
    log = io.StringIO()
    child = pexpect.spawn(sys.executable, ["-m", "devnode", "run", str(plugin_dir), "--data-dir", str(data_dir),
                                           "--ui", "rich", *extra],
                          dimensions=(40, 120), env=env, cwd=str(plugin_dir.parent), encoding="utf-8",
                          codec_errors="replace", timeout=TIMEOUT)
    child.logfile_read = log
    return child, log


def finish(child: pexpect.spawn) -> None:
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()


def test_error_locations_are_osc8_links_and_o_opens_the_editor(plugin_dir: Path, tmp_path: Path) -> None:
    path = write_plugin(plugin_dir, "broken_plugin", BROKEN)
    opened = tmp_path / "opened.txt"
    editor = f"{sys.executable} -c \"import sys; open(sys.argv[1], 'w').write(sys.argv[2])\" {opened} {{path}}:{{line}}"
    child, log = spawn(plugin_dir, tmp_path / "data", "--editor", editor)
    try:
        child.expect("broken_plugin failed in initialize")
        child.expect("node node1 ready")
        links = OSC8.findall(log.getvalue())
        assert path.resolve().as_uri() in links, links
        child.send("o")
        deadline_text = ""
        for _ in range(300):
            if opened.exists() and opened.read_text():
                deadline_text = opened.read_text()
                break
            child.expect([pexpect.TIMEOUT], timeout=0.1)
        assert deadline_text == f"{path.resolve()}:6"
        child.expect("node1")  # the console came back after the editor exited
        finish(child)
    finally:
        if child.isalive():
            child.terminate(force=True)


def test_an_editor_url_scheme_is_used_for_the_links(plugin_dir: Path) -> None:
    from rich.text import Text

    path = write_plugin(plugin_dir, "broken_plugin", BROKEN)
    linker = Linker([plugin_dir.parent], "vscode://file/{path}:{line}:{col}")
    text = linker.link_text(Text("failed at plugins/broken_plugin.py:6:9 and unknown.py:1"))

    links = [span.style.link for span in text.spans if hasattr(span.style, "link")]
    assert links == [f"vscode://file/{path.resolve()}:6:9"]  # a file that does not exist gets no link
    assert Linker([plugin_dir.parent]).url(Location(path, 6)) == path.resolve().as_uri()
    assert Linker([plugin_dir.parent], enabled=False).link_text(Text("plugins/broken_plugin.py:6")).spans == []


def test_no_links_with_no_color(plugin_dir: Path, tmp_path: Path) -> None:
    write_plugin(plugin_dir, "broken_plugin", BROKEN)
    child, log = spawn(plugin_dir, tmp_path / "data", no_color=True)
    try:
        child.expect("broken_plugin failed in initialize")
        child.expect("node node1 ready")
        finish(child)
    finally:
        if child.isalive():
            child.terminate(force=True)
    assert "broken_plugin.py:6" in log.getvalue()
    assert "\x1b]8;" not in log.getvalue()


def test_no_escape_codes_in_plain_output(plugin_dir: Path, tmp_path: Path) -> None:
    write_plugin(plugin_dir, "broken_plugin", BROKEN)
    proc = subprocess.run([sys.executable, "-m", "devnode", "run", str(plugin_dir), "--ui", "plain", "--no-watch",
                           "--data-dir", str(tmp_path / "data")], input="quit\n", capture_output=True, text=True,
                          timeout=60, env=clean_env(), cwd=tmp_path)
    assert "at plugins/broken_plugin.py:6" in proc.stdout
    assert "\x1b" not in proc.stdout


def test_editor_commands_for_known_editors(tmp_path: Path) -> None:
    where = Location(tmp_path / "x.py", 12, 5)
    assert editor_command(where, None, {"EDITOR": "vim"}) == ["vim", "+12", str(where.path)]
    assert editor_command(where, "code", {}) == ["code", "-g", f"{where.path}:12:5"]
    assert editor_command(where, "emacsclient -n {path} +{line}", {}) == ["emacsclient", "-n", str(where.path), "+12"]
    assert editor_command(where, None, {}) is None


def test_r_restarts_in_place_and_the_console_comes_back(plugin_dir: Path, tmp_path: Path) -> None:
    write_plugin(plugin_dir, "broken_plugin", BROKEN)
    child, log = spawn(plugin_dir, tmp_path / "data")
    try:
        child.expect("node node1 ready")
        child.send("R")
        child.expect("restarting")
        child.expect("node node1 ready")
        child.expect(r"q\S* quit")  # the footer is back: keys work again
        finish(child)
        assert child.exitstatus == 0
    finally:
        if child.isalive():
            child.terminate(force=True)
