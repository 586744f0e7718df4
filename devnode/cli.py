"""The ``devnode`` command line. Only this module prints errors and chooses exit codes."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devnode import __version__
from devnode.config import ConfigError, NodeConfig, load_config
from devnode.errors import DevnodeError

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'"{text}" is not a whole number of milliseconds') from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f'"{text}" must be greater than 0')
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'"{text}" is not a number of seconds (e.g. 5 or 0.5)') from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f'"{text}" must be greater than 0')
    return value


def _peers(text: str) -> list[str]:
    """``--peers 5`` makes peer1..peer5; ``--peers alice,bob`` names them."""
    if text.isdigit():
        count = int(text)
        if not 0 < count <= 1000:
            raise argparse.ArgumentTypeError(f'"{text}": give between 1 and 1000 peers')
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
    node.add_argument("--peers", type=_peers, metavar="N|A,B", help="simulated peers: a count or comma-separated ids (default: $INITIAL_PEERS or peer1,peer2,peer3)")
    node.add_argument("--p2p-port", metavar="PORT", help="reported as config.p2p_port; devnode opens no socket")
    parser.add_argument("--timeout", type=_seconds, default=5.0, metavar="SECONDS",
                        help="limit for an async initialize() or shutdown() (default: 5)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    _node_options(run)
    ui = run.add_argument_group("output")
    ui.add_argument("--ui", choices=["auto", "rich", "plain", "json"], default="auto",
                    help="rich console in a terminal, plain lines or JSON lines (default: auto = rich on a terminal, else plain)")
    ui.add_argument("--log-level", default="INFO", type=str.upper,
                    choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], help="plugins' log level (default: INFO)")
    watch = run.add_argument_group("reloading")
    watch.add_argument("--no-watch", action="store_true", help="do not watch the plugin dir (reload with the 'reload' command)")
    watch.add_argument("--debounce", type=_positive_int, default=1600, metavar="MS",
                       help="longest time to group a burst of changes (watchfiles debounce; default: 1600)")
    watch.add_argument("--step", type=_positive_int, default=10, metavar="MS",
                       help="quiet time that ends a batch of changes (watchfiles step; default: 10)")
    watch.add_argument("--force-polling", action="store_true",
                       help="poll instead of OS events (network or container mounts); polling can miss a second "
                            "change within the same second")
    debug = run.add_argument_group("debugging")
    debug.add_argument("--pdb", action="store_true", help="post-mortem debugger on a plugin exception (rich console)")
    debug.add_argument("--console", action="store_true", help="open the Python console on the live node at start (rich console)")

    check = sub.add_parser(
        "check", help="load, initialize and shut down every plugin once and report problems",
        description="Load every plugin in a throwaway node (twice, in opposite orders), shut them down, and report "
                    "every failure and every way they would behave differently in the production node. "
                    "Exit 0 when clean, 1 when a plugin fails (or, with --strict, on any parity warning).",
    )
    _node_options(check)
    check.add_argument("--strict", action="store_true", help="treat production-parity warnings as problems (exit 1)")
    check.add_argument("--format", choices=["text", "json"], default="text", help="report format (default: text)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "check":
            return _check(args)
    except ConfigError as exc:
        print(f"devnode: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DevnodeError as exc:
        print(f"devnode: error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


def _config(args: argparse.Namespace) -> NodeConfig:
    flags: dict[str, Any] = {
        "plugin_dir": args.plugin_dir,
        "data_dir": args.data_dir,
        "node_id": args.node_id,
        "initial_peers": args.peers,
        "p2p_port": args.p2p_port,
    }
    return load_config({k: v for k, v in flags.items() if v is not None}, env_file=args.env_file)


def _run(args: argparse.Namespace) -> int:
    from devnode.runtime import RunOptions, Runtime
    from devnode.ui.jsonl import JsonUI
    from devnode.ui.plain import PlainUI

    config = _config(args)
    options = RunOptions(
        watch=not args.no_watch, debounce_ms=args.debounce, step_ms=args.step, force_polling=args.force_polling,
        timeout=args.timeout, log_level=args.log_level,
    )
    ui_name = args.ui
    if ui_name in ("auto", "rich"):
        ui_name = "plain"  # the rich console arrives with its own issue; plain is the fallback for non-TTYs anyway
    stdout = sys.stdout
    ui = JsonUI(stdout) if ui_name == "json" else PlainUI(stdout)
    if ui_name == "json":
        from devnode.ui.capture import capture_prints

        with capture_prints() as restore:
            runtime = Runtime(config, options, ui, commands_in=sys.stdin)
            restore.attach(runtime.reporter)
            return asyncio.run(runtime.run())
    runtime = Runtime(config, options, ui, commands_in=sys.stdin)
    return asyncio.run(runtime.run())


def _check(args: argparse.Namespace) -> int:
    from devnode.check import check_plugins
    from devnode.ui.plain import format_record

    config = _config(args)
    report = asyncio.run(check_plugins(config, timeout=args.timeout))
    clean = report.clean(args.strict)
    if args.format == "json":
        print(json.dumps({**report.to_dict(), "clean": clean, "strict": args.strict}, default=str, indent=2))
    else:
        print(f"devnode check: {config.plugin_dir}")
        print(f"  {len(report.plugins)} plugin(s) loaded: {', '.join(report.plugins) or 'none'}")
        for record in report.failures + report.warnings:
            print(format_record(record))
        verdict = "clean" if clean else "problems found"
        print(f"{len(report.failures)} failure(s), {len(report.warnings)} parity warning(s): {verdict}")
    return EXIT_OK if clean else EXIT_PROBLEMS
