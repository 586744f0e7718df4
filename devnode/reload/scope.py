"""What ``devnode run`` watches: the plugin dir, extra ``--watch`` paths, the ``.env`` in use; minus ignores.

Ignores are gitignore patterns, matched relative to the watched dir they fall in:
``--ignore`` globs (or ``[tool.devnode] ignore``), plus the ``.gitignore`` and
``.devnodeignore`` files at the top of each watched dir and in the directories above
it up to the git root (re-read when they change), as watchexec does.
Matching uses pathspec, the gitignore matcher black and mypy use, so negation
(``!keep.csv``), anchoring (``/top.py``) and directory patterns (``build/``) mean
what they mean in git.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from watchfiles import Change, DefaultFilter

from devnode.reload.notify import watch_in_thread  # watchfiles' watcher without anyio
from devnode.reload.watcher import EDITOR_DEBRIS_NAMES, EDITOR_DEBRIS_SUFFIXES

if TYPE_CHECKING:
    import pathspec

IGNORE_FILES = (".gitignore", ".devnodeignore")
log = logging.getLogger("devnode.watch")


def _is_debris(name: str) -> bool:
    return name in EDITOR_DEBRIS_NAMES or name.endswith(EDITOR_DEBRIS_SUFFIXES) or name.startswith((".#", ".~"))


def _git_parents(directory: Path) -> list[Path]:
    """The directories above ``directory`` up to its git work tree's root, outermost first ([] outside git)."""
    found: list[Path] = []
    for parent in directory.parents:
        found.append(parent)
        if (parent / ".git").exists():
            return list(reversed(found))
    return []


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


@dataclass
class _Root:
    """One watched directory and the ignore rules that apply inside it.

    Its own ignore files and the extra patterns, plus the ignore files of the directories above
    it up to the git root (as git reads them: a deeper file's rule wins over a shallower one's).
    """

    path: Path
    patterns: list[str]
    specs: list[tuple[Path, pathspec.GitIgnoreSpec]] = field(init=False)
    stamps: tuple[tuple[int, int] | None, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        self.bases = [*_git_parents(self.path), self.path]
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        """Re-read the ignore files if one of them changed (or appeared, or went away)."""
        stamps = tuple(_stamp(base / name) for base in self.bases for name in IGNORE_FILES)
        if not force and stamps == self.stamps:
            return
        self.stamps = stamps
        self.specs = []
        for base in self.bases:
            lines = [line for name in IGNORE_FILES for line in _read_lines(base / name)]
            if base == self.path:
                lines = list(self.patterns) + lines
            if lines:
                import pathspec  # only where there are ignore rules: it costs start-up time

                self.specs.append((base, pathspec.GitIgnoreSpec.from_lines(lines)))

    def ignores(self, path: Path, is_dir: bool) -> bool:
        ignored = False
        for base, spec in self.specs:
            rel = path.relative_to(base).as_posix()
            if not rel or rel == ".":
                continue
            verdict = spec.check_file(rel + ("/" if is_dir else "")).include
            if verdict is not None:
                ignored = verdict
        return ignored


def _stamp(path: Path) -> tuple[int, int] | None:
    """Modification time and size: a same-size rewrite within the clock's tick is the only change missed."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


class WatchScope:
    """The watched paths and the ignore rules; answers "what is this changed path?"."""

    def __init__(self, plugin_dir: Path, extra: Sequence[Path] = (), ignore: Sequence[str] = (),
                 env_file: Path | None = None) -> None:
        self.plugin_dir = plugin_dir.resolve()
        self.ignore = list(ignore)
        self.env_file = env_file.resolve() if env_file is not None else None
        resolved = [p.expanduser().resolve() for p in extra]
        self.extra_dirs = [p for p in resolved if p.is_dir() and not _inside(p, self.plugin_dir)]
        # A --watch path inside the plugin dir adds nothing: the plugin dir is watched already.
        self.extra_files = [p for p in resolved if not p.is_dir() and not _inside(p, self.plugin_dir)]
        self._roots = [_Root(self.plugin_dir, self.ignore)] + [_Root(d, self.ignore) for d in self.extra_dirs]
        self._plugin_prefix = str(self.plugin_dir) + os.sep
        self._single_files = {str(p) for p in self.watched_files()}

    # -- classification -----------------------------------------------------------------
    def is_plugin_file(self, path: str) -> bool:
        """``kind(Path(path)) == "plugin"`` for a path below the plugin dir, from the string alone."""
        return path.startswith(self._plugin_prefix) and path not in self._single_files

    def root_of(self, path: Path) -> Path | None:
        """The watched dir ``path`` is in (the innermost, if dirs nest)."""
        best = None
        for root in self._roots:
            if _inside(path, root.path) and (best is None or len(root.path.parts) > len(best.parts)):
                best = root.path
        return best

    def ignored(self, path: Path) -> bool:
        """True for a path the ignore rules exclude (the ignore files themselves are never "changes")."""
        if path.name in IGNORE_FILES:
            return True
        for root in sorted(self._roots, key=lambda r: -len(r.path.parts)):
            if _inside(path, root.path):
                return bool(root.specs) and root.ignores(path, path.is_dir())  # no rules: no stat either
        return False

    def kind(self, path: Path) -> str | None:
        """``plugin`` (inside the plugin dir), ``external`` (a --watch path), ``env`` (the .env), or None."""
        if self.env_file is not None and path == self.env_file:
            return "env"
        if path in self.extra_files:
            return "external"
        root = self.root_of(path)
        if root is None:
            return None
        return "plugin" if root == self.plugin_dir else "external"

    def refresh_ignores(self, changed: Iterable[Path]) -> None:
        """A changed .gitignore/.devnodeignore takes effect from this batch on (the ones above the watched
        dirs are not watched, so every batch checks their modification times: a few stat calls)."""
        for root in self._roots:
            root.refresh()

    def external_roots(self) -> list[Path]:
        return [*self.extra_dirs, *self.extra_files]

    def watched_files(self) -> list[Path]:
        """Single files watched through their parent directory (editors replace files on save)."""
        return [*self.extra_files, *([self.env_file] if self.env_file is not None else [])]

    def describe(self) -> dict[str, object]:
        return {
            "watch": [str(p) for p in self.external_roots()],
            "ignore": self.ignore,
            "env_file": str(self.env_file) if self.env_file is not None else None,
        }


class _ScopeFilter(DefaultFilter):
    """watchfiles' defaults (.git, __pycache__, .venv, ...), editor debris, and the scope's ignores."""

    def __init__(self, scope: WatchScope, files: Sequence[Path] | None = None) -> None:
        super().__init__()
        self.scope = scope
        self.files = {str(f) for f in files} if files is not None else None

    def __call__(self, change: Change, path: str) -> bool:
        if self.files is not None:  # a non-recursive watch of some files' parent dirs: only those files
            return path in self.files
        if _is_debris(os.path.basename(path)) or not super().__call__(change, path):
            return False
        p = Path(path)
        if p.name in IGNORE_FILES:
            return True  # re-read, never a change to apply
        return self.scope.kind(p) is not None and not self.scope.ignored(p)


def scope_filter(scope: WatchScope) -> _ScopeFilter:
    return _ScopeFilter(scope)


async def watch_scope(
    scope: WatchScope,
    stop_event: asyncio.Event,
    *,
    debounce_ms: int = 1600,
    step_ms: int = 10,
    force_polling: bool = False,
    poll_delay_ms: int = 100,
    on_tick: Callable[[], None] | None = None,
) -> AsyncIterator[set[Path]]:
    """Yield batches of changed paths in the whole scope: dirs recursively, single files via their parent.

    ``on_tick``: called every half second on the plugin dir's watching thread (``watch_in_thread``).
    """
    queue: asyncio.Queue[set[Path] | None] = asyncio.Queue()
    options = dict(debounce=debounce_ms, step=step_ms, stop_event=stop_event, force_polling=force_polling,
                   poll_delay_ms=poll_delay_ms)
    dirs = [scope.plugin_dir, *scope.extra_dirs]
    files = scope.watched_files()
    parents = sorted({f.parent for f in files if f.parent.is_dir()})

    async def pump(paths: list[Path], recursive: bool, watch_filter: _ScopeFilter,
                   tick: Callable[[], None] | None = None) -> None:
        try:
            async for changes in watch_in_thread(*paths, watch_filter=watch_filter, recursive=recursive,
                                                 on_tick=tick, **options):  # type: ignore[arg-type]
                queue.put_nowait({Path(p) for _, p in changes})
        except Exception as exc:  # e.g. a --watch dir removed: the other watches go on
            log.warning("devnode stopped watching %s: %s: %s", ", ".join(map(str, paths)), type(exc).__name__, exc)
        finally:
            queue.put_nowait(None)

    # One watch per root, so a --watch dir that goes away cannot stop the plugin dir's watch.
    pumps = [asyncio.ensure_future(pump([d], True, _ScopeFilter(scope), on_tick if d == scope.plugin_dir else None))
             for d in dirs]
    if parents:
        pumps.append(asyncio.ensure_future(pump(parents, False, _ScopeFilter(scope, files))))
    running = len(pumps)
    try:
        while running:
            batch = await queue.get()
            if batch is None:
                running -= 1
                continue
            # Polling reports directories as modified; only a directory named like a plugin file matters.
            kept = {p for p in batch if p not in dirs and (not p.is_dir() or p.suffix == ".py")}
            if kept:
                yield kept
    finally:
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
