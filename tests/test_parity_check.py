"""`devnode check --strict` finds each way a plugin dir would behave differently in the production node."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import write_plugin

from devnode.cli import main
from devnode.host.dependencies import declared_distributions, third_party_imports, undeclared_imports

PLAIN = """
    class {cls}:
        def __init__(self, node):
            self.node = node

        def initialize(self):
            pass

        def shutdown(self):
            pass
"""


def plain(plugin_dir: Path, name: str, imports: str = "") -> None:
    """A well-behaved plugin module whose first lines are ``imports``."""
    (plugin_dir / f"{name}.py").write_text(imports + textwrap.dedent(PLAIN.format(cls=name.capitalize() + "Plugin")))


@pytest.fixture
def problem_dir(tmp_path: Path) -> Path:
    """One plugin dir with every production-parity problem devnode knows, each in its own file."""
    project = tmp_path / "project"
    plugin_dir = project / "myplugins"  # not importable as the package `plugins` in production
    plugin_dir.mkdir(parents=True)
    (project / "requirements.txt").write_text("python-dotenv>=1.0  # declared, so importing dotenv is fine\n")
    write_plugin(plugin_dir, "_common", "GREETING = 'hi'\n")  # production would load it as a plugin
    write_plugin(plugin_dir, "shared", "VALUE = 1\n")  # a helper only because another module imports it
    plain(plugin_dir, "user_plugin", "from plugins import shared, _common\nimport dotenv\n")
    write_plugin(plugin_dir, "async_plugin", """
        class Async_pluginPlugin:
            def __init__(self, node):
                self.node = node

            async def initialize(self):
                pass

            async def shutdown(self):
                pass
    """)
    plain(plugin_dir, "a_plugin")
    write_plugin(plugin_dir, "b_plugin", """
        class B_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                self.a_value = self.node.plugin_manager.get_plugin("a_plugin").node  # needs a_plugin first

            def shutdown(self):
                pass
    """)
    write_plugin(plugin_dir, "raising_plugin", """
        class Raising_pluginPlugin:
            def __init__(self, node):
                self.node = node

            def initialize(self):
                pass

            def shutdown(self):
                raise RuntimeError("disk gone")
    """)
    plain(plugin_dir, "deps_plugin", "import rich\nfrom watchfiles import awatch\n")
    return plugin_dir


def check_json(plugin_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["check", str(plugin_dir), "--data-dir", str(tmp_path / "data"), "--format", "json", *extra])
    return code, json.loads(capsys.readouterr().out)


def by_code(report: dict) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    found: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for warning in report["warnings"]:
        found.setdefault(warning["code"], []).append(warning)
    return found


def test_strict_check_finds_every_parity_problem(problem_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = check_json(problem_dir, tmp_path, capsys, "--strict")

    assert code == 1 and report["clean"] is False and report["strict"] is True
    found = by_code(report)
    assert sorted(w["plugin"] for w in found["helper-loaded-as-plugin"]) == ["_common", "shared"]
    assert "'myplugins'" in found["plugin-dir-name"][0]["message"]
    assert [w["plugin"] for w in found["async-initialize"]] == ["async_plugin"]
    assert [w["plugin"] for w in found["async-shutdown"]] == ["async_plugin"]
    assert [w["plugin"] for w in found["load-order"]] == ["b_plugin"]
    assert [w["plugin"] for w in found["shutdown-raises"]] == ["raising_plugin"]
    assert [(f["plugin"], f["phase"]) for f in report["failures"]] == [("raising_plugin", "shutdown")]
    undeclared = found["undeclared-import"]
    assert [w["plugin"] for w in undeclared] == ["deps_plugin"]
    assert "imports rich (line 1), watchfiles (line 2)" in undeclared[0]["message"]
    assert str(problem_dir.parent / "requirements.txt") in undeclared[0]["message"]


def test_without_strict_only_failures_set_the_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugin_dir = tmp_path / "myplugins"
    plugin_dir.mkdir()
    plain(plugin_dir, "deps_plugin", "import rich\n")

    code, report = check_json(plugin_dir, tmp_path, capsys)
    assert code == 0 and report["clean"] is True
    assert {"plugin-dir-name", "undeclared-import"} <= set(by_code(report))

    code, report = check_json(plugin_dir, tmp_path, capsys, "--strict")
    assert code == 1 and report["clean"] is False


def test_a_clean_dir_passes_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    plain(plugin_dir, "tidy_plugin", "import json\nfrom dashboard.event_bus import EventType\nimport cryptography\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "tidy"\ndependencies = ["cryptography>=42"]\n')

    code, report = check_json(plugin_dir, tmp_path, capsys, "--strict")

    assert (code, report["warnings"], report["failures"]) == (0, [], [])


def test_text_report_lists_the_undeclared_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    plain(plugin_dir, "deps_plugin", "import rich\n")

    code = main(["check", str(plugin_dir), "--data-dir", str(tmp_path / "data"), "--strict"])

    out = capsys.readouterr().out
    assert code == 1
    assert "warning: [deps_plugin] deps_plugin.py imports rich (line 1), which no requirements.txt" in out


def test_helper_modules_imports_count_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugin_dir = tmp_path / "plugins"
    (plugin_dir / "support").mkdir(parents=True)
    (plugin_dir / "support" / "__init__.py").write_text("")
    (plugin_dir / "support" / "fancy.py").write_text("import rich\n")
    plain(plugin_dir, "uses_plugin", "from plugins.support import fancy\n")

    _, report = check_json(plugin_dir, tmp_path, capsys)

    assert [w["plugin"] for w in by_code(report)["undeclared-import"]] == ["support.fancy"]


def test_the_running_node_warns_about_undeclared_imports_too(harness, plugin_dir: Path) -> None:  # type: ignore[no-untyped-def]
    plain(plugin_dir, "deps_plugin", "import rich\n")

    h = harness().start()

    assert [w["code"] for w in h.kinds("warning", "deps_plugin")] == ["undeclared-import"]


# -- the pieces ---------------------------------------------------------------------------------
def test_imports_that_matter_at_run_time() -> None:
    source = """
import os, yaml.loader
from requests import get
from . import sibling
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    import mypy_only
try:
    import ujson as json
except ImportError:
    import json
def later():
    import aiohttp
"""
    assert third_party_imports(source) == {"os": 2, "yaml": 2, "requests": 3, "typing": 5, "json": 11, "aiohttp": 13}


def test_declarations_from_requirements_and_pyproject(tmp_path: Path) -> None:
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    (plugin_dir / "requirements.txt").write_text("# deps\nRequests[socks]>=2 ; python_version>'3'\n-r more.txt\n--index-url x\n")
    (plugin_dir / "more.txt").write_text("PyYAML==6\n-e git+https://example.invalid/x.git#egg=Local_Thing\n")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "node-ext"\ndependencies = ["aiohttp>=3"]\n'
        '[project.optional-dependencies]\nfast = ["ujson"]\n[tool.poetry.dependencies]\npython = "^3.11"\nhttpx = "*"\n'
    )

    names, files = declared_distributions(plugin_dir)

    assert names == {"requests", "pyyaml", "local-thing", "aiohttp", "ujson", "httpx", "node-ext"}
    assert files == [plugin_dir / "requirements.txt", tmp_path / "pyproject.toml"]


def test_import_names_match_their_distributions(tmp_path: Path) -> None:
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    (plugin_dir / "helper.py").write_text("")
    (plugin_dir / "requirements.txt").write_text("PyYAML\npython-dotenv\n")
    source = "import yaml\nimport dotenv\nimport helper\nimport devnode\nimport datamgmtnode.services\nimport sys\n"

    assert undeclared_imports(source, plugin_dir) == {"devnode": 4}


def test_a_pyproject_of_unexpected_shape_declares_nothing_instead_of_failing(tmp_path: Path) -> None:
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    (tmp_path / "pyproject.toml").write_text(
        'project = "not a table"\ndependency-groups = ["not a table"]\n[tool]\npoetry = 1\n'
    )
    (plugin_dir / "pyproject.toml").write_text(
        '[project]\ndependencies = "requests"\n[project.optional-dependencies]\nfast = "ujson"\n'
        '[dependency-groups]\ndev = ["pytest", {include-group = "x"}]\n'
    )

    names, _ = declared_distributions(plugin_dir)

    assert names == {"pytest"}
