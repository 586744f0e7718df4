"""What the ``receive``, ``peer`` and ``transfer`` commands and scenario steps do, on either kind of node.

On the stand-in they drive its simulation (peers that send data, degrade or
drop). On production's own node (``--node production``) they go through
production's calls where production has them: incoming data through
``P2PNetwork._handle_incoming_data`` (decrypt, hash check, store,
``Node.on_data_received``), peers through ``connect_to_peer`` and
``get_connected_peers``, transfers through ``token_manager.transfer_tokens`` (as on the stand-in).
What only a simulation can do (disconnecting a peer, a link's latency or drop
rate) raises ``NotSimulated``, which says why.
"""

from __future__ import annotations

import hashlib
from typing import Any

from devnode.errors import DevnodeError
from devnode.bus import Event, EventType
from devnode.node.network import P2PNetwork


class NotSimulated(DevnodeError):
    """A simulation control used on production's node, which has no simulated peers."""


def is_simulated(node: Any) -> bool:
    """Whether ``node`` has the stand-in's simulated network (production's node has a real DHT)."""
    return isinstance(getattr(node, "p2p_network", None), P2PNetwork)


def own_address(node: Any) -> str:
    """The node's account address (production has no ``node.address``)."""
    return str(node.blockchain_interface.account.address)


def require_simulation(node: Any, what: str) -> P2PNetwork:
    """The stand-in's network, or NotSimulated naming ``what`` could not be done and why."""
    network = getattr(node, "p2p_network", None)
    if isinstance(network, P2PNetwork):
        return network
    raise NotSimulated(
        f"{what} needs the stand-in's simulated peers; production's P2PNetwork (network/p2p_network.py) has no call "
        "to disconnect a peer or change a link. On --node production use peer list, peer connect URL "
        "(connect_to_peer) and receive; run without --node production to simulate a network"
    )


async def receive(node: Any, peer: str, data: Any) -> str:
    """``peer`` sends ``data`` to the node; returns the hash ``str(data)`` is stored under.

    On production's node ``peer`` is only a label: the data arrives as production's network would
    deliver it, encrypted with the node's key, through ``_handle_incoming_data``.
    """
    if is_simulated(node):
        return str(await node.receive(peer, data))
    text = str(data)
    data_hash = hashlib.sha256(text.encode()).hexdigest()
    await node.p2p_network._handle_incoming_data({"hash": data_hash, "data": node.encrypt_data(text)})
    if node.data_manager.get_data(data_hash) is None and text:
        # Production logs its own errors there ("Error handling incoming data") and carries on.
        raise DevnodeError(f"production's P2PNetwork._handle_incoming_data did not store the data from {peer} "
                           "(its log line says why)")
    return data_hash


async def connect(node: Any, peer: str) -> bool:
    """Connect ``peer``: a simulated peer's name on the stand-in, a peer URL (``connect_to_peer``) on production's."""
    if is_simulated(node):
        return bool(await node.p2p_network.connect_peer(peer))
    await node.p2p_network.connect_to_peer(peer)
    return True


def peer_list(node: Any) -> list[dict[str, Any]]:
    """Production's ``get_connected_peers()`` (the stand-in's peer table is richer: commands.peer_table)."""
    return list(node.p2p_network.get_connected_peers())



async def publish_status(node: Any) -> None:
    """One round of the status events production publishes every 10 s, now (a scenario's ``status`` step).

    Production's node has no call for one round (services/node.py ``_status_update_loop`` sleeps first): the
    same two events are published from its services' state, as that loop does.
    """
    if is_simulated(node):
        await node.publish_status()
        return
    chain_up = node.blockchain_interface.w3 is not None
    p2p_up = bool(node.p2p_network.is_running)
    await node.event_bus.publish(Event(EventType.HEALTH_UPDATE, {
        "status": "healthy" if chain_up and p2p_up else "degraded",
        "components": {"blockchain": "connected" if chain_up else "disconnected",
                       "p2p_network": "running" if p2p_up else "stopped", "encryption": "initialized"},
    }))
    await node.event_bus.publish(Event(EventType.NETWORK_STATS_UPDATE, node.p2p_network.get_network_stats()))
