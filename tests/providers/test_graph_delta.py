"""Delta reads of the Graph provider, over loopback HTTP against the emulator: a repeated read
takes only the changes and gives the tenant a full read gives; whatever can't be trusted falls
back to a full read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.emulator import running
from reconciler.model import AssignedLicense, Group
from reconciler.plan.changes import (
    AddLicense,
    AddMembers,
    CreateGroup,
    DeleteGroup,
    RemoveLicense,
    RemoveMembers,
    UpdateGroup,
    new_group_id,
)
from reconciler.providers.graph import GraphTenant
from reconciler.providers.graph_delta import merge
from tests.providers.graph_support import FAST, SECRET


@pytest.fixture
def emulator(tenant_file):
    with running(str(tenant_file)) as served:
        yield served


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "config" / ".reconciler"


def graph(url: str, state_dir: Path | None = None) -> GraphTenant:
    return GraphTenant(
        url, token=lambda: SECRET, retry=FAST, settle_timeout=10, state_dir=state_dir
    )


def full_read(url: str):
    """What a provider without delta state reads: the reference for every delta read."""
    with graph(url) as provider:
        return provider.read()


def state_file(state_dir: Path) -> Path:
    files = list((state_dir / "graph").glob("delta-*.json"))
    assert len(files) == 1, files
    return files[0]


def _group(tenant, name: str) -> Group:
    return next(group for group in tenant.groups if group.displayName == name)


def _requests(counts: dict[str, int]) -> int:
    return sum(n for key, n in counts.items() if not key.startswith("$batch: "))


def test_a_repeated_read_without_changes_takes_few_requests_and_gives_the_same_tenant(
    emulator, state_dir
):
    with graph(emulator.url, state_dir) as provider:
        first = provider.read()
        assert provider.last_read == "full"
        first_counts = emulator.counts()
        emulator.reset_counts()
        second = provider.read()
        assert provider.last_read == "delta"
        second_counts = emulator.counts()
    assert first == second == full_read(emulator.url)
    # organization, SKUs, and one deltaLink page each for users and groups; no member reads
    assert second_counts == {
        "GET /organization": 1,
        "GET /subscribedSkus": 1,
        "GET /users/delta": 1,
        "GET /groups/delta": 1,
    }
    # the first read: users and groups from delta rounds, members from members@delta
    assert "POST /$batch" not in first_counts and "GET /groups/{id}/members" not in first_counts


def test_a_new_provider_picks_up_the_saved_state(emulator, state_dir):
    with graph(emulator.url, state_dir) as provider:
        provider.read()
    emulator.reset_counts()
    with graph(emulator.url, state_dir) as provider:
        provider.read()
        assert provider.last_read == "delta"
    # the user properties the emulator lacks are remembered, not asked for again
    assert emulator.counts()["GET /users/delta"] == 1


def test_after_the_providers_own_writes_a_delta_read_equals_a_full_read(emulator, state_dir):
    with graph(emulator.url, state_dir) as provider:
        before = provider.read()
        e3 = _group(before, "LIC-M365-E3-Corporate")
        powerbi = _group(before, "LIC-PowerBI-Pro")
        outsiders = [u.id for u in before.users if u.id not in powerbi.members][:3]
        placeholder = new_group_id("LIC-Delta")
        provider.apply(CreateGroup(Group(placeholder, "LIC-Delta", description="delta test")))
        provider.apply(AddMembers(placeholder, "LIC-Delta", tuple(outsiders)))
        provider.apply(AddMembers(powerbi.id, powerbi.displayName, tuple(outsiders)))
        provider.apply(RemoveMembers(powerbi.id, powerbi.displayName, (powerbi.members[0],)))
        provider.apply(UpdateGroup(e3.id, e3.displayName, "description", None, "changed"))
        sku = before.subscribedSkus[0].skuId
        provider.apply(AddLicense(placeholder, "LIC-Delta", AssignedLicense(sku)))
        emulator.reset_counts()
        after = provider.read()
        assert provider.last_read == "delta"
        counts = emulator.counts()
    expected = full_read(emulator.url)
    assert after == expected and after != before
    made = _group(after, "LIC-Delta")
    assert set(made.members) == set(outsiders) and made.assignedLicenses
    assert set(outsiders) <= set(_group(after, "LIC-PowerBI-Pro").members)
    assert counts["GET /users/delta"] == 1 and counts["GET /groups/delta"] == 1


def test_deleted_groups_and_licenses_removed_elsewhere_show_in_the_delta_read(emulator, state_dir):
    with graph(emulator.url, state_dir) as provider:
        before = provider.read()
        # someone else (another client, no delta state) changes the tenant
        with graph(emulator.url) as other:
            finance = _group(before, "Finance Analysts")
            other.apply(DeleteGroup(finance.id, finance.displayName))
            powerbi = _group(before, "LIC-PowerBI-Pro")
            sku = powerbi.assignedLicenses[0].skuId
            other.apply(RemoveLicense(powerbi.id, powerbi.displayName, sku))
        after = provider.read()
        assert provider.last_read == "delta"
    assert after == full_read(emulator.url)
    assert all(group.displayName != "Finance Analysts" for group in after.groups)
    assert _group(after, "LIC-PowerBI-Pro").assignedLicenses == ()


def test_an_expired_token_falls_back_to_a_full_read_and_a_fresh_state(emulator, state_dir):
    with graph(emulator.url, state_dir) as provider:
        provider.read()
        old = json.loads(state_file(state_dir).read_text())
        emulator.expire_delta_tokens()
        with graph(emulator.url) as other:  # a change the full read must see
            group = _group(full_read(emulator.url), "LIC-M365-E3-Corporate")
            other.apply(UpdateGroup(group.id, group.displayName, "description", None, "new"))
        emulator.reset_counts()
        again = provider.read()
        assert provider.last_read == "full"
        counts = emulator.counts()
        fresh = json.loads(state_file(state_dir).read_text())
        assert fresh["users"]["deltaLink"] != old["users"]["deltaLink"]
        assert provider.read() == again and provider.last_read == "delta"
    assert again == full_read(emulator.url)
    assert _group(again, "LIC-M365-E3-Corporate").description == "new"
    # each kind: its refused deltaLink, then a full round (200 users: 1 page at 999)
    assert counts["GET /users/delta"] == 2 and counts["GET /groups/delta"] == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],
        lambda text: "",
        lambda text: "[]",
        lambda text: text.replace('"members":[', '"members":[1,', 1),
        lambda text: text.replace('"deltaLink":"http://127.0.0.1', '"deltaLink":"http://evil', 1),
        lambda text: text.replace('"version":1', '"version":99', 1),
        lambda text: text.replace('"id":', '"ident":', 1),
        # passes the file's own checks, fails the snapshot schema when the tenant is built
        lambda text: text.replace('"userPrincipalName":', '"upn":', 1),
    ],
    ids=[
        "truncated",
        "empty",
        "not-an-object",
        "bad-member",
        "foreign-link",
        "version",
        "no-id",
        "invalid-user",
    ],
)
def test_a_damaged_state_file_falls_back_to_a_full_read(emulator, state_dir, damage):
    with graph(emulator.url, state_dir) as provider:
        first = provider.read()
        path = state_file(state_dir)
        path.write_text(damage(path.read_text()))
        emulator.reset_counts()
        again = provider.read()
        assert provider.last_read == "full"
    assert again == first
    assert "http://evil" not in path.read_text()
    assert json.loads(path.read_text())["format"] == "reconciler-graph-delta"


def test_a_state_made_with_another_select_is_not_used(emulator, state_dir):
    with graph(emulator.url, state_dir) as provider:
        provider.read()
        path = state_file(state_dir)
        document = json.loads(path.read_text())
        document["groups"]["select"] = "id,displayName,members"
        path.write_text(json.dumps(document))
        emulator.reset_counts()
        provider.read()
        assert provider.last_read == "full"
        # users still came from their deltaLink; only groups were read whole
        assert emulator.counts()["GET /users/delta"] == 1


def test_a_state_of_another_tenant_is_not_used(emulator, state_dir):
    with graph(emulator.url, state_dir) as provider:
        provider.read()
        path = state_file(state_dir)
        document = json.loads(path.read_text())
        document["tenantId"] = "00000000-0000-0000-0000-000000000000"
        path.write_text(json.dumps(document))
        provider.read()
        assert provider.last_read == "full"


def test_the_state_file_holds_no_token(emulator, state_dir):
    with graph(emulator.url, state_dir) as provider:
        provider.read()
        provider.read()
    text = state_file(state_dir).read_text()
    assert SECRET not in text and "Bearer" not in text and "Authorization" not in text
    document = json.loads(text)
    assert set(document) == {
        "format",
        "version",
        "graphUrl",
        "tenantId",
        "userProperties",
        "unknownUserProperties",
        "users",
        "groups",
    }
    assert len(document["users"]["objects"]) == 200 and len(document["groups"]["objects"]) == 9


# --- merging, without HTTP ----------------------------------------------------------------


def _keep(obj):
    return {k: v for k, v in obj.items() if not k.startswith("@odata.")}


def test_members_split_over_pages_and_replayed_are_merged():
    saved = [{"id": "g1", "displayName": "G", "members": ["a", "b"]}]
    items = [
        {"id": "g1", "displayName": "G2", "members@delta": [{"id": "c"}]},
        {"id": "g1", "members@delta": [{"id": "a", "@removed": {"reason": "deleted"}}]},
        {"id": "g1", "members@delta": [{"id": "c"}, {"id": "x", "@removed": {}}]},  # replay
        {"id": "g2", "displayName": "New", "members@delta": [{"id": "b"}]},
    ]
    merged = merge(saved, items, "groups", _keep)
    assert merged == [
        {"id": "g1", "displayName": "G2", "members": ["b", "c"]},
        {"id": "g2", "displayName": "New", "members": ["b"]},
    ]


def test_removed_objects_go_and_minimal_changes_keep_the_rest():
    saved = [
        {"id": "u1", "department": "Sales", "manager": {"id": "m"}},
        {"id": "u2", "department": "IT", "manager": None},
    ]
    items = [
        {"id": "u2", "@removed": {"reason": "changed"}},
        {"id": "u1", "department": "Legal"},
        {"id": "u3", "department": "HR", "manager@delta": [{"id": "m"}]},
        {"id": "u1", "manager@delta": [{"id": "m", "@removed": {"reason": "deleted"}}]},
    ]
    merged = merge(saved, items, "users", _keep)
    assert merged == [
        {"id": "u1", "department": "Legal", "manager": None},
        {"id": "u3", "department": "HR", "manager": {"id": "m"}},
    ]
