"""Deciding what a batch of changed files means, without doing it."""

from __future__ import annotations

from pathlib import Path

from collections.abc import Iterable, Mapping

import pytest

from devnode.host.imports import ModuleGraph, mentioned_files, sibling_imports
from devnode.host.plan import Plan
from devnode.reload import facts
from devnode.reload.contents import ContentLedger
from devnode.reload.planner import ChangeFacts, plan_changes


def make(plugin_dir: Path, files: dict[str, str]) -> ModuleGraph:
    for name, text in files.items():
        path = plugin_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return ModuleGraph(plugin_dir)


def planned(changed: Iterable[Path], plugin_dir: Path, graph: ModuleGraph, loaded: set[str],
            readers: Mapping[str, set[Path]]) -> Plan:
    """As the Reloader does it: the facts from disk first, then the pure planner."""
    changed = list(changed)
    return plan_changes(changed, plugin_dir, graph, loaded, readers, facts.gather(changed, plugin_dir, graph.update))


def test_sibling_imports_understands_every_import_form() -> None:
    source = (
        "import plugins.a\nfrom plugins import b, c\nfrom plugins.d import x\nfrom . import e\n"
        "from .f import y\nimport json\nfrom os import path\n"
        "def later():\n    from plugins import g\n"
    )
    assert sibling_imports(source, "me") == {"a", "b", "c", "d", "e", "f", "g"}


def test_mentioned_files_finds_file_names_in_string_literals() -> None:
    assert "configurable.json" in mentioned_files("p = base / 'configurable.json'\nmsg = 'not a file name'")


def test_editing_a_plugin_reloads_only_that_plugin(plugin_dir: Path) -> None:
    graph = make(plugin_dir, {"a_plugin.py": "", "b_plugin.py": ""})
    plan = planned([plugin_dir / "a_plugin.py"], plugin_dir, graph, {"a_plugin", "b_plugin"}, {})
    assert plan.reload == ["a_plugin"] and not plan.load and not plan.unload
    assert plan.triggers == {"a_plugin": ["a_plugin.py"]}


def test_editing_a_helper_reloads_direct_and_indirect_importers(plugin_dir: Path) -> None:
    graph = make(plugin_dir, {
        "_base.py": "X = 1\n",
        "_mid.py": "from plugins._base import X\n",
        "a_plugin.py": "from plugins import _mid\n",
        "b_plugin.py": "from ._base import X\n",
        "c_plugin.py": "import json\n",
    })
    loaded = {"a_plugin", "b_plugin", "c_plugin"}
    plan = planned([plugin_dir / "_base.py"], plugin_dir, graph, loaded, {})
    assert plan.reload == ["a_plugin", "b_plugin"]
    assert plan.purge == ["_base", "_mid"]  # both re-executed, so no stale `from _base import X`
    assert plan.triggers["a_plugin"] == ["_base.py"]


def test_editing_a_file_in_a_helper_package_reloads_its_importers(plugin_dir: Path) -> None:
    graph = make(plugin_dir, {"support/__init__.py": "", "support/stats.py": "", "m_plugin.py": "from plugins.support.stats import x\n"})
    plan = planned([plugin_dir / "support" / "stats.py"], plugin_dir, graph, {"m_plugin"}, {})
    assert plan.reload == ["m_plugin"] and plan.purge == ["support"]


def test_data_file_reloads_only_the_plugins_that_read_it(plugin_dir: Path) -> None:
    graph = make(plugin_dir, {"a_plugin.py": "", "b_plugin.py": "", "a.json": "{}"})
    readers = {"a_plugin": {plugin_dir / "a.json"}, "b_plugin": {plugin_dir / "b.json"}}
    plan = planned([plugin_dir / "a.json"], plugin_dir, graph, {"a_plugin", "b_plugin"}, readers)
    assert plan.reload == ["a_plugin"]


def test_data_file_named_in_a_plugin_source_reloads_it_even_before_it_existed(plugin_dir: Path) -> None:
    graph = make(plugin_dir, {"c_plugin.py": "NAME = 'c.json'\n", "d_plugin.py": ""})
    (plugin_dir / "c.json").write_text("{}")
    plan = planned([plugin_dir / "c.json"], plugin_dir, graph, {"c_plugin", "d_plugin"}, {})
    assert plan.reload == ["c_plugin"]


def test_new_deleted_and_renamed_files(plugin_dir: Path) -> None:
    graph = make(plugin_dir, {"new_plugin.py": "", "renamed_plugin.py": ""})
    changed = [plugin_dir / "new_plugin.py", plugin_dir / "gone_plugin.py", plugin_dir / "old_plugin.py", plugin_dir / "renamed_plugin.py"]
    plan = planned(changed, plugin_dir, graph, {"gone_plugin", "old_plugin"}, {})
    assert plan.load == ["new_plugin", "renamed_plugin"]
    assert sorted(plan.unload) == ["gone_plugin", "old_plugin"]


def test_package_init_changes_are_not_plugins(plugin_dir: Path) -> None:
    graph = make(plugin_dir, {"__init__.py": ""})
    assert not planned([plugin_dir / "__init__.py"], plugin_dir, graph, set(), {})


def test_saving_identical_content_is_not_a_change(plugin_dir: Path) -> None:
    path = plugin_dir / "a_plugin.py"
    path.write_text("x = 1\n")
    contents = ContentLedger(plugin_dir)
    path.write_text("x = 1\n")
    assert not contents.changed(path)
    path.write_text("x = 2\n")
    assert contents.changed(path)
    assert not contents.changed(path)
    path.unlink()
    assert contents.changed(path)


def test_a_plugin_imported_by_another_plugin_stays_a_plugin_and_reloads_first(plugin_dir: Path) -> None:
    graph = make(plugin_dir, {
        "a_plugin.py": "class A_pluginPlugin:\n    pass\n",
        "b_plugin.py": "from plugins.a_plugin import A_pluginPlugin\nclass B_pluginPlugin:\n    pass\n",
        "util.py": "X = 1\n",
        "c_plugin.py": "from plugins import util\n",
    })
    assert not graph.is_helper("a_plugin") and graph.is_helper("util")
    plan = planned([plugin_dir / "a_plugin.py"], plugin_dir, graph, {"a_plugin", "b_plugin"}, {})
    assert plan.reload == ["a_plugin", "b_plugin"]
    assert plan.triggers["b_plugin"] == ["a_plugin.py"]


# -- the planner alone: fabricated facts, no file on disk ------------------------------------
NOWHERE = Path("/nonexistent/plugins")


def graph_of(sources: dict[str, str]) -> ModuleGraph:
    """A module graph learnt from source text only (the plugin dir does not exist)."""
    graph = ModuleGraph(NOWHERE)
    for name, source in sources.items():
        graph.learn(name, source)
    return graph


def test_the_planner_reads_nothing_from_disk_and_changes_no_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = graph_of({"_base": "X = 1\n", "a_plugin": "from plugins._base import X\n"})
    before = {name: set(deps) for name, deps in graph.imports.items()}
    changed = [NOWHERE / "_base.py", NOWHERE / "new_plugin.py"]
    for method in ("stat", "is_file", "is_dir", "exists", "read_bytes", "read_text"):
        monkeypatch.setattr(Path, method, _no_disk)

    plan = plan_changes(changed, NOWHERE, graph, {"a_plugin"}, {}, ChangeFacts(files=frozenset({"_base", "new_plugin"})))

    assert plan.load == ["new_plugin"] and plan.reload == ["a_plugin"] and plan.purge == ["_base"]
    assert plan.triggers == {"a_plugin": ["_base.py"], "new_plugin": ["new_plugin.py"]}
    assert {name: set(deps) for name, deps in graph.imports.items()} == before  # nothing learnt or forgotten


def _no_disk(*args: object, **kwargs: object) -> None:
    raise AssertionError("the planner touched the disk")


def test_a_module_the_facts_say_is_gone_is_unloaded_and_a_gone_helper_forgotten() -> None:
    graph = graph_of({"a_plugin": "from plugins import _util\n", "_util": ""})
    changed = [NOWHERE / "a_plugin.py", NOWHERE / "_util.py"]

    plan = plan_changes(changed, NOWHERE, graph, {"a_plugin"}, {}, ChangeFacts())

    assert plan.unload == ["a_plugin"] and plan.helpers_gone == ["_util"] and not plan.reload


def test_a_directory_the_facts_report_is_a_helper_package_not_a_plugin() -> None:
    graph = graph_of({"m_plugin": "from plugins.support import stats\n"})
    changed = [NOWHERE / "support" / "stats.py"]

    plan = plan_changes(changed, NOWHERE, graph, {"m_plugin"}, {}, ChangeFacts(packages=frozenset({"support"})))

    assert plan.purge == ["support"] and plan.reload == ["m_plugin"] and not plan.load
    assert plan.triggers == {"m_plugin": ["support/stats.py"]}


def test_a_plugin_file_replaced_by_a_directory_is_unloaded_when_the_facts_say_no_file() -> None:
    graph = graph_of({"a_plugin": "class A_pluginPlugin:\n    pass\n"})

    plan = plan_changes([NOWHERE / "a_plugin.py"], NOWHERE, graph, {"a_plugin"}, {}, ChangeFacts())

    assert plan.unload == ["a_plugin"]


def test_a_data_file_reloads_its_readers_from_the_facts_given() -> None:
    graph = graph_of({"a_plugin": "", "b_plugin": "NAME = 'b.json'\n"})
    readers = {"a_plugin": {NOWHERE / "a.json"}}

    plan = plan_changes([NOWHERE / "a.json", NOWHERE / "b.json"], NOWHERE, graph, {"a_plugin", "b_plugin"},
                        readers, ChangeFacts())

    assert plan.reload == ["a_plugin", "b_plugin"]
    assert plan.triggers == {"a_plugin": ["a.json"], "b_plugin": ["b.json"]}
