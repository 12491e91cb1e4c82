"""The local tenant: one SQLite file holding what Entra would show, changed a change at a time."""

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from contextlib import closing
from dataclasses import replace

import pytest

import reconciler.providers.base as base_module
import reconciler.providers.local as local_module
from reconciler.engine import recompute, simulate
from reconciler.engine.licensing import LicensingError
from reconciler.errors import InputError, ReconcilerError
from reconciler.model import DYNAMIC_MEMBERSHIP, AssignedLicense, Group, Tenant
from reconciler.plan.changes import (
    AddLicense,
    AddMembers,
    ChangeDisabledPlans,
    CreateGroup,
    DeleteGroup,
    RemoveLicense,
    RemoveMembers,
    UpdateGroup,
    apply_to_groups,
    new_group_id,
)
from reconciler.providers.base import ProviderError, TenantBusyError
from reconciler.providers.local import LocalTenant, import_snapshot, open_local
from reconciler.providers.snapshot import read_snapshot, write_snapshot
from reconciler.rules.errors import RuleError

from .conftest import CONTOSO, ROOT

SEED = CONTOSO / "tenant.json"
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"  # SPE_E5
E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"  # SPE_E3
POWER_BI = "f8a1db68-be16-40ed-86d5-cb42ce701560"  # POWER_BI_PRO
YAMMER = "7547a3fe-08ee-4ccb-b430-5077c5041653"  # YAMMER_ENTERPRISE, a plan of SPE_E5
SALES = "5dfeba9d-b24c-4358-be5b-da9c51e39157"  # LIC-M365-E5-Sales, dynamic
POWER_BI_GROUP = "172709e9-6cc6-4106-80d3-94b63db2fa89"  # LIC-PowerBI-Pro, static
FINANCE = "0099338f-a145-4293-ae58-389e5280cd31"  # Finance Analysts, static, no licenses
DANIEL = "0f618694-25b6-4b20-938d-c050eadb1552"  # Finance; in both static groups
AARAV = "e5943565-67f1-4a4e-9f84-13be34042f86"  # in LIC-PowerBI-Pro
NEW = new_group_id("LIC-Visio-Pilot")
CREATE = CreateGroup(Group(NEW, "LIC-Visio-Pilot", description="pilot"))

# each kind of change, with a CreateGroup first where the change needs a new group
CHANGE_SETS = {
    "create, then members and a license by placeholder id": [
        CREATE,
        AddMembers(NEW, "LIC-Visio-Pilot", (DANIEL, AARAV)),
        AddLicense(NEW, "LIC-Visio-Pilot", AssignedLicense(E5, frozenset({YAMMER}))),
    ],
    "a rule edit, licenses following the members": [
        UpdateGroup(
            SALES,
            "LIC-M365-E5-Sales",
            "membershipRule",
            'user.department -eq "Sales" -and user.accountEnabled -eq true',
            'user.department -eq "Retail" -and user.accountEnabled -eq true',
        ),
    ],
    "a description": [UpdateGroup(FINANCE, "Finance Analysts", "description", None, "analysts")],
    "a license removed": [RemoveLicense(POWER_BI_GROUP, "LIC-PowerBI-Pro", POWER_BI)],
    "disabled plans changed": [
        ChangeDisabledPlans(SALES, "LIC-M365-E5-Sales", E5, frozenset({YAMMER}), frozenset())
    ],
    "members removed": [RemoveMembers(POWER_BI_GROUP, "LIC-PowerBI-Pro", (DANIEL, AARAV))],
    "a group without licenses deleted": [DeleteGroup(FINANCE, "Finance Analysts")],
    "licenses removed, then the group deleted": [
        RemoveLicense(POWER_BI_GROUP, "LIC-PowerBI-Pro", POWER_BI),
        DeleteGroup(POWER_BI_GROUP, "LIC-PowerBI-Pro"),
    ],
}


@pytest.fixture
def db(tmp_path, contoso):
    """A fresh local tenant made from the Contoso demo tenant."""
    return LocalTenant.create(tmp_path / "tenant.db", contoso)


def foresee(tenant: Tenant, changes) -> Tenant:
    """The engine's after-state of `changes` applied one at a time, as the provider applies them."""
    for change in changes:
        tenant = simulate(tenant, apply_to_groups({g.id: g for g in tenant.groups}, [change]))
    return tenant


def holders(tenant: Tenant, sku_id: str) -> set[str]:
    return {u.id for u in tenant.users if any(a.skuId == sku_id for a in u.assignedLicenses)}


# --- creating and reading -------------------------------------------------------------------


def test_a_new_local_tenant_reads_back_as_the_engine_settles_the_seed(db, contoso):
    assert db.read() == recompute(read_snapshot(SEED))
    assert db.read().organization == contoso.organization


def test_open_local_creates_the_tenant_and_its_folders_from_the_seed_on_first_use_only(tmp_path):
    path = tmp_path / ".reconciler" / "nested" / "tenant.db"
    with open_local(path, SEED) as tenant:
        tenant.apply(DeleteGroup(FINANCE, "Finance Analysts"))
    with open_local(path, SEED) as again:
        assert FINANCE not in {group.id for group in again.read().groups}


def test_a_missing_local_tenant_without_a_seed_is_one_input_error_naming_the_file(tmp_path):
    with pytest.raises(InputError, match=r"missing\.db: no local tenant here"):
        open_local(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()


def test_create_refuses_to_overwrite_a_tenant_unless_told_to(db, contoso, monkeypatch):
    monkeypatch.setattr(local_module, "LOCK_TIMEOUT", 0.1)
    with pytest.raises(InputError, match="already exists"):
        LocalTenant.create(db.path, contoso)
    db.apply(DeleteGroup(FINANCE, "Finance Analysts"))
    with pytest.raises(TenantBusyError):  # not under a running apply
        LocalTenant.create(db.path, contoso, replace=True)
    db.close()
    assert LocalTenant.create(db.path, contoso, replace=True).read() == recompute(contoso)


def test_import_replaces_the_tenant_and_export_round_trips_it(db, tmp_path):
    with db:
        db.apply(RemoveMembers(POWER_BI_GROUP, "LIC-PowerBI-Pro", (DANIEL,)))
    exported = tmp_path / "export.json"
    write_snapshot(db.read(), exported)
    assert read_snapshot(exported) == db.read()
    assert import_snapshot(SEED, db.path).read() == recompute(read_snapshot(SEED))


# --- applying changes -----------------------------------------------------------------------


@pytest.mark.parametrize("changes", CHANGE_SETS.values(), ids=CHANGE_SETS.keys())
def test_each_kind_of_change_stores_what_the_engine_foresees(db, changes):
    before = db.read()
    applied = [db.apply(change) for change in changes]
    assert db.read() == foresee(before, [result.change for result in applied])
    assert LocalTenant(db.path).read() == db.read()  # it is in the file, not in the object


def test_a_created_group_gets_a_guid_and_its_placeholder_reaches_it_later(db):
    created = db.apply(CREATE)
    assert str(uuid.UUID(created.groupId)) == created.groupId
    assert created.change == CreateGroup(replace(CREATE.group, id=created.groupId))
    added = db.apply(AddMembers(NEW, "LIC-Visio-Pilot", (DANIEL,)))
    assert added.groupId == created.groupId
    group = next(g for g in db.read().groups if g.id == created.groupId)
    assert (group.displayName, group.members) == ("LIC-Visio-Pilot", (DANIEL,))


def test_a_rule_edit_takes_licenses_only_from_who_stops_matching(db):
    before = db.read()
    changes = CHANGE_SETS["a rule edit, licenses following the members"]
    db.apply(changes[0])
    after = db.read()
    members = {g.id: g.members for g in after.groups}[SALES]
    departments = {u.id: u.attributes.get("department") for u in after.users}
    assert members and {departments[m] for m in members} == {"Retail"}
    lost = holders(before, E5) - holders(after, E5)
    assert lost and all(departments[user] == "Sales" for user in lost)


def test_a_refused_change_leaves_the_file_byte_for_byte_unchanged(db):
    content = db.path.read_bytes()
    with pytest.raises(LicensingError, match="remove its licenses first"):
        db.apply(DeleteGroup(SALES, "LIC-M365-E5-Sales"))
    assert db.path.read_bytes() == content


def test_a_change_that_fails_halfway_rolls_back_and_its_placeholder_stays_unknown(db):
    content = db.path.read_bytes()
    bad = Group(NEW, "LIC-Visio-Pilot", groupTypes=(DYNAMIC_MEMBERSHIP,))
    bad = replace(bad, membershipRule="user.department -eq", membershipRuleProcessingState="On")
    with pytest.raises(RuleError):
        db.apply(CreateGroup(bad))
    assert db.path.read_bytes() == content
    with pytest.raises(ProviderError, match="hasn't been created"):
        db.apply(AddMembers(NEW, "LIC-Visio-Pilot", (DANIEL,)))


def test_a_group_is_created_once_per_placeholder(db):
    db.apply(CREATE)
    with pytest.raises(ProviderError, match="LIC-Visio-Pilot was created as"):
        db.apply(CREATE)


def test_changes_to_unknown_groups_or_members_are_refused(db):
    with pytest.raises(ProviderError, match=r"no group Gone \(deadbeef\) in the tenant"):
        db.apply(RemoveMembers("deadbeef", "Gone", (DANIEL,)))
    with pytest.raises(ProviderError, match="no object nobody in the tenant"):
        db.apply(AddMembers(FINANCE, "Finance Analysts", ("nobody",)))
    with pytest.raises(ProviderError, match="no property 'colour'"):
        db.apply(UpdateGroup(FINANCE, "Finance Analysts", "colour", None, "blue"))


def test_group_ids_match_regardless_of_case_as_graph_ids_do(db):
    applied = db.apply(RemoveMembers(POWER_BI_GROUP.upper(), "LIC-PowerBI-Pro", (DANIEL,)))
    assert applied.groupId == POWER_BI_GROUP


def test_an_apply_writes_only_the_rows_it_changes(db):
    with sqlite3.connect(db.path) as connection:
        connection.executescript(
            "CREATE TABLE written (kind TEXT, id TEXT);"
            + "".join(
                f"CREATE TRIGGER log_{table} AFTER UPDATE ON {table} "
                f"BEGIN INSERT INTO written VALUES ('{table}', new.id); END;"
                for table in ("skus", "users", "groups")
            )
        )
    db.apply(RemoveMembers(POWER_BI_GROUP, "LIC-PowerBI-Pro", (AARAV,)))
    with sqlite3.connect(db.path) as connection:
        written = sorted(connection.execute("SELECT kind, id FROM written"))
    assert written == [("groups", POWER_BI_GROUP), ("skus", POWER_BI), ("users", AARAV)]


def test_after_a_plan_of_changes_every_seat_count_equals_its_holders(db):
    kinds = ["create, then members and a license by placeholder id", "disabled plans changed"]
    kinds += [
        "a rule edit, licenses following the members",
        "licenses removed, then the group deleted",
    ]
    for change in [change for kind in kinds for change in CHANGE_SETS[kind]]:
        db.apply(change)
    tenant = LocalTenant(db.path).read()
    for sku in tenant.subscribedSkus:
        assert sku.consumedUnits == len(holders(tenant, sku.skuId)), sku.skuPartNumber
        assert sku.consumedUnits <= sku.prepaidUnits.enabled, sku.skuPartNumber
    assert holders(tenant, E5) >= {DANIEL, AARAV}


# --- the apply lock -------------------------------------------------------------------------


def test_a_second_apply_fails_fast_while_another_holds_the_tenant(db):
    first, second = LocalTenant(db.path), LocalTenant(db.path, lock_timeout=0.2)
    first.apply(RemoveMembers(POWER_BI_GROUP, "LIC-PowerBI-Pro", (DANIEL,)))
    started = time.monotonic()
    with pytest.raises(TenantBusyError, match=f"another apply is running on .*{db.path.name}"):
        second.apply(RemoveMembers(POWER_BI_GROUP, "LIC-PowerBI-Pro", (AARAV,)))
    assert time.monotonic() - started < 2
    assert second.read() == first.read()  # reading needs no lock
    first.close()
    with second:
        second.apply(RemoveMembers(POWER_BI_GROUP, "LIC-PowerBI-Pro", (AARAV,)))


def test_an_apply_in_another_thread_waits_for_the_lock_to_be_released(db):
    results = []
    second = LocalTenant(db.path, lock_timeout=5)
    with db.lock():
        worker = threading.Thread(
            target=lambda: results.append(second.apply(DeleteGroup(FINANCE, "Finance Analysts")))
        )
        worker.start()
        time.sleep(0.2)
        assert results == []  # still waiting
    worker.join(timeout=5)
    second.close()
    assert [result.groupId for result in results] == [FINANCE]


def test_the_lock_holds_against_another_process_and_dies_with_it(db):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline() == b"locked\n"
        with pytest.raises(TenantBusyError), LocalTenant(db.path, lock_timeout=0.2) as busy:
            busy.apply(DeleteGroup(FINANCE, "Finance Analysts"))
    finally:
        holder.kill()  # the OS releases the lock of a process that dies
        holder.wait(timeout=5)
    with LocalTenant(db.path) as free:
        free.apply(DeleteGroup(FINANCE, "Finance Analysts"))


HOLD_LOCK = """
import sys
from reconciler.providers.local import LocalTenant
with LocalTenant(sys.argv[1]).lock():
    print("locked", flush=True)
    sys.stdin.read()
"""


# --- damaged files --------------------------------------------------------------------------


def test_a_file_that_is_not_sqlite_is_one_input_error_naming_it(tmp_path):
    path = tmp_path / "random.db"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(InputError) as caught:
        LocalTenant(path)
    assert str(caught.value) == f"{path}: not a local tenant: the file is damaged or not SQLite"


def test_a_database_of_another_kind_or_format_is_one_input_error(db, tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    with pytest.raises(InputError, match=r"other\.db: not a reconciler local tenant: no table"):
        LocalTenant(other)
    with sqlite3.connect(db.path) as connection:
        connection.execute("UPDATE meta SET value = '2' WHERE key = 'formatVersion'")
    with pytest.raises(InputError, match="local tenant format 2 is not supported"):
        LocalTenant(db.path)


def test_a_damaged_row_is_one_input_error_naming_the_file(db):
    with sqlite3.connect(db.path) as connection:
        connection.execute("UPDATE users SET doc = '{' WHERE id = ?", (DANIEL,))
    with pytest.raises(InputError, match=rf"tenant\.db: .*users row {DANIEL} is not JSON"):
        db.read()
    with sqlite3.connect(db.path) as connection:
        connection.execute("UPDATE users SET doc = '{}' WHERE id = ?", (DANIEL,))
    with pytest.raises(InputError, match=r"tenant\.db: users\[\d+\]"):
        db.read()


@pytest.mark.parametrize(
    "error",
    [cls for cls in vars(sqlite3).values() if isinstance(cls, type) and issubclass(cls, Exception)],
)
def test_every_sqlite_error_becomes_a_reconciler_error(error):
    translated = local_module._translate(error("boom"), "tenant.db")
    assert isinstance(translated, ReconcilerError)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("SQLITE_NOTADB", InputError),
        ("SQLITE_CORRUPT", InputError),
        ("SQLITE_BUSY", TenantBusyError),
    ],
)
def test_sqlite_error_codes_map_to_what_the_user_can_do(name, kind):
    error = sqlite3.DatabaseError("boom")
    error.sqlite_errorname = name
    assert type(local_module._translate(error, "tenant.db")) is kind


@pytest.mark.parametrize("module", [base_module, local_module])
def test_public_names_are_all_listed_in_all(module):
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", None) == module.__name__
        and callable(value)
    }
    assert public <= set(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)


def test_a_provider_starts_again_from_the_file_when_another_has_written_since(db):
    other = LocalTenant(db.path)
    group = next(g for g in db.read().groups if g.displayName == "LIC-PowerBI-Pro")
    db.apply(UpdateGroup(group.id, group.displayName, "description", None, "first"))
    db.close()  # ends the apply session, so the other can take the lock
    other.apply(UpdateGroup(group.id, group.displayName, "displayName", group.displayName, "BI"))
    other.close()
    # db's own last write is stale now: its next change must keep the other's rename
    db.apply(UpdateGroup(group.id, "BI", "description", "first", "second"))
    stored = next(g for g in db.read().groups if g.id == group.id)
    assert (stored.displayName, stored.description) == ("BI", "second")


def test_changes_in_one_session_leave_the_file_as_a_fresh_read_finds_it(db):
    # the provider starts each change from its last write; the file must hold the same
    new = new_group_id("LIC-Test")
    db.apply(CreateGroup(Group(new, "LIC-Test")))
    users = [user.id for user in db.read().users[:3]]
    db.apply(AddMembers(new, "LIC-Test", tuple(users)))
    sku = db.read().subscribedSkus[0].skuId
    db.apply(AddLicense(new, "LIC-Test", AssignedLicense(sku)))
    db.apply(RemoveMembers(new, "LIC-Test", tuple(users[:1])))
    fresh = LocalTenant(db.path).read()
    [group] = [g for g in fresh.groups if g.displayName == "LIC-Test"]
    assert group.members == tuple(users[1:]) and group.assignedLicenses == (AssignedLicense(sku),)
    assert {
        u.id
        for u in fresh.users
        if any(s.assignedByGroup == group.id for s in u.licenseAssignmentStates)
    } == set(users[1:])


# --- reprocessing ---------------------------------------------------------------------------


def _short_of_seats(db: LocalTenant) -> tuple[Group, list[str]]:
    """The Power BI group given more members than seats: (the group, its members in error)."""
    tenant = db.read()
    group = next(g for g in tenant.groups if g.displayName == "LIC-PowerBI-Pro")
    outside = [u.id for u in tenant.users if u.id not in group.members and u.accountEnabled]
    db.apply(AddMembers(group.id, group.displayName, tuple(outside[:8])))
    short = [
        u.id
        for u in db.read().users
        if any(s.error == "CountViolation" for s in u.licenseAssignmentStates)
    ]
    return group, short


def test_reprocessing_gives_users_short_of_seats_the_seats_freed_since(db):
    group, short = _short_of_seats(db)
    assert len(short) == 3  # 5 seats free for 8 new members
    keep = [m for m in group.members if m not in short][:3]
    db.apply(RemoveMembers(group.id, group.displayName, tuple(keep)))
    # freeing seats alone doesn't retry a failed assignment: Entra waits to be asked
    still = db.read()
    assert all(
        any(s.error == "CountViolation" for s in u.licenseAssignmentStates)
        for u in still.users
        if u.id in short
    )
    assert db.reprocess(short) == {}
    after = {u.id: u for u in db.read().users}
    for user_id in short:
        assert [s.error for s in after[user_id].licenseAssignmentStates if s.skuId == POWER_BI] == [
            "None"
        ]
        assert POWER_BI in {a.skuId for a in after[user_id].assignedLicenses}


def test_reprocessing_an_unknown_user_names_it_and_still_reprocesses_the_others(db):
    _, short = _short_of_seats(db)
    unknown = str(uuid.uuid4())
    assert db.reprocess([unknown, *short]) == {unknown: "no such user"}
    # seats are still short: the reprocessed users fail again, the same way
    after = {u.id: u for u in db.read().users}
    assert all(
        any(s.error == "CountViolation" for s in after[u].licenseAssignmentStates) for u in short
    )


def _user_row(path, user_id: str) -> str:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("SELECT doc FROM users WHERE id = ?", (user_id,)).fetchone()[0]


def test_a_write_keeps_the_stored_rows_of_users_it_left_as_they_were(db, contoso):
    untouched = next(u for u in contoso.users if u.id not in (DANIEL, AARAV))
    # the same JSON written otherwise: a row written anew would lose the spaces
    spaced = json.dumps(json.loads(_user_row(db.path, untouched.id)), indent=1)
    with closing(sqlite3.connect(db.path)) as connection, connection:
        connection.execute("UPDATE users SET doc = ? WHERE id = ?", (spaced, untouched.id))
    with LocalTenant(db.path) as other:
        other.apply(RemoveMembers(POWER_BI_GROUP, "LIC-PowerBI-Pro", (DANIEL, AARAV)))
        # and its own write is what it reads back, without parsing the file again
        assert other.read() is other.read()
    assert _user_row(db.path, untouched.id) == spaced
    assert "\n" not in _user_row(db.path, DANIEL)  # a user the write changed is written anew
