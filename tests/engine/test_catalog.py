"""The catalog of Microsoft's documented service-plan dependencies and conflicts."""

import copy
import re
from collections.abc import Callable

import pytest

from reconciler.engine import recompute, simulate
from reconciler.engine.catalog import DEFAULT_RULES, read_catalog, rules_from_catalog
from reconciler.model import (
    ACTIVE,
    ACTIVE_WITH_ERROR,
    DEPENDENCY_VIOLATION,
    NO_ERROR,
    AssignedLicense,
    Group,
    LicenseAssignmentState,
    Organization,
    PrepaidUnits,
    ServicePlan,
    Sku,
    Tenant,
)
from tests.builders import user

# service plans, as Microsoft's product and service plan table names them
AUDIO_CONFERENCING = "3e26ee1f-8a5f-4d52-aee2-b81ce45c8f40"  # MCOMEETADV
SKYPE_PLAN_2 = "0feaeb32-d00e-4d66-bd5a-43b5b83db82c"  # MCOSTANDARD
SKYPE_PLAN_1 = "afc06cb0-b4f4-4473-8286-d644f70d8faf"  # MCOIMP (frontline products)
TEAMS = "57ff2da0-773e-42df-b2af-ffb7a2317929"  # TEAMS1
PHONE_SYSTEM = "4828c8ec-dc2e-4779-b502-87ac9ce28ab7"  # MCOEV
PHONE_RESOURCE_ACCOUNT = "f47330e9-c134-43b3-9993-e7f004506889"  # MCOEV_VIRTUALUSER
DOMESTIC_CALLING = "4ed3ff63-69d7-4fb7-b984-5aec7f605ca8"  # MCOPSTN1
INTERNATIONAL_CALLING = "5a10155d-f5c1-411a-a8ec-e99aae125390"  # MCOPSTN2
COMMUNICATIONS_CREDITS = "505e180f-f7e0-4b65-91d4-00d670bbd18c"  # MCOPSTNC
ARCHIVING = "176a09a6-7ec5-4039-ac02-b2791c6ba793"  # EXCHANGE_S_ARCHIVE_ADDON
EXCHANGE_PLAN_1 = "9aaf7827-d63c-4b61-89c3-182f06f82e5c"  # EXCHANGE_S_STANDARD
EXCHANGE_PLAN_2 = "efb87545-963c-4e0d-99df-69c6916d9eb0"  # EXCHANGE_S_ENTERPRISE
EXCHANGE_KIOSK = "4a82b400-a79f-41a4-b4e2-e94f5787b113"  # EXCHANGE_S_DESKLESS
WORKPLACE_ANALYTICS = "f477b0f0-3bb1-4890-940c-40fcee6ce05f"  # WORKPLACE_ANALYTICS
SHAREPOINT_PLAN_1 = "c7699d2e-19aa-44de-8edf-1736da088ca1"  # SHAREPOINTSTANDARD
SHAREPOINT_PLAN_2 = "5dbe027f-2339-4123-9542-606e4d348a72"  # SHAREPOINTENTERPRISE

# products
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"  # ENTERPRISEPACK
AUDIO_CONFERENCING_SKU = "0c266dff-15dd-4b49-8397-2bb16070ed52"  # MCOMEETADV
ROOMS_BASIC = "6af4b3d6-14bb-4a2a-960c-6c902aad34f3"  # Microsoft_Teams_Rooms_Basic

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SECTIONS = ("dependencies", "mutuallyExclusive", "noLongerMutuallyExclusive")


def _entries() -> list[dict]:
    catalog = read_catalog()
    return [entry for section in SECTIONS for entry in catalog[section]]


def _plan_refs() -> list[dict]:
    return [
        plan
        for entry in _entries()
        for key in ("servicePlans", "requires")
        for plan in entry.get(key, [])
    ]


def _unmet(*plans: str) -> frozenset[str]:
    return DEFAULT_RULES.unmet(frozenset(plans))


# --- the data --------------------------------------------------------------------------------


def test_the_catalog_loads_into_the_default_rules():
    assert rules_from_catalog(read_catalog()) == DEFAULT_RULES
    assert len(DEFAULT_RULES.dependencies) >= 6
    assert DEFAULT_RULES.mutuallyExclusive


def test_every_plan_is_a_lower_case_guid_with_a_name():
    refs = _plan_refs()
    assert refs
    for plan in refs:
        assert GUID.fullmatch(plan["servicePlanId"]), plan
        assert plan["servicePlanName"].strip(), plan


def test_a_plan_id_has_one_name_throughout():
    names: dict[str, set[str]] = {}
    for plan in _plan_refs():
        names.setdefault(plan["servicePlanId"], set()).add(plan["servicePlanName"])
    assert {plan_id: found for plan_id, found in names.items() if len(found) > 1} == {}


def test_every_entry_rests_on_microsoft_s_documentation():
    entries = _entries()
    assert len({entry["id"] for entry in entries}) == len(entries)
    for entry in entries:
        assert entry["sources"], entry["id"]
        for source in entry["sources"]:
            assert source["url"].startswith(
                ("https://learn.microsoft.com", "https://github.com/MicrosoftDocs")
            ), entry["id"]
            assert source["title"].strip() and source["says"].strip(), entry["id"]


def _broken(change: Callable[[dict], object]) -> dict:
    catalog = copy.deepcopy(read_catalog())
    change(catalog["dependencies"][0])
    return catalog


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e["servicePlans"][0].update(servicePlanId=AUDIO_CONFERENCING.upper()),
        lambda e: e["servicePlans"][0].update(servicePlanName=" "),
        lambda e: e["requires"][0].update(servicePlanName="SKYPE"),  # another name for the id
        lambda e: e.update(sources=[]),
        lambda e: e["sources"][0].update(url="https://example.com/blog"),
        lambda e: e["sources"][0].update(says=""),
        lambda e: e.update(requires=e["requires"] + e["servicePlans"]),
    ],
    ids=[
        "upper-case id",
        "no name",
        "two names",
        "no source",
        "not microsoft",
        "says nothing",
        "own prerequisite",
    ],
)
def test_a_malformed_or_unsourced_entry_is_refused(change: Callable[[dict], object]):
    with pytest.raises(ValueError):
        rules_from_catalog(_broken(change))


# --- what the rules say ----------------------------------------------------------------------


def test_audio_conferencing_needs_skype_for_business_or_teams():
    assert _unmet(AUDIO_CONFERENCING) == {AUDIO_CONFERENCING}
    assert _unmet(AUDIO_CONFERENCING, SKYPE_PLAN_2) == frozenset()
    # Teams Rooms Basic has Audio Conferencing beside Teams and no Skype for Business
    assert _unmet(AUDIO_CONFERENCING, TEAMS) == frozenset()
    assert DEFAULT_RULES.prerequisites([AUDIO_CONFERENCING]) == {SKYPE_PLAN_2, TEAMS}


def test_phone_system_needs_teams_or_skype_for_business():
    assert _unmet(PHONE_SYSTEM) == {PHONE_SYSTEM}
    assert _unmet(PHONE_SYSTEM, TEAMS) == frozenset()
    assert _unmet(PHONE_SYSTEM, SKYPE_PLAN_2) == frozenset()
    # Microsoft 365 F1 carries Skype for Business (Plan 1), and Business Voice is sold for it
    assert _unmet(PHONE_SYSTEM, SKYPE_PLAN_1) == frozenset()
    assert DEFAULT_RULES.prerequisites([PHONE_SYSTEM]) == {SKYPE_PLAN_2, SKYPE_PLAN_1, TEAMS}


def test_calling_plans_need_phone_system():
    assert _unmet(DOMESTIC_CALLING, SKYPE_PLAN_2) == {DOMESTIC_CALLING}
    assert _unmet(DOMESTIC_CALLING, INTERNATIONAL_CALLING, PHONE_SYSTEM, SKYPE_PLAN_2) == set()
    # a resource account dials out with its own Phone System plan
    assert _unmet(INTERNATIONAL_CALLING, PHONE_RESOURCE_ACCOUNT) == frozenset()


def test_communications_credits_need_audio_conferencing_or_calling():
    assert _unmet(COMMUNICATIONS_CREDITS) == {COMMUNICATIONS_CREDITS}
    assert _unmet(COMMUNICATIONS_CREDITS, AUDIO_CONFERENCING, TEAMS) == frozenset()
    assert _unmet(COMMUNICATIONS_CREDITS, DOMESTIC_CALLING, PHONE_SYSTEM, SKYPE_PLAN_2) == set()


def test_exchange_online_archiving_needs_an_exchange_online_mailbox():
    assert _unmet(ARCHIVING) == {ARCHIVING}
    for mailbox in (EXCHANGE_PLAN_1, EXCHANGE_PLAN_2, EXCHANGE_KIOSK):
        assert _unmet(ARCHIVING, mailbox) == frozenset()
    assert DEFAULT_RULES.prerequisites([ARCHIVING]) == {
        EXCHANGE_PLAN_1,
        EXCHANGE_PLAN_2,
        EXCHANGE_KIOSK,
    }


def test_workplace_analytics_needs_exchange_online_plan_1_or_2():
    assert _unmet(WORKPLACE_ANALYTICS, EXCHANGE_KIOSK) == {WORKPLACE_ANALYTICS}
    assert _unmet(WORKPLACE_ANALYTICS, EXCHANGE_PLAN_1) == frozenset()
    assert _unmet(WORKPLACE_ANALYTICS, EXCHANGE_PLAN_2) == frozenset()


def test_a_suite_carrying_its_own_prerequisites_meets_them():
    e5 = (SKYPE_PLAN_2, TEAMS, AUDIO_CONFERENCING, PHONE_SYSTEM, EXCHANGE_PLAN_2, SHAREPOINT_PLAN_2)
    assert _unmet(*e5) == frozenset()


def test_sharepoint_plan_1_and_2_conflict_but_exchange_plan_1_and_2_no_longer_do():
    assert DEFAULT_RULES.conflict([SHAREPOINT_PLAN_2], [SHAREPOINT_PLAN_1])
    assert not DEFAULT_RULES.conflict([EXCHANGE_PLAN_2], [EXCHANGE_PLAN_1])
    assert not any(EXCHANGE_PLAN_1 in exclusive for exclusive in DEFAULT_RULES.mutuallyExclusive)


# --- Microsoft's example, end to end ---------------------------------------------------------

SKUS = (
    Sku(
        E3,
        "ENTERPRISEPACK",
        (
            ServicePlan(EXCHANGE_PLAN_2, "EXCHANGE_S_ENTERPRISE"),
            ServicePlan(SHAREPOINT_PLAN_2, "SHAREPOINTENTERPRISE"),
            ServicePlan(SKYPE_PLAN_2, "MCOSTANDARD"),
            ServicePlan(TEAMS, "TEAMS1"),
        ),
        PrepaidUnits(enabled=10),
    ),
    Sku(
        AUDIO_CONFERENCING_SKU,
        "MCOMEETADV",
        (ServicePlan(AUDIO_CONFERENCING, "MCOMEETADV"),),
        PrepaidUnits(enabled=10),
    ),
    Sku(
        ROOMS_BASIC,
        "Microsoft_Teams_Rooms_Basic",
        (ServicePlan(AUDIO_CONFERENCING, "MCOMEETADV"), ServicePlan(TEAMS, "TEAMS1")),
        PrepaidUnits(enabled=10),
    ),
)


def _office_group(*licenses: AssignedLicense) -> Group:
    return Group(
        "office", "LIC-O365-E3-Legacy", members=("alice", "bob"), assignedLicenses=licenses
    )


def _tenant() -> Tenant:
    """Alice and Bob have E3 from a group; Bob also has Audio Conferencing assigned directly."""
    direct = LicenseAssignmentState(AUDIO_CONFERENCING_SKU)
    users = (user("alice", "Sales"), user("bob", "Sales", licenseAssignmentStates=(direct,)))
    return recompute(
        Tenant(
            Organization("org", "Contoso", "US"), SKUS, users, (_office_group(AssignedLicense(E3)),)
        )
    )


def _held(tenant: Tenant, user_id: str) -> set[tuple[str, str | None, str, str]]:
    found = next(u for u in tenant.users if u.id == user_id)
    return {(s.skuId, s.assignedByGroup, s.state, s.error) for s in found.licenseAssignmentStates}


def _consumed(tenant: Tenant, sku_id: str) -> int:
    return next(sku.consumedUnits for sku in tenant.subscribedSkus if sku.skuId == sku_id)


def test_retiring_a_licensed_group_keeps_e3_for_a_member_with_audio_conferencing():
    """Microsoft's example, with no dependency declared by the policy: the catalog knows it."""
    before = _tenant()  # simulate and recompute apply DEFAULT_RULES, no settings.dependentPlans
    assert _consumed(before, E3) == 2
    # retiring a group: its licenses go first, as Entra requires, then the group
    unlicensed = simulate(before, {"office": _office_group()})
    deleted = simulate(unlicensed, {"office": None})
    for after in (unlicensed, deleted):
        assert (E3, "office", ACTIVE_WITH_ERROR, DEPENDENCY_VIOLATION) in _held(after, "bob")
        assert (AUDIO_CONFERENCING_SKU, None, ACTIVE, NO_ERROR) in _held(after, "bob")
        assert _held(after, "alice") == set()
        assert _consumed(after, E3) == 1
    bob = next(u for u in deleted.users if u.id == "bob")
    assert {assigned.skuId for assigned in bob.assignedLicenses} == {E3, AUDIO_CONFERENCING_SKU}


def test_a_product_with_audio_conferencing_beside_teams_is_assigned_without_error():
    room = user("room", "Facilities")
    rooms = Group(
        "rooms", "LIC-Rooms", members=("room",), assignedLicenses=(AssignedLicense(ROOMS_BASIC),)
    )
    after = recompute(Tenant(Organization("org", "Contoso", "US"), SKUS, (room,), (rooms,)))
    assert _held(after, "room") == {(ROOMS_BASIC, "rooms", ACTIVE, NO_ERROR)}
