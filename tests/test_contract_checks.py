"""Run-time contract checks (misspelt lifecycle methods, unsubscribed handlers) and `check --format json` purity."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HostHarness, clean_env, kinds, write_plugin

from devnode.host.contract import edit_distance

TYPO = """
    from dashboard.event_bus import EventType

    class Typo_pluginPlugin:
        def __init__(self, node):
            self.node = node

        def initialise(self):
            self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on_shared)

        def shutdwon(self):
            pass

        def devnode_save_stat(self):
            return 1

        async def on_shared(self, event):
            pass

        async def on_forgotten(self, event):
            pass
"""


def test_edit_distance_is_levenshtein_with_a_cap() -> None:
    assert edit_distance("initialise", "initialize") == 1
    assert edit_distance("shutdwon", "shutdown") == 2
    assert edit_distance("init", "initialize") == 3  # over the cap: reported as cap + 1
    assert edit_distance("on_data", "shutdown") == 3


def test_a_misspelt_lifecycle_method_gets_did_you_mean_at_load(harness, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "typo_plugin", TYPO)
    h: HostHarness = harness().start()

    messages = [w["message"] for w in kinds(h.records, "warning", code="lifecycle-typo")]
    assert any("Typo_pluginPlugin.initialise() (typo_plugin.py:7) is never called: did you mean initialize()?" in m
               for m in messages), messages
    assert any("shutdwon() (typo_plugin.py:10) is never called: did you mean shutdown()?" in m for m in messages)
    assert any("did you mean devnode_save_state()?" in m for m in messages)
    assert len(messages) == 3


def test_a_correct_plugin_gets_no_contract_record(harness, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "good_plugin", """
        from dashboard.event_bus import EventType

        class Good_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on_shared)

            def shutdown(self):
                self.node.event_bus.unsubscribe(EventType.DATA_SHARED, self.on_shared)

            def initialized(self):  # close to initialize, but initialize exists: a different method
                return True

            async def on_shared(self, event):
                pass
    """)
    h: HostHarness = harness().start()

    assert kinds(h.records, "warning", code="lifecycle-typo") == []
    assert [r for r in h.records if r.get("logger") == "devnode.contract"] == []


def test_an_async_handler_never_subscribed_gets_an_info_note_once(harness, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "typo_plugin", TYPO.replace("def initialise", "def initialize"))
    h: HostHarness = harness().start()
    h.run(h.host.reload(["typo_plugin"], trigger=["test"]))

    notes = [r for r in h.records if r.get("logger") == "devnode.contract"]
    assert len(notes) == 1, notes  # on_shared is subscribed; on_forgotten is noted, once across the reload
    assert notes[0]["level"] == "INFO" and notes[0]["kind"] == "log" and notes[0]["plugin"] == "typo_plugin"
    assert "on_forgotten() (typo_plugin.py:19) looks like an event handler, but initialize() did not subscribe it" \
        in notes[0]["message"]


PRINTER = """
    import os
    import threading
    print("printed while importing")

    class Printer_pluginPlugin:
        def __init__(self, node):
            print("printed in __init__")
            self.node = node

        def initialize(self):
            print("printed in initialize")
            threading.Thread(target=print, args=("printed from a thread",)).start()

        def shutdwon(self):
            pass

        def shutdown(self):
            print("printed in shutdown")
            os.write(1, b"written to fd 1\\n")  # as C code would: below sys.stdout
"""


def test_check_json_stdout_is_one_document_with_printing_plugins(plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "printer_plugin", PRINTER)
    write_plugin(plugin_dir, "typo_plugin", TYPO)

    check = subprocess.run([sys.executable, "-m", "devnode", "check", str(plugin_dir), "--format", "json"],
                           capture_output=True, text=True, timeout=120, env=clean_env(), cwd=plugin_dir.parent)
    tool = subprocess.run([sys.executable, "-m", "json.tool"], input=check.stdout, capture_output=True, text=True,
                          timeout=60)

    assert tool.returncode == 0, (check.stdout, tool.stderr)
    report = json.loads(check.stdout)
    assert report["plugins"] == ["printer_plugin", "typo_plugin"]
    assert "did you mean initialize()?" in json.dumps(report["warnings"])
    assert {n["plugin"] for n in report["notes"]} == {"typo_plugin"}
    for line in ("printed while importing", "printed in __init__", "printed in initialize", "printed from a thread",
                 "printed in shutdown", "written to fd 1"):
        assert line in check.stderr


def test_check_text_shows_the_typo_and_the_note(plugin_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from devnode.cli import main

    write_plugin(plugin_dir, "typo_plugin", TYPO)
    code = main(["check", str(plugin_dir)])

    out = capsys.readouterr().out
    assert code == 0  # a typo is a warning: a problem only with --strict
    assert "did you mean shutdown()?" in out and "on_forgotten" in out
