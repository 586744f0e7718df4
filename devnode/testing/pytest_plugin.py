"""devnode's pytest plugin (entry point ``pytest11``): fixtures for testing plugins.

Importing this module has no side effects: the node, its loop and its import
hooks exist only while a test that requests a devnode fixture runs. Documented
in docs/testing.md.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
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
    options = dict(marker.kwargs) if marker else {}
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


@pytest.fixture
def load_plugin(devnode: DevNodeKit) -> Callable[..., Any]:
    """``load_plugin("greeter_plugin")`` or ``load_plugin(path)``: load it, return the live instance."""
    return devnode.load


@pytest.fixture
def reload_plugin(devnode: DevNodeKit) -> Callable[..., Any]:
    """``reload_plugin("greeter_plugin")``: re-import from disk, carry state over, return the new instance."""
    return devnode.reload


@pytest.fixture
def publish_event(devnode: DevNodeKit) -> Callable[..., Any]:
    """``publish_event(EventType.X, {...})``: publish and wait for every handler; returns the RecordedEvent."""
    return devnode.publish


@pytest.fixture
def share_data(devnode: DevNodeKit) -> Callable[..., Any]:
    """``share_data(data, "peer1")``: the node's share_data (through plugins wrapping it); returns the tx hash."""
    return devnode.share


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


def find_plugin_dir(start: Path) -> Path:
    """The nearest ``plugins/`` at or above ``start``, not looking past the project root."""
    for directory in (start, *start.parents):
        if (directory / "plugins").is_dir():
            return directory / "plugins"
        if any((directory / marker).exists() for marker in PROJECT_MARKERS):
            break
    return Path.cwd() / "plugins"
