"""Policy test results as JUnit XML, the format GitHub's and Azure DevOps' test reporters read:
one <testsuite> per test file, one <testcase> per test, a <failure> with what was expected as
its message and the reasons as its text.

Every name and reason is passed through `shown`, which writes control characters as escapes:
XML 1.0 can't carry most of them at all, and a report must never fail to parse.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import PurePath

from reconciler.policy_tests.results import PolicyTestResult, PolicyTestRun
from reconciler.render.safe_text import shown

SUITES_NAME = "reconciler test"
FAILURE_TYPE = "PolicyTestFailure"


def results_junit(run: PolicyTestRun) -> str:
    """The results as a JUnit XML document."""
    failed = str(len(run.failed))
    root = ElementTree.Element(
        "testsuites",
        name=SUITES_NAME,
        tests=str(len(run.results)),
        failures=failed,
        errors="0",
        time="0",
    )
    files: dict[str, list[PolicyTestResult]] = {}
    for result in run.results:
        files.setdefault(result.location.file, []).append(result)
    for file, results in files.items():
        suite = ElementTree.SubElement(
            root,
            "testsuite",
            name=shown(file),
            tests=str(len(results)),
            failures=str(sum(1 for r in results if not r.passed)),
            errors="0",
            skipped="0",
            time="0",
        )
        for result in results:
            _testcase(suite, result)
    ElementTree.indent(root)
    body = ElementTree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _testcase(suite: ElementTree.Element, result: PolicyTestResult) -> None:
    where = result.location
    case = ElementTree.SubElement(
        suite,
        "testcase",
        name=shown(result.name),
        classname=_classname(where.file),
        file=shown(where.file),
        line=str(where.line or 0),
        time="0",
    )
    if result.passed:
        return
    expected = "; ".join(failure.expected for failure in result.failures)
    lines = [f"{where}: {result.subject}"]
    for failure in result.failures:
        lines.append(f"expected: {failure.expected}")
        lines += [f"  {reason}" for reason in failure.reasons]
    lines += list(result.notes)
    failure = ElementTree.SubElement(
        case, "failure", message=shown(f"expected: {expected}"), type=FAILURE_TYPE
    )
    failure.text = "\n".join(shown(line) for line in lines)


def _classname(file: str) -> str:
    """`policies/tests/sales.yaml` as `policies.tests.sales`, as reporters group test classes."""
    path = PurePath(file)
    folders = [part for part in path.parent.parts if part not in (path.anchor, ".", "..")]
    return shown(".".join([*folders, path.stem]))
