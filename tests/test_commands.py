"""The command table on a CommandContext alone: no Runtime, a real node and host (the harness)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from conftest import HostHarness, write_plugin
from devnode.commands import COMMANDS, CommandContext, complete, execute

GREETER = """
    class Greeter_pluginPlugin:
        def __init__(self, node):
            self.node = node

        def initialize(self):
            pass

        def shutdown(self):
            pass
"""


def context(h: HostHarness, restart: Callable[[str], None] | None = None) -> tuple[CommandContext, dict[str, list[Any]]]:
    """A context over the harness's node and host; what the runtime would be asked to do is recorded."""
    asked: dict[str, list[Any]] = {"stop": [], "restart": [], "tasks": [], "levels": []}

    def start_task(coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        asked["tasks"].append(name)
        return asyncio.get_running_loop().create_task(coro, name=name)

    ctx = CommandContext(node=h.node, host=h.host, reporter=h.reporter, stop=asked["stop"].append,
                         restart=restart, start_task=start_task, set_log_level=asked["levels"].append)
    return ctx, asked


def test_commands_need_only_their_context(harness: Callable[..., HostHarness], plugin_dir: Any) -> None:
    write_plugin(plugin_dir, "greeter_plugin", GREETER)
    h = harness().start()
    ctx, asked = context(h)
    for line in ("status", "unload greeter_plugin", "load greeter_plugin", "log-level debug", "restart", "quit"):
        h.run(execute(ctx, line))
    status = h.kinds("status")[-1]
    assert [p["plugin"] for p in status["plugins"]] == ["greeter_plugin"] and status["peers"]
    assert [r["plugin"] for r in h.kinds("plugin.loaded")] == ["greeter_plugin", "greeter_plugin"]
    assert asked["levels"] == ["DEBUG"] and h.kinds("command.result")[-1]["result"] == {"level": "DEBUG"}
    # No restart in this context (as in a headless run): the command says so, nothing else happens.
    assert "restart is for devnode run" in h.kinds("command.error")[-1]["error"]
    assert asked["stop"] == ["quit"] and asked["restart"] == []


def test_every_command_completes_through_the_table(harness: Callable[..., HostHarness], plugin_dir: Any) -> None:
    write_plugin(plugin_dir, "greeter_plugin", GREETER)
    h = harness().start()
    ctx, _ = context(h)
    assert complete(ctx, "") == list(COMMANDS) and complete(ctx, "lo") == list(COMMANDS)
    assert complete(ctx, "unload gr") == ["greeter_plugin"]  # the word being typed: its position's words
    assert complete(ctx, "unload greeter_plugin ") == []  # nothing comes after NAME
    peers = list(h.node.p2p_network.peers)
    assert peers and complete(ctx, "peer disconnect ") == complete(ctx, "share ") == peers
