"""The ':' / 'e' prompt's line editor, key by key (the pty tests drive it for real)."""

from __future__ import annotations

import io

from devnode.ui.console.line_editor import LineEditor, PromptHistory


def editor(history: PromptHistory | None = None, words: list[str] | None = None) -> tuple[LineEditor, io.StringIO]:
    out = io.StringIO()
    line = LineEditor(": ", history or PromptHistory(), out, lambda: 80,
                      (lambda head: words) if words is not None else None)
    line.open()
    return line, out


def feed(line: LineEditor, *keys: str) -> bool:
    done = False
    for key in keys:
        done = line.feed(key)
    return done


def test_typing_editing_and_enter() -> None:
    line, out = editor()
    assert feed(line, *"satusx", "\x7f", "home", "right", "t", "left", "right", "end", "\r")
    assert line.result == "status"
    assert out.getvalue().endswith(": status\r\n")


def test_escape_ctrl_c_and_ctrl_d_on_an_empty_line_cancel() -> None:
    for keys in (("e", "m", "escape"), ("x", "\x03"), ("\x04",)):
        line, out = editor()
        assert feed(line, *keys) and line.result is None
        assert out.getvalue().endswith(": cancelled\r\n")


def test_up_and_down_walk_this_prompts_history_and_come_back_to_what_was_typed() -> None:
    history = PromptHistory()
    for text in ("status", "reload all"):
        line, _ = editor(history)
        feed(line, *text, "\r")
    line, _ = editor(history)
    feed(line, *"he", "up")
    assert line.buffer == "reload all"
    feed(line, "up", "up")
    assert line.buffer == "status"
    feed(line, "down", "down")
    assert line.buffer == "he"


def test_tab_completes_a_unique_word_and_lists_several() -> None:
    line, out = editor(words=["reload", "receive", "status"])
    feed(line, "s", "t", "\t")
    assert line.buffer == "status "
    line, out = editor(words=["reload", "receive", "status"])
    feed(line, "r", "e", "\t")
    assert line.buffer == "re" and "receive  reload" in out.getvalue()
