"""The node object plugins receive: production's names, signatures, shapes and share_data's flow."""

from __future__ import annotations

import ast
import asyncio
import hashlib
import inspect
import sqlite3
import stat
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.fernet import Fernet, InvalidToken

from devnode.config import NodeConfig, load_config
from devnode.bus import Event, EventBus, EventType
from devnode.node.chain_values import StandInLimit, address_for
from devnode.node.crypto import KEY_FILENAME
from devnode.node.node import AUTHORIZE_PRODUCTION, DevNode
from devnode.node.notices import Notice

T = TypeVar("T")
EMPTY = inspect.Parameter.empty
UPSTREAM = Path(__file__).resolve().parents[1] / ".." / "shared" / "upstream" / "datamgmtnode" / "datamgmtnode"

# production class (file, class) -> how a plugin reaches the stand-in's object
SURFACES: list[tuple[str, str, str]] = [
    ("services/node.py", "Node", ""),
    ("blockchain/evm_blockchain_interface.py", "EVMBlockchainInterface", "blockchain_interface"),
    ("services/data_manager.py", "DataManager", "data_manager"),
    ("services/token_manager.py", "TokenManager", "token_manager"),
    ("services/payment_processor.py", "PaymentProcessor", "payment_processor"),
    ("services/compliance_manager.py", "ComplianceManager", "compliance_manager"),
    ("services/authorisation.py", "AuthorizationModule", "authorization_module"),
    ("services/key_manager.py", "KeyManager", "key_manager"),
    ("network/p2p_network.py", "P2PNetwork", "p2p_network"),
]
# Attributes that exist in production but that the stand-in refuses with a StandInLimit naming --node production.
REFUSED = {"blockchain_interface.w3", "data_manager.db"}


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def config_for(tmp_path: Path, **overrides: Any) -> NodeConfig:
    (tmp_path / "plugins").mkdir(exist_ok=True)
    data = tmp_path / "data"
    return NodeConfig(plugin_dir=str(tmp_path / "plugins"), data_dir=str(data), status_interval=0, **overrides)


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


def notices_of(node: DevNode) -> list[Notice]:
    seen: list[Notice] = []
    node.parity_notices.add_sink(seen.append)
    return seen


# -- the surface, read from production's own source ---------------------------------------------------
def _production_class(file: str, name: str) -> ast.ClassDef:
    if not (UPSTREAM / file).is_file():
        pytest.skip(f"production's source is not at {UPSTREAM} (the snapshot in ../shared/upstream)")
    tree = ast.parse((UPSTREAM / file).read_text())
    return next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)


def _public_methods(cls: ast.ClassDef) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    return {f.name: f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            and not f.name.startswith("_")}


def _public_attributes(cls: ast.ClassDef) -> set[str]:
    init = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
    names = set()
    for node in ast.walk(init) if init else []:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                        and target.value.id == "self" and not target.attr.startswith("_")):
                    names.add(target.attr)
    return names


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, Any]]:
    args = fn.args.args[1:]  # self
    defaults = [EMPTY] * (len(args) - len(fn.args.defaults)) + [ast.literal_eval(d) for d in fn.args.defaults]
    return [(a.arg, d) for a, d in zip(args, defaults)]


@pytest.mark.parametrize("file, cls_name, path", SURFACES, ids=[c for _, c, _ in SURFACES])
def test_every_public_method_has_productions_signature(node: DevNode, file: str, cls_name: str, path: str) -> None:
    owner = getattr(node, path) if path else node
    for name, fn in _public_methods(_production_class(file, cls_name)).items():
        method = getattr(owner, name, None)
        where = f"{path or 'node'}.{name}"
        assert method is not None, f"{where} is missing"
        if any(isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list):
            assert not callable(method), f"{where} is a property in production"
            continue
        actual = list(inspect.signature(method).parameters.values())
        expected = _params(fn)
        assert [(p.name, p.default) for p in actual[: len(expected)]] == expected, where
        assert all(p.default is not EMPTY for p in actual[len(expected):]), f"{where}: extra required parameters"
        assert inspect.iscoroutinefunction(method) is isinstance(fn, ast.AsyncFunctionDef), f"{where}: sync/async"


@pytest.mark.parametrize("file, cls_name, path", SURFACES, ids=[c for _, c, _ in SURFACES])
def test_every_public_attribute_exists_or_is_refused_with_the_fix(
    node: DevNode, file: str, cls_name: str, path: str
) -> None:
    owner = getattr(node, path) if path else node
    for name in _public_attributes(_production_class(file, cls_name)):
        where = f"{path}.{name}" if path else name
        if where in REFUSED:
            with pytest.raises(StandInLimit, match="--node production"):
                getattr(owner, name)
        else:
            assert hasattr(owner, name), f"{path or 'node'}.{name} is missing"


def test_what_production_does_not_have_is_gone(node: DevNode) -> None:
    assert not hasattr(node.p2p_network, "known_peers")
    assert not hasattr(node.blockchain_interface, "call_contract")
    with pytest.raises(StandInLimit, match="internal HTTP API.*--node production"):
        node.internal_api.start()


def test_config_has_productions_defaults(tmp_path: Path) -> None:
    config = load_config(environ={}, cwd=tmp_path, require_plugin_dir=False)
    assert config.blockchain_type == "evm" and config.p2p_port == 8000
    assert config.native_token_address == "0x" + "0" * 40 and config.node_id == "node1"
    assert isinstance(config.initial_peers, list) and config.initial_peers == []


# -- encryption: real Fernet, key kept in the data dir --------------------------------------------------
def test_encrypt_makes_a_fernet_token_of_str_data(node: DevNode, tmp_path: Path) -> None:
    token = node.encrypt_data({"secret": 1})
    assert isinstance(token, str)
    key = (tmp_path / "data" / KEY_FILENAME).read_bytes()
    assert Fernet(key).decrypt(token.encode()) == b"{'secret': 1}"
    assert node.decrypt_data(token) == "{'secret': 1}"
    assert node.cipher_suite.decrypt(token.encode()) == b"{'secret': 1}"
    assert node.key_manager.decrypt(node.key_manager.encrypt("x")) == "x"
    with pytest.raises(InvalidToken):
        node.decrypt_data("garbage")


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
    seen = notices_of(node)
    data = '{"report": 42}'
    tx = run(node.share_data(data, "peer1"))

    data_hash = hashlib.sha256(data.encode()).hexdigest()
    assert node.data_manager.get_data(data_hash) == data
    for peer in node.p2p_network.peers.values():  # the DHT: every connected peer holds it
        assert peer.get(data_hash) == (True, data)

    [record] = node.compliance_manager.get_compliance_history(["data_share"])
    assert record["tx_hash"] == tx and set(record) == {"type", "hash", "block", "tx_hash"}
    assert [e.type for e in events] == [EventType.DATA_SHARED]
    shared = events[0].data
    assert set(shared) == {"data_hash", "recipient", "compliance_tx_hash", "timestamp"}
    assert shared["data_hash"] == data_hash and shared["recipient"] == "peer1"
    assert shared["compliance_tx_hash"] == tx and isinstance(shared["timestamp"], int)
    assert [n.code for n in seen] == ["share-authorization", "compliance-history-web3"]
    assert "services/node.py:278" in seen[0].message


def test_share_data_with_a_dict_fails_in_the_store_as_in_production(node: DevNode) -> None:
    with pytest.raises(TypeError, match="a bytes-like object is required, not 'dict'"):
        run(node.share_data({"report": 1}, "peer1"))


def test_share_to_any_recipient_works_as_the_dht_has_no_recipient(node: DevNode) -> None:
    address = "0x" + "12" * 20
    run(node.share_data("by address", address))
    run(node.share_data("to nobody we know", "nobody"))
    assert len(node.compliance_manager.get_compliance_history()) == 2


def test_authorization_as_shipped_can_be_kept(node: DevNode) -> None:
    node.authorize = AUTHORIZE_PRODUCTION
    with pytest.raises(ValueError, match="^Unauthorized data transfer$"):
        run(node.share_data("x", "peer1"))


def test_share_with_payment_makes_the_recipient_pay_and_publishes_transfer_first(node: DevNode) -> None:
    native = node.get_native_token_address()
    payer = address_for("peer2")
    node.blockchain_interface.fund(payer, 50)
    events = recording(node.event_bus)
    before = node.token_manager.get_balance(node.address, native)
    run(node.share_data("paid data", payer, payment_token=native, payment_amount=5))
    assert node.token_manager.get_balance(payer, native) == 45
    assert node.token_manager.get_balance(node.address, native) == before + 5
    assert [e.type for e in events] == [EventType.TRANSFER_COMPLETED, EventType.DATA_SHARED]
    done = events[0].data
    assert set(done) == {"tx_hash", "from", "to", "amount", "token"}
    assert done["from"] == node.address and done["to"] == payer and done["amount"] == "5"


def test_payment_refusals_raise_before_anything_is_stored(node: DevNode) -> None:
    native = node.get_native_token_address()
    events = recording(node.event_bus)
    with pytest.raises(ValueError, match="^Insufficient balance$"):
        run(node.share_data("x", address_for("broke"), payment_token=native, payment_amount=5))
    with pytest.raises(ValueError, match="^Unsupported token$"):
        run(node.share_data("x", address_for("broke"), payment_token="0x" + "9" * 40, payment_amount=5))
    assert events == [] and node.data_manager.keys() == []


# -- receiving, persistence ---------------------------------------------------------------------------
def test_data_and_compliance_history_survive_a_restart(node: DevNode) -> None:
    data = "kept"
    run(node.share_data(data, "peer1"))
    node.data_manager.store_data("plain-key", "[1, 2, 3]")
    data_hash = hashlib.sha256(data.encode()).hexdigest()
    event_data_hash = node.compliance_manager.get_compliance_history()[0]["hash"]

    again = restarted(node)
    try:
        assert again.data_manager.get_data(data_hash) == data
        assert again.data_manager.get_data("plain-key") == "[1, 2, 3]"
        assert run(again.get_shared_data(data_hash)) == data
        [record] = again.compliance_manager.get_compliance_history()
        assert record["hash"] == event_data_hash
    finally:
        run(again.stop())


def test_get_shared_data_fetches_from_peers_and_keeps_a_copy(node: DevNode) -> None:
    data_hash = hashlib.sha256(b"{'from': 'me'}").hexdigest()
    run(node.p2p_network.send_data(data_hash, {"from": "me"}))
    assert node.data_manager.get_data(data_hash) is None
    assert run(node.get_shared_data(data_hash)) == "{'from': 'me'}"
    assert node.data_manager.get_data(data_hash) == "{'from': 'me'}"
    assert run(node.get_shared_data("unknown")) is None


def test_on_data_received_publishes_productions_payload_only(node: DevNode) -> None:
    events = recording(node.event_bus)
    run(node.on_data_received("abc", "payload"))
    assert node.data_manager.get_data("abc") is None  # production stores before calling it, not in it
    [event] = events
    assert event.type is EventType.DATA_RECEIVED and set(event.data) == {"data_hash", "timestamp"}
    assert event.data["data_hash"] == "abc" and isinstance(event.data["timestamp"], int)


def test_receive_from_a_simulated_peer_stores_then_publishes(node: DevNode) -> None:
    events = recording(node.event_bus)
    data_hash = run(node.receive("peer2", {"reading": 7}))
    assert node.data_manager.get_data(data_hash) == "{'reading': 7}"
    assert [e.data["data_hash"] for e in events if e.type is EventType.DATA_RECEIVED] == [data_hash]


# -- the periodic status events --------------------------------------------------------------------------
def test_status_round_has_productions_shapes(node: DevNode) -> None:
    events = recording(node.event_bus)
    run(node.publish_status())
    health, stats = events
    assert health.type is EventType.HEALTH_UPDATE and stats.type is EventType.NETWORK_STATS_UPDATE
    assert health.data == {"status": "healthy", "components": {
        "blockchain": "connected", "p2p_network": "running", "encryption": "initialized"}}
    assert stats.data == node.p2p_network.get_network_stats()
    assert set(stats.data) == {"total_peers", "healthy_peers", "active_peers", "bootstrap_nodes", "avg_latency_ms"}


def test_status_events_repeat_at_the_configured_interval(tmp_path: Path) -> None:
    async def scenario() -> list[EventType]:
        node = DevNode(config_for(tmp_path, ))
        node.config.status_interval = 0.05
        events = recording(node.event_bus)
        await node.start()
        deadline = asyncio.get_running_loop().time() + 10
        while len(events) < 4 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        await node.stop()
        return [e.type for e in events[:4]]

    assert run(scenario()) == [EventType.HEALTH_UPDATE, EventType.NETWORK_STATS_UPDATE] * 2


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
    config.status_interval = 0
    node = DevNode(config)
    run(node.start())
    try:
        assert node.config.sqlite_db_path == "./data/sqlite.db"  # plugins still see production's value
        run(node.share_data("x", "peer1"))
    finally:
        run(node.stop())
    assert production_db.read_bytes() == before
    assert not (project / "data" / "nodedb").exists()
    assert sorted(p.name for p in (project / "data").iterdir()) == [
        "devnode-auth.sqlite3", "devnode.key", "devnode.sqlite3", "sqlite.db"]
