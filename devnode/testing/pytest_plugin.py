"""devnode's pytest plugin (entry point ``pytest11``): fixtures for testing plugins.

Importing this module has no side effects: the node, its loop and its import
hooks exist only while a test that requests a devnode fixture runs. Documented
in docs/testing.md.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from devnode.testing.kit import DevNodeKit
    from devnode.testing.recorder import EventRecorder

KIT = "devnode"
PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", "pytest.ini", "tox.ini", ".git")
MARKER_HELP = (
    "devnode(plugin_dir=None, node_id='node1', peers=None, timeout=5.0, strict=False, node='standin', "
    "node_src=None, authorize='devnode'): configure the devnode fixture's node; strict=True also fails the test "
    "on production-parity warnings; node='production' hosts the plugins in production's own Node "
    "(docs/production-node.md)"
)
# The marker's keyword arguments, each with what it accepts (shown when a test passes a wrong one).
MARKER_ARGUMENTS = {
    "plugin_dir": "a path (str or Path) to the plugin dir",
    "node_id": "the node's id (str)",
    "peers": "a list of simulated peer ids",
    "timeout": "seconds for an async initialize()/shutdown() (number)",
    "strict": "True to fail the test on production-parity warnings",
    "node": '"standin" (default) or "production"',
    "node_src": "with node=\"production\": the datamgmtnode checkout (a path; default $DATAMGMTNODE_SRC or one found)",
    "authorize": 'with node="production": "devnode" (default, shares authorized) or "production" (its own check)',
}
NODE_KINDS = ("standin", "production")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("devnode_plugin_dir", "plugin dir for the devnode fixtures (default: nearest ./plugins)", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)


# -- fixtures ---------------------------------------------------------------------------
@pytest.fixture
def devnode_plugin_dir(request: pytest.FixtureRequest) -> Path:
    """The plugin dir plugins are loaded from by name: ini ``devnode_plugin_dir``, else the nearest ``plugins/``."""
    configured = request.config.getini("devnode_plugin_dir")
    if configured:
        base = request.config.inipath.parent if request.config.inipath else request.config.rootpath
        return (base / str(configured)).resolve()
    return find_plugin_dir(Path(request.path).parent)


@pytest.fixture
def devnode(request: pytest.FixtureRequest, tmp_path: Path, devnode_plugin_dir: Path) -> Iterator[DevNodeKit]:
    """A dev node with a temporary data dir; load plugins into it and drive it (see DevNodeKit)."""
    from devnode.testing.kit import DevNodeKit

    marker = request.node.get_closest_marker("devnode")
    options = marker_options(marker)
    options.pop("strict", None)
    plugin_dir = Path(options.pop("plugin_dir", devnode_plugin_dir))
    kit = DevNodeKit(plugin_dir, tmp_path / "devnode-data", **options)
    try:
        yield kit
    finally:
        kit.close()


@pytest.fixture
def devnode_node(devnode: DevNodeKit) -> Any:
    """The node object plugins receive (config, event_bus and every service): a DevNode, or production's Node."""
    return devnode.node


@pytest.fixture
def devnode_events(devnode: DevNodeKit) -> EventRecorder:
    """Every event published on the bus during the test, with the plugins that handled it."""
    return devnode.events


# -- async tests and the end-of-test check -------------------------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests that use the devnode fixtures on the node's own loop."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj) or KIT not in pyfuncitem.fixturenames:
        return None
    if pyfuncitem.get_closest_marker("asyncio") or pyfuncitem.get_closest_marker("anyio"):
        return None  # another async plugin was asked for explicitly
    kit = _kit_of(pyfuncitem)
    if kit is None:
        return None
    argnames = pyfuncitem._fixtureinfo.argnames
    kit.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in argnames}))
    return True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After a passing test: shut its plugins down and fail it if they left anything behind."""
    result = yield  # a failing test raises here: its plugins are shut down quietly at teardown
    kit = _kit_of(item)
    if kit is None or kit.finished:
        return result
    problems = kit.finish()
    marker = item.get_closest_marker("devnode")
    if marker is not None and marker.kwargs.get("strict"):
        problems += kit.parity_problems()
    if problems:
        from devnode.testing.leftovers import failure_message

        pytest.fail(failure_message(problems), pytrace=False)
    return result


def _kit_of(item: pytest.Item) -> DevNodeKit | None:
    """The test's kit, if it used devnode's fixture (a project may define its own ``devnode``)."""
    funcargs: dict[str, Any] = getattr(item, "funcargs", None) or {}
    if KIT not in funcargs:
        return None
    from devnode.testing.kit import DevNodeKit

    value = funcargs[KIT]
    return value if isinstance(value, DevNodeKit) else None


def marker_options(marker: pytest.Mark | None) -> dict[str, Any]:
    """The ``@pytest.mark.devnode(...)`` keyword arguments, checked; a wrong one fails the test saying what is accepted."""
    if marker is None:
        return {}
    accepted = "; ".join(f"{name}= {what}" for name, what in MARKER_ARGUMENTS.items())
    if marker.args:
        pytest.fail(f"@pytest.mark.devnode takes keyword arguments only, got {marker.args!r}; accepted: {accepted}",
                    pytrace=False)
    unknown = sorted(set(marker.kwargs) - set(MARKER_ARGUMENTS))
    if unknown:
        near = {name: _closest(name) for name in unknown}
        named = ", ".join(f'"{u}"' + (f' (did you mean "{near[u]}"?)' if near[u] else "") for u in unknown)
        pytest.fail(f"@pytest.mark.devnode got unknown argument(s) {named}; accepted: {accepted}", pytrace=False)
    node = marker.kwargs.get("node", "standin")
    if node not in NODE_KINDS:
        pytest.fail(f'@pytest.mark.devnode(node={node!r}): node must be "standin" or "production"', pytrace=False)
    return dict(marker.kwargs)


def _closest(name: str) -> str | None:
    import difflib

    found = difflib.get_close_matches(name, list(MARKER_ARGUMENTS), n=1, cutoff=0.6)
    return found[0] if found else None


def find_plugin_dir(start: Path) -> Path:
    """The nearest ``plugins/`` at or above ``start``, not looking past the project root."""
    for directory in (start, *start.parents):
        if (directory / "plugins").is_dir():
            return directory / "plugins"
        if any((directory / marker).exists() for marker in PROJECT_MARKERS):
            break
    return Path.cwd() / "plugins"
