"""Where a plan came from: tool version, policy digest, tenant id and a fingerprint of its state.

`plan --out` and `plan --format json` record it as the document's `origin`, so `apply PLANFILE`
can refuse another tenant's plan outright and say what moved since a plan was made, and `show`
can tell a plan that is still current without planning again. The digest catches a file damaged
by accident, not one edited on purpose: anyone can compute it again, so apply trusts no digest
(plan/stale.py). Pure functions: the caller reads the files and tenant.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import PurePath
from typing import Any

import msgspec

from reconciler import __version__
from reconciler.model import Tenant, User
from reconciler.policy import LoadedPolicy
from reconciler.providers.snapshot import snapshot_document, user_licenses

Origin = dict[str, str]


def plan_origin(loaded: LoadedPolicy, tenant: Tenant) -> Origin:
    """The `origin` of a plan computed from `loaded` and `tenant`, as plan.schema.json has it."""
    return {
        "toolVersion": __version__,
        "policyDigest": policy_digest(loaded.positions.texts),
        "tenantId": tenant.organization.id,
        "stateFingerprint": state_fingerprint(tenant),
    }


def plan_digest(document: Mapping[str, object]) -> str:
    """sha256 over the plan document but its origin: a plan file edited after `plan` differs."""
    content = {key: value for key, value in document.items() if key != "origin"}
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return f"sha256:{hashlib.sha256(encoded).hexdigest()}"


def with_origin(document: Mapping[str, object], loaded: LoadedPolicy, tenant: Tenant) -> dict:
    """`document` with its `origin`, sealed by the digest of the rest."""
    return {
        **document,
        "origin": {**plan_origin(loaded, tenant), "planDigest": plan_digest(document)},
    }


def policy_digest(texts: Mapping[str, str]) -> str:
    """sha256 over every policy file's path and text, paths relative to the files' common folder.

    Relative, '/'-separated paths make the digest the same whichever folder the command ran from
    and on every OS; each part is length-prefixed so no two policies can feed the same bytes.
    """
    digest = hashlib.sha256()
    for name, text in sorted(_relative(texts).items()):
        for part in (name.encode(), text.encode("utf-8")):
            digest.update(f"{len(part)}:".encode())
            digest.update(part)
    return f"sha256:{digest.hexdigest()}"


def state_fingerprint(tenant: Tenant) -> str:
    """sha256 over the tenant as a snapshot document, keys sorted: equal states, equal prints.

    List order is kept, since Graph's order decides who gets the last seats. Hashed an object at
    a time, one line of compact JSON each (msgspec's, UTF-8: several times quicker than json's
    on a large tenant), so a large tenant is never one huge string in memory.
    """
    digest = hashlib.sha256()
    # the users, nearly all of a tenant, are encoded one by one as they are made (_user_json)
    document: dict[str, Any] = snapshot_document(replace(tenant, users=()))
    for key in sorted(document):
        value = document[key]
        items: Sequence[Any] = value if isinstance(value, list) else [value]
        encode: Callable[[Any], bytes] = _SORTED_JSON
        if key == "users":
            items, encode = tenant.users, _user_json
        digest.update(f"{key} {len(items)}\n".encode())
        for item in items:
            # JSON escapes every newline inside it, so one per object separates them unambiguously
            digest.update(encode(item))
            digest.update(b"\n")
    return f"sha256:{digest.hexdigest()}"


_SORTED_JSON = msgspec.json.Encoder(order="sorted").encode


def _user_json(user: User) -> bytes:
    """The JSON of `user_document(user)` with keys sorted, the same bytes made more cheaply."""
    # the encoder sorts the keys, so the Graph object as read is copied whole and the model's
    # fields written over it, where user_document picks and orders its properties one by one
    document = dict(user.attributes)
    document["id"] = user.id
    document["userPrincipalName"] = user.userPrincipalName
    document["displayName"] = user.displayName
    document["accountEnabled"] = user.accountEnabled
    document["usageLocation"] = user.usageLocation
    document.update(user_licenses(user))
    return _SORTED_JSON(document)


def _relative(texts: Mapping[str, str]) -> dict[str, str]:
    """The texts by path relative to the files' common folder (a lone file: its name)."""
    if not texts:
        return {}
    # names are all relative or all absolute: the loader makes them from one policy path
    base = os.path.commonpath([os.path.dirname(os.path.normpath(name)) for name in texts])
    return {
        PurePath(os.path.relpath(name, base or os.curdir)).as_posix(): text
        for name, text in texts.items()
    }
