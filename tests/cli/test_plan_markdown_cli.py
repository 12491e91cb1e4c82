"""`plan --format markdown` and `show PLANFILE --format markdown`: one comment, one marker."""

CONTOSO_ID = "6762b34f-4e26-4a8e-a032-35a1e58e1b1c"
MARKER = f"<!-- reconciler plan: tenant={CONTOSO_ID} policy=policies -->"


def test_plan_in_markdown_starts_with_the_marker_verdict_and_banners(run, demo):
    done = run("plan", "--format", "markdown", cwd=demo)
    assert done.code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == MARKER
    assert lines[3] == "**Plan: 1 to add, 4 to change, 1 to remove.**"
    assert "> **52 people lose licenses**: 52 license removals through" in done.stdout
    assert "> **Seats run short**" in done.stdout
    assert "#### `+` LIC-Visio will be created" in done.stdout
    assert "| daniel.smith@contoso.com | POWER\\_BI\\_PRO | LIC-PowerBI-Pro |" in done.stdout
    assert "`policies/microsoft-365.yaml:4:5`" in done.stdout
    assert "::warning" not in done.stderr  # annotations are for GitHub Actions only


def test_show_in_markdown_is_the_plans_markdown_with_the_same_marker(run, demo):
    planned = run("plan", "--out", "demo.plan", "--format", "markdown", cwd=demo)
    shown = run("show", "demo.plan", "--format", "markdown", cwd=demo)
    assert planned.code == shown.code == 0, shown.stderr
    assert shown.stdout == planned.stdout
    assert shown.stdout.startswith(MARKER + "\n")


def test_a_plan_not_saved_has_the_same_marker_as_its_saved_plan_shown(run, demo):
    printed = run("plan", "--format", "markdown", cwd=demo)
    assert run("plan", "--out", "demo.plan", cwd=demo).code == 0
    shown = run("show", "demo.plan", "--format", "markdown", cwd=demo)
    assert printed.stdout.splitlines()[0] == shown.stdout.splitlines()[0] == MARKER


def test_the_marker_names_the_policy_however_its_path_is_written(run, demo):
    for policy in ("policies/", "./policies", str(demo / "policies")):
        done = run("plan", "--format", "markdown", "--policy", policy, cwd=demo)
        assert done.stdout.splitlines()[0] == MARKER, policy


def test_show_in_markdown_of_a_stale_plan_says_so_at_the_top(run, demo):
    assert run("plan", "--out", "demo.plan", cwd=demo).code == 0
    policy = demo / "policies" / "add-ons.yaml"
    policy.write_text(policy.read_text().replace("Visio for the people", "Visio for those"))
    shown = run("show", "demo.plan", "--format", "markdown", cwd=demo)
    assert shown.code == 0, shown.stderr
    assert "> [!CAUTION]\n> **This saved plan can't be applied as it is:** plan is stale" in (
        shown.stdout
    )
    assert "warning: plan is stale" in shown.stderr


def test_markdown_keeps_the_detailed_exit_code(run, demo):
    assert run("plan", "--format", "markdown", "--detailed-exitcode", cwd=demo).code == 2


def test_plan_and_show_list_markdown_among_their_formats(run):
    for command in ("plan", "show"):
        assert "[text|json|markdown|html]" in run(command, "--help").stdout
