"""Every stable code reconciler reports, in one registry: what it finds, what to do, where it's
documented.

A code names a kind of finding for good: scripts, SARIF's `ruleId` and GitHub's annotation
titles rely on it, so a code is never renamed or reused. docs/codes.md has a section per code,
at the anchor `#<code>`; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

HOME = "https://reconciler.dev/"
DOCS_BASE = HOME + "docs/"  # the published docs/ folder; SARIF's helpUri must be absolute
CODES_PAGE = DOCS_BASE + "codes.md"
POLICY = "policy"  # the code of a policy error no more specific code covers

Kind = Literal["policy", "rule", "lint", "plan"]
Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Code:
    """One code: `kind` says who reports it, `severity` its usual level."""

    id: str
    kind: Kind
    severity: Severity
    summary: str  # what it finds, one sentence
    help: str  # what to do about it

    @property
    def help_uri(self) -> str:
        return f"{CODES_PAGE}#{self.id}"


# --- errors in policy files (load_policy, resolve) -----------------------------------------

_POLICY: tuple[tuple[str, str, str], ...] = (
    (
        POLICY,
        "A problem in the policy that no more specific code covers.",
        "Read the message: it names the file, line and column and what is wrong there.",
    ),
    (
        "unreadable-file",
        "A policy or lock file can't be read: it is missing, unreadable or not UTF-8 text.",
        "Check the path given with --policy or in reconciler.yaml; save files as UTF-8.",
    ),
    (
        "invalid-yaml",
        "A file isn't valid YAML, or holds something other than one mapping of keys.",
        "Fix the YAML at the line and column given (indentation, quotes, a stray character).",
    ),
    (
        "duplicate-key",
        "A key is given twice in one mapping (plain YAML readers silently keep the last).",
        "Remove one of the two; the message says where the first one is.",
    ),
    (
        "unknown-key",
        "A key the policy format doesn't have, often a typo.",
        "Use the key suggested, or one listed in docs/policy.md.",
    ),
    (
        "missing-key",
        "A required key, such as a group's displayName or a license's sku, is missing.",
        "Add the key.",
    ),
    (
        "conflicting-keys",
        "Keys that can't go together: membershipRule and members, disabledPlans and "
        "enabledPlans, or membershipRuleProcessingState without membershipRule.",
        "Keep one of the two keys named.",
    ),
    (
        "invalid-value",
        "A value of the wrong type or form: text where true or false belongs, a bad GUID, a "
        "number out of range, a value not among those allowed.",
        "Write the value in the form the message gives.",
    ),
    (
        "invalid-characters",
        "A group's displayName holds a line break or another control character (ESC, a tab), "
        "or a displayName or description a bidirectional control (U+202E and its kin) or a "
        "control character other than a line break or tab: it could make a plan line or a "
        "name read as something else.",
        "Remove the character at the line and column given.",
    ),
    (
        "duplicate-setting",
        "'tenant' or 'settings' is set in more than one policy file.",
        "Set it in one file only.",
    ),
    (
        "duplicate-group",
        "A group's displayName is declared twice (ignoring case), or both declared and retired.",
        "Keep one entry per group; a retired group is no longer declared.",
    ),
    (
        "duplicate-group-id",
        "Two entries pin the same group object with `id`.",
        "Pin each group once.",
    ),
    (
        "duplicate-license",
        "A group lists the same SKU twice.",
        "List each SKU once per group, with all its plan settings in that entry.",
    ),
    (
        "unknown-sku",
        "A license names a SKU the tenant doesn't subscribe to (offline: that skus.lock.yaml "
        "doesn't list).",
        "Use the skuPartNumber or skuId the tenant lists; offline, run `reconciler lock` if "
        "the tenant has the SKU.",
    ),
    (
        "unknown-service-plan",
        "A service plan name or id that the SKU (or, in settings, any SKU) doesn't have.",
        "Use a servicePlanName or servicePlanId of that SKU, as `reconciler lock` records them.",
    ),
    (
        "unknown-member",
        "A static member that is no user or group of the tenant.",
        "Write the user's userPrincipalName or object id, or the group's object id.",
    ),
    (
        "unknown-group-id",
        "A group pinned by `id` to an object the tenant doesn't have.",
        "Correct the id, or remove it to match the group by displayName.",
    ),
    (
        "retired-group-unknown",
        "A retired entry names no group of the tenant, and looks like a typo of one.",
        "Write the group's name as the tenant has it, or remove the entry if it was deleted.",
    ),
    (
        "retired-group-ambiguous",
        "A retired entry could mean more than one group: several groups of that name, or a "
        "group of that name beside the id the entry or groups.lock.yaml names.",
        "Pin the group to retire with its `id`, or remove the entry.",
    ),
    (
        "retired-group-mismatch",
        "A retired entry's `id` is a group of another name; retiring deletes, so both must agree.",
        "Write the displayName the tenant has for that id, or correct the id.",
    ),
    (
        "retired-group-declared",
        "A group is retired while a declared entry pins it by its id.",
        "Either keep the group (remove the retired entry) or retire it (remove the declared one).",
    ),
    (
        "tenant-mismatch",
        "The policy's `tenant` pin names another tenant than the one read.",
        "Point --tenant at the right tenant, or correct the pin.",
    ),
    (
        "invalid-lock",
        "skus.lock.yaml can't be read: bad YAML, a merge conflict or an unknown key.",
        "Run `reconciler lock` to write it anew, then commit it.",
    ),
    (
        "invalid-group-lock",
        "groups.lock.yaml can't be read: bad YAML, a merge conflict or an unknown key.",
        "Mend it by hand, keeping every `protect: true`, or take one side of the conflict.",
    ),
    (
        "tenant-unreadable",
        "The tenant couldn't be read, so the names in the policy weren't looked up in it "
        "(validate checks SKUs and service plans against skus.lock.yaml instead, if there is one).",
        "Check --tenant and the credentials; `validate --offline` checks without the tenant.",
    ),
)

# --- errors of the membership rule language (docs/rules.md, "Errors") -----------------------

_RULE_HELP = "Fix the rule as the message says; docs/rules.md describes the language."
_RULES: tuple[tuple[str, str], ...] = (
    ("empty-rule", "The rule is empty."),
    ("rule-too-long", "The rule is longer than 3,072 characters."),
    ("unterminated-string", "A string has no closing quote."),
    ("typographic-quote", "A typographic quote (“ ”) where a straight quote belongs."),
    ("stray-dash", "A dash that starts no operator."),
    ("unexpected-character", "A character the rule language doesn't use."),
    ("unbalanced-parenthesis", "A parenthesis without its pair."),
    ("unbalanced-bracket", "A bracket without its pair."),
    ("empty-parentheses", "Parentheses with nothing inside."),
    ("too-deeply-nested", "More than 50 levels of parentheses and -not."),
    ("missing-logical-operator", "Two expressions side by side without -and or -or."),
    ("unexpected-token", "Something where an expression, operator or value belongs."),
    ("unexpected-word", "A word where an expression, operator or value belongs."),
    ("unexpected-end", "The rule ends where more is expected."),
    ("unknown-object", "A property of an object other than user or device."),
    ("missing-object-prefix", "A property without its user. or device. prefix."),
    ("unknown-property", "A property the object type doesn't have."),
    ("missing-property", "An object prefix without a property name."),
    ("mixed-object-types", "Both user. and device. properties in one rule."),
    ("missing-operator", "A property without an operator."),
    ("unknown-operator", "An operator the rule language doesn't have."),
    ("unsupported-operator", "An operator Entra doesn't support (-lt, -gt, -like, -minus)."),
    ("operator-not-supported", "An operator the property's type doesn't have."),
    ("not-null-comparison", "-not written as a comparison with null."),
    ("not-as-comparison", "-not written as a comparison operator."),
    ("missing-value", "An operator without a value."),
    ("unquoted-string", "Text that needs quotes."),
    ("type-mismatch", "A value of the wrong type for the property."),
    ("null-operator", "null with an operator other than -eq or -ne."),
    ("expected-list", "-in or -notIn without a [...] list."),
    ("unexpected-list", "A [...] list with an operator other than -in or -notIn."),
    ("empty-list", "An empty [...] list."),
    ("invalid-regex", "A regular expression that can't be read."),
    ("invalid-date", "A date that can't be read."),
    ("invalid-duration", "A duration that can't be read."),
    ("quantifier-on-single-value", "-any or -all on a property that isn't a collection."),
    ("nested-quantifier", "-any or -all inside another."),
    ("item-outside-quantifier", "An item reference outside -any or -all."),
    ("invalid-item-reference", "An item reference the collection doesn't have."),
    ("memberof-combined", "A memberOf rule combined with other expressions."),
    ("invalid-memberof", "A memberOf rule not in the documented form."),
    ("memberof-too-many-groups", "A memberOf rule over more than 50 groups."),
    ("direct-reports-combined", "A Direct Reports rule combined with other expressions."),
    ("invalid-direct-reports", "A Direct Reports rule not in the documented form."),
)

# --- lints of valid rules (docs/rules.md, "Lints") ------------------------------------------

_LINT_HELP = "Rewrite the rule as suggested; the rule works as it is."
_LINTS: tuple[tuple[str, Severity, str], ...] = (
    ("match-could-be-simpler", "warning", "-match on plain text, which a simpler test does."),
    ("or-chain-could-be-in", "warning", "-eq of one property chained with -or: one -in list."),
    ("contains-could-be-prefix", "info", "-contains, which Entra evaluates slower than a prefix."),
    ("redundant-expression", "warning", "A condition repeated, or implied by another."),
    ("contradictory-expression", "warning", "An -and that can never be true."),
    ("user-editable-attribute", "warning", "A condition on an attribute users can set."),
    ("memberof-preview", "info", "memberOf is a preview and doesn't follow deleted groups."),
    ("not-a-guid", "warning", "A Direct Reports or memberOf id that isn't a GUID."),
    ("typographic-dash", "warning", "An operator written with an en or em dash."),
    ("property-case", "info", "A property spelled in another case than documented."),
    ("empty-string-comparison", "info", '-eq "", which means -eq null.'),
)

# --- the plan's warnings (docs/safety.md, "Warnings") ---------------------------------------

_PLAN: tuple[tuple[str, Severity, str, str], ...] = (
    (
        "usage-location-missing",
        "warning",
        "A user the plan licenses has no usageLocation.",
        "Set the user's usageLocation; group licensing never sets it.",
    ),
    (
        "nested-group-members",
        "warning",
        "A licensed group has groups as members, whose members get nothing.",
        "Add the users themselves, or license the nested group.",
    ),
    (
        "group-not-security-enabled",
        "error",
        "A group assigns licenses but isn't security-enabled, so assigns nothing.",
        "Make it security-enabled, or move its licenses to a security group.",
    ),
    (
        "new-service-plan",
        "warning",
        "A product has a service plan that skus.lock.yaml doesn't list.",
        "Add it to disabledPlans or switch to enabledPlans; run `reconciler lock`.",
    ),
    (
        "plan-pending-provisioning",
        "warning",
        "A service plan of an assigned product is still being provisioned.",
        "Wait for Microsoft to finish; members won't have the service until then.",
    ),
    (
        "seat-shortfall",
        "warning",
        "The plan needs more seats of a product than are enabled.",
        "Buy or free seats, then `reconciler reprocess` the users left short.",
    ),
    (
        "redundant-direct-license",
        "info",
        "A user has a product both directly and through a group.",
        "Remove the direct assignment once the group gives the same plans.",
    ),
    (
        "license-error-state",
        "warning",
        "A user is already in a licensing error state.",
        "Fix the cause, then `reconciler reprocess` the user.",
    ),
    (
        "membership-drop",
        "warning",
        "A rule or processing change drops many of a group's members.",
        "Check the rule with `reconciler rule test`; raise the setting if intended.",
    ),
    (
        "mutually-exclusive-plans",
        "warning",
        "A license conflicts with a plan the user has from another product.",
        "Disable the conflicting plan in one group, or remove the other license.",
    ),
    (
        "dependency-violation",
        "warning",
        "A service plan would be left without the plan it depends on.",
        "Keep the required plan, or disable the dependent plan first.",
    ),
    (
        "member-of-stale",
        "warning",
        "A memberOf group keeps members who are in none of its source groups.",
        "Edit the group's memberOf rule to have Entra evaluate it anew.",
    ),
    (
        "retired-not-locked",
        "warning",
        "The plan deletes a retired group that groups.lock.yaml hasn't seen retired.",
        "Run `reconciler lock` and commit groups.lock.yaml with the change.",
    ),
    (
        "renamed-without-id",
        "warning",
        "A group is created while one with the same products leaves management.",
        "Pin the old group's id in the block to rename it in place.",
    ),
)


def _registry() -> dict[str, Code]:
    codes = [Code(code, "policy", "error", summary, help_) for code, summary, help_ in _POLICY]
    codes += [Code(code, "rule", "error", summary, _RULE_HELP) for code, summary in _RULES]
    codes += [Code(code, "lint", level, summary, _LINT_HELP) for code, level, summary in _LINTS]
    codes += [Code(code, "plan", level, summary, help_) for code, level, summary, help_ in _PLAN]
    registry = {code.id: code for code in codes}
    if len(registry) != len(codes):  # one namespace: a code means one thing wherever it is seen
        raise AssertionError("a code is registered twice")
    return registry


CODES: Mapping[str, Code] = _registry()


def code_info(code: str) -> Code:
    """The registered `code`; an unregistered one (a bug) is described as a policy error."""
    found = CODES.get(code)
    if found is not None:
        return found
    return Code(code, "policy", "error", CODES[POLICY].summary, CODES[POLICY].help)
