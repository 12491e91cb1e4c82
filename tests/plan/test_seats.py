"""Seat forecast: seats used now and after, and who would be left short of one."""

from reconciler.engine import recompute
from reconciler.model import (
    AssignedLicense,
    Group,
    LicenseAssignmentState,
    Organization,
    PrepaidUnits,
    Sku,
    Tenant,
)
from reconciler.plan.build import build_plan
from reconciler.policy.desired import DesiredState, Settings
from tests.builders import desired_group, desired_license, user

VISIO = "c5928f49-12ba-48f7-ada3-0d743a3601d5"  # VISIOCLIENT

TENANT = recompute(
    Tenant(
        Organization("org", "Contoso", "US"),
        (Sku(VISIO, "VISIOCLIENT", (), PrepaidUnits(3)),),
        (
            user("ana", "Design", licenseAssignmentStates=(LicenseAssignmentState(VISIO),)),
            user("ben", "Design"),
            user("cy", "Design"),
            user("dee", "Design"),
        ),
        (Group("g-visio", "LIC-Visio", assignedLicenses=(AssignedLicense(VISIO),)),),
    )
)


def _plan(*members: str):
    desired = DesiredState(
        None,
        Settings(),
        (desired_group("LIC-Visio", members=members, licenses=[desired_license(VISIO)]),),
        (),
    )
    return build_plan(desired, TENANT)


def test_the_forecast_counts_seats_now_and_after():
    [seat] = _plan("ben", "cy").seats
    assert (seat.skuPartNumber, seat.prepaid, seat.consumedNow, seat.consumedAfter) == (
        "VISIOCLIENT",
        3,
        1,
        3,
    )
    assert seat.countViolations == ()


def test_users_beyond_the_seats_are_named_in_seat_order():
    plan = _plan("dee", "cy", "ben")  # seats go by userPrincipalName: ben and cy get the two
    [seat] = plan.seats
    assert seat.consumedAfter == 3
    assert seat.countViolations == ("dee@contoso.com",)
    [warning] = [w for w in plan.warnings if w.code == "seat-shortfall"]
    assert "VISIOCLIENT is 1 seat short (3 enabled): dee@contoso.com" in warning.message
