"""The audit plugin: one JSON line per audited event, and a count that survives reloads."""

import json

from devnode import EventType


def audit_lines(devnode):
    path = devnode.data_dir / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_writes_a_line_per_audited_event(devnode):
    devnode.load("audit_plugin")

    devnode.share('{"invoice": 7}', "peer1")
    devnode.receive("peer2", {"reading": 3})  # not audited: production never publishes data.received
    devnode.publish(EventType.HEALTH_UPDATE, {"ok": True})  # not audited

    assert [line["event"] for line in audit_lines(devnode)] == ["data.shared"]
    assert devnode.plugin("audit_plugin").entries_written == 1


def test_payments_for_shared_data_are_audited(devnode):
    devnode.load("audit_plugin")
    node = devnode.node
    native = node.get_native_token_address()
    payer = node.p2p_network.find_peer("peer1").address
    devnode.call(node.token_manager.transfer_tokens, native, node.address, payer, 50)  # publishes nothing

    devnode.share("paid report", payer, payment_token=native, payment_amount=5)

    assert [line["event"] for line in audit_lines(devnode)] == ["token.transfer_completed", "data.shared"]


def test_entry_count_carries_over_a_reload(devnode):
    devnode.load("audit_plugin")
    devnode.share("a", "peer1")

    reloaded = devnode.reload("audit_plugin")
    devnode.share("b", "peer1")

    assert reloaded.entries_written == 2
    assert devnode.events.last(EventType.DATA_SHARED).handled_by == ["audit_plugin"]
