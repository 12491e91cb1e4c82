"""The HTML plan in a real browser: headless Chromium opens the page from a file, runs its script,
and the DOM it leaves shows the plan's numbers, and only the rows a fragment's filter names.

Each test starts Chromium once (about a second). Skipped where no Chromium is installed; CI
installs Debian's `chromium` (.ci/run).
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

from reconciler.render.plan_html import plan_html
from tests.render.test_plan_html import (
    CONTEXT,
    HOSTILE_GROUP,
    HOSTILE_USER,
    TABLES,
    Element,
    Page,
    _hostile_document,
    demo_document,
)

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM = next((found for name in BROWSERS if (found := shutil.which(name))), None)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on PATH (chromium, chromium-browser, google-chrome): "
    "the HTML plan's script is not run in a browser here",
)


@pytest.fixture(scope="module")
def demo() -> dict:
    return demo_document()


def open_page(html: str, where: Path, fragment: str = "") -> tuple[Page, list[str]]:
    """The DOM after the page's script ran, and what the page wrote to the console."""
    page = where / "plan.html"
    page.write_text(html, encoding="utf-8")
    profile = where / "profile"  # a new profile each time: nothing carried between tests
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri() + fragment,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return Page(done.stdout), console


def ran_cleanly(page: Page, console: list[str]) -> None:
    root = page.root.find("html")
    assert root.attrs.get("data-ready") == "1", "the page's script did not run to its end"
    assert "data-errors" not in root.attrs, root.attrs["data-errors"]
    assert console == []


def visible_rows(section: Element) -> list[list[str]]:
    rows = section.find("tbody").find_all("tr")
    return [
        [td.all_text() for td in row.find_all("td")] for row in rows if "hidden" not in row.attrs
    ]


def count_of(section: Element) -> str:
    return next(e for e in section.find_all("span") if e.has_class("count")).all_text()


def status(page: Page) -> str:
    return page.root.find("form", id="filters").find("output").all_text()


def test_the_page_runs_without_errors_and_shows_the_plans_counts(demo, tmp_path):
    page, console = open_page(plan_html(demo, CONTEXT), tmp_path)
    ran_cleanly(page, console)
    form = page.root.find("form", id="filters")
    assert "hidden" not in form.attrs  # the script shows the filters it drives
    impact, total = demo["impact"], 0
    for anchor, kind in TABLES.items():
        records = impact.get(kind, [])
        total += len(records)
        if records:
            section = page.root.find("section", id=anchor)
            assert count_of(section) == f"{len(records):,}"
            assert len(visible_rows(section)) == len(records)
    assert total and status(page) == f"{total:,} rows"
    summary = demo["summary"]
    assert (
        page.root.find("p", id="summary")
        .all_text()
        .startswith(f"Plan: {summary['add']} to add, {summary['change']} to change")
    )


def _expected(document: dict, group: str, product: str, user: str) -> dict[str, list[str]]:
    """Per table, the users of the rows the filter keeps: group and product exactly, the user
    as part of the name, in any case."""
    kept = {}
    for anchor, kind in TABLES.items():
        kept[anchor] = sorted(
            r["userPrincipalName"]
            for r in document["impact"].get(kind, [])
            if r["group"] == group
            and r["skuPartNumber"] == product
            and user.lower() in r["userPrincipalName"].lower()
        )
    return kept


def test_a_fragment_opens_the_page_filtered_to_its_group_product_and_user(demo, tmp_path):
    losses = demo["impact"]["planRemovals"] or demo["impact"]["licenseRemovals"]
    sample = losses[len(losses) // 2]
    group, product = sample["group"], sample["skuPartNumber"]
    user = sample["userPrincipalName"][:3].upper()  # part of a name, in another case
    expected = _expected(demo, group, product, user)
    matching = sum(map(len, expected.values()))
    everything = sum(len(demo["impact"].get(kind, [])) for kind in TABLES.values())
    assert 0 < matching < everything
    fragment = f"#group={quote(group)}&product={quote(product)}&user={quote(user)}"
    page, console = open_page(plan_html(demo, CONTEXT), tmp_path, fragment)
    ran_cleanly(page, console)
    assert page.root.find("html").attrs["data-filtered"] == "1"
    for anchor, users in expected.items():
        records = demo["impact"].get(TABLES[anchor], [])
        if not records:
            continue
        section = page.root.find("section", id=anchor)
        rows = visible_rows(section)
        assert sorted(row[0] for row in rows) == users, anchor
        assert all(row[1:3] == [product, group] for row in rows)
        assert count_of(section) == f"{len(users):,} of {len(records):,}"
        none = next(p for p in section.find_all("p") if p.has_class("none"))
        assert ("hidden" in none.attrs) is bool(users)
    assert status(page) == f"Showing {matching:,} of {everything:,} rows"


def test_twenty_thousand_rows_filter_by_group_in_the_browser(demo, tmp_path):
    document = copy.deepcopy(demo)
    loss = document["impact"]["licenseRemovals"][0]
    groups = [f"LIC-Generated-{n}" for n in range(4)]
    document["impact"]["licenseRemovals"] = [
        {
            **loss,
            "userId": f"u{i}",
            "userPrincipalName": f"user{i:05}@contoso.com",
            "group": groups[i % 4],
        }
        for i in range(20_000)
    ]
    everything = sum(len(document["impact"].get(kind, [])) for kind in TABLES.values())
    page, console = open_page(plan_html(document, CONTEXT), tmp_path, f"#group={groups[1]}")
    ran_cleanly(page, console)
    section = page.root.find("section", id="license-removals")
    rows = visible_rows(section)
    assert len(rows) == 5_000 and {row[2] for row in rows} == {groups[1]}
    assert count_of(section) == "5,000 of 20,000"
    fold = section.find("details")  # too many rows to open by themselves
    assert "open" not in fold.attrs
    assert fold.find("summary").all_text() == "Show the 5,000 rows that match"
    assert status(page) == f"Showing 5,000 of {everything:,} rows"


def test_hostile_names_stay_text_in_the_browser_and_filter_by_their_escaped_form(tmp_path):
    document = _hostile_document()
    shown_group = HOSTILE_GROUP.replace("\u202e", "\\u202e").replace("\n", "\\n")
    fragment = "#group=" + quote(shown_group, safe="")
    page, console = open_page(plan_html(document, CONTEXT), tmp_path, fragment)
    ran_cleanly(page, console)
    assert not page.root.find_all("img")
    assert len(page.root.find_all("script")) == 1
    section = page.root.find("section", id="license-removals")
    (loss,) = document["impact"]["licenseRemovals"]
    assert visible_rows(section) == [[HOSTILE_USER, "SPE_E3", shown_group, loss["reason"]]]
