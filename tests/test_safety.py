"""Safety: no network listener, owner-only data dir and key, no code from outside the plugin dir."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BUNDLED_PLUGINS, WATCH_DEADLINE, DevnodeProcess, atomic_write, wait_until

from devnode.node.crypto import KEY_FILENAME

Start = Callable[..., DevnodeProcess]
TCP_LISTEN = "0A"


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def inet_sockets(pid: int) -> list[tuple[str, str, str]]:
    """(table, local address, state) of every TCP/UDP socket the process owns, from /proc (no psutil)."""
    mine = socket_inodes(pid)
    found = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[9] in mine:
                found.append((table, fields[1], fields[3]))
    return found


@pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="needs Linux /proc")
def test_devnode_opens_no_network_socket(devnode_process: Start, tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    shutil.copytree(BUNDLED_PLUGINS, plugins, ignore=shutil.ignore_patterns("__pycache__"))
    proc = devnode_process(plugins, "--debounce", "200")  # with the watcher, as a developer runs it
    proc.wait_for("node.ready")
    proc.send('share peer1 {"over": "the simulated network"}')
    proc.wait_for("command.result", command="share")
    pid = proc.proc.pid
    assert socket_inodes(pid), "expected at least asyncio's own socketpair, to prove the inspection works"
    sockets = inet_sockets(pid)
    assert not [s for s in sockets if s[0].startswith("tcp") and s[2] == TCP_LISTEN], sockets
    assert sockets == [], f"devnode opened network sockets: {sockets}"
    assert proc.stop() == 0


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_data_dir_and_key_are_created_owner_only(devnode_process: Start, tmp_path: Path, umask: int) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    proc = devnode_process(plugins, "--no-watch", preexec_fn=lambda: os.umask(umask))
    proc.wait_for("node.ready")
    assert proc.stop() == 0
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / KEY_FILENAME).stat().st_mode) == 0o600


def test_code_linked_from_outside_is_named_at_start_and_never_run(devnode_process: Start, tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    ran = tmp_path / "outside-code-ran"
    code = f"open({str(ran)!r}, 'w').close()\n\nclass Linked_pluginPlugin:\n    def __init__(self, node):\n        pass\n"
    (outside / "linked_plugin.py").write_text(code)
    (outside / "helper.py").write_text(code)
    (plugins / "linked_plugin.py").symlink_to(outside / "linked_plugin.py")  # a plugin file linked in
    (plugins / "tools").symlink_to(outside, target_is_directory=True)  # a helper dir linked in
    (plugins / "user_plugin.py").write_text("from plugins.tools import helper\n\n\nclass User_pluginPlugin:\n"
                                           "    def __init__(self, node):\n        pass\n")
    proc = devnode_process(plugins, "--debounce", "200", bytecode=True)
    proc.wait_for("node.ready")
    warnings = {w["file"]: w for w in proc.find("warning", code="symlink-outside")}
    assert str(plugins / "linked_plugin.py") in warnings and str(plugins / "tools") in warnings
    assert "never loads code from outside the plugin dir" in warnings[str(plugins / "tools")]["message"]
    for name in ("linked_plugin", "user_plugin"):
        assert "outside the plugin dir" in proc.wait_for("plugin.failed", plugin=name)["error"]
    # the watcher follows the linked dir: a save out there reloads its importer, and still nothing runs
    atomic_write(outside / "helper.py", code + "# edited\n")
    wait_until(lambda: len(proc.find("plugin.failed", plugin="user_plugin")) > 1, WATCH_DEADLINE,
               what="the watcher to see the save through the link")
    assert "outside the plugin dir" in proc.find("plugin.failed", plugin="user_plugin")[-1]["error"]
    assert not ran.exists()
    assert len(proc.find("warning", code="symlink-outside")) == 2  # said once per link, not per save
    assert proc.stop() == 0


def test_a_key_file_others_can_read_is_reported_at_start(tmp_path: Path, devnode_process) -> None:
    data = tmp_path / "data"
    plugins = tmp_path / "empty_plugins"
    plugins.mkdir()
    first = devnode_process(plugins)
    first.wait_for("node.ready")
    assert first.stop() == 0
    (data / "devnode.key").chmod(0o644)
    second = devnode_process(plugins)
    warning = second.wait_for("warning", code="key-permissions")
    assert "chmod 600" in warning["message"] and "devnode.key" in warning["message"]
    second.wait_for("node.ready")
