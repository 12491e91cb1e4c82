"""The Markdown plan: verdict and banners first, tables GitHub can't be tricked by, and never
longer than a pull-request comment can be, whatever the plan's size."""

import re
import time

import pytest
from jsonschema import Draft202012Validator

from reconciler.jsonschemas import load_schema
from reconciler.model import AssignedLicense, Group, Organization, PrepaidUnits, Sku, Tenant, User
from reconciler.plan.build import build_plan
from reconciler.plan.document import plan_document
from reconciler.policy.desired import DesiredState, RetiredGroup, Settings
from reconciler.render.markdown import size
from reconciler.render.plan_markdown import (
    BUDGET,
    COMMENT_LIMIT,
    Context,
    marker_fields,
    plan_markdown,
    plan_marker,
)
from tests.builders import HERE, user
from tests.builders import desired_group as group
from tests.builders import desired_license as license_of

E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
CONTEXT = Context(tenant="org", policy="policies", plan_file="plan.json")
HOSTILE = "LIC-<img src=x onerror=alert(1)>|`x` ```\n# heading @org/team"


def tenant(*groups: Group, users=None) -> Tenant:
    return Tenant(
        Organization("org", "Contoso", "US"),
        (Sku(E3, "SPE_E3", (), PrepaidUnits(50)), Sku(E5, "SPE_E5", (), PrepaidUnits(50))),
        tuple(users or (user("ana", "Sales"), user("ben", "HR"))),
        groups,
    )


def sales(name: str = "LIC-Sales", members=("ana", "ben")) -> Group:
    return Group(
        "g-sales",
        name,
        groupTypes=("DynamicMembership",),
        membershipRule='user.department -in ["Sales", "HR"]',
        membershipRuleProcessingState="On",
        members=members,
        assignedLicenses=(AssignedLicense(E3),),
    )


def narrowed(name: str = "LIC-Sales", **settings) -> DesiredState:
    """The policy narrows the sales group's rule, so HR staff lose SPE_E3."""
    wanted = group(name, 'user.department -eq "Sales"', licenses=[license_of(E3)])
    return DesiredState(None, Settings(**settings), (wanted,), ())


def test_the_comment_starts_with_the_marker_then_the_verdict_and_counts():
    document = plan_document(build_plan(narrowed(), tenant(sales())))
    lines = plan_markdown(document, CONTEXT).splitlines()
    assert lines[0] == "<!-- reconciler plan: tenant=org policy=policies -->"
    assert lines[1] == "### reconciler plan: `policies` on tenant `org`"
    assert lines[3] == "**Plan: 0 to add, 1 to change, 0 to remove.**"
    assert lines[5].startswith("1 license removal · 0 license additions · ")


def test_a_plan_without_changes_says_so_and_has_no_plan_line():
    wanted = group("LIC-Sales", 'user.department -in ["Sales", "HR"]', licenses=[license_of(E3)])
    document = plan_document(
        build_plan(DesiredState(None, Settings(), (wanted,), ()), tenant(sales()))
    )
    markdown = plan_markdown(document, CONTEXT)
    assert "**No changes.** Licensing matches the policy." in markdown
    assert "Plan:" not in markdown and "[!WARNING]" not in markdown


def test_people_losing_licenses_get_a_warning_banner_naming_the_groups_and_a_table_row():
    document = plan_document(build_plan(narrowed(), tenant(sales())))
    markdown = plan_markdown(document, CONTEXT)
    banner = markdown[markdown.index("> [!WARNING]") :]
    assert banner.startswith(
        "> [!WARNING]\n> **1 person loses licenses**: 1 license removal through LIC-Sales (1)."
    )
    assert "| ben@contoso.com | SPE\\_E3 | LIC-Sales | no longer matches" in markdown
    assert markdown.index("> [!WARNING]") < markdown.index("### Changes")


def test_a_refused_plan_gets_a_caution_banner_saying_what_to_do():
    users = [user(f"u{i}", "HR") for i in range(12)]
    document = plan_document(
        build_plan(narrowed(), tenant(sales(members=tuple(u.id for u in users)), users=users))
    )
    assert document["guards"]["refused"]
    markdown = plan_markdown(document, CONTEXT)
    caution = markdown[markdown.index("> [!CAUTION]") : markdown.index("> [!WARNING]")]
    assert "**Apply will refuse this plan** unless `--allow-removals` is given:" in caution
    assert "more than settings.maxLicenseRemovals (10)" in caution
    assert "`reconciler apply plan.json --allow-removals`" in caution
    assert "raise `settings.maxLicenseRemovals` to at least 12" in caution


def test_each_group_has_a_diff_block_with_the_symbol_in_column_zero():
    added = group("LIC-New", members=("ben@contoso.com",), licenses=[license_of(E5)])
    desired = DesiredState(None, Settings(), (added,), (RetiredGroup("LIC-Sales", None, HERE),))
    markdown = plan_markdown(plan_document(build_plan(desired, tenant(sales()))), CONTEXT)
    assert "#### `+` LIC-New will be created\n" in markdown
    assert (
        "```diff\n+ type = security, assigned\n+ member ben@contoso.com\n+ license SPE_E5\n```"
        in (markdown)
    )
    assert "#### `-` LIC-Sales will be retired\n" in markdown
    assert "- license SPE_E3\n- delete the group\n```" in markdown


def test_an_updated_property_is_marked_with_an_exclamation_mark_for_github():
    markdown = plan_markdown(plan_document(build_plan(narrowed(), tenant(sales()))), CONTEXT)
    assert "\n! membershipRule = " in markdown and "\n~ " not in markdown


def test_findings_are_listed_with_code_and_place_in_the_policy():
    markdown = plan_markdown(plan_document(build_plan(narrowed(), tenant(sales()))), CONTEXT)
    row = next(line for line in markdown.splitlines() if "`membership-drop`" in line)
    assert "`policies/groups.yaml:1:1`" in row and "drops 1 of LIC-Sales" in row


def test_drift_is_collapsed_in_its_own_section_before_the_changes():
    document = synthetic_plan(removals=3)
    markdown = plan_markdown(document, CONTEXT)
    drift = markdown.index("1 change made outside reconciler (the tenant's audit log)</summary>")
    assert markdown.rfind("<details>", 0, drift) > markdown.index("**Plan:")
    assert drift < markdown.index("### Changes")
    assert "| LIC-Group-0 | description | old words | new words | admin@contoso.com |" in markdown


def test_a_stale_saved_plan_says_so_at_the_top():
    document = synthetic_plan(removals=3)
    stale = Context("org", "policies", "plan.json", stale="plan is stale: the tenant changed.")
    markdown = plan_markdown(document, stale)
    assert markdown.index("> [!CAUTION]\n> **This saved plan can't be applied as it is:**") < (
        markdown.index("### Changes")
    )


def test_the_marker_is_the_same_for_one_tenant_and_policy_and_reads_back():
    assert plan_marker("ORG-1", "policies") == plan_marker("org-1", "policies")
    assert plan_marker("org-1", "policies") != plan_marker("org-1", "other")
    odd = plan_marker("org-1", "my policies/a -->b")
    assert "my%20policies/a%20--%3Eb" in odd and odd.count("-->") == 1
    assert marker_fields(odd + "\nrest") == ("org-1", "my policies/a -->b")
    assert marker_fields("no marker") is None


# Hostile names ---------------------------------------------------------------------------------


def hostile_plan() -> str:
    evil = User("evil", "@org/admins|<b>x</b>`y`@contoso.com", attributes={"department": "HR"})
    users = (user("ana", "Sales"), evil)
    document = plan_document(
        build_plan(narrowed(HOSTILE), tenant(sales(HOSTILE, ("ana", "evil")), users=users))
    )
    assert document["impact"]["licenseRemovals"]  # the hostile user loses through the group
    return plan_markdown(document, CONTEXT)


def outside_code(markdown: str) -> list[str]:
    """The lines outside fenced blocks, checking each fence closes where its diff ends."""
    lines, fence = [], None
    for line in markdown.splitlines():
        if fence is None and line.startswith("```"):
            fence = re.match("`+", line)[0]
        elif fence is not None and line == fence:
            fence = None
        elif fence is not None:
            assert line[:2] in ("+ ", "- ", "! ", "  "), line  # still inside the diff
        else:
            lines.append(line)
    assert fence is None
    return lines


def test_hostile_names_inject_no_html_and_break_no_table():
    markdown = hostile_plan()
    prose = outside_code(markdown)
    text = "\n".join(prose)
    assert "<img" not in text and "<b>" not in text and "&lt;img src=x" in text
    columns = None
    for line in prose:
        cells = len(re.findall(r"(?<!\\)\|", line))
        if not line.startswith("|"):
            columns = None
        elif columns is None:
            columns = cells  # a table's header
        else:
            # every row has as many cell separators as its header: no name adds a column
            assert cells == columns, line
    assert not any(line.startswith("# heading") for line in markdown.splitlines())


def test_hostile_names_mention_no_one():
    text = "\n".join(outside_code(hostile_plan()))
    assert re.search(r"(?<![\w&#;])@(org|team)", text.replace("@&#8203;", "")) is None
    assert "@&#8203;org/admins" in text


# Size ------------------------------------------------------------------------------------------


def synthetic_plan(
    removals: int = 0,
    members: int = 0,
    gains: int = 0,
    findings: int = 0,
    groups: int = 3,
    plan_losses: int = 0,
) -> dict:
    """A plan document as big as asked, shaped as plan.schema.json says, cheap to make."""
    names = [f"LIC-Group-{i}" for i in range(groups)]
    ids = {name: f"g-{i}" for i, name in enumerate(names)}
    changes = []
    for name in names:
        changes.append(
            {
                "action": "updateGroup",
                "group": {"id": ids[name], "displayName": name},
                "property": "membershipRule",
                "before": 'user.department -eq "Sales"',
                "after": 'user.department -eq "Sales" -and user.country -eq "US"',
            }
        )
        if members:
            listed = [
                {"id": f"m{i}", "userPrincipalName": f"member{i:06}@contoso.com"}
                for i in range(members)
            ]
            group_ref = {"id": ids[name], "displayName": name}
            changes.append({"action": "removeMembers", "group": group_ref, "members": listed})

    def loss(i: int) -> dict:
        return {
            "userId": f"u{i}",
            "userPrincipalName": f"user{i:06}@contoso.com",
            "skuId": E5,
            "skuPartNumber": "SPE_E5",
            "group": names[i % groups],
            "reason": "no longer matches the edited membership rule",
        }

    plan_loss = [
        {
            "userId": f"p{i}",
            "userPrincipalName": f"plan{i:06}@contoso.com",
            "skuId": E3,
            "skuPartNumber": "SPE_E3",
            "servicePlans": ["TEAMS1"],
            "group": names[i % groups],
            "reason": "service plans disabled on the group",
            "keptBy": [names[i % groups]],
        }
        for i in range(plan_losses)
    ]
    additions = [
        {**loss(i), "userId": f"a{i}", "userPrincipalName": f"new{i:06}@contoso.com"}
        for i in range(gains)
    ]
    for addition in additions:
        addition.update(skuId=E3, skuPartNumber="SPE_E3", reason="matches the membership rule")
    warnings = [
        {
            "code": "usage-location-missing",
            "severity": "warning",
            "message": f"new{i:06}@contoso.com has no usageLocation",
            "hint": "set the user's usageLocation where they work",
            "user": f"new{i:06}@contoso.com",
        }
        for i in range(findings)
    ]
    warnings += [
        {
            "code": "redundant-direct-license",
            "severity": "info",
            "message": f"user{i:06}@contoso.com has SPE_E5 directly",
        }
        for i in range(findings)
    ]
    warnings.append(
        {
            "code": "membership-drop",
            "severity": "warning",
            "message": "the membership change drops many",
            "file": "policies/groups.yaml",
            "line": 4,
            "column": 5,
        }
    )
    count = removals + plan_losses
    reasons = [f"the plan takes {count} licenses away, more than settings.maxLicenseRemovals (10)"]
    return {
        "formatVersion": 1,
        "changesPresent": True,
        "summary": {"add": 0, "change": groups, "remove": 0},
        "changes": changes,
        "impact": {
            "licenseRemovals": [loss(i) for i in range(removals)],
            "planRemovals": plan_loss,
            "licenseAdditions": additions,
            "planAdditions": [],
            "seats": [
                {
                    "skuId": E5,
                    "skuPartNumber": "SPE_E5",
                    "prepaid": 50_000,
                    "consumedNow": 20_000,
                    "consumedAfter": 20_000 - removals,
                    "countViolations": [],
                }
            ],
            "kept": [],
        },
        "warnings": warnings,
        "guards": {
            "licenseRemovals": count,
            "temporaryRemovals": 0,
            "maxLicenseRemovals": 10,
            "protected": [],
            "refused": count > 10,
            "reasons": reasons if count > 10 else [],
        },
        "drift": [
            {
                "group": {"id": ids[names[0]], "displayName": names[0]},
                "property": "description",
                "current": "old words",
                "desired": "new words",
                "activity": "Update group",
                "changedBy": "admin@contoso.com",
                "changedAt": "2024-05-01T10:00:00Z",
            }
        ],
    }


def test_the_synthetic_plan_is_a_valid_plan_document():
    document = synthetic_plan(removals=20, members=5, gains=5, findings=3, plan_losses=2)
    Draft202012Validator(load_schema("plan.schema.json")).validate(document)


def test_ten_thousand_license_removals_fit_in_one_comment_and_say_what_was_left_out():
    started = time.perf_counter()
    markdown = plan_markdown(synthetic_plan(removals=10_000, gains=2_000, findings=500), CONTEXT)
    assert time.perf_counter() - started < 5
    assert size(markdown) <= BUDGET < COMMENT_LIMIT
    assert markdown.startswith("<!-- reconciler plan: tenant=org policy=policies -->\n")
    assert "**Plan: 0 to add, 3 to change, 0 to remove.**" in markdown
    assert "10,000 license removals · 2,000 license additions" in markdown
    assert "> [!CAUTION]\n> **Apply will refuse this plan**" in markdown
    assert "> **10,000 people lose licenses**: 10,000 license removals through" in markdown
    note = markdown[markdown.index("> [!NOTE]") : markdown.index("### Changes")]
    assert "**Shortened** to fit GitHub's comment limit (65,536 characters)." in note
    assert re.search(r"Not listed here: .*[\d,]+ of 10,000 license removals", note)
    assert "The whole plan is the saved plan `plan.json`" in note
    assert "`reconciler show plan.json --show-all`" in note
    # as many rows as fit are still listed, and the rest are counted where the table ends
    assert markdown.count("| SPE\\_E5 | LIC-Group-") > 100
    assert re.search(r"_… and [\d,]+ more license removals, not listed here\._", markdown)


@pytest.mark.parametrize("removals", [0, 1, 30, 300, 3_000, 10_000])
def test_every_size_of_plan_stays_under_the_limit(removals):
    document = synthetic_plan(
        removals,
        members=removals,
        gains=removals,
        findings=removals // 10,
        plan_losses=removals // 5,
    )
    markdown = plan_markdown(document, CONTEXT)
    assert size(markdown) <= BUDGET
    assert "**Plan: 0 to add, 3 to change, 0 to remove.**" in markdown
    if "> [!NOTE]" not in markdown:
        # nothing was left out: every loss is in the table
        assert markdown.count("| SPE\\_E5 | LIC-Group-") == removals


def test_a_smaller_budget_is_kept_too():
    markdown = plan_markdown(synthetic_plan(removals=500, members=50), CONTEXT, budget=6_000)
    assert size(markdown) <= 6_000 and "**Shortened**" in markdown


def test_member_lists_and_gains_go_before_any_loss_row():
    document = synthetic_plan(removals=100, members=5_000, gains=3_000)
    markdown = plan_markdown(document, CONTEXT)
    assert size(markdown) <= BUDGET
    assert markdown.count("| SPE\\_E5 | LIC-Group-") == 100  # every loss listed
    assert "of 15,000 members" in markdown
    assert "license removals" not in markdown[markdown.index("Not listed here") :].split("\n")[0]


def test_thousands_of_groups_still_fit_with_summary_and_banners():
    markdown = plan_markdown(synthetic_plan(removals=10_000, groups=3_000), CONTEXT)
    assert size(markdown) <= BUDGET
    assert "**Plan: 0 to add, 3000 to change, 0 to remove.**" in markdown
    assert "and 2,990 more groups." in markdown  # the loss banner names ten groups
    assert re.search(r"[\d,]+ of 3,000 groups' changes", markdown)


def test_names_too_long_for_any_comment_are_cut_at_a_line_and_said_so():
    document = synthetic_plan(removals=20)
    for removal in document["impact"]["licenseRemovals"]:
        removal["group"] = "G" * 70_000
    markdown = plan_markdown(document, CONTEXT)
    assert size(markdown) <= BUDGET
    assert markdown.startswith("<!-- reconciler plan:") and "**Plan:" in markdown
    assert markdown.endswith(
        "_… cut here: even the shortest form of this plan is too long for a comment._"
    )


def test_size_counts_characters_outside_the_basic_plane_twice():
    assert size("ab") == 2 and size("\N{GRINNING FACE}") == 2
