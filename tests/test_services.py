"""The service stand-ins in devnode.node: real SQLite files, real Fernet, real balances."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import stat
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.fernet import Fernet

from devnode.bus import Event, EventBus, EventType
from devnode.node.chain import LocalChain
from devnode.node.chain_values import InsufficientFunds, InvalidAddress, StandInLimit, address_for
from devnode.node.checksum import keccak256, to_checksum_address
from devnode.node.compliance import ComplianceManager, event_hash
from devnode.node.crypto import (
    KEY_FILENAME,
    Cipher,
    DecryptError,
    KeyFileError,
    key_file_problems,
    load_or_create_key,
)
from devnode.node.data_manager import DataManager
from devnode.node.network import DEFAULT_PEERS, P2PNetwork, PeerError
from devnode.node.notices import Notice, Notices
from devnode.node.payments import PaymentProcessor
from devnode.node.storage import DB_FILENAME, Store, StoreError
from devnode.node.tokens import TokenManager

NODE = address_for("node1")
NATIVE = "0x" + "e" * 40
ALICE = address_for("alice")


# -- helpers -----------------------------------------------------------------
@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path)
    try:
        yield s
    finally:
        s.close()


class Recorder:
    """Collects every event published on a bus."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        bus.subscribe_all(self.events.append)

    def of(self, kind: EventType) -> list[Event]:
        return [e for e in self.events if e.type == kind]


async def wait_until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    """Yield to the loop until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0)


T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def tokens_on(store: Store) -> tuple[LocalChain, TokenManager]:
    chain = LocalChain(store, NODE)
    return chain, TokenManager(chain, NATIVE)


def network_on(store: Store, peers: list[str] | None = None, seed: int = 0) -> P2PNetwork:
    return P2PNetwork(store, "node1", peers or [], 8000, seed=seed)


# -- storage and data_manager (production: LevelDB via plyvel) ------------------
def test_data_manager_stores_str_and_bytes_and_reads_back_str_across_reopening(tmp_path: Path) -> None:
    first = Store(tmp_path)
    dm = DataManager(first)
    dm.store_data("s", "123")
    dm.store_data(b"b", b"bytes \xc3\xa9")
    dm.store_data("ba", bytearray(b"x"))
    dm.store_data("empty", "")
    first.close()

    reopened = Store(tmp_path / DB_FILENAME)
    try:
        dm = DataManager(reopened)
        assert dm.get_data("s") == "123" and dm.get_data(b"s") == "123"
        assert dm.get_data("b") == "bytes \u00e9"
        assert dm.get_data("ba") == "x"
        assert dm.get_data("empty") is None  # production: an empty value reads as None
        assert dm.get_data("missing") is None
        assert dm.delete_data("s") is None
        assert dm.delete_data("never-there") is None
        assert dm.get_data("s") is None
    finally:
        reopened.close()


@pytest.mark.parametrize("value", [{"a": 1}, 5, None, ["x"], 1.5])
def test_data_manager_refuses_what_leveldb_refuses(store: Store, value: Any) -> None:
    with pytest.raises(TypeError, match=f"a bytes-like object is required, not '{type(value).__name__}'"):
        DataManager(store).store_data("k", value)


def test_data_manager_close_and_context_manager(store: Store) -> None:
    with DataManager(store) as dm:
        dm.store_data("k", "v")
    with pytest.raises(RuntimeError, match="Database is closed"):
        dm.get_data("k")


def test_store_keeps_tagged_values(tmp_path: Path) -> None:
    values = {"s": "123", "d": {"a": [1, 2.5, None, True]}, "raw": b"\x00\xff"}
    first = Store(tmp_path)
    for key, value in values.items():
        first.put_data(key, value)
    first.close()
    reopened = Store(tmp_path)
    try:
        assert {k: reopened.get_data(k) for k in values} == values
    finally:
        reopened.close()


def test_atomic_block_that_raises_leaves_nothing_behind(store: Store) -> None:
    with pytest.raises(RuntimeError):
        with store.atomic():
            store.set_balance(ALICE, "native", 5)
            with store.atomic():
                store.put_data("k", 1)
            raise RuntimeError("boom")
    assert store.balance(ALICE, "native") == 0 and store.get_data("k") is None


def test_data_key_of_wrong_type_is_refused_as_leveldb_does(store: Store) -> None:
    with pytest.raises(TypeError, match=r"Argument 'key' has incorrect type \(expected bytes, got int\)"):
        DataManager(store).store_data(5, "x")  # type: ignore[arg-type]


def test_corrupt_database_raises_store_error_and_is_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / DB_FILENAME
    garbage = b"this is not sqlite\n" * 50
    db.write_bytes(garbage)
    with pytest.raises(StoreError) as info:
        Store(tmp_path)
    message = str(info.value)
    assert str(db) in message and "not a usable SQLite database" in message
    assert "move it aside" in message.lower() and "never overwrites" in message
    assert db.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == [DB_FILENAME]


def test_data_dir_that_cannot_be_created_gives_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="must be writable"):
        Store(blocker / "data" / DB_FILENAME)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_data_dir_gives_store_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="writable"):
            Store(data)
    finally:
        data.chmod(0o700)


# -- crypto ------------------------------------------------------------------
def test_key_file_is_owner_only_and_reused_across_restarts(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "data")
    path = tmp_path / "data" / KEY_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_file_problems(path) == []
    assert load_or_create_key(tmp_path / "data") == key
    token = Cipher(key).encrypt({"a": 1})
    assert Cipher(load_or_create_key(tmp_path / "data")).decrypt(token) == "{'a': 1}"


def test_corrupt_key_file_raises_and_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILENAME
    path.write_bytes(b"not-a-key")
    with pytest.raises(KeyFileError) as info:
        load_or_create_key(tmp_path)
    assert str(path) in str(info.value) and "move the file aside" in str(info.value)
    assert path.read_bytes() == b"not-a-key"


def test_key_file_readable_by_others_is_reported(tmp_path: Path) -> None:
    load_or_create_key(tmp_path)
    path = tmp_path / KEY_FILENAME
    path.chmod(0o644)
    [problem] = key_file_problems(path)
    assert "0644" in problem and "chmod 600" in problem


def test_decrypt_rejects_foreign_and_garbage_tokens() -> None:
    cipher = Cipher(Fernet.generate_key())
    other = Cipher(Fernet.generate_key()).encrypt("secret")
    for token in (other, "garbage"):
        with pytest.raises(DecryptError, match="not a Fernet token made with this node's key"):
            cipher.decrypt(token)


# -- chain (production: blockchain/evm_blockchain_interface.py) ------------------
def test_node_is_funded_once_and_balances_survive_restart(tmp_path: Path) -> None:
    s = Store(tmp_path)
    chain = LocalChain(s, NODE)
    assert chain.get_balance(NODE) == 1_000_000
    tx_hash = chain.send_transaction({"from": NODE, "to": ALICE, "value": 400})
    s.close()

    s = Store(tmp_path)
    try:
        chain = LocalChain(s, NODE)
        assert chain.get_balance(NODE) == 999_600
        assert chain.get_balance(ALICE) == 400
        tx = chain.get_transaction(tx_hash)
        assert tx is not None and tx["value"] == 400 and tx["blockNumber"] >= 1
        # web3 7's HexBytes.hex(): 64 hex digits, no 0x
        assert len(tx_hash) == 64 and int(tx_hash, 16) >= 0
        assert chain.wait_for_receipt(tx_hash)["status"] == 1
        assert chain.get_balance(address_for("nobody")) == 0
    finally:
        s.close()


def test_insufficient_funds_names_address_balance_and_amount(store: Store) -> None:
    chain = LocalChain(store, NODE)
    with pytest.raises(InsufficientFunds) as info:
        chain.send_transaction({"from": ALICE, "to": NODE, "value": 5})
    assert ALICE in str(info.value) and "has 0" in str(info.value) and "needs 5" in str(info.value)


def test_sending_from_another_account_is_noted_once(store: Store) -> None:
    notices = Notices()
    seen: list[Notice] = []
    notices.add_sink(seen.append)
    chain = LocalChain(store, NODE, notices=notices)
    chain.fund(ALICE, 10)
    chain.send_transaction({"from": ALICE, "to": NODE, "value": 1})
    chain.send_transaction({"from": ALICE, "to": NODE, "value": 1})
    [notice] = seen
    assert notice.code == "signed-by-node" and "evm_blockchain_interface.py:604" in notice.message
    assert notice.file == __file__


def test_addresses_are_refused_as_web3_refuses_them(store: Store) -> None:
    chain = LocalChain(store, NODE)
    with pytest.raises(InvalidAddress, match=r"^ENS name: 'peer1' is invalid\. \(devnode: .*find_peer\(\"peer1\"\)"):
        chain.get_balance("peer1")
    with pytest.raises(InvalidAddress, match="only accepts checksum addresses"):
        chain.get_balance(ALICE.lower())
    wrong = ALICE[:2] + ALICE[2:].swapcase()
    with pytest.raises(InvalidAddress, match="invalid EIP-55 checksum"):
        chain.get_balance(wrong)
    assert not isinstance(InvalidAddress("x"), ValueError)  # web3's is not a ValueError either
    assert address_for("peer1") == address_for("peer1") != address_for("peer2")
    assert chain.account.address == NODE == to_checksum_address(NODE.lower())


def test_keccak_and_checksums_match_ethereums() -> None:
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert to_checksum_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed") == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    assert to_checksum_address("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266") == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def test_w3_is_refused_with_the_way_to_get_a_real_one(store: Store) -> None:
    chain = LocalChain(store, NODE)
    with pytest.raises(StandInLimit, match="--node production"):
        chain.w3
    assert not hasattr(chain, "call_contract")


def test_deployed_erc20_answers_calls_like_an_eth_call(store: Store) -> None:
    chain = LocalChain(store, NODE)
    contract = chain.deploy_contract("ERC20Token", ["Test", "TST", 500])
    token = contract.address
    assert chain.get_contract_abi(token) == contract.abi and chain.get_contract_artifacts("ERC20Token")[0]
    assert chain.call_contract_function(token, "symbol", []) == "TST"
    assert chain.call_contract_function(token, "totalSupply", []) == 500
    assert chain.call_contract_function(token, "balanceOf", [NODE]) == 500
    assert contract.functions.balanceOf(NODE).call() == 500
    assert chain.call_contract_function(token, "transfer", [ALICE, 20]) is True
    assert chain.call_contract_function(token, "balanceOf", [ALICE]) == 0  # a call never changes state
    with pytest.raises(AttributeError, match="'nope' was not found"):
        chain.call_contract_function(token, "nope", [])
    with pytest.raises(ValueError, match=f"ABI not found for contract: {ALICE}"):
        chain.call_contract_function(ALICE, "symbol", [])
    with pytest.raises(ValueError, match="Contract artifacts not found for: Other"):
        chain.deploy_contract("Other", [])


# -- tokens and payments (production: services/token_manager.py, payment_processor.py) --------
def test_token_manager_starts_like_production(store: Store) -> None:
    _, tm = tokens_on(store)
    assert tm.supported_tokens == {} and tm.node_tokens == {}
    assert tm.is_supported_token(NATIVE) and not tm.is_supported_token(ALICE)
    assert tm.get_balance(NODE, NATIVE) == 1_000_000
    with pytest.raises(ValueError, match="^Unsupported token$"):
        tm.get_balance(NODE, ALICE)
    with pytest.raises(ValueError, match="^Unsupported token$"):
        tm.transfer_tokens(ALICE, NODE, ALICE, 1)


def test_transfer_tokens_takes_the_token_first_and_publishes_nothing(store: Store) -> None:
    async def scenario() -> None:
        bus = EventBus()
        recorder = Recorder(bus)
        _, tm = tokens_on(store)
        tx_hash = tm.transfer_tokens(NATIVE, NODE, ALICE, 10)
        assert tm.get_balance(ALICE, NATIVE) == 10 and isinstance(tx_hash, str)
        await asyncio.sleep(0)
        assert recorder.events == []

    run(scenario())


def test_issue_mint_and_transfer_a_node_token(store: Store) -> None:
    chain, tm = tokens_on(store)
    token = tm.issue_new_token("Dev token", "DEV", 1000)
    assert tm.node_tokens == {"DEV": token} and tm.is_supported_token(token)
    assert set(tm.supported_tokens[token]) == {"address", "abi", "contract"}
    assert tm.get_balance(NODE, token) == 1000
    tm.mint_tokens(token, ALICE, 5)
    tm.transfer_tokens(token, NODE, ALICE, 20)
    assert tm.get_balance(ALICE, token) == 25 and tm.get_balance(NODE, token) == 980
    with pytest.raises(ValueError, match="^Can only mint tokens issued by this node$"):
        tm.mint_tokens(NATIVE, ALICE, 1)


def test_add_supported_token_makes_it_supported_without_any_event(store: Store) -> None:
    chain, tm = tokens_on(store)
    token = to_checksum_address("0x" + "ab" * 20)
    with pytest.raises(InvalidAddress, match="only accepts checksum addresses"):
        tm.add_supported_token(token.lower(), [])  # web3 refuses it, so production does
    tm.add_supported_token(token, [{"name": "balanceOf"}])
    assert tm.is_supported_token(token)
    assert tm.supported_tokens[token]["abi"] == [{"name": "balanceOf"}]
    assert tm.get_balance(NODE, token) == 0
    chain.mint_token(token, NODE, 5)
    assert tm.get_balance(NODE, token) == 5


def test_process_payment_moves_money_from_the_payer_and_refuses_like_production(store: Store) -> None:
    chain, tm = tokens_on(store)
    payments = PaymentProcessor(chain, tm)
    chain.fund(ALICE, 50)
    ok, tx_hash = payments.process_payment(ALICE, NODE, 30, NATIVE)
    assert ok is True and tm.get_balance(ALICE, NATIVE) == 20 and tm.get_balance(NODE, NATIVE) == 1_000_030
    assert chain.wait_for_receipt(tx_hash)["status"] == 1
    with pytest.raises(ValueError, match="^Insufficient balance$"):
        payments.process_payment(ALICE, NODE, 21, NATIVE)
    with pytest.raises(ValueError, match="^Unsupported token$"):
        payments.process_payment(ALICE, NODE, 1, ALICE)
    assert payments.get_transaction_history(ALICE) == 1  # production: the address's transaction count


# -- compliance (production: services/compliance_manager.py) ---------------------
def test_compliance_record_verify_and_history_survive_restart(tmp_path: Path) -> None:
    s = Store(tmp_path)
    cm = ComplianceManager(LocalChain(s, NODE))
    share1 = {"data_hash": "h1", "recipient": "peer1", "timestamp": 1}
    tx1 = cm.record_compliance_event("data_share", share1)
    tx2 = cm.record_compliance_event("data_share", {"data_hash": "h2", "recipient": "peer2", "timestamp": 2})
    tx3 = cm.record_compliance_event("audit", {"recipient": "peer1"})
    s.close()

    s = Store(tmp_path)
    try:
        cm = ComplianceManager(LocalChain(s, NODE))
        assert cm.verify_compliance("data_share", share1)
        assert not cm.verify_compliance("audit", share1)
        assert not cm.verify_compliance("data_share", {**share1, "timestamp": 2})
        assert not cm.verify_compliance("data_share", tx1)  # production hashes str(event_data): no tx lookups

        history = cm.get_compliance_history()
        assert [h["tx_hash"] for h in history] == [tx3, tx2, tx1]  # newest first
        assert set(history[0]) == {"type", "hash", "block", "tx_hash"}
        assert history[2] == {"type": "data_share", "hash": event_hash(share1), "block": history[2]["block"],
                              "tx_hash": tx1}
        assert history[0]["block"] > history[1]["block"] > history[2]["block"]
        assert [h["tx_hash"] for h in cm.get_compliance_history(["audit"])] == [tx3]
        assert cm.get_compliance_history({"data_share"}) == history[1:]
    finally:
        s.close()


def test_event_hash_is_sha256_of_str() -> None:
    assert event_hash({"a": 1}) == hashlib.sha256(str({"a": 1}).encode()).hexdigest()


def test_history_only_looks_at_the_last_1000_blocks(store: Store) -> None:
    chain = LocalChain(store, NODE)
    cm = ComplianceManager(chain)
    old = cm.record_compliance_event("old", {})
    for _ in range(1000):
        chain.send_transaction({"to": ALICE, "value": 0})
    assert old not in [h["tx_hash"] for h in cm.get_compliance_history()]
    assert not cm.verify_compliance("old", {})


# -- network (production: network/p2p_network.py) ---------------------------------
PEER_KEYS = {"host", "port", "node_id", "last_seen", "latency_ms", "success_rate", "healthy"}


def test_empty_peer_list_gives_default_peers_as_production_dicts(store: Store) -> None:
    net = network_on(store, [""])
    assert list(net.peers) == DEFAULT_PEERS
    peers = net.get_connected_peers()
    assert {p["node_id"] for p in peers} == set(DEFAULT_PEERS)
    assert all(set(p) == PEER_KEYS and p["healthy"] is True for p in peers)
    assert all(isinstance(p["host"], str) and isinstance(p["port"], int) for p in peers)
    assert net.get_healthy_peers() == [p for p in peers if p["healthy"]]
    assert not hasattr(net, "known_peers")


def test_initial_peer_urls_become_host_and_port(store: Store) -> None:
    specs = ["http://10.0.0.2:8765", "https://peer.example.org:9000", "http://10.0.0.2:8765/x"]
    net = network_on(store, specs)
    assert list(net.peers) == ["10.0.0.2:8765", "peer.example.org:9000", "10.0.0.2:8765#2"]
    peer = net.peers["10.0.0.2:8765"]
    assert (peer.host, peer.port, peer.url) == ("10.0.0.2", 8765, "http://10.0.0.2:8765")
    assert peer.address == address_for("10.0.0.2:8765")
    assert net.find_peer("http://10.0.0.2:8765") is peer
    assert net.find_peer(peer.address.upper().replace("0X", "0x")) is peer
    assert net.find_peer("10.0.0.2:8765") is peer
    assert net.find_peer("nope") is None
    assert net.get_network_stats()["bootstrap_nodes"] == 3


def test_network_calls_before_start_raise_like_production(store: Store) -> None:
    net = network_on(store)
    for call in (net.send_data("h", "x"), net.get_data("h"), net.connect_to_peer("http://h:1")):
        with pytest.raises(RuntimeError, match="P2P network not started"):
            run(call)


def test_send_data_reaches_every_connected_peer_and_get_data_checks_the_hash(store: Store) -> None:
    async def scenario() -> None:
        net = network_on(store)
        await net.start()
        data_hash = hashlib.sha256(str({"a": 1}).encode()).hexdigest()
        assert await net.send_data(data_hash, {"a": 1}) is None
        assert all(p.data_hashes() == [data_hash] for p in net.peers.values())
        assert await net.get_data(data_hash) == "{'a': 1}"
        await net.broadcast_data("h2", "x")
        assert await net.get_data("h2") is None  # the hash does not match the data: production returns None
        assert await net.get_data("missing") is None
        for name in DEFAULT_PEERS:
            await net.disconnect_peer(name)
        assert await net.get_data(data_hash) is None

    run(scenario())


def test_a_disconnected_peer_stays_listed_as_unhealthy_and_no_event_is_published(store: Store) -> None:
    async def scenario() -> None:
        net = network_on(store)
        await net.start()
        assert await net.disconnect_peer("peer2") is True
        assert await net.disconnect_peer("peer2") is False
        by_id = {p["node_id"]: p for p in net.get_connected_peers()}
        assert by_id["peer2"]["healthy"] is False and by_id["peer1"]["healthy"] is True
        stats = net.get_network_stats()
        assert stats == {"total_peers": 3, "healthy_peers": 2, "active_peers": 2, "bootstrap_nodes": 0,
                         "avg_latency_ms": 0}
        await net.send_data("h", "x")
        assert net.peers["peer2"].data_hashes() == []
        assert await net.connect_peer("peer2") is True
        with pytest.raises(PeerError, match=r'unknown peer "peer9"; known peers: peer1, peer2, peer3'):
            await net.disconnect_peer("peer9")

    run(scenario())


def test_connect_to_peer_parses_productions_format(store: Store) -> None:
    async def scenario() -> None:
        net = network_on(store)
        await net.start()
        await net.connect_to_peer("http://10.1.1.1:9000")
        assert {"host": "10.1.1.1", "port": 9000} in [{k: p[k] for k in ("host", "port")} for p in net.get_connected_peers()]
        with pytest.raises(ValueError, match="^Invalid peer format: peer7$"):
            await net.connect_to_peer("peer7")

    run(scenario())


def test_drops_are_deterministic_for_a_seed(tmp_path: Path) -> None:
    async def outcomes(seed: int, run_dir: str) -> list[bool]:
        s = Store(tmp_path / run_dir)
        try:
            net = network_on(s, seed=seed)
            await net.start()
            net.set_conditions("peer1", drop_rate=0.5)
            for name in ("peer2", "peer3"):
                await net.disconnect_peer(name)
            results = []
            for i in range(20):
                await net.send_data(f"h{i}", i)
                results.append(f"h{i}" in net.peers["peer1"].data_hashes())
            assert net.stats()["messages_dropped"] == results.count(False)
            return results
        finally:
            s.close()

    first, again = run(outcomes(7, "first")), run(outcomes(7, "again"))
    assert first == again and True in first and False in first


def test_dropped_peers_miss_the_data_and_latency_is_awaited(store: Store) -> None:
    async def scenario() -> None:
        net = network_on(store)
        await net.start()
        net.set_conditions("peer1", drop_rate=1.0)
        net.set_conditions("peer3", latency_ms=20)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await net.send_data("h", "x")
        assert loop.time() - start >= 0.015
        assert [p for p, peer in net.peers.items() if peer.data_hashes()] == ["peer2", "peer3"]
        assert net.peers["peer1"].failures == 1
        with pytest.raises(ValueError, match="drop_rate must be between 0.0 and 1.0"):
            net.set_conditions("peer1", drop_rate=2)

    run(scenario())


def test_receive_from_delivers_hash_and_text(store: Store) -> None:
    received: list[tuple[str, Any]] = []

    async def deliver(data_hash: str, data: str) -> None:
        received.append((data_hash, data))

    async def scenario() -> str:
        net = network_on(store, ["http://10.0.0.9:8765"])
        return await net.receive_from("http://10.0.0.9:8765", {"k": "v"}, deliver)

    data_hash = run(scenario())
    text = str({"k": "v"})
    assert data_hash == hashlib.sha256(text.encode()).hexdigest()
    assert received == [(data_hash, text)]


def test_peer_data_survives_restart(tmp_path: Path) -> None:
    async def share(net: P2PNetwork) -> None:
        await net.start()
        await net.send_data(hashlib.sha256(b"payload").hexdigest(), "payload")

    s = Store(tmp_path)
    run(share(network_on(s)))
    s.close()
    s = Store(tmp_path)
    try:
        net = network_on(s)
        assert net.peers["peer3"].data_hashes() == [hashlib.sha256(b"payload").hexdigest()]
        run(net.start())
        assert run(net.get_data(hashlib.sha256(b"payload").hexdigest())) == "payload"
    finally:
        s.close()


def test_network_start_opens_no_socket(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("devnode must not open a socket")

    net = network_on(store)

    async def scenario() -> None:
        # asyncio.run opens a socketpair for its own loop, so refuse sockets only inside the loop.
        with monkeypatch.context() as patch:
            patch.setattr(socket, "socket", refuse)
            await net.start()
            assert net.is_running is True
            await net.stop()
            assert net.is_running is False

    run(scenario())
