"""The probes: one list of named checks of the node surface a plugin sees, run unchanged on every node.

Each probe is an ``async`` function of the probe context (``ctx.node`` is the
object plugins get; see contract_runner.Context) returning a JSON-able
observation built with contract_kit. The runner adds the events published and
the log lines written while the probe ran. Probes run in this order on one
node, so later probes see the state earlier ones left (the same on every side).
Standard library only, like contract_kit.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable
from typing import Any

from contract_kit import Probe, attribute, describe, outcome, settle, signature, wait_for

PROBES: list[tuple[str, Probe]] = []

# A checksummed address nobody funds (web3 refuses addresses that are not checksummed).
UNFUNDED = "0xBEbeBeBEbeBebeBeBEBEbebEBeBeBebeBeBebebe"
ZERO = "0x" + "0" * 40

# Production's surface (../shared/UPSTREAM.md, checked against the source): attributes and methods.
SURFACE: dict[str, dict[str, list[str]]] = {
    "node": {
        "attributes": ["config", "blockchain_interface", "db_connection", "data_manager", "token_manager",
                       "payment_processor", "compliance_manager", "authorization_module", "p2p_network",
                       "plugin_manager", "internal_api", "external_api", "event_bus", "enable_dashboard",
                       "dashboard_api", "key_manager", "cipher_suite"],
        "methods": ["encrypt_data", "decrypt_data", "get_native_token_address", "change_blockchain", "share_data",
                    "get_shared_data", "on_data_received", "start", "stop"],
    },
    "config": {
        "attributes": ["blockchain_type", "blockchain_url", "private_key", "native_token_address", "db_path",
                       "sqlite_db_path", "p2p_port", "plugin_dir", "node_id", "node_signature", "initial_peers",
                       "data_dir"],
        "methods": ["validate"],
    },
    "blockchain_interface": {
        "attributes": ["w3", "account"],
        "methods": ["connect", "disconnect", "get_balance", "send_transaction", "wait_for_receipt",
                    "deploy_contract", "call_contract_function", "get_contract_abi", "get_contract_artifacts"],
    },
    "data_manager": {
        "attributes": [],
        "methods": ["store_data", "get_data", "delete_data", "close", "__enter__", "__exit__"],
    },
    "token_manager": {
        "attributes": ["supported_tokens", "node_tokens", "native_token_address"],
        "methods": ["add_supported_token", "is_supported_token", "get_balance", "issue_new_token", "mint_tokens",
                    "transfer_tokens"],
    },
    "payment_processor": {"attributes": [], "methods": ["process_payment", "get_transaction_history"]},
    "compliance_manager": {
        "attributes": [],
        "methods": ["record_compliance_event", "verify_compliance", "get_compliance_history"],
    },
    "p2p_network": {
        "attributes": ["is_running"],
        "methods": ["start", "stop", "send_data", "get_data", "broadcast_data", "connect_to_peer",
                    "get_connected_peers", "get_healthy_peers", "get_network_stats"],
    },
    "plugin_manager": {
        "attributes": ["plugins"],
        "methods": ["load_plugins", "shutdown_plugins", "get_plugin"],
    },
    "event_bus": {
        "attributes": ["subscriber_count", "history_size"],
        "methods": ["subscribe", "subscribe_all", "unsubscribe", "unsubscribe_all", "publish",
                    "get_recent_events", "get_events_by_type", "clear_history"],
    },
}
# Names devnode had and production does not: a plugin using them breaks in production.
NOT_IN_PRODUCTION = {"p2p_network": ["known_peers"], "blockchain_interface": ["call_contract"]}


def probe(name: str) -> Callable[[Probe], Probe]:
    """Register the decorated probe under ``name`` (probes run in the order they are defined)."""

    def register(fn: Probe) -> Probe:
        PROBES.append((name, fn))
        return fn

    return register


def service(ctx: Any, name: str) -> Any:
    return ctx.node if name == "node" else ctx.node.config if name == "config" else getattr(ctx.node, name)


def own(ctx: Any) -> str:
    return str(ctx.node.blockchain_interface.account.address)


def native(ctx: Any) -> str:
    return str(ctx.node.token_manager.native_token_address)


async def mined(ctx: Any, timeout: float = 30.0) -> None:
    """Wait until the node's account has no transaction still pending on a real chain.

    Sides share one anvil and anvil mines asynchronously: a transfer an earlier probe sent must land
    before a probe reads a balance difference, or the difference counts it. The stand-in has no
    ``w3`` (reading it raises), and mines at once.
    """
    try:
        eth = ctx.node.blockchain_interface.w3.eth
    except Exception:
        return
    address = own(ctx)
    await wait_for(lambda: eth.get_transaction_count(address, "pending") == eth.get_transaction_count(address, "latest"),
                   timeout)


def _event_module(ctx: Any) -> Any:
    return importlib.import_module(type(ctx.node.event_bus).__module__)


def _event(ctx: Any, kind: str, data: dict[str, Any]) -> Any:
    module = _event_module(ctx)
    return module.Event(type=module.EventType[kind], data=data)


# -- the surface: every attribute and method signature --------------------------------------------------
def _surface_probes() -> None:
    for svc, members in SURFACE.items():
        for attr in members["attributes"]:
            probe(f"attr.{svc}.{attr}")(_attr_probe(svc, attr))
        for method in members["methods"]:
            probe(f"sig.{svc}.{method}")(_sig_probe(svc, method))
    for svc, names in NOT_IN_PRODUCTION.items():
        for attr in names:
            probe(f"absent.{svc}.{attr}")(_attr_probe(svc, attr))


def _attr_probe(svc: str, attr: str) -> Probe:
    async def run(ctx: Any) -> Any:
        return attribute(service(ctx, svc), attr)

    return run


def _sig_probe(svc: str, method: str) -> Probe:
    async def run(ctx: Any) -> Any:
        return signature(service(ctx, svc), method)

    return run


_surface_probes()


# -- loading plugins -----------------------------------------------------------------------------------
@probe("loader.loaded")
async def loader_loaded(ctx: Any) -> Any:
    """Which files of the plugin dir ended up in plugin_manager.plugins."""
    return sorted(ctx.node.plugin_manager.plugins)


@probe("loader.failure_logs")
async def loader_failure_logs(ctx: Any) -> Any:
    """What was logged on services.plugin_manager while the node loaded its plugins."""
    return sorted(line[2] for line in ctx.startup_logs if line[0] == "services.plugin_manager")


@probe("loader.initialized")
async def loader_initialized(ctx: Any) -> Any:
    """Which plugins' initialize() ran (journal), in no particular order."""
    return sorted({e["plugin"] for e in ctx.journal() if e["what"] == "initialize"})


@probe("loader.failed_initialize_kept")
async def loader_failed_initialize_kept(ctx: Any) -> Any:
    """After initialize() raised: still in plugins? its subscription still delivered?"""
    kept = "failinit" in ctx.node.plugin_manager.plugins
    mark = len(ctx.journal())
    await ctx.node.event_bus.publish(_event(ctx, "DATA_VERIFIED", {"probe": "failinit"}))
    await settle()
    heard = any(e["what"] == "handled" and e["plugin"] == "failinit" for e in ctx.journal()[mark:])
    return {"kept_in_plugins": kept, "subscription_live": heard}


@probe("loader.factory_function")
async def loader_factory_function(ctx: Any) -> Any:
    instance = ctx.node.plugin_manager.get_plugin("factory")
    return {"loaded": instance is not None, "kind": type(instance).__name__ if instance is not None else None}


@probe("loader.get_plugin")
async def loader_get_plugin(ctx: Any) -> Any:
    pm = ctx.node.plugin_manager
    return {"known": describe(pm.get_plugin("contract")), "unknown": describe(pm.get_plugin("no_such_plugin"))}


@probe("loader.dashboard_import")
async def loader_dashboard_import(ctx: Any) -> Any:
    """A plugin doing ``from dashboard import EventType, Event, EventBus`` loaded, with the bus's own classes."""
    plugin = ctx.node.plugin_manager.get_plugin("dashimport")
    if plugin is None:
        return {"loaded": False}
    module = _event_module(ctx)
    return {
        "loaded": True,
        "same_classes": [plugin.EventType is module.EventType, plugin.Event is module.Event,
                         plugin.EventBus is type(ctx.node.event_bus)],
    }


@probe("loader.started_event")
async def loader_started_event(ctx: Any) -> Any:
    """What the contract plugin heard from initialize() until the probes began (NODE_STARTED)."""
    return [e["type"] for e in ctx.journal() if e["what"] == "heard" and e["plugin"] == "contract"]


# -- the event bus -------------------------------------------------------------------------------------
@probe("bus.dispatch_order")
async def bus_dispatch_order(ctx: Any) -> Any:
    bus = ctx.node.event_bus
    order: list[str] = []

    def sync_typed(event: Any) -> None:
        order.append("typed-sync")

    async def async_typed(event: Any) -> None:
        order.append("typed-async")

    def global_cb(event: Any) -> None:
        order.append("global")

    bus.subscribe_all(global_cb)
    bus.subscribe(_event_module(ctx).EventType.DATA_VERIFIED, sync_typed)
    bus.subscribe(_event_module(ctx).EventType.DATA_VERIFIED, async_typed)
    bus.subscribe(_event_module(ctx).EventType.DATA_VERIFIED, sync_typed)  # a set: once
    try:
        returned = await bus.publish(_event(ctx, "DATA_VERIFIED", {"probe": "order"}))
    finally:
        bus.unsubscribe(_event_module(ctx).EventType.DATA_VERIFIED, sync_typed)
        bus.unsubscribe(_event_module(ctx).EventType.DATA_VERIFIED, async_typed)
        bus.unsubscribe_all(global_cb)
    # Per-type callbacks come from a set: their relative order is not part of the contract.
    return {"typed_first": sorted(order[:2]), "then": order[2:], "publish_returns": describe(returned)}


@probe("bus.callback_error")
async def bus_callback_error(ctx: Any) -> Any:
    bus = ctx.node.event_bus
    called: list[str] = []

    def boom(event: Any) -> None:
        raise RuntimeError("probe callback failed")

    def after(event: Any) -> None:
        called.append("after")

    bus.subscribe(_event_module(ctx).EventType.DATA_VERIFIED, boom)
    bus.subscribe_all(after)
    try:
        result = await outcome(bus.publish, _event(ctx, "DATA_VERIFIED", {"probe": "error"}))
    finally:
        bus.unsubscribe(_event_module(ctx).EventType.DATA_VERIFIED, boom)
        bus.unsubscribe_all(after)
    return {"publish": result, "others_called": called}


@probe("bus.async_callback_error")
async def bus_async_callback_error(ctx: Any) -> Any:
    bus = ctx.node.event_bus
    called: list[str] = []

    async def boom(event: Any) -> None:
        raise LookupError("probe async callback failed")

    async def after(event: Any) -> None:
        called.append("after")

    bus.subscribe(_event_module(ctx).EventType.DATA_VERIFIED, boom)
    bus.subscribe_all(after)
    try:
        await bus.publish(_event(ctx, "DATA_VERIFIED", {"probe": "async error"}))
        raised = "nothing"
    except Exception as exc:
        raised = type(exc).__name__
    finally:
        bus.unsubscribe(_event_module(ctx).EventType.DATA_VERIFIED, boom)
        bus.unsubscribe_all(after)
    return {"publish_raised": raised, "others_called": called}


@probe("bus.system_exit_propagates")
async def bus_system_exit(ctx: Any) -> Any:
    bus = ctx.node.event_bus

    def leave(event: Any) -> None:
        raise SystemExit(3)

    bus.subscribe(_event_module(ctx).EventType.DATA_VERIFIED, leave)
    try:
        await bus.publish(_event(ctx, "DATA_VERIFIED", {"probe": "exit"}))
        return "swallowed"
    except SystemExit as exc:
        return f"SystemExit({exc.code})"
    except BaseException as exc:  # noqa: BLE001 - the observation is what came out
        return type(exc).__name__
    finally:
        bus.unsubscribe(_event_module(ctx).EventType.DATA_VERIFIED, leave)


@probe("bus.sync_callback_returning_coroutine")
async def bus_sync_returning_coroutine(ctx: Any) -> Any:
    bus = ctx.node.event_bus
    ran: list[str] = []

    async def work(event: Any) -> None:
        ran.append("ran")

    def wrapper(event: Any) -> Any:
        return work(event)

    bus.subscribe(_event_module(ctx).EventType.DATA_VERIFIED, wrapper)
    try:
        result = await outcome(bus.publish, _event(ctx, "DATA_VERIFIED", {"probe": "wrapper"}))
    finally:
        bus.unsubscribe(_event_module(ctx).EventType.DATA_VERIFIED, wrapper)
    await settle()
    return {"publish": result, "coroutine_ran": bool(ran)}


@probe("bus.history")
async def bus_history(ctx: Any) -> Any:
    bus = ctx.node.event_bus
    for i in range(3):
        await bus.publish(_event(ctx, "COMPLIANCE_EVENT", {"probe": "history", "i": i}))
    recent = bus.get_recent_events(2)
    by_type = bus.get_events_by_type(_event_module(ctx).EventType.COMPLIANCE_EVENT, 5)
    return {
        "recent": [e.data.get("i") for e in recent],
        "by_type": [e.data.get("i") for e in by_type],
        "recent_kind": describe(recent),
        "history_size": describe(bus.history_size),
    }


@probe("bus.recent_events_zero")
async def bus_recent_zero(ctx: Any) -> Any:
    """``get_recent_events(0)``: production slices ``[-0:]``, the whole history."""
    bus = ctx.node.event_bus
    size = bus.history_size
    return {"zero_is_all": len(bus.get_recent_events(0)) == size,
            "minus_one_drops_the_first": len(bus.get_recent_events(-1)) == max(size - 1, 0)}


@probe("bus.subscribe_with_a_string")
async def bus_subscribe_string(ctx: Any) -> Any:
    """Subscribing with the type's value instead of the EventType member, and unsubscribing what never was."""
    bus = ctx.node.event_bus
    heard: list[str] = []

    def cb(event: Any) -> None:
        heard.append("heard")

    subscribed = await outcome(bus.subscribe, "data.verified", cb)
    await bus.publish(_event(ctx, "DATA_VERIFIED", {"probe": "string"}))
    unsubscribed = await outcome(bus.unsubscribe, "data.verified", cb)
    never = await outcome(bus.unsubscribe, _event_module(ctx).EventType.ERROR, cb)
    return {"subscribe": subscribed, "heard": bool(heard), "unsubscribe": unsubscribed, "never_subscribed": never}


@probe("bus.publish_event_with_a_string_type")
async def bus_publish_string_type(ctx: Any) -> Any:
    module = _event_module(ctx)
    return await outcome(ctx.node.event_bus.publish, module.Event(type="data.verified", data={"probe": "str"}))


@probe("bus.clear_history")
async def bus_clear_history(ctx: Any) -> Any:
    bus = ctx.node.event_bus
    bus.clear_history()
    return {"history_size": bus.history_size, "recent": len(bus.get_recent_events())}


@probe("bus.max_history")
async def bus_max_history(ctx: Any) -> Any:
    """A plugin building its own bus, as production's EventBus(max_history=...) allows."""
    made = await outcome(type(ctx.node.event_bus), max_history=2)
    if "raises" in made:
        return {"construct": made}
    bus = type(ctx.node.event_bus)(max_history=2)
    for i in range(3):
        await bus.publish(_event(ctx, "ERROR", {"i": i}))
    return {"construct": made, "kept": [e.data["i"] for e in bus.get_recent_events()]}


@probe("bus.default_history")
async def bus_default_history(ctx: Any) -> Any:
    bus = type(ctx.node.event_bus)()
    for i in range(105):
        await bus.publish(_event(ctx, "ERROR", {"i": i}))
    return {"size": bus.history_size, "first": bus.get_recent_events(1000)[0].data["i"]}


@probe("bus.subscriber_count")
async def bus_subscriber_count(ctx: Any) -> Any:
    bus = ctx.node.event_bus
    before = bus.subscriber_count

    def cb(event: Any) -> None:
        pass

    bus.subscribe(_event_module(ctx).EventType.ERROR, cb)
    bus.subscribe(_event_module(ctx).EventType.ERROR, cb)
    bus.subscribe_all(cb)
    during = bus.subscriber_count
    bus.unsubscribe(_event_module(ctx).EventType.ERROR, cb)
    bus.unsubscribe_all(cb)
    return {"added": during - before, "after": bus.subscriber_count - before}


@probe("event.to_json_not_serialisable")
async def event_to_json(ctx: Any) -> Any:
    return await outcome(_event(ctx, "ERROR", {"when": object()}).to_json)


@probe("event.from_dict_without_data")
async def event_from_dict(ctx: Any) -> Any:
    module = _event_module(ctx)
    return await outcome(module.Event.from_dict, {"type": "system.error"})


@probe("event.to_dict")
async def event_to_dict(ctx: Any) -> Any:
    return describe(_event(ctx, "ERROR", {"a": 1}).to_dict())


@probe("event.types")
async def event_types(ctx: Any) -> Any:
    return sorted(f"{m.name}={m.value}" for m in _event_module(ctx).EventType)


# -- configuration -------------------------------------------------------------------------------------
@probe("config.dotenv_in_environ")
async def config_dotenv(ctx: Any) -> Any:
    """A plugin's own setting in the author's .env (production: load_dotenv())."""
    return {"PROBE_SETTING": os.environ.get("PROBE_SETTING"), "P2P_PORT_set": "P2P_PORT" in os.environ}


@probe("config.environment_wins")
async def config_environment_wins(ctx: Any) -> Any:
    """A variable set in the real environment and in .env keeps the environment's value."""
    return os.environ.get("PROBE_OVERRIDDEN")


@probe("config.paths")
async def config_paths(ctx: Any) -> Any:
    """The path settings a plugin reads from node.config (the .env gives DATA_DIR, DB_PATH, SQLITE_DB_PATH as ./...)."""
    c = ctx.node.config
    here = {str(ctx.workdir.resolve()), str(ctx.workdir)}
    shown = {}
    for name in ("plugin_dir", "data_dir", "db_path", "sqlite_db_path"):
        value = str(getattr(c, name))
        for path in here:
            value = value.replace(path, "<cwd>")
        shown[name] = value
    return shown


CONFIG_FIELDS = ["blockchain_type", "blockchain_url", "private_key", "native_token_address", "db_path",
                 "sqlite_db_path", "p2p_port", "plugin_dir", "node_id", "node_signature", "initial_peers", "data_dir"]


def _default_probe(name: str) -> Probe:
    async def run(ctx: Any) -> Any:
        """The value a node gets for this setting from an empty environment and no .env."""
        return ctx.default_config().get(name, "missing")

    return run


for _field in CONFIG_FIELDS:
    probe(f"config.default.{_field}")(_default_probe(_field))


@probe("config.values")
async def config_values(ctx: Any) -> Any:
    c = ctx.node.config
    return {"node_id": c.node_id, "p2p_port": describe(c.p2p_port), "initial_peers": describe(c.initial_peers),
            "native_token_address": c.native_token_address, "blockchain_type": c.blockchain_type}


# -- node ----------------------------------------------------------------------------------------------
@probe("node.encrypt_roundtrip")
async def node_encrypt(ctx: Any) -> Any:
    token = ctx.node.encrypt_data({"a": 1})
    back = ctx.node.decrypt_data(token)
    return {"token": describe(token), "back": describe(back), "is_str_of_input": back == str({"a": 1})}


@probe("node.decrypt_garbage")
async def node_decrypt_garbage(ctx: Any) -> Any:
    return await outcome(ctx.node.decrypt_data, "not a token")


@probe("node.decrypt_bytes")
async def node_decrypt_bytes(ctx: Any) -> Any:
    return await outcome(ctx.node.decrypt_data, ctx.node.encrypt_data("x").encode())


@probe("node.native_token_address")
async def node_native(ctx: Any) -> Any:
    return await outcome(ctx.node.get_native_token_address)


@probe("node.share_data_as_shipped")
async def node_share_shipped(ctx: Any) -> Any:
    return await outcome(ctx.node.share_data, "shipped payload", ctx.receiver)


@probe("node.share_data_authorized")
async def node_share_authorized(ctx: Any) -> Any:
    """The same share with authorization granted (as devnode's production-backed node grants it)."""
    with ctx.authorized():
        return await outcome(ctx.node.share_data, "authorized payload", ctx.receiver)


@probe("node.share_data_dict")
async def node_share_dict(ctx: Any) -> Any:
    """Data that is not str or bytes (production stores it in LevelDB as it is)."""
    with ctx.authorized():
        return await outcome(ctx.node.share_data, {"probe": "dict"}, ctx.receiver)


@probe("node.share_data_payment_insufficient")
async def node_share_payment(ctx: Any) -> Any:
    """Production's share_data makes the recipient pay the node: an unfunded recipient cannot."""
    with ctx.authorized():
        return await outcome(ctx.node.share_data, {"probe": "paid"}, UNFUNDED, native(ctx), 5)


@probe("node.share_data_paid")
async def node_share_paid(ctx: Any) -> Any:
    """A paid share that can succeed in production: the node is the recipient, so it pays itself."""
    with ctx.authorized():
        return await outcome(ctx.node.share_data, "paid payload", own(ctx), native(ctx), 5)


@probe("node.get_shared_data_known")
async def node_get_shared_known(ctx: Any) -> Any:
    data_hash = ctx.node._hash_data("authorized payload")
    return await outcome(ctx.node.get_shared_data, data_hash)


@probe("node.get_shared_data_unknown")
async def node_get_shared_unknown(ctx: Any) -> Any:
    return await outcome(ctx.node.get_shared_data, "f" * 64)


@probe("node.on_data_received")
async def node_on_data_received(ctx: Any) -> Any:
    result = await outcome(ctx.node.on_data_received, "e" * 64, "incoming")
    return {"call": result, "stored": describe(ctx.node.data_manager.get_data("e" * 64))}


# -- data_manager ----------------------------------------------------------------------------------------
@probe("data.str_roundtrip")
async def data_str(ctx: Any) -> Any:
    dm = ctx.node.data_manager
    return {"store": await outcome(dm.store_data, "probe:str", "value"), "get": describe(dm.get_data("probe:str"))}


@probe("data.bytes_roundtrip")
async def data_bytes(ctx: Any) -> Any:
    dm = ctx.node.data_manager
    return {"store": await outcome(dm.store_data, b"probe:bytes", b"raw"), "get": await outcome(dm.get_data, "probe:bytes")}


@probe("data.bytes_not_utf8")
async def data_bytes_binary(ctx: Any) -> Any:
    dm = ctx.node.data_manager
    return {"store": await outcome(dm.store_data, "probe:bin", b"\xff\xfe"), "get": await outcome(dm.get_data, "probe:bin")}


@probe("data.dict_value")
async def data_dict(ctx: Any) -> Any:
    return await outcome(ctx.node.data_manager.store_data, "probe:dict", {"a": 1})


@probe("data.int_key")
async def data_int_key(ctx: Any) -> Any:
    return await outcome(ctx.node.data_manager.store_data, 7, "seven")


@probe("data.empty_value")
async def data_empty(ctx: Any) -> Any:
    dm = ctx.node.data_manager
    return {"store": await outcome(dm.store_data, "probe:empty", ""), "get": describe(dm.get_data("probe:empty"))}


@probe("data.missing")
async def data_missing(ctx: Any) -> Any:
    return await outcome(ctx.node.data_manager.get_data, "probe:never-stored")


@probe("data.delete")
async def data_delete(ctx: Any) -> Any:
    dm = ctx.node.data_manager
    deleted = await outcome(dm.delete_data, "probe:str")
    return {"delete": deleted, "after": describe(dm.get_data("probe:str")),
            "delete_missing": await outcome(dm.delete_data, "probe:never-stored")}


# -- blockchain_interface --------------------------------------------------------------------------------
@probe("chain.account_address")
async def chain_account(ctx: Any) -> Any:
    return describe(ctx.node.blockchain_interface.account.address)


@probe("chain.connect")
async def chain_connect(ctx: Any) -> Any:
    return await outcome(ctx.node.blockchain_interface.connect)


@probe("chain.get_balance")
async def chain_balance(ctx: Any) -> Any:
    return await outcome(ctx.node.blockchain_interface.get_balance, own(ctx))


@probe("chain.get_balance_lowercase")
async def chain_balance_lower(ctx: Any) -> Any:
    return await outcome(ctx.node.blockchain_interface.get_balance, own(ctx).lower())


@probe("chain.get_balance_not_an_address")
async def chain_balance_bad(ctx: Any) -> Any:
    return await outcome(ctx.node.blockchain_interface.get_balance, "alice")


@probe("chain.send_transaction")
async def chain_send(ctx: Any) -> Any:
    chain = ctx.node.blockchain_interface
    await mined(ctx)
    before = chain.get_balance(ctx.receiver)
    sent = await outcome(chain.send_transaction, {"from": own(ctx), "to": ctx.receiver, "value": 7})
    await mined(ctx)
    return {"send": sent, "moved": chain.get_balance(ctx.receiver) - before}


@probe("chain.wait_for_receipt")
async def chain_receipt(ctx: Any) -> Any:
    chain = ctx.node.blockchain_interface
    tx_hash = chain.send_transaction({"from": own(ctx), "to": ctx.receiver, "value": 1})
    receipt = chain.wait_for_receipt(tx_hash)
    return {"status": describe(receipt["status"]), "status_ok": receipt["status"] == 1,
            "has": sorted(k for k in ("blockNumber", "transactionHash", "gasUsed", "from", "to") if k in receipt)}


@probe("chain.send_transaction_fills_the_dict")
async def chain_send_fills(ctx: Any) -> Any:
    """Production fills the caller's dict with the nonce, gas and gas price it lacks."""
    tx = {"from": own(ctx), "to": ctx.receiver, "value": 1}
    sent = await outcome(ctx.node.blockchain_interface.send_transaction, tx)
    await mined(ctx)
    return {"send": sent, "filled": describe({k: v for k, v in tx.items() if k not in ("from", "to", "value")})}


@probe("tokens.transfer_over_balance")
async def tokens_transfer_over_balance(ctx: Any) -> Any:
    """A native transfer of more than the node has: the chain refuses it (not a ValueError in production)."""
    await mined(ctx)
    return await outcome(ctx.node.token_manager.transfer_tokens, native(ctx), own(ctx), ctx.receiver, 10**30)


@probe("chain.deploy_contract")
async def chain_deploy(ctx: Any) -> Any:
    result = await outcome(ctx.node.blockchain_interface.deploy_contract, "ERC20Token", ["Probe", "PRB", 1000])
    return result


@probe("chain.deploy_unknown_contract")
async def chain_deploy_unknown(ctx: Any) -> Any:
    return await outcome(ctx.node.blockchain_interface.deploy_contract, "NoSuchContract", [])


@probe("chain.call_contract_function_unknown")
async def chain_call_unknown(ctx: Any) -> Any:
    return await outcome(ctx.node.blockchain_interface.call_contract_function, ctx.receiver, "balanceOf", [own(ctx)])


@probe("chain.get_contract_abi_unknown")
async def chain_abi_unknown(ctx: Any) -> Any:
    return await outcome(ctx.node.blockchain_interface.get_contract_abi, ctx.receiver)


# -- token_manager ---------------------------------------------------------------------------------------
@probe("tokens.initial")
async def tokens_initial(ctx: Any) -> Any:
    tm = ctx.node.token_manager
    return {"supported_tokens": describe(tm.supported_tokens), "node_tokens": describe(tm.node_tokens),
            "native": describe(tm.native_token_address)}


@probe("tokens.is_supported")
async def tokens_is_supported(ctx: Any) -> Any:
    tm = ctx.node.token_manager
    return {"native": tm.is_supported_token(native(ctx)), "other": tm.is_supported_token(ctx.receiver)}


@probe("tokens.get_balance_native")
async def tokens_balance(ctx: Any) -> Any:
    return await outcome(ctx.node.token_manager.get_balance, own(ctx), native(ctx))


@probe("tokens.get_balance_unsupported")
async def tokens_balance_unsupported(ctx: Any) -> Any:
    return await outcome(ctx.node.token_manager.get_balance, own(ctx), ctx.receiver)


@probe("tokens.transfer_native")
async def tokens_transfer(ctx: Any) -> Any:
    tm = ctx.node.token_manager
    await mined(ctx)
    before = tm.get_balance(ctx.receiver, native(ctx))
    sent = await outcome(tm.transfer_tokens, native(ctx), own(ctx), ctx.receiver, 3)
    await settle()
    await mined(ctx)
    return {"transfer": sent, "moved": tm.get_balance(ctx.receiver, native(ctx)) - before}


@probe("tokens.transfer_keywords")
async def tokens_transfer_keywords(ctx: Any) -> Any:
    tm = ctx.node.token_manager
    return await outcome(tm.transfer_tokens, token_address=native(ctx), from_address=own(ctx),
                         to_address=ctx.receiver, amount=1)


@probe("tokens.transfer_old_devnode_order")
async def tokens_transfer_old(ctx: Any) -> Any:
    """transfer_tokens(from, to, amount, token): devnode's old order, wrong in production."""
    return await outcome(ctx.node.token_manager.transfer_tokens, own(ctx), ctx.receiver, 1, native(ctx))


@probe("tokens.transfer_unsupported")
async def tokens_transfer_unsupported(ctx: Any) -> Any:
    return await outcome(ctx.node.token_manager.transfer_tokens, ctx.receiver, own(ctx), ctx.receiver, 1)


@probe("tokens.issue_new_token")
async def tokens_issue(ctx: Any) -> Any:
    tm = ctx.node.token_manager
    issued = await outcome(tm.issue_new_token, "Probe Token", "PRB", 1000)
    address = tm.node_tokens.get("PRB")
    ctx.state["issued"] = address
    return {"issue": issued, "node_tokens": describe(tm.node_tokens),
            "supported": address is not None and tm.is_supported_token(address),
            "entry": describe(tm.supported_tokens.get(address)) if address else None}


@probe("tokens.issued_balance")
async def tokens_issued_balance(ctx: Any) -> Any:
    """The issuer's balance of the token it issued (production's bundled ERC20Token.json)."""
    return await outcome(ctx.node.token_manager.get_balance, own(ctx), ctx.state.get("issued"))


@probe("tokens.mint")
async def tokens_mint(ctx: Any) -> Any:
    return await outcome(ctx.node.token_manager.mint_tokens, ctx.state.get("issued"), ctx.receiver, 5)


@probe("tokens.mint_not_issued")
async def tokens_mint_native(ctx: Any) -> Any:
    return await outcome(ctx.node.token_manager.mint_tokens, native(ctx), ctx.receiver, 5)


@probe("tokens.add_supported_token")
async def tokens_add(ctx: Any) -> Any:
    tm = ctx.node.token_manager
    added = await outcome(tm.add_supported_token, UNFUNDED, [])
    return {"add": added, "entry": describe(tm.supported_tokens.get(UNFUNDED)),
            "supported": tm.is_supported_token(UNFUNDED)}


# -- payment_processor -----------------------------------------------------------------------------------
@probe("payments.process_payment")
async def payments_ok(ctx: Any) -> Any:
    tm = ctx.node.token_manager
    await mined(ctx)
    before = tm.get_balance(ctx.receiver, native(ctx))
    paid = await outcome(ctx.node.payment_processor.process_payment, own(ctx), ctx.receiver, 2, native(ctx))
    await settle()
    await mined(ctx)
    return {"pay": paid, "to_received": tm.get_balance(ctx.receiver, native(ctx)) - before}


@probe("payments.insufficient_balance")
async def payments_insufficient(ctx: Any) -> Any:
    return await outcome(ctx.node.payment_processor.process_payment, UNFUNDED, own(ctx), 10, native(ctx))


@probe("payments.unsupported_token")
async def payments_unsupported(ctx: Any) -> Any:
    return await outcome(ctx.node.payment_processor.process_payment, own(ctx), ctx.receiver, 1, ctx.receiver)


@probe("payments.transaction_history")
async def payments_history(ctx: Any) -> Any:
    return await outcome(ctx.node.payment_processor.get_transaction_history, own(ctx))


# -- compliance_manager ----------------------------------------------------------------------------------
@probe("compliance.record")
async def compliance_record(ctx: Any) -> Any:
    return await outcome(ctx.node.compliance_manager.record_compliance_event, "probe", {"a": 1})


@probe("compliance.verify")
async def compliance_verify(ctx: Any) -> Any:
    cm = ctx.node.compliance_manager
    return {"recorded": await outcome(cm.verify_compliance, "probe", {"a": 1}),
            "other_data": await outcome(cm.verify_compliance, "probe", {"a": 2}),
            "other_type": await outcome(cm.verify_compliance, "nope", {"a": 1})}


@probe("compliance.history")
async def compliance_history(ctx: Any) -> Any:
    return await outcome(ctx.node.compliance_manager.get_compliance_history)


@probe("compliance.history_filtered")
async def compliance_history_filtered(ctx: Any) -> Any:
    return await outcome(ctx.node.compliance_manager.get_compliance_history, ["probe"])


# -- p2p_network -----------------------------------------------------------------------------------------
@probe("p2p.is_running")
async def p2p_running(ctx: Any) -> Any:
    return describe(ctx.node.p2p_network.is_running)


@probe("p2p.peers_initially")
async def p2p_initial(ctx: Any) -> Any:
    p2p = ctx.node.p2p_network
    return {"connected": describe(p2p.get_connected_peers()), "healthy": describe(p2p.get_healthy_peers())}


@probe("p2p.network_stats")
async def p2p_stats(ctx: Any) -> Any:
    return await outcome(ctx.node.p2p_network.get_network_stats)


@probe("p2p.connect_to_peer")
async def p2p_connect(ctx: Any) -> Any:
    p2p = ctx.node.p2p_network
    connected = await outcome(p2p.connect_to_peer, ctx.peer_url)
    return {"connect": connected, "peers": describe(p2p.get_connected_peers()),
            "healthy": len(p2p.get_healthy_peers())}


@probe("p2p.connect_to_peer_bad_url")
async def p2p_connect_bad(ctx: Any) -> Any:
    return await outcome(ctx.node.p2p_network.connect_to_peer, "not-a-peer")


@probe("p2p.send_data")
async def p2p_send(ctx: Any) -> Any:
    return await outcome(ctx.node.p2p_network.send_data, "d" * 64, "payload")


@probe("p2p.broadcast_data")
async def p2p_broadcast(ctx: Any) -> Any:
    return await outcome(ctx.node.p2p_network.broadcast_data, "c" * 64, "payload")


@probe("p2p.get_data_unknown")
async def p2p_get_unknown(ctx: Any) -> Any:
    return await outcome(ctx.node.p2p_network.get_data, "b" * 64)


# -- a plugin written from production's source only --------------------------------------------------------
@probe("author_plugin.behaviour")
async def author_plugin(ctx: Any) -> Any:
    """The ledger plugin (written against production's source) reacting to events through every service."""
    plugin = ctx.node.plugin_manager.get_plugin("ledger")
    if plugin is None:
        return "not loaded"
    await ctx.node.event_bus.publish(_event(ctx, "DATA_VERIFIED", {"data_hash": "a" * 64}))
    await settle()
    return plugin.report


# -- periodic events (last: production publishes them 10 s after start) -------------------------------------
@probe("node.periodic_updates")
async def node_periodic(ctx: Any) -> Any:
    wanted = {"health.update", "network.stats_update"}
    seen = await wait_for(lambda: wanted <= set(ctx.events.types()), timeout=max(0.0, ctx.periodic_deadline()))
    found = [e for e in ctx.events.events if getattr(e.type, "value", "") in wanted]
    first: dict[str, Any] = {}
    for e in found:
        first.setdefault(e.type.value, describe(e.data))
    health = next((e.data for e in found if e.type.value == "health.update"), None)
    return {"seen": seen, "first": first, "health": health}  # plugins compare these strings ("healthy", ...)


async def run_all(ctx: Any) -> dict[str, Any]:
    """Run every probe in order: observation plus the events and watched log lines it caused."""
    observations: dict[str, Any] = {}
    for name, fn in PROBES:
        events, logs = ctx.events.mark(), ctx.logs.mark()
        warnings = ctx.warnings_mark()
        try:
            result = await asyncio.wait_for(fn(ctx), timeout=30)
        except Exception as exc:  # the probe itself broke: that is an observation too
            result = {"probe_failed": f"{type(exc).__name__}: {exc}"[:300]}
        await settle()
        observations[name] = {"result": result, "events": ctx.events.since(events), "logs": ctx.logs.since(logs),
                              "warnings": ctx.warnings_since(warnings)}
    return observations
