"""PolicyError: what is wrong with a policy, where; `errors` holds every problem found."""

from __future__ import annotations

from reconciler.errors import InputError, Location
from reconciler.rules import RuleError


class PolicyError(InputError):
    """An invalid policy. The message and location are the first problem in file order.

    A stage (reading, schema, names) reports every problem it finds, so one run shows them all;
    `errors` holds them in file order, this error first.
    """

    def __init__(
        self,
        message: str,
        location: Location | None = None,
        errors: tuple[PolicyError, ...] = (),
    ) -> None:
        super().__init__(message, location)
        self.errors: tuple[PolicyError, ...] = errors or (self,)


def _order(error: PolicyError) -> tuple[str, int, int]:
    where = error.location
    if where is None:
        return ("", 0, 0)
    return (where.file, where.line or 0, where.column or 0)


def raise_all(errors: list[PolicyError]) -> None:
    """Raise the first of `errors` in file order carrying all of them; nothing if empty."""
    if not errors:
        return
    ordered = tuple(sorted(errors, key=_order))
    first = ordered[0]
    first.errors = ordered
    raise first


class PolicyRuleError(PolicyError):
    """An invalid membership rule in a policy; `rule_error` has the rule, its span and code."""

    def __init__(self, message: str, location: Location, rule_error: RuleError) -> None:
        super().__init__(message, location)
        self.rule_error = rule_error
