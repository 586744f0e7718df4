"""``node.compliance_manager``: production's ComplianceManager (services/compliance_manager.py) on the local chain.

An event is a transaction from the node to the zero address whose data is
``"{event_type}:{sha256(str(event_data))}"``; verifying and listing read
those transactions back from the last 1000 blocks, newest first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Any

from devnode.node.chain import LocalChain
from devnode.node.chain_values import ZERO_ADDRESS
from devnode.node.tracked import Tracked

SCANNED_BLOCKS = 1000  # production scans range(latest, max(0, latest - 1000), -1)


def event_hash(event_data: Any) -> str:
    """Production's event hash: SHA-256 hex of ``str(event_data)``."""
    return hashlib.sha256(str(event_data).encode()).hexdigest()


class ComplianceManager(Tracked):
    """Records, verifies and lists compliance events, as production does on chain."""

    tracked_name = "node.compliance_manager"

    def __init__(self, blockchain_interface: LocalChain) -> None:
        self.blockchain = blockchain_interface

    def update_blockchain_interface(self, new_blockchain_interface: LocalChain) -> None:
        self.blockchain = new_blockchain_interface

    def record_compliance_event(self, event_type: str, event_data: Any) -> str:
        """Record the event in a chain transaction; returns the transaction hash."""
        text = f"{event_type}:{event_hash(event_data)}"
        return self.blockchain.send_transaction(
            {"from": self.blockchain.account.address, "to": ZERO_ADDRESS, "data": text}
        )

    def verify_compliance(self, event_type: str, event_data: Any) -> bool:
        """True iff an ``event_type`` event with this data was recorded in the last 1000 blocks."""
        wanted = f"{event_type}:{event_hash(event_data)}"
        return any(wanted in text for _, text, _ in self._events())

    def get_compliance_history(self, filters: Collection[str] | None = None) -> list[dict[str, Any]]:
        """``{type, hash, block, tx_hash}`` per event, newest first; ``filters``: the event types to keep."""
        events = list(self._events())
        if events:
            self.blockchain.notices.note(
                "compliance-history-web3",
                "devnode listed the compliance events",
                "get_compliance_history() raises TypeError under web3 7 as soon as a compliance event is in range "
                "(services/compliance_manager.py:182 calls str.startswith on the HexBytes tx['input'])",
            )
        history = []
        for tx, text, block in events:
            if ":" not in text:
                continue
            kind, digest = text.split(":", 1)
            if filters is None or kind in filters:
                history.append({"type": kind, "hash": digest, "block": block, "tx_hash": tx})
        return history

    def _events(self) -> list[tuple[str, str, int]]:
        """(tx_hash, data text, block) of every transaction to the zero address in range, newest first."""
        latest = self.blockchain.block_number()
        first = max(1, latest - SCANNED_BLOCKS + 1)
        return [
            (tx["hash"], str(tx.get("data") or ""), tx["blockNumber"])
            for tx in self.blockchain.transactions_since(first)
            if tx.get("to") == ZERO_ADDRESS
        ]
