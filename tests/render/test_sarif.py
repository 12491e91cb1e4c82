"""SARIF for code scanning: valid against the official schema, a rule per code linked to its
documentation, repository-relative paths and fingerprints that survive edits above a finding."""

import ast
import json
import re
from pathlib import Path, PurePosixPath

from jsonschema import Draft4Validator

from reconciler.codes import CODES, DOCS_BASE
from reconciler.errors import Location
from reconciler.render.sarif import FINGERPRINT, artifact_uri, sarif_log
from reconciler.render.validate_report import Diagnostic

ROOT = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
REPO = PurePosixPath("/srv/policy-repo")

SKU = Diagnostic(
    "error",
    "unknown-sku",
    "group 'LIC-Sales', licenses[0].sku: unknown SKU 'SPE_E6'",
    Location("policies/sales.yaml", 7, 14),
)
LINT = Diagnostic(
    "warning",
    "match-could-be-simpler",
    "group 'LIC-Sales', membershipRule: \"^Sales$\" is plain text",
    Location("policies/sales.yaml", 5, 21),
    'write it as: user.department -eq "Sales"',
)
NOTE = Diagnostic(
    "info", "property-case", "group 'B', membershipRule: spelled", Location("policies/b.yaml", 2, 3)
)


def _log(*diagnostics: Diagnostic, **options) -> dict:
    options = {"exit_code": 1, "root": REPO, "version": "0.1.0", **options}
    return sarif_log(diagnostics, **options)


def _run(log: dict) -> dict:
    (run,) = log["runs"]
    return run


def test_a_log_validates_against_the_official_sarif_2_1_0_schema():
    log = _log(SKU, LINT, NOTE, Diagnostic("error", "tenant-unreadable", "no tenant"))
    Draft4Validator(SARIF_SCHEMA).validate(log)
    assert log["version"] == "2.1.0"
    assert log["$schema"] == SARIF_SCHEMA["id"]


def test_an_empty_log_validates_too():
    log = _log(exit_code=0, notes=("names were not checked",))
    Draft4Validator(SARIF_SCHEMA).validate(log)
    assert _run(log)["results"] == []
    assert _run(log)["tool"]["driver"]["rules"] == []


def test_one_rule_per_code_with_descriptions_help_and_an_absolute_help_uri():
    run = _run(_log(SKU, LINT, NOTE, SKU))
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == [
        "match-could-be-simpler",
        "property-case",
        "unknown-sku",
    ]
    sku = rules[2]
    assert sku["shortDescription"]["text"] == CODES["unknown-sku"].summary
    assert sku["fullDescription"]["text"]
    assert sku["help"]["text"] == CODES["unknown-sku"].help
    assert sku["helpUri"] == "https://reconciler.dev/docs/codes.md#unknown-sku"
    assert sku["defaultConfiguration"] == {"level": "error"}
    assert rules[1]["defaultConfiguration"] == {"level": "note"}
    for rule in rules:
        assert len(rule["shortDescription"]["text"]) <= 1024  # GitHub's limit
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_each_result_has_its_level_message_relative_uri_and_region():
    results = _run(_log(SKU, LINT, NOTE))["results"]
    assert [result["level"] for result in results] == ["error", "warning", "note"]
    assert results[0]["message"] == {"text": SKU.message}
    assert results[1]["message"]["text"] == f"{LINT.message}\n{LINT.hint}"
    assert results[0]["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "policies/sales.yaml"},
                "region": {"startLine": 7, "startColumn": 14},
            }
        }
    ]


def test_paths_are_relative_to_the_repository_with_forward_slashes():
    assert artifact_uri("/srv/policy-repo/policies/a b.yaml", REPO) == "policies/a%20b.yaml"
    assert artifact_uri("./policies/../policies/a.yaml", REPO) == "policies/a.yaml"
    assert artifact_uri("/elsewhere/a.yaml", REPO) == "file:///elsewhere/a.yaml"
    assert artifact_uri("../a.yaml", REPO) == "file:///srv/a.yaml"


def test_a_finding_about_a_whole_file_has_no_region():
    unreadable = Diagnostic("error", "unreadable-file", "can't read file", Location("p/a.yaml"))
    (result,) = _run(_log(unreadable))["results"]
    assert result["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": "p/a.yaml"}}


def _fingerprint(log: dict) -> list[str]:
    return [result["partialFingerprints"][FINGERPRINT] for result in _run(log)["results"]]


def test_a_fingerprint_stays_the_same_when_the_finding_moves_down_its_file():
    moved = Diagnostic(SKU.severity, SKU.code, SKU.message, Location("policies/sales.yaml", 12, 14))
    assert _fingerprint(_log(SKU)) == _fingerprint(_log(moved))
    # nor does a position quoted in the message change it
    first = Diagnostic(
        "error", "duplicate-key", "already given at p/a.yaml:3:5", Location("p/a.yaml", 4, 5)
    )
    later = Diagnostic(
        "error", "duplicate-key", "already given at p/a.yaml:9:5", Location("p/a.yaml", 10, 5)
    )
    assert _fingerprint(_log(first)) == _fingerprint(_log(later))


def test_different_findings_and_the_same_finding_twice_have_different_fingerprints():
    other = Diagnostic(SKU.severity, SKU.code, SKU.message.replace("E6", "E7"), SKU.location)
    fingerprints = _fingerprint(_log(SKU, other, SKU))
    assert len(set(fingerprints)) == 3
    assert fingerprints[0].endswith(":1") and fingerprints[2].endswith(":2")


def test_a_finding_without_a_file_is_a_notification_and_the_run_not_successful():
    unread = Diagnostic("error", "tenant-unreadable", "can't read the tenant")
    run = _run(_log(SKU, unread, notes=("names were not checked",)))
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["exitCode"] == 1
    assert invocation["toolExecutionNotifications"] == [
        {
            "level": "error",
            "message": {"text": "can't read the tenant"},
            "associatedRule": {"id": "tenant-unreadable", "index": 0},
        },
        {"level": "note", "message": {"text": "names were not checked"}},
    ]
    assert [result["ruleId"] for result in run["results"]] == ["unknown-sku"]


def test_a_run_that_checked_everything_is_successful_whatever_it_found():
    (invocation,) = _run(_log(SKU, exit_code=1))["invocations"]
    assert invocation == {"executionSuccessful": True, "exitCode": 1}


# --- the registry the rules come from -------------------------------------------------------


def test_every_code_has_a_section_in_docs_codes_md_and_every_section_a_code():
    text = (ROOT / "docs" / "codes.md").read_text()
    sections = re.findall(r"^### (\S+)$", text, re.MULTILINE)
    assert sorted(sections) == sorted(CODES)
    assert len(sections) == len(set(sections))
    assert DOCS_BASE == "https://reconciler.dev/docs/"
    for code in CODES.values():
        assert code.help_uri == f"{DOCS_BASE}codes.md#{code.id}"
        assert code.summary and code.help


def test_every_rule_error_and_lint_code_of_docs_rules_md_is_registered_with_its_severity():
    text = (ROOT / "docs" / "rules.md").read_text()
    errors = text.split("## Errors")[1].split("## Lints")[0]
    for code in re.findall(r"`([a-z]+(?:-[a-z]+)+)`", errors):
        assert CODES[code].kind == "rule", code
    lints = text.split("## Lints")[1].split("## Decided")[0]
    for code, severity in re.findall(r"^\| `([a-z-]+)` \| (\w+) \|", lints, re.MULTILINE):
        assert (CODES[code].kind, CODES[code].severity) == ("lint", severity), code


def test_every_plan_warning_code_of_docs_safety_md_is_registered():
    text = (ROOT / "docs" / "safety.md").read_text()
    for code in re.findall(r"^\| `([a-z-]+)` \|", text, re.MULTILINE):
        assert CODES[code].kind == "plan", code


def test_every_code_the_policy_checks_raise_is_registered():
    # a kebab-case text in these modules is a code, but for the encodings they read files in
    modules = [*(ROOT / "reconciler" / "policy").glob("*.py"), ROOT / "reconciler/cli/validate.py"]
    found = set()
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and re.fullmatch(r"[a-z]+(-[a-z0-9]+)+", text):
                found.add(text)
    found -= {"utf-8", "utf-8-sig"}
    assert found and found <= set(CODES), found - set(CODES)
