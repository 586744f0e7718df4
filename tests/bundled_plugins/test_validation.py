"""The validation plugin wraps node.share_data: blocked data is refused, the original comes back on unload."""

import pytest

from devnode import EventType


def test_refuses_secrets(devnode):
    devnode.load("validation_plugin")

    with pytest.raises(ValueError, match="social security number"):
        devnode.share("note: ssn 123-45-6789", "peer1")

    assert devnode.events.of_type(EventType.DATA_SHARED) == []


def test_lets_clean_data_through(devnode):
    devnode.load("validation_plugin")

    tx_hash = devnode.share("quarterly totals", "peer1")

    assert [h["tx_hash"] for h in devnode.node.compliance_manager.get_compliance_history(["data_share"])] == [tx_hash]


def test_unload_restores_the_original_share_data(devnode):
    original = devnode.node.share_data
    devnode.load("validation_plugin")
    assert devnode.node.share_data != original

    devnode.unload("validation_plugin")

    assert devnode.node.share_data == original
    devnode.share("password: hunter2", "peer1")  # no longer validated
