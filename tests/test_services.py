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

from devnode.events import Event, EventBus, EventType
from devnode.node.chain import InsufficientFunds, LocalChain, address_for
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
from devnode.node.payments import PaymentProcessor
from devnode.node.storage import DB_FILENAME, Store, StoreError
from devnode.node.tokens import DEV_TOKEN_SUPPLY, TokenManager, TransferError

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


def tokens_on(store: Store, bus: EventBus | None = None) -> tuple[LocalChain, TokenManager]:
    chain = LocalChain(store, NODE)
    return chain, TokenManager(chain, bus or EventBus(), NATIVE)


def network_on(
    store: Store, peers: list[str] | None = None, seed: int = 0, bus: EventBus | None = None
) -> P2PNetwork:
    return P2PNetwork(store, bus or EventBus(), LocalChain(store, NODE), "node1", peers or [], 8765, seed=seed)


# -- storage -----------------------------------------------------------------
def test_data_values_keep_their_type_across_reopening(tmp_path: Path) -> None:
    values = {"s": "123", "d": {"a": [1, 2.5, None, True]}, "l": [1, "x"], "i": 7, "f": 1.5, "b": False,
              "n": None, "raw": b"\x00\xff"}
    first = Store(tmp_path)
    dm = DataManager(first)
    for key, value in values.items():
        dm.store_data(key, value)
    dm.store_data("odd", {1, 2})
    first.close()

    reopened = Store(tmp_path / DB_FILENAME)
    try:
        dm = DataManager(reopened)
        for key, value in values.items():
            got = dm.get_data(key)
            assert got == value and type(got) is type(value)
        assert dm.get_data("odd") == str({1, 2})
        assert dm.get_data("missing") is None
        assert dm.delete_data("s") is True
        assert dm.delete_data("s") is False
        assert "s" not in dm.keys()
        assert dm.get_data(b"i") == 7
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


def test_data_key_of_wrong_type_is_rejected_with_the_expected_form(store: Store) -> None:
    with pytest.raises(TypeError, match="must be str or bytes, got int 5"):
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


# -- chain -------------------------------------------------------------------
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
        assert tx_hash.startswith("0x") and len(tx_hash) == 66
        assert chain.get_balance(address_for("nobody")) == 0
    finally:
        s.close()


def test_insufficient_funds_names_address_balance_and_amount(store: Store) -> None:
    chain = LocalChain(store, NODE)
    with pytest.raises(InsufficientFunds) as info:
        chain.send_transaction({"from": ALICE, "to": NODE, "value": 5})
    assert ALICE in str(info.value) and "has 0" in str(info.value) and "needs 5" in str(info.value)


def test_names_are_not_addresses(store: Store) -> None:
    chain = LocalChain(store, NODE)
    expected = r'must be 0x followed by 40 hex digits; for a name use address_for\("peer1"\)'
    with pytest.raises(ValueError, match=expected):
        chain.get_balance("peer1")
    assert address_for("peer1") == address_for("peer1") != address_for("peer2")


def test_token_contract_answers_erc20_calls(store: Store) -> None:
    chain = LocalChain(store, NODE)
    token = chain.deploy_token("TST", "Test", 500, NODE, decimals=6)
    assert chain.call_contract(token, "symbol") == "TST"
    assert chain.call_contract(token, "decimals") == 6
    assert chain.call_contract(token, "totalSupply") == 500
    chain.call_contract(token, "transfer", ALICE, 20)
    assert chain.call_contract(token, "balanceOf", ALICE) == 20
    assert chain.call_contract_function(token, "balanceOf", [NODE]) == 480
    with pytest.raises(ValueError, match='no function "mint"; available: balanceOf, decimals'):
        chain.call_contract(token, "mint", ALICE, 1)
    with pytest.raises(ValueError, match=f"deployed contracts: {token} \\(TST\\)"):
        chain.call_contract(ALICE, "symbol")


# -- tokens and payments -----------------------------------------------------
def test_transfer_moves_balances_and_publishes_completion(store: Store) -> None:
    async def scenario() -> None:
        bus = EventBus()
        recorder = Recorder(bus)
        _, tm = tokens_on(store, bus)
        dev = next(a for a, i in tm.supported_tokens.items() if i["symbol"] == "DEV")
        tx_hash = tm.transfer_tokens(NODE, ALICE, 250, dev)
        assert tm.get_balance(ALICE, dev) == 250
        assert tm.get_balance(NODE, dev) == DEV_TOKEN_SUPPLY - 250
        await wait_until(lambda: len(recorder.of(EventType.BALANCE_UPDATE)) == 2)
        [done] = recorder.of(EventType.TRANSFER_COMPLETED)
        assert done.data == {"tx_hash": tx_hash, "from": NODE, "to": ALICE, "amount": 250, "token": dev}
        balances = {e.data["address"]: e.data["balance"] for e in recorder.of(EventType.BALANCE_UPDATE)}
        assert balances == {NODE: DEV_TOKEN_SUPPLY - 250, ALICE: 250}

        tm.transfer_tokens(NODE, ALICE, 10, NATIVE)
        assert tm.get_balance(ALICE, NATIVE) == 10

    run(scenario())


def test_insufficient_balance_publishes_failure_with_reason_and_raises(store: Store) -> None:
    async def scenario() -> None:
        bus = EventBus()
        recorder = Recorder(bus)
        _, tm = tokens_on(store, bus)
        with pytest.raises(TransferError) as info:
            tm.transfer_tokens(ALICE, NODE, 99, NATIVE)
        await wait_until(lambda: bool(recorder.of(EventType.TRANSFER_FAILED)))
        [failed] = recorder.of(EventType.TRANSFER_FAILED)
        assert failed.data["reason"] == str(info.value)
        assert "has 0, needs 99" in failed.data["reason"]
        assert {k: failed.data[k] for k in ("from", "to", "amount", "token")} == {
            "from": ALICE, "to": NODE, "amount": 99, "token": NATIVE}
        assert tm.get_balance(NODE, NATIVE) == 1_000_000
        assert not recorder.of(EventType.TRANSFER_COMPLETED)

    run(scenario())


def test_unsupported_token_and_bad_amount_are_transfer_errors(store: Store) -> None:
    _, tm = tokens_on(store)
    with pytest.raises(ValueError, match=f"Unsupported token {ALICE}; supported: {NATIVE} \\(NATIVE\\)"):
        tm.get_balance(NODE, ALICE)
    with pytest.raises(TransferError, match="Unsupported token"):
        tm.transfer_tokens(NODE, ALICE, 1, ALICE)
    with pytest.raises(TransferError, match="positive integer"):
        tm.transfer_tokens(NODE, ALICE, 0, NATIVE)


def test_dev_token_is_deployed_once(tmp_path: Path) -> None:
    first = Store(tmp_path)
    dev = [a for a, i in tokens_on(first)[1].supported_tokens.items() if i["symbol"] == "DEV"]
    first.close()
    second = Store(tmp_path)
    try:
        again = [a for a, i in tokens_on(second)[1].supported_tokens.items() if i["symbol"] == "DEV"]
    finally:
        second.close()
    assert len(dev) == 1 and again == dev


def test_add_supported_token_publishes_token_added(store: Store) -> None:
    async def scenario() -> None:
        bus = EventBus()
        recorder = Recorder(bus)
        chain, tm = tokens_on(store, bus)
        token = "0x" + "AB" * 20
        tm.add_supported_token(token, [{"name": "balanceOf"}], symbol="USDX")
        assert tm.is_supported_token(token.lower())
        assert tm.supported_tokens[token]["abi"] == [{"name": "balanceOf"}]
        assert tm.get_balance(NODE, token) == 0
        chain.mint_token(token, NODE, 5)
        assert tm.get_balance(NODE, token) == 5
        await wait_until(lambda: bool(recorder.of(EventType.TOKEN_ADDED)))
        assert recorder.of(EventType.TOKEN_ADDED)[0].data["symbol"] == "USDX"

    run(scenario())


def test_payment_success_and_failure(store: Store) -> None:
    async def scenario() -> None:
        bus = EventBus()
        recorder = Recorder(bus)
        _, tm = tokens_on(store, bus)
        payments = PaymentProcessor(tm)
        ok, tx_hash = payments.process_payment(ALICE, NODE, 30, NATIVE)
        assert ok and tx_hash and tm.get_balance(ALICE, NATIVE) == 30
        assert payments.process_payment(NODE, ALICE, 31, NATIVE) == (False, None)
        await wait_until(lambda: bool(recorder.of(EventType.TRANSFER_FAILED)))

    run(scenario())


# -- compliance --------------------------------------------------------------
def test_compliance_record_verify_and_filtered_history_survive_restart(tmp_path: Path) -> None:
    s = Store(tmp_path)
    cm = ComplianceManager(s, LocalChain(s, NODE))
    share1 = {"data_hash": "h1", "recipient": "peer1", "timestamp": 1}
    tx1 = cm.record_compliance_event("data_share", share1)
    cm.record_compliance_event("data_share", {"data_hash": "h2", "recipient": "peer2", "timestamp": 2})
    tx3 = cm.record_compliance_event("audit", {"recipient": "peer1"})
    s.close()

    s = Store(tmp_path)
    try:
        cm = ComplianceManager(s, LocalChain(s, NODE))
        assert cm.verify_compliance("data_share", tx1)
        assert cm.verify_compliance("data_share", event_hash(share1))
        assert cm.verify_compliance("data_share", share1)
        assert not cm.verify_compliance("audit", tx1)
        assert not cm.verify_compliance("data_share", "0x" + "0" * 64)

        history = cm.get_compliance_history()
        assert [h["tx_hash"] for h in history][::2] == [tx1, tx3]
        assert history[0]["event_data"] == share1 and history[0]["event_hash"] == event_hash(share1)
        assert history[0]["timestamp"] <= history[1]["timestamp"] <= history[2]["timestamp"]
        assert history[0]["block"] < history[1]["block"]

        filtered = cm.get_compliance_history({"event_type": "data_share", "recipient": "peer1"})
        assert [h["tx_hash"] for h in filtered] == [tx1]
        assert [h["tx_hash"] for h in cm.get_compliance_history({"recipient": "peer1"})] == [tx1, tx3]
        assert [h["type"] for h in cm.get_compliance_history(["audit"])] == ["audit"]
    finally:
        s.close()


# -- network -----------------------------------------------------------------
def test_empty_peer_list_gives_default_peers(store: Store) -> None:
    net = network_on(store, [""])
    assert net.known_peers == DEFAULT_PEERS
    assert net.get_connected_peers() == DEFAULT_PEERS


def test_initial_peer_urls_get_readable_ids_and_every_lookup_works(store: Store) -> None:
    specs = ["ws://10.0.0.2:8765", "peer.example.org:9000", "wss://node-b.example.com", "ws://10.0.0.2:8765/x"]
    net = network_on(store, specs)
    assert net.known_peers == ["10.0.0.2:8765", "peer.example.org:9000", "node-b.example.com", "10.0.0.2:8765#2"]
    peer = net.peers["10.0.0.2:8765"]
    assert peer.url == "ws://10.0.0.2:8765"
    assert peer.address == address_for("10.0.0.2:8765")
    assert net.find_peer("ws://10.0.0.2:8765") is peer
    assert net.find_peer(peer.address.upper().replace("0X", "0x")) is peer
    assert net.find_peer("10.0.0.2:8765") is peer
    assert net.find_peer("nope") is None


def test_send_and_get_data_through_peers(store: Store) -> None:
    async def scenario() -> None:
        net = network_on(store)
        assert await net.send_data("h1", {"a": 1}, recipient="peer2") == ["peer2"]
        assert net.peers["peer2"].data_hashes() == ["h1"]
        assert await net.get_data("h1") == "{'a': 1}"
        assert await net.send_data("h2", "x") == DEFAULT_PEERS
        assert await net.get_data("missing") is None
        await net.disconnect_peer("peer2")
        assert await net.get_data("h1") is None

    run(scenario())


def test_unknown_and_disconnected_peers_are_named(store: Store) -> None:
    async def scenario() -> None:
        bus = EventBus()
        recorder = Recorder(bus)
        net = network_on(store, bus=bus)
        with pytest.raises(PeerError, match=r'unknown peer "peer9"; known peers: peer1, peer2, peer3'):
            await net.send_data("h", "x", recipient="peer9")
        assert await net.disconnect_peer("peer2") is True
        assert await net.disconnect_peer("peer2") is False
        with pytest.raises(PeerError, match=r'peer "peer2" is disconnected; connected peers: peer1, peer3'):
            await net.send_data("h", "x", recipient="peer2")
        assert await net.connect_peer("peer2") is True
        kinds = [(e.type, e.data["peer_id"]) for e in recorder.events]
        assert kinds == [(EventType.PEER_DISCONNECTED, "peer2"), (EventType.PEER_CONNECTED, "peer2")]
        assert recorder.events[0].data["address"] == address_for("peer2")

    run(scenario())


def test_drops_are_deterministic_for_a_seed(tmp_path: Path) -> None:
    async def outcomes(seed: int, run_dir: str) -> list[bool]:
        s = Store(tmp_path / run_dir)
        try:
            net = network_on(s, seed=seed)
            net.set_conditions("peer1", drop_rate=0.5)
            results = []
            for i in range(20):
                try:
                    await net.send_data(f"h{i}", i, recipient="peer1")
                    results.append(True)
                except PeerError as exc:
                    assert "message to peer1 dropped (simulated drop_rate=0.5)" in str(exc)
                    results.append(False)
            assert net.stats()["messages_dropped"] == results.count(False)
            return results
        finally:
            s.close()

    first, again = run(outcomes(7, "first")), run(outcomes(7, "again"))
    assert first == again and True in first and False in first


def test_broadcast_skips_dropped_peers_and_latency_is_awaited(store: Store) -> None:
    async def scenario() -> None:
        net = network_on(store)
        net.set_conditions("peer1", drop_rate=1.0)
        net.set_conditions("peer3", latency_ms=20)
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert await net.send_data("h", "x") == ["peer2", "peer3"]
        assert loop.time() - start >= 0.015
        with pytest.raises(ValueError, match="drop_rate must be between 0.0 and 1.0"):
            net.set_conditions("peer1", drop_rate=2)

    run(scenario())


def test_receive_from_delivers_hash_text_and_sender(store: Store) -> None:
    received: list[tuple[str, Any, str]] = []

    async def deliver(data_hash: str, data: Any, sender: str) -> None:
        received.append((data_hash, data, sender))

    async def scenario() -> str:
        net = network_on(store, ["ws://10.0.0.9:8765"])
        return await net.receive_from("ws://10.0.0.9:8765", {"k": "v"}, deliver)

    data_hash = run(scenario())
    text = str({"k": "v"})
    assert data_hash == hashlib.sha256(text.encode()).hexdigest()
    assert received == [(data_hash, text, "10.0.0.9:8765")]


def test_peer_data_survives_restart(tmp_path: Path) -> None:
    s = Store(tmp_path)
    run(network_on(s).send_data("h1", "payload", recipient="peer3"))
    s.close()
    s = Store(tmp_path)
    try:
        net = network_on(s)
        assert net.peers["peer3"].data_hashes() == ["h1"]
        assert run(net.get_data("h1")) == "payload"
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
            assert net.stats()["running"] is True
            await net.stop()

    run(scenario())
