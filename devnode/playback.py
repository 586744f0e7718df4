"""Runs scenarios and replays inside a running node: from ``run --scenario``, the CLI's headless
``scenario``/``replay`` commands, or the ``scenario``/``replay`` console commands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from devnode.recording import RecordingError, load_recording
from devnode.replay import replay
from devnode.scenarios import ScenarioError, ScenarioPlayer, load_scenario

if TYPE_CHECKING:
    from devnode.host.host import PluginHost
    from devnode.reporting import Reporter
    from devnode.runtime import Runtime

LOOP_PAUSE_SECONDS = 1.0  # between iterations of --loop-scenario: time to read the results


class NodeParts(Protocol):
    """What playing a file needs of the node: a command's context, or the runtime itself."""

    @property
    def node(self) -> Any: ...

    @property
    def host(self) -> PluginHost: ...

    @property
    def reporter(self) -> Reporter: ...


async def play_scenario_file(parts: NodeParts, path: str | Path, loop: bool = False) -> bool:
    """Play the scenario once (or forever, re-reading the file each time, when ``loop``); True if it passed."""
    player = ScenarioPlayer(parts.node, parts.host, parts.reporter)
    iteration = 0
    reported: list[str] = []
    while True:
        iteration += 1
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            # While looping the author may be mid-edit: say what is wrong (once) and try again next round.
            if exc.problems != reported:
                parts.reporter.emit("scenario.error", file=str(path), problems=exc.problems)
            reported, ok = exc.problems, False
        else:
            reported = []
            ok = (await player.play(scenario, iteration)).ok
        if not loop:
            return ok
        await asyncio.sleep(LOOP_PAUSE_SECONDS)


async def replay_file(parts: NodeParts, path: str | Path, fast: bool = False) -> bool:
    """Replay a recording against the current plugins; True if no handler failed."""
    try:
        recording = load_recording(path)
    except RecordingError as exc:
        parts.reporter.emit("replay.error", file=str(path), error=str(exc))
        return False
    return (await replay(parts.node, recording, parts.reporter, fast=fast)).ok


async def guarded(parts: NodeParts, job: Awaitable[bool], what: Literal["scenario", "replay"]) -> bool:
    """Await ``job``; an unexpected exception becomes a record instead of vanishing with its task."""
    try:
        return await job
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        parts.reporter.emit("scenario.error" if what == "scenario" else "replay.error", error=error, problems=[])
        return False


async def run_requested(runtime: Runtime) -> None:
    """Do what RunOptions asks (replay, then scenario); a headless run then stops with its exit code."""
    options = runtime.options
    ok = False  # stays False when the run is cut short (the node stopped under it)
    try:
        passed = True
        if options.replay:
            passed = await guarded(runtime, replay_file(runtime, options.replay, options.fast), "replay") and passed
        if options.scenario:
            job = play_scenario_file(runtime, options.scenario, loop=options.loop_scenario)
            passed = await guarded(runtime, job, "scenario") and passed
        ok = passed
    finally:
        # Even when reporting itself fails (stdout closed by `| head`), a headless run must end.
        if options.headless:
            runtime.exit_code = 0 if ok else 1
            if not runtime.stop_event.is_set():  # else keep the reason it is stopping for (e.g. interrupted)
                runtime.request_stop("scenario finished" if options.scenario else "replay finished")
