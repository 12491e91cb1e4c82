"""A small tenant and policy for the policy test tests, with Microsoft's real SKU and service plan
ids: Sales gets E5 without Viva Engage, leadership gets all of E5, Visio is one seat short.

The policy narrows the Sales rule to the United States: ben (Canada) loses E5, and dee, the VP
in Canada, keeps it through LIC-Leadership.
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from reconciler.engine import recompute
from reconciler.model import (
    AssignedLicense,
    Group,
    Organization,
    PrepaidUnits,
    ServicePlan,
    Sku,
    Tenant,
    User,
)
from reconciler.policy import load_policy
from reconciler.policy_tests import PolicyTestRun, plan_for_tests, read_tests, run_tests

SPE_E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"
VISIOCLIENT = "c5928f49-12ba-48f7-ada3-0d743a3601d5"
YAMMER_ENTERPRISE = "7547a3fe-08ee-4ccb-b430-5077c5041653"
EXCHANGE_S_ENTERPRISE = "efb87545-963c-4e0d-99df-69c6916d9eb0"
TEAMS1 = "57ff2da0-773e-42df-b2af-ffb7a2317929"
INTUNE_A = "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"
AAD_PREMIUM = "41781fb2-bc02-4b7c-bd55-b576c07bb09d"
VISIO_CLIENT_SUBSCRIPTION = "663a804f-1c30-4ff0-9915-9db84f0d1cea"
VISIOONLINE = "2bdbaf8f-738f-4ac7-9234-3c3ee2ce7d0f"

SALES_RULE = 'user.department -eq "Sales" -and user.accountEnabled -eq true'
US_SALES_RULE = SALES_RULE + ' -and user.country -in ["United States"]'
LEADERSHIP_RULE = 'user.jobTitle -startsWith "VP"'


def sku(sku_id: str, name: str, seats: int, *plans: tuple[str, str]) -> Sku:
    return Sku(sku_id, name, tuple(ServicePlan(*plan) for plan in plans), PrepaidUnits(seats))


SKUS = (
    sku(
        SPE_E5,
        "SPE_E5",
        10,
        (YAMMER_ENTERPRISE, "YAMMER_ENTERPRISE"),
        (EXCHANGE_S_ENTERPRISE, "EXCHANGE_S_ENTERPRISE"),
        (TEAMS1, "TEAMS1"),
    ),
    sku(EMS, "EMS", 10, (INTUNE_A, "INTUNE_A"), (AAD_PREMIUM, "AAD_PREMIUM")),
    sku(
        VISIOCLIENT,
        "VISIOCLIENT",
        1,
        (VISIO_CLIENT_SUBSCRIPTION, "VISIO_CLIENT_SUBSCRIPTION"),
        (VISIOONLINE, "VISIOONLINE"),
    ),
)


def person(name: str, department: str, country: str, **attributes) -> User:
    """A user `name@contoso.com`, enabled, in `country`."""
    upn = f"{name}@contoso.com"
    graph = {
        "id": name,
        "userPrincipalName": upn,
        "accountEnabled": attributes.pop("accountEnabled", True),
        "department": department,
        "country": country,
        **attributes,
    }
    return User(
        name,
        upn,
        accountEnabled=graph["accountEnabled"],
        usageLocation=graph.get("usageLocation"),
        attributes=graph,
    )


USERS = (
    person("ana", "Sales", "United States", usageLocation="US"),
    person("ben", "Sales", "Canada", usageLocation="CA"),
    person("dee", "Sales", "Canada", jobTitle="VP of Sales", usageLocation="CA"),
    person("eve", "Engineering", "United States"),
    person("fay", "Engineering", "United States", usageLocation="US"),
)


def dynamic(group_id: str, name: str, rule: str, *licenses: AssignedLicense) -> Group:
    return Group(
        group_id,
        name,
        groupTypes=("DynamicMembership",),
        membershipRule=rule,
        membershipRuleProcessingState="On",
        assignedLicenses=licenses,
    )


GROUPS = (
    dynamic(
        "g-sales", "LIC-Sales", SALES_RULE, AssignedLicense(SPE_E5, frozenset({YAMMER_ENTERPRISE}))
    ),
    dynamic("g-lead", "LIC-Leadership", LEADERSHIP_RULE, AssignedLicense(SPE_E5)),
    dynamic("g-all", "LIC-AllStaff", "user.accountEnabled -eq true", AssignedLicense(EMS)),
)
TENANT = recompute(
    Tenant(Organization("org", "Contoso", "US", ("contoso.com",)), SKUS, USERS, GROUPS)
)

POLICY = f"""\
groups:
  - displayName: LIC-Sales
    membershipRule: '{US_SALES_RULE}'
    licenses:
      - sku: SPE_E5
        disabledPlans: [YAMMER_ENTERPRISE]
  - displayName: LIC-Leadership
    membershipRule: '{LEADERSHIP_RULE}'
    licenses:
      - sku: SPE_E5
  - displayName: LIC-AllStaff
    membershipRule: user.accountEnabled -eq true
    licenses:
      - sku: EMS
  - displayName: LIC-Visio
    members: [eve@contoso.com, fay@contoso.com]
    licenses:
      - sku: VISIOCLIENT
"""


def policy_folder(root: Path, tests: str | None = None, policy: str = POLICY) -> Path:
    """A policy folder under `root`, with `tests` (YAML) as tests/tests.yaml when given."""
    folder = root / "policies"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "groups.yaml").write_text(policy, encoding="utf-8")
    if tests is not None:
        (folder / "tests").mkdir(exist_ok=True)
        (folder / "tests" / "tests.yaml").write_text(dedent(tests), encoding="utf-8")
    return folder


def run_in(root: Path, tests: str, tenant: Tenant = TENANT, policy: str = POLICY) -> PolicyTestRun:
    """The tests (YAML) run against `tenant` and `policy`."""
    folder = policy_folder(root, tests, policy)
    files = read_tests(folder / "tests")
    return run_tests(files.tests, plan_for_tests(load_policy(folder), tenant), files.problems)


def only(run: PolicyTestRun):
    """The one result of a run of one test."""
    [result] = run.results
    return result


def reasons(run: PolicyTestRun) -> list[str]:
    """Every reason of every failure, in order."""
    return [reason for r in run.results for f in r.failures for reason in f.reasons]
