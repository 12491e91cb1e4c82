"""The local tenant's journal of apply's changes: which of them a write made, for certain.

Apply's audit log names each change it sends by a changeId, in an intent written before it is
sent (audit.py). The local tenant keeps the changeId of each change it makes in the very
transaction that makes it, in a table of its SQLite file, `apply_journal(changeId, groupId)`,
made when first needed so that older tenant files keep working. So when a run is cut short,
the next one knows whether an intent's change was made: it is in the journal or it isn't
(interrupted.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

__all__ = ["journal", "journaled"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS apply_journal (
    changeId TEXT PRIMARY KEY, groupId TEXT NOT NULL)
"""
_MANY = 500  # ids to a statement, well within SQLite's limit on parameters


def journal(connection: sqlite3.Connection, made: Sequence[tuple[str, str]]) -> None:
    """Keeps (changeId, groupId) of each change a write made, in the write's own transaction."""
    if not made:
        return
    connection.execute(_SCHEMA)
    connection.executemany("INSERT INTO apply_journal VALUES (?, ?)", made)


def journaled(connection: sqlite3.Connection, change_ids: Sequence[str]) -> dict[str, str]:
    """Of `change_ids`, those a write made, with the id of the group each changed."""
    exists = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'apply_journal'"
    ).fetchone()
    if exists is None:
        return {}
    found: dict[str, str] = {}
    for start in range(0, len(change_ids), _MANY):
        chunk = list(change_ids[start : start + _MANY])
        rows = connection.execute(
            "SELECT changeId, groupId FROM apply_journal "
            f"WHERE changeId IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        found.update(rows.fetchall())
    return found
