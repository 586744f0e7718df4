"""Scenario files: parsing with file:line errors, playing against live plugins, headless exit codes."""

from __future__ import annotations

import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import BUNDLED_PLUGINS, ROOT, async_wait_until, clean_env, wait_until, write_plugin
from playback_helpers import DEVNODE, kinds, run_live, wait_record

from devnode import playback
from devnode.cli import main
from devnode.bus import EventType
from devnode.scenarios import ScenarioError, ScenarioPlayer, load_scenario, parse_scenario

TOUR = ROOT / "scenarios" / "tour.toml"

PICKY = """
    from dashboard.event_bus import EventType


    class PickyPlugin:
        '''Fails on shared data that has no "id"; counts what it handled.'''

        def __init__(self, node):
            self.node = node
            self.handled = 0

        def initialize(self):
            self.node.event_bus.subscribe(EventType.COMPLIANCE_EVENT, self.on_event)

        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.COMPLIANCE_EVENT, self.on_event)

        def on_event(self, event):
            if "id" not in event.data:
                raise KeyError("id")
            self.handled += 1
"""


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


# -- parsing -------------------------------------------------------------------------------
def test_a_valid_scenario_keeps_its_steps_in_order_with_their_lines() -> None:
    scenario = parse_scenario(textwrap.dedent("""
        name = "demo"
        seed = 3

        [[step]]
        emit = "DATA_VERIFIED"
        data = { ok = true }

        [[step]]
        wait = 0.5

        [[step]]
        expect = "data.verified"
        handled_by = "audit_plugin"
    """), "demo.toml")

    assert (scenario.name, scenario.seed) == ("demo", 3)
    assert [(s.kind, s.line) for s in scenario.steps] == [("emit", 5), ("wait", 9), ("expect", 12)]
    assert scenario.steps[0].value is EventType.DATA_VERIFIED
    assert scenario.steps[2].get("handled_by") == ["audit_plugin"]
    assert scenario.steps[2].where == "demo.toml:12"


def test_every_problem_is_reported_with_file_line_and_the_expected_form() -> None:
    with pytest.raises(ScenarioError) as error:
        parse_scenario(textwrap.dedent("""
            seeed = 1

            [[step]]
            share = "peer1"
            dta = { a = 1 }

            [[step]]
            expect = "data.sharde"

            [[step]]
            wait = 1
            emit = "data.shared"

            [[step]]
            transfer = "native"
            to = "peer1"
            amount = -5
        """), "bad.toml")

    problems = error.value.problems
    assert problems[0] == 'bad.toml:2: unknown top-level key "seeed"; did you mean "seed"?'
    assert any(p.startswith('bad.toml:6: step 1 (share): unknown key "dta"; did you mean "data"?') for p in problems)
    assert any(p.startswith('bad.toml:5: step 1 (share): "data" is missing') for p in problems)
    assert any(p.startswith('bad.toml:9: step 2 (expect): "expect": unknown event type "data.sharde"') for p in problems)
    assert any(p.startswith("bad.toml:11: step 3 needs exactly one of") and "wait and emit" in p for p in problems)
    assert any(p.startswith('bad.toml:18: step 4 (transfer): "amount": expected a whole number') for p in problems)


def test_invalid_toml_and_a_misspelt_step_table_are_located() -> None:
    with pytest.raises(ScenarioError, match=r"^x.toml:3: not valid TOML: .*\(column \d+\)$"):
        parse_scenario('name = "x"\n\nwait = \n', "x.toml")
    with pytest.raises(ScenarioError, match=r'x.toml:1: unknown top-level key "steps"; did you mean "step"\?'):
        parse_scenario("[[steps]]\nwait = 1\n", "x.toml")


# -- playing -------------------------------------------------------------------------------
def play(harness: Any, text: str, **host: Any) -> Any:
    h = harness(**host).start()
    player = ScenarioPlayer(h.node, h.host, h.reporter)
    return h, h.run(player.play(parse_scenario(textwrap.dedent(text).lstrip(), "s.toml")))


def test_a_failing_expectation_names_the_step_and_what_was_seen_instead(harness: Any, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "picky", PICKY)
    h, result = play(harness, """
        [[step]]
        emit = "compliance.event"
        data = { kind = "no id" }

        [[step]]
        expect = "compliance.event"
        handled_by = "picky"
        within = 0

        [[step]]
        expect = "compliance.event"
        failed_by = "picky"
    """)

    assert not result.ok
    [failure] = result.failures
    assert failure.step.where == "s.toml:5"
    assert failure.error.startswith("no compliance.event event matched; saw: ")
    assert "picky FAILED (KeyError: 'id')" in failure.error
    assert "[picky did not handle it successfully]" in failure.error
    finished = h.kinds("scenario.finished")[0]
    assert finished["ok"] is False and finished["failures"][0]["where"] == "s.toml:5"


def test_expectations_see_only_events_since_the_latest_action(harness: Any, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "picky", PICKY)
    h, result = play(harness, """
        [[step]]
        emit = "compliance.event"
        data = { id = 1 }

        [[step]]
        receive = "peer1"
        data = "hello"

        [[step]]
        expect = "compliance.event"
        count = 0

        [[step]]
        expect = "compliance.event"
        scope = "run"
        data = { id = 1 }
        handled_by = "picky"

        [[step]]
        expect_plugin = "picky"
        state = "active"
        path = "handled"
        equals = 1
    """)

    assert result.ok, [o.error for o in result.failures]


def test_expected_failures_tolerated_failures_and_unexpected_success(harness: Any) -> None:
    h, result = play(harness, """
        [[step]]
        peer_down = "peer2"

        [[step]]
        receive = "peer2"
        data = 1
        fails = "disconnected"

        [[step]]
        receive = "peer2"
        data = 1
        may_fail = true

        [[step]]
        share = "peer1"
        data = 1
        fails = true

        [[step]]
        receive = "peer2"
        data = 1
        fails = "blocked pattern"
    """)

    outcomes = [(o.ok, o.tolerated) for o in result.outcomes]
    assert outcomes == [(True, False), (True, False), (True, True), (False, False), (False, False)]
    assert result.outcomes[3].error == "expected share to fail, but it succeeded"
    assert result.outcomes[4].error.startswith('expected an error containing "blocked pattern", got PeerError')


def test_plugin_state_expectations_report_the_actual_value(harness: Any, plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "picky", PICKY)
    h, result = play(harness, """
        [[step]]
        expect_plugin = "picky"
        path = "handled"
        at_least = 2
        within = 0

        [[step]]
        expect_plugin = "picky"
        path = ["node", "config", "node_id"]
        equals = "node1"

        [[step]]
        expect_plugin = "ghost"
        state = "active"
        within = 0
    """)

    errors = [o.error for o in result.outcomes]
    assert errors[0] == "picky.handled is 0, expected at least 2"
    assert errors[1] is None
    assert errors[2] == 'plugin "ghost" is not loaded (plugins: picky)'


def test_timed_steps_wait_for_their_moment(harness: Any) -> None:
    started = time.monotonic()
    h, result = play(harness, """
        [[step]]
        status = true
        at = 0.15

        [[step]]
        wait = 0.05

        [[step]]
        expect = "network.stats_update"
    """)
    assert result.ok
    assert time.monotonic() - started >= 0.2


def test_a_seed_makes_a_lossy_scenario_repeat_exactly(harness: Any, tmp_path: Path) -> None:
    text = """
        seed = 11

        [[step]]
        peer_set = "peer1"
        drop = 0.5
    """ + "\n".join(f'[[step]]\nreceive = "peer1"\ndata = {n}\nmay_fail = true\n' for n in range(10))
    h, first = play(harness, text)
    player = ScenarioPlayer(h.node, h.host, h.reporter)
    second = h.run(player.play(parse_scenario(textwrap.dedent(text), "s.toml")))

    dropped = [o.tolerated for o in first.outcomes]
    assert dropped == [o.tolerated for o in second.outcomes]
    assert True in dropped and dropped.count(False) > 1


# -- headless and live -----------------------------------------------------------------------
def test_bundled_tour_exercises_every_bundled_plugin() -> None:
    tour = load_scenario(TOUR)
    named = {p for s in tour.steps for p in s.get("handled_by", [])} | {
        s.value for s in tour.steps if s.kind == "expect_plugin"}
    bundled = {p.stem for p in BUNDLED_PLUGINS.glob("*_plugin.py")}
    assert named == bundled
    assert any(s.kind == "share" and s.get("fails") == "blocked pattern" for s in tour.steps)
    assert {"data.received", "network.stats_update", "token.transfer_completed", "data.shared"} <= {
        s.value.value for s in tour.steps if s.kind == "expect"}
    # Only events production publishes (UPSTREAM.md), apart from the one the tour emits itself.
    never = {"token.balance_update", "token.added", "network.peer_connected", "network.peer_disconnected"}
    assert not never & {s.value.value for s in tour.steps if s.kind == "expect"}


def test_devnode_scenario_passes_the_tour_against_the_bundled_plugins(tmp_path: Path) -> None:
    done = subprocess.run([*DEVNODE, "scenario", str(TOUR), str(BUNDLED_PLUGINS), "--quiet"],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("scenario tour passed: 24 step(s)")
    assert not (tmp_path / "data").exists()  # headless runs use a throwaway data dir


def test_devnode_scenario_exits_1_and_says_which_expectation_failed(tmp_path: Path) -> None:
    scenario = write(tmp_path / "ci.toml", """
        [[step]]
        share = "peer1"
        data = { report = 1 }

        [[step]]
        expect = "data.shared"
        data = { recipient = "peer2" }
        within = 0
    """)

    done = subprocess.run([*DEVNODE, "scenario", str(scenario), str(BUNDLED_PLUGINS), "-q"],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60)

    assert done.returncode == 1
    summary = done.stdout[done.stdout.index("scenario ci FAILED"):]
    assert f"{scenario}:5: step 2 expect data.shared" in summary
    assert '"recipient": "peer1"' in summary and 'data differs from {"recipient": "peer2"}' in summary


def test_devnode_scenario_refuses_an_invalid_file_with_exit_2(tmp_path: Path, capsys: Any) -> None:
    scenario = write(tmp_path / "bad.toml", """
        [[step]]
        recieve = "peer1"
    """)

    assert main(["scenario", str(scenario), str(BUNDLED_PLUGINS)]) == 2
    err = capsys.readouterr().err
    assert f"{scenario}:1: step 1 needs exactly one of" in err


def test_devnode_scenario_in_process_json_reports_every_step(tmp_path: Path, capsys: Any) -> None:
    code = main(["scenario", str(TOUR), str(BUNDLED_PLUGINS), "--ui", "json", "--data-dir", str(tmp_path / "d")])

    out = capsys.readouterr().out
    assert code == 0
    assert out.count('"kind": "scenario.step"') == 24
    assert (tmp_path / "d" / "audit.log").is_file()  # --data-dir is honoured


def test_run_with_loop_scenario_plays_it_again_and_rereads_the_file(
    tmp_path: Path, plugin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(playback, "LOOP_PAUSE_SECONDS", 0.05)
    scenario = write(tmp_path / "loop.toml", """
        [[step]]
        receive = "peer1"
        data = "ping"
    """)

    async def body(runtime: Any, records: list[Any]) -> None:
        await wait_record(records, "scenario.finished", iteration=1)
        scenario.write_text('[[step]]\nrecieve = "peer2"\n')  # saved mid-edit
        await wait_record(records, "scenario.error")
        await async_wait_until(lambda: len(kinds(records, "scenario.started")) == 1
                               and kinds(records, "scenario.error")[-1]["ts"] < time.time() - 0.2, 20)
        scenario.write_text('[[step]]\nreceive = "peer2"\ndata = "pong"\n')
        await async_wait_until(lambda: len(kinds(records, "scenario.finished")) >= 2, 20, "the fixed round")

    code, records = run_live(plugin_dir, tmp_path / "data", body, scenario=str(scenario), loop_scenario=True)

    assert code == 0
    received = kinds(records, "event", type="data.received")
    assert len(received) >= 2 and set(received[0]["data"]) == {"data_hash", "timestamp"}
    assert all(r["ok"] for r in kinds(records, "scenario.finished"))
    [error] = kinds(records, "scenario.error")  # reported once, not every round
    assert "step 1 needs exactly one of" in error["problems"][0]


def test_a_headless_scenario_cut_short_exits_1_and_keeps_the_stop_reason(tmp_path: Path, plugin_dir: Path) -> None:
    scenario = write(tmp_path / "long.toml", """
        [[step]]
        wait = 30
    """)

    async def body(runtime: Any, records: list[Any]) -> None:
        await wait_record(records, "scenario.started")
        runtime.request_stop("interrupted")
        await wait_record(records, "node.stopped")

    code, records = run_live(plugin_dir, tmp_path / "data", body, scenario=str(scenario), headless=True)

    assert code == 1
    assert kinds(records, "node.stopped")[0]["reason"] == "interrupted"


def test_scenario_console_command_plays_against_the_live_node(devnode_process: Any, tmp_path: Path) -> None:
    proc = devnode_process(BUNDLED_PLUGINS, "--no-watch")
    proc.wait_for("node.ready")
    proc.send(f"scenario {TOUR}")
    finished = proc.wait_for("scenario.finished")
    assert finished["ok"] is True, finished["failures"]
    proc.send("scenario nowhere.toml")
    error = proc.wait_for("command.error")
    assert '"nowhere.toml" is not a file' in error["error"]
    assert proc.stop() == 0
    wait_until(lambda: proc.proc.poll() is not None, what="devnode to exit")


def test_scenario_peers_are_added_before_the_first_step(harness: Any) -> None:
    h, result = play(harness, """
        peers = ["alice"]

        [[step]]
        receive = "alice"
        data = { hello = "from alice" }

        [[step]]
        expect = "data.received"
    """)

    assert result.ok, [o.error for o in result.failures]
    assert "alice" in [p["node_id"] for p in h.node.p2p_network.get_connected_peers()]


def test_run_refuses_a_broken_scenario_before_loading_plugins(tmp_path: Path, capsys: Any) -> None:
    scenario = write(tmp_path / "bad.toml", """
        [[step]]
        wait = -1
    """)
    data_dir = tmp_path / "data"

    assert main(["run", str(BUNDLED_PLUGINS), "--data-dir", str(data_dir), "--scenario", str(scenario)]) == 2
    assert f"{scenario}:2: step 1 (wait)" in capsys.readouterr().err
    assert main(["run", str(BUNDLED_PLUGINS), "--data-dir", str(data_dir), "--loop-scenario"]) == 2
    assert "--loop-scenario needs --scenario FILE" in capsys.readouterr().err
    assert not data_dir.exists()
