"""Reading Graph objects for compiled rules: Entra's quirks as small named helpers.

Each helper takes whatever a Graph-shaped object holds and never fails on it: a value of the
wrong JSON type (never so in Graph, possible in a hand-written file) counts as unset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

import regex

from reconciler.rules.errors import RuleEvaluationError
from reconciler.rules.values import parse_datetime

# Entra runs patterns under .NET with a match timeout; a pattern that backtracks without end
# fails the evaluation here too, instead of stalling a plan.
REGEX_TIMEOUT_SECONDS = 1.0


def normalize_string(value: object) -> str | None:
    """The comparable form of a string attribute: lower case, or None when unset.

    Entra doesn't store empty strings, so "" counts as null (A9); comparisons ignore case (A17).
    """
    return value.lower() if is_set(value) else None


def is_set(value: object) -> bool:
    """Whether a string attribute has a value: a non-empty string (anything else is unset)."""
    return value.__class__ is str and value != ""


def as_datetime(value: object) -> datetime | None:
    """A Graph date-time attribute as a datetime, or None when unset or unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        return parse_datetime(value)
    return None


def first_item(values: object) -> str | None:
    """telephoneNumber: Graph keeps a list (businessPhones); the rule sees the first entry."""
    if isinstance(values, list) and values:
        return values[0]
    return None


def sip_address(proxy_addresses: object) -> str | None:
    """sipProxyAddress: the address of the `SIP:` entry of proxyAddresses, prefix removed."""
    for address in items(proxy_addresses):
        if isinstance(address, str) and address[:4].lower() == "sip:":
            return address[4:]
    return None


def items(values: object) -> list | tuple:
    """The items of a collection attribute; anything but a list is an empty collection."""
    return values if isinstance(values, list | tuple) else ()


def item_field(item: object, name: str) -> object:
    """A field of an object-collection item such as an assignedPlan."""
    return item.get(name) if isinstance(item, dict) else None


def extension_value(obj: Mapping[str, Any], name: str) -> object:
    """A custom extension property; the rule may spell its app id or name in another case."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key, value in obj.items():
        if key.lower() == lowered:
            return value
    return None


def reference_id(value: object) -> str | None:
    """The lower-cased object id of a Graph reference: `{"id": ...}` or a bare id string."""
    if isinstance(value, dict):
        value = value.get("id")
    return value.lower() if isinstance(value, str) and value else None


def reference_ids(values: object) -> set[str]:
    """Lower-cased ids of a list of Graph references, such as a user's memberOf."""
    ids = set()
    for value in items(values):
        object_id = reference_id(value)
        if object_id is not None:
            ids.add(object_id)
    return ids


def mapping(value: object) -> Mapping[str, Any]:
    """A nested Graph object such as onPremisesExtensionAttributes; anything else is empty."""
    return value if isinstance(value, dict) else {}


def pattern_matcher(pattern: str, comparison: str = "") -> Callable[[str], bool]:
    """A function searching a lower-cased value for `pattern`, within the match timeout;
    `comparison` (the rule's text for it) names it when a match runs out of time."""
    return partial(pattern_search, regex.compile(pattern, regex.IGNORECASE), comparison)


def pattern_search(pattern: regex.Pattern, comparison: str, value: str) -> bool:
    """Whether `pattern` occurs anywhere in `value`; RuleEvaluationError past the timeout.

    Every search has the timeout, whatever the pattern: a search backtracks over each start
    position, so even `\\S*\\S*\\d` runs for minutes on a value of a few thousand characters.
    """
    try:
        return pattern.search(value, timeout=REGEX_TIMEOUT_SECONDS) is not None
    except TimeoutError:
        raise RuleEvaluationError(
            f"{comparison or pattern.pattern}: the regular expression took more than "
            f"{REGEX_TIMEOUT_SECONDS:g} s on a value of {len(value):,} characters, and Entra "
            "stops such a match too; simplify the pattern (anchor it, avoid repeats that "
            "overlap, such as \\S*\\S*)",
            value_length=len(value),
        ) from None
