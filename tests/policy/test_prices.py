"""settings.prices and the prices file: each product's price, and bad prices located."""

from decimal import Decimal

import pytest

from reconciler.policy import load_policy, resolve
from reconciler.policy.errors import PolicyError
from reconciler.policy.prices import Price
from tests.policy.tenant import EMS, SKUS, SPE_E5, write


def _prices(tmp_path, files: dict[str, str]) -> tuple[Price, ...]:
    write(tmp_path, files)
    return resolve(load_policy(tmp_path / "policy"), SKUS).settings.prices


def _error(tmp_path, files: dict[str, str]) -> PolicyError:
    write(tmp_path, files)
    with pytest.raises(PolicyError) as caught:
        resolve(load_policy(tmp_path / "policy"), SKUS)
    return caught.value


def test_prices_name_products_by_skuPartNumber_or_skuId_ignoring_case(tmp_path):
    prices = _prices(
        tmp_path,
        {
            "policy/settings.yaml": (
                "settings:\n"
                "  prices:\n"
                "    spe_e5: {monthly: 57.10, currency: USD}\n"
                f"    {EMS.upper()}: {{monthly: 10, currency: EUR}}\n"
            )
        },
    )
    assert prices == (
        Price(SPE_E5, "SPE_E5", Decimal("57.1"), "USD"),
        Price(EMS, "EMS", Decimal("10"), "EUR"),
    )


def test_a_price_for_a_product_the_tenant_lacks_is_an_error_at_its_key(tmp_path):
    error = _error(
        tmp_path,
        {"policy/p.yaml": "settings:\n  prices:\n    SPE_E7: {monthly: 1, currency: USD}\n"},
    )
    assert "settings.prices.SPE_E7: unknown SKU 'SPE_E7'" in error.message
    assert "did you mean 'SPE_E5'" in error.message
    assert (error.location.line, error.location.column) == (3, 5)
    assert error.code == "unknown-sku"


@pytest.mark.parametrize(
    ("price", "column", "words"),
    [
        ("{monthly: -1, currency: USD}", 23, "-1"),
        ("{monthly: 1, currency: usd}", 36, "usd"),
        ("{monthly: '57', currency: USD}", 23, "57"),
        ("{currency: USD}", 13, "monthly"),
    ],
)
def test_a_malformed_price_is_refused_where_it_is_written(tmp_path, price, column, words):
    error = _error(tmp_path, {"policy/p.yaml": f"settings:\n  prices:\n    SPE_E5: {price}\n"})
    assert error.location.file.endswith("p.yaml")
    assert (error.location.line, error.location.column) == (3, column)
    assert words in error.message


@pytest.mark.parametrize("value", [".nan", ".inf", "1.0e+30"])
def test_a_price_that_is_not_a_sum_of_money_is_refused_where_it_is_written(tmp_path, value):
    price = f"SPE_E5: {{monthly: {value}, currency: USD}}"
    error = _error(tmp_path, {"policy/p.yaml": f"settings:\n  prices:\n    {price}\n"})
    assert (error.location.line, error.location.column) == (3, 23)
    assert "settings.prices.SPE_E5.monthly" in error.message


def test_a_prices_file_holding_nan_is_refused_at_its_line(tmp_path):
    error = _error(
        tmp_path,
        {
            "policy/settings.yaml": "settings:\n  pricesFile: ../prices.yaml\n",
            "prices.yaml": "prices:\n  SPE_E5: {monthly: .NaN, currency: USD}\n",
        },
    )
    assert error.location.file.endswith("prices.yaml")
    assert (error.location.line, error.location.column) == (2, 21)
    assert "prices.SPE_E5.monthly: expected a number of 0 or more, found NaN" in error.message


def test_a_prices_file_is_read_beside_the_policy_file_that_names_it(tmp_path):
    prices = _prices(
        tmp_path,
        {
            "policy/settings.yaml": "settings:\n  pricesFile: ../shared/prices.yaml\n",
            "shared/prices.yaml": (
                "prices:\n"
                "  SPE_E5: {monthly: 57, currency: USD}\n"
                "  SPE_E3: {monthly: 36, currency: USD}  # this tenant has none: left out\n"
            ),
        },
    )
    assert prices == (Price(SPE_E5, "SPE_E5", Decimal("57"), "USD"),)


def test_the_policy_s_own_price_wins_over_the_prices_file(tmp_path):
    prices = _prices(
        tmp_path,
        {
            "policy/settings.yaml": (
                "settings:\n"
                "  pricesFile: ../prices.yaml\n"
                "  prices:\n"
                "    SPE_E5: {monthly: 50, currency: USD}\n"
            ),
            "prices.yaml": (
                "prices:\n"
                "  SPE_E5: {monthly: 57, currency: USD}\n"
                "  EMS: {monthly: 10.6, currency: USD}\n"
            ),
        },
    )
    assert {price.skuPartNumber: price.monthly for price in prices} == {
        "SPE_E5": Decimal("50"),
        "EMS": Decimal("10.6"),
    }


def test_a_malformed_prices_file_is_refused_at_its_own_line_and_column(tmp_path):
    error = _error(
        tmp_path,
        {
            "policy/settings.yaml": "settings:\n  pricesFile: ../prices.yaml\n",
            "prices.yaml": "prices:\n  SPE_E5: {monthly: 57, currency: USD, yearly: 600}\n",
        },
    )
    assert error.location.file.endswith("prices.yaml")
    assert "policy" not in error.location.file
    assert (error.location.line, error.location.column) == (2, 40)
    assert "yearly" in error.message


def test_a_missing_prices_file_is_refused_naming_it(tmp_path):
    error = _error(tmp_path, {"policy/settings.yaml": "settings:\n  pricesFile: nowhere.yaml\n"})
    assert error.location.file.endswith("nowhere.yaml")
    assert "does not exist" in error.message or "can't read" in error.message


def test_a_prices_file_that_is_not_yaml_is_refused_with_its_line(tmp_path):
    error = _error(
        tmp_path,
        {
            "policy/settings.yaml": "settings:\n  pricesFile: ../prices.yaml\n",
            "prices.yaml": "prices:\n  SPE_E5: {monthly: 57\n",
        },
    )
    assert error.location.file.endswith("prices.yaml")
    assert error.location.line is not None


def test_a_policy_without_prices_has_none(tmp_path):
    assert _prices(tmp_path, {"policy/p.yaml": "settings:\n  maxLicenseRemovals: 3\n"}) == ()
