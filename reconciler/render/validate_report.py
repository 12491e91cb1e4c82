"""What `reconciler validate` found, as one report every format renders, and its JSON document.

The JSON follows Terraform's `validate -json` (`valid`, counts, `diagnostics[]`), in camelCase
like reconciler's other documents; schemas/validate.schema.json describes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Literal

from reconciler.errors import Location
from reconciler.policy import PolicyError, PolicyLint

FORMAT_VERSION = 1
ERROR, WARNING, INFO = "error", "warning", "info"
# what the policy's SKU and service plan names were looked up in
Names = Literal["tenant", "lock", "none"]
UNCHECKED = "SKU and service plan names were not checked, against a tenant or a skus.lock.yaml"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding: an error, or a lint (`warning`, `info`) with what to write instead."""

    severity: str
    code: str
    message: str
    location: Location | None = None
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class ValidateReport:
    """Every finding of one run, in file order, and what was checked.

    `groups` and `retired` count the policy's entries when it was resolved against a tenant;
    `lock_file` is the skus.lock.yaml names were checked against offline.
    """

    policy: str
    diagnostics: tuple[Diagnostic, ...]
    names: Names
    strict: bool = False
    groups: int | None = None
    retired: int | None = None
    lock_file: str | None = None

    def count(self, severity: str) -> int:
        return sum(1 for found in self.diagnostics if found.severity == severity)

    @property
    def valid(self) -> bool:
        return self.count(ERROR) == 0

    @property
    def exit_code(self) -> int:
        """1 on an error, or on a warning under --strict; information never fails a run."""
        failed = not self.valid or (self.strict and self.count(WARNING) > 0)
        return 1 if failed else 0

    @property
    def files(self) -> int:
        """How many files the findings are in."""
        return len({found.location.file for found in self.diagnostics if found.location})


def error_diagnostic(error: PolicyError) -> Diagnostic:
    return Diagnostic(ERROR, error.code, error.message, error.location)


def lint_diagnostic(found: PolicyLint) -> Diagnostic:
    hint = f"write it as: {found.suggestion}" if found.suggestion else None
    return Diagnostic(found.severity, found.code, found.message, found.location, hint)


def in_file_order(diagnostics: Iterable[Diagnostic]) -> tuple[Diagnostic, ...]:
    """Sorted by file (component by component, as files are read), line and column; findings
    without a place first, and an error before a lint at the same place."""

    def key(found: Diagnostic) -> tuple[Any, ...]:
        where = found.location
        place = (PurePath(where.file).parts, where.line or 0, where.column or 0) if where else ()
        return (where is not None, place, found.severity != ERROR)

    return tuple(sorted(diagnostics, key=key))


def validate_document(report: ValidateReport) -> dict[str, Any]:
    """The JSON document of `report`."""
    return {
        "formatVersion": FORMAT_VERSION,
        "valid": report.valid,
        "errorCount": report.count(ERROR),
        "warningCount": report.count(WARNING),
        "infoCount": report.count(INFO),
        "namesChecked": report.names,
        "diagnostics": [_diagnostic(found) for found in report.diagnostics],
    }


def _diagnostic(found: Diagnostic) -> dict[str, Any]:
    where = found.location
    entry: dict[str, Any] = {
        "severity": found.severity,
        "code": found.code,
        "message": found.message,
        "file": where.file if where else None,
        "line": where.line if where else None,
        "column": where.column if where else None,
    }
    if found.hint:
        entry["hint"] = found.hint
    return entry


def validate_json(report: ValidateReport) -> str:
    return json.dumps(validate_document(report), indent=2, ensure_ascii=False)
