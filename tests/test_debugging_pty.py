"""pdb in the real console (a pty): however a session ends, the footer comes back and the node shows events.

Also the footer following the terminal's size (SIGWINCH), and prompts that Escape
and Ctrl-C cancel.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from conftest import WATCH_DEADLINE, atomic_write, write_plugin
from test_console_pty import console_pty, loose, plugin  # noqa: F401  (console_pty is a fixture)

FOOTER_BACK = loose("q", "quit")
SEP = r"(?:\s|\x1b\[[0-9;?]*[A-Za-z])+"  # spaces and styling codes
EVENT = r"data\.shared" + SEP + r'\{"a":\d+\}' + SEP + "→" + SEP


def emit(term: Any, value: int) -> None:
    term.send(":")
    term.expect(": ")
    term.send(f'emit data.shared {{"a": {value}}}\r')


def reload_to(term: Any, path: Path, version: str) -> None:
    atomic_write(path, re.sub(r'self\.version = "[^"]*"', f'self.version = "{version}"', path.read_text()))
    term.expect(loose("reloaded", path.stem, version), timeout=WATCH_DEADLINE)


def started(console_pty: Any, plugin_dir: Path, *extra: str) -> Any:
    term = console_pty(plugin_dir, *extra)
    term.expect("node node1 ready")
    term.expect(FOOTER_BACK)
    return term


def test_stepping_past_the_end_of_a_reloaded_handler_gives_the_console_back(
    console_pty: Any, plugin_dir: Path
) -> None:
    path = plugin(plugin_dir, "debug_plugin", debug="breakpoint()")
    term = started(console_pty, plugin_dir)
    reload_to(term, path, "1.1.0")  # the case that used to lose the terminal
    emit(term, 1)
    term.expect(r"\(Pdb\) ")
    term.send("n\r")  # the last line of the handler
    term.expect("--Return--")
    term.expect(r"\(Pdb\) ")
    term.send("n\r")  # off the end: devnode's frames are not stepped into
    term.expect("stepped out of plugin code")
    term.expect("after breakpoint 1")
    term.expect(EVENT + loose("debug_plugin", "ok") + SEP + r"[\d.]+ ms" + SEP + r"\(debugged\)")
    term.expect(FOOTER_BACK)  # the footer is redrawn
    emit(term, 2)  # and keys work: the next event stops again
    term.expect(r"\(Pdb\) ")
    term.send("c\r")
    term.expect("after breakpoint 2")
    term.expect(EVENT + loose("debug_plugin", "ok"))
    term.expect(FOOTER_BACK)
    term.send("q")
    assert term.finish() == 0
    assert "devnode/bus/" not in term.text()  # never stopped in devnode's own code


def test_quit_in_pdb_stops_the_handler_and_the_console_comes_back(console_pty: Any, plugin_dir: Path) -> None:
    path = plugin(plugin_dir, "debug_plugin", debug="breakpoint()")
    term = started(console_pty, plugin_dir)
    reload_to(term, path, "1.1.0")
    emit(term, 1)
    term.expect(r"\(Pdb\) ")
    term.send("q\r")
    term.expect("debug_plugin: debugger quit; the handler was stopped")
    term.expect(FOOTER_BACK)
    emit(term, 2)
    term.expect(r"\(Pdb\) ")
    term.send("c\r")
    term.expect("after breakpoint 2")
    term.expect(EVENT + loose("debug_plugin", "ok"))
    term.expect(FOOTER_BACK)
    term.send("q")
    assert term.finish() == 0


TASK_PLUGIN = """
    import asyncio
    import logging

    from dashboard.event_bus import EventType

    logger = logging.getLogger(__name__)


    class Worker_pluginPlugin:
        def __init__(self, node):
            self.node = node
            self.version = "1.0.0"
            self.go = None
            self.task = None

        def initialize(self):
            self.go = asyncio.Event()
            self.task = asyncio.get_running_loop().create_task(self.work())
            self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on_shared)

        def shutdown(self):
            self.task.cancel()
            self.node.event_bus.unsubscribe(EventType.DATA_SHARED, self.on_shared)

        def on_shared(self, event):
            self.go.set()

        async def work(self):
            await self.go.wait()
            breakpoint()
            await asyncio.sleep(0.01)
            logger.info("task done")
"""


def test_stepping_off_the_end_of_a_task_gives_the_console_back(console_pty: Any, plugin_dir: Path) -> None:
    path = write_plugin(plugin_dir, "worker_plugin", TASK_PLUGIN)
    term = started(console_pty, plugin_dir)
    reload_to(term, path, "1.1.0")
    emit(term, 1)
    term.expect(r"-> await asyncio\.sleep\(0\.01\)")
    term.expect(r"\(Pdb\) ")
    term.send("n\r")  # over an await: pdb stops again when the task resumes
    term.expect(r"-> logger\.info\(\"task done\"\)")
    term.expect(r"\(Pdb\) ")
    term.send("n\r")  # off the end of the task (a coroutine's return is not a stop when stepping)
    term.expect("stepped out of plugin code")
    term.expect("task done")
    term.expect(FOOTER_BACK)
    emit(term, 2)
    term.expect(EVENT + loose("worker_plugin", "ok"))
    term.expect(FOOTER_BACK)
    term.send("q")
    assert term.finish() == 0


RAISING = """
    from dashboard.event_bus import EventType


    class Raising_pluginPlugin:
        def __init__(self, node):
            self.node = node
            self.version = "1.0.0"

        def initialize(self):
            self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on_shared)

        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.DATA_SHARED, self.on_shared)

        def on_shared(self, event):
            breakpoint()
            raise ValueError(f"bad {event.data['a']}")
"""


def test_an_exception_while_stepping_and_a_save_while_stopped_give_the_console_back(
    console_pty: Any, plugin_dir: Path
) -> None:
    path = write_plugin(plugin_dir, "raising_plugin", RAISING)
    term = started(console_pty, plugin_dir)
    emit(term, 1)
    term.expect(r"\(Pdb\) ")
    term.send("n\r")  # raises
    term.expect(r"ValueError: bad 1")
    term.expect(r"\(Pdb\) ")
    term.send("n\r")  # the exception leaves the handler
    term.expect("--Return--")
    term.expect(r"\(Pdb\) ")
    term.send("n\r")  # and unwinds into devnode, which reports it
    term.expect("stepped out of plugin code")
    term.expect(loose("raising_plugin", "FAILED"))
    term.expect(FOOTER_BACK)
    emit(term, 2)
    term.expect(r"\(Pdb\) ")
    atomic_write(path, path.read_text().replace('"1.0.0"', '"2.0.0"'))  # saved while the node is stopped
    term.send("c\r")
    term.expect(loose("reloaded", "raising_plugin", "2.0.0"), timeout=WATCH_DEADLINE)
    term.expect(FOOTER_BACK)
    term.send("q")
    assert term.finish() == 0


def footer_after(text: str, width: int) -> list[str]:
    """The footer lines of the last footer drawn at ``width`` (rule of exactly that width to the key line)."""
    rule = "─" * width
    lines = text.replace("\r", "").split("\n")
    starts = [i for i, line in enumerate(lines) if line.strip() == rule]
    assert starts, f"no {width}-column footer drawn"
    block = lines[starts[-1]:]
    ends = [i for i, line in enumerate(block) if re.search(r"\bq quit\b", line)]
    assert ends, f"the {width}-column footer has no key line: {block}"
    return block[: ends[0] + 1]


def test_the_footer_redraws_on_resize_without_wrapping(console_pty: Any, plugin_dir: Path) -> None:
    for name in ("alpha_plugin", "beta_plugin"):
        plugin(plugin_dir, name)
    term = started(console_pty, plugin_dir)
    for width in (80, 60):
        mark = len(term.text())
        term.child.setwinsize(40, width)  # the terminal sends SIGWINCH; no output is needed to redraw
        term.expect(r"(?<!─)─{%d}(?!─)" % width)
        term.expect(FOOTER_BACK)
        footer = footer_after(term.text()[mark:], width)
        assert all(len(line.rstrip()) <= width for line in footer), footer
        assert sum(1 for line in footer if re.match(r"(alpha|beta)_plugin\s", line)) == 2
        assert "2 plugin(s)" in "\n".join(footer)  # the count matches the rows
        keys = footer[-1].split()[::2]
        if width == 80:
            assert keys == ["r", "s", "e", ":", "c", "p", "l", "?", "q"]
        else:
            assert {"?", "q"} <= set(keys) and ("more" in footer[-1] or len(keys) == 9)
    term.send("q")
    assert term.finish() == 0


def test_escape_and_ctrl_c_cancel_a_prompt_and_only_ctrl_c_at_the_console_quits(
    console_pty: Any, plugin_dir: Path
) -> None:
    plugin(plugin_dir, "alpha_plugin")
    term = started(console_pty, plugin_dir)
    term.send(":")
    term.expect(": ")
    term.send("emit data.sh")
    term.send("\x1b")  # Escape
    term.expect("cancelled")
    term.expect(FOOTER_BACK)
    term.send("e")
    term.expect("event type: ")
    term.send("data.shared")
    term.send("\x03")  # Ctrl-C in a prompt: cancels it, the node keeps running
    term.expect("cancelled")
    term.expect(FOOTER_BACK)
    term.send("s")
    term.expect(re.escape("1 plugin(s) · 1 subscriptions"))
    assert "shutting down" not in term.text()
    assert "data.shared {} →" not in term.text()  # nothing was emitted
    term.send("\x03")  # at the console: a clean shutdown
    term.expect(r"node stopped \(interrupted\)")
    assert term.finish() == 0


def test_the_console_shows_an_attached_editor_and_a_stop_at_its_breakpoint(console_pty: Any, plugin_dir: Path) -> None:
    from dap_client import DapClient
    from test_debug_adapter import BREAK_LINE, attach, source, stopped_at

    path = write_plugin(plugin_dir, "traced_plugin", source("1.0.0"))
    term = console_pty(plugin_dir, "--debug-adapter", "0", "--timeout", "60")
    term.expect(r"debug adapter listening on 127\.0\.0\.1:(\d+)")
    port = int(term.child.match.group(1))
    term.expect(FOOTER_BACK)
    client = DapClient("127.0.0.1", port)
    try:
        attach(client, path.resolve(), BREAK_LINE)
        term.expect("editor attached")  # in the history and the footer
        emit(term, 5)
        thread, _ = stopped_at(client)
        link = r"(?:\x1b\]8;[^\x1b]*\x1b\\)?"  # the place may be an OSC 8 link to the file
        term.expect(r"stopped in your editor at %splugins/traced_plugin\.py:%d" % (link, BREAK_LINE))  # drawn while the loop waits
        client.request("continue", threadId=thread)
        term.expect(EVENT + loose("traced_plugin", "ok") + SEP + r"[\d.]+ ms" + SEP + r"\(debugged\)")
        term.expect(FOOTER_BACK)
        client.request("disconnect")
    finally:
        client.close()
    term.expect("editor detached")
    term.send("q")
    assert term.finish() == 0
