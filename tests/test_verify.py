"""Rule verification's core: which edits are verified, the prediction, the comparison, and the
temporary groups always deleted (Graph stood in for by a scripted fake of Entra's answers)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.audit import AuditLog, read_audit
from reconciler.model import DYNAMIC_MEMBERSHIP, AssignedLicense, Group, Organization, Tenant
from reconciler.plan.changes import AddLicense, UpdateGroup
from reconciler.render.verify import SHOWN, probe_left, verdicts_json, verdicts_text
from reconciler.verify import (
    PREFIX,
    RESUMED,
    TURNED_DYNAMIC,
    Member,
    Probe,
    RuleEdit,
    RuleEvaluationFailed,
    RuleEvaluationTimeout,
    VerifyUnsupported,
    compare,
    left_behind,
    predicted_members,
    probes_of,
    rule_edits,
    verify_rules,
)
from reconciler.verify_probes import MARKER, ProbeStatus, clean_up, probe_group
from tests.builders import user

SKU = "c7df2760-2c81-4ef7-b578-5b5392b571df"
SALES = 'user.department -eq "Sales"'


def _tenant(*groups: Group) -> Tenant:
    users = (user("ana", "Sales"), user("ben", "Sales"), user("cy", "Marketing"))
    return Tenant(Organization("org", "Contoso"), users=users, groups=groups)


def _dynamic(group_id: str, rule: str, *, licensed: bool = True, members=()) -> Group:
    return Group(
        group_id,
        group_id.upper(),
        groupTypes=(DYNAMIC_MEMBERSHIP,),
        membershipRule=rule,
        membershipRuleProcessingState="On",
        assignedLicenses=(AssignedLicense(SKU),) if licensed else (),
        members=tuple(members),
    )


def _rule_change(group: Group, rule: str) -> UpdateGroup:
    return UpdateGroup(group.id, group.displayName, "membershipRule", group.membershipRule, rule)


# --- which edits ----------------------------------------------------------------------------


def test_a_rule_edit_of_a_licensed_group_is_verified_and_of_an_unlicensed_one_not():
    licensed = _dynamic("lic", 'user.department -eq "Marketing"')
    plain = _dynamic("plain", 'user.department -eq "Marketing"', licensed=False)
    changes = [_rule_change(licensed, SALES), _rule_change(plain, SALES)]
    edits = rule_edits(changes, _tenant(licensed, plain))
    assert edits == (RuleEdit("lic", "LIC", SALES, 'user.department -eq "Marketing"'),)


def test_a_group_licensed_only_after_the_plan_is_verified_too():
    group = _dynamic("g", 'user.department -eq "Marketing"', licensed=False)
    changes = [_rule_change(group, SALES), AddLicense("g", "G", AssignedLicense(SKU))]
    assert [edit.groupId for edit in rule_edits(changes, _tenant(group))] == ["g"]


def test_a_static_group_turned_dynamic_is_verified_with_no_rule_before():
    static = Group("s", "S", assignedLicenses=(AssignedLicense(SKU),), members=("ana",))
    change = UpdateGroup(
        "s",
        "S",
        "groupTypes",
        (),
        (DYNAMIC_MEMBERSHIP,),
        also=(("membershipRule", None, SALES), ("membershipRuleProcessingState", None, "On")),
    )
    assert rule_edits([change], _tenant(static)) == (
        RuleEdit("s", "S", SALES, None, TURNED_DYNAMIC),
    )


def test_other_changes_and_device_rules_are_not_verified():
    group = _dynamic("g", SALES)
    description = UpdateGroup("g", "G", "description", None, "new")
    device = _rule_change(group, 'device.deviceOSType -eq "Windows"')
    assert rule_edits([description, device], _tenant(group)) == ()


def test_a_resume_with_the_same_rule_is_verified_and_a_group_left_paused_is_not():
    paused = replace(_dynamic("p", SALES), membershipRuleProcessingState="Paused")
    resume = UpdateGroup("p", "P", "membershipRuleProcessingState", "Paused", "On")
    assert rule_edits([resume], _tenant(paused)) == (RuleEdit("p", "P", SALES, SALES, RESUMED),)
    # a rule edited on a group that stays paused: Entra evaluates nothing, so nothing to verify
    edit = _rule_change(paused, 'user.department -eq "Marketing"')
    assert rule_edits([edit], _tenant(paused)) == ()
    pausing = UpdateGroup("g", "G", "membershipRuleProcessingState", "On", "Paused")
    group = _dynamic("g", SALES)
    change = replace(_rule_change(group, 'user.department -eq "Marketing"'))
    assert rule_edits([change, pausing], _tenant(group)) == ()


# --- the prediction -------------------------------------------------------------------------


def test_the_prediction_is_the_rule_evaluated_on_the_tenant_as_read():
    (found,) = predicted_members(_tenant(), [SALES])
    assert sorted(found) == ["ana", "ben"]


def test_a_member_of_rule_reads_the_other_groups_members_as_read():
    # the source group's rule would select ana and ben, but as read it holds cy only: Entra
    # evaluates the temporary group against the directory as it is, so cy is predicted
    source = _dynamic("source", SALES, licensed=False, members=["cy"])
    rule = "user.memberof -any (group.objectId -in ['source'])"
    (found,) = predicted_members(_tenant(source), [rule])
    assert list(found) == ["cy"]


# --- the comparison -------------------------------------------------------------------------


def test_compare_lists_who_differs_each_way_by_user_principal_name_ignoring_case():
    edit = RuleEdit("g", "G", SALES, None)
    evaluated = [Member("ANA", None), Member("cy", "cy@contoso.com")]
    verdict = compare(edit, Probe("p", "G", "id"), ["ana", "ben"], evaluated, _tenant())
    assert not verdict.agrees
    assert verdict.onlyEntra == (Member("cy", "cy@contoso.com"),)
    assert verdict.onlyPredicted == (Member("ben", "ben@contoso.com"),)
    assert (verdict.predicted, verdict.evaluated) == (2, 2)


def test_a_verdict_says_what_the_plans_other_changes_move():
    # the plan's after-state has cy in the group (a memberOf source the plan changes)
    after = _tenant(_dynamic("g", SALES, members=["ana", "ben", "cy"]))
    evaluated = [Member("ana", None), Member("ben", None)]
    edit = RuleEdit("g", "G", SALES, None)
    verdict = compare(edit, Probe("p", "G", "id"), ["ana", "ben"], evaluated, _tenant(), after)
    assert verdict.agrees and verdict.otherChangesMove == (Member("cy", "cy@contoso.com"),)
    text = verdicts_text([verdict])
    assert "verified against the tenant as it is; the plan's other changes move 1 member:" in text
    assert "    cy@contoso.com" in text
    (listed,) = json.loads(verdicts_json([verdict], "org"))["verdicts"]
    assert listed["verifiedAgainstTenantAsIs"] is True
    assert listed["otherChangesMove"] == [{"id": "cy", "userPrincipalName": "cy@contoso.com"}]
    same = compare(
        edit,
        Probe("p", "G"),
        ["ana", "ben"],
        evaluated,
        _tenant(),
        _tenant(_dynamic("g", SALES, members=["ana", "ben"])),
    )
    assert same.otherChangesMove == () and "other changes" not in verdicts_text([same])


def test_compare_agrees_when_the_members_are_the_same():
    evaluated = [Member("ben", "ben@contoso.com"), Member("ana", "ana@contoso.com")]
    verdict = compare(
        RuleEdit("g", "G", SALES, None), Probe("p", "G"), ["ana", "ben"], evaluated, _tenant()
    )
    assert verdict.agrees and "agrees" in verdicts_text([verdict])


def test_the_text_names_at_most_a_few_people_and_counts_the_rest():
    many = [Member(f"u{n:03}", f"u{n:03}@contoso.com") for n in range(SHOWN + 7)]
    verdict = compare(RuleEdit("g", "G", SALES, None), Probe("p", "G"), [], many, _tenant())
    text = verdicts_text([verdict])
    assert f"in Entra's evaluation, not predicted ({SHOWN + 7})" in text
    assert "u000@contoso.com" in text and f"u{SHOWN:03}@contoso.com" not in text
    assert "... and 7 more" in text
    # json lists everyone
    (listed,) = json.loads(verdicts_json([verdict], "org"))["verdicts"]
    assert len(listed["onlyEntra"]) == SHOWN + 7


# --- the temporary groups -------------------------------------------------------------------


@dataclass
class FakeEntra:
    """Microsoft's service, scripted: statuses to answer in turn, members, failures."""

    statuses: list[str] = field(default_factory=lambda: ["NotStarted", "Running", "Succeeded"])
    members: list[str] = field(default_factory=lambda: ["ana", "ben"])
    member_reads: list[list[str]] = field(default_factory=list)  # answered first, in turn
    delete_fails: bool = False
    create_lost: bool = False
    twice: bool = False  # a lost creation made two groups of the name
    groups: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> name, description
    created: list[str] = field(default_factory=list)
    interrupt_on_status: bool = False
    interrupt_deletes: int = 0  # deletions that raise KeyboardInterrupt (a second Ctrl-C)

    def create_probe(self, group) -> str:
        name = group["displayName"]
        for _ in range(2 if self.twice else 1):
            group_id = f"id-{len(self.created)}"
            self.groups[group_id] = (name, group["description"])
            self.created.append(name)
        assert name.startswith(PREFIX) and group["description"].startswith(MARKER)
        if self.create_lost:
            raise VerifyUnsupported("the answer was lost")  # any ReconcilerError
        return group_id

    def probe_status(self, group_id: str) -> ProbeStatus:
        if self.interrupt_on_status:
            raise KeyboardInterrupt
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return ProbeStatus(status, "bad rule" if status == "Failed" else None)

    def probe_members(self, group_id: str) -> list[Member]:
        found = self.member_reads.pop(0) if self.member_reads else self.members
        return [Member(m, f"{m}@contoso.com") for m in found]

    def delete_probe(self, group_id: str) -> None:
        if self.interrupt_deletes:
            self.interrupt_deletes -= 1
            raise KeyboardInterrupt
        if self.delete_fails:
            raise VerifyUnsupported("403 Authorization_RequestDenied")
        del self.groups[group_id]

    def find_probes(self, displayName: str) -> list[str]:
        return [i for i, (name, _) in self.groups.items() if name == displayName]

    def leftover_probes(self, prefix: str) -> list[dict]:
        return [
            {"id": i, "displayName": name, "description": description}
            for i, (name, description) in self.groups.items()
            if name.startswith(prefix)
        ]

    def tenant_id(self) -> str:
        return "org"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _verify(entra: FakeEntra, tmp_path, **kwargs):
    clock = Clock()
    audit = AuditLog(tmp_path / "audit.jsonl", "tester", "org")
    edits = [RuleEdit("g", "G", SALES, None)]
    options = {"timeout": 60.0, "poll": 5.0, "clock": clock, "sleep": clock.sleep, **kwargs}
    return verify_rules(edits, _tenant(), entra, audit=audit, **options), clock


def test_agreeing_evaluation_after_waiting_and_the_group_deleted_and_recorded(tmp_path):
    entra = FakeEntra()
    (verdict,), clock = _verify(entra, tmp_path)
    assert verdict.agrees and verdict.probe.deleted and verdict.probe.id == "id-0"
    assert entra.groups == {}
    assert clock.now == 12.0  # two polls unfinished, 5 s apart; members read twice, 2 s apart
    records = read_audit(tmp_path / "audit.jsonl")
    assert [(r["operation"], r["result"]) for r in records] == [
        ("createGroup", "success"),
        ("deleteGroup", "success"),
    ]
    assert records[0]["group"]["displayName"].startswith("reconciler-verify-G-")
    assert records[0]["after"]["membershipRule"] == SALES


def test_a_disagreeing_evaluation_is_a_verdict_that_differs(tmp_path):
    (verdict,), _ = _verify(FakeEntra(members=["ana", "cy"]), tmp_path)
    assert verdict.onlyEntra == (Member("cy", "cy@contoso.com"),)
    assert verdict.onlyPredicted == (Member("ben", "ben@contoso.com"),)


def test_a_timeout_deletes_the_group_and_says_so(tmp_path):
    entra = FakeEntra(statuses=["Running"])
    with pytest.raises(RuleEvaluationTimeout, match=r"hadn.t finished evaluating .* of G"):
        _verify(entra, tmp_path, timeout=12.0)
    assert entra.groups == {}


def test_a_failed_evaluation_deletes_the_group(tmp_path):
    entra = FakeEntra(statuses=["Running", "Failed"])
    with pytest.raises(RuleEvaluationFailed, match="bad rule"):
        _verify(entra, tmp_path)
    assert entra.groups == {}


def test_ctrl_c_while_waiting_deletes_the_group(tmp_path):
    entra = FakeEntra(interrupt_on_status=True)
    with pytest.raises(KeyboardInterrupt):
        _verify(entra, tmp_path)
    assert entra.groups == {} and entra.created


def test_a_group_made_whose_answer_was_lost_is_found_by_name_and_deleted(tmp_path):
    entra = FakeEntra(create_lost=True)
    with pytest.raises(VerifyUnsupported):
        _verify(entra, tmp_path)
    assert entra.groups == {} and entra.created
    operations = [(r["operation"], r["result"]) for r in read_audit(tmp_path / "audit.jsonl")]
    assert operations == [("createGroup", "failure"), ("deleteGroup", "success")]


def test_a_group_that_cant_be_deleted_is_named_in_the_verdict_and_the_log(tmp_path):
    entra = FakeEntra(delete_fails=True)
    (verdict,), _ = _verify(entra, tmp_path)
    assert not verdict.probe.deleted and verdict.probe.id == "id-0"
    assert "403" in (verdict.probe.error or "")
    warning = probe_left(verdict.probe) or ""
    assert "id-0" in warning and "couldn't be deleted" in warning
    left = left_behind([verdict])
    assert left is not None and verdict.probe.displayName in str(left)
    last = read_audit(tmp_path / "audit.jsonl")[-1]
    assert (last["operation"], last["result"]) == ("deleteGroup", "failure")


def test_a_tenant_without_rule_probes_is_refused():
    with pytest.raises(VerifyUnsupported, match="needs a Microsoft Graph tenant"):
        probes_of(object())


def test_several_edits_are_evaluated_side_by_side_and_all_deleted(tmp_path):
    entra = FakeEntra(statuses=["Running", "Running", "Succeeded"])
    edits = [
        RuleEdit("g", "G", SALES, None),
        RuleEdit("h", "H", 'user.department -eq "Marketing"', None),
    ]
    clock = Clock()
    verdicts = verify_rules(edits, _tenant(), entra, poll=5.0, clock=clock, sleep=clock.sleep)
    assert [v.agrees for v in verdicts] == [True, False]  # the fake's members are the sales
    assert [v.probe.deleted for v in verdicts] == [True, True] and entra.groups == {}
    # one wait for both, not one each (then each group's members read twice, 2 s apart)
    assert clock.now == 5.0 + 2 * 2.0


def test_every_group_found_by_the_name_of_a_lost_creation_is_deleted(tmp_path):
    entra = FakeEntra(create_lost=True, twice=True)
    with pytest.raises(VerifyUnsupported):
        _verify(entra, tmp_path)
    assert len(entra.created) == 2 and entra.groups == {}
    operations = [(r["operation"], r["result"]) for r in read_audit(tmp_path / "audit.jsonl")]
    assert operations == [
        ("createGroup", "failure"),
        ("deleteGroup", "success"),
        ("deleteGroup", "success"),
    ]


def test_a_lost_creation_whose_name_finds_nothing_warns_with_the_name():
    probe = Probe(f"{PREFIX}G-1234abcd", "G", may_exist=True, unresolved=True)
    warning = probe_left(probe) or ""
    assert f"displayName {PREFIX}G-1234abcd" in warning and "--cleanup" in warning
    assert left_behind([]) is None


def test_a_second_ctrl_c_while_deleting_still_deletes_the_others(tmp_path):
    entra = FakeEntra(interrupt_on_status=True, interrupt_deletes=1)
    edits = [RuleEdit("g", "G", SALES, None), RuleEdit("h", "H", SALES, None)]
    with pytest.raises(KeyboardInterrupt):
        verify_rules(edits, _tenant(), entra, poll=0.01)
    assert list(entra.groups) == ["id-0"]  # the first deletion was cut short, the second made


def test_members_are_read_until_two_reads_agree(tmp_path):
    entra = FakeEntra(member_reads=[["ana"], ["ana", "ben"]])
    (verdict,), _ = _verify(entra, tmp_path)
    assert verdict.agrees and verdict.evaluated == 2


def test_members_that_never_settle_fail_the_check_and_delete_the_group(tmp_path):
    entra = FakeEntra(member_reads=[["ana"], ["ben"], ["ana"], ["ben"], ["ana"]])
    with pytest.raises(RuleEvaluationFailed, match="kept changing"):
        _verify(entra, tmp_path)
    assert entra.groups == {}


def test_cleanup_deletes_only_groups_with_the_prefix_and_the_marker(tmp_path):
    entra = FakeEntra()
    entra.groups = {
        "a": (f"{PREFIX}G-1", f"{MARKER} to have Entra ..."),
        "b": (f"{PREFIX}mine", "a group someone named so"),
        "c": ("Sales", f"{MARKER}"),
    }
    audit = AuditLog(tmp_path / "audit.jsonl", "tester", "org")
    deleted, young = clean_up(entra, audit, datetime.now(UTC), timedelta(hours=1))
    assert [(p.id, p.deleted) for p in deleted] == [("a", True)]
    assert young == 0
    assert sorted(entra.groups) == ["b", "c"]


def test_cleanup_leaves_a_temporary_group_younger_than_asked_another_run_may_be_checking(
    tmp_path,
):
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    made = {
        "old": probe_group(Probe(f"{PREFIX}old", "G"), "g", "r", now - timedelta(hours=2)),
        "new": probe_group(Probe(f"{PREFIX}new", "G"), "g", "r", now - timedelta(minutes=5)),
    }
    entra = FakeEntra()
    entra.groups = {key: (body["displayName"], body["description"]) for key, body in made.items()}
    audit = AuditLog(tmp_path / "audit.jsonl", "tester", "org")
    deleted, young = clean_up(entra, audit, now, timedelta(hours=1))
    assert ([p.id for p in deleted], young) == (["old"], 1)
    assert sorted(entra.groups) == ["new"]
    # asked for every age, the young one goes too
    deleted, young = clean_up(entra, audit, now, timedelta(0))
    assert ([p.id for p in deleted], young) == (["new"], 0)


def test_cleanup_older_than_zero_deletes_a_group_stamped_ahead_of_this_clock(tmp_path):
    # docs/verify.md: `--older-than 0` deletes them all, also one another runner made with its
    # clock a little ahead of this one's
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    body = probe_group(Probe(f"{PREFIX}ahead", "G"), "g", "r", now + timedelta(seconds=30))
    entra = FakeEntra()
    entra.groups = {"ahead": (body["displayName"], body["description"])}
    audit = AuditLog(tmp_path / "audit.jsonl", "tester", "org")
    assert clean_up(entra, audit, now, timedelta(hours=1))[1] == 1  # young: maybe running
    deleted, young = clean_up(entra, audit, now, timedelta(0))
    assert ([p.id for p in deleted], young) == (["ahead"], 0)
    assert entra.groups == {}
