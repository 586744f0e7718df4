"""devnode's pytest plugin as a plugin author meets it: fixtures with no conftest, verdicts, async tests."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ("pytester",)

GREETER = """
    from dashboard.event_bus import EventType

    class Greeter_pluginPlugin:
        def __init__(self, node):
            self.node = node
            self.greeted = []

        def initialize(self):
            self.node.event_bus.subscribe(EventType.PEER_CONNECTED, self.greet)

        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.PEER_CONNECTED, self.greet)

        def devnode_save_state(self):
            return self.greeted

        def devnode_restore_state(self, greeted):
            self.greeted = greeted

        def greet(self, event):
            self.greeted.append(event.data["peer_id"])
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """An author's project: plugins/greeter_plugin.py, no conftest."""
    pytester.mkdir("plugins")
    pytester.path.joinpath("plugins", "greeter_plugin.py").write_text(textwrap.dedent(GREETER))
    return pytester


def run(pytester: pytest.Pytester, test_source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_author=textwrap.dedent(test_source))
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", "error", *args)


def test_every_fixture_is_available_without_a_conftest(project: pytest.Pytester) -> None:
    result = run(project, """
        from devnode import EventType

        def test_greets(devnode, devnode_node, devnode_events, devnode_plugin_dir):
            plugin = devnode.load("greeter_plugin")
            event = devnode.publish(EventType.PEER_CONNECTED, {"peer_id": "peer7"})
            assert event.handled_by == ["greeter_plugin"]
            assert devnode.reload("greeter_plugin").greeted == ["peer7"]
            assert devnode.share({"x": 1}, "peer2").startswith("0x")
            assert devnode_plugin_dir == devnode.plugin_dir
            assert devnode_events.types() == ["network.peer_connected", "data.shared"]
            assert devnode_node is devnode.node and devnode_node.plugin_manager.get_plugin("greeter_plugin")
    """)

    result.assert_outcomes(passed=1)


def test_a_subscription_left_behind_fails_the_test_naming_it(project: pytest.Pytester) -> None:
    plugin = project.path / "plugins" / "greeter_plugin.py"
    plugin.write_text(plugin.read_text().replace(
        "self.node.event_bus.unsubscribe(EventType.PEER_CONNECTED, self.greet)", "pass"))

    result = run(project, """
        def test_loads(devnode):
            devnode.load("greeter_plugin")
    """)

    result.assert_outcomes(failed=1)  # a failure of the test itself, not an error in teardown
    result.stdout.fnmatch_lines([
        "*greeter_plugin left 1 subscription (network.peer_connected -> Greeter_pluginPlugin.greet) behind*",
        "fix: undo in shutdown() everything*",
    ])


def test_a_failing_test_is_reported_once_and_its_plugins_still_shut_down(project: pytest.Pytester) -> None:
    result = run(project, """
        def test_fails(devnode):
            devnode.load("greeter_plugin")
            assert False, "the author's own assertion"

        def test_next_one_starts_clean(devnode):
            assert devnode.plugins == {}
            devnode.load("greeter_plugin")
    """)

    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*the author's own assertion*"])
    assert "left" not in result.stdout.str()


def test_async_tests_run_on_the_nodes_loop(project: pytest.Pytester) -> None:
    result = run(project, """
        import asyncio
        from devnode import EventType

        async def test_async(devnode):
            plugin = await devnode.aload("greeter_plugin")
            await devnode.node.p2p_network.disconnect_peer("peer1")
            await devnode.node.p2p_network.connect_peer("peer1")
            assert plugin.greeted == ["peer1"]
            assert asyncio.get_running_loop() is devnode.loop
    """)

    result.assert_outcomes(passed=1)


def test_async_tests_without_devnode_are_left_to_pytest(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
        async def test_not_ours():
            pass
    """)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*async def functions are not natively supported*"])


def test_an_old_version_held_by_a_yield_fixture_is_not_a_leak(project: pytest.Pytester) -> None:
    result = run(project, """
        import pytest

        @pytest.fixture
        def greeter(devnode):
            plugin = devnode.load("greeter_plugin")
            yield plugin
            assert plugin.greeted == []

        def test_reload(devnode, greeter):
            assert devnode.reload("greeter_plugin") is not greeter
    """)

    result.assert_outcomes(passed=1)


def test_a_crashed_plugin_task_fails_the_test(project: pytest.Pytester) -> None:
    (project.path / "plugins" / "crash_plugin.py").write_text(textwrap.dedent("""
        import asyncio

        class Crash_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                self.task = asyncio.get_running_loop().create_task(self.work())

            def shutdown(self):
                self.task.cancel()

            async def work(self):
                raise ValueError("lost the connection")
    """))

    result = run(project, """
        def test_crash(devnode):
            devnode.load("crash_plugin")
            devnode.settle()
    """)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*crash_plugin: a task it started crashed with ValueError: lost the connection*"])


def test_strict_marker_fails_on_production_parity_warnings(project: pytest.Pytester) -> None:
    (project.path / "plugins" / "eager_plugin.py").write_text(textwrap.dedent("""
        class Eager_pluginPlugin:
            def __init__(self, node):
                self.node = node

            async def initialize(self):
                pass

            def shutdown(self):
                pass
    """))

    result = run(project, """
        import pytest

        @pytest.mark.devnode(strict=True)
        def test_strict(devnode):
            devnode.load("eager_plugin")

        def test_lenient(devnode):
            devnode.load("eager_plugin")
            assert [w["code"] for w in devnode.warnings] == ["async-initialize"]
    """)

    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*eager_plugin: Eager_pluginPlugin.initialize() is async*"])


def test_the_plugin_dir_comes_from_the_ini_option(pytester: pytest.Pytester) -> None:
    pytester.mkdir("src")
    pytester.mkdir("src/extensions")
    pytester.path.joinpath("src", "extensions", "greeter_plugin.py").write_text(textwrap.dedent(GREETER))
    pytester.makeini("[pytest]\ndevnode_plugin_dir = src/extensions\n")

    result = run(pytester, """
        def test_dir(devnode, devnode_plugin_dir):
            assert devnode_plugin_dir.parts[-2:] == ("src", "extensions")
            devnode.load("greeter_plugin")
    """)

    result.assert_outcomes(passed=1)


def test_the_marker_sets_the_plugin_dir_and_the_peers(project: pytest.Pytester) -> None:
    result = run(project, """
        import pytest

        @pytest.mark.devnode(plugin_dir="plugins", peers=["alice", "bob"], node_id="n9")
        def test_marker(devnode):
            assert devnode.node.p2p_network.known_peers == ["alice", "bob"]
            assert devnode.node.config.node_id == "n9"
            devnode.load("greeter_plugin")
    """)

    result.assert_outcomes(passed=1)


def test_the_nearest_plugins_dir_above_the_test_file_is_the_default(project: pytest.Pytester) -> None:
    tests = project.mkdir("tests")
    tests.joinpath("test_nested.py").write_text(textwrap.dedent("""
        def test_found(devnode, devnode_plugin_dir):
            assert devnode_plugin_dir == devnode_plugin_dir.parent / "plugins"
            devnode.load("greeter_plugin")
    """))

    result = project.runpytest_inprocess("-p", "no:cacheprovider", "-W", "error", "tests")

    result.assert_outcomes(passed=1)


def test_a_projects_own_devnode_fixture_wins_and_is_left_alone(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest

        @pytest.fixture
        def devnode():
            return "the project's own"
    """)

    result = run(pytester, """
        async def test_async_is_not_ours(devnode):
            pass

        def test_sync(devnode):
            assert devnode == "the project's own"
    """)

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*async def functions are not natively supported*"])


def test_generic_names_are_left_to_the_project(project: pytest.Pytester) -> None:
    """Only ``devnode`` and ``devnode_*`` are ours: a project's ``share_data`` or ``load_plugin`` is never shadowed."""
    result = run(project, """
        def test_unknown(share_data):
            pass
    """)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'share_data' not found*"])
    assert "load_plugin" not in result.stdout.str()


def test_a_misspelt_marker_argument_fails_listing_the_accepted_ones(project: pytest.Pytester) -> None:
    result = run(project, """
        import pytest

        @pytest.mark.devnode(peer=["alice"])
        def test_typo(devnode):
            pass

        @pytest.mark.devnode("plugins")
        def test_positional(devnode):
            pass

        @pytest.mark.devnode(node="mainnet")
        def test_node_kind(devnode):
            pass

        @pytest.mark.devnode(node="standin", strict=False)
        def test_accepted(devnode):
            devnode.load("greeter_plugin")
    """)

    result.assert_outcomes(errors=3, passed=1)
    result.stdout.fnmatch_lines([
        '*@pytest.mark.devnode got unknown argument(s) "peer" (did you mean "peers"?); accepted: plugin_dir=*'
        "node_id=*peers=*timeout=*strict=*node=*",
        "*@pytest.mark.devnode takes keyword arguments only, got ('plugins',)*",
        '*@pytest.mark.devnode(node=\'mainnet\'): node must be "standin" or "production"*',
    ])
    assert "TypeError" not in result.stdout.str()


def test_the_package_ships_py_typed() -> None:
    """Type checkers read devnode's annotations in authors' projects (PEP 561)."""
    import importlib.resources
    import tomllib
    from pathlib import Path

    assert importlib.resources.files("devnode").joinpath("py.typed").is_file()
    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["devnode"]
