"""`fmt`: one canonical layout for policy files that keeps what people chose.

ruamel.yaml reads each file in round-trip mode and writes it back, so comments, key order,
anchors, quotes, spellings and block scalars survive; `fmt_layout.tidy` then places comment and
blank lines. The result must say what the file said, or the file is refused. The layout is
described in docs/fmt.md.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError, YAMLWarning
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
)
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver

from reconciler.errors import Location, line_and_column
from reconciler.policy.errors import PolicyError, raise_all
from reconciler.policy.fmt_layout import Layout, comments_at_column_0, scan_layout, tidy
from reconciler.policy.source import policy_files, read_text

# never re-wrap: a long membership rule stays on the line its author put it on
_WIDTH = 1_000_000
_EMPTY = re.compile("^$")
# every YAML reader reads these as null; ruamel.yaml writes an empty one in [...] as `null`
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


@dataclass(frozen=True, slots=True)
class FormattedFile:
    """One policy file as it was read, and in the canonical layout."""

    path: Path
    name: str  # as shown in messages
    before: str
    after: str
    changed: bool  # whether its bytes differ from the canonical text's UTF-8


def format_text(text: str, name: str) -> str:
    """The canonical layout of one policy file's text; PolicyError (at file:line:column) if
    it isn't well-formed YAML holding a mapping."""
    text = text.removeprefix("\ufeff")
    meaning = _meaning(text, name)
    try:
        layout = scan_layout(text)
    except (MarkedYAMLError, ReaderError) as exc:
        raise _policy_error(exc, name, text) from exc
    if not meaning:
        # nothing but comments: there is no value for ruamel.yaml to lay out
        return tidy(layout, layout)
    if meaning[0][0] != "MappingStartEvent":
        found = "a list" if meaning[0][0] == "SequenceStartEvent" else "a single value"
        message = f"a policy file holds a mapping (tenant, settings, groups, retired), not {found}"
        raise PolicyError(message, _first_content(layout, name))
    yaml = _yaml()
    try:
        with warnings.catch_warnings():
            # `&a` given twice is valid YAML (an alias refers to the latest): keep it quiet
            warnings.simplefilter("ignore", YAMLWarning)
            # comments start at column 0, where ruamel.yaml can't put one inside block text;
            # `tidy` indents them
            document = yaml.load(comments_at_column_0(layout))
    except (MarkedYAMLError, ReaderError) as exc:
        raise _policy_error(exc, name, text) from exc
    except NotImplementedError as exc:
        # ruamel.yaml can't place a comment after a key whose value starts on a later line
        raise _misplaced_comment(exc, name) from exc
    stream = io.StringIO()
    try:
        yaml.dump(document, stream)
        emitted = scan_layout(stream.getvalue())
    except (YAMLError, NotImplementedError) as exc:
        raise _cannot_lay_out(name) from exc
    _check_comments_kept(layout, emitted, name)
    formatted = tidy(emitted, layout)
    try:
        same = _meaning(formatted, name) == meaning
    except PolicyError:
        same = False  # not even YAML any more
    if not same:
        raise _cannot_lay_out(name)
    return formatted


def _misplaced_comment(exc: NotImplementedError, name: str) -> PolicyError:
    """Where the comment ruamel.yaml couldn't place is: its message names it first."""
    found = re.search(r"line: (\d+), col: (\d+)", str(exc))
    location = Location(name, int(found[1]) + 1, int(found[2]) + 1) if found else Location(name)
    message = "fmt can't keep this comment where it is; put it on a line of its own above"
    return PolicyError(message, location)


def _cannot_lay_out(name: str) -> PolicyError:
    # a fault of fmt's, not the file's: refuse rather than write a policy that means otherwise
    message = "fmt can't lay out this file without changing what it says, so it leaves it as it is"
    return PolicyError(message, Location(name))


def format_path(path: Path, *, write: bool = True) -> list[FormattedFile]:
    """Lay out the policy file `path`, or every one in the folder `path`; the files that
    changed (with `write=False`: that would change)."""
    return format_paths([path], write=write)


def format_paths(paths: Sequence[Path], *, write: bool = True) -> list[FormattedFile]:
    """`format_path` over several paths; nothing is written unless every file is well-formed."""
    files: list[FormattedFile] = []
    errors: list[PolicyError] = []
    for file, name in _files(paths):
        try:
            files.append(_format_file(file, name))
        except PolicyError as error:
            errors.extend(error.errors)
    raise_all(errors)
    changed = [file for file in files if file.changed]
    if write:
        for file in changed:
            _write(file)
    return changed


def _files(paths: Iterable[Path]) -> list[tuple[Path, str]]:
    """Every policy file under `paths`, each once, found as the policy loader finds them."""
    found: dict[Path, tuple[Path, str]] = {}
    for path in paths:
        for file, name in policy_files(path):
            found.setdefault(file.resolve(), (file, name))
    return list(found.values())


def _format_file(path: Path, name: str) -> FormattedFile:
    # "utf-8", not "utf-8-sig": a byte order mark is kept in `before`, so dropping it is a change
    text = read_text(path, name, "utf-8")
    after = format_text(text, name)
    return FormattedFile(path, name, text, after, after != text)


def _write(file: FormattedFile) -> None:
    """Replace the file whole, so nobody reads it half written."""
    target = file.path
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
                stream.write(file.after)
            # mkstemp makes the file private; give it the mode of the file it replaces
            os.chmod(temporary, target.stat().st_mode & 0o7777)
            os.replace(temporary, target)
        finally:
            Path(temporary).unlink(missing_ok=True)
    except OSError as exc:
        raise PolicyError(f"can't write file: {exc.strerror}", Location(file.name)) from exc


class _Constructor(RoundTripConstructor):
    """Says where a tagged value (`!!int x`) is invalid, which ruamel.yaml's ValueError doesn't."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError) as exc:
            tag = str(node.tag).removeprefix("tag:yaml.org,2002:")
            problem = f"'{node.value}' is not a valid !!{tag}"
            raise ConstructorError(None, None, problem, node.start_mark) from exc


class _TextResolver(VersionedResolver):
    """Reads every plain scalar as the text it is, so it is written back spelled as it was
    (`True`, `~`, `0x1F`, `2024-01-01`); only an empty one is null, so `key:` stays empty."""

    @property
    def versioned_resolver(self) -> dict[str, list[tuple[str, re.Pattern[str]]]]:
        return {"": [("tag:yaml.org,2002:null", _EMPTY)]}


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Resolver = _TextResolver
    yaml.Constructor = _Constructor
    yaml.preserve_quotes = True
    yaml.width = _WIDTH
    # the repository's layout: `- ` two in from its key, the item's keys two further
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _policy_error(exc: YAMLError, name: str, text: str) -> PolicyError:
    """The policy loader's message for the same mistake, where ruamel.yaml found it."""
    if isinstance(exc, ReaderError):
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"invalid YAML: control character U+{code:04X} is not allowed"
        return PolicyError(message, Location(name, *line_and_column(text, exc.position)))
    assert isinstance(exc, MarkedYAMLError)
    mark = exc.problem_mark or exc.context_mark
    location = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name)
    if exc.problem == "but found another document":
        message = "a policy file holds one YAML document; a second one starts here"
        return PolicyError(message, location)
    if exc.problem is None:  # ruamel.yaml says some problems as their context alone
        return PolicyError(f"invalid YAML: {exc.context}", location)
    message = f"invalid YAML: {exc.problem}"
    if exc.context and exc.context_mark is not None and exc.problem_mark is not None:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    elif exc.context:
        message += f" ({exc.context})"
    return PolicyError(message, location)


def _at(name: str, event: Event) -> Location:
    return Location(name, event.start_mark.line + 1, event.start_mark.column + 1)


def _meaning(text: str, name: str) -> list[tuple[Any, ...]]:
    """What `text` says without its layout: its parser events, less marks, styles and comments.

    PolicyError for what the policy loader refuses as well: a duplicate key, an alias inside
    its own anchor.
    """
    meaning: list[tuple[Any, ...]] = []
    open_anchors: list[str | None] = []
    # per open collection: a mapping's keys so far (None for a sequence); whether a key is next
    frames: list[tuple[dict[str, Location] | None, list[bool]]] = []
    try:
        # the safe parser: comments play no part in what a file says
        for event in YAML(typ="safe", pure=True).parse(text):
            if isinstance(event, NodeEvent) and frames and frames[-1][0] is not None:
                keys, key_next = frames[-1]
                if key_next[0] and isinstance(event, ScalarEvent) and event.value != "<<":
                    first = keys.setdefault(event.value, _at(name, event))
                    if first != _at(name, event):
                        message = f"duplicate key '{event.value}': already given at {first}"
                        raise PolicyError(message, _at(name, event))
                key_next[0] = not key_next[0]
            if isinstance(event, AliasEvent) and event.anchor in open_anchors:
                raise PolicyError("an alias refers to itself", _at(name, event))
            if isinstance(event, CollectionStartEvent):
                open_anchors.append(event.anchor)
                frames.append(({} if isinstance(event, MappingStartEvent) else None, [True]))
            elif isinstance(event, CollectionEndEvent):
                open_anchors.pop()
                frames.pop()
            if (said := _event_meaning(event)) is not None:
                meaning.append(said)
    except (MarkedYAMLError, ReaderError) as exc:
        raise _policy_error(exc, name, text) from exc
    return meaning


def _event_meaning(event: Event) -> tuple[Any, ...] | None:
    if isinstance(event, ScalarEvent):
        # quotes matter only to a value without a tag: `'12'` is text, `!!int '12'` isn't
        plain = event.style is None if event.tag is None else None
        value = "" if plain and event.value in _NULLS else event.value
        return ("ScalarEvent", event.anchor, event.tag, plain, value)
    if isinstance(event, CollectionStartEvent):
        return (type(event).__name__, event.anchor, event.tag)
    if isinstance(event, AliasEvent):
        return ("AliasEvent", event.anchor)
    if isinstance(event, CollectionEndEvent):
        return ("CollectionEndEvent",)
    return None  # stream and document events: `---` and `...` are layout


def _first_content(layout: Layout, name: str) -> Location:
    """Where the file's value starts: its first line that isn't a comment or a marker."""
    alone = {comment.line for comment in layout.comments if comment.alone}
    for number, line in enumerate(layout.lines):
        stripped = line.lstrip()
        if number not in alone and stripped and not stripped.startswith(("%", "---")):
            return Location(name, number + 1, len(line) - len(stripped) + 1)
    return Location(name, 1, 1)


def _check_comments_kept(layout: Layout, emitted: Layout, name: str) -> None:
    """PolicyError at the first comment ruamel.yaml would drop: one inside `[...]` or `{...}`."""
    kept = [comment.text for comment in emitted.comments]
    for index, comment in enumerate(layout.comments):
        if index >= len(kept) or kept[index] != comment.text:
            message = (
                "fmt would lose this comment: a comment inside [...] or {...} can't be kept; "
                "move it above the line the list starts on"
            )
            raise PolicyError(message, Location(name, comment.line + 1, comment.column + 1))
