"""``help``, ``status`` and the plugin commands: ``load``, ``unload``, ``reload``."""

from __future__ import annotations

from devnode.commands.core import (COMMANDS, CommandContext, CommandError, command, first_argument, known_plugins,
                                   peer_names, plugin_name)

_plugins = first_argument(lambda ctx: ctx.host.plugin_names())
_plugins_or_all = first_argument(lambda ctx: [*ctx.host.plugin_names(), "all"])


@command("help", "help", "list the commands")
async def _help(ctx: CommandContext, rest: str) -> None:
    ctx.reporter.emit("help", commands=[{"usage": c.usage, "summary": c.summary} for c in COMMANDS.values()])


@command("status", "status", "show every plugin's state")
async def _status(ctx: CommandContext, rest: str) -> None:
    bus = ctx.host.bus
    ctx.reporter.emit("status", plugins=ctx.host.status(), subscriptions=bus.subscriber_count, events=bus.published,
                      peers=peer_names(ctx, connected_only=True))


@command("load", "load NAME", "load a plugin from the plugin dir", complete=_plugins)
async def _load(ctx: CommandContext, rest: str) -> None:
    name = plugin_name(ctx, rest, "load NAME")
    if not (ctx.host.plugin_dir / f"{name}.py").is_file():
        raise CommandError(f'no plugin "{name}": {ctx.host.plugin_dir / (name + ".py")} does not exist '
                           f"(plugins: {known_plugins(ctx)})")
    await ctx.host.load(name)


@command("unload", "unload NAME", "shut a plugin down and unload it", complete=_plugins)
async def _unload(ctx: CommandContext, rest: str) -> None:
    name = plugin_name(ctx, rest, "unload NAME")
    if name not in ctx.host.serving():
        raise CommandError(f'plugin "{name}" is not loaded (loaded: {", ".join(ctx.host.plugins) or "none"})')
    await ctx.host.unload(name, reason="unload command")


@command("reload", "reload NAME|all", "reload one plugin, or all of them", complete=_plugins_or_all)
async def _reload(ctx: CommandContext, rest: str) -> None:
    name = plugin_name(ctx, rest, "reload NAME|all")
    if name == "all":
        names = ctx.host.plugin_names()
    elif (ctx.host.plugin_dir / f"{name}.py").is_file():
        names = [name]
    else:
        raise CommandError(f'no plugin "{name}" to reload (plugins: {known_plugins(ctx)})')
    await ctx.host.reload(names, trigger=["reload command"])
