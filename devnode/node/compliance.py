"""``node.compliance_manager``: compliance events recorded on the local chain and kept in the Store."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Collection
from typing import Any

from devnode.node.chain import ZERO_ADDRESS, LocalChain
from devnode.node.storage import Store, canonical_json
from devnode.node.tracked import Tracked

_RECORD_FIELDS = ("tx_hash", "event_hash")


def event_hash(event_data: Any) -> str:
    """SHA-256 hex of the canonical JSON of ``event_data``."""
    return hashlib.sha256(canonical_json(event_data).encode()).hexdigest()


_digest = event_hash  # verify_compliance's production parameter name shadows event_hash


class ComplianceManager(Tracked):
    """Records, verifies and lists compliance events, as production does on chain."""

    tracked_name = "node.compliance_manager"

    def __init__(self, store: Store, chain: LocalChain) -> None:
        self.store = store
        self.chain = chain

    def record_compliance_event(self, event_type: str, event_data: dict[str, Any]) -> str:
        """Record the event in a chain transaction; returns the transaction hash."""
        if not isinstance(event_type, str) or not event_type:
            raise ValueError(f"event_type must be a non-empty string such as 'data_share', got {event_type!r}")
        digest = event_hash(event_data)
        with self.store.atomic():
            tx_hash = self.chain.send_transaction(
                {"from": self.chain.account.address, "to": ZERO_ADDRESS, "value": 0, "data": f"{event_type}:{digest}"}
            )
            self.store.add_compliance_event(tx_hash, event_type, digest, event_data, time.time())
        return tx_hash

    def verify_compliance(self, event_type: str, event_hash: str | dict[str, Any]) -> bool:
        """True iff an ``event_type`` event was recorded with this event hash or transaction hash.

        Production's older signature passes the event data itself; a dict is hashed first.
        """
        wanted = _digest(event_hash) if isinstance(event_hash, dict) else str(event_hash).lower()
        return any(
            e["event_type"] == event_type and wanted in (e["tx_hash"].lower(), e["event_hash"])
            for e in self.store.compliance_events()
        )

    def get_compliance_history(self, filters: dict[str, Any] | Collection[str] | None = None) -> list[dict[str, Any]]:
        """Recorded events, oldest first, optionally filtered.

        A dict filter matches ``event_type``, ``tx_hash``, ``event_hash`` on the
        record and any other key inside ``event_data``, e.g.
        ``{"event_type": "data_share", "recipient": "peer1"}``. A list or set is
        taken as production takes it: the event types to keep. Each record also
        carries production's keys ``type``, ``hash`` and ``block``.
        """
        history = []
        for record in self.store.compliance_events():
            if not _matches(record, filters):
                continue
            tx = self.chain.get_transaction(record["tx_hash"])
            history.append({
                **record, "type": record["event_type"], "hash": record["event_hash"],
                "block": tx["blockNumber"] if tx else None,
            })
        return history


def _matches(record: dict[str, Any], filters: dict[str, Any] | Collection[str] | None) -> bool:
    if filters is None:
        return True
    if not isinstance(filters, dict):
        return record["event_type"] in filters
    data = record["event_data"]
    for key, expected in filters.items():
        if key in ("event_type", "type"):
            actual = record["event_type"]
        elif key in _RECORD_FIELDS:
            actual = record[key]
        elif isinstance(data, dict) and key in data:
            actual = data[key]
        else:
            return False
        if actual != expected:
            return False
    return True
