"""The dev node: production's ``Node`` (services/node.py), built from local stand-ins.

Plugins receive this object. Its attributes and methods are the production
node's; behind them are real components: SQLite on disk, real Fernet
encryption with a key kept in the data dir, a local chain whose balances
really move, simulated peers. Where production as shipped has a defect a
plugin will hit (share authorization always refused), devnode does what
production intends and says so once, naming production's file:line.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devnode.config import NodeConfig, production_rule_problems
from devnode.errors import DevnodeError
from devnode.bus import Event, EventBus, EventType
from devnode.node.authorization import AuthorizationModule, open_auth_db
from devnode.node.chain import LocalChain
from devnode.node.chain_values import StandInLimit, address_for
from devnode.node.compliance import ComplianceManager
from devnode.node.config_paths import show_production_paths
from devnode.node.crypto import KEY_FILENAME, key_file_problems, load_or_create_key
from devnode.node.data_manager import DataManager
from devnode.node.keys import KeyManager
from devnode.node.network import P2PNetwork
from devnode.node.notices import Notices
from devnode.node.payments import PaymentProcessor
from devnode.node.storage import Store
from devnode.node.tokens import TokenManager
from devnode.node.tracked import Tracked

if TYPE_CHECKING:  # cryptography is imported on the first use of the cipher: it is a sizeable part of start-up
    from cryptography.fernet import Fernet

logger = logging.getLogger("devnode.node")
AUTHORIZE_DEVNODE = "devnode"  # grant share_data authorization (what production intends)
AUTHORIZE_PRODUCTION = "production"  # refuse it, as production as shipped does


class DataDirError(DevnodeError):
    """The data dir cannot be created or written."""


class NotRunning:
    """A production component the stand-in does not run (its HTTP APIs): any use says so."""

    def __init__(self, name: str, what: str) -> None:
        self._name, self._what = name, what

    def __getattr__(self, attr: str) -> Any:
        raise StandInLimit(
            f"{self._name}.{attr}: {self._name} is {self._what}, which the stand-in node does not run; "
            "run devnode with --node production to use it"
        )

    def __repr__(self) -> str:
        return f"<{self._name}: not run by the stand-in node>"


class DevNode(Tracked):
    """What plugins get as ``node``: config, event bus and every service."""

    tracked_name = "node"

    def __init__(self, config: NodeConfig, event_bus: EventBus | None = None) -> None:
        data_dir = prepare_data_dir(Path(config.data_dir))
        self.config = config
        self.parity_notices = Notices()
        self.event_bus = event_bus or EventBus()
        self.event_bus.parity = self.parity_notices
        show_production_paths(config, self.parity_notices)  # plugins see PLUGIN_DIR, DATA_DIR as production gives them
        # The key first: a key file devnode cannot use stops it before the database is opened (and written).
        self._key = load_or_create_key(data_dir)  # kept: put back if the data dir vanishes while running
        self.key_manager = KeyManager(data_dir, self._key)
        # Production sets cipher_suite to key_manager.initialize() here (services/node.py:137); devnode makes
        # that very Fernet on the first read (see cipher_suite), from the key manager and key version of this moment.
        self._cipher_source = (self.key_manager, self.key_manager.current_version)
        # Problems worth a warning but not a refusal to start (shown by whoever runs the node).
        self.startup_warnings: list[str] = key_file_problems(data_dir / KEY_FILENAME)
        for env, problem in production_rule_problems(config):
            self.parity_notices.note(f"config-{env.lower().replace('_', '-')}", problem,
                                     "NodeConfig.validate() (services/node.py:50-105) stops the node at start",
                                     site=(None, None), plugin="*")
        # Always devnode's own file in the data dir: a developer's node .env points SQLITE_DB_PATH at the
        # production node's database, which devnode must never write to (plugins still see the value).
        self.store = Store(data_dir)  # the database is data_dir/devnode.sqlite3
        self.store.on_reopened = self._store_reopened
        # Called with a message when the data dir vanished under the node (the runtime reports it).
        self.on_data_dir_replaced: Any = None
        self.blockchain_interface = LocalChain(
            self.store, address_for(config.node_id), network_url=config.blockchain_url,
            private_key=config.private_key, notices=self.parity_notices,
        )
        self.db_connection = open_auth_db(data_dir)
        self.data_manager = DataManager(self.store, config.db_path)
        self.token_manager = TokenManager(self.blockchain_interface, config.native_token_address)
        self.payment_processor = PaymentProcessor(self.blockchain_interface, self.token_manager)
        self.compliance_manager = ComplianceManager(self.blockchain_interface)
        self.authorization_module = AuthorizationModule(self.db_connection)
        # `--peers 0` (an empty list typed on the command line): no peer at all, as production starts.
        self.p2p_network = P2PNetwork(self.store, config.node_id, config.initial_peers, config.p2p_port,
                                      data_dir=config.data_dir, notices=self.parity_notices,
                                      default_peers=not config.source_of("initial_peers").startswith("--"))
        self.p2p_network.node = self
        self.plugin_manager: Any = None  # the PluginHost, attached by whoever runs the node
        self.internal_api = NotRunning("node.internal_api", "production's internal HTTP API (api/internal_api.py)")
        self.external_api = NotRunning("node.external_api", "production's external HTTP API (api/external_api.py)")
        self.enable_dashboard = False
        self.dashboard_api = None
        self.authorize = AUTHORIZE_DEVNODE
        self._status_task: asyncio.Task[None] | None = None

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
        if self.on_data_dir_replaced is not None:
            self.on_data_dir_replaced(message)

    @functools.cached_property
    def cipher_suite(self) -> Fernet:
        """Production's ``node.cipher_suite``: the Fernet of the key version current when the node was made.

        Made on first read, then a plain attribute: importing cryptography is a sizeable part of
        start-up. The key file itself is created or checked when the node is made, as production does.
        """
        keys, version = self._cipher_source
        return keys.get_cipher(version)

    @property
    def address(self) -> str:
        """devnode addition: the node's account address (production: ``blockchain_interface.account.address``)."""
        return self.blockchain_interface.account.address

    # -- lifecycle (no sockets: devnode opens no listener) ------------------------
    async def start(self) -> None:
        self.blockchain_interface.connect()
        await self.p2p_network.start()
        interval = self.config.status_interval
        if interval > 0 and self._status_task is None:
            # Owned by no plugin: unloading one never stops the node's own updates.
            self._status_task = asyncio.get_running_loop().create_task(
                self._status_update_loop(interval), name="devnode-status-updates", context=contextvars.Context()
            )

    async def stop(self) -> None:
        if self._status_task is not None:
            self._status_task.cancel()
            try:
                await self._status_task
            except asyncio.CancelledError:
                pass
            self._status_task = None
        await self.p2p_network.stop()
        self.blockchain_interface.disconnect()
        self.db_connection.close()
        self.data_manager.close()
        self.store.close()

    async def _status_update_loop(self, interval: float) -> None:
        """Production publishes HEALTH_UPDATE and NETWORK_STATS_UPDATE every 10 s (``--status-interval``)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.publish_status()
            except Exception as exc:
                logger.error(f"Status update error: {exc}")

    async def publish_status(self) -> None:
        """devnode addition: one round of production's periodic status events, now."""
        chain_up = self.blockchain_interface.is_connected()
        p2p_up = self.p2p_network.is_running
        await self.event_bus.publish(Event(EventType.HEALTH_UPDATE, {
            "status": "healthy" if chain_up and p2p_up else "degraded",
            "components": {
                "blockchain": "connected" if chain_up else "disconnected",
                "p2p_network": "running" if p2p_up else "stopped",
                "encryption": "initialized",
            },
        }))
        await self.event_bus.publish(Event(EventType.NETWORK_STATS_UPDATE, self.p2p_network.get_network_stats()))

    # -- production methods -----------------------------------------------------------
    def get_native_token_address(self) -> str:
        return self.config.native_token_address

    def change_blockchain(self, new_blockchain_type: str, new_blockchain_url: str, new_private_key: str) -> None:
        """Switch chains as production does; the stand-in has one local chain, so it reconnects to it."""
        if new_blockchain_type != "evm":
            raise ValueError(f"Unsupported blockchain type: {new_blockchain_type}")
        self.blockchain_interface.disconnect()
        self.config.blockchain_type = new_blockchain_type
        self.config.blockchain_url = new_blockchain_url
        self.config.private_key = new_private_key
        self.blockchain_interface.network_url = new_blockchain_url
        self.blockchain_interface.private_key = new_private_key
        if not self.blockchain_interface.connect():
            raise ConnectionError("Failed to connect to the new blockchain")

    def encrypt_data(self, data: Any) -> str:
        return self.cipher_suite.encrypt(str(data).encode()).decode()

    def decrypt_data(self, encrypted_data: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self.cipher_suite.decrypt(encrypted_data.encode()).decode()
        except InvalidToken as exc:
            shown = repr(encrypted_data) if len(repr(encrypted_data)) <= 40 else repr(encrypted_data)[:37] + "..."
            # Production raises InvalidToken itself; devnode's carries the explanation.
            raise InvalidToken(
                f"cannot decrypt {shown}: it is not a Fernet token made with this node's key "
                "(it was made with another key, altered, or is not a token from node.encrypt_data)."
            ) from exc

    def _hash_data(self, data: Any) -> str:
        return hashlib.sha256(str(data).encode()).hexdigest()

    async def share_data(
        self, data: Any, recipient: str, payment_token: str | None = None, payment_amount: int | None = None
    ) -> str:
        """Production's flow: authorize, optional payment (recipient pays the node), store, send, record."""
        data_hash = self._hash_data(data)
        if not self.authorization_module.authorize_transfer(data_hash, self.config.node_signature, self.config.node_id):  # type: ignore[arg-type]
            if self.authorize == AUTHORIZE_PRODUCTION:
                raise ValueError("Unauthorized data transfer")
            self.parity_notices.note(
                "share-authorization",
                "devnode authorized share_data",
                "as shipped, share_data raises ValueError('Unauthorized data transfer') on every call "
                "(services/node.py:278 passes the str NODE_SIGNATURE to services/authorisation.py:210, which "
                "needs bytes and a registered user)",
            )
        tx_hash = None
        if payment_token and payment_amount:
            own = self.blockchain_interface.account.address
            success, tx_hash = self.payment_processor.process_payment(recipient, own, payment_amount, payment_token)
            if not success:
                await self.event_bus.publish(Event(EventType.TRANSFER_FAILED, {
                    "recipient": recipient, "amount": str(payment_amount), "token": payment_token,
                    "reason": "Payment processing failed",
                }))
                raise ValueError("Payment failed")
            await self.event_bus.publish(Event(EventType.TRANSFER_COMPLETED, {
                "tx_hash": tx_hash, "from": own, "to": recipient, "amount": str(payment_amount), "token": payment_token,
            }))
        self.data_manager.store_data(data_hash, data)
        await self.p2p_network.send_data(data_hash, data)
        event_data = {
            "data_hash": data_hash,
            "recipient": recipient,
            "payment_tx_hash": tx_hash if payment_token else None,
            "timestamp": int(time.time()),
        }
        compliance_tx_hash = self.compliance_manager.record_compliance_event("data_share", event_data)
        await self.event_bus.publish(Event(EventType.DATA_SHARED, {
            "data_hash": data_hash, "recipient": recipient, "compliance_tx_hash": compliance_tx_hash,
            "timestamp": int(time.time()),
        }))
        return compliance_tx_hash

    async def get_shared_data(self, data_hash: str) -> str | None:
        data = self.data_manager.get_data(data_hash)
        if data is None:
            data = await self.p2p_network.get_data(data_hash)
            if data:
                self.data_manager.store_data(data_hash, data)
        return data

    async def on_data_received(self, data_hash: str, data: Any) -> None:
        """Data arrived from the network: tell the plugins (production stores it before calling this)."""
        logger.info(f"Received data with hash: {data_hash}")
        await self.event_bus.publish(Event(EventType.DATA_RECEIVED, {"data_hash": data_hash, "timestamp": int(time.time())}))

    async def receive(self, peer: str, data: Any) -> str:
        """devnode addition: simulated peer ``peer`` sends ``data``; returns its hash.

        What production's P2PNetwork._handle_incoming_data intends: the decrypted
        ``str(data)`` is stored under its hash, then ``on_data_received`` runs.
        """
        async def deliver(data_hash: str, text: str) -> None:
            self.data_manager.store_data(data_hash, text)
            await self.on_data_received(data_hash, text)

        return await self.p2p_network.receive_from(peer, data, deliver)


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
