"""Turns the names a developer types (peer ids, "me", token symbols) into chain addresses."""

from __future__ import annotations

from typing import Any

from devnode.errors import DevnodeError
from devnode.node.controls import is_simulated


class UnknownNameError(DevnodeError):
    """A name that is neither an address nor something the node knows."""


def address_of(node: Any, name: str) -> str:
    """An 0x address as given, this node's address for its id/"me"/"node", or a peer's address."""
    if name.startswith("0x"):
        return name
    if name in (node.config.node_id, "me", "node"):
        return str(node.blockchain_interface.account.address)  # production's node has no node.address
    network = node.p2p_network
    if not is_simulated(node):  # production's node: its peers are hosts, with no account
        raise UnknownNameError(f'"{name}" is not an 0x address; production\'s node has no simulated peers to name '
                               "(give an address, or me for the node's own)")
    peer = network.find_peer(name)
    if peer is None:
        known = ", ".join(network.peers)
        raise UnknownNameError(f'"{name}" is neither an 0x address nor a known peer ({known})')
    return peer.address  # type: ignore[no-any-return]


def token_of(node: Any, name: str) -> str:
    """The token address for "native", a supported token's symbol (any case) or an 0x address."""
    tokens = node.token_manager
    if name.lower() == "native":
        return tokens.native_token_address  # type: ignore[no-any-return]
    if name.startswith("0x"):
        return name
    for symbol, address in tokens.node_tokens.items():
        if str(symbol).lower() == name.lower():
            return address  # type: ignore[no-any-return]
    issued = ", ".join(tokens.node_tokens) or "none yet; issue one with node.token_manager.issue_new_token(...)"
    raise UnknownNameError(f'unknown token "{name}"; use "native", a symbol the node issued ({issued}) or an 0x address')
