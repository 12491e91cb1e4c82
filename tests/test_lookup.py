"""Names looked up as every command looks them up (reconciler/lookup.py): products, service
plans and users by name or id, ignoring case, with one wording for a name that isn't there."""

from reconciler.lookup import Catalog, Directory, Names
from reconciler.model import Organization, PrepaidUnits, ServicePlan, Sku, Tenant, User

E5 = Sku(
    "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
    "SPE_E5",
    (ServicePlan("efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE"),),
    PrepaidUnits(5),
)
EMS = Sku("efccb6f7-5641-4e0e-bd10-b4976e1bf68e", "EMS", (), PrepaidUnits(5))
ANA = User("a1", "ana@contoso.com", displayName="Ana Lima")


def test_products_and_service_plans_by_name_or_id_ignoring_case():
    catalog = Catalog((E5, EMS))
    assert catalog.sku("spe_e5") is E5
    assert catalog.sku("06EBC4EE-1BB5-47DD-8120-11324BC54E06") is E5
    exchange = E5.servicePlans[0]
    assert catalog.plan("exchange_s_enterprise") is exchange
    assert catalog.plan("EFB87545-963C-4E0D-99DF-69C6916D9EB0", E5) is exchange
    assert catalog.plan("EXCHANGE_S_ENTERPRISE", EMS) is None


def test_an_unknown_name_is_worded_once_for_every_command():
    catalog = Catalog((E5, EMS))
    assert catalog.unknown_sku("SPE_E6") == (
        "unknown SKU 'SPE_E6' (did you mean 'SPE_E5'?); the tenant has: EMS, SPE_E5"
    )
    assert Catalog(()).unknown_sku("X") == "unknown SKU 'X'; the tenant has no subscribed SKUs"
    assert catalog.unknown_plan("EXCHANGE_S_ENTERPRIS") == (
        "unknown service plan 'EXCHANGE_S_ENTERPRIS' (did you mean 'EXCHANGE_S_ENTERPRISE'?)"
    )
    assert catalog.unknown_plan("TEAMS1", E5) == "unknown service plan 'TEAMS1' in SPE_E5"


def test_users_by_upn_or_id_and_a_suggestion_by_name_or_display_name():
    users = Directory((ANA,))
    assert users.user(" ANA@contoso.com ") is ANA
    assert users.user("A1") is ANA
    assert users.user("ann@contoso.com") is None
    assert users.unknown_user("ana.lima") == (
        "no user 'ana.lima' in the tenant (did you mean 'ana@contoso.com'?); give a "
        "userPrincipalName or an object id"
    )
    # among many users, no suggestion: finding the closest would cost more than it helps
    many = Directory((ANA,), suggest_among=1)
    assert "did you mean" not in many.unknown_user("ana.lima")


def test_names_by_id_from_the_first_tenant_given_first():
    before = Tenant(Organization("o", "Contoso", "US", ()), (E5,), (ANA,), ())
    names = Names(before)
    assert names.part_number(E5.skuId.upper()) == "SPE_E5"
    assert names.part_number("nope") is None
    assert names.plan_names(["EFB87545-963C-4E0D-99DF-69C6916D9EB0"]) == ("EXCHANGE_S_ENTERPRISE",)
