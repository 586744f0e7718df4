"""Faults in what a plugin leaves behind and in the plugin dir itself: patches, threads, helpers, files."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from conftest import wait_until

from devnode.ownership import current_ledger
from faults.faultkit import FAULTY, Bench, Expect, plugin_source

WRAPPER = '''
from pathlib import Path


class {cls}:
    def __init__(self, node):
        self.node = node
        self.version = "{version}"
        self.calls = Path(node.config.data_dir) / "wrapper-calls.log"

    def initialize(self):
        inner = self.node.share_data

        async def wrapped(data, recipient, **kwargs):
            with open(self.calls, "a") as f:
                f.write("{name} {version}\\n")
            return await inner(data, recipient, **kwargs)

        self.node.share_data = wrapped
{restore}

    def shutdown(self):
        pass
'''


def wrapper(name: str, version: str, restore: bool = False) -> str:
    cls = name.capitalize() + "Plugin"
    body = "        self.inner = inner\n" if restore else ""
    source = WRAPPER.format(cls=cls, name=name, version=version, restore=body)
    if restore:
        source = source.replace("    def shutdown(self):\n        pass", "    def shutdown(self):\n"
                                "        self.node.share_data = self.inner")
    return source.lstrip()


def share_calls(b: Bench) -> list[str]:
    """Share once; which wrappers ran, in order."""
    log = b.data_dir / "wrapper-calls.log"
    log.unlink(missing_ok=True)
    b.run(b.h.node.share_data("report 1", "peer1"))
    return log.read_text().splitlines() if log.exists() else []


def test_wrapped_node_method_not_restored_is_put_back_by_devnode(bench: Callable[..., Bench]) -> None:
    b = bench(plugin_source("1"))
    original = b.h.node.share_data
    b.edit("wrap_plugin", wrapper("wrap_plugin", "1"))
    assert share_calls(b) == ["wrap_plugin 1"]
    # the author removes the wrapping but never restored it in shutdown()
    b.edit("wrap_plugin", wrapper("wrap_plugin", "2").replace("self.node.share_data = wrapped", "pass"))
    assert share_calls(b) == []
    assert b.h.node.share_data == original and "share_data" not in vars(b.h.node)
    record = b.survived(Expect(state="active", kind="warning", code="cleanup", cause="1 patch", plugin="wrap_plugin",
                               file="plugins/wrap_plugin.py"))
    assert record["cleaned"]["patches"] == ["node.share_data"]


def test_two_plugins_wrapping_the_same_method_and_one_reloads(bench: Callable[..., Bench]) -> None:
    b = bench(plugin_source("1"))
    b.edit("a_wrap", wrapper("a_wrap", "1", restore=True))
    b.edit("b_wrap", wrapper("b_wrap", "1"))  # b wraps a's wrapper and never restores
    assert share_calls(b) == ["b_wrap 1", "a_wrap 1"]

    b.edit("a_wrap", wrapper("a_wrap", "2", restore=True))  # the inner wrapper reloads
    # b was lifted off and put back on top of a's new wrapper: each runs once, no stale a_wrap 1
    assert share_calls(b) == ["b_wrap 1", "a_wrap 2"]
    b.edit("b_wrap", wrapper("b_wrap", "2"))
    assert share_calls(b) == ["b_wrap 2", "a_wrap 2"]
    assert {b.status()[n]["patches"] for n in ("a_wrap", "b_wrap")} == {1}
    b.survived(Expect(state="active", kind="plugin.reloaded", cause="", plugin="a_wrap", file=None))

    # unloading both puts the node's own method back
    b.write("a_wrap.py", "").unlink()
    b.write("b_wrap.py", "").unlink()
    b.apply(b.plugin_dir / "a_wrap.py", b.plugin_dir / "b_wrap.py")
    assert "share_data" not in vars(b.h.node) and share_calls(b) == []


def test_plugin_that_starts_a_thread_and_leaves_it_running(bench: Callable[..., Bench]) -> None:
    b = bench(plugin_source("1"))
    b.edit(FAULTY, plugin_source("2", initialize="self.worker = threading.Thread(target=self.spin, name='poller', "
                                                 "daemon=True)\nself.worker.start()",
                                 methods="def spin(self):\n    STOP.wait(30)", module="STOP = threading.Event()"))
    worker_module_stop = b.h.host.slot_for_tests(FAULTY).module.STOP  # type: ignore[union-attr]
    try:
        b.edit(FAULTY, plugin_source("3"))
        record = b.survived(Expect(state="active", kind="warning", code="thread-left-running", cause="'poller'",
                                   serving="3"))
        assert "signal them to stop in shutdown()" in record["message"]
    finally:
        worker_module_stop.set()  # the plugin never stops its thread; the test must
    thread = next(t for t in threading.enumerate() if t.name == "poller")
    thread.join(5)
    assert not thread.is_alive()


def test_thread_started_by_a_plugin_belongs_to_it(bench: Callable[..., Bench]) -> None:
    """The owner follows the plugin into its thread, so a stall or log there is attributed right."""
    b = bench(plugin_source("1"))
    owners: list[str | None] = []
    b.h.node.probe_owner = lambda: owners.append(getattr(current_ledger(), "owner", None))  # type: ignore[attr-defined]
    b.edit(FAULTY, plugin_source("2", initialize="t = threading.Thread(target=self.node.probe_owner)\nt.start()\n"
                                                 "t.join()"))
    assert owners == [FAULTY]
    b.survived(Expect(state="active", kind="plugin.reloaded", cause="", serving="2", file=None))


def test_circular_imports_between_helper_modules(bench: Callable[..., Bench]) -> None:
    b = bench(plugin_source("1"))
    b.apply(b.write("_alpha.py", "from plugins._beta import BETA\n\nALPHA = 'a' + BETA\n"),
            b.write("_beta.py", "from plugins._alpha import ALPHA\n\nBETA = 'b' + ALPHA\n"))
    b.edit(FAULTY, plugin_source("2", imports="from plugins._alpha import ALPHA"))
    record = b.survived(Expect(state="failed-running-previous", kind="plugin.failed", cause="circular import",
                               serving="1", file="plugins/_beta.py"))
    assert record["line"] == 1
    # breaking the cycle is a helper edit: the plugin importing it reloads by itself
    b.edit("_beta.py", "BETA = 'b'\n")
    assert b.probe() == {("witness", "1"), ("faulty", "2")}


def test_helper_deleted_while_a_plugin_imports_it(bench: Callable[..., Bench]) -> None:
    b = bench(plugin_source("1"))
    b.apply(b.write("_shared.py", "PREFIX = 'x'\n"))
    b.edit(FAULTY, plugin_source("2", imports="from plugins._shared import PREFIX"))
    assert b.probe() == {("witness", "1"), ("faulty", "2")}
    helper = b.plugin_dir / "_shared.py"
    helper.unlink()
    b.apply(helper)
    record = b.survived(Expect(state="failed-running-previous", kind="plugin.failed",
                               cause="No module named 'plugins._shared'", serving="2"))
    assert "there is no _shared.py" in record["hint"]
    b.edit("_shared.py", "PREFIX = 'y'\n")
    assert b.status()[FAULTY]["state"] == "active"


def test_plugin_file_replaced_by_a_directory(bench: Callable[..., Bench]) -> None:
    b = bench(plugin_source("1"))
    path = b.plugin_dir / f"{FAULTY}.py"
    path.unlink()
    path.mkdir()
    (path / "notes.txt").write_text("oops\n")
    b.apply(path, path / "notes.txt")
    b.survived(Expect(state=None, kind="warning", code="not-a-file", cause="is now a directory", serving=None))
    assert b.kinds("plugin.unloaded", FAULTY)[-1]["reason"] == "file deleted"
    # and back to a file
    path.joinpath("notes.txt").unlink()
    path.rmdir()
    b.edit(FAULTY, plugin_source("2"))
    assert b.probe() == {("witness", "1"), ("faulty", "2")}


def test_symlink_into_the_plugin_dir_loads(bench: Callable[..., Bench]) -> None:
    b = bench(plugin_source("1"))
    real = b.write("_real_source.py", plugin_source("7").replace("Faulty_pluginPlugin", "Linked_pluginPlugin")
                   .replace('"plugin": "faulty"', '"plugin": "linked"'))
    link = b.plugin_dir / "linked_plugin.py"
    link.symlink_to(real)
    b.apply(link, real)
    assert ("linked", "7") in b.probe()
    b.survived(Expect(state="active", kind="plugin.loaded", cause="", plugin="linked_plugin",
                      file="plugins/linked_plugin.py"))


def test_symlink_out_of_the_plugin_dir_is_refused_and_never_runs(bench: Callable[..., Bench], tmp_path: Path) -> None:
    b = bench(plugin_source("1"))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    marker = tmp_path / "outside-code-ran"
    (outside / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n" + plugin_source("9"))
    path = b.plugin_dir / f"{FAULTY}.py"
    tmp_link = b.plugin_dir / ".faulty.tmp~"
    tmp_link.symlink_to(outside / "evil.py")
    os.replace(tmp_link, path)
    b.apply(path)
    record = b.survived(Expect(state="failed-running-previous", kind="plugin.failed", cause="outside the plugin dir",
                               serving="1"))
    assert str(outside / "evil.py") in record["error"]
    assert not marker.exists()


def test_file_deleted_in_the_middle_of_a_save(bench: Callable[..., Bench]) -> None:
    """The watcher saw a change, but by the time devnode reads the file the editor has removed it."""
    b = bench(plugin_source("1"))
    path = b.plugin_dir / f"{FAULTY}.py"
    path.unlink()  # e.g. a "backup, delete, write" save caught between delete and write
    b.run(b.h.host.reload([FAULTY], trigger=["faulty_plugin.py"]))
    record = b.survived(Expect(state="failed-running-previous", kind="plugin.failed", cause="No module named",
                               serving="1"))
    assert "there is no faulty_plugin.py" in (record["hint"] or "")
    b.edit(FAULTY, plugin_source("2"))
    assert b.probe() == {("witness", "1"), ("faulty", "2")}


def test_half_written_save_then_the_rest(bench: Callable[..., Bench]) -> None:
    b = bench(plugin_source("1"))
    full = plugin_source("2")
    b.edit(FAULTY, full[: len(full) // 2])  # the watcher fired between two write() calls
    b.survived(Expect(state="failed-running-previous", kind="plugin.failed", cause="Error", serving="1"))
    b.edit(FAULTY, full)
    wait_until(lambda: b.status()[FAULTY]["state"] == "active", what="recovered")
    assert b.probe() == {("witness", "1"), ("faulty", "2")}


def test_symlinked_package_out_of_the_plugin_dir_is_reported_and_never_loaded(
    bench: Callable[..., Bench], tmp_path: Path
) -> None:
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    marker = tmp_path / "vendor-code-ran"
    (vendor / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\nHELP = 1\n")
    b = bench(plugin_source("1"))
    link = b.plugin_dir / "vendor"
    link.symlink_to(vendor, target_is_directory=True)
    b.apply(link / "__init__.py")
    warning = next(w for w in b.kinds("warning") if w.get("code") == "symlink-outside")
    assert "plugins/vendor is a symlink to the directory" in warning["message"] and str(vendor) in warning["message"]

    b.edit(FAULTY, plugin_source("2", imports="from plugins import vendor"))
    b.survived(Expect(state="failed-running-previous", kind="plugin.failed", cause="outside the plugin dir",
                      serving="1"))
    assert not marker.exists()
    # reported once, not on every save out there
    (vendor / "__init__.py").write_text("HELP = 2\n")
    b.apply(link / "__init__.py")
    assert len([w for w in b.kinds("warning") if w.get("code") == "symlink-outside"]) == 1


def test_plugin_saved_while_a_helper_is_broken_does_not_load_against_its_old_code(bench: Callable[..., Bench]) -> None:
    """The helper's last good code is still in memory; the file on disk is what counts."""
    b = bench(plugin_source("1"))
    b.apply(b.write("_common.py", "GREETING = 'hi'\n"))
    b.edit("other_plugin", "from plugins._common import GREETING\n\n\nclass Other_pluginPlugin:\n"
                           "    def __init__(self, node):\n        self.greeting = GREETING\n")
    assert b.status()["other_plugin"]["state"] == "active"
    b.edit("_common.py", "GREETING = (\n")  # broken: other_plugin keeps its previous version
    assert b.status()["other_plugin"]["state"] == "failed-running-previous"
    b.edit(FAULTY, plugin_source("2", imports="from plugins._common import GREETING"))
    record = b.survived(Expect(state="failed-running-previous", kind="plugin.failed", cause="SyntaxError",
                               serving="1", file="plugins/_common.py"))
    assert record["plugin"] == FAULTY
    b.edit("_common.py", "GREETING = 'hello'\n")  # fixed: both importers come back, on the new code
    assert b.status()["other_plugin"]["state"] == "active" and b.h.host.get_plugin("other_plugin").greeting == "hello"
    b.edit(FAULTY, plugin_source("3", imports="from plugins._common import GREETING"))
    assert b.status()[FAULTY]["state"] == "active"
