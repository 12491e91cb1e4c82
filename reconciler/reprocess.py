"""Reprocessing users whose group licenses failed: who to reprocess, and what it changed.

Entra leaves a failed group assignment in error until the user is reprocessed, even once the
cause is gone (seats freed, a conflicting license removed). Choosing the users and comparing
their failed assignments before and after are pure functions; `reprocess_users` runs them
through a provider and writes the audit log, as apply.py does for a plan, and never prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.audit import FAILURE, SUCCESS, AuditLog
from reconciler.errors import ReconcilerError
from reconciler.model import ACTIVE_WITH_ERROR, ERROR, Tenant, User
from reconciler.providers.base import Provider

# `Error`: the group's licenses weren't assigned (CountViolation, MutuallyExclusiveViolation,
# ...). `ActiveWithError`: taking the group's licenses away failed (DependencyViolation), so the
# user keeps them in error; Microsoft's fix for both is to remove the cause and then reprocess
# the user (its guide to group license problems, and its text on deleting a licensed group),
# so both are chosen.
FAILED_STATES = frozenset({ERROR, ACTIVE_WITH_ERROR})

# UserResult.status values, as `reprocess --format json` prints them
FIXED, FAILING, CLEAN, NOT_REPROCESSED = "fixed", "failing", "clean", "notReprocessed"


class SelectionError(ReconcilerError):
    """The users or group named can't be chosen: not in the tenant, ambiguous, or both given."""


@dataclass(frozen=True, slots=True)
class FailedAssignment:
    """One product a group doesn't give a user as asked: its state and error, with names."""

    assignedByGroup: str
    groupDisplayName: str | None  # None: the group is no longer in the tenant
    skuId: str
    skuPartNumber: str
    state: str
    error: str

    @property
    def key(self) -> tuple[str, str]:
        return self.assignedByGroup.lower(), self.skuId.lower()


@dataclass(frozen=True, slots=True)
class Target:
    """A user to reprocess, with the failed group assignments they have now."""

    id: str
    userPrincipalName: str
    failed: tuple[FailedAssignment, ...]


@dataclass(frozen=True, slots=True)
class UserResult:
    """A user's failed assignments before and after reprocessing.

    `after` is None when the user wasn't reprocessed (a dry run, or the request failed: `error`).
    """

    id: str
    userPrincipalName: str
    before: tuple[FailedAssignment, ...]
    after: tuple[FailedAssignment, ...] | None = None
    error: str | None = None

    @property
    def status(self) -> str | None:
        """fixed, failing, clean (no error before or after), notReprocessed; None in a dry run."""
        if self.error is not None:
            return NOT_REPROCESSED
        if self.after is None:
            return None
        if self.after:
            return FAILING
        return FIXED if self.before else CLEAN

    @property
    def fixed(self) -> tuple[FailedAssignment, ...]:
        """The assignments that failed before and no longer do."""
        if self.after is None:
            return ()
        still = {failed.key for failed in self.after}
        return tuple(failed for failed in self.before if failed.key not in still)


@dataclass(frozen=True, slots=True)
class ReprocessResult:
    """What a reprocess run did, one result per user, ordered by userPrincipalName."""

    users: tuple[UserResult, ...]
    dry_run: bool = False

    def count(self, status: str) -> int:
        return sum(1 for user in self.users if user.status == status)


def failed_assignments(tenant: Tenant, user: User) -> tuple[FailedAssignment, ...]:
    """The user's group assignments in Error or ActiveWithError, by group and product name.

    Direct assignments are left out: Entra refuses a failing direct assignment at once, so
    there is nothing to retry.
    """
    groups = {group.id.lower(): group.displayName for group in tenant.groups}
    skus = {sku.skuId.lower(): sku.skuPartNumber for sku in tenant.subscribedSkus}
    found = [
        FailedAssignment(
            state.assignedByGroup,
            groups.get(state.assignedByGroup.lower()),
            state.skuId,
            skus.get(state.skuId.lower(), state.skuId),
            state.state,
            state.error,
        )
        for state in user.licenseAssignmentStates
        if state.assignedByGroup is not None and state.state in FAILED_STATES
    ]
    return tuple(
        sorted(found, key=lambda f: ((f.groupDisplayName or f.assignedByGroup).lower(), f.key))
    )


def choose(
    tenant: Tenant, users: Sequence[str] = (), group: str | None = None
) -> tuple[Target, ...]:
    """The users to reprocess: those named (userPrincipalName or id), whether in error or not;
    else every user with a failed group assignment, from `group` (displayName or id) if given.

    SelectionError names every user, or the group, the tenant doesn't have.
    """
    if users and group is not None:
        # reprocessing works on a user's every group at once; a group can't narrow it
        raise SelectionError(
            "name users or give --group, not both: a user is reprocessed for all their groups"
        )
    if users:
        chosen = _named_users(tenant, users)
        return tuple(
            Target(u.id, u.userPrincipalName, failed_assignments(tenant, u)) for u in chosen
        )
    group_id = _group_id(tenant, group) if group is not None else None
    targets = []
    for user in tenant.users:
        failed = failed_assignments(tenant, user)
        if group_id is not None and not any(f.assignedByGroup.lower() == group_id for f in failed):
            continue
        if failed:
            targets.append(Target(user.id, user.userPrincipalName, failed))
    return tuple(sorted(targets, key=lambda t: t.userPrincipalName.lower()))


def compare(
    targets: Sequence[Target], after: Tenant, failed: Mapping[str, str] | None = None
) -> ReprocessResult:
    """Each target's failed assignments before and in `after`; `failed`: the provider's
    failures by user id (those users keep `after` None)."""
    refused = {user_id.lower(): why for user_id, why in (failed or {}).items()}
    users = {user.id.lower(): user for user in after.users}
    results = []
    for target in targets:
        why = refused.get(target.id.lower())
        now = users.get(target.id.lower())
        if why is None and now is None:
            why = "no such user"  # gone between the two reads
        if why is not None:
            results.append(
                UserResult(target.id, target.userPrincipalName, target.failed, None, why)
            )
            continue
        assert now is not None
        results.append(
            UserResult(
                target.id,
                target.userPrincipalName,
                target.failed,
                failed_assignments(after, now),
            )
        )
    return ReprocessResult(tuple(results))


def preview(targets: Sequence[Target]) -> ReprocessResult:
    """The result of a dry run: who would be reprocessed, with their failures now."""
    return ReprocessResult(
        tuple(UserResult(t.id, t.userPrincipalName, t.failed) for t in targets), dry_run=True
    )


def reprocess_users(
    targets: Sequence[Target], provider: Provider, audit: AuditLog
) -> ReprocessResult:
    """Reprocess the targets through `provider`, read the tenant again, and audit each user.

    Graph may settle a user's licenses a little later; the local tenant and the emulator
    settle at once. If the read after fails, the users are still audited (`after` null).
    """
    if not targets:
        return ReprocessResult(())
    failed = provider.reprocess([target.id for target in targets])
    try:
        after = provider.read()
    except ReconcilerError:
        # reprocessed all the same: the log must say so, with the outcome unknown
        refused = {user_id.lower(): why for user_id, why in failed.items()}
        for target in targets:
            why = refused.get(target.id.lower())
            _audit_user(
                audit, UserResult(target.id, target.userPrincipalName, target.failed, None, why)
            )
        raise
    result = compare(targets, after, failed)
    for user in result.users:
        _audit_user(audit, user)
    return result


def _audit_user(audit: AuditLog, user: UserResult) -> None:
    """One record per group the user had or has a failed assignment from; one for the user
    alone when they had none either side."""
    person = {"id": user.id, "userPrincipalName": user.userPrincipalName}
    after = user.after or ()
    groups: dict[str, dict[str, str | None] | None] = {}
    for failed in (*user.before, *after):
        groups.setdefault(
            failed.assignedByGroup.lower(),
            {"id": failed.assignedByGroup, "displayName": failed.groupDisplayName},
        )
    if not groups:
        groups[""] = None  # a user with no failure either side: one record, with no group
    for key, group in groups.items():
        before = [f for f in user.before if f.assignedByGroup.lower() == key]
        now = None if user.after is None else [f for f in after if f.assignedByGroup.lower() == key]
        if user.error is not None:
            result, error = FAILURE, user.error
        elif now:
            result, error = FAILURE, "; ".join(f"{f.skuPartNumber}: {f.error}" for f in now)
        else:
            result, error = SUCCESS, None
        audit.reprocessed(
            person,
            group,
            _licenses(before),
            None if now is None else _licenses(now),
            result,
            error,
        )


def _licenses(failed: Sequence[FailedAssignment]) -> list[dict[str, object]]:
    return [
        {
            "sku": {"skuId": f.skuId, "skuPartNumber": f.skuPartNumber},
            "state": f.state,
            "error": f.error,
        }
        for f in failed
    ]


def _named_users(tenant: Tenant, names: Sequence[str]) -> list[User]:
    """The users named, each once, in the order given; every unknown name in one error."""
    by_name: dict[str, User] = {}
    for user in tenant.users:
        by_name[user.id.lower()] = user
        by_name[user.userPrincipalName.lower()] = user
    unknown = [name for name in names if name.lower() not in by_name]
    if unknown:
        s = "s" if len(unknown) > 1 else ""
        raise SelectionError(
            f"no user{s} {', '.join(unknown)} in the tenant (give a userPrincipalName or an id); "
            "nothing was reprocessed"
        )
    chosen = {by_name[name.lower()].id: by_name[name.lower()] for name in names}
    return list(chosen.values())


def _group_id(tenant: Tenant, name: str) -> str:
    """The lower-cased id of the group with this id or displayName (ignoring case).

    A group no longer in the tenant can still be named by the id its failed assignments carry.
    """
    wanted = name.lower()
    by_id = {group.id.lower() for group in tenant.groups} | {
        state.assignedByGroup.lower()
        for user in tenant.users
        for state in user.licenseAssignmentStates
        if state.assignedByGroup is not None
    }
    if wanted in by_id:
        return wanted
    named = [group for group in tenant.groups if group.displayName.lower() == wanted]
    if len(named) > 1:
        # displayName isn't unique in Entra: guessing would reprocess the wrong group's users
        ids = ", ".join(group.id for group in named)
        raise SelectionError(f"{len(named)} groups are named {name} ({ids}); give the id")
    if not named:
        raise SelectionError(
            f"no group {name} in the tenant (give a displayName or an id); nothing was reprocessed"
        )
    return named[0].id.lower()
