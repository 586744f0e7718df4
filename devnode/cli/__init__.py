"""The ``devnode`` command line. Only this package prints errors and chooses exit codes.

``parser`` declares the arguments, ``settings`` turns them into configuration,
``run`` runs a node to its end (``run``, headless ``scenario``/``replay``),
``tools`` holds ``check``, ``new`` and ``setup-chain``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from devnode.cli.exit_codes import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from devnode.cli.parser import build_parser
from devnode.cli.run import headless, run
from devnode.cli.settings import forget_exported_env
from devnode.cli.tools import check, new, setup_chain

__all__ = ["EXIT_OK", "EXIT_PROBLEMS", "EXIT_USAGE", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    from devnode.restart import remember_environment

    remember_environment()  # a restart starts devnode again with this environment, not one a .env filled in
    try:
        return _main(argv)
    finally:
        _forget_closed_stdout()
        forget_exported_env()


def _forget_closed_stdout() -> None:
    """After ``devnode ... | head``, keep Python's exit-time flush from printing a BrokenPipe traceback."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (ValueError, OSError):  # a plugin closed sys.stdout: nothing is left to flush
        pass


def _main(argv: Sequence[str] | None) -> int:
    # Only the named command's options are declared: the other commands' cost a few ms of every start.
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(next((word for word in words if not word.startswith("-")), ""))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from devnode.config import ConfigError
    from devnode.errors import DevnodeError

    try:
        if args.command == "run":
            return run(args)
        if args.command == "check":
            return check(args)
        if args.command in ("scenario", "replay"):
            return headless(args)
        if args.command == "new":
            return new(args)
        if args.command == "setup-chain":
            return setup_chain()
    except ConfigError as exc:
        print(f"devnode: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DevnodeError as exc:
        print(f"devnode: error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


