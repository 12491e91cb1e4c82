"""`plan --format html` and `show PLANFILE --format html`: one self-contained page on stdout."""

import re

from tests.render.test_plan_html import Page


def _verdict(page: Page) -> str:
    return page.root.find("p", id="summary").all_text()


def test_plan_in_html_prints_one_page_with_the_plans_verdict(run, demo):
    as_json = run("plan", "--format", "json", cwd=demo)
    done = run("plan", "--format", "html", cwd=demo)
    assert as_json.code == done.code == 0, done.stderr
    assert done.stdout.startswith("<!DOCTYPE html>\n") and done.stdout.endswith("</html>\n")
    summary = as_json.json()["summary"]
    assert _verdict(Page(done.stdout)) == (
        f"Plan: {summary['add']} to add, {summary['change']} to change, "
        f"{summary['remove']} to remove."
    )
    assert "Content-Security-Policy" in done.stdout
    assert not re.search(r"(src|href)=\"?https?:", done.stdout)


def test_show_in_html_is_the_saved_plans_page(run, demo):
    planned = run("plan", "--out", "demo.plan", "--format", "html", cwd=demo)
    shown = run("show", "demo.plan", "--format", "html", cwd=demo)
    assert planned.code == shown.code == 0, shown.stderr
    assert shown.stdout == planned.stdout
    assert "demo.plan" in Page(shown.stdout).root.find("header").all_text()


def test_show_in_html_of_a_stale_plan_warns_at_the_top(run, demo):
    assert run("plan", "--out", "demo.plan", cwd=demo).code == 0
    policy = demo / "policies" / "add-ons.yaml"
    policy.write_text(policy.read_text().replace("Visio for the people", "Visio for those"))
    shown = run("show", "demo.plan", "--format", "html", cwd=demo)
    assert shown.code == 0, shown.stderr
    main = Page(shown.stdout).root.find("main")
    first = next(child for child in main.children if child.tag != "#text")
    assert first.has_class("caution") and "plan is stale" in first.all_text()
    assert "warning: plan is stale" in shown.stderr


def test_html_keeps_the_detailed_exit_code(run, demo):
    assert run("plan", "--format", "html", "--detailed-exitcode", cwd=demo).code == 2


def test_plan_and_show_list_html_among_their_formats(run):
    for command in ("plan", "show"):
        assert "[text|json|markdown|html]" in run(command, "--help").stdout
