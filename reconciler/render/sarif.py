"""Findings as SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.

What code scanning needs: a rule per code with its descriptions and help (reconciler/codes.py),
`ruleId`s that never change, file paths relative to the repository root, and fingerprints that
stay the same between runs so an alert isn't raised again each time. A finding without a file
can't be shown on one: it is a notification of the run instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from reconciler.codes import HOME, code_info
from reconciler.render.validate_report import Diagnostic

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT = "reconcilerFingerprint/v1"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}
# `file:line:column` inside a message moves when lines are added above it: not part of identity
_POSITION = re.compile(r"(?<=\S):\d+(?::\d+)?\b")


def sarif_log(
    diagnostics: Sequence[Diagnostic],
    *,
    exit_code: int,
    root: PurePath,
    version: str,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """One run of reconciler: `diagnostics` in order, paths made relative to `root` (the
    repository, where the command ran); `notes` say what the run didn't check."""
    located = [found for found in diagnostics if found.location is not None]
    unplaced = [found for found in diagnostics if found.location is None]
    codes = sorted({found.code for found in diagnostics})
    index = {code: number for number, code in enumerate(codes)}
    notifications = [_notification(found, index) for found in unplaced]
    notifications += [{"level": "note", "message": {"text": note}} for note in notes]
    invocation: dict[str, Any] = {
        # a finding without a place is the run failing to check something (the tenant unread)
        "executionSuccessful": not any(found.severity == "error" for found in unplaced),
        "exitCode": exit_code,
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    driver = {
        "name": "reconciler",
        "version": version,
        "informationUri": HOME,
        "rules": [_rule(code) for code in codes],
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                "invocations": [invocation],
                # our columns count characters, not UTF-16 code units (SARIF's default)
                "columnKind": "unicodeCodePoints",
                "results": _results(located, index, root),
            }
        ],
    }


def sarif_json(
    diagnostics: Sequence[Diagnostic],
    *,
    exit_code: int,
    root: PurePath,
    version: str,
    notes: Sequence[str] = (),
) -> str:
    log = sarif_log(diagnostics, exit_code=exit_code, root=root, version=version, notes=notes)
    return json.dumps(log, indent=2, ensure_ascii=False)


def _rule(code: str) -> dict[str, Any]:
    info = code_info(code)
    return {
        "id": code,
        "shortDescription": {"text": info.summary},
        "fullDescription": {"text": info.summary},
        "help": {"text": info.help, "markdown": f"{info.help} [More]({info.help_uri})"},
        "helpUri": info.help_uri,
        "defaultConfiguration": {"level": LEVELS[info.severity]},
        "properties": {"tags": [info.kind]},
    }


def _results(
    diagnostics: Sequence[Diagnostic], index: dict[str, int], root: PurePath
) -> list[dict[str, Any]]:
    results = []
    seen: dict[str, int] = {}
    for found in diagnostics:
        where = found.location
        assert where is not None  # only findings with a place are results
        uri = artifact_uri(where.file, root)
        region: dict[str, int] = {}
        if where.line is not None:
            region["startLine"] = where.line
            if where.column is not None:
                region["startColumn"] = where.column
        physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
        if region:
            physical["region"] = region
        # the same finding twice in one file (rare) is told apart by its rank, as GitHub does
        identity = _identity(found, uri)
        seen[identity] = seen.get(identity, 0) + 1
        message = f"{found.message}\n{found.hint}" if found.hint else found.message
        results.append(
            {
                "ruleId": found.code,
                "ruleIndex": index[found.code],
                "level": LEVELS[found.severity],
                "message": {"text": message},
                "locations": [{"physicalLocation": physical}],
                "partialFingerprints": {FINGERPRINT: f"{identity}:{seen[identity]}"},
            }
        )
    return results


def _identity(found: Diagnostic, uri: str) -> str:
    """A digest of what a finding is, leaving out where in its file it is."""
    text = "\0".join((found.code, uri, _POSITION.sub("", found.message)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _notification(found: Diagnostic, index: dict[str, int]) -> dict[str, Any]:
    return {
        "level": LEVELS[found.severity],
        "message": {"text": found.message},
        "associatedRule": {"id": found.code, "index": index[found.code]},
    }


def artifact_uri(file: str, root: PurePath) -> str:
    """`file` as a URI relative to `root` with forward slashes; a file outside `root` as an
    absolute file URI, since a relative one would leave the repository."""
    path = PurePath(os.path.normpath(root / file))  # `root / file` is `file` when absolute
    try:
        relative = path.relative_to(root)
    except ValueError:
        return path.as_uri()
    return quote(posixpath.normpath(relative.as_posix()), safe="/")
