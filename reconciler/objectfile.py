"""Reading the files a user names, and the Graph objects (users or devices) of a JSON file.

Every file a command reads (policy files, reconciler.yaml, snapshots, saved plans, rule and
object files) comes through `read_bytes` (or `mapped`, which a large snapshot is read through):
only a regular file is read. A FIFO, a device or a socket is refused before it is opened, since
a FIFO would block and /dev/zero never ends; a file bigger than the limit of its kind is refused
unread. Text is UTF-8 (a leading byte order mark is dropped). `parse_json` turns what Python's
json module trips over or lets through (a number too long to convert, nesting too deep for its
recursion, a lone surrogate) into an InputError.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import mmap
import os
import re
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

from reconciler.engine.membership import member_of_index
from reconciler.errors import InputError, Location, line_and_column, location_in
from reconciler.private_files import file_kind
from reconciler.rules.attributes import items, reference_id

MIB = 1 << 20
_COLLECTIONS = {"user": "users", "device": "devices"}
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO swapped in after the check can't block
_BINARY = getattr(os, "O_BINARY", 0)
_UTF16_32 = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
_UTF16_32_MARKS = tuple(mark for mark, _ in _UTF16_32)
# a JSON string, matched whole so that what it holds is skipped, or a bracket
_JSON_STRING = r'"(?:[^"\\]++|\\.)*+"'
_BRACKETS = re.compile(rf"{_JSON_STRING}|[\[\]{{}}]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(_SURROGATE_ESCAPE.pattern.encode())
_ESCAPES = re.compile(
    r"\\(?:"
    r"u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"  # a pair: one character
    r"|(u[dD][89a-fA-F][0-9a-fA-F]{2})"  # half of a pair, alone
    r"|.)"  # any other escape, "\\" too, skipped whole
)
_DEEP = 500  # where a too-deep JSON document is pointed at: well inside the nesting that failed


def read_bytes(
    path: Path, name: str | None = None, *, limit: int | None = None, kind: str = "this file"
) -> bytes:
    """The content of the regular file at `path` (`name` in messages), at most `limit` bytes
    (the limit for a `kind` of file); InputError for anything else."""
    name = str(path) if name is None else name
    descriptor, status = _open_regular(path, name)
    with os.fdopen(descriptor, "rb") as stream:
        try:
            if limit is not None and status.st_size > limit:
                raise _too_big(name, limit, kind)
            data = stream.read() if limit is None else stream.read(limit + 1)
        except OSError as exc:
            raise InputError(f"can't read file: {exc.strerror}", Location(name)) from exc
    if limit is not None and len(data) > limit:  # it grew while being read
        raise _too_big(name, limit, kind)
    return data


def _open_regular(path: Path, name: str) -> tuple[int, os.stat_result]:
    """A descriptor open for reading on the regular file at `path`, and its status."""
    try:
        # stat first: opening a FIFO waits for a writer, and some devices act when opened
        _check_regular(os.stat(path).st_mode, name)
        descriptor = os.open(path, os.O_RDONLY | _NONBLOCK | _BINARY)
    except OSError as exc:
        raise InputError(f"can't read file: {exc.strerror}", Location(name)) from exc
    try:
        status = os.fstat(descriptor)
        # checked again on what was opened: the path may now name something else
        _check_regular(status.st_mode, name)
    except OSError as exc:
        os.close(descriptor)
        raise InputError(f"can't read file: {exc.strerror}", Location(name)) from exc
    except InputError:
        os.close(descriptor)
        raise
    return descriptor, status


@contextmanager
def mapped(path: Path, name: str | None = None) -> Iterator[Mapped]:
    """The regular file at `path` mapped into memory, read only, as `read_bytes` reads it: a
    large file's pages are read as they are used, and can be let go of (`Mapped.release`) once
    used, so a file of gigabytes needn't be in memory whole."""
    name = str(path) if name is None else name
    descriptor, status = _open_regular(path, name)
    try:
        # an empty file can't be mapped; it is no more than its bytes
        view = Mapped(mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ) if status.st_size else None)
    except OSError as exc:
        raise InputError(f"can't read file: {exc.strerror}", Location(name)) from exc
    finally:
        os.close(descriptor)
    try:
        yield view
    finally:
        view.close()


class Mapped:
    """A file mapped into memory (`data`, bytes-like), its pages let go of up to an offset."""

    def __init__(self, memory: mmap.mmap | None) -> None:
        self._memory = memory
        self.data: mmap.mmap | bytes = memory if memory is not None else b""

    def release(self, end: int) -> None:
        """Lets go of the pages before `end`: read again from the file if used again."""
        advise = getattr(self._memory, "madvise", None)  # not on Windows
        pages = end - end % mmap.PAGESIZE
        if advise is not None and pages > 0:
            advise(mmap.MADV_DONTNEED, 0, pages)

    def close(self) -> None:
        if self._memory is not None:
            # something may still hold a view of it: then it goes when that does
            with contextlib.suppress(BufferError):
                self._memory.close()


def decode_text(data: bytes, name: str, encoding: str = "utf-8-sig") -> str:
    """`data` as UTF-8 text (`encoding` "utf-8-sig" drops a leading byte order mark, "utf-8"
    keeps it); InputError at the first byte that isn't UTF-8."""
    for mark, other in _UTF16_32:
        if data.startswith(mark):
            # Windows PowerShell 5 writes UTF-16 by default; refusing beats guessing
            raise InputError(f"file is {other} text; save it as UTF-8", Location(name))
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode(encoding, errors="replace")
        location = Location(name, *line_and_column(before, len(before)))
        message = f"file is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8"
        raise InputError(message, location) from exc


def read_text(
    path: Path, name: str | None = None, *, limit: int | None = None, kind: str = "this file"
) -> str:
    """The UTF-8 text of the regular file at `path`, at most `limit` bytes long."""
    name = str(path) if name is None else name
    return decode_text(read_bytes(path, name, limit=limit, kind=kind), name)


def parse_json(text: str, name: str) -> Any:
    """The JSON document in `text`; InputError at the line and column of what is wrong."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", Location(name, exc.lineno, exc.colno)) from exc
    except RecursionError:
        where = _offset_deeper_than(text, _DEEP)
        location = Location(name) if where is None else location_in(name, text, where)
        raise InputError("JSON nests too deeply", location) from None
    except ValueError as exc:
        # int() refuses a number of more than sys.get_int_max_str_digits() digits
        limit = sys.get_int_max_str_digits()
        where = _long_number_offset(text, limit)
        location = Location(name) if where is None else location_in(name, text, where)
        message = f"a number has more than {limit} digits"
        raise InputError(message, location) from exc
    # a quick search first (a few per cent of reading the text); the careful one only if found
    if _SURROGATE_ESCAPE.search(text):
        _check_surrogates(text, name)
    return document


class JsonSource:
    """The bytes a JSON document was parsed from, decoded only if an error is to be located in
    them, and let go of (`release`) once it can't be: a large file's bytes take as much memory
    as the document."""

    def __init__(self, data: bytes, name: str, text: str | None = None) -> None:
        self._data: bytes | None = data
        self._name = name
        self._text = text

    def text(self) -> str | None:
        if self._text is None and self._data is not None:
            self._text = decode_text(self._data, self._name)
        return self._text

    def release(self) -> None:
        self._data = self._text = None


def plain_json(data: bytes | mmap.mmap) -> bool:
    """Whether msgspec may parse `data` as it stands: no byte order mark, no escaped surrogate
    (which json's careful way refuses where alone)."""
    return not bytes(data[:4]).startswith((codecs.BOM_UTF8, *_UTF16_32_MARKS)) and not (
        _SURROGATE_ESCAPE_BYTES.search(data)
    )


def parse_json_bytes(data: bytes, name: str) -> tuple[Any, JsonSource]:
    """The JSON document in the UTF-8 `data`, and its source (to locate errors in); InputError
    as `parse_json` gives it.

    msgspec parses straight from bytes, in about half json's time and memory; whatever it
    refuses (or anything odd: a byte order mark, a surrogate escape) goes json's careful way.
    """
    body = data.removeprefix(codecs.BOM_UTF8)
    if plain_json(body):
        try:
            document = msgspec.json.decode(body)
        except (msgspec.MsgspecError, RecursionError):
            pass
        else:
            return document, JsonSource(data, name)
    text = decode_text(data, name)
    return parse_json(text, name), JsonSource(data, name, text)


def read_json(path: Path, name: str | None = None, *, limit: int | None = None) -> tuple[Any, str]:
    """The JSON document in the regular file at `path`, and its text (to locate errors in)."""
    name = str(path) if name is None else name
    text = read_text(path, name, limit=limit)
    return parse_json(text, name), text


def load_objects(path: Path, object_type: str) -> list[dict[str, Any]]:
    """The users or devices in `path`: a JSON list, Graph's `{"value": [...]}` or a snapshot.

    In a tenant snapshot, an object without `memberOf` gets it from the groups' `members`,
    so memberOf rules can be tested against a snapshot.
    """
    document, _ = read_json(path)
    collection = _COLLECTIONS[object_type]
    if isinstance(document, list):
        objects = document
    elif isinstance(document, dict) and isinstance(document.get("value"), list):
        objects = document["value"]
    elif isinstance(document, dict) and isinstance(document.get(collection), list):
        objects = document[collection]
        _add_member_of(objects, document.get("groups"))
    else:
        raise InputError(
            f'expected a JSON list of {collection}, {{"value": [...]}} or a tenant snapshot '
            f'with "{collection}"',
            Location(str(path), 1, 1),
        )
    for position, obj in enumerate(objects):
        if not isinstance(obj, dict):
            raise InputError(f"{collection}[{position}] is not a JSON object", Location(str(path)))
    return objects


def _check_regular(mode: int, name: str) -> None:
    kind = file_kind(mode)
    if kind is not None:
        raise InputError(f"won't read it: it is {kind}, not a regular file", Location(name))
    if not stat.S_ISREG(mode):
        raise InputError("won't read it: it is not a regular file", Location(name))


def _too_big(name: str, limit: int, kind: str) -> InputError:
    size = f"{limit // MIB} MiB" if limit % MIB == 0 else f"{limit:,} bytes"
    return InputError(
        f"won't read it: it is larger than {size}, the limit for {kind}", Location(name)
    )


def _offset_deeper_than(text: str, depth: int) -> int | None:
    """Where `text` (JSON) first opens a bracket `depth` levels deep, skipping strings."""
    level = 0
    for match in _BRACKETS.finditer(text):
        token = match.group()
        if token in "[{":
            level += 1
            if level > depth:
                return match.start()
        elif token in "]}":
            level -= 1
    return None


def _long_number_offset(text: str, digits: int) -> int | None:
    """Where an integer of more than `digits` digits starts in `text` (JSON), outside strings."""
    number = re.compile(rf"{_JSON_STRING}|-?\d{{{digits + 1},}}(?![\d.eE])")
    for match in number.finditer(text):
        if not match.group().startswith('"'):
            return match.start()
    return None


def _check_surrogates(text: str, name: str) -> None:
    """InputError at the first `\\uD800`-style escape that isn't half of a surrogate pair."""
    for match in _ESCAPES.finditer(text):
        if match.group(1):
            message = f"\\{match.group(1)} is half of a surrogate pair, alone: not a character"
            raise InputError(message, location_in(name, text, match.start()))


def _add_member_of(objects: list, groups: object) -> None:
    if not isinstance(groups, list):
        return
    member_of = member_of_index(
        (group["id"], filter(None, map(reference_id, items(group.get("members")))))
        for group in groups
        if isinstance(group, dict) and isinstance(group.get("id"), str)
    )
    for obj in objects:
        if isinstance(obj, dict) and "memberOf" not in obj and isinstance(obj.get("id"), str):
            obj["memberOf"] = member_of.get(obj["id"].lower(), [])
