"""`validate --format text|json|github|sarif`: every error and lint of every file in one run,
each with its code, file, line and column; exit 1 on errors, and on warnings with --strict."""

import json
from pathlib import Path

from jsonschema import Draft4Validator, Draft202012Validator

from reconciler.jsonschemas import load_schema

ROOT = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())

# problems of every stage in several files, and a rule with a warning and an info lint
BROKEN = {
    "a-syntax.yaml": "groups:\n  - displayName: A\n   licenses: []\n",
    "b-schema.yaml": "groups:\n  - displayName: B\n    protect: yes\n    groupTyp: m365\n",
    "c-rules.yaml": (
        "groups:\n"
        "  - displayName: C\n"
        '    membershipRule: user.departmnt -eq "x"\n'
        "  - displayName: C-Lint\n"
        "    membershipRule: >-\n"
        '      user.Department -eq "Sales"\n'
        '      -and user.jobTitle -match "^Chief"\n'
    ),
    "d-names.yaml": (
        "groups:\n"
        "  - displayName: D\n"
        "    licenses:\n"
        "      - sku: SPE_E6\n"
        "      - sku: SPE_E5\n"
        "        disabledPlans: [YAMMER_ENTERPRIS]\n"
        "  - displayName: D-Members\n"
        "    members: [nobody@contoso.com]\n"
    ),
    "e-duplicate.yaml": "groups:\n  - displayName: b\n",
}

LINTS = [
    "info: policies/c-rules.yaml:6:7: group 'C-Lint', membershipRule: user.Department is "
    "documented as user.department [property-case]",
    '  hint: write it as: user.department -eq "Sales" -and user.jobTitle -match "^Chief"',
    "warning: policies/c-rules.yaml:7:12: group 'C-Lint', membershipRule: \"^Chief\" is plain "
    "text, so -startsWith does the same test faster than a regular expression "
    "[match-could-be-simpler]",
    '  hint: write it as: user.department -eq "Sales" -and user.jobTitle -startsWith "Chief"',
]

TEXT = [
    "error: policies/a-syntax.yaml:3:4: invalid YAML: expected <block end>, but found "
    "'<block mapping start>' (while parsing a block collection at line 2)",
    "error: policies/add-ons.yaml:39:18: retired group 'Finance Analyst': the tenant has no "
    "group of that name (did you mean 'Finance Analysts'?); if it was deleted already, remove "
    "this entry",
    "error: policies/b-schema.yaml:3:14: group 'B', protect: expected true or false, found the "
    "text 'yes'",
    "error: policies/b-schema.yaml:4:5: group 'B': unknown key 'groupTyp' in group (did you "
    "mean 'groupType'?)",
    "error: policies/c-rules.yaml:3:21: group 'C', membershipRule: unknown property "
    "'user.departmnt' (did you mean 'department'?) [unknown-property]",
    *LINTS,
    "error: policies/d-names.yaml:4:14: group 'D', licenses[0].sku: unknown SKU 'SPE_E6' (did "
    "you mean 'SPE_E5'?); the tenant has: EMS, ENTERPRISEPACK, POWER_BI_PRO, SPE_E3, SPE_E5, "
    "VISIOCLIENT",
    "error: policies/d-names.yaml:6:25: group 'D', licenses[1].disabledPlans[0]: unknown "
    "service plan 'YAMMER_ENTERPRIS' in SPE_E5 (did you mean 'YAMMER_ENTERPRISE'?)",
    "error: policies/d-names.yaml:8:15: group 'D-Members', members[0]: no user or group "
    "'nobody@contoso.com' in the tenant (did you mean 'isla.wood@contoso.com'?)",
    "error: policies/e-duplicate.yaml:2:18: group 'b' is declared twice: first at "
    "policies/b-schema.yaml:2:18",
    "error: policies/settings.yaml:2:9: the policy is for tenant fabrikam.com, but this tenant "
    "is Contoso (contoso.onmicrosoft.com, contoso.com)",
    "10 errors, 1 warning, 1 info in 7 files",
]

# (severity, code, file, line, column) of each finding, in file order
FINDINGS = [
    ("error", "invalid-yaml", "policies/a-syntax.yaml", 3, 4),
    ("error", "retired-group-unknown", "policies/add-ons.yaml", 39, 18),
    ("error", "invalid-value", "policies/b-schema.yaml", 3, 14),
    ("error", "unknown-key", "policies/b-schema.yaml", 4, 5),
    ("error", "unknown-property", "policies/c-rules.yaml", 3, 21),
    ("info", "property-case", "policies/c-rules.yaml", 6, 7),
    ("warning", "match-could-be-simpler", "policies/c-rules.yaml", 7, 12),
    ("error", "unknown-sku", "policies/d-names.yaml", 4, 14),
    ("error", "unknown-service-plan", "policies/d-names.yaml", 6, 25),
    ("error", "unknown-member", "policies/d-names.yaml", 8, 15),
    ("error", "duplicate-group", "policies/e-duplicate.yaml", 2, 18),
    ("error", "tenant-mismatch", "policies/settings.yaml", 2, 9),
]


def _break(demo: Path) -> None:
    for name, text in BROKEN.items():
        (demo / "policies" / name).write_text(text)
    _edit(demo / "policies" / "add-ons.yaml", "Finance Analysts", "Finance Analyst")
    _edit(demo / "policies" / "settings.yaml", "contoso.onmicrosoft.com", "fabrikam.com")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _lint_only(demo: Path, rule: str) -> None:
    """The demo with one more group, whose rule only lints."""
    text = f"groups:\n  - displayName: LIC-Lint\n    membershipRule: {rule}\n"
    (demo / "policies" / "lint.yaml").write_text(text)


def test_text_lists_every_error_and_lint_of_every_file_then_counts_them(run, demo):
    _break(demo)
    result = run("validate", cwd=demo)
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == TEXT


def test_json_has_every_finding_with_code_and_place_and_matches_its_schema(run, demo):
    _break(demo)
    result = run("validate", "--format", "json", cwd=demo)
    assert result.code == 1, result.stderr
    assert result.stderr == ""
    document = result.json()
    Draft202012Validator(load_schema("validate.schema.json")).validate(document)
    assert {key: document[key] for key in list(document)[:6]} == {
        "formatVersion": 1,
        "valid": False,
        "errorCount": 10,
        "warningCount": 1,
        "infoCount": 1,
        "namesChecked": "tenant",
    }
    found = document["diagnostics"]
    assert [(d["severity"], d["code"], d["file"], d["line"], d["column"]) for d in found] == (
        FINDINGS
    )
    assert found[6]["message"] == (
        "group 'C-Lint', membershipRule: \"^Chief\" is plain text, so -startsWith does the same "
        "test faster than a regular expression"
    )
    assert found[6]["hint"] == (
        'write it as: user.department -eq "Sales" -and user.jobTitle -startsWith "Chief"'
    )
    assert "hint" not in found[0]


def test_sarif_has_every_finding_and_matches_the_official_schema(run, demo):
    _break(demo)
    first = run("validate", "--format", "sarif", cwd=demo)
    assert first.code == 1, first.stderr
    assert first.stderr == ""
    log = first.json()
    Draft4Validator(SARIF_SCHEMA).validate(log)
    (sarif_run,) = log["runs"]
    rules = sarif_run["tool"]["driver"]["rules"]
    assert sorted(rule["id"] for rule in rules) == sorted({code for _, code, *_ in FINDINGS})
    for rule in rules:
        assert rule["helpUri"] == f"https://reconciler.dev/docs/codes.md#{rule['id']}"
    results = sarif_run["results"]
    assert [
        (
            result["level"],
            result["ruleId"],
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            result["locations"][0]["physicalLocation"]["region"]["startLine"],
            result["locations"][0]["physicalLocation"]["region"]["startColumn"],
        )
        for result in results
    ] == [
        ({"info": "note"}.get(severity, severity), code, file, line, column)
        for severity, code, file, line, column in FINDINGS
    ]
    assert all(rules[result["ruleIndex"]]["id"] == result["ruleId"] for result in results)
    assert sarif_run["invocations"] == [{"executionSuccessful": True, "exitCode": 1}]
    # the same findings again: the same fingerprints, so code scanning raises no new alert
    again = run("validate", "--format", "sarif", cwd=demo).json()
    assert [r["partialFingerprints"] for r in again["runs"][0]["results"]] == [
        r["partialFingerprints"] for r in results
    ]


def test_github_annotates_every_finding_with_its_code_then_sums_up(run, demo):
    _break(demo)
    result = run("validate", "--format", "github", cwd=demo)
    assert result.code == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "::group::10 errors, 1 warning, 1 info in 7 files"
    assert lines[1 : len(TEXT)] == TEXT[:-1]  # the whole listing, as text prints it
    annotations = [
        line for line in lines if line.startswith(("::error ", "::warning ", "::notice "))
    ]
    assert len(annotations) == len(FINDINGS)
    assert (
        "::error file=policies/d-names.yaml,line=4,col=14,title=unknown-sku::group 'D', "
        "licenses[0].sku: unknown SKU 'SPE_E6'"
    ) in "\n".join(annotations)
    assert (
        "::warning file=policies/c-rules.yaml,line=7,col=12,title=match-could-be-simpler::"
        "group 'C-Lint', membershipRule: \"^Chief\" is plain text, so -startsWith does the same "
        'test faster than a regular expression%0Awrite it as: user.department -eq "Sales" -and '
        'user.jobTitle -startsWith "Chief"'
    ) in annotations
    assert "::notice file=policies/c-rules.yaml,line=6,col=7,title=property-case::" in "\n".join(
        annotations
    )
    assert lines[-1] == "policy in policies is invalid: 10 errors, 1 warning, 1 info in 7 files"


def test_github_escapes_policy_text_and_caps_annotations_at_ten_per_level(run, demo):
    groups = "".join(
        f"  - displayName: '50%, Sales {n}'\n    membershipRule: user.mobile -eq \"1\"\n"
        for n in range(12)
    )
    (demo / "policies" / "lint.yaml").write_text("groups:\n" + groups)
    result = run("validate", "--offline", "--format", "github", cwd=demo)
    assert result.code == 0, result.stdout
    lines = result.stdout.splitlines()
    warnings = [line for line in lines if line.startswith("::warning ")]
    assert len(warnings) == 10
    assert warnings[0] == (
        "::warning file=policies/lint.yaml,line=3,col=21,title=user-editable-attribute::group "
        "'50%25, Sales 0', membershipRule: users can change user.mobile themselves, so licenses "
        "shouldn't depend on it"
    )
    assert lines[-2].startswith("2 more findings not annotated (GitHub shows 10 of each level")
    # the log's listing has all twelve
    assert sum(1 for line in lines if line.startswith("warning: policies/lint.yaml:")) == 12
    assert lines[-1].endswith("; 12 warnings in 1 file")


def test_strict_fails_on_warnings_in_every_format_but_never_on_info(run, demo):
    _lint_only(demo, 'user.department -match "^Sales$"')
    for output in ("text", "json", "github", "sarif"):
        plain = run("validate", "--format", output, cwd=demo)
        strict = run("validate", "--format", output, "--strict", cwd=demo)
        assert (plain.code, strict.code) == (0, 1), output
    text = run("validate", "--strict", cwd=demo)
    assert text.stderr.splitlines() == [
        "warning: policies/lint.yaml:3:21: group 'LIC-Lint', membershipRule: \"^Sales$\" is "
        "plain text, so -eq does the same test faster than a regular expression "
        "[match-could-be-simpler]",
        '  hint: write it as: user.department -eq "Sales"',
        "1 warning in 1 file (--strict: warnings fail the check)",
    ]
    assert text.stdout == "policy in policies is valid: 9 managed groups, 1 to retire\n"
    strict = run("validate", "--format", "json", "--strict", cwd=demo).json()
    assert (strict["valid"], strict["warningCount"]) == (True, 1)
    sarif = run("validate", "--format", "sarif", "--strict", cwd=demo).json()
    assert sarif["runs"][0]["invocations"][0]["exitCode"] == 1
    # information is never a reason to fail
    _lint_only(demo, 'user.Department -eq "Sales"')
    assert run("validate", "--strict", cwd=demo).code == 0


def test_a_valid_policy_without_lints_prints_what_it_always_did(run, demo):
    result = run("validate", cwd=demo)
    assert (result.code, result.stderr) == (0, "")
    assert result.stdout == "policy in policies is valid: 8 managed groups, 1 to retire\n"
    document = run("validate", "--format", "json", cwd=demo).json()
    assert document["valid"] is True and document["diagnostics"] == []


def test_offline_catches_an_unknown_sku_and_service_plan_through_the_lock(run, demo):
    (demo / "policies" / "d-names.yaml").write_text(BROKEN["d-names.yaml"])
    result = run("validate", "--offline", "--format", "json", cwd=demo)
    assert result.code == 1
    document = result.json()
    assert document["namesChecked"] == "lock"
    assert [(d["code"], d["line"], d["column"]) for d in document["diagnostics"]] == [
        ("unknown-sku", 4, 14),
        ("unknown-service-plan", 6, 25),
    ]
    assert document["diagnostics"][0]["message"].endswith(
        "; checked against policies/skus.lock.yaml, which lists: EMS, ENTERPRISEPACK, "
        "POWER_BI_PRO, SPE_E3, SPE_E5, VISIOCLIENT; run `reconciler lock` if the tenant has it"
    )
    assert not (demo / "state").exists()  # no tenant was read, nor created
    (demo / "policies" / "d-names.yaml").unlink()
    valid = run("validate", "--offline", cwd=demo)
    assert valid.code == 0
    assert valid.stdout == (
        "policy in policies is valid (SKUs and service plans checked against "
        "policies/skus.lock.yaml; members and groups not checked against a tenant)\n"
    )


def test_offline_without_a_lock_says_the_names_were_not_checked(run, demo):
    (demo / "policies" / "skus.lock.yaml").unlink()
    (demo / "policies" / "d-names.yaml").write_text(BROKEN["d-names.yaml"])
    valid = run("validate", "--offline", cwd=demo)
    assert valid.code == 0, valid.stderr
    assert valid.stdout == (
        "policy in policies is valid (names not checked against a tenant, nor against a "
        "skus.lock.yaml)\n"
    )
    assert run("validate", "--offline", "--format", "json", cwd=demo).json()["namesChecked"] == (
        "none"
    )
    sarif = run("validate", "--offline", "--format", "sarif", cwd=demo).json()
    assert sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"] == [
        {
            "level": "note",
            "message": {
                "text": "SKU and service plan names were not checked, against a tenant or a "
                "skus.lock.yaml"
            },
        }
    ]
    (demo / "policies" / "b-schema.yaml").write_text(BROKEN["b-schema.yaml"])
    invalid = run("validate", "--offline", cwd=demo)
    assert invalid.code == 1
    assert invalid.stderr.splitlines()[-1] == (
        "note: SKU and service plan names were not checked, against a tenant or a skus.lock.yaml"
    )


def test_a_tenant_that_cant_be_read_is_reported_with_what_can_be_checked_without_it(run, demo):
    _lint_only(demo, 'user.department -match "^Sales$"')
    args = ("validate", "--tenant", "snapshot:missing.json")
    document = run(*args, "--format", "json", cwd=demo).json()
    assert [(d["code"], d["file"]) for d in document["diagnostics"]] == [
        ("tenant-unreadable", None),
        ("match-could-be-simpler", "policies/lint.yaml"),
    ]
    assert document["namesChecked"] == "lock"  # checked without the tenant, as offline
    sarif = run(*args, "--format", "sarif", cwd=demo)
    assert sarif.code == 1
    Draft4Validator(SARIF_SCHEMA).validate(sarif.json())
    (invocation,) = sarif.json()["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["level"] == "error"


def test_every_format_reports_a_missing_policy_path_and_exits_1_without_a_traceback(run, demo):
    for output in ("text", "json", "github", "sarif"):
        result = run("validate", "--policy", "nowhere", "--format", output, cwd=demo)
        assert result.code == 1, output
        assert "Traceback" not in result.stdout + result.stderr
        assert "policy path does not exist" in result.stdout + result.stderr
    document = run("validate", "--policy", "nowhere", "--format", "json", cwd=demo).json()
    assert [(d["code"], d["file"]) for d in document["diagnostics"]] == [
        ("unreadable-file", "nowhere")
    ]
