"""The node's own settings and life: ``log-level``, ``restart``, ``quit``."""

from __future__ import annotations

from devnode.commands.core import CommandContext, CommandError, command, first_argument

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]  # what completion and the console's l key step through
ACCEPTED_LEVELS = (*LOG_LEVELS, "CRITICAL")


def set_log_level(ctx: CommandContext, level: str) -> None:
    """Set the plugins' log level now and say so (the command, and the console's l key between presses)."""
    ctx.set_log_level(level)
    ctx.reporter.emit("command.result", command="log-level", result={"level": level})


def next_log_level(level: str) -> str:
    """The level after ``level`` in LOG_LEVELS, round; INFO from a level outside it."""
    return LOG_LEVELS[(LOG_LEVELS.index(level) + 1) % len(LOG_LEVELS)] if level in LOG_LEVELS else "INFO"


@command("log-level", "log-level LEVEL", "set the plugins' log level (DEBUG, INFO, WARNING, ERROR)",
         complete=first_argument(lambda ctx: LOG_LEVELS))
async def _log_level(ctx: CommandContext, rest: str) -> None:
    level = rest.strip().upper()
    if level not in ACCEPTED_LEVELS:
        raise CommandError(f'log level "{rest}" is not one of {", ".join(ACCEPTED_LEVELS)}')
    set_log_level(ctx, level)


@command("restart", "restart", "shut everything down and start devnode again with the same arguments (data kept)")
async def _restart(ctx: CommandContext, rest: str) -> None:
    from devnode.restart import can_restart

    if ctx.restart is None:
        raise CommandError("restart is for devnode run; a scenario or replay run starts fresh each time")
    if not can_restart():
        raise CommandError("restart needs devnode started as a program (devnode run ...), not called from other code")
    ctx.restart("restart command")


@command("quit", "quit", "shut every plugin down and stop the node")
async def _quit(ctx: CommandContext, rest: str) -> None:
    ctx.stop("quit")
