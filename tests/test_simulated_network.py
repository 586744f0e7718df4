"""Simulated peers end to end: sharing through the DHT, receiving, disconnects, bad links, and the console commands."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from conftest import BUNDLED_PLUGINS, write_plugin
from playback_helpers import kinds, run_live, wait_record

from devnode.bus import EventType
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
            self.got.append((event.data["data_hash"], data))
"""


def test_shared_data_goes_to_every_connected_peer_and_is_read_back_through_the_network(harness: Any) -> None:
    h = harness().start()
    node = h.node
    text = '{"report": 42}'
    data_hash = node._hash_data(text)
    h.run(node.p2p_network.disconnect_peer("peer3"))

    h.run(node.share_data(text, "peer1"))

    peers = node.p2p_network.peers
    assert peers["peer1"].get(data_hash) == peers["peer2"].get(data_hash) == (True, text)
    assert peers["peer3"].get(data_hash) == (False, None)  # disconnected: the DHT did not reach it
    # Forget the local copy: get_shared_data must fetch it from a peer that holds it.
    assert node.data_manager.delete_data(data_hash) is None
    assert h.run(node.get_shared_data(data_hash)) == text
    assert node.data_manager.get_data(data_hash) == text  # and keeps it, like production


def test_peer_sending_data_reaches_data_received_handlers_with_the_payload(harness: Any, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "reader", READER)
    h = harness().start()

    data_hash = h.run(h.node.receive("peer2", {"reading": 7}))

    reader = h.host.get_plugin("reader")
    assert reader.got == [(data_hash, "{'reading': 7}")]
    assert h.node.p2p_network.find_peer("peer2").get(data_hash) == (True, "{'reading': 7}")


def test_a_peer_going_away_publishes_nothing_and_shows_in_the_network_stats(harness: Any) -> None:
    h = harness().start()
    node, seen = h.node, []
    node.event_bus.subscribe_all(seen.append)

    assert h.run(node.p2p_network.disconnect_peer("peer2")) is True
    h.run(node.share_data('{"x": 1}', "peer2"))  # production's DHT has no recipient: the share still works

    assert [e.type for e in seen] == [EventType.DATA_SHARED]
    assert node.p2p_network.find_peer("peer2").data_hashes() == []
    h.run(node.publish_status())
    assert seen[-1].type is EventType.NETWORK_STATS_UPDATE and seen[-1].data["healthy_peers"] == 2
    assert h.run(node.p2p_network.connect_peer("peer2")) is True
    assert node.p2p_network.get_network_stats()["healthy_peers"] == 3


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
        for line in ["peer disconnect peer2", "receive peer2 {\"x\": 1}", "peer set peer1 latency=5 drop=0.25",
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
    assert 'peer "peer2" is disconnected' in errors[0]
    assert '"speed=9" is not latency=MS or drop=RATE' in errors[1]
    table = {p["peer"]: p for p in kinds(records, "peers")[0]["peers"]}
    assert table["peer2"]["connected"] is False
    assert (table["peer1"]["latency_ms"], table["peer1"]["drop_rate"]) == (5.0, 0.25)
    events = [r["type"] for r in kinds(records, "event")]
    assert "network.peer_disconnected" not in events and "network.peer_connected" not in events  # as production


def test_transfer_and_balance_commands_move_real_balances_and_report_failures(tmp_path: Path) -> None:
    async def body(runtime: Runtime, records: list[Any]) -> None:
        runtime.node.token_manager.issue_new_token("devnode token", "DEV", 1000)
        for line in ["transfer native peer1 250", "balance peer1", "transfer native peer1 999999999999",
                     "transfer DEV peer3 5", "balance peer3 DEV", "transfer NOPE peer3 5"]:
            await runtime.run_command(line)

    code, records = run_live(BUNDLED_PLUGINS, tmp_path / "data", body)

    assert code == 0
    balances = [r["result"]["balance"] for r in kinds(records, "command.result", command="balance")]
    assert balances == [250, 5]
    assert not [r for r in kinds(records, "event") if r["type"].startswith("token.")]  # transfer_tokens publishes nothing
    errors = [r["error"] for r in kinds(records, "command.error")]
    assert errors[0].startswith("transfer failed: {'code': -32003, 'message': 'Insufficient funds")  # the chain's refusal, as production gets it
    assert "insufficient native balance" in errors[0]
    assert 'unknown token "NOPE"' in errors[1] and "DEV" in errors[1]


def test_receive_command_delivers_to_plugins_and_names_unknown_peers(tmp_path: Path, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "reader", READER)

    async def body(runtime: Runtime, records: list[Any]) -> None:
        await runtime.run_command('receive peer3 {"reading": 9}')
        await runtime.run_command('receive nobody {"reading": 9}')
        await wait_record(records, "command.error")
        assert runtime.host.get_plugin("reader").got[0][1:] == ("{'reading': 9}",)

    code, records = run_live(plugin_dir, tmp_path / "data", body)

    assert code == 0
    event = kinds(records, "event", type="data.received")[0]
    assert set(event["data"]) == {"data_hash", "timestamp"}  # production's payload: no sender
    assert kinds(records, "command.result", command="receive")[0]["result"]["sender"] == "peer3"
    assert event["handlers"][0]["plugin"] == "reader" and event["handlers"][0]["ok"]
    assert 'unknown peer "nobody"' in kinds(records, "command.error")[0]["error"]
