"""The cost of a plan and of the seats as they are, end to end on the demo: `plan` in every
format and `report seats`, the real command in a subprocess."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal

import yaml


def _prices(demo) -> dict[str, dict]:
    settings = yaml.safe_load((demo / "policies" / "settings.yaml").read_text())["settings"]
    return settings["prices"]


def test_the_demo_plan_prices_its_seat_forecast(run, demo):
    result = run("plan", "--format", "json", "-q", cwd=demo)
    assert result.code == 0, result.stderr
    impact = result.json()["impact"]
    prices = _prices(demo)
    products = {product["skuPartNumber"]: product for product in impact["cost"]["products"]}
    assert set(products) == set(prices)
    for seat in impact["seats"]:
        product, price = products[seat["skuPartNumber"]], prices[seat["skuPartNumber"]]
        monthly = Decimal(str(price["monthly"]))
        change = (seat["consumedAfter"] - seat["consumedNow"]) * monthly
        unused_after = max(seat["prepaid"] - seat["consumedAfter"], 0) * monthly
        assert Decimal(str(product["monthlyChange"])) == change
        assert Decimal(str(product["unusedMonthlyAfter"])) == unused_after
        assert product["shortfall"] == len(seat["countViolations"])
    [total] = impact["cost"]["totals"]
    assert total["currency"] == "USD"
    assert round(sum(p["monthlyChange"] for p in products.values()), 2) == total["monthlyChange"]
    # the demo's rule edit takes E5 from people: the plan is worth less a month
    assert products["SPE_E5"]["monthlyChange"] < 0


def test_the_text_plan_shows_the_cost_block_after_the_seats(run, demo):
    result = run("plan", "-q", cwd=demo)
    assert result.code == 0, result.stderr
    text = result.stdout
    assert text.index("Seats:") < text.index("Cost a month, at settings.prices:")
    assert "  Total in USD: " in text


def test_a_plan_without_prices_has_no_cost(run, demo):
    settings = demo / "policies" / "settings.yaml"
    text = settings.read_text()
    settings.write_text(text[: text.index("  # what a seat costs")])
    result = run("plan", "--format", "json", "-q", cwd=demo)
    assert result.code == 0, result.stderr
    assert "cost" not in result.json()["impact"]
    assert "Cost a month" not in run("plan", "-q", cwd=demo).stdout


def test_a_price_for_a_product_the_tenant_lacks_is_one_located_message(run, demo):
    settings = demo / "policies" / "settings.yaml"
    settings.write_text(settings.read_text() + "    SPE_E7: {monthly: 1.00, currency: USD}\n")
    result = run("plan", cwd=demo)
    assert result.code == 1
    assert "settings.yaml:" in result.stderr
    assert "unknown SKU 'SPE_E7'" in result.stderr
    assert "Traceback" not in result.stderr


def test_report_seats_adds_what_the_seats_cost_and_the_unused_ones(run, demo):
    result = run("report", "seats", "--format", "json", cwd=demo)
    assert result.code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    prices = _prices(demo)
    for row in rows:
        monthly = Decimal(str(prices[row["skuPartNumber"]]["monthly"]))
        assert row["currency"] == "USD"
        assert Decimal(str(row["paidMonthly"])) == row["enabled"] * monthly
        assert Decimal(str(row["unusedMonthly"])) == max(row["available"], 0) * monthly
    text = run("report", "seats", cwd=demo).stdout
    paid = sum(Decimal(str(row["paidMonthly"])) for row in rows)
    unused = sum(Decimal(str(row["unusedMonthly"])) for row in rows)
    assert text.splitlines()[-1] == f"Total in USD: {paid:,.2f} a month, {unused:,.2f} of it unused"
    # the plan's "unused now" is the same money, seen from the plan
    plan = run("plan", "--format", "json", "-q", cwd=demo).json()
    [total] = plan["impact"]["cost"]["totals"]
    assert Decimal(str(total["unusedMonthlyNow"])) == unused


def test_report_seats_without_prices_keeps_its_columns(run, demo):
    settings = demo / "policies" / "settings.yaml"
    text = settings.read_text()
    settings.write_text(text[: text.index("  # what a seat costs")])
    result = run("report", "seats", "--format", "csv", cwd=demo)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "skuPartNumber,skuId,enabled,consumed,heldDirectly,heldOnlyThroughGroups,inError,available"
    )


def test_report_seats_refuses_a_policy_path_named_that_is_not_there(run, demo):
    result = run("report", "seats", "--policy", "missing/", cwd=demo)
    assert result.code == 1
    assert result.stderr.strip() == "error: missing: policy path does not exist"
    assert result.stdout == ""


def test_report_seats_without_the_default_policy_folder_reports_unpriced(run, demo):
    shutil.rmtree(demo / "policies")
    result = run("report", "seats", "--format", "csv", cwd=demo)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[0].endswith(",inError,available")
