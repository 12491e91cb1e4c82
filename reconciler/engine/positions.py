"""What a large tenant's users are indexed by, worked out once rather than for every change: each
user's position by id, their attributes in order; and users before and after a change compared.

A change leaves the users in their order (the engine replaces the users it settles, in place),
so what was worked out for the users before serves the users after: `carry` hands it on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from reconciler.model import Group, User

_KEPT = 4  # what is known of the last few users tuples: a plan or an apply holds a few at a time


@dataclass
class _Known:
    """What was worked out once for one tuple of users."""

    users: tuple[User, ...]  # held, so that its id can't be another's while the entry lives
    positions: dict[str, int] | None = None
    attributes: list[Mapping[str, Any]] | None = None
    holders: dict[str, set[int]] | None = None


_KNOWN: dict[int, _Known] = {}


def positions(users: tuple[User, ...]) -> dict[str, int]:
    """Each user's position in `users`, by lower-case id (the first, should two share one)."""
    known = _known(users)
    if known.positions is None:
        found: dict[str, int] = {}
        for position, user in enumerate(users):
            found.setdefault(user.id.lower(), position)
        known.positions = found
    return known.positions


def attributes(users: tuple[User, ...]) -> list[Mapping[str, Any]]:
    """Each user's attributes, in order: what membership rules read."""
    known = _known(users)
    if known.attributes is None:
        known.attributes = [user.attributes for user in users]
    return known.attributes


def holders(users: tuple[User, ...], before: tuple[User, ...] | None = None) -> dict[str, set[int]]:
    """The positions of the users holding an assignment from each group (by lower-case id).

    Worked out once; for the users after a change (`before` being the users it started from,
    in the same order), from what was known of those and the users the change replaced.
    """
    known = _known(users)
    if known.holders is not None:
        return known.holders
    previous = _KNOWN.get(id(before)) if before is not None else None
    if (
        before is not None
        and previous is not None
        and previous.users is before
        and previous.holders is not None
        # the very same index of positions: handed on by `carry`, the users in the same order
        and previous.positions is not None
        and previous.positions is known.positions
    ):
        # handed on, not copied: the users before are rarely asked about again, and are worked
        # out anew if they are
        found, previous.holders = previous.holders, None
        changed, _ = differences(before, users)
        index = positions(users)
        for was, user in changed:
            position = index[user.id.lower()]
            for state in was.licenseAssignmentStates if was is not None else ():
                if state.assignedByGroup is not None:
                    found.get(state.assignedByGroup.lower(), set()).discard(position)
            for state in user.licenseAssignmentStates:
                if state.assignedByGroup is not None:
                    found.setdefault(state.assignedByGroup.lower(), set()).add(position)
    else:
        found = {}
        for position, user in enumerate(users):
            for state in user.licenseAssignmentStates:
                if state.assignedByGroup is not None:
                    found.setdefault(state.assignedByGroup.lower(), set()).add(position)
    known.holders = found
    return found


def carry(before: tuple[User, ...], after: tuple[User, ...], *, same_attributes: bool) -> None:
    """Hands what is known of `before` on to `after`, the same users in the same order, some of
    them replaced by their settled selves (with the same attributes, if `same_attributes`)."""
    known = _KNOWN.get(id(before))
    if known is None or known.users is not before or len(before) != len(after):
        return
    carried = _known(after)
    carried.positions = known.positions
    if same_attributes:
        carried.attributes = known.attributes


def _known(users: tuple[User, ...]) -> _Known:
    known = _KNOWN.get(id(users))
    if known is not None and known.users is users:
        return known
    known = _Known(users)
    if isinstance(users, tuple):  # only a tuple is sure not to change under what is known
        if len(_KNOWN) >= _KEPT:
            _KNOWN.pop(next(iter(_KNOWN)))
        _KNOWN[id(users)] = known
    return known


Identified = TypeVar("Identified", User, Group)


def differences(
    before: Sequence[Identified], after: Sequence[Identified]
) -> tuple[list[tuple[Identified | None, Identified]], list[Identified]]:
    """The users (or groups) of `after` that aren't the very objects of `before`, each beside
    its former self (None if new), and those of `before` that `after` no longer has."""
    global _last_differences
    if (
        _last_differences is not None
        and _last_differences[0] is before
        and _last_differences[1] is after
    ):
        return _last_differences[2]  # a write's rows and its audit records ask the same
    found = _differences(before, after)
    _last_differences = (before, after, found)
    return found


_last_differences: tuple[Sequence[Any], Sequence[Any], Any] | None = None


def _differences(
    before: Sequence[Identified], after: Sequence[Identified]
) -> tuple[list[tuple[Identified | None, Identified]], list[Identified]]:
    if len(before) == len(after):
        changed: list[tuple[Identified | None, Identified]] = []
        # a change keeps the order: one pass, looking up no one
        for was, obj in zip(before, after, strict=True):
            if was is not obj:
                if was.id != obj.id:
                    break
                changed.append((was, obj))
        else:
            return changed, []
    old = {obj.id: obj for obj in before}
    kept: set[str] = set()
    changed = []
    for obj in after:
        kept.add(obj.id)
        was = old.get(obj.id)
        if was is not obj:
            changed.append((was, obj))
    return changed, [obj for obj in before if obj.id not in kept]
