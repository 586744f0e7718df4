"""``restart``: after a clean shutdown, replace this process with a fresh ``devnode`` on the same arguments.

A fresh process is the one thing that clears what an in-process reload cannot: a
leaked thread, a patched stdlib module, a loaded C extension, a changed ``.env``.
The data dir, stdin/stdout and the terminal are the same ones (exec keeps file
descriptors), the terminal's scrollback stays, and the console's prompt
histories are handed over in a temporary file.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import NoReturn


HISTORY_ENV = "DEVNODE_RESTART_HISTORY"
_original_environ: dict[str, str] | None = None


def remember_environment() -> None:
    """Keep the environment devnode was started with (before any .env is read into it)."""
    global _original_environ
    if _original_environ is None:
        _original_environ = dict(os.environ)


def can_restart() -> bool:
    """Whether this process is a devnode program (``devnode ...`` or ``python -m devnode ...``) it can re-run.

    ``main()`` called from other code (a test, a script) is not: exec would replace that program.
    """
    argv0 = Path(sys.argv[0]).name if sys.argv else ""
    return argv0 == "devnode" or sys.orig_argv[1:3] == ["-m", "devnode"] or sys.argv[0].endswith(
        ("devnode/__main__.py", "devnode\\__main__.py"))


def restart_command() -> list[str]:
    """The interpreter and arguments this process was started with (``python -m devnode run ...``)."""
    return [sys.executable, *sys.orig_argv[1:]]


def exec_again(reason: str, histories: dict[str, list[str]] | None = None) -> NoReturn:
    """Start devnode afresh in this process's place; never returns."""
    env = dict(_original_environ if _original_environ is not None else os.environ)
    env.pop(HISTORY_ENV, None)
    from devnode.authoring import RESTARTED_ENV  # cli imports this module first thing: keep it light

    env[RESTARTED_ENV] = reason
    if histories:
        import tempfile

        fd, name = tempfile.mkstemp(prefix="devnode-history-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(histories, out)
        env[HISTORY_ENV] = name
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    command = restart_command()
    os.execve(command[0], command, env)


def keep_recording(path: str | None) -> Path | None:
    """``--record FILE`` would start FILE afresh in the new process: move what was recorded so far aside."""
    if not path or not Path(path).is_file():
        return None
    original = Path(path)
    for n in range(1, 10000):
        kept = original.with_name(f"{original.stem}.{n}{original.suffix}")
        if not kept.exists():
            original.rename(kept)
            return kept
    return None


def take_histories() -> dict[str, list[str]]:
    """The prompt histories a restart handed over (read once, the file removed)."""
    name = os.environ.pop(HISTORY_ENV, None)
    if not name:
        return {}
    path = Path(name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        path.unlink()
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): [str(i) for i in v] for k, v in data.items() if isinstance(v, list)}
