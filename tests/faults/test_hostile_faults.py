"""A plugin hostile to every boundary devnode has (issue 12), each against a real ``devnode run`` process.

Each test shares one process between the faults of one kind (objects that raise
when read, code that hangs, process-wide changes, vanishing directories, state
hooks) and ends the same way: the node is up, answers ``status`` and ``quit``,
the healthy witness plugin still receives events, and every report names the
plugin's file and the cause.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from conftest import DevnodeProcess, atomic_write, wait_until

from devnode.node.storage import Store
from faults.faultkit import FAULTY, plugin_source
from faults.faultkit import hostile_source as source
from faults.test_process_faults import start, state_of, witness_receives


def statuses(proc: DevnodeProcess) -> dict[str, dict[str, object]]:
    mark = proc.mark()
    proc.send("status")
    return {p["plugin"]: p for p in proc.wait_for("status", after=mark)["plugins"]}


def quit_within(proc: DevnodeProcess, seconds: float) -> float:
    """Send quit; the process must be gone within ``seconds`` and exit 0. Returns how long it took."""
    started = time.monotonic()
    proc.send("quit")
    proc.proc.wait(seconds)
    took = time.monotonic() - started
    assert proc.stop() == 0, "".join(proc.stderr_lines)
    return took


# -- what devnode reads from plugin objects -------------------------------------------------------------
UNPRINTABLE = '''
class Unprintable:
    def __repr__(self):
        raise ValueError("no repr for you")
    __str__ = __repr__
'''


def test_plugin_objects_that_raise_when_read_never_take_devnode_down(
    devnode_process: Callable[..., DevnodeProcess], plugin_dir: Path
) -> None:
    (plugin_dir / "vprop_plugin.py").write_text(source("vprop_plugin", '''
        def __init__(self, node):
            self.node = node
        @property
        def version(self):
            raise KeyError("version")
        def initialize(self):
            pass
        def shutdown(self):
            pass
    '''))
    (plugin_dir / "strexc_plugin.py").write_text(source("strexc_plugin", '''
        def __init__(self, node):
            self.node = node
        def initialize(self):
            class Opaque(Exception):
                def __str__(self):
                    raise RuntimeError("str of the error")
            raise Opaque()
        def shutdown(self):
            pass
    '''))
    (plugin_dir / "stopper_plugin.py").write_text(source("stopper_plugin", '''
        def __init__(self, node):
            self.node = node
        def initialize(self):
            asyncio.get_running_loop().stop()
        def shutdown(self):
            pass
    '''))
    (plugin_dir / "oddrepr_plugin.py").write_text(source("oddrepr_plugin", head=UNPRINTABLE, body='''
        def __init__(self, node):
            self.node = node
        def initialize(self):
            self.node.event_bus.subscribe(EventType.DATA_VERIFIED, self.on_verified)
        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.DATA_VERIFIED, self.on_verified)
        async def on_verified(self, event):
            await self.node.event_bus.publish(Event(EventType.COMPLIANCE_EVENT, {"odd": Unprintable()}))
    '''))
    (plugin_dir / "basexc_plugin.py").write_text(source("basexc_plugin", '''
        def __init__(self, node):
            self.node = node
        def initialize(self):
            self.node.event_bus.subscribe(EventType.HEALTH_UPDATE, self.on_health)
        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.HEALTH_UPDATE, self.on_health)
        def on_health(self, event):
            class Abort(BaseException):
                pass
            raise Abort("not an Exception")
    '''))
    (plugin_dir / "badpub_plugin.py").write_text(source("badpub_plugin", '''
        def __init__(self, node):
            self.node = node
        def initialize(self):
            self.node.event_bus.subscribe(EventType.NETWORK_STATS_UPDATE, self.on_stats)
            sys.__stdout__.close()  # the stream devnode's records used to go to
        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.NETWORK_STATS_UPDATE, self.on_stats)
        async def on_stats(self, event):
            await self.node.event_bus.publish({"type": "data.received", "data": {}})
    '''))
    busswap = plugin_dir / "busswap_plugin.py"
    busswap_body = '''
        def __init__(self, node):
            self.node = node
            self.version = VERSION
        def initialize(self):
            class OnlyPublish:  # a wrapper with the production methods only
                def __init__(self, bus):
                    self.subscribe, self.unsubscribe, self.publish = bus.subscribe, bus.unsubscribe, bus.publish
            self.original = self.node.event_bus
            self.node.event_bus = OnlyPublish(self.original)
        def shutdown(self):
            self.node.event_bus = self.original
    '''
    busswap.write_text(source("busswap_plugin", busswap_body))
    proc = start(devnode_process, plugin_dir, "--timeout", "2")

    failed = {r["plugin"]: r for r in proc.find("plugin.failed")}
    assert "unprintable" in failed["strexc_plugin"]["error"] and "Opaque" in failed["strexc_plugin"]["error"]
    assert failed["strexc_plugin"]["file"] == "plugins/strexc_plugin.py"
    stop = failed["stopper_plugin"]
    assert "LoopControlError" in stop["error"] and "loop.stop()" in stop["error"], stop
    assert stop["file"] == "plugins/stopper_plugin.py" and stop["line"] is not None
    status = statuses(proc)
    assert status["vprop_plugin"]["state"] == "active" and status["vprop_plugin"]["version"] is None

    # event data whose repr raises: the record still comes out (with a placeholder), and so do the next ones
    mark = proc.mark()
    proc.send("emit data.verified {}")
    odd = proc.wait_for("event", after=mark, type="compliance.event")
    assert "unprintable" in json.dumps(odd["data"])
    witness_receives(proc, 1)

    # a BaseException subclass (not Exception) from a handler: reported, the commands after it still run
    mark = proc.mark()
    proc.send("emit health.update {}")
    error = proc.wait_for("plugin.error", after=mark, plugin="basexc_plugin")
    assert "Abort: not an Exception" in error["error"] and error["file"] == "plugins/basexc_plugin.py"
    assert statuses(proc)["basexc_plugin"]["state"] == "active"

    # a publish of something that is not an Event: the publisher's own error, every observer unharmed
    mark = proc.mark()
    proc.send("emit network.stats_update {}")
    bad = proc.wait_for("plugin.error", after=mark, plugin="badpub_plugin")
    assert "AttributeError" in bad["error"] and bad["file"] == "plugins/badpub_plugin.py"  # as production's bus

    # saves still swap: the raising version property, and a plugin that replaced node.event_bus
    mark = proc.mark()
    atomic_write(plugin_dir / "vprop_plugin.py", (plugin_dir / "vprop_plugin.py").read_text() + "\n# saved\n")
    proc.wait_for("plugin.reloaded", after=mark, plugin="vprop_plugin")
    mark = proc.mark()
    atomic_write(busswap, source("busswap_plugin", busswap_body, version="2"))
    proc.wait_for("plugin.reloaded", after=mark, plugin="busswap_plugin", version="2")
    witness_receives(proc, 2)
    assert not proc.find("unparsed"), "every line of output is still a JSON record"
    assert not [line for line in proc.stderr_lines if "Traceback" in line], "".join(proc.stderr_lines)
    quit_within(proc, 20)


# -- code that never returns -----------------------------------------------------------------------------
def test_plugin_code_that_never_returns_holds_up_neither_commands_nor_quit(
    devnode_process: Callable[..., DevnodeProcess], plugin_dir: Path
) -> None:
    (plugin_dir / "webhook_plugin.py").write_text(source("webhook_plugin", '''
        def __init__(self, node):
            self.node = node
        def initialize(self):
            self.node.event_bus.subscribe(EventType.DATA_VERIFIED, self.call_webhook)
        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.DATA_VERIFIED, self.call_webhook)
        async def call_webhook(self, event):
            await asyncio.sleep(3600)  # a request with no timeout
    '''))
    regex = source("regex_plugin", '''
        def __init__(self, node):
            self.node = node
        def initialize(self):
            self.node.event_bus.subscribe(EventType.HEALTH_UPDATE, self.validate)
        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.HEALTH_UPDATE, self.validate)
        def validate(self, event):
            return re.match(r"(a+)+$", "a" * 40 + "b")  # backtracks for hours, holding the GIL
    ''')
    (plugin_dir / "regex_plugin.py").write_text(regex)
    (plugin_dir / "stdin_plugin.py").write_text(source("stdin_plugin", '''
        def __init__(self, node):
            self.node = node
        def initialize(self):
            sys.stdin.close()
        def shutdown(self):
            pass
    '''))
    (plugin_dir / "leftover_plugin.py").write_text(source("leftover_plugin", '''
        def __init__(self, node):
            self.node = node
        def initialize(self):
            asyncio.get_running_loop().run_in_executor(None, time.sleep, 3600)
            threading.Thread(target=time.sleep, args=(3600,), name="leftover-sleeper").start()
            self.stubborn = asyncio.get_running_loop().create_task(self.never_cancelled(), name="stubborn")
        async def never_cancelled(self):
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    pass
        async def shutdown(self):  # swallows its own cancellation too
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    pass
    '''))
    proc = start(devnode_process, plugin_dir, "--timeout", "1")

    # the endless async handler is cancelled at the deadline; the next command does not wait for it
    mark = proc.mark()
    proc.send("emit data.verified {}")
    proc.send("status")
    error = proc.wait_for("plugin.error", after=mark, plugin="webhook_plugin")
    assert "HandlerTimeoutError" in error["error"] and "did not finish within 1 s" in error["error"]
    assert error["file"] == "plugins/webhook_plugin.py"
    proc.wait_for("status", after=mark)

    # a stall inside C code holding the GIL: seen, reported at the plugin's line, interrupted
    line = next(i for i, text in enumerate(regex.splitlines(), 1) if "re.match" in text)
    mark = proc.mark()
    proc.send("emit health.update {}")
    stall = proc.wait_for("warning", after=mark, code="stall")
    assert stall["plugin"] == "regex_plugin" and stall["file"] == "plugins/regex_plugin.py" and stall["line"] == line
    assert "GIL" in stall["message"]
    stalled = proc.wait_for("plugin.error", after=mark, plugin="regex_plugin")
    assert "PluginStalledError" in stalled["error"] and stalled["line"] == line

    # stdin closed by a plugin: the commands above got through, and these do too
    witness_receives(proc, 1)
    assert statuses(proc)["stdin_plugin"]["state"] == "active"

    # quit is bounded whatever was left running, and names it
    mark = proc.mark()
    took = quit_within(proc, 25)
    stopped = proc.wait_for("node.stopped", after=mark, timeout=1)
    abandoned = " ".join(stopped["abandoned"])
    assert "leftover-sleeper" in abandoned and "leftover_plugin: executor job sleep" in abandoned, stopped
    shutdown = next(r for r in proc.find("plugin.failed", plugin="leftover_plugin") if r["phase"] == "shutdown")
    assert "did not finish within 1 s" in shutdown["error"]
    assert any("stubborn" in w["message"] for w in proc.find("warning", code="abandoned") + proc.find(
        "warning", code="cleanup")), "the task that ignores cancellation is named"
    assert took < 20


# -- what a plugin changes in the process ------------------------------------------------------------------
OWNER_V1 = '''
    def __init__(self, node):
        self.node = node
    def initialize(self):
        data = Path(self.node.config.data_dir)
        self.timer = asyncio.get_running_loop().call_later(3600, self.late)
        self.child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        (data / "child.pid").write_text(str(self.child.pid))
        logging.basicConfig(force=True)
        logging.getLogger(__name__).info("still logged after basicConfig")
        logging.getLogger().addHandler(logging.StreamHandler())
        logging.getLogger().setLevel(logging.DEBUG)
        self.node.config.node_signature = "owner-was-here"
        sys.modules["plugins"] = types.ModuleType("plugins")
        sys.path.insert(0, "/nonexistent/owner")
        os.chdir(data)
        signal.signal(signal.SIGUSR1, lambda *args: None)
        os.environ["OWNER_WAS_HERE"] = "1"
        sys.excepthook = lambda *args: None
        sys.setrecursionlimit(12345)
        import warnings
        warnings.simplefilter("ignore")
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
        asyncio.get_running_loop().set_task_factory(None)  # devnode's ownership of tasks depends on it
    def late(self):
        pass
    def shutdown(self):
        pass
'''
OWNER_V2 = '''
    def __init__(self, node):
        self.node = node
        self.version = VERSION
    def initialize(self):
        seen = {"signature": self.node.config.node_signature, "cwd": os.getcwd(),
                "path": "/nonexistent/owner" in sys.path, "sigusr1_default": signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL,
                "root_handlers": [type(h).__name__ for h in logging.getLogger().handlers],
                "environ": "OWNER_WAS_HERE" in os.environ, "excepthook": sys.excepthook is sys.__excepthook__,
                "recursion": sys.getrecursionlimit(), "exception_handler": asyncio.get_running_loop().get_exception_handler(),
                "task_factory": asyncio.get_running_loop().get_task_factory() is not None}
        (Path(self.node.config.data_dir) / "owner.json").write_text(json.dumps(seen))
    def shutdown(self):
        pass
'''


def test_process_changes_of_a_plugin_are_undone_at_unload(
    devnode_process: Callable[..., DevnodeProcess], plugin_dir: Path, tmp_path: Path
) -> None:
    owner = plugin_dir / "owner_plugin.py"
    owner.write_text(source("owner_plugin", OWNER_V1))
    proc = start(devnode_process, plugin_dir)
    data = tmp_path / "data"
    pid = int((data / "child.pid").read_text())

    # basicConfig(force=True) did not take devnode's log bridge away, and said so
    log = proc.wait_for("log", plugin="owner_plugin")
    assert log["message"] == "still logged after basicConfig"
    refused = proc.wait_for("warning", code="process-change-refused", plugin="owner_plugin")
    assert "basicConfig(force=True)" in refused["message"] and "plugins/owner_plugin.py:" in refused["message"]
    # a replaced sys.modules["plugins"] is put back: later loads still find the plugin dir
    replaced = [w["message"] for w in proc.find("warning", code="module-replaced", plugin="owner_plugin")]
    assert any("sys.modules['plugins']" in m for m in replaced) and any("task factory" in m for m in replaced), replaced
    mark = proc.mark()
    atomic_write(plugin_dir / "late_plugin.py", plugin_source("1").replace("Faulty_pluginPlugin", "Late_pluginPlugin"))
    proc.wait_for("plugin.loaded", after=mark, plugin="late_plugin")

    mark = proc.mark()
    atomic_write(owner, source("owner_plugin", OWNER_V2, version="2"))
    proc.wait_for("plugin.reloaded", after=mark, plugin="owner_plugin", version="2")
    cleanup = proc.wait_for("warning", after=mark, code="cleanup", plugin="owner_plugin")
    undone = " ".join(cleanup["cleaned"]["process changes"])
    for what in ("timer loop.call_later(Owner_pluginPlugin.late)", f"child process {pid}", "terminated",
                 "os.chdir(", "signal handler for SIGUSR1", "root logging handler StreamHandler",
                 "root log level DEBUG", "sys.path entry '/nonexistent/owner'", "node.config.node_signature",
                 "os.environ['OWNER_WAS_HERE']", "sys.excepthook", "the recursion limit", "the warnings filters",
                 "the loop's exception handler"):
        assert what in undone, f"{what!r} not in {undone}"
    assert "plugins/owner_plugin.py:" in undone  # each with the line that made it
    seen = json.loads((data / "owner.json").read_text())
    assert seen.pop("signature") != "owner-was-here", "node.config is back to what it was"
    assert seen == {"cwd": str(tmp_path), "path": False,
                    "sigusr1_default": True, "root_handlers": ["PluginLogBridge"], "environ": False,
                    "excepthook": True, "recursion": 1000, "exception_handler": None, "task_factory": True}, seen
    wait_until(lambda: not _alive(pid), what=f"child {pid} gone")
    witness_receives(proc, 1)
    quit_within(proc, 20)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- directories that vanish ---------------------------------------------------------------------------------
def test_vanishing_plugin_and_data_dirs_are_noticed_and_nothing_acknowledged_is_lost(
    devnode_process: Callable[..., DevnodeProcess], plugin_dir: Path, tmp_path: Path
) -> None:
    (plugin_dir / f"{FAULTY}.py").write_text(plugin_source("1"))
    proc = start(devnode_process, plugin_dir)
    backup = tmp_path / "backup"
    shutil.copytree(plugin_dir, backup)

    # rm -rf and restore: the loaded plugins keep serving meanwhile, the watcher comes back and says so
    mark = proc.mark()
    shutil.rmtree(plugin_dir)
    proc.wait_for("warning", after=mark, code="plugin-dir-gone")
    witness_receives(proc, 1)
    shutil.copytree(backup, plugin_dir)
    proc.wait_for("warning", after=mark, code="plugin-dir-back")
    mark = proc.mark()
    atomic_write(plugin_dir / f"{FAULTY}.py", plugin_source("2"))
    proc.wait_for("plugin.reloaded", after=mark, plugin=FAULTY, version="2")

    # moved away, then replaced by a symlink to another directory
    mark = proc.mark()
    moved = tmp_path / "moved"
    plugin_dir.rename(moved)
    proc.wait_for("warning", after=mark, code="plugin-dir-gone")
    plugin_dir.symlink_to(moved, target_is_directory=True)
    proc.wait_for("warning", after=mark, code="plugin-dir-back")
    mark = proc.mark()
    atomic_write(moved / f"{FAULTY}.py", plugin_source("3"))
    proc.wait_for("plugin.reloaded", after=mark, plugin=FAULTY, version="3")
    assert state_of(proc, FAULTY) == "active"

    # the data dir removed while running: detected before the next write, which is kept
    data = tmp_path / "data"
    shutil.rmtree(data)
    mark = proc.mark()
    proc.send('receive peer1 {"after": "rm -rf"}')
    result = proc.wait_for("command.result", after=mark, command="receive")
    warning = proc.wait_for("warning", after=mark, code="data-dir-replaced")
    assert str(data) in warning["message"] and "removed" in warning["message"]
    witness_receives(proc, 2)
    quit_within(proc, 20)
    store = Store(data)
    try:
        kept = store.get_data(result["result"]["data_hash"])
        assert kept is not None and "rm -rf" in str(kept), "the acknowledged item is on disk after the restart"
    finally:
        store.close()


# -- state hooks ---------------------------------------------------------------------------------------------
STATEFUL = '''
    def __init__(self, node):
        self.node = node
        self.version = VERSION
        self.n = 0
    def initialize(self):
        self.node.event_bus.subscribe(EventType.DATA_RECEIVED, self.count)
    def shutdown(self):
        self.node.event_bus.unsubscribe(EventType.DATA_RECEIVED, self.count)
    async def devnode_save_state(self):
        await asyncio.sleep(0)
        return {{"n": self.n}}
    async def devnode_restore_state(self, state):
        await asyncio.sleep(0)
        {restore}
        self.n = state["n"]
    def count(self, event):
        self.n += 1
        with open(Path(self.node.config.data_dir) / "counts.jsonl", "a") as f:
            f.write(json.dumps({{"v": VERSION, "n": self.n}}) + "\\n")
'''


def test_async_state_hooks_are_awaited_and_a_failing_restore_leaves_a_version_serving(
    devnode_process: Callable[..., DevnodeProcess], plugin_dir: Path, tmp_path: Path
) -> None:
    path = plugin_dir / "stateful_plugin.py"
    path.write_text(source("stateful_plugin", STATEFUL.format(restore="pass")))
    proc = start(devnode_process, plugin_dir)
    counts = tmp_path / "data" / "counts.jsonl"

    def last() -> dict[str, object]:
        return json.loads(counts.read_text().splitlines()[-1])  # type: ignore[no-any-return]

    for n in range(1, 4):
        witness_receives(proc, n)
    mark = proc.mark()
    # v2 refuses states from n >= 5 on
    atomic_write(path, source("stateful_plugin", STATEFUL.format(
        restore='if state["n"] >= 5:\n            raise ValueError("state too big")'), version="2"))
    proc.wait_for("plugin.reloaded", after=mark, plugin="stateful_plugin", version="2")
    witness_receives(proc, 4)
    assert last() == {"v": "2", "n": 4}, "the async hooks carried the count over"
    witness_receives(proc, 5)

    # v3's restore always fails; bringing v2 back on n=5 fails too: v2 serves again, fresh
    mark = proc.mark()
    atomic_write(path, source("stateful_plugin", STATEFUL.format(
        restore='raise LookupError("v3 cannot restore")'), version="3"))
    failed = proc.wait_for("plugin.failed", after=mark, plugin="stateful_plugin")
    assert failed["phase"] == "restore-state" and "v3 cannot restore" in failed["error"]
    assert failed["file"] == "plugins/stateful_plugin.py" and failed["line"] is not None
    again = proc.wait_for("warning", after=mark, code="restore-state-failed", plugin="stateful_plugin")
    assert "state too big" in again["message"]
    assert state_of(proc, "stateful_plugin") == "failed-running-previous"
    witness_receives(proc, 6)
    assert last() == {"v": "2", "n": 1}
    quit_within(proc, 20)
