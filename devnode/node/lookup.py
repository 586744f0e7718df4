"""Turns the names a developer types (peer ids, "me", token symbols) into chain addresses."""

from __future__ import annotations

from typing import Any

from devnode.errors import DevnodeError


class UnknownNameError(DevnodeError):
    """A name that is neither an address nor something the node knows."""


def address_of(node: Any, name: str) -> str:
    """An 0x address as given, this node's address for its id/"me"/"node", or a peer's address."""
    if name.startswith("0x"):
        return name
    if name in (node.config.node_id, "me", "node"):
        return node.address  # type: ignore[no-any-return]
    peer = node.p2p_network.find_peer(name)
    if peer is None:
        known = ", ".join(node.p2p_network.known_peers)
        raise UnknownNameError(f'"{name}" is neither an 0x address nor a known peer ({known})')
    return peer.address  # type: ignore[no-any-return]


def token_of(node: Any, name: str) -> str:
    """The token address for "native", a supported token's symbol (any case) or an 0x address."""
    tokens = node.token_manager
    if name.lower() == "native":
        return tokens.native_token_address  # type: ignore[no-any-return]
    if name.startswith("0x"):
        return name
    for address, info in tokens.supported_tokens.items():
        if isinstance(info, dict) and str(info.get("symbol", "")).lower() == name.lower():
            return address  # type: ignore[no-any-return]
    raise UnknownNameError(f'unknown token "{name}"; use "native", a symbol or an 0x address')
