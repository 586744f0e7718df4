"""A new plugin author's first session, for real: `devnode new`, pytest in a fresh project, a leak caught."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

from devnode.scaffold import TEMPLATES


def author_env() -> dict[str, str]:
    """The author's shell: devnode installed in the interpreter, nothing of this repository on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PLUGIN_DIR", "DATA_DIR", "PYTHONPATH"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def sh(project: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=project, env=author_env(), capture_output=True,
                          text=True, timeout=timeout)


def test_new_plugin_passes_its_test_and_a_leak_fails_it_by_name(tmp_path: Path) -> None:
    project = tmp_path / "greeter-project"
    project.mkdir()
    assert not project.resolve().is_relative_to(ROOT)

    created = sh(project, "devnode", "new", "greeter")
    assert created.returncode == 0, created.stderr
    assert "created plugins/greeter_plugin.py" in created.stdout
    assert "class Greeter_pluginPlugin" in created.stdout

    passing = sh(project, "pytest", "-q", "-p", "no:cacheprovider", "-W", "error")
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "2 passed" in passing.stdout

    plugin = project / "plugins" / "greeter_plugin.py"
    source = plugin.read_text()
    unsubscribe = "        self.node.event_bus.unsubscribe(EventType.DATA_SHARED, self.on_data_shared)\n"
    assert unsubscribe in source
    plugin.write_text(source.replace(unsubscribe, ""))

    leaking = sh(project, "pytest", "-q", "-p", "no:cacheprovider", "-W", "error")
    assert leaking.returncode == 1, leaking.stdout + leaking.stderr
    assert "2 failed" in leaking.stdout
    assert ("greeter_plugin left 1 subscription (data.shared -> Greeter_pluginPlugin.on_data_shared) "
            "behind after shutdown") in leaking.stdout


def test_every_template_loads_and_its_generated_test_passes(tmp_path: Path) -> None:
    project = tmp_path / "templates-project"
    project.mkdir()
    for template in TEMPLATES:
        created = sh(project, "devnode", "new", f"my_{template}", "--template", template)
        assert created.returncode == 0, created.stderr

    tests = sh(project, "pytest", "-q", "-p", "no:cacheprovider", "-W", "error")
    assert tests.returncode == 0, tests.stdout + tests.stderr

    check = sh(project, "devnode", "check", "plugins", "--strict", "--data-dir", str(tmp_path / "data"))
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"{len(TEMPLATES)} plugin(s) loaded" in check.stdout
