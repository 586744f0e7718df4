"""The ``devnode`` command line's arguments: every subcommand, its options, and how a value is checked."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from typing import Any

from devnode import __version__

MAX_MS = 60_000  # --debounce/--step: beyond a minute the watcher would seem dead (and overflow watchfiles)
MAX_SECONDS = 3600.0  # --timeout


def _milliseconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'"{text}" is not a whole number of milliseconds '
                                         f"(accepted: 1 to {MAX_MS})") from None
    if not 0 < value <= MAX_MS:
        raise argparse.ArgumentTypeError(f'"{text}" is out of range: give 1 to {MAX_MS} milliseconds')
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'"{text}" is not a number of seconds (e.g. 5 or 0.5)') from None
    if not math.isfinite(value) or not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f'"{text}" is out of range: give a number of seconds greater than 0 '
                                         f"and at most {MAX_SECONDS:g} (e.g. 5 or 0.5)")
    return value


def _status_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f'"{text}" is not a number of seconds >= 0 (0 turns the status events off)')
    return value


def _debug_endpoint(text: str) -> str:
    from devnode.debug_adapter import EndpointError, parse_endpoint

    try:
        parse_endpoint(text)
    except EndpointError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _peers(text: str) -> list[str]:
    """``--peers 5`` makes peer1..peer5; ``--peers alice,bob`` names them; ``--peers 0``: none, as production starts."""
    if text.isdigit():
        count = int(text)
        if not 0 <= count <= 1000:
            raise argparse.ArgumentTypeError(f'"{text}": give between 0 and 1000 peers')
        return [f"peer{i}" for i in range(1, count + 1)]
    peers = [p.strip() for p in text.split(",") if p.strip()]
    if not peers:
        raise argparse.ArgumentTypeError(f'"{text}" names no peers; use a count (3) or names (alice,bob)')
    return peers


def _node_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plugin_dir", nargs="?", metavar="PLUGIN_DIR",
                        help="directory of plugin modules (default: $PLUGIN_DIR or ./plugins)")
    node = parser.add_argument_group("node configuration (overrides the environment and .env)")
    node.add_argument("--env-file", metavar="PATH", help="read configuration from this .env file (default: ./.env if present)")
    node.add_argument("--data-dir", metavar="DIR", help="where the node keeps its SQLite data and key (default: $DATA_DIR or ./data)")
    node.add_argument("--node-id", metavar="ID", help="this node's id (default: $NODE_ID or node1)")
    node.add_argument("--peers", type=_peers, metavar="N|A,B", help="simulated peers: a count (0: none, as production starts) or comma-separated ids (default: $INITIAL_PEERS or peer1,peer2,peer3)")
    node.add_argument("--p2p-port", metavar="PORT", help="reported as config.p2p_port; devnode opens no socket "
                                                         "(--node production: its DHT's port, on 127.0.0.1 only)")
    kind = parser.add_argument_group("which node (docs/production-node.md)")
    kind.add_argument("--node", choices=["standin", "production"], default="standin",
                      help="standin: devnode's own services (default); production: production's own Node and "
                           "services from your DataMgmt Node checkout, on a local chain")
    kind.add_argument("--node-src", metavar="PATH",
                      help="with --node production: your datamgmtnode checkout (default: $DATAMGMTNODE_SRC, else "
                           "one found in or above the plugin dir's parent)")
    kind.add_argument("--authorize", choices=["devnode", "production"],
                      help="with --node production: devnode grants share_data authorization (default; production "
                           "as shipped refuses every share) or production's own check decides")
    node.add_argument("--status-interval", type=_status_seconds, metavar="SECONDS",
                      help="seconds between the periodic health.update/network.stats_update events (production: 10; 0: none)")
    parser.add_argument("--timeout", type=_seconds, default=5.0, metavar="SECONDS",
                        help="limit for an async initialize(), shutdown() or state hook, for one async event "
                             "handler (cancelled past it), and for plugin code blocking the event loop before "
                             "devnode interrupts it; more than 0, at most 3600 (default: 5)")


def _columns() -> int:
    """``shutil.get_terminal_size().columns``, which argparse asks for, without importing shutil.

    argparse imports shutil for it on every ``add_argument``; shutil imports zlib, bz2 and lzma,
    a few ms of every start.
    """
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    stdout = sys.__stdout__
    try:
        return (os.get_terminal_size(stdout.fileno()).columns if stdout is not None else 0) or 80
    except (AttributeError, ValueError, OSError):
        return 80


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, as wide as argparse makes it (see ``_columns``)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser with ``_Formatter``; its sub-commands' parsers are ``_Parser`` too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command with its help; with ``command``, only that one's options (the others' cost every start)."""

    def wanted(name: str) -> bool:
        return command is None or command == name

    parser = _Parser(
        prog="devnode",
        description="A hot-reloading development node for DataMgmt Node plugins.",
        epilog="Run 'devnode COMMAND --help' for a command's options. Docs: docs/ in the devnode repository.",
    )
    parser.add_argument("--version", action="version", version=f"devnode {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run", help="run a dev node that live-reloads your plugins",
        description="Start a local dev node, load the plugins, and reload each one the moment its file is saved. "
                    "Type commands on stdin (try 'help'); Ctrl-C or 'quit' shuts every plugin down cleanly.",
    )
    if wanted("run"):
        _run_options(run)

    check = sub.add_parser(
        "check", help="load, initialize and shut down every plugin once and report problems",
        description="Load every plugin in a throwaway node (twice, in opposite orders), shut them down, and report "
                    "every failure and every way they would behave differently in the production node. "
                    "Exit 0 when clean, 1 when a plugin fails (or, with --strict, on any parity warning).",
    )
    if wanted("check"):
        _node_options(check)
        check.add_argument("--strict", action="store_true", help="treat production-parity warnings as problems (exit 1)")
        check.add_argument("--format", choices=["text", "json"], default="text", help="report format (default: text)")
    _playback_commands(sub, wanted)
    _new_command(sub, wanted("new"))
    sub.add_parser(
        "setup-chain", help="install the local chain (anvil) the production-backed node runs on",
        description="Install anvil (npm package @foundry-rs/anvil) into devnode's cache dir, unless $DEVNODE_ANVIL "
                    "or an anvil on PATH is already there; print the binary used. See docs/production-node.md.",
    )
    return parser


def _run_options(run: argparse.ArgumentParser) -> None:
    _node_options(run)
    ui = run.add_argument_group("output")
    ui.add_argument("--ui", choices=["auto", "rich", "plain", "json"], default="auto",
                    help="rich console in a terminal, plain lines or JSON lines (default: auto = rich on a terminal, else plain)")
    ui.add_argument("--log-level", default="INFO", type=str.upper,
                    choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], help="plugins' log level (default: INFO)")
    watch = run.add_argument_group("reloading")
    watch.add_argument("--no-watch", action="store_true", help="do not watch the plugin dir (reload with the 'reload' command)")
    watch.add_argument("--debounce", type=_milliseconds, default=1600, metavar="MS",
                       help="longest time to group a burst of changes (watchfiles debounce; default: 1600)")
    watch.add_argument("--step", type=_milliseconds, default=10, metavar="MS",
                       help="quiet time that ends a batch of changes (watchfiles step; default: 10)")
    watch.add_argument("--force-polling", action="store_true",
                       help="poll instead of OS events (network or container mounts); polling can miss a second "
                            "change within the same second")
    _authoring_options(run)
    debug = run.add_argument_group("debugging")
    debug.add_argument("--pdb", action="store_true",
                       help="on an exception in a plugin, stop in a post-mortem debugger at the plugin's frame "
                            "(rich console only; ignored with --ui plain/json)")
    debug.add_argument("--console", action="store_true",
                       help="open the Python console on the live node at start; 'c' opens it later "
                            "(rich console only; ignored with --ui plain/json)")
    debug.add_argument("--debug-adapter", type=_debug_endpoint, metavar="[HOST:]PORT",
                       help="let an editor's debugger (VS Code, any Debug Adapter Protocol client) attach on PORT; "
                            "loopback only unless HOST is given (docs/debugging.md)")
    debug.add_argument("--wait-for-client", action="store_true",
                       help="with --debug-adapter: load no plugin until the editor has attached")
    _playback_run_options(run)


def _authoring_options(run: argparse.ArgumentParser) -> None:
    """--watch/--ignore/--editor/--test (docs/authoring.md); also DEVNODE_* variables and [tool.devnode]."""
    group = run.add_argument_group("authoring (also DEVNODE_WATCH/DEVNODE_IGNORE/DEVNODE_EDITOR, [tool.devnode])")
    group.add_argument("--watch", action="append", metavar="PATH",
                       help="also watch this file or directory (repeatable); a changed module there reloads every "
                            "plugin that imports it")
    group.add_argument("--ignore", action="append", metavar="GLOB",
                       help="ignore changes to files matching this gitignore-style pattern (repeatable); "
                            ".gitignore and .devnodeignore in the plugin dir are honoured too")
    group.add_argument("--editor", metavar="CMD|URL",
                       help="editor for the console's links and the o key: a URL template such as "
                            "vscode://file/{path}:{line}:{col}, or a command such as 'code -g {path}:{line}' "
                            "(default: $DEVNODE_EDITOR, then $EDITOR)")
    group.add_argument("--test-timeout", type=_seconds, default=60.0, metavar="SECONDS",
                       help="with --test: kill a test run that takes longer and report it (default: 60)")
    group.add_argument("--test", nargs=argparse.REMAINDER, metavar="PYTEST_ARGS",
                       help="after each reload, run the tests that cover the reloaded plugin (in a subprocess); "
                            "everything after --test goes to pytest, so give it last")


def _playback_run_options(run: argparse.ArgumentParser) -> None:
    group = run.add_argument_group("scenarios and recordings (docs/scenarios.md, docs/record-replay.md)")
    group.add_argument("--scenario", metavar="FILE", help="play this scenario file against the plugins once they are loaded")
    group.add_argument("--loop-scenario", action="store_true",
                       help="play the scenario again and again (re-reading the file each round) while you edit")
    group.add_argument("--record", metavar="FILE", help="write every event published on the bus to FILE (JSON lines)")


def _playback_commands(sub: Any, wanted: Callable[[str], bool]) -> None:
    headless = "Without --data-dir the node uses a fresh temporary data dir, so every run starts from the same state."
    scenario = sub.add_parser(
        "scenario", help="play a scenario file headless and exit 0 if every step passed, 1 if not (for CI)",
        description="Start a node with the plugins, play the scenario's steps, check its expectations, stop. "
                    f"Exit 0 when every step passed, 1 when one failed, 2 when the file is invalid. {headless}",
    )
    if wanted("scenario"):
        scenario.add_argument("file", metavar="FILE", help="the scenario (.toml; see docs/scenarios.md)")
        _node_options(scenario)
        _headless_output(scenario)

    replay = sub.add_parser(
        "replay", help="publish a recording's events again against the current plugins",
        description="Start a node with the plugins, publish the events of a recording made with "
                    "'devnode run --record FILE' again, report how every handler fared and what changed "
                    f"since the recording. Exit 0 when no handler failed, 1 when one did. {headless}",
    )
    if wanted("replay"):
        replay.add_argument("file", metavar="FILE", help="a recording made with devnode run --record FILE")
        replay.add_argument("--fast", action="store_true", help="as fast as possible instead of at recorded speed")
        _node_options(replay)
        _headless_output(replay)


def _headless_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ui", choices=["plain", "json"], default="plain", help="plain lines or JSON lines (default: plain)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="show only the scenario/replay results and problems, not every event and log line")
    parser.add_argument("--log-level", default="INFO", type=str.upper,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], help="plugins' log level (default: INFO)")


def _new_command(sub: Any, wanted: bool) -> None:
    new = sub.add_parser(
        "new", help="create a plugin and its test from a template",
        description="Write PLUGIN_DIR/NAME_plugin.py with the class name the production node expects, and "
                    "TESTS/test_NAME_plugin.py using devnode's pytest fixtures. Never overwrites a file.",
    )
    if not wanted:
        return
    from devnode.scaffold.choices import TEMPLATES

    new.add_argument("name", metavar="NAME", help='the plugin\'s name, e.g. "greeter" (becomes greeter_plugin.py)')
    new.add_argument("--template", choices=TEMPLATES, default="basic", help="what the plugin starts as (default: basic)")
    new.add_argument("--dir", metavar="PLUGIN_DIR", help="the plugin dir (default: $PLUGIN_DIR or ./plugins)")
    new.add_argument("--tests", metavar="DIR", default="tests", help="where the test goes (default: ./tests)")
