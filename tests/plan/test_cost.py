"""The cost of a plan: its seat forecast at the policy's prices, per product and per currency."""

from decimal import Decimal

from jsonschema import Draft202012Validator

from reconciler.engine import recompute
from reconciler.jsonschemas import load_schema
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
from reconciler.plan.cost import amount, plan_cost
from reconciler.plan.document import plan_document
from reconciler.plan.seats import SeatForecast
from reconciler.policy.desired import DesiredState, Settings
from reconciler.policy.prices import Price
from reconciler.render.plan_markdown import Context, plan_markdown
from reconciler.render.plan_text import plan_text
from tests.builders import desired_group, desired_license, user

VISIO = "c5928f49-12ba-48f7-ada3-0d743a3601d5"  # VISIOCLIENT
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"  # SPE_E5
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"  # EMS
PRICES = (
    Price(VISIO, "VISIOCLIENT", Decimal("15.00"), "USD"),
    Price(E5, "SPE_E5", Decimal("57.10"), "USD"),
    Price(EMS, "EMS", Decimal("9.80"), "EUR"),
)

TENANT = recompute(
    Tenant(
        Organization("org", "Contoso", "US"),
        (
            Sku(VISIO, "VISIOCLIENT", (), PrepaidUnits(3)),
            Sku(E5, "SPE_E5", (), PrepaidUnits(10)),
            Sku(EMS, "EMS", (), PrepaidUnits(4)),
        ),
        tuple(
            user(name, "Design", licenseAssignmentStates=(LicenseAssignmentState(E5),))
            for name in ("ana", "ben", "cy", "dee")
        ),
        (
            Group("g-visio", "LIC-Visio", assignedLicenses=(AssignedLicense(VISIO),)),
            Group("g-ems", "LIC-EMS", assignedLicenses=(AssignedLicense(EMS),)),
        ),
    )
)


def _plan(prices=PRICES):
    """Four Visio seats wanted of three, and EMS for two people."""
    desired = DesiredState(
        None,
        Settings(prices=prices),
        (
            desired_group(
                "LIC-Visio", members=("ana", "ben", "cy", "dee"), licenses=[desired_license(VISIO)]
            ),
            desired_group("LIC-EMS", members=("ana", "ben"), licenses=[desired_license(EMS)]),
        ),
        (),
    )
    return build_plan(desired, TENANT)


def test_each_priced_product_costs_its_change_in_seats_in_use_and_its_unused_seats():
    cost = _plan().cost
    products = {product.skuPartNumber: product for product in cost.products}
    visio, e5, ems = products["VISIOCLIENT"], products["SPE_E5"], products["EMS"]
    # three seats taken, one person short: buying that seat would cost a seat's price
    assert (visio.consumedNow, visio.consumedAfter, visio.shortfall) == (0, 3, 1)
    assert visio.monthlyChange == Decimal("45.00")
    assert visio.shortfallMonthly == Decimal("15.00")
    assert (visio.unusedNow, visio.unusedAfter) == (3, 0)
    assert (visio.unusedMonthlyNow, visio.unusedMonthlyAfter) == (Decimal("45.00"), 0)
    # untouched: its direct holders keep it, six of ten seats lie unused before and after
    assert e5.monthlyChange == 0
    assert e5.unusedMonthlyNow == e5.unusedMonthlyAfter == Decimal("342.60")
    assert (ems.monthlyChange, ems.unusedMonthlyAfter, ems.currency) == (
        Decimal("19.60"),
        Decimal("19.60"),
        "EUR",
    )


def test_totals_are_per_currency_and_never_add_two_currencies():
    totals = {total.currency: total for total in _plan().cost.totals}
    assert set(totals) == {"USD", "EUR"}
    usd = totals["USD"]
    assert usd.monthlyChange == Decimal("45.00")
    assert usd.shortfallMonthly == Decimal("15.00")
    assert usd.unusedMonthlyNow == Decimal("45.00") + Decimal("342.60")
    assert usd.unusedMonthlyAfter == Decimal("342.60")
    assert totals["EUR"].monthlyChange == Decimal("19.60")


def test_a_product_whose_seats_move_without_a_price_is_named_unpriced():
    cost = _plan(prices=PRICES[1:]).cost
    assert [seat.skuPartNumber for seat in cost.unpriced] == ["VISIOCLIENT"]
    assert "VISIOCLIENT" not in [product.skuPartNumber for product in cost.products]


def test_a_policy_without_prices_has_no_cost_and_its_document_no_cost_key():
    plan = _plan(prices=())
    assert plan.cost is None
    assert "cost" not in plan_document(plan)["impact"]


def test_the_document_carries_the_cost_to_the_cent_as_the_schema_says():
    document = plan_document(_plan())
    Draft202012Validator(load_schema("plan.schema.json")).validate(document)
    cost = document["impact"]["cost"]
    e5 = next(p for p in cost["products"] if p["skuPartNumber"] == "SPE_E5")
    assert (e5["monthly"], e5["unusedMonthlyNow"], e5["monthlyChange"]) == (57.1, 342.6, 0.0)
    assert [total["currency"] for total in cost["totals"]] == ["USD", "EUR"]


def test_text_and_markdown_show_what_the_moved_seats_cost_and_the_totals():
    document = plan_document(_plan())
    text = plan_text(document)
    block = text[text.index("Cost a month") :].split("\n\n")[0].splitlines()
    line = " ".join(block[1].split())
    expected = "VISIOCLIENT in use 0 -> 3: +45.00 USD; unused 3 -> 0 seats, 45.00 -> 0.00 USD;"
    assert line == f"{expected} 1 short: 15.00 USD to buy"
    assert not any("SPE_E5" in line for line in block)  # its seats don't move
    assert "  Total in USD: +45.00 in use; unused 387.60 -> 342.60; 15.00 to buy" in text
    assert "  Total in EUR: +19.60 in use; unused 39.20 -> 19.60" in text
    markdown = plan_markdown(document, Context("tenant", "policies"))
    assert "### Cost a month" in markdown
    assert (
        "| VISIOCLIENT | 0 → 3 | +45.00 USD | 3 → 0 (45.00 USD → 0.00 USD) | 1 (15.00 USD) |"
        in (markdown)
    )


def test_money_is_rounded_half_a_cent_up_and_paid_is_every_seat_bought():
    seat = SeatForecast(VISIO, "VISIOCLIENT", 4, 1, 2)
    [product] = plan_cost((seat,), (Price(VISIO, "VISIOCLIENT", Decimal("0.125"), "USD"),)).products
    assert product.paidMonthly == Decimal("0.5")
    document = plan_document_cost(product)
    # 0.125 to the cent: half up gives 0.13, where Decimal's own half-to-even would give 0.12
    assert (document["monthly"], document["monthlyChange"]) == (0.13, 0.13)
    assert document["unusedMonthlyAfter"] == 0.25


def test_cost_without_seat_forecasts_priced_is_empty_not_missing():
    seat = SeatForecast(VISIO, "VISIOCLIENT", 3, 1, 1)
    cost = plan_cost((seat,), PRICES[1:])
    assert (cost.products, cost.totals, cost.unpriced) == ((), (), ())


def plan_document_cost(product) -> dict:
    """The money of one product as the plan document carries it."""
    names = ("monthly", "paidMonthly", "monthlyChange", "unusedMonthlyAfter")
    return {name: amount(getattr(product, name)) for name in names}
