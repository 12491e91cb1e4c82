"""Small builders for tests: users with rule attributes, desired groups and licenses."""

from __future__ import annotations

from reconciler.errors import Location
from reconciler.model import User
from reconciler.policy.desired import DesiredGroup, DesiredLicense

HERE = Location("policies/groups.yaml", 1, 1)


def user(name: str, department: str, **fields) -> User:
    """A user `name@contoso.com` whose rule attributes include the department."""
    attributes = {"id": name, "userPrincipalName": f"{name}@contoso.com", "department": department}
    return User(name, f"{name}@contoso.com", attributes=attributes, **fields)


def desired_group(
    name: str, rule: str | None = None, members=None, licenses=(), description=None
) -> DesiredGroup:
    """A security group the policy manages: dynamic with `rule`, else assigned."""
    return DesiredGroup(
        displayName=name,
        id=None,
        description=description,
        securityEnabled=True,
        mailEnabled=False,
        groupTypes=("DynamicMembership",) if rule else (),
        membershipRule=rule,
        membershipRuleProcessingState="On" if rule else None,
        members=members,
        licenses=tuple(licenses),
        protect=False,
        location=HERE,
    )


def desired_license(sku: str, *disabled: str) -> DesiredLicense:
    """A deny-list license of `sku` with the given plan ids turned off."""
    return DesiredLicense(sku, "SKU", frozenset(disabled), None, HERE)
