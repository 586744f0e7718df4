"""The dev node: the production ``node`` object, built from local stand-ins.

Plugins receive this object. Its attribute names and method signatures are the
production node's (UPSTREAM.md); behind them are real components: SQLite on disk,
real Fernet encryption with a key kept in the data dir, a local chain whose
balances really move, simulated peers.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from devnode.config import NodeConfig
from devnode.errors import DevnodeError
from devnode.events import Event, EventBus, EventType
from devnode.node.chain import LocalChain, address_for
from devnode.node.compliance import ComplianceManager
from devnode.node.crypto import KEY_FILENAME, Cipher, key_file_problems, load_or_create_key
from devnode.node.data_manager import DataManager
from devnode.node.network import P2PNetwork, PeerError, hash_data
from devnode.node.payments import PaymentProcessor
from devnode.node.storage import Store
from devnode.node.tokens import TokenManager
from devnode.node.tracked import Tracked


class DataDirError(DevnodeError):
    """The data dir cannot be created or written."""


class DevNode(Tracked):
    """What plugins get as ``node``: config, event bus and every service."""

    tracked_name = "node"

    def __init__(self, config: NodeConfig, event_bus: EventBus | None = None) -> None:
        data_dir = prepare_data_dir(Path(config.data_dir))
        self.config = config
        self.event_bus = event_bus or EventBus()
        # The key first: a key file devnode cannot use stops it before the database is opened (and written).
        self._key = load_or_create_key(data_dir)
        self._cipher = Cipher(self._key)
        # Problems worth a warning but not a refusal to start (shown by whoever runs the node).
        self.startup_warnings: list[str] = key_file_problems(data_dir / KEY_FILENAME)
        # Always devnode's own file in the data dir: a developer's node .env points SQLITE_DB_PATH at the
        # production node's database, which devnode must never write to (plugins still see the value).
        self.store = Store(data_dir)  # the database is data_dir/devnode.sqlite3
        self.store.on_reopened = self._store_reopened
        # Called with (code, message) for problems found while running (the runtime reports them).
        self.on_warning: Any = None
        self.blockchain_interface = LocalChain(self.store, address_for(config.node_id))
        self.data_manager = DataManager(self.store)
        self.token_manager = TokenManager(self.blockchain_interface, self.event_bus, config.native_token_address)
        self.payment_processor = PaymentProcessor(self.token_manager)
        self.compliance_manager = ComplianceManager(self.store, self.blockchain_interface)
        self.p2p_network = P2PNetwork(
            self.store, self.event_bus, self.blockchain_interface, config.node_id, config.initial_peers, config.p2p_port
        )
        self.plugin_manager: Any = None  # the PluginHost, attached by whoever runs the node

    def _store_reopened(self, message: str) -> None:
        """The data dir vanished under the node: put the key back too, so data encrypted from now on stays readable."""
        key_path = Path(self.config.data_dir) / KEY_FILENAME
        if not key_path.exists():
            try:
                fd = os.open(key_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(self._key)
            except OSError:
                pass
        if self.on_warning is not None:
            self.on_warning("data-dir-replaced", message)

    @property
    def address(self) -> str:
        return self.blockchain_interface.account.address

    # -- lifecycle (no sockets: devnode opens no listener) ------------------------
    async def start(self) -> None:
        self.blockchain_interface.connect()
        await self.p2p_network.start()

    async def stop(self) -> None:
        await self.p2p_network.stop()
        self.blockchain_interface.disconnect()
        self.store.close()

    # -- production methods -----------------------------------------------------------
    def encrypt_data(self, data: Any) -> str:
        return self._cipher.encrypt(data)

    def decrypt_data(self, encrypted_data: str) -> str:
        return self._cipher.decrypt(encrypted_data)

    def _hash_data(self, data: Any) -> str:
        return hash_data(data)

    async def share_data(
        self, data: Any, recipient: str, payment_token: str | None = None, payment_amount: int | None = None
    ) -> str:
        """Share ``data`` with a peer: production's flow, returning the compliance tx hash.

        Everything that can be checked is checked before anything is stored, so a
        failed share leaves no half-done record and publishes nothing.
        """
        peer = self.p2p_network.find_peer(recipient)
        if peer is None or not peer.connected:
            known = ", ".join(self.p2p_network.known_peers) or "none"
            state = "unknown" if peer is None else "disconnected"
            raise PeerError(f'cannot share with "{recipient}": the peer is {state} (known peers: {known}; '
                            f'connected: {", ".join(self.p2p_network.get_connected_peers()) or "none"})')
        data_hash = self._hash_data(data)
        payment_tx_hash = None
        if payment_token and payment_amount:
            success, payment_tx_hash = self.payment_processor.process_payment(
                peer.address, self.address, payment_amount, payment_token
            )
            if not success:
                raise ValueError(f"Payment failed: could not pay {payment_amount} of {payment_token} to {peer.node_id}")
        self.data_manager.store_data(data_hash, data)
        await self.p2p_network.send_data(data_hash, data, recipient=peer.node_id)
        event_data = {
            "data_hash": data_hash,
            "recipient": recipient,  # as the caller gave it, like production (may be a URL or address)
            "payment_tx_hash": payment_tx_hash,
            "timestamp": int(time.time()),
        }
        compliance_tx_hash = self.compliance_manager.record_compliance_event("data_share", event_data)
        await self.event_bus.publish(
            Event(EventType.DATA_SHARED, {**event_data, "compliance_tx_hash": compliance_tx_hash})
        )
        return compliance_tx_hash

    async def get_shared_data(self, data_hash: str) -> Any:
        data = self.data_manager.get_data(data_hash)
        if data is None:
            data = await self.p2p_network.get_data(data_hash)
            if data is not None:
                self.data_manager.store_data(data_hash, data)
        return data

    async def on_data_received(self, data_hash: str, data: Any, sender: str | None = None) -> None:
        """Data arrived from a peer: store it and tell the plugins."""
        self.data_manager.store_data(data_hash, data)
        await self.event_bus.publish(Event(EventType.DATA_RECEIVED, {"data_hash": data_hash, "sender": sender}))

    async def receive(self, peer: str, data: Any) -> str:
        """Make simulated peer ``peer`` send ``data`` to this node; returns its hash."""
        return await self.p2p_network.receive_from(peer, data, self.on_data_received)


def prepare_data_dir(data_dir: Path) -> Path:
    """Create the data dir owner-only; refuse one that cannot be written, with the fix."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise DataDirError(f'DATA_DIR="{data_dir}" cannot be created ({exc.strerror}); '
                           "point DATA_DIR at a writable directory") from None
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise DataDirError(f'DATA_DIR="{data_dir}" is not writable; fix its permissions or point DATA_DIR elsewhere')
    return data_dir
