"""Policy YAML with positions: read each file under a path, keep where each value is.

Values are plain data (dict, list, str, int, float, bool, None), ready for JSON Schema; a
parallel `Positions` maps each value's path (a tuple of keys and list indexes, as jsonschema's
`absolute_path`) to where it starts in which file.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import InputError, Location, location_in
from reconciler.objectfile import MIB, decode_text, read_bytes
from reconciler.policy.errors import PolicyError, raise_all

Pointer = tuple[str | int, ...]

SUFFIXES = (".yaml", ".yml")
# The SKU lock (policy/lock.py) sits at the top of the policy folder but is not policy.
LOCK_NAME = "skus.lock.yaml"
GROUP_LOCK_NAME = "groups.lock.yaml"  # the groups the policy manages (policy/group_lock.py)
# Policy tests (`reconciler test`, policy_tests/) sit in this folder at the top: not policy.
TESTS_FOLDER = "tests"
# Aliases can expand a small file exponentially ("billion laughs"); a real policy stays far below.
MAX_VALUES = 1_000_000
# A policy nests six levels; reading YAML recurses once per level, so a limit keeps a hostile
# file from exhausting Python's stack.
MAX_DEPTH = 100
# A large tenant's policy is a few hundred kilobytes; anything bigger is not a policy file.
MAX_FILE_SIZE = 10 * MIB
_SURROGATE = re.compile("[\ud800-\udfff]")
_MERGE_TAG = "tag:yaml.org,2002:merge"
INVALID_YAML, UNREADABLE = "invalid-yaml", "unreadable-file"  # codes (reconciler/codes.py)
_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


@dataclass(frozen=True, slots=True)
class Position:
    """Where one value is: its start, its key's start, its scalar style and character range."""

    location: Location
    key: Location | None = None
    style: str | None = None  # scalar style: None (plain), "'", '"', "|" or ">"
    start: int = 0  # character offsets of the value in the file's text
    end: int = 0


@dataclass(frozen=True)
class Positions:
    """The Position of every value of a merged policy, by path, and the text of every file."""

    entries: Mapping[Pointer, Position]
    texts: Mapping[str, str]

    def get(self, path: Pointer) -> Position | None:
        return self.entries.get(tuple(path))

    def location(self, path: Pointer) -> Location:
        """Where the value at `path` starts, or its nearest ancestor that has a position."""
        path = tuple(path)
        while path:
            if path in self.entries:
                return self.entries[path].location
            path = path[:-1]
        entry = self.entries.get(())
        return entry.location if entry else Location(next(iter(self.texts), "<policy>"))

    def key_location(self, path: Pointer) -> Location:
        """Where the key naming the value at `path` starts (the value's place if it has none)."""
        entry = self.entries.get(tuple(path))
        if entry is not None and entry.key is not None:
            return entry.key
        return self.location(path)


class _Loader(yaml.SafeLoader):
    """SafeLoader reading YAML 1.2 booleans only, and dates as text, at most MAX_DEPTH deep.

    YAML 1.1 reads `On`, `Off`, `yes` and `no` as booleans, which would turn
    `membershipRuleProcessingState: On` into `true`; the policy's values are text, so only
    true/false are booleans and a date-like value stays the text it was written as.
    """

    depth = 0

    def compose_node(self, parent: Node | None, index: object) -> Node:
        # the composer recurses once per level of nesting: stop before Python's stack does
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                problem = f"nested more than {MAX_DEPTH} levels deep"
                raise yaml.composer.ComposerError(None, None, problem, mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass(frozen=True)
class SourceFile:
    """One policy file: its name as shown in messages, its text and its top-level mapping.

    `errors` are problems found in values of an otherwise readable file; `broken` the paths of
    the values they left empty, which later stages skip rather than report again.
    """

    name: str
    text: str
    document: dict[str, Any]
    entries: dict[Pointer, Position]
    errors: tuple[PolicyError, ...] = ()
    broken: frozenset[Pointer] = frozenset()


def policy_files(path: Path) -> list[tuple[Path, str]]:
    """Every policy file under `path` (a file or a directory), sorted, with its display name.

    Files are sorted by path component by component, the same on every machine.
    Hidden files and directories (.git, .github) are skipped: they hold no policy; so are the
    lock files and the `tests` folder (policy tests) at the top of the folder.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise PolicyError(
            "policy path does not exist", Location(str(path)), code=UNREADABLE
        ) from None
    except OSError as exc:
        message = f"can't read policy path: {exc.strerror}"
        raise PolicyError(message, Location(str(path)), code=UNREADABLE) from exc
    if not stat.S_ISDIR(mode):
        # reading refuses anything but a regular file (a FIFO, a device) with a message
        return [(path, str(path))]
    found: list[tuple[tuple[str, ...], Path]] = []
    for directory, subdirectories, names in os.walk(path):
        top = Path(directory) == path
        subdirectories[:] = [
            name
            for name in subdirectories
            if not name.startswith(".") and not (top and name == TESTS_FOLDER)
        ]
        for name in names:
            if top and name in (LOCK_NAME, GROUP_LOCK_NAME):
                continue
            if not name.startswith(".") and name.lower().endswith(SUFFIXES):
                file = Path(directory, name)
                # component by component, as a tree lists them: a/z.yaml before a.yaml
                found.append((file.relative_to(path).parts, file))
    return [(file, str(file)) for _, file in sorted(found)]


def read_file(
    path: Path,
    name: str,
    kind: str = "policy file",
    keys: str = "tenant, settings, groups, retired",
    limit: int | None = None,
) -> SourceFile:
    """Read one YAML file (a policy file, or the `kind` named); PolicyError with its problems.

    `keys` names what the file's top-level mapping holds, for the message when it holds none;
    a file of more than `limit` bytes is refused unread.
    """
    source = read_source(path, name, kind, keys, limit)
    raise_all(source.errors)
    return source


def read_source(
    path: Path,
    name: str,
    kind: str = "policy file",
    keys: str = "tenant, settings, groups, retired",
    limit: int | None = None,
) -> SourceFile:
    """Read one YAML file; PolicyError when it can't be read as a mapping at all.

    Problems in single values (a duplicate key, an unsupported tag) don't stop it: they are in
    the result's `errors`, so the rest of the file is still checked.
    """
    # utf-8-sig: Windows editors start files with a byte order mark
    text = read_text(path, name, "utf-8-sig", kind, limit)
    loader = None
    try:
        # the reader checks every character when it is created, so that is inside the try too
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        location = _mark_location(name, exc)
        raise PolicyError(_yaml_message(exc, kind), location, code=INVALID_YAML) from exc
    except yaml.reader.ReaderError as exc:
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"invalid YAML: control character U+{code:04X} is not allowed"
        location = location_in(name, text, exc.position)
        raise PolicyError(message, location, code=INVALID_YAML) from exc
    except (ValueError, OverflowError) as exc:
        # the scanner turns a "\U0011FFFF" escape into a character with chr(), which refuses
        mark = loader.get_mark() if loader is not None else None
        location = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name)
        message = "invalid YAML: an escape names a character beyond U+10FFFF"
        raise PolicyError(message, location, code=INVALID_YAML) from exc
    if root is None:
        return SourceFile(name, text, {}, {(): Position(Location(name, 1, 1))})
    if not isinstance(root, MappingNode):
        found = "a list" if isinstance(root, SequenceNode) else "a single value"
        message = f"a {kind} holds a mapping ({keys}), not {found}"
        raise PolicyError(message, _location(name, root), code=INVALID_YAML)
    builder = _Builder(name, _Loader(text))
    try:
        document = builder.value(root, (), None)
    except RecursionError:
        # the builder stops at MAX_DEPTH; PyYAML's merge keys (<<) recurse on their own
        message = "invalid YAML: nested too deeply (through aliases or merge keys)"
        raise PolicyError(message, Location(name), code=INVALID_YAML) from None
    if not isinstance(document, dict):
        # the top-level mapping itself is unusable (an unsupported tag on it): nothing to check
        raise_all(builder.errors)
    return SourceFile(
        name, text, document, builder.entries, tuple(builder.errors), frozenset(builder.broken)
    )


def read_text(
    path: Path, name: str, encoding: str, kind: str = "policy file", limit: int | None = None
) -> str:
    """A file's text (`encoding`: "utf-8", or "utf-8-sig" to drop a byte order mark);
    PolicyError when it isn't a regular file, is over `limit` bytes (default MAX_FILE_SIZE)
    or isn't UTF-8."""
    limit = MAX_FILE_SIZE if limit is None else limit
    try:
        data = read_bytes(path, name, limit=limit, kind=f"a {kind}")
        return decode_text(data, name, encoding)
    except InputError as error:
        raise PolicyError(error.message, error.location, code=UNREADABLE) from error


def _yaml_message(exc: yaml.MarkedYAMLError, kind: str) -> str:
    if exc.problem == "but found another document":
        return f"a {kind} holds one YAML document; a second one starts here"
    message = f"invalid YAML: {exc.problem}"
    if exc.context and exc.context_mark is not None:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    elif exc.context:
        message += f" ({exc.context})"
    return message


def _mark_location(name: str, exc: yaml.MarkedYAMLError) -> Location:
    mark = exc.problem_mark or exc.context_mark
    return Location(name, mark.line + 1, mark.column + 1) if mark else Location(name)


def _location(name: str, node: Node) -> Location:
    return Location(name, node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns a YAML node tree into plain values and their positions, collecting errors."""

    def __init__(self, name: str, loader: _Loader) -> None:
        self.name = name
        self.loader = loader
        self.entries: dict[Pointer, Position] = {}
        self.errors: list[PolicyError] = []
        self.broken: set[Pointer] = set()  # paths of values left empty by an error
        self.count = 0
        self.active: set[int] = set()  # nodes being built, to catch a recursive alias

    def value(self, node: Node, path: Pointer, key: Location | None) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise PolicyError(
                f"file expands to more than {MAX_VALUES} values (aliases?)",
                _location(self.name, node),
                code=INVALID_YAML,
            )
        style = node.style if isinstance(node, ScalarNode) else None
        location = _location(self.name, node)
        self.entries[path] = Position(
            location, key, style, node.start_mark.index, node.end_mark.index
        )
        if isinstance(node, ScalarNode):
            try:
                value = self.loader.construct_object(node)
            except (yaml.YAMLError, ValueError, OverflowError):
                return self.fail(path, self.scalar_problem(node), location)
            problem = _text_problem(value)
            return value if problem is None else self.fail(path, problem, location)
        if len(path) >= MAX_DEPTH:
            # aliases can nest what the composer saw shallow: a list holding its own alias's
            return self.fail(path, f"nested more than {MAX_DEPTH} levels deep", location)
        if node.tag not in _COLLECTION_TAGS:
            return self.fail(path, f"YAML tag {node.tag} is not supported", location)
        if id(node) in self.active:
            return self.fail(path, "an alias refers to itself", location)
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.value(item, (*path, i), None) for i, item in enumerate(node.value)]
            return self.mapping(node, path)
        finally:
            self.active.discard(id(node))

    def scalar_problem(self, node: ScalarNode) -> str:
        """Why a scalar can't be built: a bad value for its tag, or a tag not read here."""
        tag = node.tag.removeprefix("tag:yaml.org,2002:")
        if node.tag not in self.loader.yaml_constructors:
            return f"YAML tag {tag} is not supported"
        digits = sum(character.isdigit() for character in node.value)
        if tag == "int" and digits > sys.get_int_max_str_digits():
            # int() refuses so many digits; no count in a policy comes close
            return f"a number of {digits:,} digits is too long"
        return f"'{_clip(node.value)}' is not a valid !!{tag}"

    def fail(self, path: Pointer, message: str, location: Location) -> None:
        """Record a value that can't be built; it is left empty (None)."""
        self.errors.append(PolicyError(message, location, code=INVALID_YAML))
        self.broken.add(path)

    def mapping(self, node: MappingNode, path: Pointer) -> dict[str, Any]:
        own = [pair for pair in node.value if pair[0].tag != _MERGE_TAG]
        seen: dict[str, Location] = {}
        for key_node, _ in own:
            key = self.key(key_node)
            if key is None:
                continue
            here = _location(self.name, key_node)
            if key in seen:
                message = f"duplicate key '{key}': already given at {seen[key]}"
                self.errors.append(PolicyError(message, here, code="duplicate-key"))
            else:
                seen[key] = here
        if len(own) != len(node.value):
            # `<<: *anchor` merge keys: keys of the mapping itself win over merged ones
            self.loader.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, report=False)
            if key is not None:
                key_location = _location(self.name, key_node)
                result[key] = self.value(value_node, (*path, key), key_location)
        return result

    def key(self, node: Node, report: bool = True) -> str | None:
        message, key = None, None
        if not isinstance(node, ScalarNode):
            message = "a key must be text, not a list or mapping"
        else:
            try:
                key = self.loader.construct_object(node)
            except (yaml.YAMLError, ValueError, OverflowError):
                message = self.scalar_problem(node)
            else:
                message = _text_problem(key)
                if key is None:
                    message = "a key can't be empty"
                elif not isinstance(key, str):
                    message = f"a key must be text, not {_clip(repr(key))}; quote it"
        if message is None:
            return key
        if report:
            self.errors.append(PolicyError(message, _location(self.name, node), code=INVALID_YAML))
        return None


def _text_problem(value: object) -> str | None:
    """Why a string value isn't text: a lone surrogate, which a "\\ud800" escape can make."""
    if not isinstance(value, str) or value.isascii():
        return None
    found = _SURROGATE.search(value)
    if found is None:
        return None
    code = ord(found.group())
    return f"\\u{code:04x} is half of a surrogate pair, alone: not a character"


def _clip(text: str, limit: int = 60) -> str:
    """`text` cut to `limit` characters for a message, saying how long it was."""
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(text):,} characters)"
