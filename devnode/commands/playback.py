"""``scenario`` and ``replay``: play a file against the running plugins, in the background."""

from __future__ import annotations

from pathlib import Path

from devnode.commands.core import CommandContext, CommandError, command


@command("scenario", "scenario FILE", "play a scenario file against the running plugins (docs/scenarios.md)")
async def _scenario(ctx: CommandContext, rest: str) -> None:
    from devnode.playback import guarded, play_scenario_file  # scenarios cost start-up time: loaded when used
    from devnode.scenarios import load_scenario

    path = _one_path(rest, "scenario FILE")
    load_scenario(path)  # a broken file is reported now, as this command's error
    ctx.start_task(guarded(ctx, play_scenario_file(ctx, path), "scenario"), "devnode-scenario")


@command("replay", "replay FILE [--fast]", "publish a recording's events again (recorded speed, or --fast)")
async def _replay(ctx: CommandContext, rest: str) -> None:
    words = rest.split()
    fast = "--fast" in words
    path = _one_path(" ".join(w for w in words if w != "--fast"), "replay FILE [--fast]")
    from devnode.playback import guarded, replay_file  # loaded when used, as for scenarios
    from devnode.recording import load_recording

    load_recording(path)
    ctx.start_task(guarded(ctx, replay_file(ctx, path, fast), "replay"), "devnode-replay")


def _one_path(text: str, usage: str) -> Path:
    if not text.strip():
        raise CommandError(f"usage: {usage}")
    path = Path(text.strip()).expanduser()
    if not path.is_file():
        raise CommandError(f'"{text.strip()}" is not a file (looked in {path.resolve().parent}); usage: {usage}')
    return path
