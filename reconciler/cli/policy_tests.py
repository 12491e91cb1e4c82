"""`reconciler test`: the policy's tests, checked against the tenant as the policy would leave it.

Exit 0 when every test passes (or there are none), 1 when one fails or on any error. The test
files are read before the tenant is; the plan is made, never applied. With `--plan FILE`, the
tests run only if the saved plan is the plan made now.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.options import Sources, format_option, open_tenant_for, source_options
from reconciler.cli.progress import StderrProgress, quiet_option
from reconciler.errors import InputError, Location
from reconciler.plan.planfile import read_plan_file
from reconciler.policy import load_policy
from reconciler.policy.errors import raise_all
from reconciler.policy_tests import (
    TestFiles,
    check_saved_plan,
    default_tests_path,
    no_tests,
    plan_for_tests,
    read_tests,
    run_tests,
    selected,
)
from reconciler.private_files import write_atomic
from reconciler.render.policy_tests_junit import results_junit
from reconciler.render.policy_tests_text import results_json, results_text


@click.command("test")
@source_options
@click.option(
    "--tests",
    "tests_path",
    type=click.Path(path_type=Path),
    help="A test file or a folder of them (default: the tests/ folder of the policy folder).",
)
@click.option(
    "-k",
    "--name",
    "names",
    multiple=True,
    metavar="TEXT",
    help="Run only the tests whose name holds TEXT (ignoring case); may be given again.",
)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A plan saved by `reconciler plan --out`: test only if it is the plan made now.",
)
@format_option
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the results as JUnit XML, for a CI test reporter.",
)
@quiet_option
@click.pass_context
def test(
    ctx: click.Context,
    sources: Sources,
    tests_path: Path | None,
    names: tuple[str, ...],
    plan_file: Path | None,
    output_format: str,
    junit_file: Path | None,
    progress: StderrProgress,
) -> None:
    """Check the policy's tests against the tenant as the plan would leave it.

    Exit 0 when every test passes, 1 when one fails or on an error (docs/policy-tests.md).
    """
    given = tests_path is not None
    path = tests_path if given else default_tests_path(sources.policy)
    progress.stage("reading policy tests")
    # only the default folder may be missing: a path given that tests nothing is a mistake
    files = read_tests(path) if given or path.exists() else TestFiles((), ())
    if files.problems and not files.tests:
        raise_all(files.problems)
    written = selected(files.tests, names, str(path))
    # a damaged plan file is refused before the tenant is read
    saved = read_plan_file(plan_file) if plan_file is not None else None
    progress.stage("reading policy")
    loaded = load_policy(sources.policy)
    progress.stage("reading tenant")
    with open_tenant_for(sources, loaded, progress=progress) as provider:
        tenant = provider.read()
    planned = plan_for_tests(loaded, tenant, progress)
    if saved is not None:
        assert plan_file is not None
        check_saved_plan(saved, str(plan_file), loaded, tenant, planned)
    run = run_tests(written, planned, files.problems) if written else no_tests(planned)
    progress.done()
    if junit_file is not None:
        # as pytest's --junitxml does: a pipeline names a folder of reports that needn't exist
        try:
            junit_file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            message = f"can't write file: {exc.strerror}"
            raise InputError(message, Location(str(junit_file))) from exc
        write_atomic(junit_file, results_junit(run), private=True)  # it names users
    click.echo(results_json(run) if output_format == "json" else results_text(run, str(path)))
    if not run.passed:
        ctx.exit(1)
