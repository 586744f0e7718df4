"""The commands on the node's services: ``emit`` on the bus, ``share``, the simulated ``receive`` and
``peer``, and the chain's ``transfer`` and ``balance``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from devnode.commands.core import (CommandContext, CommandError, command, first_argument, name_and_json, parse_json,
                                   peer_names, split_first)
from devnode.errors import DevnodeError
from devnode.bus import Event, EventType
from devnode.node import controls
from devnode.node.chain_values import InsufficientFunds
from devnode.node.lookup import address_of, token_of  # shared with scenarios

PEER_USAGE = "peer list | peer connect|disconnect PEER | peer set PEER latency=MS drop=RATE"

_event_types = first_argument(lambda ctx: [t.value for t in EventType])
_peers = first_argument(peer_names)


def _peer_words(ctx: CommandContext, position: int) -> Sequence[str]:
    return ["connect", "disconnect"] if position == 0 else peer_names(ctx)


def _balance_words(ctx: CommandContext, position: int) -> Sequence[str]:
    return peer_names(ctx) if position == 0 else ["native"] if position == 1 else ()


def _transfer_words(ctx: CommandContext, position: int) -> Sequence[str]:
    return ["native"] if position == 0 else peer_names(ctx) if position == 1 else ()


@command("emit", "emit TYPE [JSON]", "publish an event (TYPE: member name or dotted value)", complete=_event_types)
async def _emit(ctx: CommandContext, rest: str) -> None:
    type_text, payload = split_first(rest, "emit TYPE [JSON]")
    try:
        event_type = EventType.parse(type_text)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    data = parse_json(payload, "the event data") if payload else {}
    if not isinstance(data, dict):
        raise CommandError(f"the event data must be a JSON object like {{\"key\": \"value\"}}, got: {payload}")
    await ctx.host.bus.publish(Event(event_type, data))


@command("share", "share RECIPIENT JSON", "share data with a peer through node.share_data", complete=_peers)
async def _share(ctx: CommandContext, rest: str) -> None:
    # Checked as JSON, then shared as the text typed: LevelDB stores str or bytes.
    recipient, payload, _ = name_and_json(rest, "share RECIPIENT JSON", 'share peer1 {"report": 42}')
    try:
        tx = await ctx.node.share_data(payload, recipient)
    except DevnodeError:
        raise
    except Exception as exc:  # a plugin wrapping share_data refused it (e.g. the validation plugin)
        raise CommandError(f"share_data raised {type(exc).__name__}: {exc}") from None
    ctx.reporter.emit("command.result", command="share", result={"compliance_tx_hash": tx, "recipient": recipient})


@command("receive", "receive PEER JSON", "make a simulated peer send data to this node", complete=_peers)
async def _receive(ctx: CommandContext, rest: str) -> None:
    peer, _, data = name_and_json(rest, "receive PEER JSON", 'receive peer1 {"reading": 7}')
    data_hash = await controls.receive(ctx.node, peer, data)  # on production: its own incoming-data path
    ctx.reporter.emit("command.result", command="receive", result={"data_hash": data_hash, "sender": peer})


@command("peer", "peer list|connect|disconnect|set",
         "list peers, (dis)connect one, or degrade a link: peer set peer1 latency=200 drop=0.1", complete=_peer_words)
async def _peer(ctx: CommandContext, rest: str) -> None:
    action, _, args = rest.partition(" ")
    args = args.strip()
    node = ctx.node
    if not controls.is_simulated(node) and (action in ("", "list") or action == "connect" and args):
        # Production's node: its own peers (get_connected_peers) and connect_to_peer(URL).
        if action == "connect":
            await controls.connect(node, args)
        ctx.reporter.emit("command.result", command="peer", result={"peers": controls.peer_list(node)})
        return
    if action in ("", "list"):
        ctx.reporter.emit("peers", peers=peer_table(ctx))
    elif action in ("connect", "disconnect") and args and " " not in args:
        network = controls.require_simulation(node, f"peer {action}")
        changed = await (network.connect_peer(args) if action == "connect" else network.disconnect_peer(args))
        peer = network.find_peer(args)
        assert peer is not None  # connect_peer/disconnect_peer raise PeerError for an unknown peer
        ctx.reporter.emit("command.result", command="peer",
                          result={"peer": peer.node_id, "connected": peer.connected, "changed": changed})
    elif action == "set" and args:
        name, settings = split_first(args, PEER_USAGE)
        latency, drop = _link_settings(settings)
        peer = controls.require_simulation(node, "peer set").set_conditions(name, latency_ms=latency, drop_rate=drop)
        ctx.reporter.emit("command.result", command="peer",
                          result={"peer": peer.node_id, "latency_ms": peer.latency_ms, "drop_rate": peer.drop_rate})
    else:
        raise CommandError(f'usage: {PEER_USAGE} (got "peer {rest}")')


def peer_table(ctx: CommandContext) -> list[dict[str, Any]]:
    """One row per simulated peer: link state, conditions, data held and native balance."""
    node = ctx.node
    native = node.token_manager.native_token_address
    return [
        {"peer": p.node_id, "address": p.address, "connected": p.connected, "latency_ms": p.latency_ms,
         "drop_rate": p.drop_rate, "items_held": len(p.data_hashes()),
         "balance": node.token_manager.get_balance(p.address, native)}
        for p in node.p2p_network.peers.values()
    ]


def _link_settings(text: str) -> tuple[float | None, float | None]:
    """``latency=200 drop=0.1`` (either or both; ``latency_ms``/``drop_rate`` also accepted)."""
    latency = drop = None
    for item in text.split():
        key, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if key in ("latency", "latency_ms") and sep and number is not None:
            latency = number
        elif key in ("drop", "drop_rate") and sep and number is not None:
            drop = number
        else:
            raise CommandError(f'"{item}" is not latency=MS or drop=RATE (0.0-1.0); usage: {PEER_USAGE}')
    if latency is None and drop is None:
        raise CommandError(f"give latency=MS and/or drop=RATE; usage: {PEER_USAGE}")
    return latency, drop


@command("transfer", "transfer TOKEN TO AMOUNT", "transfer_tokens from this node's account (publishes no event, as production)",
         complete=_transfer_words)
async def _transfer(ctx: CommandContext, rest: str) -> None:
    usage = "transfer TOKEN TO AMOUNT"
    parts = rest.split()
    if len(parts) != 3:
        raise CommandError(f"usage: {usage}, e.g. transfer native peer1 100")
    token, to, amount_text = parts
    try:
        amount = int(amount_text)
    except ValueError:
        raise CommandError(f'AMOUNT "{amount_text}" is not a whole number; usage: {usage}') from None
    node = ctx.node
    try:  # production's transfer_tokens on either node, from the node's own account
        tx = node.token_manager.transfer_tokens(token_of(node, token), controls.own_address(node),
                                                address_of(node, to), amount)
    except (ValueError, InsufficientFunds) as exc:
        raise CommandError(f"transfer failed: {exc}") from None
    ctx.reporter.emit("command.result", command="transfer", result={"tx_hash": tx})


@command("balance", "balance ADDRESS [TOKEN]", "show a balance (ADDRESS may be a peer or node id)",
         complete=_balance_words)
async def _balance(ctx: CommandContext, rest: str) -> None:
    parts = rest.split()
    if not parts:
        raise CommandError("usage: balance ADDRESS [TOKEN]")
    address = address_of(ctx.node, parts[0])
    token = token_of(ctx.node, parts[1] if len(parts) > 1 else "native")
    balance = ctx.node.token_manager.get_balance(address, token)
    ctx.reporter.emit("command.result", command="balance", result={"address": address, "token": token, "balance": balance})
