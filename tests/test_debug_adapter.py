"""``devnode run --debug-adapter``: a real DAP client attaches over loopback, as VS Code does."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conftest import WATCH_DEADLINE, atomic_write, write_plugin
from dap_client import DapClient
from devnode.debug_adapter import EndpointError, is_loopback, parse_endpoint

PLUGIN = """
    from dashboard.event_bus import EventType

    class Traced_pluginPlugin:
        def __init__(self, node):
            self.node = node
            self.version = "{version}"

        def initialize(self):
            self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on_shared)

        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.DATA_SHARED, self.on_shared)

        def on_shared(self, event):
            seen = event.data.get("a")
            self.last = (seen, self.version)
            return None
"""
BREAK_LINE = 16  # self.last = (seen, self.version)


def source(version: str) -> str:
    return textwrap.dedent(PLUGIN.format(version=version)).lstrip()


def attach(client: DapClient, path: Path, line: int) -> None:
    """What an editor's "attach" does: initialize, attach, breakpoints, configurationDone."""
    client.request("initialize", adapterID="debugpy", clientID="devnode-test", linesStartAt1=True,
                   columnsStartAt1=True, pathFormat="path")
    attach_seq = client.send("attach", justMyCode=False)
    client.wait_event("initialized")
    response = client.request("setBreakpoints", source={"path": str(path)}, breakpoints=[{"line": line}])
    assert response["body"]["breakpoints"][0]["verified"], response
    client.request("configurationDone")
    client.response_to(attach_seq, "attach")


def stopped_at(client: DapClient) -> tuple[int, dict[str, Any]]:
    event = client.wait_event("stopped", timeout=WATCH_DEADLINE)
    assert event["body"]["reason"] == "breakpoint", event
    thread = event["body"]["threadId"]
    frame = client.request("stackTrace", threadId=thread, levels=1)["body"]["stackFrames"][0]
    return thread, frame


def evaluate(client: DapClient, frame: dict[str, Any], expression: str) -> str:
    body = client.request("evaluate", expression=expression, frameId=frame["id"], context="watch")["body"]
    return str(body["result"])


def test_an_editor_attaches_stops_at_a_plugin_line_and_again_after_the_plugin_is_reloaded(
    devnode_process: Any, plugin_dir: Path
) -> None:
    path = write_plugin(plugin_dir, "traced_plugin", source("1.0.0"))
    node = devnode_process(plugin_dir, "--debug-adapter", "0", "--wait-for-client", "--timeout", "60")
    listening = node.wait_for("debugger.listening")
    assert listening["host"] == "127.0.0.1"  # loopback unless a host is given
    node.wait_for("debugger.waiting")
    assert not node.find("plugin.loaded")  # held until the editor attaches
    client = DapClient(listening["host"], listening["port"])
    try:
        attach(client, path.resolve(), BREAK_LINE)
        node.wait_for("node.ready")
        node.wait_for("debugger.attached")

        node.send('emit data.shared {"a": 1}')
        thread, frame = stopped_at(client)
        assert frame["line"] == BREAK_LINE and Path(frame["source"]["path"]).resolve() == path.resolve()
        assert evaluate(client, frame, "self.version") == "'1.0.0'"
        stop = node.wait_for("debugger.stopped")
        assert stop["plugin"] == "traced_plugin" and stop["line"] == BREAK_LINE and stop["on_loop"]
        client.request("continue", threadId=thread)
        event = node.wait_for("event", type="data.shared")
        handler = event["handlers"][0]
        assert handler["ok"] and handler.get("debugged") is True
        resumed = node.wait_for("debugger.resumed")
        paused_ms = (resumed["ts"] - stop["ts"]) * 1000
        assert handler["ms"] < paused_ms  # the event line leaves the time at the breakpoint out

        mark = node.mark()
        atomic_write(path, source("2.0.0"))  # new code objects, same file
        node.wait_for("plugin.reloaded", plugin="traced_plugin", after=mark)
        node.send('emit data.shared {"a": 2}')
        thread, frame = stopped_at(client)
        assert frame["line"] == BREAK_LINE
        assert evaluate(client, frame, "self.version") == "'2.0.0'"  # stopped in the new version
        assert evaluate(client, frame, "seen") == "2"
        client.request("continue", threadId=thread)
        node.wait_for("event", type="data.shared", after=mark)
        client.request("disconnect")
    finally:
        client.close()
    node.wait_for("debugger.detached")
    assert node.stop() == 0
    assert not node.find("warning", code="stall")  # the time stopped at the breakpoint is no stall


def test_endpoint_defaults_to_loopback_and_names_a_wrong_value() -> None:
    assert parse_endpoint("5678") == ("127.0.0.1", 5678)
    assert parse_endpoint("0.0.0.0:5678") == ("0.0.0.0", 5678)
    assert parse_endpoint("[::1]:9000") == ("::1", 9000)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    for bad, says in (("http", "is not [HOST:]PORT"), ("70000", "between 0 and 65535"), (":5678", "host")):
        with pytest.raises(EndpointError, match=re.escape(says)):
            parse_endpoint(bad)



def test_bad_debug_adapter_flags_are_named(plugin_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from devnode.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["run", str(plugin_dir), "--debug-adapter", "http"])
    assert stopped.value.code == 2
    assert "is not [HOST:]PORT" in capsys.readouterr().err
    assert main(["run", str(plugin_dir), "--ui", "plain", "--wait-for-client"]) == 2
    assert "--wait-for-client needs --debug-adapter" in capsys.readouterr().err
