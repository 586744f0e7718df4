"""Costs that must not grow with the project: what start-up and a reload read, list and parse.

No timings here (scripts/bench_startup.py and scripts/bench_reload.py measure those): these
tests pin the mechanisms, by counting the listings, parses and hashes themselves.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import HostHarness, write_plugin
from devnode.host import imports
from devnode.reload import contents

Harness = Callable[..., HostHarness]

READER = """
    from pathlib import Path


    class Reader_pluginPlugin:
        def __init__(self, node):
            self.node = node
            self.config = (Path(__file__).parent / "settings.json").read_text()

        def initialize(self):
            pass

        def shutdown(self):
            pass
"""


def trivial(plugin_dir: Path, name: str) -> None:
    write_plugin(plugin_dir, name, f"""
        import json


        class {name.capitalize()}Plugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                pass

            def shutdown(self):
                pass
    """)


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every directory listed through os.listdir / os.scandir while the test runs."""
    seen: list[str] = []
    real_listdir, real_scandir = os.listdir, os.scandir

    def listdir(path: Any = ".") -> Any:
        seen.append(os.fspath(path))
        return real_listdir(path)

    def scandir(path: Any = ".") -> Any:
        seen.append(os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "listdir", listdir)
    monkeypatch.setattr(os, "scandir", scandir)
    yield seen


def test_loading_and_reloading_a_plugin_never_lists_the_plugin_dir(
    plugin_dir: Path, harness: Harness, listings: list[str]
) -> None:
    for n in range(20):
        trivial(plugin_dir, f"p{n:02d}_plugin")
    h = harness().start()
    listed_at_start = [p for p in listings if Path(p) == plugin_dir.resolve() or Path(p) == plugin_dir]
    # discovery, the module graph and the symlink check: a few listings in all, not one per plugin
    assert len(listed_at_start) <= 3, listed_at_start
    listings.clear()
    h.run(h.host.reload(["p07_plugin"]))
    assert h.kinds("plugin.reloaded", "p07_plugin")
    assert listings == []


def test_each_module_source_is_parsed_once_per_content(
    plugin_dir: Path, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(5):
        trivial(plugin_dir, f"p{n}_plugin")
    parsed: list[str] = []
    real_parse = ast.parse

    def counting_parse(source: Any, *args: Any, **kwargs: Any) -> Any:
        parsed.append(source)
        return real_parse(source, *args, **kwargs)

    imports.parse_source.cache_clear()
    monkeypatch.setattr(imports.ast, "parse", counting_parse)
    h = harness().start()
    assert len(parsed) == 5  # the graph's facts and the dependency check share one parse per module
    parsed.clear()
    h.run(h.host.reload(["p3_plugin"]))
    assert parsed == []  # same content: nothing to parse again
    trivial(plugin_dir, "p3_plugin")
    (plugin_dir / "p3_plugin.py").write_text((plugin_dir / "p3_plugin.py").read_text() + "\nX = 1\n")
    h.run(h.host.reload(["p3_plugin"]))
    assert len(parsed) == 1


def test_a_sibling_module_or_package_is_still_not_an_undeclared_import(plugin_dir: Path, harness: Harness) -> None:
    write_plugin(plugin_dir, "helperish", "X = 1\n")
    (plugin_dir / "support").mkdir()
    (plugin_dir / "support" / "__init__.py").write_text("Y = 2\n")
    write_plugin(plugin_dir, "user_plugin", """
        import helperish
        import support
        import not_installed_anywhere


        class User_pluginPlugin:
            def __init__(self, node):
                pass

            def initialize(self):
                pass

            def shutdown(self):
                pass
    """)
    h = harness()
    from devnode.host.dependencies import check_module

    [warning] = check_module("user_plugin", plugin_dir / "user_plugin.py", plugin_dir)
    assert "not_installed_anywhere" in warning.message
    assert "helperish" not in warning.message and "support" not in warning.message
    del h


def project_with_bulk(plugin_dir: Path) -> None:
    """A plugin that reads settings.json, one that reads nothing, and bytes no plugin reads."""
    write_plugin(plugin_dir, "reader_plugin", READER)
    (plugin_dir / "settings.json").write_text('{"a": 1}')
    trivial(plugin_dir, "plain_plugin")
    (plugin_dir / "blob.bin").write_bytes(b"x" * 1000)
    data = plugin_dir / "data"
    data.mkdir()
    for n in range(30):
        (data / f"row{n}.csv").write_text("1,2,3\n")
    for ignored in (".git/objects/pack", "node_modules/left-pad"):
        (plugin_dir / ignored).mkdir(parents=True)
        (plugin_dir / ignored / "big.pack").write_bytes(b"\0" * 4096)


def test_start_up_hashes_only_modules_and_the_files_plugins_read_and_each_once(
    plugin_dir: Path, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devnode.reload.reloader import Reloader

    project_with_bulk(plugin_dir)
    hashed: list[Path] = []
    real_digest = contents._digest

    def counting_digest(path: str) -> str | None:
        hashed.append(Path(path))
        return real_digest(path)

    monkeypatch.setattr(contents, "_digest", counting_digest)
    h = harness().start()
    reloader = Reloader(h.host)
    h.run(reloader.apply(reloader.rescan(), trust_stat=True))  # the catch-up rescan, as Reloader.run does it
    names = sorted(p.relative_to(plugin_dir).as_posix() for p in hashed)
    assert names == ["settings.json"]  # once; the modules' digests come from the bytes their import read
    assert set(h.host.executed_sources()) >= {str(plugin_dir.resolve() / "plain_plugin.py"),
                                              str(plugin_dir.resolve() / "reader_plugin.py")}

    # The watcher's saves are still hashed: same content is dropped, new content reloads the reader.
    hashed.clear()
    settings = plugin_dir / "settings.json"
    settings.write_text('{"a": 1}')
    assert h.run(reloader.apply({settings})).reload == []
    settings.write_text('{"a": 2}')
    assert h.run(reloader.apply({settings})).reload == ["reader_plugin"]
    blob = plugin_dir / "blob.bin"
    blob.write_bytes(b"y" * 1000)
    assert not h.run(reloader.apply({blob}))  # nothing depends on it: no plan, and its bytes are not read
    assert blob not in hashed and hashed.count(settings) == 2


def test_start_up_never_walks_ignored_dirs(plugin_dir: Path, harness: Harness, listings: list[str]) -> None:
    from devnode.reload.reloader import Reloader

    project_with_bulk(plugin_dir)
    h = harness().start()
    reloader = Reloader(h.host)
    h.run(reloader.apply(reloader.rescan(), trust_stat=True))
    walked = {Path(p).resolve().relative_to(plugin_dir.resolve()).as_posix() for p in listings
              if Path(p).resolve().is_relative_to(plugin_dir.resolve())}
    assert "data" in walked  # ordinary sub-directories are still walked (a new plugin package there counts)
    assert not {w for w in walked if w.startswith((".git", "node_modules"))}


def test_a_file_saved_during_start_up_is_caught_up_with_the_stat_shortcut(plugin_dir: Path, harness: Harness) -> None:
    from devnode.reload.reloader import Reloader

    project_with_bulk(plugin_dir)
    h = harness().start()
    reloader = Reloader(h.host)
    settings = plugin_dir / "settings.json"
    settings.write_text('{"a": 3, "longer": true}')  # a different size: its stat no longer matches
    plan = h.run(reloader.apply(reloader.rescan(), trust_stat=True))
    assert plan.reload == ["reader_plugin"]


def test_start_up_reads_each_module_once_for_the_graph_and_once_to_run_it(
    plugin_dir: Path, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(5):
        trivial(plugin_dir, f"p{n}_plugin")
    from devnode.host import content

    reads: list[str] = []
    real_read = content.read_regular

    def counting_read(path: str) -> bytes | None:
        reads.append(os.path.basename(path))
        return real_read(path)

    monkeypatch.setattr(content, "read_regular", counting_read)
    h = harness().start()
    assert sorted(reads) == [f"p{n}_plugin.py" for n in range(5)]  # the graph's; after the import, its record
    reads.clear()
    (plugin_dir / "p3_plugin.py").write_text((plugin_dir / "p3_plugin.py").read_text() + "\nX = 1\n")
    h.run(h.host.reload(["p3_plugin"]))
    assert reads == ["p3_plugin.py"]  # new content: the graph reads it once for its facts


@pytest.mark.parametrize("tag", [True, False], ids=["dict-version-tag", "table-compare"])
def test_a_plugin_module_replaced_during_another_plugins_initialize_is_put_back(
    plugin_dir: Path, harness: Harness, monkeypatch: pytest.MonkeyPatch, tag: bool
) -> None:
    from devnode import module_table

    if tag and not module_table.tag_readable():
        pytest.skip("this interpreter's dict version tag is not readable")
    monkeypatch.setattr(module_table, "_TAGGED", tag)
    trivial(plugin_dir, "a_plugin")
    write_plugin(plugin_dir, "b_plugin", """
        import sys
        import types


        class B_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                sys.modules["plugins.a_plugin"] = types.ModuleType("impostor")

            def shutdown(self):
                pass
    """)
    import sys

    h = harness().start()
    original = h.host.slot_for_tests("a_plugin").module
    assert sys.modules["plugins.a_plugin"] is original
    [warning] = [r for r in h.records if r.get("code") == "module-replaced"]
    assert warning["plugin"] == "b_plugin" and "sys.modules['plugins.a_plugin']" in warning["message"]


def test_a_plugin_module_deleted_during_another_plugins_shutdown_is_put_back(
    plugin_dir: Path, harness: Harness
) -> None:
    trivial(plugin_dir, "a_plugin")
    write_plugin(plugin_dir, "b_plugin", """
        import sys


        class B_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                pass

            def shutdown(self):
                del sys.modules["plugins.a_plugin"]
    """)
    import sys

    h = harness().start()
    original = h.host.slot_for_tests("a_plugin").module
    h.run(h.host.reload(["b_plugin"]))
    assert sys.modules["plugins.a_plugin"] is original
    [warning] = [r for r in h.records if r.get("code") == "module-replaced"]
    assert warning["plugin"] == "b_plugin" and "sys.modules['plugins.a_plugin']" in warning["message"]


@pytest.mark.parametrize("tag", [True, False], ids=["dict-version-tag", "table-compare"])
def test_the_module_table_check_sees_every_kind_of_change_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch, tag: bool
) -> None:
    """``ModuleTable.unchanged``: false after an entry is added, replaced or removed, or the table rebound."""
    import sys
    import types

    from devnode import module_table
    from devnode.module_table import ModuleTable

    if tag and not module_table.tag_readable():
        pytest.skip("this interpreter's dict version tag is not readable")
    tagged = tag

    name = "devnode_probe_module"
    module = types.ModuleType(name)
    changes: dict[str, Callable[[], None]] = {
        "add": lambda: sys.modules.__setitem__(name + "_other", module),
        "replace": lambda: sys.modules.__setitem__(name, types.ModuleType(name)),
        "remove": lambda: sys.modules.__delitem__(name),
        "rebind": lambda: monkeypatch.setattr(sys, "modules", dict(sys.modules)),
    }
    for what, change in changes.items():
        monkeypatch.setattr(module_table, "_TAGGED", tagged)
        sys.modules[name] = module
        table = ModuleTable()
        assert (table.version is not None) is tagged
        sys.modules[name] = module  # the same object again is no change
        assert table.unchanged()
        try:
            change()
            assert not table.unchanged(), what
        finally:
            monkeypatch.undo()
            sys.modules.pop(name, None)
            sys.modules.pop(name + "_other", None)
    table = ModuleTable()
    assert table.unchanged() and table.entries == sys.modules


def test_a_start_imports_no_http_client_rsa_or_toml_parser(tmp_path: Path) -> None:
    import subprocess
    import sys

    from conftest import ROOT

    probe = (
        "import sys\n"
        "from devnode import reporting\n"
        "emit = reporting.Reporter.emit\n"
        "def ready(self, kind, **fields):\n"
        "    if kind == 'node.ready':\n"
        "        heavy = ['urllib.request', 'http.client', 'email', 'tomllib',\n"
        "                 'cryptography.hazmat.primitives.serialization']\n"
        "        print('LOADED', [m for m in heavy if m in sys.modules], flush=True)\n"
        "        import os; os._exit(0)\n"
        "    return emit(self, kind, **fields)\n"
        "reporting.Reporter.emit = ready\n"
        "from devnode.cli import main\n"
        "main(['run', sys.argv[1], '--ui', 'json', '--no-watch', '--data-dir', sys.argv[2]])\n"
    )
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "example_plugin.py").write_text((ROOT / "plugins" / "example_plugin.py").read_text())
    out = subprocess.run([sys.executable, "-c", probe, str(plugins), str(tmp_path / "data")], capture_output=True,
                         text=True, timeout=120, stdin=subprocess.DEVNULL, cwd=tmp_path).stdout
    assert "LOADED []" in out, out


def test_version_and_help_import_neither_the_node_nor_asyncio() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from devnode.cli import main\n"
        "for argv in (['--version'], ['--help'], ['run', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ['asyncio', 'cryptography', 'sqlite3', 'dotenv', 'importlib.metadata', 'devnode.bus',\n"
        "         'devnode.node.node', 'devnode.config', 'anyio']\n"
        "print('LOADED', [m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60).stdout
    assert "LOADED []" in out, out


def test_the_public_names_still_import_from_devnode() -> None:
    import devnode
    from devnode import DevNode, Event, EventBus, EventType, NodeConfig, __version__, load_config
    from devnode.bus import EventType as Direct

    assert EventType is Direct and callable(load_config) and isinstance(__version__, str)
    assert {DevNode.__name__, Event.__name__, EventBus.__name__, NodeConfig.__name__} == {
        "DevNode", "Event", "EventBus", "NodeConfig"}
    assert set(devnode.__all__) <= set(dir(devnode))
    with pytest.raises(AttributeError):
        devnode.no_such_name  # noqa: B018


def test_the_node_key_is_checked_at_start_without_cryptography(tmp_path: Path) -> None:
    from devnode.node.crypto import Cipher, KeyFileError, load_or_create_key

    key = load_or_create_key(tmp_path)
    cipher = Cipher(key)
    assert cipher.decrypt(cipher.encrypt({"a": 1})) == "{'a': 1}"  # a real Fernet key, made without Fernet
    (tmp_path / "bad").mkdir()
    from devnode.node.crypto import KEY_FILENAME

    (tmp_path / "bad" / KEY_FILENAME).write_bytes(b"not-a-key")
    with pytest.raises(KeyFileError, match="not a valid Fernet key"):
        load_or_create_key(tmp_path / "bad")


def test_the_threaded_watcher_reports_a_save_and_stops_when_asked(tmp_path: Path) -> None:
    import asyncio

    from watchfiles import Change

    from devnode.reload.notify import watch_in_thread

    async def scenario() -> set[tuple[Change, str]]:
        stop = asyncio.Event()
        batches = watch_in_thread(tmp_path, watch_filter=lambda c, p: not p.endswith(".skip"), debounce=1600,
                                  step=10, stop_event=stop, force_polling=False, poll_delay_ms=100).__aiter__()
        first = asyncio.ensure_future(batches.__anext__())
        await asyncio.sleep(0)  # the watch is registered in the first step
        (tmp_path / "a.skip").write_text("x")
        (tmp_path / "a.py").write_text("x = 1\n")
        changes = await asyncio.wait_for(first, 30)
        stop.set()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(batches.__anext__(), 30)
        return changes

    changes = asyncio.run(scenario())
    assert {p for _, p in changes} == {str(tmp_path / "a.py")}
    import threading

    assert not [t for t in threading.enumerate() if t.name == "devnode-watcher"]


def test_the_watchdog_never_wakes_an_idle_loop_and_still_reports_a_stall_while_it_lasts(tmp_path: Path) -> None:
    import asyncio
    import time

    from devnode.reporting import Reporter
    from devnode.watchdog import Watchdog

    dog = Watchdog(Reporter(), tmp_path, warn_after=0.3, interrupt_after=None)  # the default tick, as devnode run

    async def main() -> tuple[int, int, bool]:
        loop = asyncio.get_running_loop()
        selector: Any = loop._selector  # type: ignore[attr-defined]
        real_select = selector.select
        waits = 0

        def counting_select(timeout: float | None = None) -> Any:
            nonlocal waits
            waits += 1
            return real_select(timeout)

        dog.start(loop)
        selector.select = counting_select  # after start: the watchdog knows the selector's own wait
        try:
            await asyncio.sleep(1.5)  # idle: one wait for the timer, plus at most a wakeup or two
            idle_waits = waits
            time.sleep(0.3 + 1.0)  # blocked for a second longer than warn_after
            reported_while_blocked = bool(dog.stalls)
            await asyncio.sleep(0.3)
            return idle_waits, len(dog.stalls), reported_while_blocked
        finally:
            selector.select = real_select
            dog.stop()

    idle_waits, stalls, reported_while_blocked = asyncio.run(main())
    assert idle_waits <= 3  # a heartbeat timer on the loop would wake it 15 times in 1.5 s
    assert reported_while_blocked and stalls == 1


def test_rich_per_string_caches_stay_small_however_many_distinct_lines_are_printed() -> None:
    import io

    from rich import cells
    from rich.console import Console

    from devnode.ui.console import render_caches

    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    for n in range(3000):
        console.print(f"reloaded bench_plugin 1.0.{n} in {n / 7:.3f} ms")  # every line distinct, like reload lines
        render_caches.trim()
    assert cells.cached_cell_len.cache_info().currsize <= 512 + 10


def test_json_event_lines_are_the_same_text_written_once_per_loop_turn_and_in_order() -> None:
    import asyncio
    import io

    from devnode.reporting import json_line
    from devnode.ui.jsonl import JsonUI

    class CountingStream(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            self.writes += 1
            return super().write(text)

    def event(n: int, **extra: Any) -> dict[str, Any]:
        handlers = [{"plugin": "a_plugin", "handler": f"A_pluginPlugin.on_{i}", "ok": True, "ms": 0.001 * i,
                     "error": None} for i in range(3)]
        handlers.append({"plugin": None, "handler": "x", "ok": False, "ms": 2.5, "error": "ValueError: no"})
        return {"kind": "event", "ts": 1.5, "type": "data.shared", "data": {"n": n, "é": "\u2028"},
                "handlers": handlers, **extra}

    stream = CountingStream()
    ui = JsonUI(stream)
    records = [event(1), event(2), {"kind": "log", "ts": 2.0, "message": "between"}, event(3), event(4)]

    async def burst() -> int:
        for record in records:
            ui(record)
        before = stream.writes
        await asyncio.sleep(0)  # end of the loop turn: the waiting event lines go out together
        return before

    writes_during_burst = asyncio.run(burst())
    assert stream.getvalue() == "".join(json_line(r) + "\n" for r in records)
    assert writes_during_burst == 1 and stream.writes == 2  # the log record took events 1-2 with it


def test_a_plugin_saved_while_the_node_starts_is_reloaded_by_the_catch_up(plugin_dir: Path, harness: Harness) -> None:
    from devnode.reload.reloader import Reloader

    trivial(plugin_dir, "early_plugin")
    trivial(plugin_dir, "late_plugin")
    h = harness().start()
    # Saved after early_plugin was imported, before the watcher existed (other plugins were still loading).
    (plugin_dir / "early_plugin.py").write_text((plugin_dir / "early_plugin.py").read_text() + "\nVERSION = 2\n")
    reloader = Reloader(h.host)
    plan = h.run(reloader.apply(reloader.rescan(), trust_stat=True))
    assert plan.reload == ["early_plugin"]


def test_the_snapshots_one_pass_settings_read_matches_the_settings_table() -> None:
    """``read_settings`` (one loop look-up per snapshot) reads exactly what each PROCESS_SETTINGS entry reads."""
    import asyncio

    from devnode.process_state import PROCESS_SETTINGS, read_settings

    def compare() -> None:
        one_pass, each = read_settings(), [read() for _, read, _, _ in PROCESS_SETTINGS]
        assert len(one_pass) == len(each) == len(PROCESS_SETTINGS)
        for (what, *_), a, b in zip(PROCESS_SETTINGS, one_pass, each):
            assert a is b or a == b, what

    compare()  # no running loop

    async def in_loop() -> None:
        loop = asyncio.get_running_loop()
        loop.set_task_factory(lambda loop, coro, **kw: asyncio.Task(coro, loop=loop, **kw))
        loop.set_exception_handler(lambda loop, context: None)
        compare()

    asyncio.run(in_loop())


def _settle(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``folder``'s listing trustworthy without a 2 s wait: a short settle time, waited for (by the clock)."""
    import time

    from devnode.host import tree

    monkeypatch.setattr(tree, "SETTLED_NS", 50_000_000)
    changed = max(os.stat(p).st_ctime_ns for p in [folder, *(d for d in folder.rglob("*") if d.is_dir())])
    deadline = time.monotonic() + 10
    while time.time_ns() <= changed + tree.SETTLED_NS and time.monotonic() < deadline:
        time.sleep(0.01)  # waiting for the clock itself to pass a point, not for a condition to come true


def test_start_up_lists_a_settled_data_dir_once(
    plugin_dir: Path, harness: Harness, listings: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The symlink check, the content ledger and the catch-up rescan share one listing of an unchanged dir."""
    from devnode.reload.reloader import Reloader

    project_with_bulk(plugin_dir)
    _settle(plugin_dir, monkeypatch)
    listings.clear()
    h = harness().start()
    reloader = Reloader(h.host)
    h.run(reloader.apply(reloader.rescan(listings=h.host.listings), trust_stat=True))
    data = [p for p in listings if Path(p).name == "data"]
    assert len(data) == 1, [p.rsplit("/", 2)[-2:] for p in listings]


def test_a_listing_is_taken_again_once_its_dir_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from devnode.host import tree

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.csv").write_text("1\n")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "to-a").symlink_to(folder / "a.csv")
    _settle(tmp_path, monkeypatch)
    cache = tree.Listings()
    first = cache.listing(str(folder))
    assert cache.listing(str(folder)) is first  # unchanged: the same listing
    (folder / "b.csv").write_text("2\n")  # the dir's ctime moves on
    assert sorted(e.name for e in cache.listing(str(folder)).entries) == ["a.csv", "b.csv"]
    assert cache.listing(str(linked)) is not cache.listing(str(linked))  # a symlink's target may change: listed anew
    monkeypatch.setattr(tree, "SETTLED_NS", 10**18)  # nothing has settled: every listing is taken again
    assert cache.listing(str(fresh)) is not cache.listing(str(fresh))
