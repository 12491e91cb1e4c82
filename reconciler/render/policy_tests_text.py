"""Policy test results for a terminal (a line per test, then why each failure failed) and as
the JSON document docs/policy-tests.md describes. Names and values from the tenant or the tests
are shown through `shown`, so none can draw a line of its own."""

from __future__ import annotations

import json
from typing import Any

from reconciler.policy_tests.results import PolicyTestResult, PolicyTestRun
from reconciler.render.safe_text import shown

FORMAT_VERSION = 1
PASS, FAIL = "PASS", "FAIL"


def results_text(run: PolicyTestRun, tests_path: str) -> str:
    """One line per test, the reasons of each failure, then the counts."""
    if not run.results:
        return f"No policy tests in {shown(tests_path)}."
    plan = {key: run.plan.get(key, 0) for key in ("add", "change", "remove")}
    if any(plan.values()):
        counted = f"{plan['add']} to add, {plan['change']} to change, {plan['remove']} to remove"
        heading = f"Tests of the tenant as the plan leaves it ({counted}; not applied):"
    else:
        heading = "Tests of the tenant as it is (the plan changes nothing):"
    lines = [heading, ""]
    lines += [f"  {PASS if r.passed else FAIL}  {shown(r.name)}" for r in run.results]
    for result in run.failed:
        lines += ["", *_failure_lines(result)]
    lines += ["", counts(run)]
    return "\n".join(lines)


def _failure_lines(result: PolicyTestResult) -> list[str]:
    where = shown(result.location)
    lines = [f"{FAIL}  {shown(result.name)}", f"  {where}: {shown(result.subject)}"]
    for failure in result.failures:
        lines.append(f"  expected: {shown(failure.expected)}")
        lines += [f"    {shown(reason)}" for reason in failure.reasons]
    lines += [f"  {shown(note)}" for note in result.notes]
    return lines


def counts(run: PolicyTestRun) -> str:
    """`2 failed, 12 passed (14 tests)`, or `14 passed`."""
    total = len(run.results)
    failed = len(run.failed)
    if not failed:
        return f"{total} passed"
    return f"{failed} failed, {total - failed} passed ({total} test{'s' * (total != 1)})"


def results_json(run: PolicyTestRun) -> str:
    """The results as one JSON document (formatVersion 1)."""
    return json.dumps(results_document(run), indent=2, ensure_ascii=False)


def results_document(run: PolicyTestRun) -> dict[str, Any]:
    """The document schemas/policy-tests-results.schema.json describes."""
    failed = len(run.failed)
    return {
        "formatVersion": FORMAT_VERSION,
        "passed": run.passed,
        "summary": {
            "tests": len(run.results),
            "passed": len(run.results) - failed,
            "failed": failed,
        },
        "tenantId": run.tenant,
        "plan": {key: run.plan.get(key, 0) for key in ("add", "change", "remove")},
        "tests": [_result(result) for result in run.results],
    }


def _result(result: PolicyTestResult) -> dict[str, Any]:
    where = result.location
    return {
        "name": result.name,
        "file": where.file,
        "line": where.line,
        "column": where.column,
        "subject": result.kind,
        "user": result.subject if result.kind == "user" else None,
        "passed": result.passed,
        "checked": result.checked,
        "failures": [
            {"expected": failure.expected, "reasons": list(failure.reasons)}
            for failure in result.failures
        ],
        "notes": list(result.notes),
    }
