"""Reading a ``.env`` file as editors on every platform write it, and refusing what cannot be read.

Windows editors save UTF-16 with a byte-order mark (Notepad's "Unicode") or the
ANSI code page CP1252; both are read here. A line python-dotenv cannot parse
(an unterminated quote, most often) would be skipped silently, so the variable
it was meant to set would quietly keep its default: it is refused instead, with
its line number.
"""

from __future__ import annotations

import codecs
import io
import stat
from pathlib import Path

from devnode.errors import DevnodeError

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class EnvFileError(DevnodeError):
    """A .env file that cannot be used; the message names the file, the line and the fix."""


def check_env_path(path: Path, given: str) -> None:
    """Refuse a path that is not a readable file-like thing (a FIFO such as ``<(...)`` or /dev/null is fine)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise EnvFileError(f'--env-file "{given}" does not exist; give the path of an existing .env file') from None
    except OSError as exc:
        raise EnvFileError(f'--env-file "{given}" cannot be read ({exc.strerror}); check its permissions') from None
    if stat.S_ISDIR(st.st_mode):
        raise EnvFileError(f'--env-file "{given}" is a directory; give the path of the .env file inside it, '
                           f'e.g. {Path(given) / ".env"}')


def read_env_file(path: Path) -> dict[str, str | None]:
    """The variables in ``path``, decoded whatever the editor's encoding; raises EnvFileError with the line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EnvFileError(f'.env file "{path}" cannot be read ({exc.strerror})') from None
    text = decode(raw, path)
    from dotenv import dotenv_values  # only when there is a .env: it costs start-up time otherwise
    from dotenv.parser import parse_stream

    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            line = binding.original.line
            content = binding.original.string.strip()
            raise EnvFileError(
                f'.env file "{path}" line {line} cannot be parsed: {content[:60]!r}'
                + ("; a quote is opened and never closed" if content.count('"') % 2 or content.count("'") % 2 else "")
                + ". Write it as NAME=value (quote values with spaces: NAME=\"a b\")"
            )
    return dotenv_values(stream=io.StringIO(text))


def env_values(path: Path) -> dict[str, str | None]:
    """``read_env_file``, or nothing when it cannot be used (the configuration step already said why)."""
    try:
        return read_env_file(path)
    except EnvFileError:
        return {}


def decode(raw: bytes, path: Path) -> str:
    """UTF-8 (with or without BOM), UTF-16/32 with BOM, else CP1252; refuse anything else in one line."""
    for bom, encoding in BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise EnvFileError(f'.env file "{path}" starts with a {encoding} byte-order mark but is not valid '
                                   f"{encoding} ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    if b"\x00" in raw:
        raise EnvFileError(f'.env file "{path}" holds NUL bytes (UTF-16 without a byte-order mark, or not text); '
                           "save it as UTF-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")  # Windows' "ANSI": what Notepad and older editors write
    except UnicodeDecodeError as exc:
        raise EnvFileError(f'.env file "{path}" is neither UTF-8 nor CP1252 text (byte {exc.start}); '
                           "save it as UTF-8") from None
