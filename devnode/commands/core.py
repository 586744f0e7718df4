"""The command table: what a command is, what it may use of the node, running one line, completing one.

A command gets a ``CommandContext``, not the runtime: the node (either kind),
its host, the reporter, and the few runtime actions commands take (stop, restart, a
background task, the plugins' log level). Each command parses its own
arguments and either emits records through the reporter or raises
``CommandError`` with a message that quotes the bad input and shows the
expected form; it also says what may be typed after it (its completer), so the
console's Tab completion asks the table instead of repeating it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devnode.errors import DevnodeError

if TYPE_CHECKING:
    from devnode.host.host import PluginHost
    from devnode.reporting import Reporter


class CommandError(DevnodeError):
    """Bad input to a command; the message says what was expected."""


@dataclass(frozen=True)
class CommandContext:
    """What a command may use of the running node, and nothing else of the runtime."""

    node: Any  # devnode's DevNode or production's Node (devnode/node/controls.py serves both)
    host: PluginHost
    reporter: Reporter
    stop: Callable[[str], None]  # shut the node down cleanly, for this reason
    restart: Callable[[str], None] | None  # start devnode again in place; None in a headless scenario/replay run
    start_task: Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]]  # cancelled when the node stops
    set_log_level: Callable[[str], None]  # the plugins' log level (the footer shows it)


Handler = Callable[[CommandContext, str], Awaitable[None]]
# The words that may be typed as argument number ``position`` (0: the first after the command's name).
Completer = Callable[[CommandContext, int], Sequence[str]]


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    run: Handler
    complete: Completer | None = None


# In the order ``help`` lists them: the order the group modules register theirs (commands/__init__.py).
COMMANDS: dict[str, Command] = {}


def command(name: str, usage: str, summary: str, complete: Completer | None = None) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = Command(name, usage, summary, fn, complete)
        return fn

    return register


async def execute(ctx: CommandContext, line: str) -> None:
    """Run one command line; errors become a ``command.error`` record."""
    text = line.strip()
    if not text or text.startswith("#"):
        return
    name, _, rest = text.partition(" ")
    cmd = COMMANDS.get(name.lower())
    try:
        if cmd is None:
            raise CommandError(f'unknown command "{name}"; type "help" for the list ({", ".join(COMMANDS)})')
        await cmd.run(ctx, rest.strip())
    except DevnodeError as exc:  # CommandError and devnode's own errors say what was expected
        ctx.reporter.emit("command.error", command=text, error=str(exc))
    except Exception as exc:  # bad values, or unforeseen (a full disk, a plugin's wrapper): keep the console alive
        ctx.reporter.emit("command.error", command=text, error=f"{type(exc).__name__}: {exc}")


def complete(ctx: CommandContext, line: str) -> list[str]:
    """The words that may come next in ``line``: a command's name, then what that command takes there."""
    words = line.split()
    typing_a_word = bool(words) and not line.endswith(" ")
    if len(words) == 0 or (len(words) == 1 and typing_a_word):
        return list(COMMANDS)
    cmd = COMMANDS.get(words[0].lower())
    if cmd is None or cmd.complete is None:
        return []
    position = len(words) - (2 if typing_a_word else 1)
    return list(cmd.complete(ctx, position))


# -- argument helpers -----------------------------------------------------------------
def parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{what} is not valid JSON ({exc.msg} at column {exc.colno}): {text}") from None


def split_first(rest: str, usage: str) -> tuple[str, str]:
    head, _, tail = rest.partition(" ")
    if not head:
        raise CommandError(f"usage: {usage}")
    return head, tail.strip()


def name_and_json(rest: str, usage: str, example: str) -> tuple[str, str, Any]:
    """``NAME JSON`` (share, receive): the name, the JSON as typed, and its value; a usage error otherwise."""
    name, payload = split_first(rest, usage)
    if not payload:
        raise CommandError(f"usage: {usage}, e.g. {example}")
    return name, payload, parse_json(payload, "the data")


def plugin_name(ctx: CommandContext, name: str, usage: str) -> str:
    if not name:
        raise CommandError(f"usage: {usage}")
    module = name[:-3] if name.endswith(".py") else name
    if not module.isidentifier():
        # A path ("../x", "sub/x") would name code outside the plugin dir, or no module at all.
        raise CommandError(f'"{name}" is not a plugin name: give the module name of a .py file in the plugin dir '
                           f"(plugins: {known_plugins(ctx)}); usage: {usage}")
    return module


def known_plugins(ctx: CommandContext) -> str:
    return ", ".join(ctx.host.plugin_names()) or "none"


def first_argument(words: Callable[[CommandContext], Sequence[str]]) -> Completer:
    """A completer offering ``words(ctx)`` for the first argument only."""
    return lambda ctx, position: words(ctx) if position == 0 else ()


def peer_names(ctx: CommandContext, connected_only: bool = False) -> list[str]:
    """The stand-in's simulated peer ids; for production's P2PNetwork, host:port of its known peers."""
    network = ctx.node.p2p_network
    simulated = getattr(network, "peers", None)
    if isinstance(simulated, dict):
        return [pid for pid, peer in simulated.items() if peer.connected or not connected_only]
    return [f"{p['host']}:{p['port']}" for p in network.get_connected_peers()]
