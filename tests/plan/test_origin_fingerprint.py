"""The state fingerprint is sha256 over the tenant's snapshot document, one line of compact JSON
with sorted keys per object; it is computed without building that document, and must stay the
same bytes, since saved plans carry it."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import msgspec
import pytest

from reconciler.engine import recompute
from reconciler.model import (
    AssignedLicense,
    Group,
    LicenseAssignmentState,
    Organization,
    PrepaidUnits,
    ServicePlan,
    Sku,
    Tenant,
    User,
)
from reconciler.plan.origin import state_fingerprint
from reconciler.providers.snapshot import read_snapshot, snapshot_document

ROOT = Path(__file__).resolve().parents[2]
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
TEAMS = "57ff2da0-773e-42df-b2af-ffb7a2317929"
YAMMER = "7547a3fe-08ee-4ccb-b430-5077c5041653"


def _defined(tenant: Tenant) -> str:
    """The fingerprint as defined: the whole snapshot document, each object dumped in turn."""
    digest = hashlib.sha256()
    document = snapshot_document(tenant)
    for key in sorted(document):
        value = document[key]
        items = value if isinstance(value, list) else [value]
        digest.update(f"{key} {len(items)}\n".encode())
        for item in items:
            digest.update(msgspec.json.encode(item, order="sorted"))
            digest.update(b"\n")
    return f"sha256:{digest.hexdigest()}"


def _user(user_id: str, **fields) -> User:
    return User(user_id, f"{user_id}@contoso.com", **fields)


# users whose Graph object as read says other things than the model: the model's fields win
ODD_USERS = (
    _user("plain"),
    _user("no-attributes", displayName=None, accountEnabled=None, usageLocation=None),
    _user(
        "stale-copy",
        displayName="Zoë Ünal",
        usageLocation="DE",
        assignedLicenses=(AssignedLicense(E5, frozenset({YAMMER, TEAMS})),),
        licenseAssignmentStates=(
            LicenseAssignmentState(E5, frozenset({TEAMS, YAMMER}), "g-1"),
            LicenseAssignmentState(E5, error="CountViolation", state="Error"),
        ),
        attributes={
            "id": "someone-else",
            "displayName": "Old name",
            "accountEnabled": "yes",
            "assignedLicenses": [{"skuId": "gone"}],
            "licenseAssignmentStates": None,
            "zeta": {"b": [1, 2.5, None], "a": "\u2028 line\nbreak"},
            "Alpha": True,
            "aardvark": "",
        },
    ),
)


def _tenant(users: tuple[User, ...], devices=()) -> Tenant:
    return Tenant(
        Organization("org", "Contoso", "US", ("contoso.onmicrosoft.com", "contoso.com")),
        (
            Sku(
                E5,
                "SPE_E5",
                (ServicePlan(TEAMS, "TEAMS1"), ServicePlan(YAMMER, "YAMMER")),
                PrepaidUnits(5),
            ),
        ),
        users,
        (
            Group(
                "g-1",
                "LIC-E5",
                members=("stale-copy", "plain"),
                assignedLicenses=(AssignedLicense(E5),),
            ),
        ),
        devices,
    )


@pytest.mark.parametrize(
    "tenant",
    [
        _tenant(ODD_USERS),
        _tenant(ODD_USERS, devices=({"id": "d-1", "displayName": "Kiosk", "extra": [1]},)),
        _tenant(()),
        recompute(_tenant(ODD_USERS)),  # licenses the engine set, not those read
        Tenant(Organization("org", "Contoso")),
    ],
    ids=["odd users", "devices", "no users", "recomputed", "empty"],
)
def test_the_fingerprint_is_the_snapshot_document_hashed(tenant: Tenant):
    assert state_fingerprint(tenant) == _defined(tenant)


def test_the_example_tenants_fingerprint_is_the_snapshot_document_hashed():
    contoso = read_snapshot(ROOT / "examples" / "contoso" / "tenant.json")
    assert state_fingerprint(contoso) == _defined(contoso)
    assert state_fingerprint(recompute(contoso)) == _defined(recompute(contoso))


def test_the_model_wins_over_the_graph_object_it_was_read_from():
    (user,) = _tenant(ODD_USERS[:1]).users
    renamed = replace(user, attributes={"displayName": "Someone"})
    assert state_fingerprint(_tenant((renamed,))) == state_fingerprint(_tenant((user,)))
    retitled = replace(user, attributes={"jobTitle": "Astronaut"})
    assert state_fingerprint(_tenant((retitled,))) != state_fingerprint(_tenant((user,)))
