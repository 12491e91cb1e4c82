"""Plan changes come in the safe order and foresee the groups they leave behind."""

import pytest

from reconciler.engine.licensing import LicensingError
from reconciler.errors import InputError
from reconciler.model import AssignedLicense, Group
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

E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"  # SPE_E3
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"  # SPE_E5
YAMMER = "7547a3fe-08ee-4ccb-b430-5077c5041653"

SALES = Group("g1", "LIC-Sales", members=("ana", "ben"), assignedLicenses=(AssignedLicense(E3),))
OLD = Group("g2", "LIC-Old", assignedLicenses=(AssignedLicense(E3),))


def test_applying_changes_to_groups_foresees_every_kind_of_change():
    new_id = new_group_id("LIC-New")
    changes = [
        CreateGroup(Group(new_id, "LIC-New")),
        AddMembers(new_id, "LIC-New", ("cy",)),
        UpdateGroup("g1", "LIC-Sales", "description", None, "Sales staff"),
        AddMembers("g1", "LIC-Sales", ("cy", "ana")),
        RemoveMembers("g1", "LIC-Sales", ("ben",)),
        AddLicense("g1", "LIC-Sales", AssignedLicense(E5, frozenset({YAMMER}))),
        ChangeDisabledPlans("g1", "LIC-Sales", E5, frozenset({YAMMER}), frozenset()),
        RemoveLicense("g1", "LIC-Sales", E3),
        RemoveLicense("g2", "LIC-Old", E3),
        DeleteGroup("g2", "LIC-Old"),
    ]
    after = apply_to_groups({"g1": SALES, "g2": OLD}, changes)
    assert after["g2"] is None
    assert after[new_id] == Group(new_id, "LIC-New", members=("cy",))
    assert after["g1"] == Group(
        "g1",
        "LIC-Sales",
        description="Sales staff",
        members=("ana", "cy"),
        assignedLicenses=(AssignedLicense(E5, frozenset()),),
    )


def test_groups_no_change_touches_are_left_out_of_the_result():
    after = apply_to_groups({"g1": SALES, "g2": OLD}, [RemoveLicense("g2", "LIC-Old", E3)])
    assert set(after) == {"g2"}
    assert after["g2"].assignedLicenses == ()


def test_deleting_a_group_that_still_assigns_licenses_is_refused():
    with pytest.raises(LicensingError, match="LIC-Old can't be deleted while it assigns licenses"):
        apply_to_groups({"g2": OLD}, [DeleteGroup("g2", "LIC-Old")])
    removed_first = [RemoveLicense("g2", "LIC-Old", E3), DeleteGroup("g2", "LIC-Old")]
    assert apply_to_groups({"g2": OLD}, removed_first) == {"g2": None}


def test_a_change_to_a_group_the_tenant_lacks_is_an_input_error():
    with pytest.raises(InputError, match="the plan changes group g9, which the tenant doesn't"):
        apply_to_groups({"g1": SALES}, [RemoveLicense("g9", "LIC-Gone", E3)])
