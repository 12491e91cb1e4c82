"""OData query options as Graph's directory applies them: paging, `$select`, `$top`, `$count`.

Skip tokens are opaque to clients (base64url JSON holding an offset and the emulator's run id),
and nextLinks are absolute URLs that repeat the query, as Graph's do.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from reconciler.emulator.errors import GraphError, bad_request
from reconciler.emulator.messages import Request

DEFAULT_PAGE = 100
MAX_PAGE = 999


def encode_token(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any] | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    return data if isinstance(data, dict) else None


def select(request: Request) -> list[str] | None:
    text = request.query.get("$select")
    if not text:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


def check_collection_options(request: Request) -> None:
    """The options a directory collection refuses: `$skip`, a bad `$top`, unheaded `$search`."""
    if "$skip" in request.query:
        raise bad_request("'$skip' is not supported by the service.")
    if "$search" in request.query and (request.header("ConsistencyLevel") or "") != "eventual":
        raise GraphError(
            400,
            "Request_UnsupportedQuery",
            "Request with $search query parameter only works through MSGraph with a special "
            "request header: 'ConsistencyLevel: eventual'",
        )
    if "$search" in request.query:
        raise GraphError(501, "NotImplemented", "$search is not implemented by the emulator.")
    if "$orderby" in request.query:
        raise GraphError(501, "NotImplemented", "$orderby is not implemented by the emulator.")


def page_size(request: Request, default: int = DEFAULT_PAGE) -> int:
    text = request.query.get("$top")
    if text is None:
        return default
    try:
        size = int(text)
    except ValueError:
        raise bad_request(f"Invalid page size specified: '{text}'.") from None
    if not 1 <= size <= MAX_PAGE:
        raise bad_request(
            f"Invalid page size specified: '{text}'. Must be between 1 and {MAX_PAGE} inclusive."
        )
    return size


def page(
    request: Request, items: list[Any], run_id: str, context: str
) -> tuple[list[Any], dict[str, Any]]:
    """This request's page of `items` and the envelope around it (context, count, nextLink)."""
    size = page_size(request)
    offset = 0
    token = request.query.get("$skiptoken")
    if token is not None:
        data = decode_token(token)
        if data is None or data.get("r") != run_id or not isinstance(data.get("o"), int):
            raise bad_request("The specified page token value has expired or is invalid.")
        offset = data["o"]
    envelope: dict[str, Any] = {"@odata.context": context}
    if offset == 0 and request.advanced:
        envelope["@odata.count"] = len(items)  # on the first page only
    chosen = items[offset : offset + size]
    if offset + size < len(items):
        envelope["@odata.nextLink"] = request.link(
            **{"$skiptoken": encode_token({"r": run_id, "o": offset + size})}
        )
    return chosen, envelope


def context_url(request: Request, collection: str, names: list[str] | None) -> str:
    suffix = f"({','.join(names)})" if names else ""
    return f"{request.base}/$metadata#{collection}{suffix}"
