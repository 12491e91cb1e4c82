"""The plan document writes each impact record and seat forecast field by field: every field of
the dataclass, in its order, tuples as lists, as dataclasses.asdict would."""

from __future__ import annotations

from dataclasses import asdict, fields

import pytest

from reconciler.plan import document
from reconciler.plan.impact import Kept, LicenseAddition, LicenseRemoval, PlanAddition, PlanRemoval
from reconciler.plan.seats import SeatForecast

RECORDS = [
    LicenseRemoval("u1", "u1@contoso.com", "sku", "SPE_E5", None, "group retired", True),
    PlanRemoval(
        "u1", "u1@contoso.com", "sku", "SPE_E5", ("TEAMS1",), "LIC-A", "why", ("LIC-B", None)
    ),
    LicenseAddition("u1", "u1@contoso.com", "sku", "SPE_E5", "LIC-A", "new group"),
    PlanAddition("u1", "u1@contoso.com", "sku", "SPE_E5", ("A", "B"), None, "why"),
    Kept("u1", "u1@contoso.com", "sku", "SPE_E5", "LIC-A", ("LIC-B",)),
    SeatForecast("sku", "SPE_E5", 5, 4, 6, ("u1@contoso.com",)),
]


@pytest.mark.parametrize("record", RECORDS, ids=[type(r).__name__ for r in RECORDS])
def test_a_record_is_written_with_every_field_in_order(record):
    expected = {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in asdict(record).items()
    }
    written = document._record(record)
    assert written == expected
    assert list(written) == [field.name for field in fields(record)]
