"""``node.p2p_network``: production's P2PNetwork surface (network/p2p_network.py) over simulated peers.

Production stores shared data in a Kademlia DHT: ``send_data(hash, data)``
has no recipient, it puts the encrypted ``str(data)`` on whichever peers the
DHT reaches. Here the DHT is the simulated peers in the node's process: every
connected peer gets ``str(data)`` (a dropped message just misses that peer, as
a DHT store would), and ``get_data`` reads it back from the first connected
peer holding it. No socket is ever opened. What a peer holds is kept in the
Store and survives restarts.

``get_connected_peers()`` lists every known peer, connected or not, with
production's keys; a disconnected simulated peer shows ``healthy: False``.
The simulation controls (``peers``, ``find_peer``, ``add_peer``,
``connect_peer``, ``disconnect_peer``, ``set_conditions``, ``reseed``,
``receive_from``, ``stats``) are devnode additions for commands, scenarios and
tests; production publishes no event when a peer comes or goes, so neither
does the stand-in.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from devnode.errors import DevnodeError
from devnode.node.chain_values import address_for
from devnode.node.notices import Notices, is_plugin_file
from devnode.node.storage import Store
from devnode.node.tracked import Tracked

DEFAULT_PEERS = ["peer1", "peer2", "peer3"]
DEFAULT_PEER_PORT = 8000  # production's P2P_PORT default
HEALTHY_AGE = 300  # seconds; production's PeerInfo.is_healthy

Deliver = Callable[[str, str], Awaitable[Any]]


class PeerError(DevnodeError):
    """A message that could not reach, or come from, a simulated peer."""


def hash_data(data: Any) -> str:
    """The hash production gives data it shares: SHA-256 hex of ``str(data)``."""
    return hashlib.sha256(str(data).encode()).hexdigest()


def peer_id_from(spec: str) -> str:
    """A readable node id for an INITIAL_PEERS entry: ``http://10.0.0.2:8765`` -> ``10.0.0.2:8765``."""
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


def parse_peer_address(peer: str) -> tuple[str, int] | None:
    """Production's rule (P2PNetwork._parse_peer_address): strip http(s)://, then ``host:port``."""
    clean = peer.replace("http://", "").replace("https://", "")
    if ":" not in clean:
        return None
    host, port = clean.rsplit(":", 1)
    try:
        return host, int(port)
    except ValueError:
        return None


@dataclass
class SimulatedPeer:
    """One simulated peer: who it is, how its link behaves and the data it holds."""

    node_id: str
    url: str
    address: str
    host: str
    port: int
    store: Store = field(repr=False)
    connected: bool = True
    latency_ms: float = 0
    drop_rate: float = 0.0
    last_seen: float = field(default_factory=time.time)
    successes: int = 0
    failures: int = 0

    @property
    def success_rate(self) -> float:
        total = self.successes + self.failures
        return self.successes / total if total else 0

    @property
    def healthy(self) -> bool:
        recent = time.time() - self.last_seen < HEALTHY_AGE
        return self.connected and recent and (self.success_rate > 0.5 or self.successes < 3)

    def info(self) -> dict[str, Any]:
        """Production's peer dict."""
        return {"host": self.host, "port": self.port, "node_id": self.node_id, "last_seen": self.last_seen,
                "latency_ms": self.latency_ms, "success_rate": self.success_rate, "healthy": self.healthy}

    def put(self, data_hash: str, value: Any) -> None:
        self.store.put_peer_data(self.node_id, data_hash, value)

    def get(self, data_hash: str) -> tuple[bool, Any]:
        return self.store.get_peer_data(self.node_id, data_hash)

    def data_hashes(self) -> list[str]:
        return self.store.peer_data_hashes(self.node_id)


class P2PNetwork(Tracked):
    """Production's P2P API over simulated peers (``DEFAULT_PEERS`` when none are configured)."""

    tracked_name = "node.p2p_network"

    def __init__(
        self, store: Store, node_id: str, peers: list[str] | None, port: int, seed: int = 0,
        data_dir: str | None = None, notices: Notices | None = None, default_peers: bool = True,
    ) -> None:
        self.store = store
        self.notices = notices or Notices()
        self.node: Any = None  # the node, set by it (production: P2PNetwork(node, ...))
        self.node_id = node_id
        self.port = port
        self.bootstrap_peers = [p.strip() for p in peers or [] if p.strip()]
        self.data_dir = data_dir or "./data"
        self.server: object | None = None
        self.peers: dict[str, SimulatedPeer] = {}
        # One seeded generator per network, so a given seed drops the same messages every run.
        self._rng = random.Random(seed)
        self._counters = {"sent": 0, "received": 0, "dropped": 0}
        self._state = {"running": False}
        # No peer named: peer1..peer3, made up by devnode (production starts with none) unless not ``default_peers``.
        made_up = DEFAULT_PEERS if default_peers and not self.bootstrap_peers else []
        self.made_up = [self._add(spec).node_id for spec in made_up]
        for spec in self.bootstrap_peers:
            self._add(spec)

    # -- production API ------------------------------------------------------
    async def start(self) -> None:
        """Mark the network running; devnode opens no listener."""
        self.server = _SimulatedDHT(self)
        self._state["running"] = True

    async def stop(self) -> None:
        self._state["running"] = False

    @property
    def is_running(self) -> bool:
        return self._state["running"]

    async def send_data(self, data_hash: str, data: Any) -> None:
        """Put ``str(data)`` on every connected peer the message reaches (a DHT store)."""
        self._started()
        text = str(data)
        targets = [p for p in self.peers.values() if p.connected]
        results = await asyncio.gather(*(self._send(p, data_hash, text) for p in targets), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, PeerError):
                raise result

    async def broadcast_data(self, data_hash: str, data: Any) -> None:
        await self.send_data(data_hash, data)

    async def get_data(self, data_hash: str) -> str | None:
        """The data from the first connected peer that holds it and answers; None if none does."""
        self._started()
        for peer in [p for p in self.peers.values() if p.connected]:
            found, value = peer.get(data_hash)
            if not found:
                continue
            try:
                await self._reach(peer, f"request to {peer.node_id}")
            except PeerError:
                continue
            text = str(value)
            return text if hash_data(text) == data_hash else None  # production checks the hash too
        return None

    async def connect_to_peer(self, peer_url: str) -> None:
        """Add (or refresh) the peer at ``http://host:port``."""
        self._started()
        parsed = parse_peer_address(peer_url)
        if parsed is None:
            raise ValueError(f"Invalid peer format: {peer_url}")
        peer = self.find_peer(peer_url) or self._add(peer_url)
        peer.connected = True
        peer.last_seen = time.time()
        peer.successes += 1

    def get_connected_peers(self) -> list[dict[str, Any]]:
        """Every known peer with production's keys, most recently seen first."""
        self._note_made_up_peers(sys._getframe(1))
        return self._peer_infos()

    def get_healthy_peers(self) -> list[dict[str, Any]]:
        self._note_made_up_peers(sys._getframe(1))
        return [p for p in self._peer_infos() if p["healthy"]]

    def get_network_stats(self) -> dict[str, Any]:
        self._note_made_up_peers(sys._getframe(1))
        peers = self._peer_infos()
        healthy = [p for p in peers if p["healthy"]]
        return {
            "total_peers": len(peers),
            "healthy_peers": len(healthy),
            "active_peers": sum(1 for p in self.peers.values() if p.connected) if self.is_running else 0,
            "bootstrap_nodes": len(self.bootstrap_peers),
            "avg_latency_ms": sum(p["latency_ms"] for p in healthy) / len(healthy) if healthy else 0,
        }

    # -- devnode additions: the simulation -------------------------------------
    def find_peer(self, name: str) -> SimulatedPeer | None:
        """The peer known by this id, INITIAL_PEERS entry, host:port or address."""
        if name in self.peers:
            return self.peers[name]
        wanted = str(name).strip()
        for peer in self.peers.values():
            if wanted in (peer.url, peer.node_id, f"{peer.host}:{peer.port}") or wanted.lower() == peer.address.lower():
                return peer
        return self.peers.get(peer_id_from(wanted))

    def add_peer(self, name: str) -> SimulatedPeer:
        """Add a connected peer (or return the one already known by that name)."""
        return self.find_peer(name) or self._add(name)

    async def connect_peer(self, name: str) -> bool:
        """Connect a known peer; False if it already was."""
        return self._set_connected(name, True)

    async def disconnect_peer(self, name: str) -> bool:
        """Disconnect a known peer; False if it already was."""
        return self._set_connected(name, False)

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
        await deliver(data_hash, text)
        return data_hash

    def stats(self) -> dict[str, Any]:
        """devnode's view of the simulation (production's view: ``get_network_stats()``)."""
        return {
            "node_id": self.node_id,
            "port": self.port,
            "running": self.is_running,
            "known_peers": len(self.peers),
            "connected_peers": sum(1 for p in self.peers.values() if p.connected),
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
    def _peer_infos(self) -> list[dict[str, Any]]:
        return sorted((p.info() for p in self.peers.values()), key=lambda p: -p["last_seen"])

    def _note_made_up_peers(self, caller: FrameType) -> None:
        """A plugin sees peers production would not have: say so once (devnode's own status updates say nothing)."""
        made_up = [name for name in self.made_up if name in self.peers]
        if made_up and is_plugin_file(caller.f_code.co_filename):
            self.notices.note(
                "simulated-peers",
                f"listed the stand-in's simulated peers {', '.join(made_up)}; start devnode with --peers 0 for "
                "none, or --peers N|A,B (INITIAL_PEERS) to choose them",
                "P2PNetwork starts with no peer (network/p2p_network.py:57): get_connected_peers(), "
                "get_healthy_peers() and get_network_stats() count only the peers it has reached through "
                "INITIAL_PEERS, the DHT or connect_to_peer() (network/p2p_network.py:499-529)",
            )

    def _started(self) -> None:
        if self.server is None:
            raise RuntimeError("P2P network not started")

    def _add(self, spec: str) -> SimulatedPeer:
        base = peer_id_from(spec)
        node_id, n = base, 1
        while node_id in self.peers:
            if self.peers[node_id].url == spec:
                return self.peers[node_id]
            n += 1
            node_id = f"{base}#{n}"
        parsed = parse_peer_address(spec)
        if parsed is None:
            split = urlsplit(spec if "://" in spec else f"//{spec}")
            parsed = (split.hostname or base, DEFAULT_PEER_PORT + len(self.peers) + 1)
        peer = SimulatedPeer(node_id, spec, address_for(node_id), parsed[0], parsed[1], self.store)
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
        return ", ".join(pid for pid, p in self.peers.items() if p.connected) or "none"

    def _set_connected(self, name: str, connected: bool) -> bool:
        peer = self._require(name, connected=False)
        if peer.connected == connected:
            return False
        peer.connected = connected
        if connected:
            peer.last_seen = time.time()
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
            peer.failures += 1
            raise PeerError(f"{what} dropped (simulated drop_rate={peer.drop_rate})")
        peer.successes += 1
        peer.last_seen = time.time()


class _SimulatedDHT:
    """What ``p2p_network.server`` is once started: the simulated peers stand in for the Kademlia server."""

    def __init__(self, network: P2PNetwork) -> None:
        self.network = network

    def __repr__(self) -> str:
        return f"<simulated DHT: {len(self.network.peers)} peer(s), no socket>"
