"""The HTML plan: one page that loads nothing, shows the plan's numbers and every loss and gain,
and that no name from the tenant can put markup or script into."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reconciler.model import AssignedLicense, Group, Organization, PrepaidUnits, Sku, Tenant, User
from reconciler.plan.build import build_plan
from reconciler.plan.document import plan_document
from reconciler.plan.planning import plan_now
from reconciler.policy import load_policy
from reconciler.policy.desired import DesiredState, Settings
from reconciler.providers.snapshot import read_snapshot
from reconciler.render.plan_html import plan_html
from reconciler.render.plan_html_tables import OPEN_ROWS, money
from reconciler.render.plan_json import plan_json
from reconciler.render.plan_markdown import Context
from tests.builders import desired_group as group
from tests.builders import desired_license as license_of

ROOT = Path(__file__).resolve().parents[2]
E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"
CONTEXT = Context(tenant="6762b34f-4e26-4a8e-a032-35a1e58e1b1c", policy="policies")
# the people tables, by section id, and the impact lists each shows
TABLES = {
    "license-removals": "licenseRemovals",
    "plan-removals": "planRemovals",
    "license-additions": "licenseAdditions",
    "plan-additions": "planAdditions",
    "kept": "kept",
}


def demo_document() -> dict:
    """The repository's demo plan: its policy against the Contoso example tenant."""
    loaded = load_policy(ROOT / "policies")
    tenant = read_snapshot(ROOT / "examples" / "contoso" / "tenant.json")
    return plan_document(plan_now(loaded, tenant))


@pytest.fixture(scope="module")
def demo() -> dict:
    return demo_document()


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        found = []
        for child in self.children:
            wanted = tag is None or child.tag == tag
            if wanted and all(child.attrs.get(k) == v for k, v in attrs.items()):
                found.append(child)
            found += child.find_all(tag, **attrs)
        return found

    def find(self, tag: str | None = None, **attrs: str) -> Element:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag}> with {attrs}"
        return found[0]

    def all_text(self) -> str:
        return self.text + "".join(child.all_text() for child in self.children)

    def has_class(self, name: str) -> bool:
        return name in (self.attrs.get("class") or "").split()


VOID = frozenset({"meta", "input", "br", "hr", "img", "link", "base", "col", "wbr", "source"})


class Page(HTMLParser):
    """An HTML page as a tree of elements (text kept in order), for the tests to walk."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]
        self.declarations: list[str] = []
        self.feed(text)
        self.close()

    def handle_decl(self, decl: str) -> None:
        self.declarations.append(decl)

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs))
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        # text after a child belongs to the parent, in order: kept as a text-only child
        self.stack[-1].children.append(Element("#text", {}, data))


def page_of(document: dict, context: Context = CONTEXT) -> Page:
    return Page(plan_html(document, context))


def body_rows(section: Element) -> list[list[str]]:
    """The cells' text of each row of the section's table body."""
    body = section.find("tbody")
    return [[cell.all_text() for cell in row.find_all("td")] for row in body.find_all("tr")]


def count_of(section: Element) -> str:
    return next(e for e in section.find_all("span") if e.has_class("count")).all_text()


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_page_is_one_html_document_whose_policy_allows_only_its_own_style_and_script(demo):
    page = page_of(demo)
    assert page.declarations == ["DOCTYPE html"]
    head = page.root.find("head")
    assert [e.tag for e in head.children if e.tag != "#text"][:2] == ["meta", "meta"]
    policy = head.find("meta", **{"http-equiv": "Content-Security-Policy"}).attrs["content"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["base-uri"] == directives["form-action"] == "'none'"
    (style,), (script,) = page.root.find_all("style"), page.root.find_all("script")
    assert directives["style-src"] == _sha256(style.all_text())
    assert directives["script-src"] == _sha256(script.all_text())
    assert "unsafe" not in policy and "http" not in policy


def test_the_page_refers_to_nothing_outside_itself(demo):
    text = plan_html(demo, CONTEXT)
    page = Page(text)
    elements = page.root.find_all()
    assert not {e.tag for e in elements} & {"img", "link", "iframe", "object", "embed", "base"}
    assert not [e for e in elements if "src" in e.attrs]
    hrefs = [e.attrs["href"] for e in elements if "href" in e.attrs]
    assert hrefs and all(href.startswith("#") for href in hrefs)
    assert "@import" not in text and "url(" not in text
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", text)


def test_the_summary_shows_the_verdict_and_the_plans_numbers(demo):
    page = page_of(demo)
    summary = demo["summary"]
    verdict = page.root.find("p", id="summary").all_text()
    assert verdict == (
        f"Plan: {summary['add']} to add, {summary['change']} to change, "
        f"{summary['remove']} to remove."
    )
    tiles = {
        tile.find("span", **{"class": "l"}).all_text(): tile.find("span", **{"class": "n"})
        for tile in page.root.find_all("div")
        if tile.has_class("tile")
    }
    guards, impact = demo["guards"], demo["impact"]
    removals = tiles["license removals / guard"].all_text()
    assert removals == f"{guards['licenseRemovals']} / {guards['maxLicenseRemovals']}"
    people = {r["userId"] for r in (*impact["licenseRemovals"], *impact["planRemovals"])}
    assert tiles["people lose licenses"].all_text() == str(len(people))
    gains = len(impact["licenseAdditions"]) + len(impact["planAdditions"])
    assert tiles["license additions"].all_text() == str(gains)
    assert tiles["by the removal guard"].all_text() == (
        "Refused" if guards["refused"] else "Allowed"
    )


def test_every_loss_and_gain_is_a_row_of_its_table_starting_with_user_product_and_group(demo):
    page = page_of(demo)
    impact = demo["impact"]
    assert any(impact[kind] for kind in TABLES.values())
    for anchor, kind in TABLES.items():
        records = impact.get(kind, [])
        if not records:
            assert not page.root.find_all("section", id=anchor)
            continue
        section = page.root.find("section", id=anchor)
        rows = body_rows(section)
        assert count_of(section) == f"{len(records):,}"
        expected = sorted(
            (r["userPrincipalName"], r["skuPartNumber"], r["group"] or _nobody(kind))
            for r in records
        )
        assert sorted(tuple(row[:3]) for row in rows) == expected


def _nobody(kind: str) -> str:
    """What a row says in place of a group, for a license held without one."""
    return "an assignment" if kind.endswith("Removals") else "a direct assignment"


def test_the_filters_offer_each_group_and_product_once_and_start_hidden(demo):
    page = page_of(demo)
    form = page.root.find("form", id="filters")
    assert "hidden" in form.attrs  # without the script every row shows, and no dead controls
    impact = demo["impact"]
    records = [(kind, r) for kind in TABLES.values() for r in impact.get(kind, [])]
    groups = {r["group"] or _nobody(kind) for kind, r in records}
    products = {r["skuPartNumber"] for _, r in records}
    for name, values in (("group", groups), ("product", products)):
        options = [o.attrs["value"] for o in form.find("select", name=name).find_all("option")]
        assert options == ["", *sorted(values, key=str.lower)]
    assert not [row for row in page.root.find_all("tr") if "hidden" in row.attrs]


def test_each_managed_group_has_its_changes_like_the_text_plan(demo):
    page = page_of(demo)
    cards = [div for div in page.root.find_all("div") if div.has_class("card")]
    names = list(dict.fromkeys(change["group"]["displayName"] for change in demo["changes"]))
    assert [card.find("h3").all_text().split(" will be ")[0][1:] for card in cards] == names
    created = next(card for card in cards if card.has_class("create"))
    assert created.find("pre").all_text().splitlines()[0] == "+ type = security, assigned"


def test_warnings_are_listed_with_severity_code_and_place(demo):
    page = page_of(demo)
    section = page.root.find("section", id="warnings")
    rows = body_rows(section)
    assert len(rows) == len(demo["warnings"]) == int(count_of(section))
    severities = [row[0] for row in rows]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    assert {(row[1], row[0]) for row in rows} == {
        (w["code"], w["severity"]) for w in demo["warnings"]
    }


def test_seats_show_prepaid_used_now_used_after_and_short(demo):
    section = page_of(demo).root.find("section", id="seats")
    rows = {row[0]: row[1:] for row in body_rows(section)}
    for seat in demo["impact"]["seats"]:
        prepaid, now, after, _, short = rows[seat["skuPartNumber"]]
        assert (prepaid, now, after) == tuple(
            f"{seat[k]:,}" for k in ("prepaid", "consumedNow", "consumedAfter")
        )
        assert short == (f"{len(seat['countViolations']):,}" if seat["countViolations"] else "")


def _tenant(*groups: Group, users: tuple[User, ...]) -> Tenant:
    return Tenant(
        Organization("org", "Contoso", "US"),
        (Sku(E3, "SPE_E3", (), PrepaidUnits(50)),),
        users,
        groups,
    )


HOSTILE_GROUP = "LIC-<script>alert(1)</script>\"'&amp;\u202eevil\nnext"
HOSTILE_USER = '"><img src=x onerror=alert(2)>@contoso.com'


def _hostile_document() -> dict:
    """A rule edit that takes SPE_E3 from a user whose name and group's name are markup."""
    users = (
        User("ana", "ana@contoso.com", attributes={"department": "Sales"}),
        User("evil", HOSTILE_USER, attributes={"department": "HR"}),
    )
    current = Group(
        "g1",
        HOSTILE_GROUP,
        groupTypes=("DynamicMembership",),
        membershipRule='user.department -in ["Sales", "HR"]',
        membershipRuleProcessingState="On",
        members=("ana", "evil"),
        assignedLicenses=(AssignedLicense(E3),),
    )
    wanted = group(HOSTILE_GROUP, 'user.department -eq "Sales"', licenses=[license_of(E3)])
    desired = DesiredState(None, Settings(), (wanted,), ())
    return plan_document(build_plan(desired, _tenant(current, users=users)))


def test_names_from_the_tenant_are_text_never_markup_or_script():
    document = _hostile_document()
    assert document["impact"]["licenseRemovals"]
    context = Context(tenant="org", policy='pol"><script>x()</script>', plan_file="a<b>.json")
    text = plan_html(document, context)
    page = Page(text)
    elements = page.root.find_all()
    assert len(page.root.find_all("script")) == 1
    assert not page.root.find_all("img")
    title = page.root.find("title").all_text()
    assert title == f"reconciler plan: {context.policy} on tenant org"
    assert not [e for e in elements if any(name.startswith("on") for name in e.attrs)]
    section = page.root.find("section", id="license-removals")
    (row,) = body_rows(section)
    # as text, with the line break and the right-to-left override written as escapes
    shown_group = HOSTILE_GROUP.replace("\u202e", "\\u202e").replace("\n", "\\n")
    assert row[:3] == [HOSTILE_USER, "SPE_E3", shown_group]
    assert "\u202e" not in text and "<script>alert" not in text
    options = page.root.find("select", name="group").find_all("option")
    assert [o.attrs["value"] for o in options][1:] == [shown_group]


def test_a_plan_without_changes_says_so_and_lists_nobody():
    users = (User("ana", "ana@contoso.com", attributes={"department": "Sales"}),)
    current = Group("g1", "LIC-Sales", members=("ana",), assignedLicenses=(AssignedLicense(E3),))
    wanted = group("LIC-Sales", members=("ana@contoso.com",), licenses=[license_of(E3)])
    document = plan_document(
        build_plan(DesiredState(None, Settings(), (wanted,), ()), _tenant(current, users=users))
    )
    assert not document["changesPresent"]
    page = page_of(document)
    assert page.root.find("p", id="summary").all_text() == (
        "No changes. Licensing matches the policy."
    )
    assert not page.root.find_all("section", id="people")
    assert not page.root.find_all("form")


def test_a_refused_plan_says_apply_will_refuse_it_and_why(demo):
    document = copy.deepcopy(demo)
    document["guards"].update(refused=True, maxLicenseRemovals=1, reasons=["52 > 1 <b>"])
    page = page_of(document)
    banner = next(div for div in page.root.find_all("div") if div.has_class("caution"))
    text = banner.all_text()
    assert "Apply will refuse this plan" in text and "52 > 1 <b>" in text
    assert f"at least {document['guards']['licenseRemovals']}" in text


def test_show_of_a_stale_plan_warns_at_the_top(demo):
    context = Context(tenant="t", policy="policies", plan_file="plan.json", stale="plan is stale")
    page = page_of(demo, context)
    main = page.root.find("main")
    first = next(child for child in main.children if child.tag != "#text")
    assert first.has_class("caution") and "plan is stale" in first.all_text()
    assert "plan.json" in page.root.find("header").all_text()


COST = {
    "products": [
        {
            "skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
            "skuPartNumber": "SPE_E5",
            "currency": "USD",
            "monthly": 57.0,
            "prepaid": 51,
            "consumedNow": 49,
            "consumedAfter": 37,
            "monthlyChange": -684.0,
            "shortfall": 0,
            "shortfallMonthly": 0.0,
            "unusedNow": 2,
            "unusedAfter": 14,
            "unusedMonthlyNow": 114.0,
            "unusedMonthlyAfter": 798.0,
        },
        {
            "skuId": "c5928f49-12ba-48f7-ada3-0d743a3601d5",
            "skuPartNumber": "VISIOCLIENT",
            "currency": "EUR",
            "monthly": 1234.5,
            "prepaid": 13,
            "consumedNow": 10,
            "consumedAfter": 13,
            "monthlyChange": 3703.5,
            "shortfall": 2,
            "shortfallMonthly": 2469.0,
            "unusedNow": 3,
            "unusedAfter": 0,
            "unusedMonthlyNow": 3703.5,
            "unusedMonthlyAfter": 0.0,
        },
    ],
    "totals": [
        {
            "currency": "USD",
            "monthlyChange": -684.0,
            "shortfallMonthly": 0.0,
            "unusedMonthlyNow": 114.0,
            "unusedMonthlyAfter": 798.0,
        },
        {
            "currency": "EUR",
            "monthlyChange": 3703.5,
            "shortfallMonthly": 2469.0,
            "unusedMonthlyNow": 3703.5,
            "unusedMonthlyAfter": 0.0,
        },
    ],
    "unpriced": [{"skuId": "f8a1db68-be16-40ed-86d5-cb42ce701560", "skuPartNumber": "<PBI>"}],
}


def _with_cost(document: dict, cost: dict | None) -> dict:
    changed = copy.deepcopy(document)
    changed["impact"].pop("cost", None)
    if cost is not None:
        changed["impact"]["cost"] = cost
    return changed


def test_the_cost_shows_each_product_and_the_totals_per_currency_as_signed_money(demo):
    page = page_of(_with_cost(demo, COST))
    section = page.root.find("section", id="cost")
    tables = section.find_all("table")
    totals = {row[0]: row[1:] for row in body_rows(tables[0])}
    assert totals == {
        "USD": ["-684.00 USD", "", "114.00 USD", "798.00 USD"],
        "EUR": ["+3,703.50 EUR", "2,469.00 EUR", "3,703.50 EUR", "0.00 EUR"],
    }
    products = {row[0]: row[1:] for row in body_rows(tables[1])}
    assert list(products) == ["SPE_E5", "VISIOCLIENT"]
    assert products["VISIOCLIENT"][:6] == ["1,234.50 EUR", "13", "10", "13", "+3,703.50 EUR", "2"]
    assert "<PBI>" in section.all_text()
    tiles = [div.all_text() for div in page.root.find_all("div") if div.has_class("tile")]
    assert "-684.00 USDa month, seats in use" in tiles
    assert page.root.find("a", href="#cost")


def test_a_plan_without_prices_has_no_cost_section(demo):
    page = page_of(_with_cost(demo, None))
    assert not page.root.find_all("section", id="cost")
    assert not page.root.find_all("a", href="#cost")


def test_money_has_two_decimals_thousands_and_a_sign_only_when_asked():
    assert money(1234.5, "EUR") == "1,234.50 EUR"
    assert money(1234.5, "EUR", signed=True) == "+1,234.50 EUR"
    assert money(-684, "USD", signed=True) == "-684.00 USD"
    assert money(-0.001, "USD", signed=True) == money(0.0, "USD", signed=True) == "0.00 USD"


def test_the_same_plan_gives_the_same_page_byte_for_byte(demo):
    read_back = json.loads(plan_json(demo))
    assert plan_html(read_back, CONTEXT) == plan_html(demo, CONTEXT)


def test_a_large_table_starts_folded_with_every_row_in_it(demo):
    document = copy.deepcopy(demo)
    loss = document["impact"]["licenseRemovals"][0]
    document["impact"]["licenseRemovals"] = [
        {**loss, "userId": f"u{i}", "userPrincipalName": f"user{i:05}@contoso.com"}
        for i in range(OPEN_ROWS + 1)
    ]
    section = page_of(document).root.find("section", id="license-removals")
    details = section.find("details")
    assert "open" not in details.attrs
    assert len(body_rows(details)) == OPEN_ROWS + 1
