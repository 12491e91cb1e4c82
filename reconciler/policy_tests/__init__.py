"""Policy tests (`reconciler test`): what must stay true of the licensing a policy gives, checked
against the plan's after-state without applying it.

files = read_tests(default_tests_path(Path("policies")))  # YAML and schema problems kept
planned = plan_for_tests(loaded, tenant)        # the plan, as `reconciler plan` makes it
run = run_tests(files.tests, planned, files.problems)  # PolicyError with every problem, else run
run.passed, run.failed                          # a PolicyTestResult per test, in file order
"""

from reconciler.policy_tests.files import TestFiles, WrittenTest, default_tests_path, read_tests
from reconciler.policy_tests.results import Failure, PolicyTestResult, PolicyTestRun
from reconciler.policy_tests.run import (
    Planned,
    StaleTestPlanError,
    check_saved_plan,
    no_tests,
    plan_for_tests,
    run_tests,
    selected,
)

__all__ = [
    "Failure",
    "Planned",
    "PolicyTestResult",
    "PolicyTestRun",
    "StaleTestPlanError",
    "TestFiles",
    "WrittenTest",
    "check_saved_plan",
    "default_tests_path",
    "no_tests",
    "plan_for_tests",
    "read_tests",
    "run_tests",
    "selected",
]
