"""Delta reads of the Graph provider, over loopback HTTP against the emulator: a repeated read
takes only the changes and gives the tenant a full read gives; whatever can't be trusted falls
back to a full read."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
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
    files = list((state_dir / "graph").glob("delta-*.db"))
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


def meta(path: Path) -> dict[str, str]:
    with closing(sqlite3.connect(path)) as connection:
        return dict(connection.execute("SELECT key, value FROM meta"))


def execute(path: Path, sql: str, *parameters: object) -> None:
    """Changes the state file as someone else (or a damaged disk) would."""
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute(sql, parameters)


def rows(path: Path, kind: str) -> list[dict]:
    with closing(sqlite3.connect(path)) as connection:
        found = connection.execute(
            "SELECT document FROM objects WHERE kind = ? ORDER BY position", (kind,)
        )
        return [json.loads(text) for (text,) in found]


def test_an_expired_token_falls_back_to_a_full_read_and_a_fresh_state(emulator, state_dir):
    with graph(emulator.url, state_dir) as provider:
        provider.read()
        old = meta(state_file(state_dir))
        emulator.expire_delta_tokens()
        with graph(emulator.url) as other:  # a change the full read must see
            group = _group(full_read(emulator.url), "LIC-M365-E3-Corporate")
            other.apply(UpdateGroup(group.id, group.displayName, "description", None, "new"))
        emulator.reset_counts()
        again = provider.read()
        assert provider.last_read == "full"
        counts = emulator.counts()
        fresh = meta(state_file(state_dir))
        assert fresh["users.deltaLink"] != old["users.deltaLink"]
        assert provider.read() == again and provider.last_read == "delta"
    assert again == full_read(emulator.url)
    assert _group(again, "LIC-M365-E3-Corporate").description == "new"
    # each kind: its refused deltaLink, then a full round (200 users: 1 page at 999)
    assert counts["GET /users/delta"] == 2 and counts["GET /groups/delta"] == 2


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _member_not_a_string(path: Path) -> None:
    group = rows(path, "groups")[0]
    group["members"] = [1, *group["members"]]
    execute(path, "UPDATE objects SET document = ? WHERE key = ?", json.dumps(group), group["id"])


def _user_without_upn(path: Path) -> None:
    # passes the file's own checks, fails the snapshot schema when the tenant is built
    user = rows(path, "users")[0]
    user["upn"] = user.pop("userPrincipalName")
    execute(path, "UPDATE objects SET document = ? WHERE key = ?", json.dumps(user), user["id"])


@pytest.mark.parametrize(
    "damage",
    [
        _truncate,
        lambda path: path.write_bytes(b""),
        lambda path: path.write_text("not a database, but text"),
        lambda path: execute(path, "DROP TABLE objects"),
        _member_not_a_string,
        lambda path: execute(
            path,
            "UPDATE meta SET value = replace(value, 'http://127.0.0.1', 'http://evil') "
            "WHERE key = 'users.deltaLink'",
        ),
        lambda path: execute(path, "UPDATE meta SET value = '99' WHERE key = 'version'"),
        lambda path: execute(
            path, "UPDATE objects SET document = '{\"ident\": 1}' WHERE rowid = 1"
        ),
        lambda path: execute(path, "UPDATE objects SET document = '[1, 2' WHERE rowid = 1"),
        _user_without_upn,
    ],
    ids=[
        "truncated",
        "empty",
        "not-sqlite",
        "no-objects-table",
        "bad-member",
        "foreign-link",
        "version",
        "no-id",
        "bad-json",
        "invalid-user",
    ],
)
def test_a_damaged_state_file_falls_back_to_a_full_read_and_is_replaced(
    emulator, state_dir, damage
):
    with graph(emulator.url, state_dir) as provider:
        first = provider.read()
    path = state_file(state_dir)
    damage(path)
    with graph(emulator.url, state_dir) as provider:
        again = provider.read()
        assert provider.last_read == "full"
        assert provider.read() == again and provider.last_read == "delta"
    assert again == first
    assert "http://evil" not in meta(path)["users.deltaLink"]
    assert meta(path)["format"] == "reconciler-graph-delta"
    assert len(rows(path, "users")) == 200 and len(rows(path, "groups")) == 9


def test_a_state_made_with_another_select_is_not_used(emulator, state_dir):
    with graph(emulator.url, state_dir) as provider:
        provider.read()
    execute(
        state_file(state_dir),
        "UPDATE meta SET value = 'id,displayName,members' WHERE key = 'groups.select'",
    )
    emulator.reset_counts()
    with graph(emulator.url, state_dir) as provider:
        provider.read()
        assert provider.last_read == "full"
    # users still came from their deltaLink; only groups were read whole
    assert emulator.counts()["GET /users/delta"] == 1


def test_a_state_of_another_tenant_is_not_used(emulator, state_dir):
    with graph(emulator.url, state_dir) as provider:
        provider.read()
    execute(
        state_file(state_dir),
        "UPDATE meta SET value = '00000000-0000-0000-0000-000000000000' WHERE key = 'tenantId'",
    )
    with graph(emulator.url, state_dir) as provider:
        provider.read()
        assert provider.last_read == "full"


def test_the_state_file_is_private_and_holds_no_token(emulator, state_dir):
    with graph(emulator.url, state_dir) as provider:
        provider.read()
        provider.read()
    path = state_file(state_dir)
    assert path.stat().st_mode & 0o777 == 0o600  # it holds the tenant's users
    data = path.read_bytes()
    assert SECRET.encode() not in data and b"Bearer" not in data and b"Authorization" not in data
    assert set(meta(path)) == {
        "format",
        "version",
        "graphUrl",
        "tenantId",
        "unknownUserProperties",
        "revision",
        "users.select",
        "users.deltaLink",
        "groups.select",
        "groups.deltaLink",
    }
    assert len(rows(path, "users")) == 200 and len(rows(path, "groups")) == 9


def test_a_delta_read_writes_only_what_changed_and_keeps_graphs_order(emulator, state_dir):
    with graph(emulator.url, state_dir) as provider:
        before = provider.read()
        path = state_file(state_dir)
        # a row the read doesn't touch keeps whatever it holds: proof it wasn't rewritten
        untouched = rows(path, "users")[5]
        execute(
            path,
            "UPDATE objects SET document = ? WHERE key = ?",
            json.dumps({**untouched, "jobTitle": "marker"}),
            untouched["id"].lower(),
        )
        execute(path, "UPDATE meta SET value = 'mine' WHERE key = 'revision'")
        powerbi = _group(before, "LIC-PowerBI-Pro")
        outsiders = [u.id for u in before.users if u.id not in powerbi.members][:2]
        provider.apply(AddMembers(powerbi.id, powerbi.displayName, tuple(outsiders)))
        placeholder = new_group_id("LIC-Order")
        provider.apply(CreateGroup(Group(placeholder, "LIC-Order")))
        provider.read()
        assert provider.last_read == "delta"
    assert rows(path, "users")[5]["jobTitle"] == "marker"
    assert [g["displayName"] for g in rows(path, "groups")][-1] == "LIC-Order"
    changed = {u["id"] for u in rows(path, "users") if u["id"] in outsiders}
    assert changed == set(outsiders)


def test_a_provider_that_saved_last_reuses_what_it_holds_and_else_reads_the_file(
    emulator, state_dir
):
    with graph(emulator.url, state_dir) as provider:
        provider.read()
        path = state_file(state_dir)
        user = rows(path, "users")[0]
        # another writer changes a row and so the revision: this provider must read the file
        execute(
            path,
            "UPDATE objects SET document = ? WHERE key = ?",
            json.dumps({**user, "jobTitle": "from the file"}),
            user["id"].lower(),
        )
        execute(path, "UPDATE meta SET value = 'someone else' WHERE key = 'revision'")
        read = {u.id: u for u in provider.read().users}
        assert read[user["id"]].attributes["jobTitle"] == "from the file"
        # the same row changed again without a new revision: what it holds is used
        execute(
            path,
            "UPDATE objects SET document = ? WHERE key = ?",
            json.dumps({**user, "jobTitle": "not read"}),
            user["id"].lower(),
        )
        again = {u.id: u for u in provider.read().users}
        assert again[user["id"]].attributes["jobTitle"] == "from the file"
        assert provider.last_read == "delta"


# --- merging, without HTTP ----------------------------------------------------------------


def _keep(obj):
    return {k: v for k, v in obj.items() if not k.startswith("@odata.")}


def test_members_split_over_pages_and_replayed_are_merged():
    objects = {"g1": {"id": "g1", "displayName": "G", "members": ["a", "b"]}}
    items = [
        {"id": "g1", "displayName": "G2", "members@delta": [{"id": "c"}]},
        {"id": "g1", "members@delta": [{"id": "a", "@removed": {"reason": "deleted"}}]},
        {"id": "g1", "members@delta": [{"id": "c"}, {"id": "x", "@removed": {}}]},  # replay
        {"id": "g2", "displayName": "New", "members@delta": [{"id": "b"}]},
    ]
    saved = merge(objects, items, "groups", _keep)
    assert list(objects.values()) == [
        {"id": "g1", "displayName": "G2", "members": ["b", "c"]},
        {"id": "g2", "displayName": "New", "members": ["b"]},
    ]
    assert saved.changed == {"g1", "g2"} and saved.removed == frozenset() and not saved.full


def test_removed_objects_go_and_minimal_changes_keep_the_rest():
    objects = {
        "u1": {"id": "u1", "department": "Sales", "manager": {"id": "m"}},
        "u2": {"id": "u2", "department": "IT", "manager": None},
        "u4": {"id": "u4", "department": "IT", "manager": None},
    }
    items = [
        {"id": "U2", "@removed": {"reason": "changed"}},
        {"id": "u1", "department": "Legal"},
        {"id": "u3", "department": "HR", "manager@delta": [{"id": "m"}]},
        {"id": "u1", "manager@delta": [{"id": "m", "@removed": {"reason": "deleted"}}]},
        {"id": "u5", "department": "HR"},  # new, then gone again in the same round
        {"id": "u5", "@removed": {"reason": "deleted"}},
    ]
    saved = merge(objects, items, "users", _keep)
    assert list(objects.values()) == [
        {"id": "u1", "department": "Legal", "manager": None},
        {"id": "u4", "department": "IT", "manager": None},
        {"id": "u3", "department": "HR", "manager": {"id": "m"}},
    ]
    assert saved.changed == {"u1", "u3"} and saved.removed == {"u2", "u5"}
