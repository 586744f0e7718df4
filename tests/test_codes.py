"""devnode/codes.py is the one list of record kinds and warning codes: the source and the docs agree with it.

The package's source is parsed (tests/record_sites.py says which shapes count as a use); nothing is
imported or run, so an emit site on a path no other test reaches is checked too.
"""

from __future__ import annotations

import fnmatch
import re
import textwrap
from pathlib import Path

import pytest

from record_sites import ROOT, Found, Use, scan_package

from devnode.codes import (
    CODE_FAMILIES, NOTE_CODES, RECORD_KINDS, WARNING_CODES, FamilyCode, NoteCode, RecordKind, WarningCode, warning_code,
)

DOCS = ROOT / "docs"
CODES = WARNING_CODES | NOTE_CODES | CODE_FAMILIES  # a family (`config-*`) is registered as its pattern
ENUMS = {"WarningCode": WarningCode, "NoteCode": NoteCode, "RecordKind": RecordKind}
# Values the scanner cannot resolve at the site, and where they are checked instead.
ACCEPTED_UNRESOLVED = {
    ("devnode/runtime.py", "code 'WarningCode(code)' is not a literal"): "NodeSession.notices() codes, found as notices tuples",
}

FOUND = scan_package()


def _value(use: Use) -> str:
    """The string a use stands for (``WarningCode.LEAK`` -> ``leak``); an unknown member stays as written."""
    enum_name, _, member = use.value.partition(".")
    if enum_name in ENUMS and member in ENUMS[enum_name].__members__:
        return str(ENUMS[enum_name][member])
    return use.value


def _registered(use: Use) -> bool:
    names = RECORD_KINDS if use.what == "kind" else CODES
    value = _value(use)
    if use.pattern:
        return value in names or any(fnmatch.fnmatchcase(name, value) for name in names)
    return value in names


def _unregistered(found: Found, what: str) -> list[str]:
    return sorted(f"{u.where}: {_value(u)!r}" for u in found.uses if u.what == what and not _registered(u))


def test_every_record_kind_the_package_uses_is_registered() -> None:
    unregistered = _unregistered(FOUND, "kind")
    assert not unregistered, (
        "record kinds used but not in devnode/codes.py RecordKind (add them there and to docs/json-records.md): "
        f"{unregistered}")


def test_every_warning_code_the_package_uses_is_registered() -> None:
    unregistered = _unregistered(FOUND, "code")
    assert not unregistered, (
        "warning codes used but not in devnode/codes.py WarningCode (add them there and to the table in "
        f"docs/troubleshooting.md#warnings): {unregistered}")


def test_every_kind_and_code_at_an_emit_site_can_be_told_from_the_source() -> None:
    unknown = [str(u) for u in FOUND.unresolved if (u.file, u.why) not in ACCEPTED_UNRESOLVED]
    assert not unknown, (
        "emit sites whose kind or code is not a literal (use a literal or a devnode.codes member, "
        f"or extend tests/record_sites.py to follow it): {unknown}")


def test_every_registered_kind_and_code_is_emitted_somewhere() -> None:
    emitted = {_value(u) for u in FOUND.uses if u.producer and not u.pattern}
    patterns = [_value(u) for u in FOUND.uses if u.producer and u.pattern]

    def emitted_somewhere(name: str) -> bool:
        return name in emitted or any(fnmatch.fnmatchcase(name, p) for p in patterns)

    stale = sorted(name for name in RECORD_KINDS | CODES if not emitted_somewhere(name))
    assert not stale, f"devnode/codes.py lists names nothing emits (remove them, and their docs): {stale}"


def test_the_troubleshooting_table_explains_exactly_the_registered_codes() -> None:
    documented = _warning_table_codes((DOCS / "troubleshooting.md").read_text(encoding="utf-8"))
    assert not CODES - documented, f"codes without a row in docs/troubleshooting.md#warnings: {sorted(CODES - documented)}"
    assert not documented - CODES, f"rows in docs/troubleshooting.md#warnings for unknown codes: {sorted(documented - CODES)}"


def test_the_json_reference_has_a_section_for_exactly_the_registered_kinds() -> None:
    documented = _record_sections((DOCS / "json-records.md").read_text(encoding="utf-8"))
    assert not RECORD_KINDS - documented, f"kinds without a section in docs/json-records.md: {sorted(RECORD_KINDS - documented)}"
    assert not documented - RECORD_KINDS, f"sections in docs/json-records.md for unknown kinds: {sorted(documented - RECORD_KINDS)}"


def _warning_table_codes(page: str) -> set[str]:
    """The codes in the first column of the table under ``## Warnings``."""
    section = page.split("\n## Warnings\n", 1)[1].split("\n## ", 1)[0]
    section = section.split("\n### `devnode check`", 1)[0]  # codes of check's plugin.failed records, not warnings
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    codes: set[str] = set()
    for row in rows:
        first = re.sub(r"\(e\.g\..*?\)", "", row.split("|")[1])  # an example of a family is not a code of its own
        codes |= set(re.findall(r"`([a-z][a-z0-9-]*)`", first))
        codes |= {f"{prefix}*" for prefix in re.findall(r"`([a-z][a-z0-9-]*-)<[a-z_]+>`", first)}  # `config-<variable>`
    return codes


def _record_sections(page: str) -> set[str]:
    return set(re.findall(r"^### `([\w.]+)`", page, re.MULTILINE))


# -- the scanner itself: each shape it claims to follow is followed -------------------------------------

def _scan(tmp_path: Path, source: str) -> Found:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return scan_package(package)


def test_the_scanner_finds_each_kind_of_producer(tmp_path: Path) -> None:
    found = _scan(tmp_path, """
        def f(reporter, runtime, ok, what):
            reporter.emit("plain.kind", code="plain-code")
            runtime.reporter.emit("yes.kind" if ok else "no.kind", code=WarningCode.LEAK)
            reporter.emit(f"{what}.error")
            for method in ("initialize", "shutdown"):
                ParityWarning(f"missing-{method}", "p", "m")
            ParityWarning(code="kw-code", plugin="p", message="m")
            records = [{"kind": "warning", "code": "by-hand"}]
            self.notices.append(("notice-code", "message"))
            self.parity.note("parity-note", "what", "why")
            node.parity_notices.note(f"config-{name}", "problem")

        class Host:
            def _note_once(self, slot, kind, key, **fields):
                self.reporter.emit(kind, **fields)

            def note(self, slot):
                self._note_once(slot, "forwarded.kind", "k", code="forwarded-code")
    """)
    assert found.values("kind", producer=True) == {"plain.kind", "yes.kind", "no.kind", "forwarded.kind", "warning"}
    assert found.values("code", producer=True) == {
        "plain-code", "WarningCode.LEAK", "missing-initialize", "missing-shutdown", "kw-code", "by-hand",
        "notice-code", "parity-note", "forwarded-code"}
    assert sorted(u.value for u in found.uses if u.pattern) == ["*.error", "config-*"]
    assert not found.unresolved


def test_the_scanner_finds_consumers_and_what_it_cannot_resolve(tmp_path: Path) -> None:
    found = _scan(tmp_path, """
        LEFTOVER_CODES = {"left-a", "left-b"}
        FORMATTERS = {"shown.kind": str}

        def g(r, reporter, kind):
            code = r.get("code")
            if r["kind"] == "compared.kind" and code == "compared-code" or r.get("code") in {"in-set"}:
                pass
            if tx.get("kind") == "chain-transfer":  # a chain transaction, not a record
                pass
            reporter.emit(compute_kind(), code=compute_code())
    """)
    assert found.values("kind", producer=False) == {"compared.kind", "shown.kind"}
    assert found.values("code", producer=False) == {"left-a", "left-b", "compared-code", "in-set"}
    assert sorted(u.why for u in found.unresolved) == [
        "code 'compute_code()' is not a literal", "kind 'compute_kind()' is not a literal"]


def test_an_unregistered_code_or_misspelt_member_is_reported(tmp_path: Path) -> None:
    found = _scan(tmp_path, """
        def f(reporter):
            reporter.emit("warning", code="made-up-code")
            reporter.emit("warning", code=WarningCode.NO_SUCH_MEMBER)
            reporter.emit("made.up")
    """)
    assert _unregistered(found, "code") == [
        "pkg/mod.py:3: 'made-up-code'", "pkg/mod.py:4: 'WarningCode.NO_SUCH_MEMBER'"]
    assert _unregistered(found, "kind") == ["pkg/mod.py:5: 'made.up'"]


def test_a_warning_code_given_as_text_becomes_its_member_or_family_and_an_unknown_one_is_refused() -> None:
    assert warning_code("lifecycle-typo") is WarningCode.LIFECYCLE_TYPO
    assert warning_code("config-initial-peers") == FamilyCode("config-initial-peers")
    assert type(warning_code("never-published-peer_connected")) is str
    with pytest.raises(ValueError, match="unregistered warning code 'no-such-code'"):
        warning_code("no-such-code")
