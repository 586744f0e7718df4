"""The ``devnode`` command line. Only this module prints errors and chooses exit codes."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from devnode import __version__

if TYPE_CHECKING:  # imported where used: --version and --help stay as light as argparse
    from devnode.config import NodeConfig

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


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

    check = sub.add_parser(
        "check", help="load, initialize and shut down every plugin once and report problems",
        description="Load every plugin in a throwaway node (twice, in opposite orders), shut them down, and report "
                    "every failure and every way they would behave differently in the production node. "
                    "Exit 0 when clean, 1 when a plugin fails (or, with --strict, on any parity warning).",
    )
    _node_options(check)
    check.add_argument("--strict", action="store_true", help="treat production-parity warnings as problems (exit 1)")
    check.add_argument("--format", choices=["text", "json"], default="text", help="report format (default: text)")
    _playback_commands(sub)
    _new_command(sub)
    sub.add_parser(
        "setup-chain", help="install the local chain (anvil) the production-backed node runs on",
        description="Install anvil (npm package @foundry-rs/anvil) into devnode's cache dir, unless $DEVNODE_ANVIL "
                    "or an anvil on PATH is already there; print the binary used. See docs/production-node.md.",
    )
    return parser


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


def _playback_commands(sub: Any) -> None:
    headless = "Without --data-dir the node uses a fresh temporary data dir, so every run starts from the same state."
    scenario = sub.add_parser(
        "scenario", help="play a scenario file headless and exit 0 if every step passed, 1 if not (for CI)",
        description="Start a node with the plugins, play the scenario's steps, check its expectations, stop. "
                    f"Exit 0 when every step passed, 1 when one failed, 2 when the file is invalid. {headless}",
    )
    scenario.add_argument("file", metavar="FILE", help="the scenario (.toml; see docs/scenarios.md)")
    _node_options(scenario)
    _headless_output(scenario)

    replay = sub.add_parser(
        "replay", help="publish a recording's events again against the current plugins",
        description="Start a node with the plugins, publish the events of a recording made with "
                    "'devnode run --record FILE' again, report how every handler fared and what changed "
                    f"since the recording. Exit 0 when no handler failed, 1 when one did. {headless}",
    )
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


# .env variables this process put into os.environ (production's load_dotenv()); main() takes them back.
_EXPORTED_ENV: list[str] = []


def main(argv: Sequence[str] | None = None) -> int:
    from devnode.restart import remember_environment

    remember_environment()  # a restart starts devnode again with this environment, not one a .env filled in
    try:
        return _main(argv)
    finally:
        _forget_closed_stdout()
        while _EXPORTED_ENV:
            os.environ.pop(_EXPORTED_ENV.pop(), None)


def _forget_closed_stdout() -> None:
    """After ``devnode ... | head``, keep Python's exit-time flush from printing a BrokenPipe traceback."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (ValueError, OSError):  # a plugin closed sys.stdout: nothing is left to flush
        pass


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from devnode.config import ConfigError
    from devnode.errors import DevnodeError

    try:
        if args.command == "run":
            return _run(args)
        if args.command == "check":
            return _check(args)
        if args.command in ("scenario", "replay"):
            return _headless(args)
        if args.command == "new":
            return _new(args)
        if args.command == "setup-chain":
            return _setup_chain()
    except ConfigError as exc:
        print(f"devnode: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DevnodeError as exc:
        print(f"devnode: error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


def _config(args: argparse.Namespace) -> NodeConfig:
    from devnode.config import load_config

    flags: dict[str, Any] = {
        "plugin_dir": args.plugin_dir,
        "data_dir": args.data_dir,
        "node_id": args.node_id,
        "initial_peers": args.peers,
        "p2p_port": args.p2p_port,
        "status_interval": args.status_interval,
    }
    from devnode.project import project_table_for

    table = project_table_for(args.plugin_dir, Path.cwd())
    # What an earlier read exported is the .env's, not the real environment: read the .env afresh.
    earlier = {key: os.environ.pop(key) for key in _EXPORTED_ENV if key in os.environ}
    _EXPORTED_ENV.clear()
    try:
        config = load_config({k: v for k, v in flags.items() if v is not None}, env_file=args.env_file,
                             project=table.node_settings(), export_env=True)
    except Exception:
        os.environ.update(earlier)  # a .env that cannot be used changes nothing
        _EXPORTED_ENV.extend(earlier)
        raise
    _EXPORTED_ENV.extend(config.exported_env)
    return config


def _authoring(args: argparse.Namespace, options: Any) -> None:
    """Fill the run options' watch scope, editor and tests from the CLI, environment, .env and [tool.devnode]."""
    from devnode.project import authoring_settings, env_file_in_use, project_table_for

    cwd = Path.cwd()
    table = project_table_for(args.plugin_dir, cwd)
    env_file = env_file_in_use(args.env_file, cwd)
    settings = authoring_settings({"watch": args.watch, "ignore": args.ignore, "editor": args.editor},
                                  table, os.environ, env_file, cwd)
    options.watch_paths, options.ignore, options.editor = settings.watch, settings.ignore, settings.editor
    options.env_file = env_file
    options.test_args, options.test_timeout = args.test, args.test_timeout
    options.config_loader = lambda: _config(args)


def _run(args: argparse.Namespace) -> int:
    from devnode.config import ConfigError
    from devnode.runtime import RunOptions
    from devnode.ui.jsonl import JsonUI, private_output
    from devnode.ui.plain import PlainUI

    config = _config(args)
    options = RunOptions(
        watch=not args.no_watch, debounce_ms=args.debounce, step_ms=args.step, force_polling=args.force_polling,
        timeout=args.timeout, log_level=args.log_level,
        scenario=args.scenario, loop_scenario=args.loop_scenario, record=args.record, node=_node_choice(args),
        debug_adapter=args.debug_adapter, wait_for_client=args.wait_for_client,
    )
    _authoring(args, options)
    if args.wait_for_client and args.debug_adapter is None:
        raise ConfigError("--wait-for-client needs --debug-adapter [HOST:]PORT to know where the editor attaches")
    if args.loop_scenario and not args.scenario:
        raise ConfigError("--loop-scenario needs --scenario FILE to know what to play")
    problem = _input_problem("scenario", args.scenario) if args.scenario else None
    if problem is not None:  # a broken scenario stops here, before any plugin is loaded
        print(f"devnode: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    ui_name = args.ui
    if ui_name == "auto":
        ui_name = "rich" if sys.stdout.isatty() else "plain"
    if ui_name == "rich":
        return _run_rich(args, config, options)
    if args.pdb or args.console:
        print(f"devnode: note: --pdb and --console need the rich console; ignored with --ui {ui_name}", file=sys.stderr)
    # The records' stream is devnode's own: a plugin closing sys.stdout (or fd 1) cannot end the output.
    ui = JsonUI(private_output(sys.stdout)) if ui_name == "json" else PlainUI(sys.stdout)
    return _serve(config, options, ui, json_lines=ui_name == "json", commands_in=sys.stdin)


def _serve(config: NodeConfig, options: Any, ui: Any, *, json_lines: bool, commands_in: IO[str] | None = None) -> int:
    """Run a node to its end with a plain or JSON-lines UI; in JSON mode plugins' print() become records."""
    import asyncio

    from devnode.runtime import Runtime

    try:
        if not json_lines:
            runtime = Runtime(config, options, ui, commands_in=commands_in)
            code = _run_node(runtime)
        else:
            from devnode.ui.capture import capture_prints

            with capture_prints() as restore:
                runtime = Runtime(config, options, ui, commands_in=commands_in)
                restore.attach(runtime.reporter)
                code = _run_node(runtime)
    finally:
        close = getattr(ui, "close", None)
        if close is not None:
            close()  # the JSON UI writes event lines once per loop turn: nothing may stay behind
    _restart_if_asked(runtime)
    return _exit_unless_abandoned(runtime, code)


def _run_node(runtime: Any) -> int:
    """``asyncio.run(runtime.run())``, except that tasks plugins left ignoring cancellation are not waited for."""
    from devnode.codes import WarningCode
    from devnode.run_loop import run_bounded

    code, stuck = run_bounded(runtime.run(), grace=min(runtime.options.timeout, 2.0))
    if stuck:
        runtime.reporter.emit("warning", code=WarningCode.ABANDONED, plugin=None, tasks=stuck,
                              message="devnode exits without waiting for: " + "; ".join(stuck))
        runtime.abandoned.extend(stuck)
    return code


def _exit_unless_abandoned(runtime: Any, code: int) -> int:
    """Plugins left threads or executor jobs running (named in the last records): exit now, not when they end.

    The interpreter joins such threads at exit, which could take forever; everything
    devnode owns is already shut down and flushed.
    """
    if not runtime.abandoned:
        return code
    for stream in (sys.stdout, sys.__stdout__, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _restart_if_asked(runtime: Any, histories: dict[str, list[str]] | None = None) -> None:
    """``restart`` (command, R, a changed .env): everything is shut down; start devnode again in this process."""
    if runtime.restart_reason is not None and not runtime.options.headless:
        from devnode.restart import exec_again, keep_recording

        try:
            kept = keep_recording(runtime.options.record)
            if kept is not None:
                print(f"devnode: the recording so far is kept as {kept}; {runtime.options.record} starts again",
                      file=sys.stderr)
            exec_again(runtime.restart_reason, histories)
        except OSError as exc:  # everything is already shut down: say why, and end like a quit
            print(f"devnode: error: could not restart ({exc}); start devnode again by hand", file=sys.stderr)


def _run_rich(args: argparse.Namespace, config: NodeConfig, options: Any) -> int:
    """The rich console reads keys itself, so the runtime gets no command stream."""
    import asyncio

    from devnode.runtime import Runtime
    from devnode.ui.console import RichConsole

    try:
        keys_fd: int | None = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        keys_fd = None  # no stdin at all: the console only shows
    console = RichConsole(sys.stdout, post_mortem=args.pdb, open_console=args.console, keys_fd=keys_fd,
                          force_terminal=True if args.ui == "rich" else None, editor=options.editor)
    runtime = Runtime(config, options, console, commands_in=None, on_start=console.attach)
    try:
        code = _run_node(runtime)
    finally:
        console.close()
    _restart_if_asked(runtime, console.histories())
    return _exit_unless_abandoned(runtime, code)


def _check(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from devnode.check import check_plugins
    from devnode.ui.text import format_record

    config = _config(args)
    node = _node_choice(args)
    if args.format == "json":
        from devnode.ui.capture import stdout_to_stderr

        with stdout_to_stderr():  # stdout holds exactly one JSON document, whatever plugins print
            report = asyncio.run(check_plugins(config, timeout=args.timeout, node=node))
    else:
        report = asyncio.run(check_plugins(config, timeout=args.timeout, node=node))
    clean = report.clean(args.strict)
    if args.format == "json":
        print(json.dumps({**report.to_dict(), "clean": clean, "strict": args.strict}, default=str, indent=2))
    else:
        print(f"devnode check: {config.plugin_dir}")
        print(f"  {len(report.plugins)} plugin(s) loaded: {', '.join(report.plugins) or 'none'}")
        for record in report.failures + report.warnings + report.notes:
            print(format_record(record))
        verdict = "clean" if clean else "problems found"
        print(f"{len(report.failures)} failure(s), {len(report.warnings)} parity warning(s): {verdict}")
    return EXIT_OK if clean else EXIT_PROBLEMS


def _node_choice(args: argparse.Namespace) -> Any:
    """``--node``, ``--node-src`` and ``--authorize`` as a session's NodeChoice."""
    from devnode.config import ConfigError
    from devnode.production.node import ProductionOptions
    from devnode.session import NodeChoice

    if args.node != "production":
        for flag, value in (("--node-src", args.node_src), ("--authorize", args.authorize)):
            if value is not None:
                raise ConfigError(f"{flag} only applies to the production-backed node; add --node production")
        return NodeChoice()
    return NodeChoice("production", ProductionOptions(node_src=args.node_src, authorize=args.authorize or "devnode"))


def _input_problem(kind: str, path: str) -> str | None:
    """Why the scenario or recording at ``path`` cannot be played, or None if it can."""
    from devnode.recording import RecordingError, load_recording
    from devnode.scenarios import ScenarioError, load_scenario

    try:
        load_scenario(path) if kind == "scenario" else load_recording(path)
    except ScenarioError as exc:
        return "invalid scenario:\n" + "\n".join(f"  {p}" for p in exc.problems)
    except RecordingError as exc:
        return str(exc)
    return None


QUIET_KINDS = ("scenario.", "replay.", "plugin.failed", "command.error")


def _headless(args: argparse.Namespace) -> int:
    """``devnode scenario FILE`` / ``devnode replay FILE``: one node, one job, an exit code."""
    import tempfile

    from devnode.runtime import RunOptions
    from devnode.ui.jsonl import JsonUI
    from devnode.ui.plain import PlainUI

    problem = _input_problem(args.command, args.file)
    if problem is not None:
        print(f"devnode: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    with tempfile.TemporaryDirectory(prefix=f"devnode-{args.command}-") as tmp:
        if args.data_dir is None:
            args.data_dir = tmp  # a fresh node each run, so CI results repeat
        config = _config(args)
        options = RunOptions(
            watch=False, read_commands=False, timeout=args.timeout, log_level=args.log_level, headless=True,
            scenario=args.file if args.command == "scenario" else None,
            replay=args.file if args.command == "replay" else None,
            fast=getattr(args, "fast", False), node=_node_choice(args),
        )
        ui: Any = JsonUI(sys.stdout) if args.ui == "json" else PlainUI(sys.stdout)
        sink = _results_only(ui) if args.quiet else ui
        return _serve(config, options, sink, json_lines=args.ui == "json")


def _results_only(ui: Any) -> Any:
    """A sink passing ``ui`` only the scenario/replay results and the problems (``--quiet``)."""

    def sink(record: dict[str, Any]) -> None:
        if record["kind"].startswith(QUIET_KINDS):
            ui(record)

    return sink


def _setup_chain() -> int:
    from devnode.production.anvil import AnvilNotFound, find_anvil, install_anvil

    try:
        binary = find_anvil()
    except AnvilNotFound:
        print("devnode: installing anvil with npm (one time, a few seconds) ...", file=sys.stderr)
        binary = install_anvil()
    print(f"anvil: {binary}")
    return EXIT_OK


def _new_command(sub: Any) -> None:
    from devnode.scaffold.choices import TEMPLATES

    new = sub.add_parser(
        "new", help="create a plugin and its test from a template",
        description="Write PLUGIN_DIR/NAME_plugin.py with the class name the production node expects, and "
                    "TESTS/test_NAME_plugin.py using devnode's pytest fixtures. Never overwrites a file.",
    )
    new.add_argument("name", metavar="NAME", help='the plugin\'s name, e.g. "greeter" (becomes greeter_plugin.py)')
    new.add_argument("--template", choices=TEMPLATES, default="basic", help="what the plugin starts as (default: basic)")
    new.add_argument("--dir", metavar="PLUGIN_DIR", help="the plugin dir (default: $PLUGIN_DIR or ./plugins)")
    new.add_argument("--tests", metavar="DIR", default="tests", help="where the test goes (default: ./tests)")


def _new(args: argparse.Namespace) -> int:
    from devnode.config import load_config
    from devnode.scaffold import ScaffoldError, create_plugin

    plugin_dir = Path(args.dir) if args.dir else Path(load_config(require_plugin_dir=False).plugin_dir)
    try:
        created = create_plugin(args.name, args.template, plugin_dir, Path(args.tests))
    except ScaffoldError as exc:
        print(f"devnode: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for path in created.files:
        print(f"created {_shown(path)}")
    print(f"\nclass {created.class_name} is ready in {_shown(created.plugin)}. Next:")
    print(f"  devnode run {_shown(created.plugin.parent)}      # edit the plugin and watch it reload")
    print(f"  pytest {_shown(created.test)}")
    return EXIT_OK


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
