"""A plugin written only from production's source (datamgmtnode/services, network, blockchain, dashboard).

It calls every service a plugin can reach, with production's signatures, and
writes what came back (types, dict keys, exception types and messages, the
events seen with their payload keys and value types) to
<DATA_DIR>/surface.json. The tests run it unmodified on devnode's stand-in
node and on production's own Node, and compare the two transcripts.
"""

import asyncio
import json
import os

from dashboard import Event, EventType

OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # any checksummed address that is not the node's
WATCHED = (EventType.DATA_SHARED, EventType.TRANSFER_COMPLETED, EventType.TRANSFER_FAILED, EventType.COMPLIANCE_EVENT)


def shape(value):
    """What a result looks like, not its value: type names, dict keys, list item shapes (and booleans)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        return {"dict": {str(k): shape(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}}
    if isinstance(value, (list, tuple)):
        return {type(value).__name__: [shape(v) for v in value[:3]]}
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return "hex64"
    return type(value).__name__


class Surface_pluginPlugin:
    def __init__(self, node):
        self.node = node
        self.results = {}
        self.events = []
        self.task = None

    def initialize(self):
        for event_type in WATCHED:
            self.node.event_bus.subscribe(event_type, self.on_event)
        self.task = asyncio.get_running_loop().create_task(self.probe_everything())

    def shutdown(self):
        for event_type in WATCHED:
            self.node.event_bus.unsubscribe(event_type, self.on_event)
        if self.task is not None:
            self.task.cancel()

    def on_event(self, event):
        self.events.append([event.type.value, shape(event.data)])

    def record(self, label, call):
        try:
            self.results[label] = ["ok", shape(call())]
        except Exception as exc:
            self.results[label] = ["raises", type(exc).__name__, str(exc)[:60]]

    async def record_async(self, label, call):
        try:
            self.results[label] = ["ok", shape(await call())]
        except Exception as exc:
            self.results[label] = ["raises", type(exc).__name__, str(exc)[:60]]

    async def probe_everything(self):
        node = self.node
        me = node.blockchain_interface.account.address
        native = node.get_native_token_address()
        tokens, payments = node.token_manager, node.payment_processor
        compliance, data, p2p = node.compliance_manager, node.data_manager, node.p2p_network

        self.record("native", lambda: native)
        self.record("encrypt", lambda: node.decrypt_data(node.encrypt_data({"a": 1})))
        self.record("decrypt-garbage", lambda: node.decrypt_data("garbage"))

        self.record("store-str", lambda: data.store_data("k1", "v1"))
        self.record("get-str", lambda: data.get_data("k1"))
        self.record("store-bytes", lambda: data.store_data(b"k2", b"v2"))
        self.record("get-bytes", lambda: data.get_data("k2"))
        self.record("store-dict", lambda: data.store_data("k3", {"a": 1}))
        self.record("delete", lambda: data.delete_data("k1"))
        self.record("get-missing", lambda: data.get_data("k1"))

        self.record("supported", lambda: tokens.supported_tokens)
        self.record("node-tokens", lambda: tokens.node_tokens)
        self.record("is-supported-native", lambda: tokens.is_supported_token(native))
        self.record("is-supported-other", lambda: tokens.is_supported_token(OTHER))
        self.record("balance-native", lambda: tokens.get_balance(me, native))
        self.record("balance-unsupported", lambda: tokens.get_balance(me, OTHER))
        self.record("transfer-native", lambda: tokens.transfer_tokens(native, me, OTHER, 1))
        self.record("transfer-unsupported", lambda: tokens.transfer_tokens(OTHER, me, OTHER, 1))
        self.record("mint-foreign", lambda: tokens.mint_tokens(native, OTHER, 1))

        self.record("pay", lambda: payments.process_payment(me, OTHER, 1, native))
        self.record("pay-unsupported", lambda: payments.process_payment(me, OTHER, 1, OTHER))
        self.record("pay-insufficient", lambda: payments.process_payment(me, OTHER, 10**40, native))
        self.record("tx-history", lambda: payments.get_transaction_history(me))

        self.record("record", lambda: compliance.record_compliance_event("consent", {"subject": 1}))
        self.record("verify", lambda: compliance.verify_compliance("consent", {"subject": 1}))
        self.record("verify-other", lambda: compliance.verify_compliance("consent", {"subject": 2}))
        self.record("history", lambda: compliance.get_compliance_history(["consent"]))

        self.record("chain-balance", lambda: node.blockchain_interface.get_balance(me))
        self.record("chain-call-unknown", lambda: node.blockchain_interface.call_contract_function(OTHER, "symbol", []))
        self.record("chain-deploy-unknown", lambda: node.blockchain_interface.deploy_contract("Nope", []))

        self.record("p2p-running", lambda: p2p.is_running)
        self.record("p2p-stats", lambda: sorted(p2p.get_network_stats()))
        self.record("p2p-healthy", lambda: isinstance(p2p.get_healthy_peers(), list))
        await self.record_async("p2p-connect-bad", lambda: p2p.connect_to_peer("peer7"))
        await self.record_async("p2p-get-missing", lambda: p2p.get_data("0" * 64))

        await self.record_async("share", lambda: node.share_data("report 1", "peer1"))
        await self.record_async("share-paid", lambda: node.share_data(
            "report 2", me, payment_token=native, payment_amount=1))
        await self.record_async("share-dict", lambda: node.share_data({"report": 3}, "peer1"))
        await self.record_async("get-shared", lambda: node.get_shared_data(node._hash_data("report 1")))
        await self.record_async("publish", lambda: node.event_bus.publish(Event(EventType.COMPLIANCE_EVENT, {"x": 1})))
        self.record("history-size", lambda: node.event_bus.history_size)

        path = os.path.join(node.config.data_dir, "surface.json")
        with open(path + ".tmp", "w") as f:
            json.dump({"results": self.results, "events": self.events}, f, indent=1, sort_keys=True)
        os.replace(path + ".tmp", path)
