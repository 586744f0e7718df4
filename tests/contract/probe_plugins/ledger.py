"""A plugin written only from production's source (services/*.py, dashboard/), used unmodified on every node.

On DATA_VERIFIED it keeps a verified-data ledger: stores the entry, encrypts it,
pays the issuer a fee, records and verifies a compliance event, looks at the
network, and publishes COMPLIANCE_EVENT. ``report`` says how each call went.
"""
import json
import logging
import os
import time

from dashboard import Event, EventType

logger = logging.getLogger(__name__)
FEE_RECEIVER = "0xc0FfEeC0FFeEC0fFEEc0fFEEc0FFeec0FFeEc0Ff"


def journal(plugin, what, **data):
    with open(os.environ["CONTRACT_JOURNAL"], "a") as f:
        f.write(json.dumps({"plugin": plugin, "what": what, **data}) + "\n")


def kind(value):
    return type(value).__name__


class LedgerPlugin:
    def __init__(self, node):
        self.node = node
        self.report = {}

    def initialize(self):
        journal("ledger", "initialize")
        self.node.event_bus.subscribe(EventType.DATA_VERIFIED, self.on_verified)
        self.fee = int(os.getenv("LEDGER_FEE", "1"))

    async def on_verified(self, event):
        data_hash = event.data.get("data_hash")
        if not data_hash:
            return
        node = self.node
        own = node.blockchain_interface.account.address
        native = node.get_native_token_address()
        entry = json.dumps({"hash": data_hash, "at": int(time.time())})
        report = self.report

        node.data_manager.store_data(f"ledger:{data_hash}", entry)
        report["stored_back"] = node.data_manager.get_data(f"ledger:{data_hash}") == entry
        report["encrypted_back"] = node.decrypt_data(node.encrypt_data(entry)) == entry
        report["fee"] = self.fee

        balance = node.token_manager.get_balance(own, native)
        report["balance"] = kind(balance)
        report["chain_balance_matches"] = node.blockchain_interface.get_balance(own) == balance
        report["found_by_manager"] = node.plugin_manager.get_plugin("ledger") is self
        ok, tx_hash = node.payment_processor.process_payment(own, FEE_RECEIVER, self.fee, native)
        report["paid"] = [ok, kind(tx_hash)]
        report["nonce"] = kind(node.payment_processor.get_transaction_history(own))

        record = {"ledger": data_hash}
        compliance_tx = node.compliance_manager.record_compliance_event("ledger_entry", record)
        report["compliance_tx"] = kind(compliance_tx)
        # anvil mines a sent transaction a moment after send_raw_transaction returns: wait, as a plugin must
        node.blockchain_interface.wait_for_receipt(compliance_tx)
        report["compliance_verified"] = node.compliance_manager.verify_compliance("ledger_entry", record)

        stats = node.p2p_network.get_network_stats()
        report["stats_keys"] = sorted(stats)
        report["peers"] = kind(node.p2p_network.get_connected_peers())
        report["supported_native"] = node.token_manager.is_supported_token(native)

        await node.event_bus.publish(Event(type=EventType.COMPLIANCE_EVENT,
                                           data={"data_hash": data_hash, "tx_hash": compliance_tx}))
        logger.info("ledger entry %s recorded", data_hash[:8])

    def shutdown(self):
        journal("ledger", "shutdown")
        self.node.event_bus.unsubscribe(EventType.DATA_VERIFIED, self.on_verified)
