"""The commands a developer types into a running node (stdin in plain/json mode, ``:`` in the console).

``execute(ctx, line)`` runs one line, ``complete(ctx, line)`` says what may be
typed next; ``COMMANDS`` is the table both read. The commands live in one
module per group, and ``help`` lists them in the order imported here.
"""

from __future__ import annotations

from devnode.commands import plugins, services, playback, lifecycle  # noqa: F401  (each registers its commands)
from devnode.commands.core import COMMANDS, Command, CommandContext, CommandError, complete, execute
from devnode.commands.lifecycle import LOG_LEVELS, next_log_level, set_log_level

__all__ = ["COMMANDS", "LOG_LEVELS", "Command", "CommandContext", "CommandError", "complete", "execute",
           "next_log_level", "set_log_level"]
