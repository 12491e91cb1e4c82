"""Policy test files: found under a path, read as YAML with positions, checked against
schemas/policy-tests.schema.json; every problem of every file at its line and column.

Problems are kept, not raised: names (SKUs, service plans, groups, users) are looked up later,
against the tenant (policy_tests/names.py), in every value the schema found whole, so that one
run reports every problem of every file, as the policy's own checks do (`broken`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from reconciler.errors import Location
from reconciler.jsonschemas import load_schema
from reconciler.policy.errors import PolicyError, in_order
from reconciler.policy.schema import is_whole, schema_errors, spoiled_paths, where
from reconciler.policy.source import SUFFIXES, TESTS_FOLDER, Pointer, Positions, read_source

SUBJECTS = ("user", "newUser", "plan")
KIND = "policy test file"


@dataclass(frozen=True)
class WrittenTest:
    """One test as written: its file's positions, and its path in that file's document."""

    name: str
    entry: Mapping[str, Any]
    path: Pointer  # ("tests", index)
    positions: Positions
    broken: frozenset[Pointer] = frozenset()  # paths of its file a problem was found at

    def whole(self, *path: str | int) -> bool:
        """No problem was found at the value at `path` below this test, above or inside it."""
        return is_whole((*self.path, *path), self.broken)

    @property
    def location(self) -> Location:
        return self.positions.location(self.path)

    def at(self, *path: str | int) -> Location:
        """Where the value at `path`, below this test, starts."""
        return self.positions.location((*self.path, *path))

    def key_at(self, *path: str | int) -> Location:
        """Where the key naming the value at `path`, below this test, starts."""
        return self.positions.key_location((*self.path, *path))


@dataclass(frozen=True)
class TestFiles:
    """The tests read under a path, in file order, and every problem found in their files."""

    tests: tuple[WrittenTest, ...]
    problems: tuple[PolicyError, ...]


def default_tests_path(policy: Path) -> Path:
    """The tests of a policy: the `tests` folder at the top of its folder (beside a file)."""
    return (policy.parent if policy.is_file() else policy) / TESTS_FOLDER


def files_under(path: Path) -> list[tuple[Path, str]]:
    """Every test file under `path` (a file or a folder), in path order, with its display name;
    PolicyError when `path` doesn't exist."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        reason = "does not exist" if isinstance(exc, FileNotFoundError) else exc.strerror
        raise PolicyError(f"policy tests path {reason}", Location(str(path))) from None
    if not stat.S_ISDIR(mode):
        return [(path, str(path))]
    found = []
    for directory, subdirectories, names in os.walk(path):
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        for name in names:
            if not name.startswith(".") and name.lower().endswith(SUFFIXES):
                file = Path(directory, name)
                found.append((file.relative_to(path).parts, file))
    return [(file, str(file)) for _, file in sorted(found)]


def read_tests(path: Path) -> TestFiles:
    """The tests of every file under `path`, in file order, and every problem of every file
    (YAML, the schema, a test's subject, a name given twice). PolicyError when `path` doesn't
    exist or holds no test file: a path given that tests nothing is a mistake, not a pass."""
    tests: list[WrittenTest] = []
    errors: list[PolicyError] = []
    validator = Draft202012Validator(load_schema("policy-tests.schema.json"))
    files = files_under(path)
    if not files:
        message = f"no policy test files ({', '.join('*' + s for s in SUFFIXES)}) in the folder"
        raise PolicyError(message, Location(str(path)))
    for file, name in files:
        try:
            source = read_source(file, name, KIND, "tests")
        except PolicyError as error:
            errors.extend(error.errors)
            continue
        positions = Positions(source.entries, {name: source.text})
        found = list(source.errors)
        broken: set[Pointer] = set()
        for error in validator.iter_errors(source.document):
            found.extend(_worded(error, source.document, positions))
            broken.update(_broken(error))
        entries = source.document.get("tests")
        written = []
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict):
                test = WrittenTest(_name(entry, index), entry, ("tests", index), positions)
                # a test without one subject isn't run, but its names are still checked
                found.extend(_subject_errors(test))
                written.append(test)
        tests += [replace(test, broken=frozenset(broken)) for test in written]
        errors.extend(found)
    return TestFiles(tuple(tests), tuple(in_order([*errors, *_duplicates(tests)])))


def _broken(error: ValidationError) -> Iterator[Pointer]:
    """The paths a schema error leaves in doubt; names below them aren't looked up."""
    # the policy's own rule (policy/schema.py): an unknown or missing key spoils that key only
    return spoiled_paths(error, tuple(error.absolute_path))


def _name(entry: Mapping[str, Any], index: int) -> str:
    name = entry.get("name")
    return name if isinstance(name, str) else f"tests[{index}]"


def _worded(error: Any, document: Mapping[str, Any], positions: Positions) -> Iterator[PolicyError]:
    """A schema error as the policy's are worded, but naming the test rather than its index."""
    path = tuple(error.absolute_path)
    generic = where(path, document)
    label = _label(path, document)
    for found in schema_errors(error, document, positions):
        message = found.message
        if error.validator == "minItems":
            # a test of an empty list checks nothing, and would pass whatever the plan did
            message = message.replace(
                "[] should be non-empty", "give at least one: [] checks nothing"
            )
        if generic and message.startswith(generic + ":"):
            message = label + message[len(generic) :]
        yield PolicyError(message, found.location, code=found.code)


def _label(path: Pointer, document: Mapping[str, Any]) -> str:
    """A path in a test file as a person reads it: "test 'NAME', expect.licenses[0].sku"."""
    if len(path) < 2 or path[0] != "tests" or not isinstance(path[1], int):
        return where(path, document)
    entries = document.get("tests")
    entry = entries[path[1]] if isinstance(entries, list) and path[1] < len(entries) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    head = f"test '{name}'" if isinstance(name, str) else f"tests[{path[1]}]"
    rest = ""
    for part in path[2:]:
        rest += f"[{part}]" if isinstance(part, int) else (f".{part}" if rest else str(part))
    return f"{head}, {rest}" if rest else head


def _subject_errors(test: WrittenTest) -> Iterator[PolicyError]:
    """A test has one subject: a user, a new user or the plan; `expect` goes with a user."""
    given = [key for key in SUBJECTS if key in test.entry]
    label = f"test '{test.name}'"
    if not given:
        yield PolicyError(
            f"{label}: give its subject: 'user' (a user of the tenant), 'newUser' (a user's "
            "properties) or 'plan' (the plan as a whole)",
            test.location,
            code="missing-key",
        )
    elif len(given) > 1:
        place = test.positions.key_location((*test.path, given[1]))
        both = f"'{given[0]}' and '{given[1]}'"
        message = f"{label}: give one of 'user', 'newUser' or 'plan', not both {both}"
        yield PolicyError(message, place, code="conflicting-keys")
    elif given[0] == "plan" and "expect" in test.entry:
        place = test.positions.key_location((*test.path, "expect"))
        message = f"{label}: a plan test has its limits under 'plan', not 'expect'"
        yield PolicyError(message, place, code="conflicting-keys")
    elif given[0] != "plan" and "expect" not in test.entry:
        message = f"{label}: missing required key 'expect': what must be true of the user"
        yield PolicyError(message, test.location, code="missing-key")


def _duplicates(tests: list[WrittenTest]) -> list[PolicyError]:
    """Two tests may not share a name: results, -k and JUnit name tests by it."""
    seen: dict[str, Location] = {}
    errors = []
    for test in tests:
        first = seen.setdefault(test.name.casefold(), test.at("name"))
        if first != test.at("name"):
            message = f"test '{test.name}' is declared twice: first at {first}"
            errors.append(PolicyError(message, test.at("name"), code="invalid-value"))
    return errors
