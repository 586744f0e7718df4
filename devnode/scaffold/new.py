"""Writes a plugin module and its test from a template; refuses bad names and existing files."""

from __future__ import annotations

import keyword
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from devnode.errors import DevnodeError
from devnode.host.naming import expected_class_name
from devnode.scaffold.choices import TEMPLATES

SUFFIX = "_plugin"
PACKAGE_INIT = "# The plugin package: the node imports each module here as plugins.<name>.\n"


class ScaffoldError(DevnodeError):
    """``devnode new`` cannot create what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class Created:
    """What ``create_plugin`` wrote."""

    module: str
    class_name: str
    plugin: Path
    test: Path
    extra: tuple[Path, ...] = ()

    @property
    def files(self) -> list[Path]:
        return [self.plugin, *self.extra, self.test]


def plugin_module_name(name: str) -> str:
    """``greeter`` -> ``greeter_plugin``; raises ScaffoldError for names that cannot be module names."""
    text = name.strip()
    if text.endswith(".py"):
        text = text[:-3]
    if not text:
        raise ScaffoldError('the plugin name is empty; give a name such as "greeter"')
    if not text.isidentifier() or not text.isascii():
        suggestion = re.sub(r"\W+", "_", text.encode("ascii", "ignore").decode()).strip("_") or "my_plugin"
        if suggestion[0].isdigit():
            suggestion = "p" + suggestion
        raise ScaffoldError(
            f'"{name}" is not a valid Python module name: production imports each plugin as plugins.<name>, '
            f'so use ASCII letters, digits and underscores, not starting with a digit (e.g. "{suggestion}")'
        )
    if keyword.iskeyword(text):
        raise ScaffoldError(f'"{name}" is a Python keyword and cannot be a module name; try "{text}_plugin"')
    if text.startswith("_"):
        raise ScaffoldError(
            f'"{name}" starts with an underscore: devnode treats such modules as helpers, while production would '
            f'try to load it as a plugin; drop the underscore (e.g. "{text.lstrip("_") or "my"}")'
        )
    return text if text.endswith(SUFFIX) else text + SUFFIX


def create_plugin(name: str, template: str = "basic", plugin_dir: Path = Path("plugins"), tests_dir: Path = Path("tests")) -> Created:
    """Write ``<plugin_dir>/<name>_plugin.py`` and ``<tests_dir>/test_<name>_plugin.py``; never overwrite."""
    if template not in TEMPLATES:
        raise ScaffoldError(f'unknown template "{template}"; choose one of: {", ".join(TEMPLATES)}')
    module = plugin_module_name(name)
    base = module[: -len(SUFFIX)]
    plugin_dir, tests_dir = Path(plugin_dir), Path(tests_dir)
    plugin_file = plugin_dir / f"{module}.py"
    test_file = tests_dir / f"test_{module}.py"
    config_file = plugin_dir / f"{base}.json"
    targets = [plugin_file, test_file] + ([config_file] if template == "configurable" else [])
    existing = [str(p) for p in targets if p.exists()]
    if existing:
        raise ScaffoldError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                            "devnode new never overwrites: pick another name or move the file away")
    for directory in (plugin_dir, tests_dir):
        if directory.exists() and not directory.is_dir():
            raise ScaffoldError(f'"{directory}" exists but is not a directory')

    values = {
        "module": module,
        "class_name": expected_class_name(module),
        "title": base.replace("_", " ").strip().capitalize() or module,
        "config_name": config_file.name,
        "env_var": f"{base.upper()}_WEBHOOK_URL",
        "plugin_rel": Path(os.path.relpath(plugin_file.resolve(), tests_dir.resolve())).as_posix(),
        "test_rel": test_file.as_posix(),
    }
    if not plugin_dir.exists():
        plugin_dir.mkdir(parents=True)
        (plugin_dir / "__init__.py").write_text(PACKAGE_INIT)
    tests_dir.mkdir(parents=True, exist_ok=True)
    _write(plugin_file, render(f"{template}_plugin.py", values))
    extra: tuple[Path, ...] = ()
    if template == "configurable":
        _write(config_file, render("configurable_config.json", values))
        extra = (config_file,)
    _write(test_file, render(f"{template}_test.py", values))
    return Created(module, values["class_name"], plugin_file, test_file, extra)


def render(template_name: str, values: dict[str, str]) -> str:
    source = resources.files("devnode.scaffold").joinpath("templates", f"{template_name}.tmpl").read_text(encoding="utf-8")
    return Template(source).substitute(values)


def _write(path: Path, text: str) -> None:
    # "x": if something appeared since the check above, fail rather than overwrite it.
    with open(path, "x", encoding="utf-8") as f:
        f.write(text)
