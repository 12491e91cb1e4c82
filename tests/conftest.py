"""The suite may itself run in GitHub Actions or Azure Pipelines: the commands it tests must not
see that pipeline's variables (and write its step summary) unless a test sets them. Nor the
progress interval of whoever runs it: tests that compare stderr expect the default's silence."""

import os

for variable in (
    "GITHUB_ACTIONS",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_OUTPUT",
    "TF_BUILD",
    "RECONCILER_PROGRESS_INTERVAL",
):
    os.environ.pop(variable, None)
