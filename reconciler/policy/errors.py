"""PolicyError: what is wrong with a policy, where; `errors` holds every problem found."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import PurePath

from reconciler.codes import POLICY
from reconciler.errors import InputError, Location
from reconciler.rules import RuleError


class PolicyError(InputError):
    """An invalid policy. The message and location are the first problem in file order.

    Every stage (reading, schema, names) reports every problem it finds in every file, so one
    run shows them all; `errors` holds them in file order, this error first. `code` names the
    kind of problem for good (reconciler/codes.py), for scripts, SARIF and annotations.
    """

    def __init__(
        self,
        message: str,
        location: Location | None = None,
        errors: tuple[PolicyError, ...] = (),
        *,
        code: str = POLICY,
    ) -> None:
        super().__init__(message, location)
        self.errors: tuple[PolicyError, ...] = errors or (self,)
        self.code = code


def _order(error: PolicyError) -> tuple[tuple[str, ...], int, int]:
    where = error.location
    if where is None:
        return ((), 0, 0)
    # component by component, as policy files are read: a/z.yaml before a.yaml
    return (PurePath(where.file).parts, where.line or 0, where.column or 0)


def in_order(errors: Iterable[PolicyError]) -> tuple[PolicyError, ...]:
    """`errors` sorted by file and position, each problem once."""
    unique = {(str(error), error.location): error for error in errors}
    return tuple(sorted(unique.values(), key=_order))


def raise_all(errors: Iterable[PolicyError]) -> None:
    """Raise the first of `errors` in file order carrying all of them; nothing if empty."""
    ordered = in_order(errors)
    if not ordered:
        return
    first = ordered[0]
    first.errors = ordered
    raise first


def with_code(errors: Iterable[PolicyError], code: str) -> list[PolicyError]:
    """`errors` again, each under `code`: a stage that knows better names the kind."""
    return [PolicyError(error.message, error.location, code=code) for error in errors]


def closest(word: str, names: Iterable[str], cutoff: float = 0.6) -> str:
    """' (did you mean 'x'?)' for the name closest to `word`, ignoring case, or nothing."""
    lowered = {name.casefold(): name for name in names}
    close = difflib.get_close_matches(word.casefold(), list(lowered), n=1, cutoff=cutoff)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else ""


class PolicyRuleError(PolicyError):
    """An invalid membership rule in a policy; `rule_error` has the rule, its span and code."""

    def __init__(self, message: str, location: Location, rule_error: RuleError) -> None:
        super().__init__(message, location, code=rule_error.code)
        self.rule_error = rule_error
