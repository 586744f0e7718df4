"""Where devnode deliberately differs from production, the author is told once, with both file:lines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from conftest import write_plugin

from devnode.cli import main
from devnode.config import load_config
from devnode.bus import Event, EventType


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def warnings_of(h: Any, code: str) -> list[dict[str, Any]]:
    return [r for r in h.kinds("warning") if r.get("code") == code]


def test_a_factory_function_as_the_plugin_class_gives_no_false_missing_method_warning(
    harness: Any, plugin_dir: Path
) -> None:
    write_plugin(plugin_dir, "factory_plugin", """
        class _Impl:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                pass

            def shutdown(self):
                pass


        def Factory_pluginPlugin(node):
            return _Impl(node)
    """)
    write_plugin(plugin_dir, "bare_plugin", """
        def Bare_pluginPlugin(node):
            return object()
    """)
    h = harness().start()
    assert "factory_plugin" in h.host.plugins
    assert [r for r in h.kinds("warning", "factory_plugin")] == []
    codes = {r["code"] for r in h.kinds("warning", "bare_plugin")}
    assert codes == {"missing-initialize", "missing-shutdown"}


def test_initialize_that_raises_is_swept_with_productions_behaviour_named(harness: Any, plugin_dir: Path) -> None:
    path = write_plugin(plugin_dir, "half_plugin", """
        from dashboard import EventType


        class Half_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on)
                raise RuntimeError("half way")

            def shutdown(self):
                pass

            def on(self, event):
                pass
    """)
    h = harness().start()
    [warning] = warnings_of(h, "initialize-raises")
    assert "services/plugin_manager.py:20-22" in warning["message"] and "shutdown() is called" in warning["message"]
    assert warning["file"] == "plugins/half_plugin.py" and warning["line"] == 10
    assert h.bus.subscriber_count == 0 and path.exists()


HANDLERS = """
    import sys

    from dashboard import Event, EventType


    class Odd_pluginPlugin:
        def __init__(self, node):
            self.node = node

        def initialize(self):
            self.node.event_bus.subscribe(EventType.HEALTH_UPDATE, self.first)
            self.node.event_bus.subscribe(EventType.HEALTH_UPDATE, self.second)
            self.node.event_bus.subscribe(EventType.PEER_CONNECTED, self.first)
            self.node.event_bus.subscribe(EventType.DATA_RECEIVED, self.first)
            self.node.event_bus.subscribe(EventType.COMPLIANCE_EVENT, self.leave)

        def shutdown(self):
            pass

        def first(self, event):
            pass

        def second(self, event):
            pass

        def leave(self, event):
            sys.exit(3)

        async def odd_publish(self):
            await self.node.event_bus.publish(Event(EventType.DATA_VERIFIED, {"seen": {1, 2}}))
"""


def test_bus_differences_are_noted_once_per_plugin_with_the_plugins_line(harness: Any, plugin_dir: Path) -> None:
    path = write_plugin(plugin_dir, "odd_plugin", HANDLERS)
    h = harness().start()
    for _ in range(2):
        h.run(h.bus.publish(Event(EventType.COMPLIANCE_EVENT, {})))
        h.run(h.host.plugins["odd_plugin"].odd_publish())
    codes = [r["code"] for r in h.kinds("warning", "odd_plugin")]
    assert sorted(codes) == sorted([
        "dispatch-order", "never-published-peer_connected", "never-published-compliance_event",
        "data-received-never-published", "handler-exit"])
    # Published from the test (no plugin's code running): the notice names the test's line.
    [not_json] = [r for r in h.kinds("warning") if r["code"] == "event-not-json-data_verified"]
    assert not_json["plugin"] == "*" and not_json["file"] == str(path)
    assert not_json["line"] == line_of(path, "await self.node.event_bus.publish(Event(EventType.DATA_VERIFIED")
    by_code = {r["code"]: r for r in h.kinds("warning", "odd_plugin")}
    assert by_code["handler-exit"]["file"] == str(path)
    assert by_code["handler-exit"]["line"] == line_of(path, "sys.exit(3)")
    assert "dashboard/event_bus.py:174-180" in by_code["handler-exit"]["message"]
    assert by_code["dispatch-order"]["line"] == line_of(path, "HEALTH_UPDATE, self.second)") and "set" in by_code["dispatch-order"]["message"]
    assert "network/p2p_network.py:536" in by_code["data-received-never-published"]["message"]
    assert "api/websocket_handler.py" in not_json["message"]


def test_dispatch_order_is_noted_for_one_plugins_second_handler_on_a_type_only() -> None:
    """Counted per plugin and type: another plugin's handler, a removed one or another type does not count;
    a module body's handler, absorbed by the instance's ledger, does."""
    from devnode.bus import EventBus
    from devnode.node.notices import Notices
    from devnode.ownership import Ledger, reset_current, set_current

    bus, notices = EventBus(), Notices()
    bus.parity = notices
    seen: list[Any] = []
    notices.add_sink(seen.append)

    def as_plugin(ledger: Ledger, *subscriptions: tuple[EventType, Any]) -> None:
        token = set_current(ledger)
        try:
            for event_type, callback in subscriptions:
                bus.subscribe(event_type, callback)
        finally:
            reset_current(token)

    def noted() -> list[str]:
        return [n.plugin for n in seen if n.code == "dispatch-order"]

    a, b = Ledger("a_plugin"), Ledger("b_plugin")
    first, second, third = (lambda e: None), (lambda e: None), (lambda e: None)
    as_plugin(a, (EventType.HEALTH_UPDATE, first), (EventType.DATA_SHARED, second))
    as_plugin(b, (EventType.HEALTH_UPDATE, second))
    bus.unsubscribe(EventType.HEALTH_UPDATE, first)
    as_plugin(a, (EventType.HEALTH_UPDATE, third))
    assert noted() == []
    # A module body's subscription moves to the instance's ledger; the instance's second handler is noted.
    body, instance = Ledger("c_plugin"), Ledger("c_plugin")
    as_plugin(body, (EventType.DATA_SHARED, first))
    instance.absorb(body)
    as_plugin(instance, (EventType.DATA_SHARED, third))
    assert noted() == ["c_plugin"]
    assert bus.owners_subscribed(EventType.DATA_SHARED) == {"a_plugin": 1, "c_plugin": 2}
    for sub in instance.subscriptions:
        bus.remove_subscription(sub)
    assert bus.owners_subscribed(EventType.DATA_SHARED) == {"a_plugin": 1}


def test_config_values_production_refuses_are_simulated_but_warned(harness: Any, tmp_path: Path) -> None:
    config = load_config({"plugin_dir": str(tmp_path / "plugins")}, cwd=tmp_path, environ={
        "INITIAL_PEERS": "peer-a,http://10.0.0.1:8000", "BLOCKCHAIN_URL": "devnode://local",
        "NATIVE_TOKEN_ADDRESS": "native"})
    from devnode.node.node import DevNode

    config.data_dir = str(tmp_path / "data")
    node = DevNode(config)
    messages = {n.code: n.message for n in node.parity_notices.pending}
    assert set(messages) == {"config-initial-peers", "config-blockchain-url", "config-native-token-address"}
    assert "'peer-a' (from environment variable INITIAL_PEERS)" in messages["config-initial-peers"]
    assert "services/node.py:50-105" in messages["config-blockchain-url"]
    assert [p["host"] for p in node.p2p_network.get_connected_peers()].count("10.0.0.1") == 1
    node.store.close()
    node.db_connection.close()


def test_dotenv_values_land_in_the_environment_without_overriding_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plugins").mkdir()
    (tmp_path / ".env").write_text("WEBHOOK_URL=http://example.test/hook\nNODE_ID=from-dotenv\nKEPT=dotenv\n")
    environ = {"KEPT": "shell"}
    config = load_config(cwd=tmp_path, environ=environ, export_env=True)
    assert environ == {"KEPT": "shell", "WEBHOOK_URL": "http://example.test/hook", "NODE_ID": "from-dotenv"}
    assert sorted(config.exported_env) == ["NODE_ID", "WEBHOOK_URL"]
    # The CLI exports into the real environment for the plugins, and takes it back when it returns.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WEBHOOK_URL", raising=False)
    assert main(["check", "plugins", "--data-dir", str(tmp_path / "data")]) == 0
    assert "WEBHOOK_URL" not in os.environ


def test_check_fails_on_the_old_transfer_order_pointing_at_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    write_plugin(plugin_dir, "payer_plugin", """
        class Payer_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                pass

            def shutdown(self):
                pass

            def pay(self, to):
                tokens = self.node.token_manager
                tokens.transfer_tokens(self.node.address, to, 5, tokens.native_token_address)
                tokens.transfer_tokens(tokens.native_token_address, self.node.address, to, 5)
                return self.node.p2p_network.known_peers
    """)

    assert main(["check", str(plugin_dir), "--data-dir", str(tmp_path / "data")]) == 1
    out = capsys.readouterr().out
    assert "payer_plugin.py:13" in out
    assert "transfer_tokens(token_address, from_address, to_address, amount) (services/token_manager.py:42)" in out
    assert "call transfer_tokens(tokens.native_token_address, self.node.address, to, 5)" in out
    assert "payer_plugin.py:14" not in out  # production's order is fine
    assert "payer_plugin.py:15" in out and "get_connected_peers()" in out
