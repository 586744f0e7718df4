"""``node.p2p_network``: simulated peers in-process, with latency and message drops on demand.

No socket is ever opened. Data crossing the simulated network arrives as
``str(data)``, because production encrypts ``str(data)`` with Fernet before
sending and peers get back the decrypted text: a plugin that expects a dict
back from the network would break in production, so it breaks here too.
What a peer holds is kept in the Store and survives restarts.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from devnode.errors import DevnodeError
from devnode.events import Event, EventBus, EventType
from devnode.node.chain import LocalChain, address_for
from devnode.node.storage import Store
from devnode.node.tracked import Tracked

DEFAULT_PEERS = ["peer1", "peer2", "peer3"]

Deliver = Callable[[str, Any, str], Awaitable[Any]]


class PeerError(DevnodeError):
    """A message that could not reach, or come from, a simulated peer."""


def hash_data(data: Any) -> str:
    """The hash production gives data it shares: SHA-256 hex of ``str(data)``."""
    return hashlib.sha256(str(data).encode()).hexdigest()


def peer_id_from(spec: str) -> str:
    """A readable node id for an INITIAL_PEERS entry: ``ws://10.0.0.2:8765`` -> ``10.0.0.2:8765``."""
    text = spec.strip()
    if "://" not in text:
        return text
    parts = urlsplit(text)
    host = parts.hostname or parts.netloc or text
    if ":" in host:
        host = f"[{host}]"  # IPv6
    try:
        port = parts.port
    except ValueError:
        return parts.netloc or text
    return f"{host}:{port}" if port else host


@dataclass
class SimulatedPeer:
    """One simulated peer: who it is, how its link behaves and the data it holds."""

    node_id: str
    url: str
    address: str
    store: Store = field(repr=False)
    connected: bool = True
    latency_ms: float = 0
    drop_rate: float = 0.0

    def put(self, data_hash: str, value: Any) -> None:
        self.store.put_peer_data(self.node_id, data_hash, value)

    def get(self, data_hash: str) -> tuple[bool, Any]:
        return self.store.get_peer_data(self.node_id, data_hash)

    def data_hashes(self) -> list[str]:
        return self.store.peer_data_hashes(self.node_id)


class P2PNetwork(Tracked):
    """The production P2P API over simulated peers (``DEFAULT_PEERS`` when none are configured)."""

    tracked_name = "node.p2p_network"

    def __init__(
        self, store: Store, bus: EventBus, chain: LocalChain, node_id: str, peers: list[str], port: int, seed: int = 0
    ) -> None:
        self.store = store
        self.bus = bus
        self.chain = chain
        self.node_id = node_id
        self.port = port
        self.initial_peers = [p.strip() for p in peers if p.strip()] or list(DEFAULT_PEERS)
        self.peers: dict[str, SimulatedPeer] = {}
        # One seeded generator per network, so a given seed drops the same messages every run.
        self._rng = random.Random(seed)
        self._counters = {"sent": 0, "received": 0, "dropped": 0}
        self._state = {"running": False}
        for spec in self.initial_peers:
            self._add(spec)

    # -- production API ------------------------------------------------------
    @property
    def known_peers(self) -> list[str]:
        return list(self.peers)

    def get_connected_peers(self) -> list[str]:
        return [pid for pid, peer in self.peers.items() if peer.connected]

    async def start(self) -> None:
        """Mark the network running; devnode opens no listener."""
        self._state["running"] = True

    async def stop(self) -> None:
        self._state["running"] = False

    async def send_data(self, data_hash: str, data: Any, recipient: str | None = None) -> list[str]:
        """Store ``str(data)`` on ``recipient``, or on every connected peer; returns the peers that got it.

        A direct send raises PeerError when the peer is unknown, disconnected or
        the message is dropped. A broadcast skips dropped peers, as gossip would.
        """
        if recipient is not None:
            peer = self._require(recipient)
            await self._send(peer, data_hash, str(data))
            return [peer.node_id]
        targets = [p for p in self.peers.values() if p.connected]
        results = await asyncio.gather(*(self._send(p, data_hash, str(data)) for p in targets), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, PeerError):
                raise result
        return [p.node_id for p, r in zip(targets, results) if r is None]

    async def get_data(self, data_hash: str) -> Any | None:
        """The data from the first connected peer that holds it and answers; None if none does."""
        for peer in [p for p in self.peers.values() if p.connected]:
            found, value = peer.get(data_hash)
            if not found:
                continue
            try:
                await self._reach(peer, f"request to {peer.node_id}")
            except PeerError:
                continue
            return value
        return None

    # -- devnode additions ---------------------------------------------------
    def find_peer(self, name: str) -> SimulatedPeer | None:
        """The peer known by this id, INITIAL_PEERS entry or address."""
        if name in self.peers:
            return self.peers[name]
        wanted = str(name).strip()
        for peer in self.peers.values():
            if wanted in (peer.url, peer.node_id) or wanted.lower() == peer.address:
                return peer
        return self.peers.get(peer_id_from(wanted))

    def add_peer(self, name: str) -> SimulatedPeer:
        """Add a connected peer (or return the one already known by that name)."""
        existing = self.find_peer(name)
        if existing is not None:
            return existing
        peer = self._add(name)
        self.bus.publish_soon(Event(EventType.PEER_CONNECTED, {"peer_id": peer.node_id, "address": peer.address}))
        return peer

    async def connect_peer(self, name: str) -> bool:
        """Connect a known peer and publish PEER_CONNECTED; False if it already was."""
        return await self._set_connected(name, True)

    async def disconnect_peer(self, name: str) -> bool:
        """Disconnect a known peer and publish PEER_DISCONNECTED; False if it already was."""
        return await self._set_connected(name, False)

    def set_conditions(
        self, name: str, latency_ms: float | None = None, drop_rate: float | None = None
    ) -> SimulatedPeer:
        """Change a peer's simulated latency (ms, >= 0) and/or drop rate (0..1)."""
        peer = self._require(name, connected=False)
        if latency_ms is not None:
            if latency_ms < 0:
                raise ValueError(f"latency_ms must be >= 0, got {latency_ms!r}")
            peer.latency_ms = latency_ms
        if drop_rate is not None:
            if not 0.0 <= drop_rate <= 1.0:
                raise ValueError(f"drop_rate must be between 0.0 and 1.0, got {drop_rate!r}")
            peer.drop_rate = drop_rate
        return peer

    def reseed(self, seed: int) -> None:
        """Restart the drop generator, so a scenario drops the same messages on every run."""
        self._rng = random.Random(seed)

    async def receive_from(self, peer_name: str, data: Any, deliver: Deliver) -> str:
        """Simulate ``peer_name`` sending ``data``: hash ``str(data)``, keep it on the peer, await deliver."""
        peer = self._require(peer_name)
        text = str(data)
        data_hash = hash_data(text)
        await self._reach(peer, f"message from {peer.node_id}")
        peer.put(data_hash, text)
        self._counters["received"] += 1
        await deliver(data_hash, text, peer.node_id)
        return data_hash

    def stats(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "port": self.port,
            "running": self._state["running"],
            "known_peers": len(self.peers),
            "connected_peers": len(self.get_connected_peers()),
            "messages_sent": self._counters["sent"],
            "messages_received": self._counters["received"],
            "messages_dropped": self._counters["dropped"],
            "peers": {
                pid: {"connected": p.connected, "latency_ms": p.latency_ms, "drop_rate": p.drop_rate,
                      "items_held": len(p.data_hashes())}
                for pid, p in self.peers.items()
            },
        }

    # -- internals -----------------------------------------------------------
    def _add(self, spec: str) -> SimulatedPeer:
        base = peer_id_from(spec)
        node_id, n = base, 1
        while node_id in self.peers:
            if self.peers[node_id].url == spec:
                return self.peers[node_id]
            n += 1
            node_id = f"{base}#{n}"
        peer = SimulatedPeer(node_id, spec, address_for(node_id), self.store)
        self.peers[node_id] = peer
        return peer

    def _require(self, name: str, connected: bool = True) -> SimulatedPeer:
        peer = self.find_peer(name)
        if peer is None:
            raise PeerError(
                f'unknown peer "{name}"; known peers: {", ".join(self.peers) or "none"} '
                f"(connected: {self._connected_list()}). "
                f'Add it with add_peer("{name}") or list it in INITIAL_PEERS.'
            )
        if connected and not peer.connected:
            raise PeerError(
                f'peer "{peer.node_id}" is disconnected; connected peers: {self._connected_list()}. '
                f'Reconnect it with connect_peer("{peer.node_id}").'
            )
        return peer

    def _connected_list(self) -> str:
        return ", ".join(self.get_connected_peers()) or "none"

    async def _set_connected(self, name: str, connected: bool) -> bool:
        peer = self._require(name, connected=False)
        if peer.connected == connected:
            return False
        peer.connected = connected
        kind = EventType.PEER_CONNECTED if connected else EventType.PEER_DISCONNECTED
        await self.bus.publish(Event(kind, {"peer_id": peer.node_id, "address": peer.address}))
        return True

    async def _send(self, peer: SimulatedPeer, data_hash: str, text: str) -> None:
        await self._reach(peer, f"message to {peer.node_id}")
        peer.put(data_hash, text)
        self._counters["sent"] += 1

    async def _reach(self, peer: SimulatedPeer, what: str) -> None:
        # Draw before sleeping so concurrent sends consume the generator in peer order.
        dropped = peer.drop_rate > 0 and self._rng.random() < peer.drop_rate
        if peer.latency_ms > 0:
            await asyncio.sleep(peer.latency_ms / 1000)
        if dropped:
            self._counters["dropped"] += 1
            raise PeerError(f"{what} dropped (simulated drop_rate={peer.drop_rate})")
