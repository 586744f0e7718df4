"""Every code block in docs/ runs (see doc_blocks.py for the rules), and the reference pages are complete."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from doc_blocks import ROOT, Block, PageRunner, parse, shell_commands

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_block_of_the_page_runs(page: Path, tmp_path: Path) -> None:
    ran = PageRunner(page, tmp_path / "project").run()

    blocks = [b for b in parse(page) if b.lang in ("python", "bash", "console", "sh", "shell", "json", "toml")]
    skipped = [b for b in blocks if "skip" in b.directives]
    assert len(ran) >= len(blocks) - len(skipped) - _commandless(blocks), f"{page.name}: ran only {ran}"


def _commandless(blocks: list[Block]) -> int:
    return sum(1 for b in blocks if b.lang in ("bash", "console", "sh", "shell") and not shell_commands(b))


def test_the_guide_links_only_to_pages_that_exist() -> None:
    for page in PAGES:
        for target in re.findall(r"\]\(([\w./-]+\.md)(?:#[\w-]+)?\)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name} links to missing {target}"


def test_the_json_reference_documents_every_record_kind_the_ui_knows() -> None:
    from devnode.ui.text import FORMATTERS

    reference = (DOCS / "json-records.md").read_text()
    documented = set(re.findall(r"^### `([\w.]+)`", reference, re.MULTILINE))
    assert not set(FORMATTERS) - documented, f"undocumented record kinds: {sorted(set(FORMATTERS) - documented)}"


def test_troubleshooting_explains_every_warning_code() -> None:
    codes: set[str] = set()
    for source in (ROOT / "devnode").rglob("*.py"):
        text = source.read_text()
        codes |= set(re.findall(r'\bcode="([a-z][a-z-]+)"', text))
        codes |= set(re.findall(r'ParityWarning\(\s*"([a-z][a-z-]+)"', text))
        codes |= set(re.findall(r'ParityWarning\(\s*f"(missing|async)-\{method\}"', text))
    codes = {c for c in codes if c not in ("missing", "async")} | {
        "missing-initialize", "missing-shutdown", "async-initialize", "async-shutdown", "load-order"}
    troubleshooting = (DOCS / "troubleshooting.md").read_text()
    missing = sorted(c for c in codes if f"`{c}`" not in troubleshooting)
    assert not missing, f"warning codes without an entry in docs/troubleshooting.md: {missing}"
