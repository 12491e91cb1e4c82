"""Reading Entra's directory audit log through Graph: `GET /auditLogs/directoryAudits`.

The query becomes one `$filter` of what the directoryAudit resource documents as filterable:
`activityDateTime ge|le`, `category eq`, `activityDisplayName eq`, `loggedByService eq` and
`targetResources/any(t: t/id eq '...')`, several values of one kind joined with `or` in
parentheses, the kinds joined with `and`. Pages are followed through `@odata.nextLink`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from urllib.parse import quote

from reconciler.audit import timestamp
from reconciler.directory_audit import CORE_DIRECTORY, AuditQuery, DirectoryAudit
from reconciler.providers.graph_http import GraphClient

__all__ = ["audit_filter", "directory_audits"]

PATH = "/auditLogs/directoryAudits"
PAGE_SIZE = 999


def directory_audits(
    client: GraphClient, query: AuditQuery, *, page_size: int = PAGE_SIZE
) -> Iterator[DirectoryAudit]:
    """The records `query` asks for, newest first as Graph lists them, page by page."""
    # a refusal names the permission it needs (AuditLog.Read.All), as graph_http's table says
    url = f"{PATH}?$filter={quote(audit_filter(query), safe='')}&$top={page_size}"
    for doc in client.pages(url):
        yield DirectoryAudit.from_document(doc, f"GET {PATH}")


def audit_filter(query: AuditQuery) -> str:
    """The `$filter` text for `query` (always Core Directory's records)."""
    clauses = [f"loggedByService eq {_text(CORE_DIRECTORY)}"]
    if query.since is not None:
        clauses.append(f"activityDateTime ge {timestamp(query.since)}")
    if query.until is not None:
        clauses.append(f"activityDateTime le {timestamp(query.until)}")
    clauses += _any_of("category eq {}", query.categories)
    clauses += _any_of("activityDisplayName eq {}", query.activities)
    for ids in (query.group_ids, query.user_ids):
        clauses += _any_of("targetResources/any(t: t/id eq {})", ids)
    return " and ".join(clauses)


def _any_of(template: str, values: Sequence[str]) -> list[str]:
    """One clause matching any of `values`: nothing for none, parentheses for several."""
    terms = [template.format(_text(value)) for value in values]
    if len(terms) <= 1:
        return terms
    return [f"({' or '.join(terms)})"]


def _text(value: str) -> str:
    """An OData string literal: single quotes, a quote inside doubled."""
    return "'" + value.replace("'", "''") + "'"
