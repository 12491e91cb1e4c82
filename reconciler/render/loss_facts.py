"""What a plan's loss banner says, counted once for the Markdown and HTML plans alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

NAMES_SHOWN = 10  # groups a banner names before it counts the rest
NO_GROUP = "an assignment"  # what a loss no group's assignment explains comes through


@dataclass(frozen=True, slots=True)
class Losses:
    """The license removals of a plan, counted as the banner says them."""

    people: int  # distinct users losing something
    removals: int
    through: tuple[tuple[str, int], ...]  # groups named, most removals first
    more_groups: int  # groups beyond those named
    whole: int  # removals of a whole product; the rest are service plans of a kept product
    temporary: int  # removals that revert once Entra processes the group


def losses(removals: Sequence[dict[str, Any]]) -> Losses:
    """The banner's counts of `removals` (impact records, product and service plan losses)."""
    by_group: dict[str, int] = {}
    for record in removals:
        name = record["group"] or NO_GROUP
        by_group[name] = by_group.get(name, 0) + 1
    named = sorted(by_group.items(), key=lambda item: (-item[1], item[0].lower()))
    return Losses(
        people=len({record["userId"] for record in removals}),
        removals=len(removals),
        through=tuple(named[:NAMES_SHOWN]),
        more_groups=max(len(named) - NAMES_SHOWN, 0),
        whole=sum(1 for record in removals if "servicePlans" not in record),
        temporary=sum(1 for record in removals if record.get("temporary")),
    )


def lose(count: int) -> str:
    return "loses" if count == 1 else "lose"


def who_loses(people: int) -> str:
    return "1 person loses" if people == 1 else f"{people:,} people lose"
