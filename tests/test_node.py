"""The node object plugins receive: production's names and signatures, real Fernet, real SQLite, share_data's flow."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import sqlite3
import stat
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.fernet import Fernet

from devnode.config import NodeConfig, load_config
from devnode.events import Event, EventBus, EventType
from devnode.node.crypto import KEY_FILENAME
from devnode.node.network import PeerError
from devnode.node.node import DevNode

T = TypeVar("T")
EMPTY = inspect.Parameter.empty

# UPSTREAM.md "The node object that plugins receive": (attribute path, method, production parameters, async?)
# Parameters are (name, default); devnode may add parameters after these, but only optional ones.
PRODUCTION_METHODS: list[tuple[str, str, list[tuple[str, Any]], bool]] = [
    ("", "encrypt_data", [("data", EMPTY)], False),
    # UPSTREAM writes decrypt_data(token); production's own parameter name is encrypted_data
    ("", "decrypt_data", [("encrypted_data", EMPTY)], False),
    ("", "share_data", [("data", EMPTY), ("recipient", EMPTY), ("payment_token", None), ("payment_amount", None)],
     True),
    ("", "get_shared_data", [("data_hash", EMPTY)], True),
    ("", "on_data_received", [("data_hash", EMPTY), ("data", EMPTY)], True),
    ("blockchain_interface", "connect", [], False),
    ("blockchain_interface", "get_balance", [("address", EMPTY)], False),
    ("blockchain_interface", "send_transaction", [("tx", EMPTY)], False),
    ("data_manager", "store_data", [("key", EMPTY), ("value", EMPTY)], False),
    ("data_manager", "get_data", [("key", EMPTY)], False),
    ("data_manager", "delete_data", [("key", EMPTY)], False),
    ("token_manager", "get_balance", [("address", EMPTY), ("token", EMPTY)], False),
    ("token_manager", "transfer_tokens", [("from_addr", EMPTY), ("to_addr", EMPTY), ("amount", EMPTY),
                                          ("token", EMPTY)], False),
    ("token_manager", "add_supported_token", [("address", EMPTY), ("abi", EMPTY)], False),
    ("compliance_manager", "record_compliance_event", [("event_type", EMPTY), ("event_data", EMPTY)], False),
    ("compliance_manager", "verify_compliance", [("event_type", EMPTY), ("event_hash", EMPTY)], False),
    ("compliance_manager", "get_compliance_history", [("filters", None)], False),
    ("p2p_network", "send_data", [("data_hash", EMPTY), ("data", EMPTY)], True),
    ("p2p_network", "get_data", [("data_hash", EMPTY)], True),
    ("p2p_network", "get_connected_peers", [], False),
]
CONFIG_FIELDS = ["blockchain_type", "blockchain_url", "private_key", "native_token_address", "db_path",
                 "sqlite_db_path", "p2p_port", "plugin_dir", "node_id", "node_signature", "initial_peers", "data_dir"]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def config_for(tmp_path: Path, **overrides: Any) -> NodeConfig:
    (tmp_path / "plugins").mkdir(exist_ok=True)
    data = tmp_path / "data"
    return NodeConfig(plugin_dir=str(tmp_path / "plugins"), data_dir=str(data),
                      sqlite_db_path=str(data / "devnode.sqlite3"), **overrides)


@pytest.fixture
def node(tmp_path: Path) -> Any:
    n = DevNode(config_for(tmp_path))
    run(n.start())
    yield n
    run(n.stop())


def restarted(old: DevNode) -> DevNode:
    """Stop ``old`` and build a new node on the same config (a devnode restart)."""
    run(old.stop())
    new = DevNode(old.config)
    run(new.start())
    return new


def recording(bus: EventBus) -> list[Event]:
    events: list[Event] = []
    bus.subscribe_all(events.append)
    return events


# -- the surface ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path, method, params, is_async", PRODUCTION_METHODS,
                         ids=[f"{p or 'node'}.{m}" for p, m, _, _ in PRODUCTION_METHODS])
def test_method_has_productions_name_and_signature(
    node: DevNode, path: str, method: str, params: list[tuple[str, Any]], is_async: bool
) -> None:
    owner = getattr(node, path) if path else node
    fn = getattr(owner, method)
    signature = inspect.signature(fn)
    actual = list(signature.parameters.values())
    assert [(p.name, p.default) for p in actual[: len(params)]] == params
    extras = actual[len(params):]
    assert all(p.default is not EMPTY or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in extras), extras
    assert inspect.iscoroutinefunction(fn) is is_async


def test_node_has_every_production_attribute(node: DevNode) -> None:
    for name in ("config", "event_bus", "blockchain_interface", "data_manager", "token_manager",
                 "payment_processor", "compliance_manager", "p2p_network", "plugin_manager"):
        assert hasattr(node, name), name
    assert isinstance(node.event_bus, EventBus)
    assert callable(node.blockchain_interface.call_contract)
    assert isinstance(node.token_manager.supported_tokens, dict) and node.token_manager.supported_tokens
    assert node.p2p_network.known_peers == ["peer1", "peer2", "peer3"]
    assert node.p2p_network.get_connected_peers() == ["peer1", "peer2", "peer3"]


def test_node_config_has_every_production_field(node: DevNode) -> None:
    for name in CONFIG_FIELDS:
        assert hasattr(node.config, name), name
    assert isinstance(node.config.initial_peers, list) and isinstance(node.config.p2p_port, int)


# -- encryption: real Fernet, key kept in the data dir --------------------------------------------------
def test_encrypt_makes_a_fernet_token_of_str_data(node: DevNode, tmp_path: Path) -> None:
    token = node.encrypt_data({"secret": 1})
    assert isinstance(token, str)
    key = (tmp_path / "data" / KEY_FILENAME).read_bytes()
    assert Fernet(key).decrypt(token.encode()) == b"{'secret': 1}"
    assert node.decrypt_data(token) == "{'secret': 1}"
    assert node.encrypt_data("x") != node.encrypt_data("x")  # Fernet tokens are randomised


def test_key_file_is_owner_only_and_decrypts_after_restart(node: DevNode, tmp_path: Path) -> None:
    key_file = tmp_path / "data" / KEY_FILENAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_bytes()
    token = node.encrypt_data("kept across restarts")
    again = restarted(node)
    try:
        assert key_file.read_bytes() == key
        assert again.decrypt_data(token) == "kept across restarts"
    finally:
        run(again.stop())


# -- share_data: production's flow ---------------------------------------------------------------------
def test_share_data_runs_productions_flow(node: DevNode) -> None:
    events = recording(node.event_bus)
    data = {"report": 42, "rows": [1, 2]}
    tx = run(node.share_data(data, "peer1"))

    data_hash = hashlib.sha256(str(data).encode()).hexdigest()
    assert node.data_manager.get_data(data_hash) == data
    found, held = node.p2p_network.find_peer("peer1").get(data_hash)  # type: ignore[union-attr]
    assert found and held == str(data)  # what crosses the network is str(data), as in production
    assert not node.p2p_network.find_peer("peer2").get(data_hash)[0]  # type: ignore[union-attr]

    [record] = node.compliance_manager.get_compliance_history({"event_type": "data_share"})
    assert record["tx_hash"] == tx
    assert set(record["event_data"]) == {"data_hash", "recipient", "payment_tx_hash", "timestamp"}
    assert record["event_data"]["data_hash"] == data_hash
    assert record["event_data"]["recipient"] == "peer1"
    assert record["event_data"]["payment_tx_hash"] is None
    assert isinstance(record["event_data"]["timestamp"], int)
    assert node.compliance_manager.verify_compliance("data_share", tx)

    [shared] = [e for e in events if e.type is EventType.DATA_SHARED]
    assert shared.data["data_hash"] == data_hash and shared.data["recipient"] == "peer1"
    assert shared.data["compliance_tx_hash"] == tx


def test_share_records_the_recipient_as_the_caller_gave_it(node: DevNode) -> None:
    events = recording(node.event_bus)
    address = node.p2p_network.find_peer("peer2").address  # type: ignore[union-attr]
    tx = run(node.share_data("by address", address))
    [record] = node.compliance_manager.get_compliance_history({"event_type": "data_share"})
    assert record["tx_hash"] == tx and record["event_data"]["recipient"] == address
    [shared] = [e for e in events if e.type is EventType.DATA_SHARED]
    assert shared.data["recipient"] == address


def test_share_with_payment_records_the_payment_transaction(node: DevNode) -> None:
    native = node.config.native_token_address
    peer_address = node.p2p_network.find_peer("peer2").address  # type: ignore[union-attr]
    before = node.token_manager.get_balance(peer_address, native)
    tx = run(node.share_data("paid data", "peer2", payment_token=native, payment_amount=5))
    [record] = node.compliance_manager.get_compliance_history({"tx_hash": tx})
    assert record["event_data"]["payment_tx_hash"]
    assert node.token_manager.get_balance(peer_address, native) != before


def test_share_to_unknown_peer_fails_clearly_and_leaves_nothing_behind(node: DevNode) -> None:
    events = recording(node.event_bus)
    with pytest.raises(PeerError) as info:
        run(node.share_data({"report": 1}, "nobody"))
    message = str(info.value)
    assert '"nobody"' in message and "unknown" in message and "peer1, peer2, peer3" in message
    assert events == []
    assert node.event_bus.get_events_by_type(EventType.DATA_SHARED) == []
    assert node.data_manager.keys() == []
    assert node.compliance_manager.get_compliance_history() == []
    for peer in node.p2p_network.peers.values():
        assert peer.data_hashes() == []


def test_share_to_disconnected_peer_fails_and_leaves_nothing_behind(node: DevNode) -> None:
    run(node.p2p_network.disconnect_peer("peer3"))
    with pytest.raises(PeerError, match='"peer3": the peer is disconnected'):
        run(node.share_data("x", "peer3"))
    assert node.data_manager.keys() == [] and node.compliance_manager.get_compliance_history() == []


# -- persistence ----------------------------------------------------------------------------------------
def test_data_and_compliance_history_survive_a_restart(node: DevNode) -> None:
    data = {"kept": True}
    tx = run(node.share_data(data, "peer1"))
    node.data_manager.store_data("plain-key", [1, 2, 3])
    data_hash = hashlib.sha256(str(data).encode()).hexdigest()

    again = restarted(node)
    try:
        assert again.data_manager.get_data(data_hash) == data
        assert again.data_manager.get_data("plain-key") == [1, 2, 3]
        assert run(again.get_shared_data(data_hash)) == data
        [record] = again.compliance_manager.get_compliance_history()
        assert record["tx_hash"] == tx and record["event_data"]["data_hash"] == data_hash
        assert again.compliance_manager.verify_compliance("data_share", tx)
        assert again.p2p_network.find_peer("peer1").get(data_hash) == (True, str(data))  # type: ignore[union-attr]
    finally:
        run(again.stop())


def test_get_shared_data_fetches_from_peers_and_keeps_a_copy(node: DevNode) -> None:
    data_hash = run(node.p2p_network.send_data("h1", {"from": "me"}, recipient="peer2"))
    assert data_hash == ["peer2"]
    assert node.data_manager.get_data("h1") is None
    assert run(node.get_shared_data("h1")) == "{'from': 'me'}"
    assert node.data_manager.get_data("h1") == "{'from': 'me'}"


def test_on_data_received_stores_and_publishes(node: DevNode) -> None:
    events = recording(node.event_bus)
    run(node.on_data_received("abc", "payload"))
    assert node.data_manager.get_data("abc") == "payload"
    assert [(e.type, e.data["data_hash"]) for e in events] == [(EventType.DATA_RECEIVED, "abc")]


# -- a production .env must not let devnode write into the production node's database ---------------------
def test_production_sqlite_db_path_is_left_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / "plugins").mkdir(parents=True)
    monkeypatch.chdir(project)  # where the production node runs, so its relative paths land here
    (project / "data").mkdir()
    production_db = project / "data" / "sqlite.db"
    conn = sqlite3.connect(production_db)
    conn.execute("CREATE TABLE authorized_users (user_id TEXT PRIMARY KEY, public_key TEXT)")
    conn.execute("INSERT INTO authorized_users VALUES ('u1', 'pk')")
    conn.commit()
    conn.close()
    before = production_db.read_bytes()
    (project / ".env").write_text("SQLITE_DB_PATH=./data/sqlite.db\nDB_PATH=./data/nodedb\nDATA_DIR=./data\n")

    config = load_config(environ={}, cwd=project)
    node = DevNode(config)
    run(node.start())
    try:
        assert node.config.sqlite_db_path == "./data/sqlite.db"  # plugins still see production's value
        run(node.share_data("x", "peer1"))
    finally:
        run(node.stop())
    assert production_db.read_bytes() == before
    assert not (project / "data" / "nodedb").exists()
    assert sorted(p.name for p in (project / "data").iterdir()) == ["devnode.key", "devnode.sqlite3", "sqlite.db"]
