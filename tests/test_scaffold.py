"""`devnode new`: names production can load, files never overwritten, templates that load."""

from __future__ import annotations

from pathlib import Path

import pytest

from devnode.cli import main
from devnode.scaffold import TEMPLATES, ScaffoldError, create_plugin, plugin_module_name
from devnode.testing import DevNodeKit


@pytest.mark.parametrize(("name", "module"), [
    ("greeter", "greeter_plugin"),
    ("greeter_plugin", "greeter_plugin"),
    ("greeter.py", "greeter_plugin"),
    ("auditLog", "auditLog_plugin"),
])
def test_module_names(name: str, module: str) -> None:
    assert plugin_module_name(name) == module


@pytest.mark.parametrize(("name", "message"), [
    ("9lives", r'"9lives" is not a valid Python module name.*\(e.g. "p9lives"\)'),
    ("my-plugin", r'"my-plugin" is not a valid Python module name.*\(e.g. "my_plugin"\)'),
    ("has space", r'e.g. "has_space"'),
    ("café", r"ASCII letters"),
    ("class", r'"class" is a Python keyword'),
    ("_helper", r"starts with an underscore: devnode treats such modules as helpers"),
    ("", r"the plugin name is empty"),
])
def test_names_that_are_not_module_names_are_refused(name: str, message: str) -> None:
    with pytest.raises(ScaffoldError, match=message):
        plugin_module_name(name)


def test_writes_plugin_test_and_package_init(tmp_path: Path) -> None:
    created = create_plugin("greeter", "basic", tmp_path / "plugins", tmp_path / "tests")

    assert created.class_name == "Greeter_pluginPlugin"
    assert (tmp_path / "plugins" / "__init__.py").is_file()
    assert "class Greeter_pluginPlugin:" in created.plugin.read_text()
    assert 'PLUGIN = Path(__file__).resolve().parent / "../plugins/greeter_plugin.py"' in created.test.read_text()


def test_an_existing_plugin_dir_is_left_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()

    create_plugin("greeter", "basic", tmp_path / "plugins", tmp_path / "tests")

    assert sorted(p.name for p in (tmp_path / "plugins").iterdir()) == ["greeter_plugin.py"]


def test_never_overwrites_and_writes_nothing_when_one_file_exists(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_greeter_plugin.py").write_text("mine\n")

    with pytest.raises(ScaffoldError, match=r"test_greeter_plugin.py already exists; devnode new never overwrites"):
        create_plugin("greeter", "basic", tmp_path / "plugins", tests)

    assert (tests / "test_greeter_plugin.py").read_text() == "mine\n"
    assert not (tmp_path / "plugins").exists()


def test_configurable_template_writes_its_config_file(tmp_path: Path) -> None:
    created = create_plugin("settings", "configurable", tmp_path / "plugins", tmp_path / "tests")

    assert [p.name for p in created.files] == ["settings_plugin.py", "settings.json", "test_settings_plugin.py"]
    assert '"settings.json"' in created.plugin.read_text()


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_template_loads_and_shuts_down_cleanly(template: str, tmp_path: Path) -> None:
    created = create_plugin(f"t_{template}", template, tmp_path / "plugins", tmp_path / "tests")
    kit = DevNodeKit(tmp_path / "plugins", tmp_path / "data")
    try:
        instance = kit.load(created.module)
        assert type(instance).__name__ == created.class_name
        assert kit.warnings == []
        assert kit.finish() == []
    finally:
        kit.close()


def test_webhook_template_loads_without_aiohttp(tmp_path: Path) -> None:
    created = create_plugin("hook", "webhook", tmp_path / "plugins", tmp_path / "tests")

    assert "aiohttp" not in created.plugin.read_text()
    assert "urllib.request" in created.plugin.read_text()


def test_cli_new_reports_files_and_next_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLUGIN_DIR", raising=False)

    assert main(["new", "greeter", "--template", "audit"]) == 0

    out = capsys.readouterr().out
    assert "created plugins/greeter_plugin.py\ncreated tests/test_greeter_plugin.py\n" in out
    assert "pytest tests/test_greeter_plugin.py" in out


def test_cli_new_honours_dir_and_tests_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    assert main(["new", "greeter", "--dir", "ext", "--tests", "checks"]) == 0

    assert (tmp_path / "ext" / "greeter_plugin.py").is_file()
    assert "../ext/greeter_plugin.py" in (tmp_path / "checks" / "test_greeter_plugin.py").read_text()


def test_cli_new_defaults_to_plugin_dir_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLUGIN_DIR", "node_plugins")

    assert main(["new", "greeter"]) == 0

    assert (tmp_path / "node_plugins" / "greeter_plugin.py").is_file()


def test_cli_new_rejects_bad_names_and_existing_files_with_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLUGIN_DIR", raising=False)

    assert main(["new", "my-plugin"]) == 2
    assert 'devnode: error: "my-plugin" is not a valid Python module name' in capsys.readouterr().err
    assert main(["new", "greeter"]) == 0
    assert main(["new", "greeter"]) == 2
    assert "already exist" in capsys.readouterr().err


def test_cli_new_rejects_an_unknown_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["new", "greeter", "--template", "fancy"])
    assert exit_.value.code == 2
    assert "invalid choice: 'fancy'" in capsys.readouterr().err
