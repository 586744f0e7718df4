"""Hostile input to a real ``devnode run``: a flood of commands, odd .env files, absurd numeric flags."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BUNDLED_PLUGINS, DevnodeProcess, clean_env, wait_until

from faults.test_process_faults import start

# The flood is 100k+ lines; 10k keeps the suite quick (~8 s). DEVNODE_FLOOD=100000 runs the full one.
FLOOD = int(os.environ.get("DEVNODE_FLOOD", "10000"))


def test_a_flood_of_commands_starves_nothing_and_loses_no_audit_line(
    devnode_process: Callable[..., DevnodeProcess], plugin_dir: Path, tmp_path: Path
) -> None:
    shutil.copy(BUNDLED_PLUGINS / "audit_plugin.py", plugin_dir / "audit_plugin.py")
    proc = start(devnode_process, plugin_dir, "--timeout", "2")
    lines = "".join(f'emit data.shared {{"data_hash": "flood-{i}"}}\n' for i in range(FLOOD))
    writer = threading.Thread(target=_write_all, args=(proc, lines + "status\nquit\n"), daemon=True)
    writer.start()
    audit = tmp_path / "data" / "audit.log"
    # mid-flood, a save: the watcher must still get its turn on the loop
    wait_until(lambda: audit.exists() and audit.stat().st_size > 200 * FLOOD // 20, timeout=60, what="flood under way")
    witness = plugin_dir / "witness_plugin.py"
    witness.write_text(witness.read_text() + "\n# saved mid-flood\n")
    assert proc.proc.wait(FLOOD / 100) == 0, "".join(proc.stderr_lines)
    writer.join(10)
    records = proc.snapshot()
    kinds = [r["kind"] for r in records]
    reloaded = next((i for i, r in enumerate(records)
                     if r["kind"] == "plugin.reloaded" and r["plugin"] == "witness_plugin"), len(records))
    last_event = max(i for i, k in enumerate(kinds) if k == "event")
    assert reloaded < last_event, "the save mid-flood was applied only after it, or never: the watcher was starved"
    assert "status" in kinds and kinds[-1] == "node.stopped"
    hashes = {json.loads(line)["data"]["data_hash"] for line in audit.read_text().splitlines()}
    assert len([h for h in hashes if h.startswith("flood-")]) == FLOOD, "an audit line went missing"
    assert kinds.count("event") >= FLOOD
    assert not [r for r in records if r["kind"] == "warning" and r.get("code") == "stall"], "the watchdog blamed a plugin"
    assert "plugin.error" not in kinds and "command.error" not in kinds


def _write_all(proc: DevnodeProcess, text: str) -> None:
    assert proc.proc.stdin is not None
    try:
        proc.proc.stdin.write(text)
        proc.proc.stdin.flush()
    except (BrokenPipeError, ValueError):
        pass


# -- .env files and flags ----------------------------------------------------------------------------------
def _devnode(args: list[str], cwd: Path, stdin: str = "quit\n", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devnode", *args], cwd=cwd, env=clean_env(), input=stdin,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("encoding", ["utf-16", "cp1252", "utf-8-sig"])
def test_env_files_in_windows_encodings_are_read(tmp_path: Path, plugin_dir: Path, encoding: str) -> None:
    env = tmp_path / ".env"
    env.write_bytes("# Knoten für Tests\nNODE_ID=wïndows-node\n".encode(encoding))
    done = _devnode(["run", "--ui", "json", "--no-watch", str(plugin_dir), "--data-dir", str(tmp_path / "d")],
                    tmp_path)
    assert done.returncode == 0, done.stderr
    ready = next(json.loads(line) for line in done.stdout.splitlines() if '"node.ready"' in line)
    assert ready["node_id"] == "wïndows-node"


BAD_INPUT = {
    "unterminated-quote": (["--env-file", ".env"], 'NODE_ID=ok\nPRIVATE_KEY="0xabc\nP2P_PORT=9\n',
                           ['line 2 cannot be parsed', "PRIVATE_KEY", "never closed"]),
    "utf16-without-bom": (["--env-file", ".env"], "NODE_ID=x\n".encode("utf-16-le"), ["NUL bytes", "UTF-8"]),
    "env-file-is-a-directory": (["--env-file", "envdir"], None, ['"envdir" is a directory']),
    "timeout-nan": (["--timeout", "nan"], None, ["--timeout", '"nan" is out of range', "at most 3600"]),
    "timeout-inf": (["--timeout", "inf"], None, ['"inf" is out of range']),
    "huge-debounce": (["--debounce", str(10**15)], None, ["--debounce", "out of range: give 1 to 60000"]),
    "zero-step": (["--step", "0"], None, ["--step", "give 1 to 60000"]),
}


@pytest.mark.parametrize("name", BAD_INPUT)
def test_bad_env_files_and_flags_are_refused_in_one_line(tmp_path: Path, plugin_dir: Path, name: str) -> None:
    args, env_content, expected = BAD_INPUT[name]
    if env_content is not None:
        (tmp_path / ".env").write_bytes(env_content.encode() if isinstance(env_content, str) else env_content)
    (tmp_path / "envdir").mkdir()
    done = _devnode(["run", "--ui", "json", str(plugin_dir), *args], tmp_path, timeout=30)
    assert done.returncode == 2, (done.stdout, done.stderr)
    message = done.stderr.strip().splitlines()[-1]
    for text in expected:
        assert text in message, f"{text!r} not in {message!r}"
    assert "Traceback" not in done.stderr


def test_env_file_dev_null_is_an_empty_env_file(tmp_path: Path, plugin_dir: Path) -> None:
    done = _devnode(["run", "--ui", "json", "--no-watch", str(plugin_dir), "--env-file", "/dev/null",
                     "--data-dir", str(tmp_path / "d")], tmp_path)
    assert done.returncode == 0, done.stderr
    assert wait_until(lambda: '"node.stopped"' in done.stdout, timeout=1)
