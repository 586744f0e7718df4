"""``devnode run`` and the headless ``scenario``/``replay``: a node run to its end, its exit code, a restart."""

from __future__ import annotations

import argparse
import os
import sys
from typing import IO, TYPE_CHECKING, Any

from devnode.cli.exit_codes import EXIT_USAGE
from devnode.cli.settings import fill_authoring, node_choice, node_config

if TYPE_CHECKING:
    from devnode.config import NodeConfig
    from devnode.runtime import RunOptions, Runtime


def run(args: argparse.Namespace) -> int:
    from devnode.config import ConfigError
    from devnode.runtime import RunOptions
    from devnode.ui.jsonl import JsonUI, private_output

    config = node_config(args)
    options = RunOptions(
        watch=not args.no_watch, debounce_ms=args.debounce, step_ms=args.step, force_polling=args.force_polling,
        timeout=args.timeout, log_level=args.log_level,
        scenario=args.scenario, loop_scenario=args.loop_scenario, record=args.record, node=node_choice(args),
        debug_adapter=args.debug_adapter, wait_for_client=args.wait_for_client,
    )
    fill_authoring(args, options)
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
    if ui_name == "json":
        ui: Any = JsonUI(private_output(sys.stdout))
    else:
        from devnode.ui.plain import PlainUI

        ui = PlainUI(sys.stdout)
    return _serve(config, options, ui, json_lines=ui_name == "json", commands_in=sys.stdin)


def _serve(config: NodeConfig, options: RunOptions, ui: Any, *, json_lines: bool, commands_in: IO[str] | None = None) -> int:
    """Run a node to its end with a plain or JSON-lines UI; in JSON mode plugins' print() become records."""
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


def _run_node(runtime: Runtime) -> int:
    """``asyncio.run(runtime.run())``, except that tasks plugins left ignoring cancellation are not waited for."""
    from devnode.codes import WarningCode
    from devnode.run_loop import run_bounded

    code, stuck = run_bounded(runtime.run(), grace=min(runtime.options.timeout, 2.0))
    if stuck:
        runtime.reporter.emit("warning", code=WarningCode.ABANDONED, plugin=None, tasks=stuck,
                              message="devnode exits without waiting for: " + "; ".join(stuck))
        runtime.abandoned.extend(stuck)
    return code


def _exit_unless_abandoned(runtime: Runtime, code: int) -> int:
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


def _restart_if_asked(runtime: Runtime, histories: dict[str, list[str]] | None = None) -> None:
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


def _run_rich(args: argparse.Namespace, config: NodeConfig, options: RunOptions) -> int:
    """The rich console reads keys itself, so the runtime gets no command stream."""
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


def headless(args: argparse.Namespace) -> int:
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
        config = node_config(args)
        options = RunOptions(
            watch=False, read_commands=False, timeout=args.timeout, log_level=args.log_level, headless=True,
            scenario=args.file if args.command == "scenario" else None,
            replay=args.file if args.command == "replay" else None,
            fast=getattr(args, "fast", False), node=node_choice(args),
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


