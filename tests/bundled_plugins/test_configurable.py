"""The configurable plugin reads configurable.json from the plugin dir; a reload picks up edits."""

import json
import shutil
from pathlib import Path

import pytest

from devnode import EventType

BUNDLED = Path(__file__).resolve().parents[2] / "plugins"


@pytest.fixture
def devnode_plugin_dir(tmp_path):
    """A copy of the bundled plugins, so the test can edit configurable.json."""
    copy = tmp_path / "plugins"
    shutil.copytree(BUNDLED, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_handles_the_configured_events(devnode):
    plugin = devnode.load("configurable_plugin")

    event = devnode.publish(EventType.DATA_SHARED, {"data_hash": "h", "recipient": "peer1"})

    assert event.handled_by == ["configurable_plugin"]
    assert any(m.startswith(plugin.config["greeting"]) for m in devnode.log_messages("configurable_plugin"))


def test_reload_applies_a_config_change(devnode):
    devnode.load("configurable_plugin")
    config_file = devnode.plugin_dir / "configurable.json"
    config_file.write_text(json.dumps({"watch": ["health.update"], "greeting": "hi"}))

    plugin = devnode.reload("configurable_plugin")

    assert plugin.config["greeting"] == "hi"
    assert devnode.publish(EventType.DATA_SHARED, {}).handled_by == []
    assert devnode.publish(EventType.HEALTH_UPDATE, {}).handled_by == ["configurable_plugin"]


def test_disabled_plugin_subscribes_to_nothing(devnode):
    (devnode.plugin_dir / "configurable.json").write_text(json.dumps({"enabled": False}))

    devnode.load("configurable_plugin")

    assert devnode.publish(EventType.DATA_SHARED, {}).handled_by == []
