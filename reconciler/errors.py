"""The one exception tree of reconciler.

ReconcilerError            every error a user can cause; exit code 1, shown as one message
├── InputError             a file the user gave is unreadable or malformed (has a Location)
└── RuleError              a membership rule is invalid (reconciler.rules.errors)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where in a file something is; line and column count from 1."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class ReconcilerError(Exception):
    """Base of every error caused by input; the CLI prints it and exits with `exit_code`."""

    exit_code = 1

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"


class InputError(ReconcilerError):
    """A file given by the user can't be read or doesn't have the expected shape."""


def line_and_column(text: str, offset: int) -> tuple[int, int]:
    """The 1-based line and column of a character offset in `text`."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def location_in(file: str, text: str, offset: int) -> Location:
    """The Location of a character offset in the text of `file`."""
    return Location(file, *line_and_column(text, offset))
