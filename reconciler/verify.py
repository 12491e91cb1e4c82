"""Shadow verification of membership rule edits: Entra evaluates the new rule on a temporary
group, and the members it finds are compared with reconciler's prediction (docs/verify.md).

For each licensed group whose rule Entra will evaluate anew (`rule_edits`), `verify_rules`
has a temporary group made, waited on, read and deleted (verify_probes.py), then compares.
A tenant without `rule_probes` (local, snapshot) is refused: its memberships are reconciler's
own engine's, so comparing them with the engine's prediction would prove nothing.

The prediction reads the tenant as read, before any change of the plan, as Entra evaluates
the temporary group. A rule on `memberOf` or `assignedPlans` can select others once the plan's
other changes are made; each verdict names who the plan's after-state has otherwise
(`otherChangesMove`), so the verdict says what it covers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from reconciler.audit import AuditLog
from reconciler.engine.membership import dynamic_members, parsed_rule
from reconciler.errors import ReconcilerError
from reconciler.model import DYNAMIC_MEMBERSHIP, Group, Tenant
from reconciler.plan.changes import Change, UpdateGroup, apply_to_groups
from reconciler.policy.desired import PAUSED
from reconciler.verify_probes import (
    PREFIX,
    QUIET,
    Member,
    Probe,
    ProbeListener,
    RuleEvaluationFailed,
    RuleEvaluationTimeout,
    RuleProbes,
    create_all,
    delete_all,
    probe_name,
    settled_members,
    wait_all,
)

__all__ = [
    "DEFAULT_POLL",
    "DEFAULT_TIMEOUT",
    "PREFIX",
    "Member",
    "Probe",
    "ProbesLeftBehind",
    "RuleEdit",
    "RuleEvaluationFailed",
    "RuleEvaluationTimeout",
    "RuleProbes",
    "RulesDiffer",
    "Verdict",
    "VerifyUnsupported",
    "compare",
    "differ",
    "left_behind",
    "predicted_members",
    "probes_of",
    "rule_edits",
    "verify_rules",
]

DEFAULT_TIMEOUT = 1800.0  # seconds: Entra takes minutes in a small tenant, hours in a large one
DEFAULT_POLL = 15.0  # seconds between two reads of the evaluation's status
SETTLE_PAUSE = 2.0  # longest pause between two reads of a group's members
# why a group is verified: its rule changes, it turns dynamic, or its processing resumes
RULE_CHANGED, TURNED_DYNAMIC, RESUMED = "rule-changed", "turned-dynamic", "resumed"


class VerifyUnsupported(ReconcilerError):
    """The tenant can't evaluate rules on its own (a local tenant or a snapshot)."""


class RulesDiffer(ReconcilerError):
    """Entra's members for a new rule aren't those reconciler predicts."""

    def __init__(self, message: str, verdicts: Sequence[Verdict]) -> None:
        super().__init__(message)
        self.verdicts = tuple(verdicts)


class ProbesLeftBehind(ReconcilerError):
    """A temporary group couldn't be deleted (or found): the verdict stands, the tenant isn't
    as it was."""


@dataclass(frozen=True, slots=True)
class RuleEdit:
    """A licensed group whose rule Entra will evaluate anew: to verify before it is made."""

    groupId: str
    displayName: str
    membershipRule: str  # the rule Entra will evaluate
    before: str | None  # the rule it replaces; None for a static group turned dynamic
    reason: str = RULE_CHANGED  # RULE_CHANGED, TURNED_DYNAMIC or RESUMED


@dataclass(frozen=True, slots=True)
class Verdict:
    """What Entra's evaluation of an edit's rule found, against reconciler's prediction."""

    edit: RuleEdit
    probe: Probe
    predicted: int  # members reconciler predicts
    evaluated: int  # members Entra put in the temporary group
    onlyEntra: tuple[Member, ...]  # in Entra's evaluation, not predicted
    onlyPredicted: tuple[Member, ...]  # predicted, not in Entra's evaluation
    # who the plan's after-state has otherwise than the rule on today's tenant: the plan's
    # other changes move them (memberOf, assignedPlans rules), which this check doesn't cover
    otherChangesMove: tuple[Member, ...] = ()

    @property
    def agrees(self) -> bool:
        return not self.onlyEntra and not self.onlyPredicted


def probes_of(provider: object) -> RuleProbes:
    """The provider's temporary groups; VerifyUnsupported for a tenant that has none."""
    probes = getattr(provider, "rule_probes", None)
    if probes is None:
        raise VerifyUnsupported(
            "rule verification needs a Microsoft Graph tenant (--tenant graph, or the emulator "
            "with --graph-url): a local tenant or a snapshot evaluates rules with reconciler's "
            "own engine, so checking reconciler's prediction against it proves nothing"
        )
    return probes  # type: ignore[no-any-return]


def rule_edits(changes: Iterable[Change], tenant: Tenant) -> tuple[RuleEdit, ...]:
    """The licensed groups whose user rule Entra evaluates anew after `changes`: rule changed,
    turned dynamic, or resumed; not one left Paused (Entra moves nobody) nor a new one."""
    changes = tuple(changes)
    groups = {group.id: group for group in tenant.groups}
    after = apply_to_groups(groups, changes)
    edits: dict[str, RuleEdit] = {}
    for change in changes:
        if not isinstance(change, UpdateGroup) or change.groupId in edits:
            continue
        now, then = groups.get(change.groupId), after.get(change.groupId)
        if now is None or then is None or not then.is_dynamic or not then.membershipRule:
            continue
        if then.membershipRuleProcessingState == PAUSED:
            continue
        if not (now.assignedLicenses or then.assignedLicenses):
            continue
        reason = _reason(now, then.membershipRule)
        if reason is None or parsed_rule(then.membershipRule).object_type != "user":
            continue
        before = now.membershipRule if now.is_dynamic else None
        edits[change.groupId] = RuleEdit(
            change.groupId, change.displayName, then.membershipRule, before, reason
        )
    return tuple(edits.values())


def _reason(now: Group, rule: str) -> str | None:
    """Why Entra evaluates `rule` anew on the group as it is `now`; None if it doesn't."""
    if not now.is_dynamic:
        return TURNED_DYNAMIC
    if now.membershipRule != rule:
        return RULE_CHANGED
    # the same rule resumed: Entra evaluates again and removes who no longer matches
    return RESUMED if now.membershipRuleProcessingState == PAUSED else None


def predicted_members(tenant: Tenant, rules: Sequence[str]) -> list[tuple[str, ...]]:
    """The user ids each rule selects in `tenant`, as the engine evaluates a new group's rule."""
    probes = [
        Group(
            id=f"verify:{n}",
            displayName=f"{PREFIX}{n}",
            groupTypes=(DYNAMIC_MEMBERSHIP,),
            membershipRule=rule,
            membershipRuleProcessingState="On",
        )
        for n, rule in enumerate(rules)
    ]
    ids = [probe.id for probe in probes]
    with_probes = replace(tenant, groups=(*tenant.groups, *probes))
    found = dynamic_members(with_probes, fresh=ids, only=ids)
    return [found.get(probe_id, ()) for probe_id in ids]


def compare(
    edit: RuleEdit,
    probe: Probe,
    predicted: Sequence[str],
    evaluated: Sequence[Member],
    tenant: Tenant,
    after: Tenant | None = None,
) -> Verdict:
    """The verdict on an edit: who Entra puts in that reconciler doesn't predict and the other
    way round (ids without case, as Entra); with the plan's `after`, who its other changes move."""
    upns = {user.id.lower(): user.userPrincipalName for user in tenant.users}
    expected = {member_id.lower(): member_id for member_id in predicted}
    found = {member.id.lower(): member for member in evaluated}
    only_entra = [
        Member(m.id, m.userPrincipalName or upns.get(key))
        for key, m in found.items()
        if key not in expected
    ]
    only_predicted = [
        Member(member_id, upns.get(key)) for key, member_id in expected.items() if key not in found
    ]
    return Verdict(
        edit,
        probe,
        len(expected),
        len(found),
        _sorted(only_entra),
        _sorted(only_predicted),
        _moved(edit, expected, after, upns),
    )


def _moved(
    edit: RuleEdit, expected: dict[str, str], after: Tenant | None, upns: dict[str, str]
) -> tuple[Member, ...]:
    """Who is in the group after the plan and not in the rule's prediction now, or the other
    way round; () without an after-state."""
    group = None if after is None else next((g for g in after.groups if g.id == edit.groupId), None)
    if group is None:
        return ()
    planned = {member_id.lower(): member_id for member_id in group.members}
    moved = [Member(planned[k], upns.get(k)) for k in planned.keys() - expected.keys()]
    moved += [Member(expected[k], upns.get(k)) for k in expected.keys() - planned.keys()]
    return _sorted(moved)


def verify_rules(
    edits: Sequence[RuleEdit],
    tenant: Tenant,
    probes: RuleProbes,
    *,
    after: Tenant | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    poll: float = DEFAULT_POLL,
    audit: AuditLog | None = None,
    listener: ProbeListener | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Verdict]:
    """The verdict on each edit, its temporary group deleted again whatever happens; the groups
    are evaluated side by side, so the wait is the longest one's (docs/verify.md)."""
    listener = listener or QUIET
    # first what reconciler predicts: a rule the engine can't read fails before any group is made
    predicted = predicted_members(tenant, [edit.membershipRule for edit in edits])
    made = [Probe(probe_name(edit.displayName), edit.displayName) for edit in edits]
    evaluated: list[list[Member]] = []
    try:
        create_all(probes, made, [(e.groupId, e.membershipRule) for e in edits], audit, listener)
        wait_all(made, probes, timeout, poll, listener, clock, sleep)
        pause = min(poll, SETTLE_PAUSE)
        evaluated = [settled_members(probes, probe, pause, sleep) for probe in made]
    finally:
        # always, whatever ended the check; a group whose creation was cut short may exist
        delete_all(probes, made, audit, listener)
    # each with its temporary group as it ended: deleted, or not (and why)
    return [
        compare(edit, made[n], predicted[n], evaluated[n], tenant, after)
        for n, edit in enumerate(edits)
    ]


def differ(verdicts: Sequence[Verdict], advice: str) -> RulesDiffer:
    """The refusal for verdicts some of which disagree; `advice` says what to do next."""
    parts = [
        f"{v.edit.displayName} ({len(v.onlyEntra)} more in Entra's evaluation, "
        f"{len(v.onlyPredicted)} fewer)"
        for v in verdicts
        if not v.agrees
    ]
    return RulesDiffer(
        "Entra's evaluation of the new membership rule differs from reconciler's prediction "
        f"for {', '.join(parts)}. {advice}",
        verdicts,
    )


def left_behind(verdicts: Sequence[Verdict]) -> ProbesLeftBehind | None:
    """The error for temporary groups that weren't deleted, naming what to search for."""
    left = [v.probe for v in verdicts if not v.probe.deleted and v.probe.may_exist]
    if not left:
        return None
    names = ", ".join(probe.displayName for probe in left)
    return ProbesLeftBehind(
        f"the verdict stands, but temporary groups were left in the tenant: {names}. They "
        "assign no licenses; delete them with `reconciler verify --cleanup`, or in the Entra "
        "admin center (Groups, search for the name)"
    )


def _sorted(members: Iterable[Member]) -> tuple[Member, ...]:
    return tuple(sorted(members, key=lambda m: ((m.userPrincipalName or "").lower(), m.id)))
