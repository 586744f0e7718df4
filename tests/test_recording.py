"""Recording every bus event to JSON lines, and replaying it to the same handler outcomes."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import BUNDLED_PLUGINS, HostHarness, clean_env, write_plugin
from playback_helpers import DEVNODE, kinds, run_live, wait_record

from devnode.bus import Event, EventType
from devnode.recording import Recorder, RecordingError, load_recording
from devnode.replay import replay, selection
from devnode.reporting import Reporter

# Fails on odd readings, and answers every received reading with a compliance event of its own.
FLAKY = """
    from dashboard.event_bus import Event, EventType


    class FlakyPlugin:
        def __init__(self, node):
            self.node = node
            self.seen = []

        def initialize(self):
            self.node.event_bus.subscribe(EventType.DATA_RECEIVED, self.on_received)

        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.DATA_RECEIVED, self.on_received)

        async def on_received(self, event):
            text = await self.node.get_shared_data(event.data["data_hash"])
            self.seen.append(text)
            await self.node.event_bus.publish(Event(EventType.COMPLIANCE_EVENT, {"checked": text}))
            if int(text.strip("{}").split(":")[1]) % 2:
                raise ValueError(f"odd reading {text}")
"""


def flaky(version: str = "") -> str:
    if version == "fixed":
        return FLAKY.replace("raise ValueError", "return  # fixed: was raise ValueError")
    return FLAKY


def record_session(plugin_dir: Path, data_dir: Path, path: Path) -> HostHarness:
    h = HostHarness(plugin_dir, data_dir).start()
    recorder = Recorder(path, "node1")
    recorder.attach(h.node)
    try:
        for n in (2, 3, 4):
            h.run(h.node.receive("peer1", {"n": n}))
        h.run(h.node.publish_status())
    finally:
        recorder.close()
    return h


def replay_in_fresh_node(plugin_dir: Path, data_dir: Path, path: Path, fast: bool = True) -> Any:
    h = HostHarness(plugin_dir, data_dir).start()
    try:
        return h.run(replay(h.node, load_recording(path), h.reporter, fast=fast)), h.host.get_plugin("flaky").seen
    finally:
        h.close()


def test_recording_holds_every_event_with_depth_source_outcomes_and_data(tmp_path: Path, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "flaky", flaky())
    path = tmp_path / "session.jsonl"
    record_session(plugin_dir, tmp_path / "data", path).close()

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["format"] == "devnode-recording" and lines[0]["node_id"] == "node1"
    types = [line["event"]["type"] for line in lines[1:]]
    assert types[:6] == ["compliance.event", "data.received"] * 3  # a nested publish finishes first
    assert types[6:] == ["health.update", "network.stats_update"]
    received = lines[2]
    assert (received["depth"], received["source"]) == (1, None)
    assert received["stored"] == {received["event"]["data"]["data_hash"]: "{'n': 2}"}
    assert received["handlers"] == [{"plugin": "flaky", "handler": "FlakyPlugin.on_received", "ok": True, "error": None}]
    nested = lines[1]
    assert (nested["depth"], nested["source"]) == (2, "flaky")
    assert lines[4]["handlers"][0]["error"] == "ValueError: odd reading {'n': 3}"
    assert [line["seq"] for line in lines[1:]] == list(range(1, 9))


def test_a_recorded_session_replays_to_identical_handler_outcomes_twice(tmp_path: Path, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "flaky", flaky())
    path = tmp_path / "session.jsonl"
    record_session(plugin_dir, tmp_path / "data", path).close()

    first, seen_first = replay_in_fresh_node(plugin_dir, tmp_path / "r1", path)
    second, seen_second = replay_in_fresh_node(plugin_dir, tmp_path / "r2", path)

    assert first.outcomes == second.outcomes
    assert first.changed == [] and second.changed == []  # and identical to the recording itself
    # Plugin-published events are left to the plugin, which publishes them again itself.
    assert [r.event.type.value for r in first.replayed] == [
        "data.received", "data.received", "data.received", "health.update", "network.stats_update"]
    assert first.skipped == 3
    # The data behind each DATA_RECEIVED was put back, so the handler read the same payloads.
    assert seen_first == seen_second == ["{'n': 2}", "{'n': 3}", "{'n': 4}"]
    assert [f["error"] for f in first.failures] == ["ValueError: odd reading {'n': 3}"]


def test_replay_after_a_fix_shows_what_changed(tmp_path: Path, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "flaky", flaky())
    path = tmp_path / "session.jsonl"
    record_session(plugin_dir, tmp_path / "data", path).close()
    write_plugin(plugin_dir, "flaky", flaky("fixed"))

    result, _ = replay_in_fresh_node(plugin_dir, tmp_path / "r", path)

    assert result.ok
    assert result.changed == [{
        "seq": 4, "type": "data.received",
        "before": ["flaky FlakyPlugin.on_received FAILED (ValueError: odd reading {'n': 3})"],
        "after": ["flaky FlakyPlugin.on_received ok"],
    }]


def test_replay_keeps_recorded_pace_unless_fast(tmp_path: Path, harness: Any) -> None:
    path = tmp_path / "paced.jsonl"
    recorder = Recorder(path)
    for offset in (0.0, 0.25):
        recorder(Event(EventType.DATA_VERIFIED, {"at": offset}, recorder.started + offset), [])
    recorder(Event(EventType.NODE_STOPPING, {}, recorder.started + 0.3), [])
    recorder.close()
    h = harness().start()
    recording = load_recording(path)

    started = time.monotonic()
    paced = h.run(replay(h.node, recording, Reporter()))
    assert time.monotonic() - started >= 0.25
    started = time.monotonic()
    fast = h.run(replay(h.node, recording, Reporter(), fast=True))
    assert time.monotonic() - started < 0.25
    assert len(paced.replayed) == len(fast.replayed) == 2  # the node's own lifecycle events are not replayed
    assert selection(recording)[1] == 1


def test_unreadable_recordings_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"format": "devnode-recording", "version": 1}\n{"seq": 1, "event": {"type": "nope"}}\n')
    with pytest.raises(RecordingError, match=rf"^{path}:2: 'nope' is not a valid EventType$"):
        load_recording(path)
    path.write_text('{"kind": "event"}\n')
    with pytest.raises(RecordingError, match=rf"^{path}:1: not a devnode recording"):
        load_recording(path)
    # A recording cut off mid-line (the node was killed) still replays up to the last whole line.
    path.write_text('{"format": "devnode-recording", "version": 1}\n'
                    '{"seq": 1, "event": {"type": "data.verified", "data": {}, "timestamp": 1.0}}\n{"seq": 2, "ev')
    assert [e.seq for e in load_recording(path).events] == [1]


def test_run_record_then_devnode_replay_from_the_command_line(tmp_path: Path, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "flaky", flaky())
    path = tmp_path / "cli.jsonl"

    async def body(runtime: Any, records: list[Any]) -> None:
        for n in (1, 3):
            await runtime.run_command(f'receive peer1 {{"n": {n}}}')

    code, _ = run_live(plugin_dir, tmp_path / "data", body, record=str(path))
    assert code == 0
    lines = [json.loads(line)["event"]["type"] for line in path.read_text().splitlines()[1:]]
    assert lines[0] == "system.node_started" and lines[-1] == "system.node_stopping"

    done = subprocess.run([*DEVNODE, "replay", str(path), str(plugin_dir), "--fast", "-q"],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr  # the odd reading still fails
    assert "FAILED #" in done.stdout and "ValueError: odd reading {'n': 3}" in done.stdout

    write_plugin(plugin_dir, "flaky", flaky("fixed"))
    done = subprocess.run([*DEVNODE, "replay", str(path), str(plugin_dir), "--fast", "-q"],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every handler ok" in done.stdout
    assert "FAILED (ValueError: odd reading {'n': 3}) -> flaky FlakyPlugin.on_received ok" in done.stdout


def test_replay_console_command_runs_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "tour.jsonl"
    run_live(BUNDLED_PLUGINS, tmp_path / "rec", None, record=str(path),
             scenario=str(Path(__file__).parent.parent / "scenarios" / "tour.toml"), headless=True)

    async def body(runtime: Any, records: list[Any]) -> None:
        await runtime.run_command(f"replay {path} --fast")
        await wait_record(records, "replay.finished")
        await runtime.run_command("replay")

    code, records = run_live(BUNDLED_PLUGINS, tmp_path / "data", body)

    finished = kinds(records, "replay.finished")[0]
    assert finished["ok"] and finished["changed"] == []
    assert finished["replayed"] == kinds(records, "replay.started")[0]["events"] == 9
    assert kinds(records, "command.error")[0]["error"] == "usage: replay FILE [--fast]"


def test_devnode_replay_refuses_a_missing_recording(tmp_path: Path, capsys: Any) -> None:
    from devnode.cli import main

    assert main(["replay", str(tmp_path / "none.jsonl"), str(BUNDLED_PLUGINS)]) == 2
    assert "cannot read the recording" in capsys.readouterr().err


def test_recording_an_event_whose_data_json_cannot_hold_neither_fails_the_publish_nor_the_file(
    tmp_path: Path, harness: Any
) -> None:
    h = harness().start()
    path = tmp_path / "odd.jsonl"
    recorder = Recorder(path, "node1")
    recorder.attach(h.node)
    try:
        h.run(h.bus.publish(Event(EventType.DATA_VERIFIED, {(1, 2): "tuple key"})))
        h.run(h.bus.publish(Event(EventType.DATA_VERIFIED, {"after": True})))
    finally:
        recorder.close()

    assert [e.event.data for e in load_recording(path).events] == [{"(1, 2)": "tuple key"}, {"after": True}]


PAYER = """
    from dashboard.event_bus import EventType


    class Payer_pluginPlugin:
        def __init__(self, node):
            self.node = node

        def initialize(self):
            self.node.event_bus.subscribe(EventType.DATA_RECEIVED, self.pay)

        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.DATA_RECEIVED, self.pay)

        async def pay(self, event):
            own = self.node.blockchain_interface.account.address
            await self.node.share_data("receipt", own, payment_token=self.node.get_native_token_address(),
                                       payment_amount=1)
"""


def test_events_a_service_publishes_for_a_handler_are_not_replayed_twice(tmp_path: Path, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "payer_plugin", PAYER)
    path = tmp_path / "session.jsonl"
    h = HostHarness(plugin_dir, tmp_path / "data").start()
    recorder = Recorder(path, "node1")
    recorder.attach(h.node)
    try:
        h.run(h.node.receive("peer1", {"n": 1}))
        h.run(h.node.event_bus.drain())
    finally:
        recorder.close()
        h.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    transfer_line = next(line for line in lines if line["event"]["type"] == "token.transfer_completed")
    assert transfer_line["depth"] == 2  # caused by the handler, not by the developer

    fresh = HostHarness(plugin_dir, tmp_path / "data2").start()
    published: list[str] = []
    fresh.bus.add_observer(lambda event, results: published.append(event.type.value))
    try:
        fresh.run(replay(fresh.node, load_recording(path), fresh.reporter, fast=True))
        fresh.run(fresh.node.event_bus.drain())
    finally:
        fresh.close()
    assert published.count("token.transfer_completed") == 1  # the plugin's own call, replayed once
