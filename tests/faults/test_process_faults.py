"""Faults where the real process, the real watcher and the console matter: ``devnode run --ui json``.

These run without PYTHONDONTWRITEBYTECODE/PYTHONUNBUFFERED (a plugin author's
machine) unless a case says otherwise.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import DevnodeProcess, atomic_write

from faults.faultkit import FAULTY, WITNESS, plugin_source
from faults.privileges import drop_file_privileges, needs_permission_bits

FAST = ("--debounce", "200", "--step", "20")


def start(devnode_process: Callable[..., DevnodeProcess], plugin_dir: Path, *extra: str, **options: object) -> DevnodeProcess:
    (plugin_dir / "witness_plugin.py").write_text(WITNESS.lstrip())
    proc = devnode_process(plugin_dir, *FAST, *extra, bytecode=True, **options)
    proc.wait_for("node.ready")
    return proc


def witness_receives(proc: DevnodeProcess, n: int) -> None:
    """The node is alive and the healthy plugin still gets events (seen through the console)."""
    mark = proc.mark()
    proc.send(f'emit data.received {{"probe": {n}}}')
    event = proc.wait_for("event", after=mark, type="data.received")
    handlers = {h["plugin"]: h for h in event["handlers"]}
    assert handlers["witness_plugin"]["ok"], event


def state_of(proc: DevnodeProcess, plugin: str) -> str:
    mark = proc.mark()
    proc.send("status")
    status = proc.wait_for("status", after=mark)
    return next(p["state"] for p in status["plugins"] if p["plugin"] == plugin)  # type: ignore[no-any-return]


def test_endless_handler_is_reported_while_blocked_and_the_console_and_watcher_recover(
    devnode_process: Callable[..., DevnodeProcess], plugin_dir: Path
) -> None:
    path = plugin_dir / f"{FAULTY}.py"
    source = plugin_source("1", handler="while event.data.get('probe') == 1:\n    pass")
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "while event" in text)
    path.write_text(source)
    proc = start(devnode_process, plugin_dir, "--timeout", "2")
    proc.send('emit data.received {"probe": 1}')
    proc.send("status")  # typed while the loop is blocked: runs once it is free again

    stall = proc.wait_for("warning", code="stall")
    assert stall["plugin"] == FAULTY and stall["file"] == "plugins/faulty_plugin.py" and stall["line"] == line
    assert not proc.find("status"), "the stall warning must come out while the loop is still blocked"
    error = proc.wait_for("plugin.error", plugin=FAULTY)
    assert "PluginStalledError" in error["error"] and error["line"] == line
    proc.wait_for("status")
    witness_receives(proc, 2)
    # the watcher still works: the fix is picked up by itself
    mark = proc.mark()
    atomic_write(path, plugin_source("2"))
    proc.wait_for("plugin.reloaded", after=mark, plugin=FAULTY)
    assert state_of(proc, FAULTY) == "active"
    assert proc.stop() == 0


def test_sys_exit_in_a_plugin_task_does_not_end_the_process(
    devnode_process: Callable[..., DevnodeProcess], plugin_dir: Path
) -> None:
    (plugin_dir / f"{FAULTY}.py").write_text(plugin_source(
        "1", initialize="asyncio.get_running_loop().create_task(self.quit())",
        methods="async def quit(self):\n    await asyncio.sleep(0.1)\n    sys.exit(0)",
    ))
    proc = start(devnode_process, plugin_dir)
    error = proc.wait_for("plugin.error", plugin=FAULTY)
    assert error["phase"] == "task" and "SystemExit" in error["error"] and error["file"] == "plugins/faulty_plugin.py"
    witness_receives(proc, 1)
    assert proc.proc.poll() is None and state_of(proc, FAULTY) == "active"
    assert proc.stop() == 0


def test_syntax_error_saved_through_the_watcher_keeps_the_previous_version(
    devnode_process: Callable[..., DevnodeProcess], plugin_dir: Path
) -> None:
    path = plugin_dir / f"{FAULTY}.py"
    path.write_text(plugin_source("1"))
    proc = start(devnode_process, plugin_dir)
    mark = proc.mark()
    atomic_write(path, plugin_source("2", handler="if True print('x')"))
    failed = proc.wait_for("plugin.failed", after=mark, plugin=FAULTY)
    assert failed["file"] == "plugins/faulty_plugin.py" and "SyntaxError" in failed["error"]
    assert failed["running"] == "previous" and state_of(proc, FAULTY) == "failed-running-previous"
    witness_receives(proc, 1)
    mark = proc.mark()
    atomic_write(path, plugin_source("3"))
    proc.wait_for("plugin.reloaded", after=mark, plugin=FAULTY)
    assert not (plugin_dir / "__pycache__").exists(), "devnode must not write bytecode into the plugin dir"
    assert proc.stop() == 0


def test_plugin_file_replaced_by_a_directory_through_the_watcher(
    devnode_process: Callable[..., DevnodeProcess], plugin_dir: Path
) -> None:
    path = plugin_dir / f"{FAULTY}.py"
    path.write_text(plugin_source("1"))
    proc = start(devnode_process, plugin_dir)
    mark = proc.mark()
    path.unlink()
    path.mkdir()
    warning = proc.wait_for("warning", after=mark, code="not-a-file")
    assert warning["file"] == "plugins/faulty_plugin.py" and "is now a directory" in warning["message"]
    proc.wait_for("plugin.unloaded", after=mark, plugin=FAULTY)
    witness_receives(proc, 1)
    assert proc.stop() == 0


@needs_permission_bits()
def test_permission_denied_on_read_keeps_the_previous_version(
    devnode_process: Callable[..., DevnodeProcess], plugin_dir: Path
) -> None:
    path = plugin_dir / f"{FAULTY}.py"
    path.write_text(plugin_source("1"))
    proc = start(devnode_process, plugin_dir, preexec_fn=drop_file_privileges)
    mark = proc.mark()
    # an editor saving through a temp file created with the wrong mode
    tmp = plugin_dir / ".faulty_plugin.py.tmp~"
    tmp.write_text(plugin_source("2"))
    tmp.chmod(0)
    os.replace(tmp, path)
    failed = proc.wait_for("plugin.failed", after=mark, plugin=FAULTY)
    assert "PermissionError" in failed["error"] and failed["file"] == "plugins/faulty_plugin.py"
    assert failed["running"] == "previous"
    witness_receives(proc, 1)
    assert state_of(proc, FAULTY) == "failed-running-previous"
    mark = proc.mark()
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    atomic_write(path, plugin_source("3"))
    proc.wait_for("plugin.reloaded", after=mark, plugin=FAULTY)
    assert proc.stop() == 0


@pytest.mark.parametrize("bytecode", [True, False], ids=["author-machine", "dontwritebytecode"])
def test_rapid_fault_and_fix_saves_settle_on_the_last_file(
    devnode_process: Callable[..., DevnodeProcess], plugin_dir: Path, bytecode: bool
) -> None:
    """Broken and fixed versions saved in a burst: whatever the batching, the last save wins."""
    path = plugin_dir / f"{FAULTY}.py"
    path.write_text(plugin_source("1"))
    (plugin_dir / "witness_plugin.py").write_text(WITNESS.lstrip())
    proc = devnode_process(plugin_dir, *FAST, bytecode=bytecode)
    proc.wait_for("node.ready")
    for source in (plugin_source("2", module="1/0"), "", plugin_source("4", handler="x = (")):
        atomic_write(path, source)
    atomic_write(path, plugin_source("9"))

    proc.wait_for("plugin.reloaded", plugin=FAULTY, version="9")
    witness_receives(proc, 1)
    assert state_of(proc, FAULTY) == "active"
    mark = proc.mark()
    proc.send('emit data.received {"probe": 2}')
    event = proc.wait_for("event", after=mark, type="data.received")
    assert [h["ok"] for h in event["handlers"] if h["plugin"] == FAULTY] == [True]
    assert proc.stop() == 0
