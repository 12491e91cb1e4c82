"""Prices per product: `settings.prices` and the file `settings.pricesFile` names.

Read offline with the policy (`price_entries`), names resolved against the tenant's SKUs with
the rest of it (`resolve_prices`). An entry of the policy itself naming a product the tenant
lacks is an error, most likely a typo; a prices file is a price list that may cover more
products than one tenant has, so its other entries are left out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from reconciler.errors import Location
from reconciler.lookup import Catalog
from reconciler.model import Sku
from reconciler.policy.errors import PolicyError, closest, raise_all
from reconciler.policy.schema import is_whole, policy_schema, schema_errors
from reconciler.policy.source import Pointer, Positions, read_file

UNKNOWN_SKU = "unknown-sku"  # its code (reconciler/codes.py)
PRICES_FILE_LIMIT = 1024 * 1024  # a price list of every product Microsoft sells is ~100 KiB


@dataclass(frozen=True, slots=True)
class Price:
    """What one seat of a product costs a month."""

    skuId: str
    skuPartNumber: str
    monthly: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """A price as written, its product not yet looked up; `listed`: from a prices file."""

    sku: str
    monthly: Decimal
    currency: str
    location: Location
    listed: bool = False


def price_entries(
    document: Mapping[str, Any], positions: Positions, broken: frozenset[Pointer]
) -> tuple[tuple[PriceEntry, ...], list[PolicyError]]:
    """The policy's prices, the prices file's first, and the problems of that file."""
    settings = document.get("settings")
    if not isinstance(settings, dict) or not is_whole(("settings",), broken):
        return (), []
    entries: list[PriceEntry] = []
    problems: list[PolicyError] = []
    name = settings.get("pricesFile")
    if name is not None:
        named_in = positions.location(("settings", "pricesFile"))
        # normpath: the message names the file as `../prices.yaml` reads, not policy/../
        path = Path(os.path.normpath(Path(named_in.file).parent / name))
        try:
            entries += _read_prices_file(path)
        except PolicyError as error:
            problems += error.errors
    for sku, price in settings.get("prices", {}).items():
        entries.append(_entry(sku, price, positions.key_location(("settings", "prices", sku))))
    problems += _not_numbers(entries, positions, ("settings", "prices"))
    return tuple(entries), problems


def _read_prices_file(path: Path) -> list[PriceEntry]:
    name = str(path)
    source = read_file(path, name, kind="prices file", keys="prices", limit=PRICES_FILE_LIMIT)
    document, positions = source.document, Positions(source.entries, {name: source.text})
    errors = [
        problem
        for error in Draft202012Validator(prices_file_schema()).iter_errors(document)
        for problem in schema_errors(error, document, positions)
    ]
    raise_all(errors)
    entries = [
        _entry(sku, price, positions.key_location(("prices", sku)), listed=True)
        for sku, price in document["prices"].items()
    ]
    raise_all(_not_numbers(entries, positions, ("prices",)))
    return entries


def _not_numbers(
    entries: Sequence[PriceEntry], positions: Positions, at: Pointer
) -> list[PolicyError]:
    """YAML's `.nan` passes the schema's minimum and maximum (NaN compares false): not a price."""
    return [
        PolicyError(
            f"{'.'.join(at)}.{entry.sku}.monthly: expected a number of 0 or more, found "
            f"{entry.monthly}",
            positions.location((*at, entry.sku, "monthly")),
        )
        for entry in entries
        if not entry.monthly.is_finite()
    ]


def prices_file_schema() -> dict[str, Any]:
    """A prices file holds `prices:` as settings.prices has it: one definition for both."""
    schema = policy_schema()
    return {
        "$defs": schema["$defs"],
        "title": "prices file",
        "type": "object",
        "additionalProperties": False,
        "required": ["prices"],
        "properties": {"prices": schema["$defs"]["settings"]["properties"]["prices"]},
    }


def _entry(sku: str, price: Mapping[str, Any], location: Location, listed: bool = False):
    # through str: 57.1 stays 57.1, not the binary fraction a float holds
    monthly = Decimal(str(price["monthly"]))
    return PriceEntry(sku, monthly, price["currency"], location, listed)


def resolve_prices(
    entries: Sequence[PriceEntry], skus: Sequence[Sku]
) -> tuple[tuple[Price, ...], list[PolicyError]]:
    """Each product's price, later entries winning, and an error per unknown product named."""
    catalog = Catalog(skus)
    found: dict[str, Price] = {}
    errors: list[PolicyError] = []
    for entry in entries:
        sku = catalog.sku(entry.sku)
        if sku is None:
            if not entry.listed:
                names = catalog.sku_names()
                message = f"settings.prices.{entry.sku}: unknown SKU '{entry.sku}'"
                errors.append(
                    PolicyError(
                        message + closest(entry.sku, names), entry.location, code=UNKNOWN_SKU
                    )
                )
            continue
        found[sku.skuId.lower()] = Price(
            sku.skuId, sku.skuPartNumber, entry.monthly, entry.currency
        )
    order = {sku.skuId.lower(): index for index, sku in enumerate(skus)}
    return tuple(sorted(found.values(), key=lambda p: order[p.skuId.lower()])), errors
