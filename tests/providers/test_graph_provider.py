"""The Graph provider against the emulator over loopback HTTP: reads, writes, refusals, faults."""

from __future__ import annotations

import shutil

import pytest

from reconciler.emulator import running
from reconciler.engine.licensing import LicensingError
from reconciler.model import AssignedLicense, Group, Tenant
from reconciler.plan.changes import (
    AddLicense,
    AddMembers,
    Change,
    ChangeDisabledPlans,
    CreateGroup,
    DeleteGroup,
    RemoveLicense,
    RemoveMembers,
    UpdateGroup,
    new_group_id,
)
from reconciler.providers.base import ProviderError
from reconciler.providers.graph import GraphTenant
from reconciler.providers.local import LocalTenant
from reconciler.providers.snapshot import read_snapshot
from tests.providers.graph_support import FAST, SECRET

VISIO = "c5928f49-12ba-48f7-ada3-0d743a3601d5"  # VISIOCLIENT


def graph(url: str) -> GraphTenant:
    return GraphTenant(url, token=lambda: SECRET, retry=FAST, settle_timeout=10)


def _by_id(tenant: Tenant, name: str) -> Group:
    return next(group for group in tenant.groups if group.displayName == name)


def _licenses(tenant: Tenant) -> dict[str, set[tuple[str, frozenset[str]]]]:
    return {u.id: {(a.skuId, a.disabledPlans) for a in u.assignedLicenses} for u in tenant.users}


def test_read_gives_the_tenant_the_local_source_gives(tenant_file, tmp_path):
    local = LocalTenant.create(tmp_path / "local.db", read_snapshot(tenant_file)).read()
    with running(str(tenant_file)) as emulator, graph(emulator.url) as provider:
        read = provider.read()
        counts = emulator.counts()
    assert read.organization == local.organization
    assert read.subscribedSkus == local.subscribedSkus
    assert sorted(read.groups, key=lambda g: g.id) == sorted(local.groups, key=lambda g: g.id)
    assert _licenses(read) == _licenses(local)
    local_users = {user.id: user for user in local.users}
    for user in read.users:
        for name in ("department", "country", "manager", "onPremisesExtensionAttributes"):
            assert user.attributes.get(name) == local_users[user.id].attributes.get(name), name
    # one page of users and one of groups at $top=999; every group's members in one batch
    assert counts["GET /groups"] == 1 and counts["POST /$batch"] == 1
    assert counts["GET /users"] == 1 + len(provider.unknown)


def test_a_created_group_is_known_by_its_placeholder_for_later_changes(tenant_file):
    placeholder = new_group_id("LIC-Test")
    created = Group(placeholder, "LIC-Test", description="a test group")
    with running(str(tenant_file)) as emulator, graph(emulator.url) as provider:
        before = provider.read()
        users = [user.id for user in before.users[:45]]
        made = provider.apply(CreateGroup(created))
        assert made.groupId != placeholder and not made.groupId.startswith("new:")
        added = provider.apply(AddMembers(placeholder, "LIC-Test", tuple(users)))
        assert added.groupId == made.groupId
        sku = before.subscribedSkus[0].skuId
        licensed = provider.apply(AddLicense(placeholder, "LIC-Test", AssignedLicense(sku)))
        assert licensed.settled  # apply waited for licenseProcessingState to complete
        after = provider.read()
        counts = emulator.counts()
    group = _by_id(after, "LIC-Test")
    assert group.id == made.groupId and group.description == "a test group"
    assert sorted(group.members) == sorted(users)
    assert group.assignedLicenses == (AssignedLicense(sku),)
    holders = [
        u
        for u in after.users
        if any(s.assignedByGroup == group.id for s in u.licenseAssignmentStates)
    ]
    assert len(holders) == 45
    # 45 members: three binds of at most 20, sent in one batch
    assert counts["$batch: PATCH /groups/{id}"] == 3


def test_applying_the_same_changes_again_counts_as_done(tenant_file):
    with running(str(tenant_file)) as emulator, graph(emulator.url) as provider:
        tenant = provider.read()
        static = next(g for g in tenant.groups if not g.membershipRule and g.members)
        outsider = next(u.id for u in tenant.users if u.id not in static.members)
        member = static.members[0]
        changes = [
            AddMembers(static.id, static.displayName, (outsider, member)),
            RemoveMembers(static.id, static.displayName, (member,)),
        ]
        for change in changes * 2:
            provider.apply(change)
        after = _by_id(provider.read(), static.displayName)
    assert outsider in after.members and member not in after.members


def test_license_changes_and_deletion_re_applied_are_done(tenant_file):
    with running(str(tenant_file)) as emulator, graph(emulator.url) as provider:
        tenant = provider.read()
        group = next(g for g in tenant.groups if g.assignedLicenses and not g.membershipRule)
        sku = group.assignedLicenses[0].skuId
        for _ in range(2):
            provider.apply(AddLicense(group.id, group.displayName, group.assignedLicenses[0]))
        for license in group.assignedLicenses:
            for _ in range(2):
                provider.apply(RemoveLicense(group.id, group.displayName, license.skuId))
        for _ in range(2):
            provider.apply(DeleteGroup(group.id, group.displayName))
        after = provider.read()
    assert all(g.id != group.id for g in after.groups)
    assert sku  # the group assigned a license before


def test_entras_refusals_are_licensing_errors_with_its_reason(tenant_file):
    with running(str(tenant_file)) as emulator, graph(emulator.url) as provider:
        tenant = provider.read()
        licensed = next(g for g in tenant.groups if g.assignedLicenses)
        with pytest.raises(LicensingError) as refused:
            provider.apply(DeleteGroup(licensed.id, licensed.displayName))
        dynamic = next(g for g in tenant.groups if g.membershipRule)
        with pytest.raises(LicensingError) as dynamic_refused:
            provider.apply(AddMembers(dynamic.id, dynamic.displayName, (tenant.users[0].id,)))
    assert licensed.displayName in str(refused.value)
    assert dynamic.displayName in str(dynamic_refused.value)
    for error in (refused.value, dynamic_refused.value):
        assert SECRET not in str(error)


def test_a_failed_request_never_shows_the_token(tenant_file):
    with running(str(tenant_file)) as emulator, graph(emulator.url) as provider:
        missing = "00000000-0000-0000-0000-000000000000"
        with pytest.raises(ProviderError) as caught:
            provider.apply(UpdateGroup(missing, "Nobody", "description", None, "x"))
    assert "PATCH /groups/" in str(caught.value) and "404" in str(caught.value)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value.args)


def test_with_faults_on_the_same_end_state_is_reached(tenant_file, tmp_path):
    shutil.copy(tenant_file, tmp_path / "clean.json")
    faults = "429:every=3,retry-after=0.05;503:rate=0.2;drop:every=11;seed=7"
    ends = []
    for source, spec in ((tenant_file, faults), (tmp_path / "clean.json", None)):
        with running(str(source), faults=spec) as emulator, graph(emulator.url) as provider:
            tenant = provider.read()
            static = next(g for g in tenant.groups if not g.membershipRule and g.members)
            others = tuple(u.id for u in tenant.users if u.id not in static.members)[:30]
            provider.apply(AddMembers(static.id, static.displayName, others))
            provider.apply(RemoveMembers(static.id, static.displayName, static.members[:25]))
            provider.apply(UpdateGroup(static.id, static.displayName, "description", None, "x"))
            after = provider.read()
            ends.append((sorted(_by_id(after, static.displayName).members), _licenses(after)))
    assert ends[0] == ends[1]


def test_adding_members_alongside_one_already_there_adds_the_new_ones(tenant_file):
    # Graph refuses a whole bind when one member is already in: nobody is added by it
    with running(str(tenant_file)) as emulator, graph(emulator.url) as provider:
        tenant = provider.read()
        static = next(g for g in tenant.groups if not g.membershipRule and g.members)
        newcomers = tuple(u.id for u in tenant.users if u.id not in static.members)[:3]
        provider.apply(AddMembers(static.id, static.displayName, (static.members[0], *newcomers)))
        after = _by_id(provider.read(), static.displayName)
    assert set(newcomers) <= set(after.members)


def test_removals_already_made_cost_one_batch_not_one_each(tenant_file):
    with running(str(tenant_file)) as emulator, graph(emulator.url) as provider:
        tenant = provider.read()
        group = max(
            (g for g in tenant.groups if not g.membershipRule), key=lambda g: len(g.members)
        )
        members = group.members[:10]
        provider.apply(RemoveMembers(group.id, group.displayName, members))
        emulator.reset_counts()
        provider.apply(RemoveMembers(group.id, group.displayName, members))
        assert emulator.counts().get("POST /$batch") == 1


def test_reprocess_retries_failed_assignments_20_users_to_a_batch(tenant_file):
    with running(str(tenant_file)) as emulator, graph(emulator.url) as provider:
        tenant = provider.read()
        group = _by_id(tenant, "LIC-PowerBI-Pro")
        outside = [u.id for u in tenant.users if u.id not in group.members and u.accountEnabled]
        provider.apply(AddMembers(group.id, group.displayName, tuple(outside[:8])))
        provider.apply(RemoveMembers(group.id, group.displayName, group.members[:3]))
        short = [
            u.id
            for u in provider.read().users
            if any(s.error == "CountViolation" for s in u.licenseAssignmentStates)
        ]
        assert len(short) == 3
        others = [u.id for u in tenant.users if u.id not in short][:19]
        unknown = "00000000-0000-4000-8000-000000000001"
        emulator.reset_counts()
        failed = provider.reprocess([*short, *others, unknown])
        counts = emulator.counts()
        after = {u.id: u for u in provider.read().users}
    assert failed == {unknown: "no such user"}
    assert counts["POST /$batch"] == 2  # 23 users: a batch of 20 and one of 3
    assert counts["$batch: POST /users/{id}/reprocessLicenseAssignment"] == 23
    for user_id in short:
        assert all(s.error == "None" for s in after[user_id].licenseAssignmentStates)


# --- answers lost after the write, replication lag, license processing, batch order ---------


def _groups_named(tenant: Tenant, name: str) -> list[Group]:
    return [group for group in tenant.groups if group.displayName == name]


@pytest.mark.parametrize("kind", ["504-after", "drop-after"])
def test_a_create_whose_answer_was_lost_makes_the_group_once(tenant_file, kind):
    placeholder = new_group_id("LIC-Test")
    # the provider's first request is the POST /groups: it makes the group, its answer is lost
    with running(str(tenant_file), faults=f"{kind}:times=1") as emulator:
        with graph(emulator.url) as provider:
            made = provider.apply(CreateGroup(Group(placeholder, "LIC-Test")))
            assert emulator.faults_injected() == {kind: 1}
        (group,) = _groups_named(emulator.tenant.read(), "LIC-Test")
    assert made.groupId == group.id


def _every_kind_of_change(tenant: Tenant) -> list[Change]:
    """Create; members in and out of a licensed group; licenses added, changed and removed; a
    rule changed; a group retired."""
    placeholder = new_group_id("LIC-Test")
    static = next(g for g in tenant.groups if not g.membershipRule and g.assignedLicenses)
    dynamic = [g for g in tenant.groups if g.membershipRule and g.assignedLicenses]
    retired, ruled = min(dynamic, key=lambda g: len(g.members)), dynamic[0]
    sku = next(s for s in tenant.subscribedSkus if len(s.servicePlans) > 1)
    plan = sku.servicePlans[0].servicePlanId
    outsiders = tuple(u.id for u in tenant.users if u.id not in static.members)
    rule = '(user.department -eq "Nobody")'
    return [
        CreateGroup(Group(placeholder, "LIC-Test", description="a test group")),
        AddMembers(placeholder, "LIC-Test", outsiders[:45]),
        AddLicense(placeholder, "LIC-Test", AssignedLicense(sku.skuId)),
        ChangeDisabledPlans(placeholder, "LIC-Test", sku.skuId, frozenset(), frozenset({plan})),
        AddMembers(static.id, static.displayName, (static.members[0], *outsiders[45:70])),
        RemoveMembers(static.id, static.displayName, static.members[:5]),
        UpdateGroup(static.id, static.displayName, "description", static.description, "x"),
        UpdateGroup(ruled.id, ruled.displayName, "membershipRule", ruled.membershipRule, rule),
        *(
            RemoveLicense(retired.id, retired.displayName, a.skuId)
            for a in retired.assignedLicenses
        ),
        DeleteGroup(retired.id, retired.displayName),
    ]


def _end_state(tenant: Tenant) -> dict:
    """Groups by name with their members and licenses, and every user's licenses."""
    groups: dict[str, list] = {}
    for g in tenant.groups:
        groups.setdefault(g.displayName, []).append((sorted(g.members), g.assignedLicenses))
    return {"groups": groups, "licenses": _licenses(tenant)}


def test_with_answers_lost_after_the_writes_apply_reaches_the_same_end_state(tenant_file, tmp_path):
    shutil.copy(tenant_file, tmp_path / "clean.json")
    # the first request (POST /groups) and then many more: made, but answered 504 or dropped
    faults = "504-after:times=1;504-after:rate=0.25;drop-after:rate=0.15;seed=5"
    ends, injected = [], []
    for source, spec in ((tenant_file, faults), (tmp_path / "clean.json", None)):
        with running(str(source), faults=spec) as emulator:
            # read from the store, so the provider's first request is the create
            changes = _every_kind_of_change(emulator.tenant.read())
            with graph(emulator.url) as provider:
                applied = [provider.apply(change) for change in changes]
            injected.append(emulator.faults_injected())
            ends.append(_end_state(emulator.tenant.read()))
        assert all(a.settled and not a.processingFailed for a in applied)
    assert injected[0].get("504-after", 0) > 1 and injected[0].get("drop-after"), injected
    assert len(ends[0]["groups"]["LIC-Test"]) == 1  # made once
    assert ends[0] == ends[1]


@pytest.mark.parametrize("lag", ["lag:requests=3", "lag:ms=600"])
def test_a_group_graph_does_not_know_yet_is_waited_for(tenant_file, lag):
    with running(str(tenant_file), faults=lag) as emulator:
        tenant = emulator.tenant.read()
        users = tuple(user.id for user in tenant.users[:30])
        sku = tenant.subscribedSkus[0].skuId
        placeholder = new_group_id("LIC-Test")
        with graph(emulator.url) as provider:
            provider.apply(CreateGroup(Group(placeholder, "LIC-Test")))
            licensed = provider.apply(AddLicense(placeholder, "LIC-Test", AssignedLicense(sku)))
            added = provider.apply(AddMembers(placeholder, "LIC-Test", users))
        assert emulator.faults_injected()["lag"] >= 1
        (group,) = _groups_named(emulator.tenant.read(), "LIC-Test")
    assert licensed.settled and added.settled
    assert group.assignedLicenses == (AssignedLicense(sku),)
    assert sorted(group.members) == sorted(users)


def test_the_settle_poll_does_not_take_a_new_group_it_cant_see_yet_for_gone(tenant_file):
    with running(str(tenant_file), faults="lag:ms=5000") as emulator:
        placeholder = new_group_id("LIC-Test")
        with GraphTenant(emulator.url, token=lambda: SECRET, retry=FAST, settle_timeout=0.5) as p:
            p.apply(CreateGroup(Group(placeholder, "LIC-Test")))
            # no member to add: the first request naming the group is the poll, answered 404
            added = p.apply(AddMembers(placeholder, "LIC-Test", ()))
        assert emulator.faults_injected()["lag"] > 1  # polled again, not taken for gone
    assert not added.settled


def test_a_404_on_a_group_not_made_this_session_is_reported_at_once(tenant_file):
    missing = "00000000-0000-0000-0000-000000000000"
    with running(str(tenant_file), faults="lag:requests=5") as emulator:
        with graph(emulator.url) as provider:
            provider.apply(CreateGroup(Group(new_group_id("LIC-Test"), "LIC-Test")))
            with pytest.raises(ProviderError) as caught:
                provider.apply(UpdateGroup(missing, "Nobody", "description", None, "x"))
            with pytest.raises(ProviderError):
                provider.apply(AddLicense(missing, "Nobody", AssignedLicense(missing)))
        counts = emulator.counts()
    assert "404" in str(caught.value)
    assert counts["PATCH /groups/{id}"] == 1 and counts["POST /groups/{id}/assignLicense"] == 1


def test_member_changes_of_a_licensed_group_wait_for_its_license_processing(tenant_file):
    with running(str(tenant_file)) as emulator:
        tenant = emulator.tenant.read()
        group = next(g for g in tenant.groups if g.assignedLicenses and not g.membershipRule)
        outsider = next(u.id for u in tenant.users if u.id not in group.members)
        change = AddMembers(group.id, group.displayName, (outsider,))
        with GraphTenant(emulator.url, token=lambda: SECRET, retry=FAST, settle_timeout=0) as p:
            hurried = p.apply(change)
        emulator.reset_counts()
        with graph(emulator.url) as provider:
            waited = provider.apply(RemoveMembers(group.id, group.displayName, (outsider,)))
        polls = emulator.counts()["GET /groups/{id}"]
    assert not hurried.settled  # Entra queued the group's processing after the member change
    assert waited.settled and polls == 3  # queued, in progress, complete


def test_a_failed_license_processing_is_reported_not_taken_for_done(tenant_file):
    with running(str(tenant_file), faults="license-failed:times=1") as emulator:
        tenant = emulator.tenant.read()
        group = next(g for g in tenant.groups if g.assignedLicenses and not g.membershipRule)
        outsider = next(u.id for u in tenant.users if u.id not in group.members)
        with graph(emulator.url) as provider:
            failed = provider.apply(
                AddLicense(group.id, group.displayName, group.assignedLicenses[0])
            )
            fine = provider.apply(AddMembers(group.id, group.displayName, (outsider,)))
    assert failed.settled and failed.processingFailed
    assert fine.settled and not fine.processingFailed


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_member_batches_reach_the_same_end_whatever_order_graph_runs_them_in(tenant_file, seed):
    with running(str(tenant_file), faults=f"seed={seed}") as emulator:
        tenant = emulator.tenant.read()
        static = next(g for g in tenant.groups if not g.membershipRule and g.members)
        others = tuple(u.id for u in tenant.users if u.id not in static.members)[:50]
        with graph(emulator.url) as provider:
            # one already a member: its bind of 20 is refused whole and split
            provider.apply(AddMembers(static.id, static.displayName, (static.members[0], *others)))
            provider.apply(RemoveMembers(static.id, static.displayName, static.members[:30]))
            read = _by_id(provider.read(), static.displayName)
    assert sorted(read.members) == sorted({*static.members[30:], *others})


def test_apply_hears_of_each_poll_that_finds_license_processing_unfinished(tenant_file):
    heard = []
    with running(str(tenant_file), license_reads=2) as emulator, graph(emulator.url) as provider:
        provider.on_processing_wait(heard.append)
        group = _by_id(provider.read(), "LIC-PowerBI-Pro")
        sku = group.assignedLicenses[0].skuId
        provider.apply(RemoveLicense(group.id, group.displayName, sku))
    assert [w.licenseProcessingState for w in heard] == [
        "QueuedForProcessing",
        "ProcessingInProgress",
    ]
    assert {(w.groupId, w.displayName) for w in heard} == {(group.id, "LIC-PowerBI-Pro")}
    assert heard[0].seconds <= heard[1].seconds


def test_only_license_changes_of_one_group_are_made_together_anything_else_is_refused(
    tenant_file,
):
    with running(str(tenant_file)) as emulator, graph(emulator.url) as provider:
        group = _by_id(provider.read(), "LIC-M365-E5-Sales")
        license_ = AddLicense(group.id, group.displayName, AssignedLicense(VISIO))
        new = Group(new_group_id("LIC-New"), "LIC-New")
        for together in (
            [CreateGroup(new), license_],
            [AddMembers(group.id, group.displayName, ()), license_],
        ):
            with pytest.raises(ProviderError, match="only license changes of one group"):
                provider.apply_together(together)
        assert emulator.counts().get("POST /groups", 0) == 0
