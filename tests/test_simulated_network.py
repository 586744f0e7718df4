"""Simulated peers end to end: sharing, receiving, disconnects, bad links, and the console commands."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from conftest import BUNDLED_PLUGINS, write_plugin
from playback_helpers import kinds, run_live, wait_record

from devnode.events import EventType
from devnode.node.network import PeerError
from devnode.runtime import Runtime

READER = """
    from dashboard.event_bus import EventType


    class ReaderPlugin:
        '''Reads back the data every DATA_RECEIVED event points at.'''

        def __init__(self, node):
            self.node = node
            self.got = []

        def initialize(self):
            self.node.event_bus.subscribe(EventType.DATA_RECEIVED, self.on_received)

        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.DATA_RECEIVED, self.on_received)

        async def on_received(self, event):
            data = await self.node.get_shared_data(event.data["data_hash"])
            self.got.append((event.data["data_hash"], event.data["sender"], data))
"""


def test_shared_data_is_stored_on_that_peer_and_read_back_through_the_network(harness: Any) -> None:
    h = harness().start()
    node = h.node
    data_hash = node._hash_data({"report": 42})

    h.run(node.share_data({"report": 42}, "peer1"))

    peer1, peer2 = node.p2p_network.find_peer("peer1"), node.p2p_network.find_peer("peer2")
    assert peer1.get(data_hash) == (True, "{'report': 42}")
    assert peer2.get(data_hash) == (False, None)
    # Forget the local copy: get_shared_data must fetch it from the peer that holds it.
    assert node.data_manager.delete_data(data_hash)
    assert h.run(node.get_shared_data(data_hash)) == "{'report': 42}"
    assert node.data_manager.get_data(data_hash) == "{'report': 42}"  # and keeps it, like production


def test_peer_sending_data_reaches_data_received_handlers_with_the_payload(harness: Any, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "reader", READER)
    h = harness().start()

    data_hash = h.run(h.node.receive("peer2", {"reading": 7}))

    reader = h.host.get_plugin("reader")
    assert reader.got == [(data_hash, "peer2", "{'reading': 7}")]
    assert h.node.p2p_network.find_peer("peer2").get(data_hash) == (True, "{'reading': 7}")


def test_sharing_with_a_disconnected_peer_fails_clearly_and_publishes_nothing(harness: Any) -> None:
    h = harness().start()
    node, seen = h.node, []
    node.event_bus.subscribe_all(seen.append)

    assert h.run(node.p2p_network.disconnect_peer("peer2")) is True
    with pytest.raises(PeerError, match=r'cannot share with "peer2": the peer is disconnected') as failure:
        h.run(node.share_data({"x": 1}, "peer2"))

    assert "connected: peer1, peer3" in str(failure.value)
    assert [e.type for e in seen] == [EventType.PEER_DISCONNECTED]
    assert node.p2p_network.find_peer("peer2").data_hashes() == []
    assert h.run(node.p2p_network.connect_peer("peer2")) is True
    h.run(node.share_data({"x": 1}, "peer2"))
    assert [e.type for e in seen] == [EventType.PEER_DISCONNECTED, EventType.PEER_CONNECTED, EventType.DATA_SHARED]


def test_latency_delays_and_drops_fail_messages_from_a_peer(harness: Any) -> None:
    h = harness().start()
    network = h.node.p2p_network

    network.set_conditions("peer1", latency_ms=60)
    started = time.monotonic()
    h.run(h.node.receive("peer1", {"slow": True}))
    assert time.monotonic() - started >= 0.06

    network.set_conditions("peer1", latency_ms=0, drop_rate=1.0)
    with pytest.raises(PeerError, match="dropped"):
        h.run(h.node.receive("peer1", {"lost": True}))
    assert network.stats()["messages_dropped"] == 1


def test_reseeding_drops_the_same_messages_again(harness: Any) -> None:
    h = harness().start()
    network = h.node.p2p_network
    network.set_conditions("peer1", drop_rate=0.5)

    def outcomes() -> list[bool]:
        network.reseed(3)
        results = []
        for n in range(12):
            try:
                h.run(h.node.receive("peer1", {"n": n}))
                results.append(True)
            except PeerError:
                results.append(False)
        return results

    first = outcomes()
    assert first == outcomes()
    assert True in first and False in first


# -- the console commands, through a real Runtime --------------------------------------
def test_peer_commands_list_disconnect_degrade_and_reconnect(tmp_path: Path, plugin_dir: Path) -> None:
    async def body(runtime: Runtime, records: list[Any]) -> None:
        for line in ["peer disconnect peer2", "share peer2 {\"x\": 1}", "peer set peer1 latency=5 drop=0.25",
                     "peer set peer1 speed=9", "peer list", "peer connect peer2", "peer connect peer2"]:
            await runtime.run_command(line)

    code, records = run_live(plugin_dir, tmp_path / "data", body)

    assert code == 0
    results = [r["result"] for r in kinds(records, "command.result", command="peer")]
    assert results[0] == {"peer": "peer2", "connected": False, "changed": True}
    assert results[1] == {"peer": "peer1", "latency_ms": 5.0, "drop_rate": 0.25}
    assert results[2:] == [{"peer": "peer2", "connected": True, "changed": True},
                           {"peer": "peer2", "connected": True, "changed": False}]
    errors = [r["error"] for r in kinds(records, "command.error")]
    assert 'cannot share with "peer2": the peer is disconnected' in errors[0]
    assert '"speed=9" is not latency=MS or drop=RATE' in errors[1]
    table = {p["peer"]: p for p in kinds(records, "peers")[0]["peers"]}
    assert table["peer2"]["connected"] is False
    assert (table["peer1"]["latency_ms"], table["peer1"]["drop_rate"]) == (5.0, 0.25)
    events = [r["type"] for r in kinds(records, "event")]
    assert events.count("network.peer_disconnected") == 1 and events.count("network.peer_connected") == 1


def test_transfer_and_balance_commands_move_real_balances_and_report_failures(tmp_path: Path) -> None:
    async def body(runtime: Runtime, records: list[Any]) -> None:
        for line in ["transfer native peer1 250", "balance peer1", "transfer native peer1 999999999999",
                     "transfer DEV peer3 5", "balance peer3 DEV"]:
            await runtime.run_command(line)

    code, records = run_live(BUNDLED_PLUGINS, tmp_path / "data", body)

    assert code == 0
    order = [(r["kind"], r.get("type") or r.get("command")) for r in records
             if r["kind"] in ("event", "command.result", "command.error")]
    # The transfer event is on screen before the command's own result.
    first = order.index(("event", "token.transfer_completed"))
    assert first < order.index(("command.result", "transfer"))
    balances = [r["result"]["balance"] for r in kinds(records, "command.result", command="balance")]
    assert balances == [250, 5]
    failed = kinds(records, "event", type="token.transfer_failed")[0]
    assert "insufficient" in failed["data"]["reason"]
    assert [h["plugin"] for h in failed["handlers"] if h["ok"]] == ["audit_plugin", "metrics_plugin"]
    assert kinds(records, "command.error")[0]["error"].startswith("transfer failed: insufficient native balance")


def test_receive_command_delivers_to_plugins_and_names_unknown_peers(tmp_path: Path, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "reader", READER)

    async def body(runtime: Runtime, records: list[Any]) -> None:
        await runtime.run_command('receive peer3 {"reading": 9}')
        await runtime.run_command('receive nobody {"reading": 9}')
        await wait_record(records, "command.error")
        assert runtime.host.get_plugin("reader").got[0][1:] == ("peer3", "{'reading': 9}")

    code, records = run_live(plugin_dir, tmp_path / "data", body)

    assert code == 0
    event = kinds(records, "event", type="data.received")[0]
    assert event["data"]["sender"] == "peer3"
    assert event["handlers"][0]["plugin"] == "reader" and event["handlers"][0]["ok"]
    assert 'unknown peer "nobody"' in kinds(records, "command.error")[0]["error"]
