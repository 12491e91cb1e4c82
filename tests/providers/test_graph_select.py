"""Which user properties the Graph provider reads: licensing's, and what the rules name."""

from __future__ import annotations

from reconciler.emulator import running
from reconciler.engine.membership import dynamic_members
from reconciler.providers.graph import GraphTenant
from reconciler.providers.graph_select import (
    LICENSING,
    LICENSING_LISTS,
    MANAGER,
    covering,
    every_rule_property,
    tenant_rule_properties,
    user_properties,
)
from tests.providers.graph_support import FAST, SECRET

EXTENSION = "extension_b7d8e5fa4f2c4a1e9d3b6c5a4f3e2d1c_costCenter"


def dynamic(rule: str, types: tuple[str, ...] = ("DynamicMembership",)) -> dict:
    return {"displayName": "G", "groupTypes": list(types), "membershipRule": rule}


def test_without_the_policys_rules_every_property_a_rule_can_name_is_read():
    names = user_properties(None, [])
    assert set(names) == set(LICENSING) | set(LICENSING_LISTS) | every_rule_property()
    assert {"department", "onPremisesExtensionAttributes", MANAGER} <= set(names)
    assert "memberOf" not in names  # it comes from the groups' members


def test_with_the_policys_rules_only_what_they_and_the_tenants_rules_name_is_read():
    groups = [
        dynamic('user.country -eq "India"'),
        dynamic('user.jobTitle -eq "x"', types=()),  # not dynamic: its rule isn't evaluated
        dynamic('device.deviceOSType -eq "iOS"'),  # a device rule reads no user
        dynamic("user.department -eq"),  # Entra wouldn't have it; the engine will say so
    ]
    names = user_properties({"department", "businessPhones"}, groups)
    assert names[: len(LICENSING)] == list(LICENSING)
    assert names[-len(LICENSING_LISTS) :] == list(LICENSING_LISTS)
    assert set(names[len(LICENSING) : -len(LICENSING_LISTS)]) == {
        "department",
        "country",
        "businessPhones",
    }


def test_direct_reports_custom_extensions_and_extension_attributes_name_their_graph_property():
    groups = [
        dynamic('Direct Reports for "5d4c1b6a-1f2e-4d3c-9b8a-7f6e5d4c3b2a"'),
        dynamic(f'user.{EXTENSION} -eq "4711" -or user.extensionAttribute7 -eq "x"'),
        dynamic('user.memberOf -any (group.objectId -in ["5d4c1b6a-1f2e-4d3c-9b8a-7f6e5d4c3b2a"])'),
    ]
    assert tenant_rule_properties(groups) == {MANAGER, EXTENSION, "onPremisesExtensionAttributes"}
    names = user_properties(set(), groups)
    assert names[len(LICENSING) :] == [
        "onPremisesExtensionAttributes",
        EXTENSION,
        MANAGER,
        *LICENSING_LISTS,
    ]


def test_a_saved_select_that_covers_what_is_wanted_is_kept_else_both_are_read():
    assert covering(["id", "department"], "id,department,country") == [
        "id",
        "department",
        "country",
    ]
    assert covering(["id", "city"], "id,department") == ["id", "city", "department"]
    assert covering(["id"], None) == ["id"]


# --- through the emulator -------------------------------------------------------------------


def graph(url: str, rule_properties=None, state_dir=None) -> GraphTenant:
    return GraphTenant(
        url,
        token=lambda: SECRET,
        retry=FAST,
        state_dir=state_dir,
        rule_properties=rule_properties,
    )


def test_a_read_for_a_policy_holds_its_properties_and_the_tenants_rules_not_the_rest(
    tenant_file,
):
    with running(str(tenant_file)) as emulator:
        with graph(emulator.url, {"city"}) as provider:
            narrow = provider.read()
        with graph(emulator.url) as provider:
            whole = provider.read()
    attributes = set().union(*(user.attributes for user in narrow.users))
    # the tenant's rules name department, accountEnabled, jobTitle and userType
    assert {"city", "department", "jobTitle", "userType"} <= attributes
    assert not {"companyName", "employeeId", "surname", "officeLocation"} & attributes
    assert "companyName" in set().union(*(user.attributes for user in whole.users))
    # the engine, evaluating the tenant's rules on the narrow read, finds Graph's members
    dynamic = dynamic_members(narrow)
    assert dynamic and all(
        set(dynamic[group.id]) == set(group.members)
        for group in narrow.groups
        if group.id in dynamic
    )
    assert {u.id: u.assignedLicenses for u in narrow.users} == {
        u.id: u.assignedLicenses for u in whole.users
    }


def test_a_policy_naming_a_new_property_reads_users_whole_once_then_goes_on_from_delta(
    tenant_file, tmp_path
):
    state = tmp_path / ".reconciler"
    with running(str(tenant_file)) as emulator:
        with graph(emulator.url, {"city"}, state) as provider:
            provider.read()
        emulator.reset_counts()
        with graph(emulator.url, {"city", "companyName"}, state) as provider:
            wider = provider.read()
            assert provider.last_read == "full"
        assert emulator.counts()["GET /groups/delta"] == 1  # the groups went on from delta
        with graph(emulator.url, {"city"}, state) as provider:
            again = provider.read()
            # the saved round covers the narrower policy: no need to read anything whole
            assert provider.last_read == "delta"
    assert all("companyName" in user.attributes for user in wider.users)
    assert again == wider
