"""The commands a developer types into a running node (stdin in plain/json mode, ``:`` in the console).

Each command parses its own arguments and either emits records through the
reporter or raises ``CommandError`` with a message that quotes the bad input and
shows the expected form. The node keeps running whatever is typed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devnode.errors import DevnodeError
from devnode.bus import Event, EventType
from devnode.node import controls
from devnode.node.chain import InsufficientFunds
from devnode.node.lookup import address_of, token_of  # shared with scenarios

if TYPE_CHECKING:
    from devnode.runtime import Runtime


class CommandError(DevnodeError):
    """Bad input to a command; the message says what was expected."""


Handler = Callable[["Runtime", str], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    run: Handler


COMMANDS: dict[str, Command] = {}


def command(name: str, usage: str, summary: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = Command(name, usage, summary, fn)
        return fn

    return register


async def execute(runtime: Runtime, line: str) -> None:
    """Run one command line; errors become a ``command.error`` record."""
    text = line.strip()
    if not text or text.startswith("#"):
        return
    name, _, rest = text.partition(" ")
    cmd = COMMANDS.get(name.lower())
    try:
        if cmd is None:
            raise CommandError(f'unknown command "{name}"; type "help" for the list ({", ".join(COMMANDS)})')
        await cmd.run(runtime, rest.strip())
    except DevnodeError as exc:  # CommandError and devnode's own errors say what was expected
        runtime.reporter.emit("command.error", command=text, error=str(exc))
    except Exception as exc:  # bad values, or unforeseen (a full disk, a plugin's wrapper): keep the console alive
        runtime.reporter.emit("command.error", command=text, error=f"{type(exc).__name__}: {exc}")


# -- argument helpers -----------------------------------------------------------------
def parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{what} is not valid JSON ({exc.msg} at column {exc.colno}): {text}") from None


def split_first(rest: str, usage: str) -> tuple[str, str]:
    head, _, tail = rest.partition(" ")
    if not head:
        raise CommandError(f"usage: {usage}")
    return head, tail.strip()


def plugin_name(runtime: Runtime, name: str, usage: str) -> str:
    if not name:
        raise CommandError(f"usage: {usage}")
    module = name[:-3] if name.endswith(".py") else name
    if not module.isidentifier():
        # A path ("../x", "sub/x") would name code outside the plugin dir, or no module at all.
        raise CommandError(f'"{name}" is not a plugin name: give the module name of a .py file in the plugin dir '
                           f"(plugins: {_known_plugins(runtime)}); usage: {usage}")
    return module


def _known_plugins(runtime: Runtime) -> str:
    return ", ".join(runtime.host.plugin_names()) or "none"


# -- the commands -------------------------------------------------------------------------
@command("help", "help", "list the commands")
async def _help(runtime: Runtime, rest: str) -> None:
    runtime.reporter.emit("help", commands=[{"usage": c.usage, "summary": c.summary} for c in COMMANDS.values()])


@command("status", "status", "show every plugin's state")
async def _status(runtime: Runtime, rest: str) -> None:
    runtime.emit_status()


@command("emit", "emit TYPE [JSON]", "publish an event (TYPE: member name or dotted value)")
async def _emit(runtime: Runtime, rest: str) -> None:
    type_text, payload = split_first(rest, "emit TYPE [JSON]")
    try:
        event_type = EventType.parse(type_text)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    data = parse_json(payload, "the event data") if payload else {}
    if not isinstance(data, dict):
        raise CommandError(f"the event data must be a JSON object like {{\"key\": \"value\"}}, got: {payload}")
    await runtime.host.bus.publish(Event(event_type, data))


@command("share", "share RECIPIENT JSON", "share data with a peer through node.share_data")
async def _share(runtime: Runtime, rest: str) -> None:
    recipient, payload = split_first(rest, "share RECIPIENT JSON")
    if not payload:
        raise CommandError('usage: share RECIPIENT JSON, e.g. share peer1 {"report": 42}')
    parse_json(payload, "the data")  # checked, then shared as the text typed: LevelDB stores str or bytes
    try:
        tx = await runtime.node.share_data(payload, recipient)
    except DevnodeError:
        raise
    except Exception as exc:  # a plugin wrapping share_data refused it (e.g. the validation plugin)
        raise CommandError(f"share_data raised {type(exc).__name__}: {exc}") from None
    runtime.reporter.emit("command.result", command="share", result={"compliance_tx_hash": tx, "recipient": recipient})


@command("load", "load NAME", "load a plugin from the plugin dir")
async def _load(runtime: Runtime, rest: str) -> None:
    name = plugin_name(runtime, rest, "load NAME")
    if not (runtime.host.plugin_dir / f"{name}.py").is_file():
        raise CommandError(f'no plugin "{name}": {runtime.host.plugin_dir / (name + ".py")} does not exist '
                           f"(plugins: {_known_plugins(runtime)})")
    await runtime.host.load(name)


@command("unload", "unload NAME", "shut a plugin down and unload it")
async def _unload(runtime: Runtime, rest: str) -> None:
    name = plugin_name(runtime, rest, "unload NAME")
    if name not in runtime.host.slots or not runtime.host.slots[name].serving:
        raise CommandError(f'plugin "{name}" is not loaded (loaded: {", ".join(runtime.host.plugins) or "none"})')
    await runtime.host.unload(name, reason="unload command")


@command("reload", "reload NAME|all", "reload one plugin, or all of them")
async def _reload(runtime: Runtime, rest: str) -> None:
    name = plugin_name(runtime, rest, "reload NAME|all")
    if name == "all":
        names = runtime.host.plugin_names()
    elif (runtime.host.plugin_dir / f"{name}.py").is_file():
        names = [name]
    else:
        raise CommandError(f'no plugin "{name}" to reload (plugins: {_known_plugins(runtime)})')
    await runtime.host.reload(names, trigger=["reload command"])


@command("receive", "receive PEER JSON", "make a simulated peer send data to this node")
async def _receive(runtime: Runtime, rest: str) -> None:
    peer, payload = split_first(rest, "receive PEER JSON")
    if not payload:
        raise CommandError('usage: receive PEER JSON, e.g. receive peer1 {"reading": 7}')
    data = parse_json(payload, "the data")
    data_hash = await controls.receive(runtime.node, peer, data)  # on production: its own incoming-data path
    runtime.reporter.emit("command.result", command="receive", result={"data_hash": data_hash, "sender": peer})


PEER_USAGE = "peer list | peer connect|disconnect PEER | peer set PEER latency=MS drop=RATE"


@command("peer", "peer list|connect|disconnect|set",
         "list peers, (dis)connect one, or degrade a link: peer set peer1 latency=200 drop=0.1")
async def _peer(runtime: Runtime, rest: str) -> None:
    action, _, args = rest.partition(" ")
    args = args.strip()
    node = runtime.node
    if not controls.is_simulated(node) and (action in ("", "list") or action == "connect" and args):
        # Production's node: its own peers (get_connected_peers) and connect_to_peer(URL).
        if action == "connect":
            await controls.connect(node, args)
        runtime.reporter.emit("command.result", command="peer", result={"peers": controls.peer_list(node)})
        return
    if action in ("", "list"):
        runtime.reporter.emit("peers", peers=peer_table(runtime))
    elif action in ("connect", "disconnect") and args and " " not in args:
        network = controls.require_simulation(node, f"peer {action}")
        changed = await (network.connect_peer(args) if action == "connect" else network.disconnect_peer(args))
        peer = network.find_peer(args)
        assert peer is not None  # connect_peer/disconnect_peer raise PeerError for an unknown peer
        runtime.reporter.emit("command.result", command="peer",
                              result={"peer": peer.node_id, "connected": peer.connected, "changed": changed})
    elif action == "set" and args:
        name, settings = split_first(args, PEER_USAGE)
        latency, drop = _link_settings(settings)
        peer = controls.require_simulation(node, "peer set").set_conditions(name, latency_ms=latency, drop_rate=drop)
        runtime.reporter.emit("command.result", command="peer",
                              result={"peer": peer.node_id, "latency_ms": peer.latency_ms, "drop_rate": peer.drop_rate})
    else:
        raise CommandError(f'usage: {PEER_USAGE} (got "peer {rest}")')


def peer_table(runtime: Runtime) -> list[dict[str, Any]]:
    """One row per simulated peer: link state, conditions, data held and native balance."""
    node = runtime.node
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


@command("transfer", "transfer TOKEN TO AMOUNT", "transfer_tokens from this node's account (publishes no event, as production)")
async def _transfer(runtime: Runtime, rest: str) -> None:
    usage = "transfer TOKEN TO AMOUNT"
    parts = rest.split()
    if len(parts) != 3:
        raise CommandError(f"usage: {usage}, e.g. transfer native peer1 100")
    token, to, amount_text = parts
    try:
        amount = int(amount_text)
    except ValueError:
        raise CommandError(f'AMOUNT "{amount_text}" is not a whole number; usage: {usage}') from None
    node = runtime.node
    try:  # production's transfer_tokens on either node, from the node's own account
        tx = node.token_manager.transfer_tokens(token_of(node, token), controls.own_address(node),
                                                address_of(node, to), amount)
    except (ValueError, InsufficientFunds) as exc:
        raise CommandError(f"transfer failed: {exc}") from None
    runtime.reporter.emit("command.result", command="transfer", result={"tx_hash": tx})


@command("balance", "balance ADDRESS [TOKEN]", "show a balance (ADDRESS may be a peer or node id)")
async def _balance(runtime: Runtime, rest: str) -> None:
    parts = rest.split()
    if not parts:
        raise CommandError("usage: balance ADDRESS [TOKEN]")
    address = address_of(runtime.node, parts[0])
    token = token_of(runtime.node, parts[1] if len(parts) > 1 else "native")
    balance = runtime.node.token_manager.get_balance(address, token)
    runtime.reporter.emit("command.result", command="balance", result={"address": address, "token": token, "balance": balance})


@command("log-level", "log-level LEVEL", "set the plugins' log level (DEBUG, INFO, WARNING, ERROR)")
async def _log_level(runtime: Runtime, rest: str) -> None:
    level = rest.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise CommandError(f'log level "{rest}" is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL')
    runtime.set_log_level(level)
    runtime.reporter.emit("command.result", command="log-level", result={"level": level})


@command("scenario", "scenario FILE", "play a scenario file against the running plugins (docs/scenarios.md)")
async def _scenario(runtime: Runtime, rest: str) -> None:
    from devnode.playback import guarded, play_scenario_file  # scenarios cost start-up time: loaded when used
    from devnode.scenarios import load_scenario

    path = _one_path(rest, "scenario FILE")
    load_scenario(path)  # a broken file is reported now, as this command's error
    runtime.start_task(guarded(runtime, play_scenario_file(runtime, path), "scenario"), "devnode-scenario")


@command("replay", "replay FILE [--fast]", "publish a recording's events again (recorded speed, or --fast)")
async def _replay(runtime: Runtime, rest: str) -> None:
    words = rest.split()
    fast = "--fast" in words
    path = _one_path(" ".join(w for w in words if w != "--fast"), "replay FILE [--fast]")
    from devnode.playback import guarded, replay_file  # loaded when used, as for scenarios
    from devnode.recording import load_recording

    load_recording(path)
    runtime.start_task(guarded(runtime, replay_file(runtime, path, fast), "replay"), "devnode-replay")


def _one_path(text: str, usage: str) -> Path:
    if not text.strip():
        raise CommandError(f"usage: {usage}")
    path = Path(text.strip()).expanduser()
    if not path.is_file():
        raise CommandError(f'"{text.strip()}" is not a file (looked in {path.resolve().parent}); usage: {usage}')
    return path


@command("restart", "restart", "shut everything down and start devnode again with the same arguments (data kept)")
async def _restart(runtime: Runtime, rest: str) -> None:
    from devnode.restart import can_restart

    if runtime.options.headless:
        raise CommandError("restart is for devnode run; a scenario or replay run starts fresh each time")
    if not can_restart():
        raise CommandError("restart needs devnode started as a program (devnode run ...), not called from other code")
    runtime.request_restart("restart command")


@command("quit", "quit", "shut every plugin down and stop the node")
async def _quit(runtime: Runtime, rest: str) -> None:
    runtime.request_stop()
