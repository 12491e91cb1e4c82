"""Where a JSON path points in a JSON text, so an error can name its line and column."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from json.decoder import scanstring

from reconciler.errors import Location, location_in

JsonPath = Sequence[str | int]


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def format_path(path: Iterable[str | int]) -> str:
    """`users[12].assignedLicenses[0].skuId`; the document itself is `snapshot`."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        elif re.fullmatch(r"[A-Za-z_$@][\w$@]*", step):
            text += f".{step}" if text else step
        else:
            text += f"[{json.dumps(step)}]"
    return text or "snapshot"


def locate(file: str, text: str | None, path: JsonPath) -> Location:
    """The Location of the value at `path`: just the file when `text` isn't at hand."""
    offset = None if text is None else _offset_of(text, path)
    return Location(file) if offset is None else location_in(file, text, offset)


def _offset_of(text: str, path: JsonPath) -> int | None:
    """Where the value at `path` starts in `text` (valid JSON), or None if it isn't there.

    Walks the text one step of the path at a time: keys are read with the json module's own
    string scanner and values stepped over with `raw_decode`, so only the containers on the
    path are scanned and every offset is exactly the one json.loads saw.
    """
    position = _skip(text, 0)
    for step in path:
        if isinstance(step, str) and text.startswith("{", position):
            position = _member_offset(text, position, step)
        elif isinstance(step, int) and text.startswith("[", position):
            position = _item_offset(text, position, step)
        else:
            return None
        if position is None:
            return None
    return position


def _member_offset(text: str, start: int, name: str) -> int | None:
    found = None
    position = _skip(text, start + 1)
    while text.startswith('"', position):
        key, position = scanstring(text, position + 1)
        position = _skip(text, _skip(text, position) + 1)  # past the colon
        if key == name:
            found = position  # keep looking: with duplicate keys json.loads keeps the last
        position = _next(text, position)
    return found


def _item_offset(text: str, start: int, index: int) -> int | None:
    position = _skip(text, start + 1)
    for _ in range(index):
        if text.startswith("]", position):
            return None
        position = _next(text, position)
    return None if text.startswith("]", position) else position


def _next(text: str, position: int) -> int:
    """From the start of a value, the start of the next member or item (or the closer)."""
    _, end = _DECODER.raw_decode(text, position)
    end = _skip(text, end)
    return _skip(text, end + 1) if text.startswith(",", end) else end


def _skip(text: str, position: int) -> int:
    return _WHITESPACE.match(text, position).end()
