"""Bad input outside plugins: flags, .env values, console commands, a read-only or full data dir,
corrupt database and key files. Each gets a clear message and a defined exit code or recovery,
and nothing already stored is lost or overwritten."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import BUNDLED_PLUGINS, DevnodeProcess, clean_env

from devnode.cli import main
from devnode.node.crypto import KEY_FILENAME
from devnode.node.data_manager import DataManager
from devnode.node.storage import DB_FILENAME, Store
from faults.privileges import drop_file_privileges, needs_permission_bits

EXIT_PROBLEMS, EXIT_USAGE = 1, 2


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with the bundled plugins, as the working directory, with no devnode variables set."""
    shutil.copytree(BUNDLED_PLUGINS, tmp_path / "plugins", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("PLUGIN_DIR", "DATA_DIR", "NODE_ID", "INITIAL_PEERS", "P2P_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``main(argv)`` whether it returns or argparse exits; (exit code, stderr)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def devnode(args: list[str], cwd: Path, stdin: str = "quit\n", preexec_fn: Callable[[], None] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devnode", *args], cwd=cwd, env=clean_env(), input=stdin,
                          capture_output=True, text=True, timeout=120, preexec_fn=preexec_fn)


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


# -- flags and .env -----------------------------------------------------------------------------------
FLAGS = {  # the arguments after "run"
    "debounce-not-a-number": (["plugins", "--debounce", "soon"], '"soon" is not a whole number of milliseconds'),
    "debounce-zero": (["plugins", "--debounce", "0"], '"0" is out of range: give 1 to 60000 milliseconds'),
    "negative-timeout": (["plugins", "--timeout=-1"], '"-1" is out of range: give a number of seconds greater than 0'),
    "too-many-peers": (["plugins", "--peers", "1001"], "between 0 and 1000 peers"),
    "empty-peer-list": (["plugins", "--peers", ",,"], "names no peers"),
    "unknown-ui": (["plugins", "--ui", "fancy"], "invalid choice: 'fancy'"),
    "unknown-flag": (["plugins", "--turbo"], "unrecognized arguments: --turbo"),
    "missing-plugin-dir": (["nowhere"], "does not exist"),
    "plugin-dir-is-a-file": (["plugins/audit_plugin.py"], "is not a directory"),
    "missing-env-file": (["plugins", "--env-file", "prod.env"], '--env-file "prod.env" does not exist'),
}


@pytest.mark.parametrize("case", FLAGS)
def test_bad_flag_exits_2_with_a_message_and_touches_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    args, message = FLAGS[case]
    code, err = run_cli(["run", *args, "--data-dir", "data", "--no-watch"], capsys)
    assert code == EXIT_USAGE, err
    assert message in err and "Traceback" not in err
    assert not (project / "data").exists()


ENV_VALUES = {
    "port-not-a-number": ("P2P_PORT=eighty\n", 'P2P_PORT="eighty"'),
    "port-out-of-range": ("P2P_PORT=70000\n", "P2P_PORT=70000"),
    "empty-node-id": ('NODE_ID=""\n', 'NODE_ID=""'),
    "plugin-dir-missing": ("PLUGIN_DIR=./elsewhere\n", "elsewhere"),
}


@pytest.mark.parametrize("case", ENV_VALUES)
def test_bad_env_value_names_the_variable_value_and_file(
    project: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    text, message = ENV_VALUES[case]
    (project / ".env").write_text("# the production node's .env\nKEY_MASTER_PASSWORD=x\n" + text)
    code, err = run_cli(["run", "--no-watch"], capsys)
    assert code == EXIT_USAGE
    assert message in err and str(project / ".env") in err and err.count("\n") == 1
    assert not (project / "data").exists()


# -- console commands ---------------------------------------------------------------------------------
COMMANDS = {
    "frobnicate now": 'unknown command "frobnicate"',
    'emit data.received {"oops": }': "the event data is not valid JSON",
    "emit data.recieved {}": 'unknown event type "data.recieved"',
    "emit data.received [1, 2]": "must be a JSON object",
    'share peer1 {"note": "password: x"}': "blocked pattern",
    "share peer1 not-json": "the data is not valid JSON",
    'receive mallory {"x": 1}': 'unknown peer "mallory"',
    "transfer native peer1 lots": 'AMOUNT "lots" is not a whole number',
    "load ../../outside": '"../../outside" is not a plugin name',
    "reload nothing_here": 'no plugin "nothing_here"',
    "log-level LOUD": 'log level "LOUD"',
}


def test_bad_console_commands_are_explained_and_the_node_keeps_its_data(
    devnode_process: Callable[..., DevnodeProcess], tmp_path: Path
) -> None:
    plugins = tmp_path / "plugins"
    shutil.copytree(BUNDLED_PLUGINS, plugins, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "outside.py").write_text(f"open({str(tmp_path / 'outside-ran')!r}, 'w').close()\n")
    proc = devnode_process(plugins, "--no-watch")
    proc.wait_for("node.ready")
    proc.send('receive peer1 {"keep": "me"}')
    stored = proc.wait_for("command.result", command="receive")["result"]["data_hash"]
    for line, message in COMMANDS.items():
        mark = proc.mark()
        proc.send(line)
        error = proc.wait_for("command.error", after=mark)
        assert error["command"] == line and message in error["error"], error
    mark = proc.mark()
    proc.send("status")
    status = proc.wait_for("status", after=mark)
    assert all(p["state"] == "active" for p in status["plugins"])
    assert "outside" not in {p["plugin"] for p in status["plugins"]} and not (tmp_path / "outside-ran").exists()
    assert proc.stop() == 0
    store = Store(tmp_path / "data")
    try:
        assert DataManager(store).get_data(stored) == "{'keep': 'me'}"  # peers send str(data), as in production
    finally:
        store.close()
    assert not (tmp_path / "data" / "audit.log").exists()  # the refused share left no trace


# -- the data dir ---------------------------------------------------------------------------------------
def make_data_dir(project: Path) -> Path:
    """A data dir with a database, a key and an audit log from an earlier run."""
    proc = devnode(["run", "plugins", "--data-dir", "data", "--no-watch"], project,
                   stdin='receive peer1 {"earlier": true}\nquit\n')
    assert proc.returncode == 0, proc.stderr
    return project / "data"


@needs_permission_bits()
def test_read_only_data_dir_is_refused_and_left_as_it_was(project: Path) -> None:
    data = make_data_dir(project)
    before = digests(data)
    data.chmod(0o500)
    try:
        proc = devnode(["run", "plugins", "--data-dir", "data", "--no-watch"], project,
                       preexec_fn=drop_file_privileges)
    finally:
        data.chmod(0o700)
    assert proc.returncode == EXIT_PROBLEMS
    assert proc.stderr.startswith("devnode: error: ") and "not writable" in proc.stderr and "Traceback" not in proc.stderr
    assert digests(data) == before


@needs_permission_bits()
def test_data_dir_that_cannot_be_created(project: Path) -> None:
    locked = project / "locked"
    locked.mkdir(mode=0o500)
    proc = devnode(["run", "plugins", "--data-dir", "locked/data", "--no-watch"], project,
                   preexec_fn=drop_file_privileges)
    assert proc.returncode == EXIT_PROBLEMS
    assert "cannot be created" in proc.stderr and "Permission denied" in proc.stderr


@needs_permission_bits()
def test_unreadable_key_file_is_refused_and_never_replaced(project: Path) -> None:
    data = make_data_dir(project)
    key = data / KEY_FILENAME
    before = key.read_bytes()
    key.chmod(0)
    proc = devnode(["run", "plugins", "--data-dir", "data", "--no-watch"], project, preexec_fn=drop_file_privileges)
    key.chmod(0o600)
    assert proc.returncode == EXIT_PROBLEMS and "cannot read the key file" in proc.stderr
    assert key.read_bytes() == before


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "sqlite-garbage": lambda data: (data / DB_FILENAME).write_bytes(b"this is not a database\n" * 100),
    "sqlite-truncated": lambda data: _truncate(data / DB_FILENAME, 1024),
    "key-garbage": lambda data: (data / KEY_FILENAME).write_bytes(b"not-a-fernet-key\n"),
    "key-empty": lambda data: (data / KEY_FILENAME).write_bytes(b""),
}
MESSAGES = {
    "sqlite-garbage": "is not a usable SQLite database",
    "sqlite-truncated": "is not a usable SQLite database",
    "key-garbage": "is not a valid Fernet key",
    "key-empty": "is not a valid Fernet key",
}


def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


@pytest.mark.parametrize("case", CORRUPTIONS)
def test_corrupt_file_in_the_data_dir_stops_devnode_without_touching_anything(project: Path, case: str) -> None:
    data = make_data_dir(project)
    for leftover in data.glob(f"{DB_FILENAME}-*"):  # WAL files of the earlier run, if any
        leftover.unlink()
    CORRUPTIONS[case](data)
    before = digests(data)
    listing = sorted(p.name for p in data.iterdir())
    proc = devnode(["run", "plugins", "--data-dir", "data", "--no-watch"], project)
    assert proc.returncode == EXIT_PROBLEMS, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("devnode: error: ") and MESSAGES[case] in lines[0]
    assert "never overwrites" in lines[0] or "directory" in lines[0]
    assert digests(data) == before and sorted(p.name for p in data.iterdir()) == listing


# -- a full disk -----------------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, so "disk full" is real ENOSPC (needs root and mount; skipped otherwise)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root and mount(8) to make a small tmpfs")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(disk: Path) -> Path:
    """Write a file until the disk has no block left."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_disk_filling_up_while_running_is_reported_and_nothing_stored_is_lost(
    small_disk: Path, devnode_process: Callable[..., DevnodeProcess], tmp_path: Path
) -> None:
    plugins = tmp_path / "plugins"
    shutil.copytree(BUNDLED_PLUGINS, plugins, ignore=shutil.ignore_patterns("__pycache__"))
    data = small_disk / "data"
    proc = DevnodeProcess([str(plugins), "--data-dir", str(data), "--no-watch"], cwd=tmp_path, env=clean_env())
    try:
        proc.wait_for("node.ready")
        proc.send('receive peer1 {"before": "full"}')
        kept = proc.wait_for("command.result", command="receive")["result"]["data_hash"]
        filler = fill(small_disk)
        mark = proc.mark()
        proc.send('receive peer1 {"while": "full", "pad": "' + "x" * 8000 + '"}')
        error = proc.wait_for("command.error", after=mark)
        assert "the disk is full" in error["error"] and "what was stored before is intact" in error["error"]
        mark = proc.mark()
        proc.send('share peer1 {"while": "full", "pad": "' + "y" * 8000 + '"}')
        assert "disk is full" in proc.wait_for("command.error", after=mark)["error"]
        filler.unlink()
        mark = proc.mark()
        proc.send('receive peer1 {"after": "full"}')  # recovers by itself once there is space again
        after = proc.wait_for("command.result", after=mark, command="receive")["result"]["data_hash"]
        assert proc.stop() == 0
    finally:
        proc.stop()
    store = Store(data)
    try:
        dm = DataManager(store)
        assert dm.get_data(kept) == "{'before': 'full'}" and dm.get_data(after) == "{'after': 'full'}"
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        store.close()
    audit = data / "audit.log"
    for line in (audit.read_text().splitlines() if audit.exists() else []):
        json.loads(line)  # no torn line


def test_disk_already_full_at_start_exits_1_with_a_message(small_disk: Path, project: Path) -> None:
    fill(small_disk)
    proc = devnode(["run", "plugins", "--data-dir", str(small_disk / "data"), "--no-watch"], project)
    assert proc.returncode == EXIT_PROBLEMS, proc.stdout + proc.stderr
    assert proc.stderr.startswith("devnode: error: ") and "Traceback" not in proc.stderr
    assert "No space left" in proc.stderr or "full" in proc.stderr
    assert not (small_disk / "data" / KEY_FILENAME).exists(), "a half-written key would be refused on the next start"


def test_a_directory_where_the_database_belongs_is_refused_with_the_fix(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "devnode.sqlite3").mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, "-m", "devnode", "run", str(BUNDLED_PLUGINS), "--data-dir", str(data), "--no-watch"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "devnode.sqlite3" in result.stderr and "is a directory" in result.stderr and "move it aside" in result.stderr
    assert not any((data / "devnode.sqlite3").iterdir())  # nothing created inside it
